package tier

import (
	"testing"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/raftsm"
)

func segs(bounds ...int64) []raftsm.SegmentRecord {
	// bounds: base0, end0=base1, end1, ...; each segment holds 100 bytes
	// and has MaxTimestamp = its end offset.
	var out []raftsm.SegmentRecord
	for i := 0; i+1 < len(bounds); i++ {
		out = append(out, raftsm.SegmentRecord{BaseOffset: bounds[i], EndOffset: bounds[i+1], DataBytes: 100, MaxTimestamp: bounds[i+1]})
	}
	return out
}

func TestRetentionTargets(t *testing.T) {
	unlimited := settings{retentionMs: -1, retentionBytes: -1, localRetentionMs: -1, localRetentionBytes: -1}
	with := func(f func(*settings)) settings { s := unlimited; f(&s); return s }
	v := view{segments: segs(0, 10, 20, 30), logStart: 0, localStart: 0, untiered: 50}
	tests := []struct {
		name            string
		v               view
		s               settings
		now             int64
		wantLog, wantLo int64
	}{
		{"unlimited", v, unlimited, 1000, 0, 0},
		// 350 bytes in all: 250 allowed → drop the oldest segment (100).
		{"retention.bytes", v, with(func(s *settings) { s.retentionBytes = 250 }), 1000, 10, 0},
		{"retention.bytes keeps untiered", v, with(func(s *settings) { s.retentionBytes = 0 }), 1000, 30, 0},
		// Segments whose max timestamp is older than now-ms go, oldest first.
		{"retention.ms", v, with(func(s *settings) { s.retentionMs = 985 }), 1000, 10, 0},
		{"retention.ms all", v, with(func(s *settings) { s.retentionMs = 1 }), 1000, 30, 0},
		// Local: untiered 50 + newest 100 = 150 ≤ 160; the next would exceed.
		{"local.retention.bytes", v, with(func(s *settings) { s.localRetentionBytes = 160 }), 1000, 0, 20},
		{"local.retention.bytes 0", v, with(func(s *settings) { s.localRetentionBytes = 0 }), 1000, 0, 30},
		{"local.retention.ms", v, with(func(s *settings) { s.localRetentionMs = 975 }), 1000, 0, 20},
		// Already trimmed locally up to 20: only the newest segment is local.
		{"local start respected", view{segments: v.segments, localStart: 20, untiered: 50}, with(func(s *settings) { s.localRetentionBytes = 1000 }), 1000, 0, 0},
		// Segments below the log start do not count.
		{"below log start", view{segments: v.segments, logStart: 10, localStart: 10, untiered: 50}, with(func(s *settings) { s.retentionBytes = 250 }), 1000, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := logTarget(tc.v, tc.s, tc.now); got != tc.wantLog {
				t.Errorf("logTarget = %d, want %d", got, tc.wantLog)
			}
			if got := localTarget(tc.v, tc.s, tc.now); got != tc.wantLo {
				t.Errorf("localTarget = %d, want %d", got, tc.wantLo)
			}
		})
	}
}

func TestSegmentKeys(t *testing.T) {
	id := [16]byte{0xab, 1}
	k := segmentKey(ptp("orders", 3), id, 42, 1000, 7)
	want := "orders-ab010000000000000000000000000000/3/00000000000000000042-00000000000000001000-7.seg"
	if k != want {
		t.Fatalf("key %q, want %q", k, want)
	}
	base, ok := parseSegmentName(k[len(partitionPrefix(ptp("orders", 3), id)):])
	if !ok || base != 42 {
		t.Fatalf("parse = %d %v", base, ok)
	}
	for _, bad := range []string{"", "x.seg", "12", "-1-2-3.seg", "12-3.tmp"} {
		if _, ok := parseSegmentName(bad); ok {
			t.Errorf("parseSegmentName(%q) accepted", bad)
		}
	}
}

func ptp(topic string, p int32) partition.TP { return partition.TP{Topic: topic, Partition: p} }

func TestSettingsDeletePolicy(t *testing.T) {
	for policy, want := range map[string]bool{"": true, "delete": true, "compact": false, "compact,delete": true, "Delete, compact": true} {
		topic := cluster.Topic{Configs: map[string]string{}}
		if policy != "" {
			topic.Configs["cleanup.policy"] = policy
		}
		if got := settingsOf(topic).deletes; got != want {
			t.Errorf("cleanup.policy %q: deletes = %v, want %v", policy, got, want)
		}
	}
}

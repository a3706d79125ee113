package cluster

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestValidateTopicName(t *testing.T) {
	tests := []struct {
		name    string
		topic   string
		wantErr string // substring; "" means valid
	}{
		{"simple", "orders", ""},
		{"all allowed characters", "Orders.v2_EU-west-1", ""},
		{"dots inside", "a.b", ""},
		{"three dots", "...", ""},
		{"max length", strings.Repeat("a", 249), ""},
		{"internal style", "__consumer_offsets", ""},
		{"empty", "", "empty"},
		{"dot", ".", `"." is not allowed`},
		{"dot dot", "..", `".." is not allowed`},
		{"too long", strings.Repeat("a", 250), "250 characters, the limit is 249"},
		{"space", "my topic", `' ' at byte 2`},
		{"slash", "a/b", `'/' at byte 1`},
		{"colon", "a:b", `':'`},
		{"non-ASCII", "café", `'é' at byte 3; only ASCII letters`},
		{"NUL", "a\x00", `'\x00' at byte 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateTopicName(tt.topic)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateTopicName(%q) = %v", tt.topic, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidTopic) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ValidateTopicName(%q) = %v, want ErrInvalidTopic mentioning %q", tt.topic, err, tt.wantErr)
			}
		})
	}
}

func TestValidateTopicConfigs(t *testing.T) {
	tests := []struct {
		name    string
		cfgs    map[string]string
		wantErr string // substring; "" means valid
	}{
		{"nil", nil, ""},
		{"empty", map[string]string{}, ""},
		{"every default", defaults(), ""},

		{"cleanup delete", map[string]string{"cleanup.policy": "delete"}, ""},
		{"cleanup compact", map[string]string{"cleanup.policy": "compact"}, ""},
		{"cleanup both", map[string]string{"cleanup.policy": "compact,delete"}, ""},
		{"cleanup both reversed with space", map[string]string{"cleanup.policy": "delete, compact"}, ""},
		{"cleanup bogus", map[string]string{"cleanup.policy": "compact,forever"}, `invalid value "compact,forever" for cleanup.policy: "forever" is not one of compact, delete`},
		{"cleanup empty", map[string]string{"cleanup.policy": ""}, "must list at least one"},

		{"retention.ms -1", map[string]string{"retention.ms": "-1"}, ""},
		{"retention.ms 0", map[string]string{"retention.ms": "0"}, ""},
		{"retention.ms max", map[string]string{"retention.ms": "9223372036854775807"}, ""},
		{"retention.ms -2", map[string]string{"retention.ms": "-2"}, `invalid value "-2" for retention.ms: must be at least -1`},
		{"retention.ms abc", map[string]string{"retention.ms": "abc"}, `invalid value "abc" for retention.ms: not an integer`},
		{"retention.ms float", map[string]string{"retention.ms": "1.5"}, "not an integer"},
		{"retention.ms overflow", map[string]string{"retention.ms": "9223372036854775808"}, "out of range for a 64-bit integer"},
		{"retention.ms spaces", map[string]string{"retention.ms": " 100"}, "not an integer"},
		{"retention.bytes -1", map[string]string{"retention.bytes": "-1"}, ""},
		{"retention.bytes -2", map[string]string{"retention.bytes": "-2"}, "must be at least -1"},

		{"segment.bytes 14", map[string]string{"segment.bytes": "14"}, ""},
		{"segment.bytes 13", map[string]string{"segment.bytes": "13"}, "must be at least 14"},
		{"segment.bytes over int32", map[string]string{"segment.bytes": "2147483648"}, "out of range for a 32-bit integer"},
		{"segment.ms 0", map[string]string{"segment.ms": "0"}, "must be at least 1"},
		{"max.message.bytes 0", map[string]string{"max.message.bytes": "0"}, ""},
		{"max.message.bytes -1", map[string]string{"max.message.bytes": "-1"}, "must be at least 0"},
		{"min.insync.replicas 0", map[string]string{"min.insync.replicas": "0"}, "must be at least 1"},
		{"min.insync.replicas 2", map[string]string{"min.insync.replicas": "2"}, ""},

		{"timestamp type LogAppendTime", map[string]string{"message.timestamp.type": "LogAppendTime"}, ""},
		{"timestamp type wrong case", map[string]string{"message.timestamp.type": "logappendtime"}, "must be one of CreateTime, LogAppendTime"},
		{"compression zstd", map[string]string{"compression.type": "zstd"}, ""},
		{"compression uncompressed", map[string]string{"compression.type": "uncompressed"}, ""},
		{"compression brotli", map[string]string{"compression.type": "brotli"}, "must be one of"},
		{"compression.gzip.level -1", map[string]string{"compression.gzip.level": "-1"}, ""},
		{"compression.gzip.level 0", map[string]string{"compression.gzip.level": "0"}, "must be between 1 and 9, or -1"},
		{"compression.zstd.level -5", map[string]string{"compression.zstd.level": "-5"}, ""},
		{"compression.lz4.level 18", map[string]string{"compression.lz4.level": "18"}, "must be between 1 and 17"},

		{"local.retention.ms -2", map[string]string{"local.retention.ms": "-2"}, ""},
		{"local.retention.ms -3", map[string]string{"local.retention.ms": "-3"}, "must be at least -2"},
		{"local.retention.bytes -2", map[string]string{"local.retention.bytes": "-2"}, ""},
		{"remote.storage.enable true", map[string]string{"remote.storage.enable": "true"}, ""},
		{"remote.storage.enable TRUE", map[string]string{"remote.storage.enable": "TRUE"}, ""},
		{"remote.storage.enable yes", map[string]string{"remote.storage.enable": "yes"}, "must be true or false"},
		{"unclean true", map[string]string{"unclean.leader.election.enable": "true"}, ""},
		{"timestamp after max 0", map[string]string{"message.timestamp.after.max.ms": "0"}, ""},
		{"timestamp before max -1", map[string]string{"message.timestamp.before.max.ms": "-1"}, "must be at least 0"},
		{"timestamp difference max", map[string]string{"message.timestamp.difference.max.ms": "3600000"}, ""},

		{"dirty ratio 0.1", map[string]string{"min.cleanable.dirty.ratio": "0.1"}, ""},
		{"dirty ratio 1", map[string]string{"min.cleanable.dirty.ratio": "1"}, ""},
		{"dirty ratio 1.5", map[string]string{"min.cleanable.dirty.ratio": "1.5"}, "must be between 0 and 1"},
		{"dirty ratio NaN", map[string]string{"min.cleanable.dirty.ratio": "NaN"}, "not a number"},
		{"flush.messages 0", map[string]string{"flush.messages": "0"}, "must be at least 1"},
		{"segment.index.bytes 3", map[string]string{"segment.index.bytes": "3"}, "must be at least 4"},
		{"preallocate true", map[string]string{"preallocate": "true"}, ""},
		{"throttled star", map[string]string{"leader.replication.throttled.replicas": "*"}, ""},
		{"throttled list", map[string]string{"follower.replication.throttled.replicas": "0:1, 1:2"}, ""},
		{"throttled bad", map[string]string{"follower.replication.throttled.replicas": "0-1"}, "not partition:broker"},

		{"unknown key", map[string]string{"foo": "bar"}, `unknown topic config "foo"`},
		{"broker config is not a topic config", map[string]string{"log.retention.ms": "1"}, `unknown topic config "log.retention.ms"`},
		{"first bad key reported", map[string]string{"segment.ms": "x", "retention.ms": "y"}, `invalid value "y" for retention.ms`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateTopicConfigs(tt.cfgs)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateTopicConfigs(%v) = %v", tt.cfgs, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ValidateTopicConfigs(%v) = %v, want ErrInvalidConfig mentioning %q", tt.cfgs, err, tt.wantErr)
			}
		})
	}
}

func defaults() map[string]string {
	m := map[string]string{}
	for _, d := range TopicConfigDefs() {
		m[d.Name] = d.Default
	}
	return m
}

func TestConfigDefault(t *testing.T) {
	tests := []struct {
		key, want string
		ok        bool
	}{
		{"cleanup.policy", "delete", true},
		{"retention.ms", "604800000", true},
		{"retention.bytes", "-1", true},
		{"segment.bytes", "1073741824", true},
		{"segment.ms", "604800000", true},
		{"max.message.bytes", "1048588", true},
		{"message.timestamp.type", "CreateTime", true},
		{"min.insync.replicas", "1", true},
		{"compression.type", "producer", true},
		{"local.retention.ms", "-2", true},
		{"local.retention.bytes", "-2", true},
		{"remote.storage.enable", "false", true},
		{"unclean.leader.election.enable", "false", true},
		{"message.timestamp.difference.max.ms", "9223372036854775807", true},
		{"message.timestamp.before.max.ms", "9223372036854775807", true},
		{"message.timestamp.after.max.ms", "9223372036854775807", true},
		{"delete.retention.ms", "86400000", true},
		{"file.delete.delay.ms", "60000", true},
		{"flush.messages", "9223372036854775807", true},
		{"flush.ms", "9223372036854775807", true},
		{"index.interval.bytes", "4096", true},
		{"min.cleanable.dirty.ratio", "0.5", true},
		{"min.compaction.lag.ms", "0", true},
		{"max.compaction.lag.ms", "9223372036854775807", true},
		{"preallocate", "false", true},
		{"segment.index.bytes", "10485760", true},
		{"segment.jitter.ms", "0", true},
		{"message.downconversion.enable", "true", true},
		{"nope", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, ok := ConfigDefault(tt.key)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("ConfigDefault(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestEffectiveConfigs(t *testing.T) {
	set := map[string]string{"retention.ms": "1000", "cleanup.policy": "compact", "not.a.config": "x"}
	got := EffectiveConfigs(set)
	defs := TopicConfigDefs()
	if len(got) != len(defs) {
		t.Fatalf("%d entries, want one per config (%d)", len(got), len(defs))
	}
	if !slices.IsSortedFunc(got, func(a, b ConfigEntry) int { return strings.Compare(a.Name, b.Name) }) {
		t.Fatal("entries not sorted by name")
	}
	for i, e := range got {
		want, isSet := set[e.Name]
		if !isSet {
			want = defs[i].Default
		}
		if e.Name != defs[i].Name || e.Value != want || e.IsDefault == isSet || e.ReadOnly || e.Sensitive {
			t.Errorf("entry %+v; want value %q, IsDefault %v", e, want, !isSet)
		}
	}
	if all := EffectiveConfigs(nil); slices.ContainsFunc(all, func(e ConfigEntry) bool { return !e.IsDefault }) {
		t.Error("EffectiveConfigs(nil) has a non-default entry")
	}
}

func TestTopicConfigDefs(t *testing.T) {
	// Configs Chronik reads itself; every other one is accepted only for
	// compatibility and must say so.
	own := map[string]bool{
		"cleanup.policy": true, "retention.ms": true, "retention.bytes": true, "segment.bytes": true,
		"segment.ms": true, "max.message.bytes": true, "message.timestamp.type": true,
		"min.insync.replicas": true, "compression.type": true, "local.retention.ms": true,
		"local.retention.bytes": true, "remote.storage.enable": true, "unclean.leader.election.enable": true,
		"message.timestamp.difference.max.ms": true, "message.timestamp.before.max.ms": true,
		"message.timestamp.after.max.ms": true, "delete.retention.ms": true, "max.compaction.lag.ms": true,
		"min.cleanable.dirty.ratio": true, "min.compaction.lag.ms": true,
	}
	defs := TopicConfigDefs()
	for _, d := range defs {
		t.Run(d.Name, func(t *testing.T) {
			if err := d.Validate(d.Default); err != nil {
				t.Errorf("default invalid: %v", err)
			}
			if d.Doc == "" || d.Type == 0 {
				t.Errorf("missing Doc or Type: %+v", d)
			}
			if compat := strings.Contains(d.Doc, "Accepted for compatibility"); compat == own[d.Name] {
				t.Errorf("Doc %q: compatibility-only marker %v, want %v", d.Doc, compat, !own[d.Name])
			}
			if l, ok := LookupTopicConfig(d.Name); !ok || l.Name != d.Name {
				t.Errorf("LookupTopicConfig(%q) = %+v, %v", d.Name, l, ok)
			}
		})
	}
	for name := range own {
		if _, ok := LookupTopicConfig(name); !ok {
			t.Errorf("%s is not defined", name)
		}
	}
	defs[0].Default = "changed"
	if d, _ := LookupTopicConfig(defs[0].Name); d.Default == "changed" {
		t.Error("TopicConfigDefs returns the package's own slice")
	}
}

func TestCompactedTopicsCannotBeTiered(t *testing.T) {
	for _, policy := range []string{"compact", "delete,compact", "compact, delete"} {
		err := ValidateTopicConfigs(map[string]string{"cleanup.policy": policy, "remote.storage.enable": "true"})
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "remote.storage.enable") {
			t.Errorf("cleanup.policy=%s with remote storage: %v", policy, err)
		}
	}
	for _, ok := range []map[string]string{
		{"cleanup.policy": "delete", "remote.storage.enable": "true"},
		{"cleanup.policy": "compact", "remote.storage.enable": "false"},
		{"cleanup.policy": "compact"},
	} {
		if err := ValidateTopicConfigs(ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
}

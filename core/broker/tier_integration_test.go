//go:build integration

package broker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/config"
	"github.com/chronik-go/chronik/core/tier"
)

const (
	tierSegmentBytes = 64 << 10
	tierLocalBytes   = 128 << 10
)

// tierStatus reads one partition's row from GET /v1/tier.
func tierStatus(t *testing.T, httpAddr, topic string, p int32) tier.PartitionStatus {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/v1/tier")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st broker.TierStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	for _, ps := range st.Partitions {
		if ps.Topic == topic && ps.Partition == p {
			return ps
		}
	}
	t.Fatalf("no tier status for %s/%d in %+v", topic, p, st)
	return tier.PartitionStatus{}
}

// waitTier polls the partition's tier status until ok holds.
func waitTier(t *testing.T, httpAddr, topic string, p int32, what string, ok func(tier.PartitionStatus) bool) tier.PartitionStatus {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ps := tierStatus(t, httpAddr, topic, p)
		if ok(ps) {
			return ps
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out; last status %+v", what, ps)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tieredTopic(ctx context.Context, t *testing.T, adm *kadm.Client, name string) {
	t.Helper()
	seg, local := fmt.Sprint(tierSegmentBytes), fmt.Sprint(tierLocalBytes)
	resp, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{
		"remote.storage.enable": kadm.StringPtr("true"),
		"segment.bytes":         &seg,
		"local.retention.bytes": &local,
	}, name)
	if err != nil || resp.Err != nil {
		t.Fatalf("create %s: %v %v", name, err, resp.Err)
	}
}

// startTierBroker starts a broker whose tiering checks, sweeps and
// orphan grace are fast enough for a test, with a client on it.
func startTierBroker(t *testing.T) (config.Config, *broker.Broker, *kgo.Client) {
	t.Helper()
	cfg := brokertest.Config(t)
	cfg.Tier.CheckInterval = 50 * time.Millisecond
	cfg.Tier.SweepInterval = time.Second
	cfg.Tier.UploadTimeout = time.Second
	cfg.Tier.OrphanGrace = 2 * time.Second
	b := brokertest.Start(t, cfg)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cfg, b, cl
}

// TestTieredStorage rolls small segments to the local-directory backend and
// checks the properties in process: local disk bounded by
// local.retention.bytes plus two segments, every record read back
// byte-identical from offset 0 through the remote tier, ListOffsets
// earliest / earliest-local / latest-tiered / earliest-pending-upload and
// by timestamp, a flipped
// byte never served, and orphans swept.
func TestTieredStorage(t *testing.T) {
	cfg, b, cl := startTierBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	adm := kadm.NewClient(cl)
	const topic = "tiered"
	tieredTopic(ctx, t, adm, topic)

	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	recs := brokertest.Produce(ctx, t, []string{b.KafkaAddr()}, topic, 1, 3000, 1000, base) // ~3 MB
	hw := int64(len(recs))
	ps := waitTier(t, b.HTTPAddr(), topic, 0, "segments tiered and local data trimmed", func(ps tier.PartitionStatus) bool {
		return ps.LocalStart > 0 && ps.UploadLagBytes < tierSegmentBytes && ps.LocalBytes <= tierLocalBytes+2*tierSegmentBytes
	})
	if ps.RemoteStart != 0 || ps.Segments < 10 || ps.TieredEnd <= ps.LocalStart || ps.HighWatermark != hw || ps.LastError != "" {
		t.Fatalf("status after tiering: %+v", ps)
	}
	t.Logf("tiered: %d segments, %d remote bytes, local [%d, %d) %d bytes", ps.Segments, ps.RemoteBytes, ps.LocalStart, ps.HighWatermark, ps.LocalBytes)

	// ListOffsets: earliest is the remote start, -4 the local start, -5 the
	// last tiered offset, -6 the first not yet tiered.
	for _, c := range []struct {
		ts   int64
		want int64
	}{{-2, 0}, {-4, ps.LocalStart}, {-5, ps.TieredEnd - 1}, {-6, ps.TieredEnd}, {-1, hw}, {base.Add(100 * time.Millisecond).UnixMilli(), 100}} {
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = c.ts
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		got := resp.Topics[0].Partitions[0]
		if got.ErrorCode != 0 || got.Offset != c.want {
			t.Errorf("ListOffsets(%d) = offset %d error %d, want %d", c.ts, got.Offset, got.ErrorCode, c.want)
		}
	}

	// Everything from offset 0, byte-identical, much of it from the store.
	brokertest.CheckPartition(ctx, t, []string{b.KafkaAddr()}, topic, 0, recs)
	if m := metricsText(t, b.HTTPAddr()); !strings.Contains(m, "\nchronik_tier_remote_reads_total") {
		t.Fatal("no remote reads recorded in /metrics")
	}

	// Orphans: one below the tiered end goes at the next sweep, one above
	// it after the grace period; a foreign file stays.
	dir := filepath.Join(cfg.DataDir, "tier", "segments")
	var prefix string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), topic+"-") {
			prefix = filepath.Join(dir, e.Name(), "0")
		}
	}
	if prefix == "" {
		t.Fatalf("no object directory for %s under %s", topic, dir)
	}
	below := filepath.Join(prefix, "00000000000000000000-00000000000000000005-99.seg")
	above := filepath.Join(prefix, fmt.Sprintf("%020d-%020d-99.seg", ps.TieredEnd+1000, ps.TieredEnd+2000))
	foreign := filepath.Join(prefix, "notes.txt")
	for _, f := range []string{below, above, foreign} {
		if err := os.WriteFile(f, []byte("orphan"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	waitGone := func(f string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			if _, err := os.Stat(f); os.IsNotExist(err) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s was not swept within %s", filepath.Base(f), within)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	start := time.Now()
	waitGone(below, 5*time.Second)
	if _, err := os.Stat(above); err != nil {
		t.Fatalf("an object above the tiered end was swept before its grace period (%s): %v", time.Since(start), err)
	}
	waitGone(above, 10*time.Second)
	if _, err := os.Stat(foreign); err != nil {
		t.Fatalf("a file that is not a segment was deleted: %v", err)
	}

	// retention.bytes bounds the whole log: the oldest segments leave the
	// manifest (log start rises, ListOffsets earliest follows) and then
	// their objects are deleted.
	const keep = 1 << 20
	alt, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.bytes", Value: kadm.StringPtr(fmt.Sprint(keep))}}, topic)
	if err == nil {
		err = alt[0].Err
	}
	if err != nil {
		t.Fatal(err)
	}
	ps = waitTier(t, b.HTTPAddr(), topic, 0, "retention applied", func(ps tier.PartitionStatus) bool {
		return ps.LogStart > 0 && ps.RemoteBytes+ps.UploadLagBytes <= keep
	})
	if ps.RemoteStart != ps.LogStart || ps.LastError != "" {
		t.Fatalf("after retention: %+v", ps)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		objs, _ := filepath.Glob(filepath.Join(prefix, "*.seg"))
		if len(objs) == ps.Segments {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d segment objects left for %d segments in the manifest", len(objs), ps.Segments)
		}
	}
	if e, err := adm.ListStartOffsets(ctx, topic); err != nil || e[topic][0].Offset != ps.LogStart {
		t.Fatalf("earliest offset after retention: %+v %v, want %d", e[topic][0], err, ps.LogStart)
	}
	t.Logf("retention.bytes %d: log start %d, %d segments (%d bytes) left", keep, ps.LogStart, ps.Segments, ps.RemoteBytes)

	// A flipped byte in a segment nobody has read yet is detected by its
	// checksum and never served.
	const other = "corrupt"
	tieredTopic(ctx, t, adm, other)
	brokertest.Produce(ctx, t, []string{b.KafkaAddr()}, other, 1, 1000, 1000, base)
	waitTier(t, b.HTTPAddr(), other, 0, "second topic tiered", func(ps tier.PartitionStatus) bool { return ps.LocalStart > 0 })
	seg := firstSegmentFile(t, dir, other)
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	data[1000] ^= 0x40
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	fpr := fetchRaw(ctx, t, cl, other)
	if fpr.ErrorCode != kerr.KafkaStorageError.Code || len(fpr.RecordBatches) != 0 {
		t.Fatalf("fetch of a corrupted segment: error %d with %d bytes of records; want KAFKA_STORAGE_ERROR and none", fpr.ErrorCode, len(fpr.RecordBatches))
	}
	if m := metricsText(t, b.HTTPAddr()); !strings.Contains(m, "\nchronik_tier_corrupt_chunks_total") {
		t.Fatal("corruption not counted in /metrics")
	}
}

func firstSegmentFile(t *testing.T, dir, topic string) string {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), topic+"-") {
			segs, _ := filepath.Glob(filepath.Join(dir, e.Name(), "0", "00000000000000000000-*.seg"))
			if len(segs) == 1 {
				return segs[0]
			}
		}
	}
	t.Fatalf("no first segment of %s under %s", topic, dir)
	return ""
}

func metricsText(t *testing.T, httpAddr string) string {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

//go:build integration

package broker_test

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/broker/brokertest"
)

// TestRaftLogCompactionBySize: with raft.snapshot-bytes a partition replica
// snapshots and compacts its Raft log as bytes are applied (the entry
// counts alone would not snapshot here: ~120 entries against
// snapshot-entries 10000), and after a restart, which starts from the
// snapshot and what is left of the log, every record reads back
// byte-identical and produce goes on at the next offset. The disk-use
// gauges count the records.
func TestRaftLogCompactionBySize(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Raft.SnapshotBytes, cfg.Raft.CompactionOverheadBytes = 256<<10, 512<<10
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	createTopic(t, newClient(t, b.KafkaAddr()), "sized", 1)
	var all []*kgo.Record
	base := time.Now()
	for round := 0; round < 6; round++ {
		all = append(all, brokertest.Produce(ctx, t, []string{b.KafkaAddr()}, "sized", 1, 300, 1024, base)...)
		time.Sleep(1200 * time.Millisecond) // the compaction loop looks once a second
	}
	// The first snapshots, before 512 KiB had been applied, could compact
	// nothing and were taken all the same: a restart starts from them.
	snapshotOnly := regexp.MustCompile(`\nchronik_raft_log_size_snapshots_total\{[^}]*outcome="snapshot_only"[^}]*\} (\d+)`)
	if m := snapshotOnly.FindStringSubmatch(metricsText(t, b.HTTPAddr())); m == nil || m[1] == "0" {
		t.Fatalf("no snapshot before the log could be compacted: %v", m)
	}
	wait := time.Now().Add(30 * time.Second)
	compacted := regexp.MustCompile(`\nchronik_raft_log_size_snapshots_total\{[^}]*outcome="compacted"[^}]*\} (\d+)`)
	for {
		m := compacted.FindStringSubmatch(metricsText(t, b.HTTPAddr()))
		if m != nil {
			if n, _ := strconv.Atoi(m[1]); n >= 2 {
				break
			}
		}
		if time.Now().After(wait) {
			t.Fatalf("no two compactions by size after %d KiB: %v", len(all), m)
		}
		time.Sleep(100 * time.Millisecond)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	if err := b.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	b = restart(t, cfg)
	seeds := []string{b.KafkaAddr()}
	brokertest.CheckPartition(ctx, t, seeds, "sized", 0, all)
	more := brokertest.Produce(ctx, t, seeds, "sized", 1, 10, 1024, base)
	if more[0].Offset != int64(len(all)) {
		t.Fatalf("produce after the restart landed at %d, want %d", more[0].Offset, len(all))
	}

	// Disk use by component: the records are in the state store (flushed
	// at the stop) and, in this small test, still in the Raft log (tan
	// deletes whole 64 MiB files).
	m := metricsText(t, b.HTTPAddr())
	payload := len(all) * 1024
	for _, name := range []string{"chronik_raft_log_disk_bytes", "chronik_state_disk_bytes"} {
		v := regexp.MustCompile(`\n` + name + `(?:\{[^}]*\})? (\S+)`).FindStringSubmatch(m)
		if v == nil {
			t.Fatalf("%s missing from /metrics", name)
		}
		if n, err := strconv.ParseFloat(v[1], 64); err != nil || n < float64(payload) {
			t.Fatalf("%s = %s, want ≥ the %d payload bytes", name, v[1], payload)
		}
	}
}

// TestRaftLogCompactionByEntries: a partition's snapshots by entry count
// are the log compactor's (it flushes the state store before it asks;
// Dragonboat's own would flush under the state machine's lock), so they
// show in chronik_raft_log_size_snapshots_total even when the trigger by
// bytes never fires; after a restart from the compacted log every record
// reads back.
func TestRaftLogCompactionByEntries(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Raft.SnapshotBytes = 1 << 40 // never by bytes
	cfg.Raft.SnapshotEntries, cfg.Raft.CompactionOverhead = 40, 10
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	createTopic(t, newClient(t, b.KafkaAddr()), "counted", 1)
	var all []*kgo.Record
	base := time.Now()
	compacted := regexp.MustCompile(`\nchronik_raft_log_size_snapshots_total\{[^}]*outcome="compacted"[^}]*\} (\d+)`)
	wait := time.Now().Add(time.Minute)
	for {
		// 300 records of 1 KiB in 16 KiB batches: ~20 entries a round.
		all = append(all, brokertest.Produce(ctx, t, []string{b.KafkaAddr()}, "counted", 1, 300, 1024, base)...)
		if m := compacted.FindStringSubmatch(metricsText(t, b.HTTPAddr())); m != nil {
			if n, _ := strconv.Atoi(m[1]); n >= 2 {
				break
			}
		}
		if time.Now().After(wait) {
			t.Fatalf("no two compactions by entry count after %d records", len(all))
		}
		time.Sleep(300 * time.Millisecond) // the compaction loop looks every 250 ms
	}
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	if err := b.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	b = restart(t, cfg)
	brokertest.CheckPartition(ctx, t, []string{b.KafkaAddr()}, "counted", 0, all)
}

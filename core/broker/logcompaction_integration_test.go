//go:build integration

package broker_test

import (
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/sharedlog"
	"github.com/chronik-go/chronik/raftsm"
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

	// Disk use by component: the records are in the batch files (synced
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

// TestCleanStopSnapshotsBusyPartitions: a clean stop snapshots every
// partition that applied 1 MiB or more since its last snapshot, so the next
// start has none of its log to read again (a start applies the log from the
// last snapshot, reading every entry, from the disk since the log's large
// writes bypass the page cache). Here raft.snapshot-bytes is out of reach:
// without the stop's snapshot the partition has none, and all its entries
// follow it. After the restart every record reads back.
func TestCleanStopSnapshotsBusyPartitions(t *testing.T) {
	cfg := brokertest.Config(t)
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	createTopic(t, newClient(t, b.KafkaAddr()), "stopped", 1)
	// 2,000 records of 1 KiB in 16 KiB batches: ~125 entries, 2 MiB.
	all := brokertest.Produce(ctx, t, []string{b.KafkaAddr()}, "stopped", 1, 2000, 1024, time.Now())
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	if err := b.Stop(sctx); err != nil {
		t.Fatal(err)
	}

	dirs, _ := filepath.Glob(filepath.Join(cfg.DataDir, "raft", "*", "*", sharedlog.Name))
	if len(dirs) != 1 {
		t.Fatalf("want one shared Raft log under %s, found %v", cfg.DataDir, dirs)
	}
	log, err := sharedlog.Open(dirs[0], sharedlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	infos, err := log.ListNodeInfo()
	if err != nil {
		t.Fatal(err)
	}
	partitions := 0
	for _, ni := range infos {
		if ni.ShardID < raftsm.FirstPartitionShardID {
			continue
		}
		partitions++
		ss, err := log.GetSnapshot(ni.ShardID, ni.ReplicaID)
		if err != nil {
			t.Fatal(err)
		}
		st, err := log.ReadRaftState(ni.ShardID, ni.ReplicaID, ss.Index)
		if err != nil {
			t.Fatal(err)
		}
		if ss.Index == 0 || st.EntryCount > 3 {
			t.Errorf("partition shard %d: snapshot at %d with %d entries after it; want a snapshot at the stop, with next to nothing after it", ni.ShardID, ss.Index, st.EntryCount)
		}
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	if partitions != 1 {
		t.Fatalf("%d partition replicas in the log, want 1", partitions)
	}

	b = restart(t, cfg)
	brokertest.CheckPartition(ctx, t, []string{b.KafkaAddr()}, "stopped", 0, all)
}

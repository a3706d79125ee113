package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/config"
)

// BenchmarkProduce is the issue-6 produce target: RF1, acks=all, 256 B
// records, franz-go producer defaults (idempotent, snappy, linger 10 ms),
// one producer, one partition. One op is one acknowledged record. The same
// run measures kfake with the identical workload (x_kfake), Dragonboat
// alone with the batches this run produced (x_raft) and the disk's
// write+fdatasync bandwidth (x_disk, payload MB/s over disk MB/s).
func BenchmarkProduce(b *testing.B) {
	benchProduce(b, DefaultWorkload(), nil)
}

// BenchmarkProduceSmallBatch is the latency-bound shape: linger 0 and 128
// producers with one record in flight each (128 concurrent single-record
// requests). Run it with fewer records than BenchmarkProduce.
func BenchmarkProduceSmallBatch(b *testing.B) {
	benchProduce(b, SmallBatchWorkload(), nil)
}

// BenchmarkProduceLogDBShards keeps the measurement behind the choice of
// raft.logdb-shards = raft.exec-shards = 1 (bench/README.md): the default
// workload over 16 keyed partitions with Dragonboat's default of 16.
func BenchmarkProduceLogDBShards(b *testing.B) {
	for _, shards := range []uint64{1, 16} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			w := DefaultWorkload()
			w.Partitions, w.Keyed = 16, true
			benchProduce(b, w, func(c *config.Config) { c.Raft.LogDBShards, c.Raft.ExecShards = shards, shards })
		})
	}
}

// BenchmarkProduceRaftLog measures what the Raft log's retention costs
// (profile finding 1 and fix 2 in bench/README.md). retain=entries is
// Dragonboat's entry counts alone (snapshot-entries 10000,
// compaction-overhead 50000, raft.snapshot-bytes off): a partition keeps
// every ~1 MB entry up to 60,000 of them. retain=default adds the snapshots
// by size (raft.snapshot-bytes 64 MiB, compaction-overhead-bytes 512 MiB),
// which bound the log once more than ~576 MiB were written (-benchtime
// 4000000x). retain=short snapshots every 32 entries. raft-dir-B/payload-B
// is what the log keeps at the end, disk-B/payload-B the write
// amplification.
func BenchmarkProduceRaftLog(b *testing.B) {
	for _, c := range []struct {
		name               string
		snapshot, overhead uint64
		bySize             bool
	}{{"retain=entries", 0, 0, false}, {"retain=default", 0, 0, true}, {"retain=short", 32, 8, true}} {
		b.Run(c.name, func(b *testing.B) {
			benchProduce(b, DefaultWorkload(), func(cfg *config.Config) {
				if c.snapshot > 0 {
					cfg.Raft.SnapshotEntries, cfg.Raft.CompactionOverhead = c.snapshot, c.overhead
				}
				if !c.bySize {
					cfg.Raft.SnapshotBytes = 0
				}
			})
		})
	}
}

// BenchmarkProduceLogDB compares the three Raft log stores inside the
// broker with the default workload (raft.logdb; bench/README.md "Write
// amplification", "Partition scaling"): Pebble flushes and compacts every
// entry it keeps, tan appends each replica's entries to a log file of its
// own (fsyncing each), sharedlog appends every replica's entries to one log
// (one fdatasync per save round). disk-B/payload-B is the write
// amplification, save-ms the time of one save round. With 64 partitions
// the records are keyed, as in BenchmarkPartitionScaling.
func BenchmarkProduceLogDB(b *testing.B) {
	for _, parts := range []int32{1, 64} {
		for _, logdb := range []string{"pebble", "tan", "sharedlog"} {
			if parts > 1 && logdb == "pebble" {
				continue // measured once (bench/README.md): slower than both
			}
			b.Run(fmt.Sprintf("partitions=%d/logdb=%s", parts, logdb), func(b *testing.B) {
				w := DefaultWorkload()
				w.Partitions, w.Keyed = parts, parts > 1
				benchProduce(b, w, func(c *config.Config) { c.Raft.LogDB = logdb })
			})
		}
	}
}

// BenchmarkProduce1KiB is issue 2's first measurement: 1 KiB keyed
// records, acks=all, franz-go defaults, 1 and 16 partitions, with
// Dragonboat's LogDB/exec shards at our 1 and at its default 16.
func BenchmarkProduce1KiB(b *testing.B) {
	for _, shards := range []uint64{1, 16} {
		for _, parts := range []int32{1, 16} {
			b.Run(fmt.Sprintf("shards=%d/partitions=%d", shards, parts), func(b *testing.B) {
				w := DefaultWorkload()
				w.RecordSize, w.Partitions, w.Keyed = 1024, parts, true
				benchProduce(b, w, func(c *config.Config) { c.Raft.LogDBShards, c.Raft.ExecShards = shards, shards })
			})
		}
	}
}

// BenchmarkProduceRF3 (three processes) is in cluster_test.go.

func benchProduce(b *testing.B, w Workload, mutate func(*config.Config)) {
	if probeRound(b) {
		return
	}
	ctx := benchContext(b)
	addr, cfg := startChronik(b, mutate)
	w = on(ctx, b, addr, w)
	w.Records = int64(b.N)
	b.SetBytes(int64(w.RecordSize))
	b.ReportAllocs()
	writes := diskWrites()
	b.ResetTimer()
	res, err := Produce(ctx, w)
	b.StopTimer()
	reportWriteAmp(b, writes, diskWrites(), res.Bytes)
	must(b, err)
	raftDir := filepath.Join(cfg.DataDir, "raft")
	reportRaftLogSize(b, raftDir, res.Bytes, "raft-dir-B/payload-B")
	reportRun(b, res)
	compareProduce(ctx, b, w, res, cfg)
	// Again after the peers' runs (seconds later): compaction by size runs
	// once a second, so the size at the end can include a second of appends.
	reportRaftLogSize(b, raftDir, res.Bytes, "raft-dir-later-B/payload-B")
}

// compareProduce measures the peers and ceilings of a produce result in the
// same run and reports the ratios.
func compareProduce(ctx context.Context, b *testing.B, w Workload, res Result, cfg config.Config) {
	kw := on(ctx, b, startKfake(b), w)
	kres, err := Produce(ctx, kw)
	must(b, err)
	reportRatio(b, "kfake", res.RecordsPerSec, kres.RecordsPerSec, "records/s")

	if res.Batches > 0 {
		rr, err := Raft(ctx, RaftWorkload{
			Dir: b.TempDir(), RaftAddr: brokertest.FreeAddr(b), Config: cfg,
			Payload:     int(res.MeanBatchBytes()) + appendOverhead,
			Proposals:   min(res.Batches, 50000),
			Concurrency: proposalsInFlight(w),
		})
		must(b, err)
		reportRatio(b, "raft", res.RecordsPerSec, rr.ProposalsPerSec*res.RecordsPerBatch(), "records/s")
	}

	dr, err := DiskCeiling(ctx, b.TempDir(), 1<<20, min(max(res.BatchBytes, 32<<20), 256<<20), 3)
	must(b, err)
	reportRatio(b, "disk", res.MBPerSec, dr.MBPerSec, "MB/s")
	// The same ratio for kfake, which writes nothing: how close the
	// producer alone gets to the disk figure on this machine.
	b.ReportMetric(kres.MBPerSec/dr.MBPerSec, "kfake-x_disk")
	logf(b, "chronik %.0f rec/s %.1f MB/s (%.1f rec/batch); kfake %.0f rec/s; disk %.1f MB/s",
		res.RecordsPerSec, res.MBPerSec, res.RecordsPerBatch(), kres.RecordsPerSec, dr.MBPerSec)
}

// appendOverhead approximates what core/partition adds to a produce batch
// in its Raft proposal (version, type, epoch, timestamp, per-batch meta).
const appendOverhead = 2 + 4 + 8 + 1 + 4 + 8 + 8 + 2 + 4 + 3

// proposalsInFlight is how many proposals w can have in flight at once on
// a single-partition topic: every producer connection carries up to 5
// produce requests (1 record each when Outstanding is 1).
func proposalsInFlight(w Workload) int {
	perConn := 5
	if !w.Idempotent {
		perConn = max(w.MaxInFlight, 1)
	}
	if w.Outstanding > 0 {
		perConn = min(perConn, w.Outstanding)
	}
	return w.Producers * perConn
}

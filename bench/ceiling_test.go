package bench

import (
	"fmt"
	"testing"

	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/raftsm"
)

// BenchmarkDisk is the disk ceiling on its own: sequential appends of one
// chunk + fdatasync each, in a temp dir on the same filesystem as the
// brokers' data. One op is one chunk.
func BenchmarkDisk(b *testing.B) {
	for _, chunk := range []int{4 << 10, 64 << 10, 256 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("chunk=%dKiB", chunk>>10), func(b *testing.B) {
			if probeRound(b) {
				return
			}
			ctx := benchContext(b)
			dir := b.TempDir()
			b.SetBytes(int64(chunk))
			b.ReportAllocs()
			b.ResetTimer()
			r, err := DiskWrite(ctx, dir, chunk, int64(b.N)*int64(chunk))
			b.StopTimer()
			must(b, err)
			b.ReportMetric(r.MBPerSec, "MB/s")
			reportLatency(b, "sync-", r.Sync)
		})
	}
}

// BenchmarkRaft is Dragonboat alone with the broker's Raft settings: one
// single-replica shard with a trivial on-disk state machine, proposals of
// the payload sizes the produce benchmarks send (one 256 B record; a
// ~1 MB batch), at the concurrency of the small-batch shape and of the
// default producer, on each Raft log store (raft.logdb: tan, the default
// for a new data dir, appends to one log file per replica; pebble flushes
// and compacts the log). One op is one proposal.
func BenchmarkRaft(b *testing.B) {
	for _, c := range []struct {
		payload, concurrency int
		logdb                string
	}{
		{256 + 70 + appendOverhead, 128, "tan"},
		{1 << 20, 5, "tan"},
		{256 + 70 + appendOverhead, 128, "pebble"},
		{1 << 20, 5, "pebble"},
	} {
		b.Run(fmt.Sprintf("logdb=%s/payload=%d/inflight=%d", c.logdb, c.payload, c.concurrency), func(b *testing.B) {
			if probeRound(b) {
				return
			}
			ctx := benchContext(b)
			b.SetBytes(int64(c.payload))
			b.ReportAllocs()
			writes := diskWrites()
			b.ResetTimer()
			cfg := brokertest.Config(b)
			cfg.Raft.LogDB = c.logdb
			r, err := Raft(ctx, RaftWorkload{
				Dir: b.TempDir(), RaftAddr: brokertest.FreeAddr(b), Config: cfg,
				Payload: c.payload, Proposals: int64(b.N), Concurrency: c.concurrency,
			})
			b.StopTimer()
			must(b, err)
			reportWriteAmp(b, writes, diskWrites(), int64(b.N)*int64(c.payload))
			b.ReportMetric(r.ProposalsPerSec, "proposals/s")
			reportLatency(b, "", r.Latency)
		})
	}
}

// BenchmarkStateMachine is the partition state machine alone (the real
// raftsm.Partition on its own Pebble, as the broker opens it): Update with
// entries carrying one batch each, 5 entries per Update (Dragonboat's apply
// batching at 5 in-flight requests), then Sync (a flush, as at a Raft
// snapshot) inside the timed section so the memtable's bytes are counted.
// disk-B/payload-B isolates the state side's write amplification from the
// Raft log's (BenchmarkRaft). One op is one batch.
func BenchmarkStateMachine(b *testing.B) {
	for _, size := range []int{350, 1 << 20} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			if probeRound(b) {
				return
			}
			store, err := raftsm.OpenStore(b.TempDir(), raftsm.StoreOptions{})
			must(b, err)
			defer store.Close()
			p := raftsm.NewPartition(store, 100, nil)
			_, err = p.Open(nil)
			must(b, err)
			pool := valuePool()
			cmds := make([][]byte, 64)
			for i := range cmds {
				data := pool[i*size%(len(pool)-size):][:size]
				c := raftsm.AppendCommand{LeaderEpoch: 1, Batches: []raftsm.AppendBatch{{
					Meta: raftsm.BatchMeta{LastOffsetDelta: 0, ProducerID: -1, BaseSequence: -1}, Data: data,
				}}}
				cmds[i] = raftsm.EncodeAppend(nil, &c)
			}
			const perUpdate = 5
			ents := make([]sm.Entry, 0, perUpdate)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			writes := diskWrites()
			b.ResetTimer()
			for i := 0; i < b.N; {
				ents = ents[:0]
				for j := 0; j < perUpdate && i < b.N; j++ {
					ents = append(ents, sm.Entry{Index: uint64(i + 1), Cmd: cmds[i%len(cmds)]})
					i++
				}
				if _, err := p.Update(ents); err != nil {
					b.Fatal(err)
				}
			}
			must(b, p.Sync())
			b.StopTimer()
			reportWriteAmp(b, writes, diskWrites(), int64(b.N)*int64(size))
		})
	}
}

package bench

import (
	"fmt"
	"testing"

	"github.com/chronik-go/chronik/core/broker/brokertest"
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
// default producer. One op is one proposal.
func BenchmarkRaft(b *testing.B) {
	for _, c := range []struct {
		payload, concurrency int
	}{{256 + 70 + appendOverhead, 128}, {1 << 20, 5}} {
		b.Run(fmt.Sprintf("payload=%d/inflight=%d", c.payload, c.concurrency), func(b *testing.B) {
			if probeRound(b) {
				return
			}
			ctx := benchContext(b)
			b.SetBytes(int64(c.payload))
			b.ReportAllocs()
			b.ResetTimer()
			r, err := Raft(ctx, RaftWorkload{
				Dir: b.TempDir(), RaftAddr: brokertest.FreeAddr(b), Config: brokertest.Config(b),
				Payload: c.payload, Proposals: int64(b.N), Concurrency: c.concurrency,
			})
			b.StopTimer()
			must(b, err)
			b.ReportMetric(r.ProposalsPerSec, "proposals/s")
			reportLatency(b, "", r.Latency)
		})
	}
}

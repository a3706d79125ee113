package bench

import (
	"fmt"
	"testing"

	"github.com/chronik-go/chronik/core/broker/brokertest"
)

// BenchmarkPartitionScaling produces the same total load (b.N keyed
// records, default producer, max rate) into topics of 1, 16, 64 and 256
// partitions. Each run also produces b.N records into a 1-partition topic
// on the same broker (x_1p: target ≥ 0.8 at 64 partitions) and runs kfake
// with the same partition count (x_kfake) and with one (kfake-x_1p: the
// part of the loss that the producer itself causes — smaller batches per
// partition at the same linger) and Dragonboat alone with one shard per
// partition (x_raft: what the Raft groups cost without the broker).
// save-ms and entries/save are the broker's Raft log saves during the run
// (one per step-worker round, fsync'd): what bounds many partitions.
func BenchmarkPartitionScaling(b *testing.B) {
	for _, parts := range []int32{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			if probeRound(b) {
				return
			}
			ctx := benchContext(b)
			br, cfg := startBroker(b, nil)
			addr := br.KafkaAddr()
			w := DefaultWorkload()
			w.Keyed, w.Records = true, int64(b.N)
			var one Result
			if parts > 1 {
				w1 := w
				w1.Topic, w1.Partitions = "one", 1
				var err error
				one, err = Produce(ctx, on(ctx, b, addr, w1))
				must(b, err)
			}
			w.Topic, w.Partitions = topicName(fmt.Sprintf("scale-%d", parts)), parts
			w = on(ctx, b, addr, w)
			b.SetBytes(int64(w.RecordSize))
			b.ReportAllocs()
			saves := readRaftSaves(b, br.HTTPAddr())
			b.ResetTimer()
			res, err := Produce(ctx, w)
			b.StopTimer()
			must(b, err)
			reportRun(b, res)
			reportSaves(b, saves, readRaftSaves(b, br.HTTPAddr()))
			if parts > 1 {
				reportRatio(b, "1p", res.RecordsPerSec, one.RecordsPerSec, "records/s")
			}
			// Dragonboat alone with one shard per partition and the same
			// proposal size. In flight: what the producer could have in
			// flight, at most its requests in flight (each carries one
			// batch per partition) and at most its buffered records
			// (MaxBufferedRecords counts unacknowledged records too).
			if res.Batches > 0 {
				inFlight := min(proposalsInFlight(w)*int(parts), int(float64(w.MaxBufferedRecords)/res.RecordsPerBatch())+1)
				rr, err := Raft(ctx, RaftWorkload{
					Dir: b.TempDir(), RaftAddr: brokertest.FreeAddr(b), Config: cfg,
					Payload:   int(res.MeanBatchBytes()) + appendOverhead,
					Proposals: min(res.Batches, 50000), Shards: int(parts),
					Concurrency: max(inFlight, int(parts)),
				})
				must(b, err)
				reportRatio(b, "raft", res.RecordsPerSec, rr.ProposalsPerSec*res.RecordsPerBatch(), "records/s")
			}
			// kfake with the same partition count, and its own 1-partition
			// run: how much of the scaling loss the client causes.
			kaddr := startKfake(b)
			kres, err := Produce(ctx, on(ctx, b, kaddr, w))
			must(b, err)
			reportRatio(b, "kfake", res.RecordsPerSec, kres.RecordsPerSec, "records/s")
			if parts > 1 {
				w1 := w
				w1.Topic, w1.Partitions = "one", 1
				kone, err := Produce(ctx, on(ctx, b, kaddr, w1))
				must(b, err)
				b.ReportMetric(kres.RecordsPerSec/kone.RecordsPerSec, "kfake-x_1p")
			}
		})
	}
}

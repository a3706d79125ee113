package bench

import (
	"fmt"
	"testing"
)

// e2eRates are the fixed rates of BenchmarkE2ELatency (records/s).
var e2eRates = []float64{1000, 5000, 20000}

// BenchmarkE2ELatency produces at fixed rates (default workload, 4 keyed
// partitions) while a consumer tails the topic, and reports the
// send-to-consume latency from each record's intended send time (no
// coordinated omission) and the produce ack latency. One op is one record,
// so a run takes b.N / rate seconds. Peers in the same run: kfake at the
// same rate (x_kfake on p50 and p99: how many times kfake's latency ours
// is) and the disk's write+fdatasync latency for a 64 KiB chunk (x_fsync:
// our p50 over the p50 of one fsync'd write).
func BenchmarkE2ELatency(b *testing.B) {
	for _, rate := range e2eRates {
		b.Run(fmt.Sprintf("rate=%.0f", rate), func(b *testing.B) {
			if probeRound(b) {
				return
			}
			ctx := benchContext(b)
			addr, _ := startChronik(b, nil)
			w := DefaultWorkload()
			w.Partitions, w.Keyed, w.Rate, w.Records = 4, true, rate, int64(b.N)
			w = on(ctx, b, addr, w)
			b.SetBytes(int64(w.RecordSize))
			b.ReportAllocs()
			b.ResetTimer()
			res, err := EndToEnd(ctx, w)
			b.StopTimer()
			must(b, err)
			reportRun(b, res)

			kres, err := EndToEnd(ctx, on(ctx, b, startKfake(b), w))
			must(b, err)
			if res.Latency != nil && kres.Latency != nil {
				reportRatio(b, "kfake-p50", res.Latency.P50, kres.Latency.P50, "ms")
				reportRatio(b, "kfake-p99", res.Latency.P99, kres.Latency.P99, "ms")
			}
			d, err := DiskWrite(ctx, b.TempDir(), 64<<10, 16<<20)
			must(b, err)
			if res.Latency != nil {
				reportRatio(b, "fsync-p50", res.Latency.P50, d.Sync.P50, "ms")
			}
		})
	}
}

// BenchmarkProduceHalfRate measures the maximum produce rate of the default
// workload (b.N records), then produces b.N records at half that rate and
// reports the ack latency there: the RF1 baseline of the RF3 target (p99 ≤
// 5 ms at half the maximum rate). x_max is the achieved over the maximum
// rate (≈ 0.5 when the broker keeps up).
func BenchmarkProduceHalfRate(b *testing.B) {
	if probeRound(b) {
		return
	}
	ctx := benchContext(b)
	addr, _ := startChronik(b, nil)
	w := DefaultWorkload()
	w.Records = int64(b.N)
	w = on(ctx, b, addr, w)
	maxRes, err := Produce(ctx, w)
	must(b, err)
	w.Rate = maxRes.RecordsPerSec / 2
	res := timedProduce(ctx, b, w)
	reportRatio(b, "max", res.RecordsPerSec, maxRes.RecordsPerSec, "records/s")
}

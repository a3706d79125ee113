package bench

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkConsume is consume catch-up: b.N records are produced with the
// default workload (untimed, but measured: x_produce), then one consumer
// with franz-go defaults reads them from the start (timed). One op is one
// consumed record. Target: ≥ 2× the produce records/s. kfake catches up
// from the same data in the same run (x_kfake).
func BenchmarkConsume(b *testing.B) {
	if probeRound(b) {
		return
	}
	ctx := benchContext(b)
	addr, _ := startChronik(b, nil)
	w := DefaultWorkload()
	w.Records = int64(b.N)
	prod, cons := catchUp(ctx, b, on(ctx, b, addr, w), true)
	reportRun(b, cons)
	reportRatio(b, "produce", cons.RecordsPerSec, prod.RecordsPerSec, "records/s")

	_, kcons := catchUp(ctx, b, on(ctx, b, startKfake(b), w), false)
	reportRatio(b, "kfake", cons.RecordsPerSec, kcons.RecordsPerSec, "records/s")
}

// BenchmarkRemoteFetch is the tiering target: catch-up from the tiered
// store (local backend) ≥ 0.5× local fetch MB/s.
func BenchmarkRemoteFetch(b *testing.B) {
	b.Skip("remote fetch needs tiered storage (the tiering issue); then: produce, wait for segments to be tiered " +
		"and local retention to drop them, and run BenchmarkConsume's catch-up against local and remote offsets in one run")
}

// catchUp produces w, then consumes it from the start; timed says whether
// the consume is the benchmark's timed section.
func catchUp(ctx context.Context, b *testing.B, w Workload, timed bool) (prod, cons Result) {
	prod, err := Produce(ctx, w)
	must(b, err)
	if timed {
		b.SetBytes(int64(w.RecordSize))
		b.ReportAllocs()
		b.ResetTimer()
	}
	cons, err = Consume(ctx, w)
	if timed {
		b.StopTimer()
	}
	must(b, err)
	if cons.Records != prod.Records {
		must(b, fmt.Errorf("consumed %d of %d records", cons.Records, prod.Records))
	}
	return prod, cons
}

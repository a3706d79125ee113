package raftsm

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkCompactionPass: one whole pass (begin, the worker's two reads
// and its write, end) over 32 MiB of uncompressed batches of 100 records of
// 1 KiB values, 10,000 keys each written about three times. Reported per
// byte of input, on disk (the test's temp dir, page cache warm). The next
// pass's input is what the previous one kept plus another 32 MiB.
func BenchmarkCompactionPass(b *testing.B) {
	p := diskPartition(b)
	update := applier(b, &p)
	value := strings.Repeat("v", 1<<10)
	const keys, perBatch, batches = 10_000, 100, 330
	n := 0
	fill := func() {
		for range batches {
			recs := make([]kv, perBatch)
			for i := range recs {
				recs[i] = rec(fmt.Sprintf("key-%05d", n%keys), value, int64(n))
				n++
			}
			update(keyedAppend(recs...))
		}
		update(mark(int64(n)))
	}
	var in, out int64
	for b.Loop() {
		b.StopTimer()
		fill()
		b.StartTimer()
		res := update(EncodeCompactBegin(0, 1<<62))
		if ResultStatus(res[0].Data) != StatusOK {
			b.Fatalf("begin: %s", ResultStatus(res[0].Data))
		}
		<-p.job.done
		update(EncodeCompactEnd(res[0].Value))
		last := p.Compaction().Last
		if last == nil || last.Err != nil {
			b.Fatalf("pass: %+v", last)
		}
		in += last.InBytes
		out += last.OutBytes
	}
	b.ReportMetric(float64(in)/float64(b.N)/(1<<20), "MiB-in/pass")
	b.ReportMetric(float64(out)/float64(b.N)/(1<<20), "MiB-out/pass")
	b.ReportMetric(float64(in)/b.Elapsed().Seconds()/(1<<20), "MiB/s")
}

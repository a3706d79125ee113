package raftsm

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/chronik-go/chronik/core/batch"
)

// BenchmarkCompactionPass: one whole pass (begin, the worker's two reads
// and its write, end) over 32 MiB (uncompressed) of batches of 100 records
// of 1 KiB values, 10,000 keys each written about three times, the batches
// uncompressed or zstd as a producer would send them (values of random
// words, about 3:1). Reported per byte of input, on disk (the test's temp
// dir, page cache warm). The next pass's input is what the previous one
// kept plus another 32 MiB.
func BenchmarkCompactionPass(b *testing.B) {
	for _, codec := range []batch.Codec{batch.CodecNone, batch.CodecZstd} {
		b.Run(codec.String(), func(b *testing.B) { benchmarkCompactionPass(b, codec) })
	}
}

func benchmarkCompactionPass(b *testing.B, codec batch.Codec) {
	p := diskPartition(b)
	update := applier(b, &p)
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"order", "customer", "shipped", "pending", "amount", "EUR", "address", "status", "id", "item"}
	value := func() string {
		var sb strings.Builder
		for sb.Len() < 1<<10 {
			sb.WriteString(words[rng.IntN(len(words))])
			fmt.Fprint(&sb, rng.IntN(1000))
		}
		return sb.String()[:1<<10]
	}
	const keys, perBatch, batches = 10_000, 100, 330
	n := 0
	fill := func() {
		for range batches {
			recs := make([]kv, perBatch)
			for i := range recs {
				recs[i] = rec(fmt.Sprintf("key-%05d", n%keys), value(), int64(n))
				n++
			}
			data := keyedBatch(recs...)
			if codec != batch.CodecNone {
				var err error
				if data, err = batch.Recompress(nil, data, codec); err != nil {
					b.Fatal(err)
				}
			}
			update(appendCmd(1, AppendBatch{Data: data, Meta: BatchMeta{LastOffsetDelta: perBatch - 1, MaxTimestamp: int64(n), ProducerID: -1}}))
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

package segment_test

import (
	"encoding/binary"
	"io"
	"testing"

	"github.com/chronik-go/chronik/tiering/segment"
)

func BenchmarkWriter(b *testing.B) {
	const (
		objectSize = 64 << 20
		batchSize  = 16 << 10
		records    = 16
	)
	// One batch, its baseOffset moved along before each Append: the batch
	// CRC does not cover baseOffset, and the Writer keeps nothing of it.
	batch := makeBatch(b, batchSpec{records: records, payload: batchSize - 61, maxTS: 1})
	b.SetBytes(objectSize)
	b.ReportAllocs()
	var info segment.Info
	for b.Loop() {
		w := segment.NewWriter(io.Discard)
		for i := range objectSize / batchSize {
			binary.BigEndian.PutUint64(batch, uint64(i*records))
			if err := w.Append(batch); err != nil {
				b.Fatal(err)
			}
		}
		var err error
		if info, err = w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(info.Chunks), "chunks/op")
}

func BenchmarkParseIndex(b *testing.B) {
	// A 64 MiB object's tail at the default chunk size: 256 chunks.
	batches := make([][]byte, 256)
	for i := range batches {
		batches[i] = makeBatch(b, batchSpec{base: int64(i), records: 1, payload: segment.DefaultChunkSize - 61, maxTS: int64(i)})
	}
	obj, info := writeObject(b, batches)
	tail := obj[info.IndexPos:]
	b.SetBytes(int64(len(tail)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := segment.ParseIndex(tail); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(info.Chunks), "chunks/op")
}

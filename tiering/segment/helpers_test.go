package segment_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/chronik-go/chronik/tiering/segment"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchSpec describes a test batch: its first offset, record count (one
// offset each), record payload size and maxTimestamp.
type batchSpec struct {
	base    int64
	records int
	payload int
	maxTS   int64
}

// makeBatch returns a valid RecordBatch v2 batch. The records are arbitrary
// bytes: the format never parses them.
func makeBatch(tb testing.TB, s batchSpec) []byte {
	tb.Helper()
	if s.records < 1 || s.payload < 0 {
		tb.Fatalf("makeBatch(%+v): want at least one record", s)
	}
	b := make([]byte, 61+s.payload)
	be := binary.BigEndian
	be.PutUint64(b[0:], uint64(s.base))
	be.PutUint32(b[8:], uint32(len(b)-12))
	be.PutUint32(b[12:], 7) // partitionLeaderEpoch
	b[16] = 2               // magic
	be.PutUint16(b[21:], 0) // attributes
	be.PutUint32(b[23:], uint32(s.records-1))
	be.PutUint64(b[27:], uint64(s.maxTS-int64(s.records))) // baseTimestamp
	be.PutUint64(b[35:], uint64(s.maxTS))
	be.PutUint64(b[43:], 0xFFFFFFFFFFFFFFFF) // producerId -1
	be.PutUint16(b[51:], 0xFFFF)             // producerEpoch -1
	be.PutUint32(b[53:], 0xFFFFFFFF)         // baseSequence -1
	be.PutUint32(b[57:], uint32(s.records))
	for i := range s.payload {
		b[61+i] = byte(int(s.base)*31 + i*7)
	}
	be.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

// makeBatches returns len(payloads) contiguous batches from offset base,
// with record counts cycling 1..5 and timestamps that go back and forth.
func makeBatches(tb testing.TB, base int64, payloads ...int) [][]byte {
	tb.Helper()
	out := make([][]byte, 0, len(payloads))
	for i, p := range payloads {
		recs := 1 + i%5
		out = append(out, makeBatch(tb, batchSpec{base: base, records: recs, payload: p, maxTS: 1000 + int64(i*37%11)*10}))
		base += int64(recs)
	}
	return out
}

// writeObject writes batches into a new object.
func writeObject(tb testing.TB, batches [][]byte, opts ...segment.Option) ([]byte, segment.Info) {
	tb.Helper()
	var buf bytes.Buffer
	w := segment.NewWriter(&buf, opts...)
	for i, b := range batches {
		if err := w.Append(b); err != nil {
			tb.Fatalf("Append(batch %d): %v", i, err)
		}
	}
	info, err := w.Close()
	if err != nil {
		tb.Fatalf("Close: %v", err)
	}
	return buf.Bytes(), info
}

// writeAborted writes batches into a new object that lists aborted
// transactions.
func writeAborted(tb testing.TB, batches [][]byte, aborted []segment.AbortedTxn) ([]byte, segment.Info) {
	tb.Helper()
	var buf bytes.Buffer
	w := segment.NewWriter(&buf)
	for i, b := range batches {
		if err := w.Append(b); err != nil {
			tb.Fatalf("Append(batch %d): %v", i, err)
		}
	}
	info, err := w.CloseAborted(aborted)
	if err != nil {
		tb.Fatalf("CloseAborted: %v", err)
	}
	return buf.Bytes(), info
}

// reseal recomputes the index and footer CRCs of a tail (or object) in
// place, so that tests reach the checks behind them. It pins where the
// layout keeps the CRCs.
func reseal(b []byte) []byte {
	if len(b) < segment.FooterSize {
		return b
	}
	foot := b[len(b)-segment.FooterSize:]
	binary.BigEndian.PutUint32(foot[72:], crc32.Checksum(b[:len(b)-segment.FooterSize], castagnoli))
	binary.BigEndian.PutUint32(foot[76:], crc32.Checksum(foot[:76], castagnoli))
	return b
}

// checkIndex asserts the invariants every parsed index holds.
func checkIndex(tb testing.TB, ix *segment.Index) {
	tb.Helper()
	if len(ix.Chunks) != ix.ChunkCount || len(ix.Chunks) == 0 {
		tb.Fatalf("%d chunks, footer says %d", len(ix.Chunks), ix.ChunkCount)
	}
	if ix.IndexPos != ix.DataLen || ix.BaseOffset < 0 || ix.EndOffset <= ix.BaseOffset {
		tb.Fatalf("footer %+v", ix.Footer)
	}
	if ix.Chunks[0].BaseOffset != ix.BaseOffset {
		tb.Fatalf("chunk 0 base %d, footer %d", ix.Chunks[0].BaseOffset, ix.BaseOffset)
	}
	var pos int64
	for i, c := range ix.Chunks {
		if c.Pos != pos || c.Len < 61 || c.LastOffset < c.BaseOffset {
			tb.Fatalf("chunk %d: %+v at expected position %d", i, c, pos)
		}
		if i > 0 {
			p := ix.Chunks[i-1]
			if c.BaseOffset <= p.LastOffset || c.MaxTimestamp < p.MaxTimestamp {
				tb.Fatalf("chunk %d %+v after %+v", i, c, p)
			}
		}
		pos += int64(c.Len)
		for _, off := range []int64{c.BaseOffset, c.LastOffset} {
			if got, ok := ix.ChunkFor(off); !ok || got != i {
				tb.Fatalf("ChunkFor(%d) = %d, %v; want %d", off, got, ok, i)
			}
		}
		if got, ok := ix.ChunkForTime(c.MaxTimestamp); !ok || ix.Chunks[got].MaxTimestamp != c.MaxTimestamp || got > i {
			tb.Fatalf("ChunkForTime(%d) = %d, %v; chunk %d has it", c.MaxTimestamp, got, ok, i)
		}
	}
	last := ix.Chunks[len(ix.Chunks)-1]
	if pos != ix.DataLen || last.LastOffset != ix.EndOffset-1 || last.MaxTimestamp != ix.MaxTimestamp {
		tb.Fatalf("last chunk %+v, %d bytes in all; footer %+v", last, pos, ix.Footer)
	}
	if _, ok := ix.ChunkFor(ix.EndOffset); ok {
		tb.Fatalf("ChunkFor(end offset %d) found a chunk", ix.EndOffset)
	}
	if got, ok := ix.ChunkFor(ix.BaseOffset - 1); !ok || got != 0 {
		tb.Fatalf("ChunkFor(base-1) = %d, %v; want 0, true", got, ok)
	}
}

package segment_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/chronik-go/chronik/tiering/segment"
)

func FuzzParseIndex(f *testing.F) {
	for _, chunkSize := range []int{1, 150, 1 << 20} {
		obj, info := writeObject(f, makeBatches(f, 3, 10, 100, 0, 200, 40), segment.WithChunkSize(chunkSize))
		f.Add(obj[info.IndexPos:])
	}
	obj, info := writeObject(f, makeBatches(f, 0, 0))
	f.Add(obj[info.IndexPos:])
	obj, info = writeAborted(f, makeBatches(f, 10, 10, 100), []segment.AbortedTxn{{ProducerID: 7, FirstOffset: 3, MarkerOffset: 10}, {ProducerID: 8, FirstOffset: 11, MarkerOffset: 40}})
	f.Add(obj[info.IndexPos:])
	f.Add(obj[len(obj)-segment.FooterSize:])
	f.Add([]byte{})
	f.Add([]byte("CHRNKSEG"))

	f.Fuzz(func(t *testing.T, tail []byte) {
		// As given, and resealed so that the checks behind the CRCs run too.
		for _, b := range [][]byte{tail, reseal(slices.Clone(tail))} {
			ix, err := segment.ParseIndex(b)
			if err != nil {
				if !errors.Is(err, segment.ErrCorrupt) && !errors.Is(err, segment.ErrUnsupportedVersion) {
					t.Fatalf("ParseIndex error %v wraps no sentinel", err)
				}
				continue
			}
			checkIndex(t, ix)
			if segment.TailSize(len(ix.Chunks))+24*int64(len(ix.Aborted)) != int64(len(b)) || len(ix.Aborted) != ix.Footer.Aborted {
				t.Fatalf("parsed %d chunks from a %d-byte tail", len(ix.Chunks), len(b))
			}
			f, err := segment.ParseFooter(b)
			if err != nil || f != ix.Footer {
				t.Fatalf("ParseFooter = %+v, %v; ParseIndex has %+v", f, err, ix.Footer)
			}
			// Any chunk contents: VerifyChunk must not panic, nor accept
			// bytes of the wrong length.
			c := ix.Chunks[0]
			if err := segment.VerifyChunk(c, b[:min(len(b), c.Len+1)]); err == nil && c.Len < len(b) {
				t.Fatalf("VerifyChunk accepted %d bytes for a %d-byte chunk", min(len(b), c.Len+1), c.Len)
			}
		}
	})
}

func FuzzBatches(f *testing.F) {
	chunk := bytes.Join(makeBatches(f, 7, 0, 30, 5), nil)
	f.Add(chunk, int64(0))
	f.Add(chunk, int64(9))
	f.Add(chunk, int64(math.MaxInt64))
	f.Add(chunk[:len(chunk)-3], int64(0))
	f.Add(chunk[:61], int64(-1))
	f.Add([]byte{}, int64(0))

	f.Fuzz(func(t *testing.T, chunk []byte, from int64) {
		var (
			total    int
			prevLast = int64(-1)
		)
		err := segment.Batches(chunk, from, func(b []byte) bool {
			if len(b) < 61 || cap(b) != len(b) || int(binary.BigEndian.Uint32(b[8:]))+12 != len(b) || b[16] != 2 {
				t.Fatalf("malformed batch of %d bytes (cap %d)", len(b), cap(b))
			}
			base := int64(binary.BigEndian.Uint64(b))
			last := base + int64(int32(binary.BigEndian.Uint32(b[23:])))
			if base < 0 || last < base || last < from || base <= prevLast {
				t.Fatalf("batch [%d, %d] after %d, from %d", base, last, prevLast, from)
			}
			prevLast = last
			total += len(b)
			return true
		})
		if err != nil {
			if !errors.Is(err, segment.ErrCorrupt) {
				t.Fatalf("Batches error %v wraps no sentinel", err)
			}
			return
		}
		if total > len(chunk) || (from == math.MinInt64 && total != len(chunk)) {
			t.Fatalf("batches hold %d bytes of a %d-byte chunk", total, len(chunk))
		}
		// Every batch, from the lowest offset: the framing covers the chunk.
		total = 0
		if err := segment.Batches(chunk, math.MinInt64, func(b []byte) bool { total += len(b); return true }); err != nil || total != len(chunk) {
			t.Fatalf("Batches from the start: %v, %d of %d bytes", err, total, len(chunk))
		}
	})
}

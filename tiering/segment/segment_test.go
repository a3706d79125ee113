package segment_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"testing"

	"github.com/chronik-go/chronik/tiering/segment"
)

// wantChunks is the reference model of chunking: a chunk closes as soon as
// it holds chunkSize bytes or more.
func wantChunks(t *testing.T, batches [][]byte, chunkSize int) []segment.Chunk {
	t.Helper()
	var (
		out   []segment.Chunk
		cur   segment.Chunk
		data  []byte
		pos   int64
		maxTS = int64(math.MinInt64)
	)
	for _, b := range batches {
		base := int64(binary.BigEndian.Uint64(b))
		if len(data) == 0 {
			cur = segment.Chunk{BaseOffset: base, Pos: pos}
		}
		data = append(data, b...)
		maxTS = max(maxTS, int64(binary.BigEndian.Uint64(b[35:])))
		cur.LastOffset = base + int64(binary.BigEndian.Uint32(b[23:]))
		cur.MaxTimestamp = maxTS
		pos += int64(len(b))
		if len(data) >= chunkSize {
			cur.Len, cur.CRC = len(data), crc32.Checksum(data, castagnoli)
			out = append(out, cur)
			data = data[:0]
		}
	}
	if len(data) > 0 {
		cur.Len, cur.CRC = len(data), crc32.Checksum(data, castagnoli)
		out = append(out, cur)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	const chunk = 4096
	// Sizes around the chunk size, one batch far bigger than a chunk, and
	// runs of small batches.
	payloads := []int{100, 700, 1500, 3000, 20000, 50, 0, 4035, 4036, 9, 300, 300, 300, 300, 5000, 10, 64 << 10, 1}
	batches := makeBatches(t, 1000, payloads...)

	tests := []struct {
		name      string
		chunkSize int
		opts      []segment.Option
	}{
		{"chunk=4KiB", chunk, []segment.Option{segment.WithChunkSize(chunk)}},
		{"chunk=1", 1, []segment.Option{segment.WithChunkSize(1)}},
		{"chunk=default", segment.DefaultChunkSize, nil},
		{"chunk=0 is default", segment.DefaultChunkSize, []segment.Option{segment.WithChunkSize(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, info := writeObject(t, batches, tt.opts...)
			data := bytes.Join(batches, nil)
			want := wantChunks(t, batches, tt.chunkSize)

			var records int64
			var maxTS int64 = math.MinInt64
			for _, b := range batches {
				records += int64(binary.BigEndian.Uint32(b[57:]))
				maxTS = max(maxTS, int64(binary.BigEndian.Uint64(b[35:])))
			}
			last := batches[len(batches)-1]
			end := int64(binary.BigEndian.Uint64(last)) + int64(binary.BigEndian.Uint32(last[23:])) + 1
			wantInfo := segment.Info{
				BaseOffset: 1000, EndOffset: end, Size: int64(len(obj)),
				IndexPos: int64(len(data)), DataLen: int64(len(data)),
				Chunks: len(want), Batches: len(batches), Records: records, MaxTimestamp: maxTS,
			}
			if info != wantInfo {
				t.Fatalf("Info = %+v\nwant   %+v", info, wantInfo)
			}
			if info.Size != info.IndexPos+segment.TailSize(info.Chunks) {
				t.Fatalf("Size %d, IndexPos %d + TailSize %d", info.Size, info.IndexPos, segment.TailSize(info.Chunks))
			}
			if !bytes.Equal(obj[:info.DataLen], data) {
				t.Fatal("object data differs from the batches")
			}

			// A reader that knows only the object size: footer, then tail.
			f, err := segment.ParseFooter(obj[len(obj)-segment.FooterSize:])
			if err != nil {
				t.Fatalf("ParseFooter: %v", err)
			}
			if f.IndexPos != info.IndexPos || f.IndexPos+f.TailSize() != info.Size {
				t.Fatalf("footer %+v, info %+v", f, info)
			}
			ix, err := segment.ParseIndex(obj[f.IndexPos:])
			if err != nil {
				t.Fatalf("ParseIndex: %v", err)
			}
			checkIndex(t, ix)
			if !slices.Equal(ix.Chunks, want) {
				t.Fatalf("chunks:\n%+v\nwant\n%+v", ix.Chunks, want)
			}
			if ix.Footer != f || ix.Records != records || ix.Batches != int64(len(batches)) || ix.Version != segment.Version {
				t.Fatalf("index footer %+v, want %+v", ix.Footer, f)
			}

			// Every offset leads to the batch holding it, byte for byte.
			holder := func(off int64) []byte {
				for _, b := range batches {
					if off <= int64(binary.BigEndian.Uint64(b))+int64(binary.BigEndian.Uint32(b[23:])) {
						return b
					}
				}
				return nil
			}
			for off := info.BaseOffset - 3; off < info.EndOffset+3; off++ {
				i, ok := ix.ChunkFor(off)
				if off >= info.EndOffset {
					if ok {
						t.Fatalf("ChunkFor(%d) = %d past the end offset %d", off, i, info.EndOffset)
					}
					continue
				}
				if !ok {
					t.Fatalf("ChunkFor(%d) found nothing", off)
				}
				c := ix.Chunks[i]
				chunkData := obj[c.Pos : c.Pos+int64(c.Len)]
				if err := segment.VerifyChunk(c, chunkData); err != nil {
					t.Fatalf("VerifyChunk(%d): %v", i, err)
				}
				var got []byte
				if err := segment.Batches(chunkData, off, func(b []byte) bool { got = b; return false }); err != nil {
					t.Fatalf("Batches(chunk %d, %d): %v", i, off, err)
				}
				if !bytes.Equal(got, holder(off)) {
					t.Fatalf("offset %d: chunk %d gave batch at %d, want %d",
						off, i, binary.BigEndian.Uint64(got), binary.BigEndian.Uint64(holder(off)))
				}
			}

			// ChunkForTime finds the chunk of the first batch as late as ts.
			for ts := int64(900); ts <= 1200; ts += 5 {
				wantI, wantOK := -1, false
				for _, b := range batches {
					if int64(binary.BigEndian.Uint64(b[35:])) >= ts {
						i, _ := ix.ChunkFor(int64(binary.BigEndian.Uint64(b)))
						wantI, wantOK = i, true
						break
					}
				}
				if i, ok := ix.ChunkForTime(ts); ok != wantOK || (ok && i != wantI) {
					t.Fatalf("ChunkForTime(%d) = %d, %v; want %d, %v", ts, i, ok, wantI, wantOK)
				}
			}

			// All chunks together give back every batch, in order.
			var all [][]byte
			for _, c := range ix.Chunks {
				err := segment.Batches(obj[c.Pos:c.Pos+int64(c.Len)], math.MinInt64, func(b []byte) bool {
					all = append(all, b)
					return true
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if !slices.EqualFunc(all, batches, bytes.Equal) {
				t.Fatal("Batches over all chunks differs from the batches written")
			}

			vix, err := segment.Verify(obj)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if vix.Footer != ix.Footer || !slices.Equal(vix.Chunks, ix.Chunks) {
				t.Fatal("Verify and ParseIndex disagree")
			}
		})
	}
}

// TestLayout pins the stored layout of doc.go: objects are kept forever.
func TestLayout(t *testing.T) {
	b1 := makeBatch(t, batchSpec{base: 42, records: 3, payload: 10, maxTS: 900})
	b2 := makeBatch(t, batchSpec{base: 45, records: 2, payload: 0, maxTS: 800})
	obj, info := writeObject(t, [][]byte{b1, b2}, segment.WithChunkSize(1))
	be := binary.BigEndian
	n := int64(len(b1) + len(b2))
	if info.Size != n+2*48+80 || len(obj) != int(info.Size) {
		t.Fatalf("size %d, want %d", len(obj), n+2*48+80)
	}
	oi, ti, ft := obj[n:n+64], obj[n+64:n+96], obj[n+96:]
	type field struct {
		name      string
		got, want uint64
	}
	fields := []field{
		{"oi[0].base", be.Uint64(oi[0:]), 42},
		{"oi[0].last", be.Uint64(oi[8:]), 44},
		{"oi[0].pos", be.Uint64(oi[16:]), 0},
		{"oi[0].len", uint64(be.Uint32(oi[24:])), uint64(len(b1))},
		{"oi[0].crc", uint64(be.Uint32(oi[28:])), uint64(crc32.Checksum(b1, castagnoli))},
		{"oi[1].base", be.Uint64(oi[32:]), 45},
		{"oi[1].last", be.Uint64(oi[40:]), 46},
		{"oi[1].pos", be.Uint64(oi[48:]), uint64(len(b1))},
		{"oi[1].len", uint64(be.Uint32(oi[56:])), uint64(len(b2))},
		{"oi[1].crc", uint64(be.Uint32(oi[60:])), uint64(crc32.Checksum(b2, castagnoli))},
		{"ti[0].maxts", be.Uint64(ti[0:]), 900},
		{"ti[0].offset", be.Uint64(ti[8:]), 42},
		{"ti[1].maxts", be.Uint64(ti[16:]), 900},
		{"ti[1].offset", be.Uint64(ti[24:]), 45},
		{"version", uint64(be.Uint16(ft[8:])), 1},
		{"reserved", uint64(be.Uint16(ft[10:])), 0},
		{"chunks", uint64(be.Uint32(ft[12:])), 2},
		{"base", be.Uint64(ft[16:]), 42},
		{"end", be.Uint64(ft[24:]), 47},
		{"data length", be.Uint64(ft[32:]), uint64(n)},
		{"index pos", be.Uint64(ft[40:]), uint64(n)},
		{"records", be.Uint64(ft[48:]), 5},
		{"batches", be.Uint64(ft[56:]), 2},
		{"max timestamp", be.Uint64(ft[64:]), 900},
		{"index crc", uint64(be.Uint32(ft[72:])), uint64(crc32.Checksum(obj[n:n+96], castagnoli))},
		{"footer crc", uint64(be.Uint32(ft[76:])), uint64(crc32.Checksum(ft[:76], castagnoli))},
	}
	if string(ft[:8]) != "CHRNKSEG" {
		t.Errorf("magic %q", ft[:8])
	}
	for _, f := range fields {
		if f.got != f.want {
			t.Errorf("%s = %d, want %d", f.name, f.got, f.want)
		}
	}
}

// TestByteFlips flips every byte of a small object in turn: no flip may go
// unnoticed, and no chunk that verifies may differ from what was written.
func TestByteFlips(t *testing.T) {
	batches := makeBatches(t, 0, 40, 90, 150, 20, 60, 100, 30, 200)
	obj, info := writeObject(t, batches, segment.WithChunkSize(256))
	if info.Chunks < 3 {
		t.Fatalf("%d chunks, want at least 3", info.Chunks)
	}
	ix, err := segment.ParseIndex(obj[info.IndexPos:])
	if err != nil {
		t.Fatal(err)
	}
	mut := make([]byte, len(obj))
	for pos := range obj {
		for _, mask := range []byte{0x01, 0x80, 0xFF} {
			copy(mut, obj)
			mut[pos] ^= mask
			if _, err := segment.Verify(mut); !errors.Is(err, segment.ErrCorrupt) {
				t.Fatalf("byte %d ^ %#x: Verify = %v, want ErrCorrupt", pos, mask, err)
			}
			got, err := segment.ParseIndex(mut[info.IndexPos:])
			if err != nil {
				if !errors.Is(err, segment.ErrCorrupt) && !errors.Is(err, segment.ErrUnsupportedVersion) {
					t.Fatalf("byte %d ^ %#x: ParseIndex: %v", pos, mask, err)
				}
				continue
			}
			if int64(pos) >= info.IndexPos {
				t.Fatalf("byte %d ^ %#x in the tail: ParseIndex succeeded", pos, mask)
			}
			if !slices.Equal(got.Chunks, ix.Chunks) {
				t.Fatalf("byte %d ^ %#x in the data changed the index", pos, mask)
			}
			for i, c := range got.Chunks {
				data := mut[c.Pos : c.Pos+int64(c.Len)]
				err := segment.VerifyChunk(c, data)
				hit := int64(pos) >= c.Pos && int64(pos) < c.Pos+int64(c.Len)
				if hit != (err != nil) || (err != nil && !errors.Is(err, segment.ErrCorrupt)) {
					t.Fatalf("byte %d ^ %#x: VerifyChunk(%d) = %v", pos, mask, i, err)
				}
			}
		}
	}
}

func TestAppendRejects(t *testing.T) {
	good := func() []byte { return makeBatch(t, batchSpec{base: 10, records: 2, payload: 5, maxTS: 1}) }
	tests := []struct {
		name  string
		batch func() []byte
	}{
		{"empty", func() []byte { return nil }},
		{"short", func() []byte { return good()[:60] }},
		{"truncated", func() []byte { b := good(); return b[:len(b)-1] }},
		{"trailing byte", func() []byte { return append(good(), 0) }},
		{"batchLength too small", func() []byte {
			b := good()
			binary.BigEndian.PutUint32(b[8:], 48) // 61 bytes would need 49
			return b[:61]
		}},
		{"negative batchLength", func() []byte { b := good(); binary.BigEndian.PutUint32(b[8:], 0xFFFFFFFF); return b }},
		{"magic 1", func() []byte { b := good(); b[16] = 1; return b }},
		{"negative lastOffsetDelta", func() []byte { b := good(); binary.BigEndian.PutUint32(b[23:], 0xFFFFFFFF); return b }},
		{"negative recordCount", func() []byte { b := good(); binary.BigEndian.PutUint32(b[57:], 0xFFFFFFFF); return b }},
		{"negative baseOffset", func() []byte { b := good(); binary.BigEndian.PutUint64(b, 1<<63); return b }},
		{"end offset overflows", func() []byte { b := good(); binary.BigEndian.PutUint64(b, math.MaxInt64-1); return b }},
		{"gap", func() []byte { b := good(); binary.BigEndian.PutUint64(b, 13); return b }},
		{"overlap", func() []byte { b := good(); binary.BigEndian.PutUint64(b, 11); return b }},
		{"repeat", good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := segment.NewWriter(&buf)
			if err := w.Append(good()); err != nil { // offsets 10-11
				t.Fatal(err)
			}
			err := w.Append(tt.batch())
			if !errors.Is(err, segment.ErrInvalidBatch) {
				t.Fatalf("Append = %v, want ErrInvalidBatch", err)
			}
			t.Log(err)
			// The Writer is still usable, and the refused batch left no trace.
			next := makeBatch(t, batchSpec{base: 12, records: 1, payload: 3, maxTS: 2})
			if err := w.Append(next); err != nil {
				t.Fatalf("Append after a refused batch: %v", err)
			}
			info, err := w.Close()
			if err != nil {
				t.Fatal(err)
			}
			ix, err := segment.Verify(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if info.Batches != 2 || ix.EndOffset != 13 || ix.Batches != 2 {
				t.Fatalf("info %+v, footer %+v", info, ix.Footer)
			}
		})
	}
}

func TestWriterLifecycle(t *testing.T) {
	t.Run("close empty", func(t *testing.T) {
		var buf bytes.Buffer
		w := segment.NewWriter(&buf)
		if _, err := w.Close(); !errors.Is(err, segment.ErrEmpty) {
			t.Fatalf("Close = %v, want ErrEmpty", err)
		}
		if buf.Len() != 0 {
			t.Fatalf("empty writer wrote %d bytes", buf.Len())
		}
	})
	t.Run("use after close", func(t *testing.T) {
		w := segment.NewWriter(io.Discard)
		if err := w.Append(makeBatch(t, batchSpec{records: 1})); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Close(); !errors.Is(err, segment.ErrClosed) {
			t.Fatalf("second Close = %v, want ErrClosed", err)
		}
		if err := w.Append(makeBatch(t, batchSpec{base: 1, records: 1})); !errors.Is(err, segment.ErrClosed) {
			t.Fatalf("Append after Close = %v, want ErrClosed", err)
		}
	})
	t.Run("write error is sticky", func(t *testing.T) {
		boom := errors.New("boom")
		w := segment.NewWriter(failWriter{boom})
		// Bigger than the Writer's buffer, so it reaches the failWriter now.
		if err := w.Append(makeBatch(t, batchSpec{records: 1, payload: 1 << 20})); !errors.Is(err, boom) {
			t.Fatalf("Append = %v, want %v", err, boom)
		}
		if err := w.Append(makeBatch(t, batchSpec{base: 1, records: 1})); !errors.Is(err, boom) {
			t.Fatalf("second Append = %v, want %v", err, boom)
		}
		if _, err := w.Close(); !errors.Is(err, boom) {
			t.Fatalf("Close = %v, want %v", err, boom)
		}
	})
	t.Run("batch not retained", func(t *testing.T) {
		var buf bytes.Buffer
		w := segment.NewWriter(&buf, segment.WithChunkSize(1))
		b := makeBatch(t, batchSpec{records: 1, payload: 8, maxTS: 5})
		want := slices.Clone(b)
		if err := w.Append(b); err != nil {
			t.Fatal(err)
		}
		clear(b)
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes()[:len(want)], want) {
			t.Fatal("the object holds the batch as it was after Append returned")
		}
		if _, err := segment.Verify(buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	})
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// TestParseIndexRejects tampers with a valid tail and reseals its CRCs, to
// reach the consistency checks behind them.
func TestParseIndexRejects(t *testing.T) {
	batches := makeBatches(t, 5, 100, 100, 100, 100)
	obj, info := writeObject(t, batches, segment.WithChunkSize(300))
	tail := obj[info.IndexPos:]
	if info.Chunks != 2 {
		t.Fatalf("%d chunks, want 2", info.Chunks)
	}
	be := binary.BigEndian
	foot := len(tail) - segment.FooterSize
	ti := 2 * 32 // time index
	tests := []struct {
		name   string
		tamper func(b []byte) []byte
		want   error
	}{
		{"short", func(b []byte) []byte { return b[:segment.FooterSize-1] }, segment.ErrCorrupt},
		{"extra byte in front", func(b []byte) []byte { return append([]byte{0}, b...) }, segment.ErrCorrupt},
		{"missing entry", func(b []byte) []byte { return b[48:] }, segment.ErrCorrupt},
		{"magic", func(b []byte) []byte { b[foot] = 'X'; return b }, segment.ErrCorrupt},
		{"version 3", func(b []byte) []byte { be.PutUint16(b[foot+8:], 3); return b }, segment.ErrUnsupportedVersion},
		{"version 2 without aborted transactions", func(b []byte) []byte { be.PutUint16(b[foot+8:], 2); return b }, segment.ErrCorrupt},
		{"version 2 with an aborted transaction not there", func(b []byte) []byte {
			be.PutUint16(b[foot+8:], 2)
			be.PutUint16(b[foot+10:], 1)
			return b
		}, segment.ErrCorrupt},
		{"reserved", func(b []byte) []byte { b[foot+11] = 1; return b }, segment.ErrCorrupt},
		{"no chunks", func(b []byte) []byte { be.PutUint32(b[foot+12:], 0); return b }, segment.ErrCorrupt},
		{"chunk count", func(b []byte) []byte { be.PutUint32(b[foot+12:], 3); return b }, segment.ErrCorrupt},
		{"end before base", func(b []byte) []byte { be.PutUint64(b[foot+24:], 5); return b }, segment.ErrCorrupt},
		{"end offset", func(b []byte) []byte { be.PutUint64(b[foot+24:], uint64(info.EndOffset+1)); return b }, segment.ErrCorrupt},
		{"base offset", func(b []byte) []byte { be.PutUint64(b[foot+16:], 4); return b }, segment.ErrCorrupt},
		{"index pos", func(b []byte) []byte { be.PutUint64(b[foot+40:], uint64(info.IndexPos+1)); return b }, segment.ErrCorrupt},
		{"data length", func(b []byte) []byte {
			be.PutUint64(b[foot+32:], uint64(info.IndexPos+1))
			be.PutUint64(b[foot+40:], uint64(info.IndexPos+1))
			return b
		}, segment.ErrCorrupt},
		{"negative records", func(b []byte) []byte { be.PutUint64(b[foot+48:], 1<<63); return b }, segment.ErrCorrupt},
		{"too many batches", func(b []byte) []byte { be.PutUint64(b[foot+56:], 1000); return b }, segment.ErrCorrupt},
		{"max timestamp", func(b []byte) []byte { be.PutUint64(b[foot+64:], 1); return b }, segment.ErrCorrupt},
		{"chunk position", func(b []byte) []byte { be.PutUint64(b[32+16:], 0); return b }, segment.ErrCorrupt},
		{"chunk length", func(b []byte) []byte { be.PutUint32(b[24:], be.Uint32(b[24:])+1); return b }, segment.ErrCorrupt},
		{"overlapping chunks", func(b []byte) []byte {
			be.PutUint64(b[32:], be.Uint64(b[8:]))
			be.PutUint64(b[ti+16+8:], be.Uint64(b[8:]))
			return b
		}, segment.ErrCorrupt},
		{"chunk ends before it starts", func(b []byte) []byte { be.PutUint64(b[8:], 4); return b }, segment.ErrCorrupt},
		{"time index offset", func(b []byte) []byte { be.PutUint64(b[ti+8:], 6); return b }, segment.ErrCorrupt},
		{"time index decreases", func(b []byte) []byte { be.PutUint64(b[ti:], math.MaxInt64); return b }, segment.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := reseal(tt.tamper(slices.Clone(tail)))
			_, err := segment.ParseIndex(b)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseIndex = %v, want %v", err, tt.want)
			}
			t.Log(err)
		})
	}
	// The untampered, resealed tail parses: the cases above fail for what
	// they change, not for the resealing.
	if _, err := segment.ParseIndex(reseal(slices.Clone(tail))); err != nil {
		t.Fatal(err)
	}
}

func TestBatchesStops(t *testing.T) {
	batches := makeBatches(t, 0, 10, 10, 10, 10)
	chunk := bytes.Join(batches, nil)
	n := 0
	if err := segment.Batches(chunk, 0, func([]byte) bool { n++; return n < 2 }); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("fn called %d times after returning false, want 2", n)
	}
	if err := segment.Batches(chunk[:len(chunk)-1], 0, func([]byte) bool { return true }); !errors.Is(err, segment.ErrCorrupt) {
		t.Fatalf("truncated chunk: %v, want ErrCorrupt", err)
	}
	swapped := bytes.Join([][]byte{batches[1], batches[0]}, nil)
	if err := segment.Batches(swapped, 0, func([]byte) bool { return true }); !errors.Is(err, segment.ErrCorrupt) {
		t.Fatalf("batches out of order: %v, want ErrCorrupt", err)
	}
}

func TestVerifyAtShortRead(t *testing.T) {
	obj, _ := writeObject(t, makeBatches(t, 0, 10, 20))
	// The object is shorter than the size the caller claims.
	if _, err := segment.VerifyAt(bytes.NewReader(obj[:len(obj)-1]), int64(len(obj))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("VerifyAt = %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := segment.Verify(obj[1:]); !errors.Is(err, segment.ErrCorrupt) {
		t.Fatalf("Verify(object without its first byte) = %v, want ErrCorrupt", err)
	}
}

// TestGapBetweenChunks: readers accept a gap between chunks (this Writer
// never leaves one), and ChunkFor sends an offset in it to the next chunk.
func TestGapBetweenChunks(t *testing.T) {
	obj, info := writeObject(t, makeBatches(t, 0, 100, 100), segment.WithChunkSize(1)) // offsets 0, 1-2
	tail := slices.Clone(obj[info.IndexPos:])
	be := binary.BigEndian
	// Move chunk 1 (offsets 1-2) to 5-6, in both indexes and the footer.
	be.PutUint64(tail[32:], 5)
	be.PutUint64(tail[40:], 6)
	be.PutUint64(tail[64+16+8:], 5)
	be.PutUint64(tail[len(tail)-segment.FooterSize+24:], 7)
	ix, err := segment.ParseIndex(reseal(tail))
	if err != nil {
		t.Fatal(err)
	}
	checkIndex(t, ix)
	for off, want := range map[int64]int{0: 0, 1: 1, 4: 1, 5: 1, 6: 1} {
		if got, ok := ix.ChunkFor(off); !ok || got != want {
			t.Errorf("ChunkFor(%d) = %d, %v; want %d, true", off, got, ok, want)
		}
	}
}

// TestAbortedTransactions: an object that lists aborted transactions is
// version 2, with its entries between the time index and the footer; one
// without stays byte for byte version 1; bad lists are refused on writing
// and on reading.
func TestAbortedTransactions(t *testing.T) {
	batches := makeBatches(t, 10, 100, 100) // offsets 10 to 12
	aborted := []segment.AbortedTxn{
		{ProducerID: 7, FirstOffset: 2, MarkerOffset: 10},  // began before the object
		{ProducerID: 8, FirstOffset: 11, MarkerOffset: 90}, // ends after it
	}
	obj, info := writeAborted(t, batches, aborted)
	plain, pinfo := writeObject(t, batches)
	if info.Size != pinfo.Size+2*24 || !bytes.Equal(obj[:info.IndexPos], plain[:pinfo.IndexPos]) {
		t.Fatalf("object of %d bytes, want the same data and %d bytes more tail", info.Size, 2*24)
	}
	ix, err := segment.ParseIndex(obj[info.IndexPos:])
	if err != nil {
		t.Fatal(err)
	}
	checkIndex(t, ix)
	if ix.Version != segment.VersionAborted || ix.Footer.Aborted != 2 || !slices.Equal(ix.Aborted, aborted) {
		t.Fatalf("version %d, aborted %+v, want 2 and %+v", ix.Version, ix.Aborted, aborted)
	}
	be := binary.BigEndian
	entries := obj[info.Size-segment.FooterSize-48 : info.Size-segment.FooterSize]
	if be.Uint64(entries[24:]) != 8 || be.Uint64(entries[32:]) != 11 || be.Uint64(entries[40:]) != 90 {
		t.Fatalf("second entry bytes %x", entries[24:])
	}
	if v, n := be.Uint16(obj[info.Size-segment.FooterSize+8:]), be.Uint16(obj[info.Size-segment.FooterSize+10:]); v != 2 || n != 2 {
		t.Fatalf("footer version %d count %d", v, n)
	}
	vix, err := segment.Verify(obj)
	if err != nil || !slices.Equal(vix.Aborted, aborted) {
		t.Fatalf("Verify: %v, aborted %+v", err, vix)
	}
	pix, err := segment.ParseIndex(plain[pinfo.IndexPos:])
	if err != nil || pix.Version != segment.Version || pix.Aborted != nil {
		t.Fatalf("object without aborted transactions: %v, %+v", err, pix)
	}

	for _, bad := range [][]segment.AbortedTxn{
		{{ProducerID: 7, FirstOffset: 13, MarkerOffset: 20}}, // begins after the object
		{{ProducerID: 7, FirstOffset: 1, MarkerOffset: 9}},   // ended before it
		{{ProducerID: -1, FirstOffset: 1, MarkerOffset: 10}},
		{{ProducerID: 7, FirstOffset: 10, MarkerOffset: 10}},
		{aborted[1], aborted[0]}, // not in marker order
	} {
		w := segment.NewWriter(io.Discard)
		for _, b := range batches {
			if err := w.Append(b); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.CloseAborted(bad); !errors.Is(err, segment.ErrInvalidBatch) {
			t.Fatalf("CloseAborted(%+v) = %v, want ErrInvalidBatch", bad, err)
		}
		// The Writer stays usable: the object closes without them.
		if _, err := w.Close(); err != nil {
			t.Fatalf("Close after a refused list: %v", err)
		}
	}
	// Tampered entries (resealed) are caught on reading.
	tail := slices.Clone(obj[info.IndexPos:])
	at := len(tail) - segment.FooterSize - 48
	be.PutUint64(tail[at+8:], 50) // first offset past the object's end
	if _, err := segment.ParseIndex(reseal(tail)); !errors.Is(err, segment.ErrCorrupt) {
		t.Fatalf("entry outside the object: %v", err)
	}
}

package segment

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"sort"
)

// Chunk is one chunk's entry in the index: the merged offset index and time
// index entries.
type Chunk struct {
	// BaseOffset is the first offset of the chunk's first batch.
	BaseOffset int64
	// LastOffset is the last offset of the chunk's last batch.
	LastOffset int64
	// Pos is the position of the chunk's first byte in the object.
	Pos int64
	// Len is the chunk's length in bytes.
	Len int
	// CRC is the CRC-32C (Castagnoli) of the chunk's bytes.
	CRC uint32
	// MaxTimestamp is the largest batch maxTimestamp in this chunk and every
	// chunk before it, so it never decreases from one chunk to the next.
	MaxTimestamp int64
}

// Index is the parsed tail of an object: the footer, and the index entry of
// every chunk in offset order. It is immutable; any number of goroutines may
// use it at once.
type Index struct {
	Footer
	// Chunks are the chunks in offset order.
	Chunks []Chunk
	// Aborted are the aborted transactions the object lists, by marker
	// offset (version 2; none in version 1).
	Aborted []AbortedTxn
}

// AbortedTxn is an aborted transaction whose records overlap an object:
// its producer, the offset of its first batch (it may precede the
// object's base offset) and of its abort marker (it may follow the
// object's end offset), as a partition's aborted index holds them.
type AbortedTxn struct {
	ProducerID   int64
	FirstOffset  int64
	MarkerOffset int64
}

// ParseIndex parses and checks the tail of an object, everything from the
// index position to the end (Footer.IndexPos, Info.IndexPos). It verifies the
// footer and index CRCs and that the entries agree with each other and with
// the footer. Errors wrap ErrCorrupt or ErrUnsupportedVersion; ParseIndex
// does not keep tail.
func ParseIndex(tail []byte) (*Index, error) {
	f, err := ParseFooter(tail)
	if err != nil {
		return nil, err
	}
	if int64(len(tail)) != f.TailSize() {
		return nil, corruptf("tail is %d bytes, footer says %d", len(tail), f.TailSize())
	}
	idx := tail[:len(tail)-FooterSize]
	if got := crc32.Checksum(idx, castagnoli); got != f.IndexCRC {
		return nil, corruptf("index crc %#08x, footer says %#08x", got, f.IndexCRC)
	}
	n := f.ChunkCount
	offIdx, timeIdx := idx[:n*offsetEntrySize], idx[n*offsetEntrySize:n*entrySize]

	ix := &Index{Footer: f, Chunks: make([]Chunk, n)}
	var pos int64
	for i := range ix.Chunks {
		o, t := offIdx[i*offsetEntrySize:], timeIdx[i*timeEntrySize:]
		c := Chunk{
			BaseOffset:   int64(binary.BigEndian.Uint64(o)),
			LastOffset:   int64(binary.BigEndian.Uint64(o[8:])),
			CRC:          binary.BigEndian.Uint32(o[28:]),
			MaxTimestamp: int64(binary.BigEndian.Uint64(t)),
		}
		cpos, clen := binary.BigEndian.Uint64(o[16:]), uint64(binary.BigEndian.Uint32(o[24:]))
		switch {
		case cpos != uint64(pos):
			return nil, corruptf("chunk %d at position %d, want %d", i, cpos, pos)
		case clen < batchHeaderSize || clen > math.MaxInt || clen > uint64(f.DataLen-pos):
			return nil, corruptf("chunk %d is %d bytes at position %d of %d", i, clen, pos, f.DataLen)
		case c.LastOffset < c.BaseOffset:
			return nil, corruptf("chunk %d offsets [%d, %d]", i, c.BaseOffset, c.LastOffset)
		case i == 0 && c.BaseOffset != f.BaseOffset:
			return nil, corruptf("chunk 0 base offset %d, footer says %d", c.BaseOffset, f.BaseOffset)
		case i > 0 && c.BaseOffset <= ix.Chunks[i-1].LastOffset:
			return nil, corruptf("chunk %d base offset %d, not after %d", i, c.BaseOffset, ix.Chunks[i-1].LastOffset)
		case int64(binary.BigEndian.Uint64(t[8:])) != c.BaseOffset:
			return nil, corruptf("chunk %d: time index offset %d, offset index %d",
				i, int64(binary.BigEndian.Uint64(t[8:])), c.BaseOffset)
		case i > 0 && c.MaxTimestamp < ix.Chunks[i-1].MaxTimestamp:
			return nil, corruptf("chunk %d: max timestamp %d decreases from %d", i, c.MaxTimestamp, ix.Chunks[i-1].MaxTimestamp)
		}
		c.Pos, c.Len = pos, int(clen)
		pos += int64(clen)
		ix.Chunks[i] = c
	}
	last := &ix.Chunks[n-1]
	switch {
	case pos != f.DataLen:
		return nil, corruptf("chunks hold %d bytes, footer says %d", pos, f.DataLen)
	case last.LastOffset != f.EndOffset-1:
		return nil, corruptf("last chunk ends at offset %d, footer says end offset %d", last.LastOffset, f.EndOffset)
	case last.MaxTimestamp != f.MaxTimestamp:
		return nil, corruptf("time index max timestamp %d, footer says %d", last.MaxTimestamp, f.MaxTimestamp)
	}
	if f.Aborted > 0 {
		if ix.Aborted, err = parseAborted(idx[n*entrySize:], &f); err != nil {
			return nil, err
		}
	}
	return ix, nil
}

// parseAborted decodes the aborted transactions of a version 2 object and
// checks that each overlaps the object and that they are in marker order.
func parseAborted(b []byte, f *Footer) ([]AbortedTxn, error) {
	out := make([]AbortedTxn, f.Aborted)
	for i := range out {
		e := b[i*abortedEntrySize:]
		a := AbortedTxn{
			ProducerID:   int64(binary.BigEndian.Uint64(e)),
			FirstOffset:  int64(binary.BigEndian.Uint64(e[8:])),
			MarkerOffset: int64(binary.BigEndian.Uint64(e[16:])),
		}
		if err := a.check(f.BaseOffset, f.EndOffset); err != nil {
			return nil, corruptf("aborted transaction %d: %w", i, err)
		}
		if i > 0 && a.MarkerOffset <= out[i-1].MarkerOffset {
			return nil, corruptf("aborted transaction %d: marker offset %d, not after %d", i, a.MarkerOffset, out[i-1].MarkerOffset)
		}
		out[i] = a
	}
	return out, nil
}

// check reports whether a is a transaction that overlaps [base, end).
func (a AbortedTxn) check(base, end int64) error {
	switch {
	case a.ProducerID < 0 || a.FirstOffset < 0 || a.MarkerOffset <= a.FirstOffset:
		return fmt.Errorf("producer %d, offsets [%d, %d]", a.ProducerID, a.FirstOffset, a.MarkerOffset)
	case a.MarkerOffset < base || a.FirstOffset >= end:
		return fmt.Errorf("offsets [%d, %d] do not overlap [%d, %d)", a.FirstOffset, a.MarkerOffset, base, end)
	}
	return nil
}

// ChunkFor returns the index of the chunk to read for offset: the first
// chunk whose last offset is at or past it. That is the chunk holding
// offset, the first chunk for an offset below the base offset, and the next
// chunk for an offset in a gap. ok is false for an offset at or past the end
// offset.
func (ix *Index) ChunkFor(offset int64) (i int, ok bool) {
	if offset >= ix.EndOffset {
		return 0, false
	}
	return sort.Search(len(ix.Chunks), func(i int) bool { return ix.Chunks[i].LastOffset >= offset }), true
}

// ChunkForTime returns the index of the first chunk that may hold a batch
// with a timestamp at or after ts: the first whose running MaxTimestamp is
// at least ts. ok is false when no batch in the object is that late.
func (ix *Index) ChunkForTime(ts int64) (i int, ok bool) {
	i = sort.Search(len(ix.Chunks), func(i int) bool { return ix.Chunks[i].MaxTimestamp >= ts })
	return i, i < len(ix.Chunks)
}

// VerifyChunk checks that data, fetched from c.Pos, is the chunk c describes:
// its length and CRC. Errors wrap ErrCorrupt.
func VerifyChunk(c Chunk, data []byte) error {
	if len(data) != c.Len {
		return corruptf("chunk at %d: %d bytes, index says %d", c.Pos, len(data), c.Len)
	}
	if got := crc32.Checksum(data, castagnoli); got != c.CRC {
		return corruptf("chunk at %d: crc %#08x, index says %#08x", c.Pos, got, c.CRC)
	}
	return nil
}

// Batches calls fn, in order, with each batch in chunk (a chunk's bytes,
// verified with VerifyChunk) whose last offset is from or later, until fn
// returns false. The batch slices alias chunk and have no spare capacity.
// Batches checks the framing as it goes, and returns an error wrapping
// ErrCorrupt at the first batch that is truncated, malformed, or does not
// start after the one before it; fn has seen the batches before that.
func Batches(chunk []byte, from int64, fn func(batch []byte) bool) error {
	prevLast := int64(-1)
	for pos := 0; pos < len(chunk); {
		h, err := readBatchHeader(chunk[pos:])
		if err != nil {
			return corruptf("batch at chunk byte %d: %w", pos, err)
		}
		if h.base <= prevLast {
			return corruptf("batch at chunk byte %d: base offset %d, not after %d", pos, h.base, prevLast)
		}
		prevLast = h.last
		b := chunk[pos : pos+h.size : pos+h.size]
		pos += h.size
		if h.last >= from && !fn(b) {
			return nil
		}
	}
	return nil
}

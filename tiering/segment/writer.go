package segment

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// DefaultChunkSize is the chunk size of a Writer made without WithChunkSize.
const DefaultChunkSize = 256 << 10

// maxChunkLen is the largest chunk the index can describe.
const maxChunkLen = math.MaxUint32

// Option configures a Writer.
type Option func(*Writer)

// WithChunkSize sets the size at which the Writer closes a chunk: at the end
// of the first batch that takes the chunk to n bytes or more. Readers fetch
// and verify a chunk at a time, so n trades request count against read
// amplification. n ≤ 0 selects DefaultChunkSize.
func WithChunkSize(n int) Option {
	return func(w *Writer) {
		if n <= 0 {
			n = DefaultChunkSize
		}
		w.chunkSize = n
	}
}

// Info describes an object a Writer wrote.
type Info struct {
	// BaseOffset is the first offset of the first batch.
	BaseOffset int64
	// EndOffset is the last offset of the last batch, plus one.
	EndOffset int64
	// Size is the size of the object in bytes.
	Size int64
	// IndexPos is where the offset index starts; Size-IndexPos bytes from
	// there are the tail ParseIndex reads.
	IndexPos int64
	// DataLen is the length of the data, all chunks together (= IndexPos).
	DataLen int64
	// Chunks is the number of chunks.
	Chunks int
	// Batches is the number of batches.
	Batches int
	// Records is the sum of the batches' record counts.
	Records int64
	// MaxTimestamp is the largest batch maxTimestamp.
	MaxTimestamp int64
}

// Writer streams one object: the batches straight through to the underlying
// writer, then, on Close, both indexes and the footer. It keeps only the
// index entries in memory. A Writer is not safe for concurrent use.
type Writer struct {
	bw        *bufio.Writer
	chunkSize int

	chunks  []Chunk // closed chunks
	cur     Chunk   // the open chunk; Len 0 when there is none
	pos     int64   // bytes written
	base    int64
	next    int64 // offset the next batch must start at
	batches int
	records int64
	maxTS   int64

	err    error // sticky: the first write error
	closed bool
}

// NewWriter returns a Writer that writes an object to w. The Writer buffers;
// w sees all of the object only once Close returns.
func NewWriter(w io.Writer, opts ...Option) *Writer {
	sw := &Writer{chunkSize: DefaultChunkSize}
	for _, o := range opts {
		o(sw)
	}
	sw.bw = bufio.NewWriterSize(w, 64<<10)
	return sw
}

// Append writes one RecordBatch v2 batch. The batch must start at the offset
// after the last one of the batch before it (the first batch sets the base
// offset); its bytes are written as they are, and Append does not keep batch
// after it returns. Errors for a batch that is malformed or out of order wrap
// ErrInvalidBatch and leave the Writer usable; a write error is returned by
// every later call.
func (w *Writer) Append(batch []byte) error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	h, err := readBatchHeader(batch)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidBatch, err)
	}
	if h.size != len(batch) {
		return fmt.Errorf("%w: batchLength says %d bytes, batch has %d", ErrInvalidBatch, h.size, len(batch))
	}
	if w.batches > 0 && h.base != w.next {
		return fmt.Errorf("%w: baseOffset %d, want %d (contiguous with the previous batch)", ErrInvalidBatch, h.base, w.next)
	}

	if w.cur.Len > 0 && (w.cur.Len >= w.chunkSize || uint64(w.cur.Len)+uint64(len(batch)) > maxChunkLen) {
		w.closeChunk()
	}
	if _, err := w.bw.Write(batch); err != nil {
		w.err = fmt.Errorf("segment: write: %w", err)
		return w.err
	}
	if w.batches == 0 {
		w.base, w.maxTS = h.base, h.maxTimestamp
	}
	if w.cur.Len == 0 {
		w.cur = Chunk{BaseOffset: h.base, Pos: w.pos}
	}
	w.maxTS = max(w.maxTS, h.maxTimestamp)
	w.cur.LastOffset = h.last
	w.cur.Len += len(batch)
	w.cur.CRC = crc32.Update(w.cur.CRC, castagnoli, batch)
	w.cur.MaxTimestamp = w.maxTS
	w.pos += int64(len(batch))
	w.next = h.last + 1
	w.batches++
	w.records += int64(h.records)
	return nil
}

func (w *Writer) closeChunk() {
	w.chunks = append(w.chunks, w.cur)
	w.cur = Chunk{}
}

// Offsets returns the base offset and the end offset (last offset + 1) of
// the batches appended so far; both are 0 before the first.
func (w *Writer) Offsets() (base, end int64) { return w.base, w.next }

// Close writes both indexes and the footer, flushes, and describes the
// object. It fails with ErrEmpty if no batch was appended. Close does not
// close the underlying writer; the Writer cannot be used after it.
func (w *Writer) Close() (Info, error) { return w.CloseAborted(nil) }

// CloseAborted is Close for an object that lists aborted transactions
// (format version 2 when there are any): those of the partition's aborted
// index that overlap the object, by marker offset, at most MaxAborted.
// Errors for a list that does not fit wrap ErrInvalidBatch.
func (w *Writer) CloseAborted(aborted []AbortedTxn) (Info, error) {
	if w.closed {
		return Info{}, ErrClosed
	}
	if w.err != nil {
		w.closed = true
		return Info{}, w.err
	}
	if w.batches == 0 {
		w.closed = true
		return Info{}, ErrEmpty
	}
	if len(aborted) > MaxAborted {
		return Info{}, fmt.Errorf("%w: %d aborted transactions, an object lists at most %d", ErrInvalidBatch, len(aborted), MaxAborted)
	}
	for i, a := range aborted {
		if err := a.check(w.base, w.next); err != nil {
			return Info{}, fmt.Errorf("%w: aborted transaction %d: %w", ErrInvalidBatch, i, err)
		}
		if i > 0 && a.MarkerOffset <= aborted[i-1].MarkerOffset {
			return Info{}, fmt.Errorf("%w: aborted transactions not in marker order", ErrInvalidBatch)
		}
	}
	w.closed = true
	w.closeChunk()
	if uint64(len(w.chunks)) > math.MaxUint32 {
		return Info{}, fmt.Errorf("segment: %d chunks, the format holds at most %d", len(w.chunks), uint32(math.MaxUint32))
	}

	f := Footer{
		Version:      Version,
		Aborted:      len(aborted),
		BaseOffset:   w.base,
		EndOffset:    w.next,
		DataLen:      w.pos,
		IndexPos:     w.pos,
		ChunkCount:   len(w.chunks),
		Records:      w.records,
		Batches:      int64(w.batches),
		MaxTimestamp: w.maxTS,
	}
	tail := make([]byte, 0, f.TailSize())
	for i := range w.chunks {
		c := &w.chunks[i]
		tail = binary.BigEndian.AppendUint64(tail, uint64(c.BaseOffset))
		tail = binary.BigEndian.AppendUint64(tail, uint64(c.LastOffset))
		tail = binary.BigEndian.AppendUint64(tail, uint64(c.Pos))
		tail = binary.BigEndian.AppendUint32(tail, uint32(c.Len))
		tail = binary.BigEndian.AppendUint32(tail, c.CRC)
	}
	for i := range w.chunks {
		c := &w.chunks[i]
		tail = binary.BigEndian.AppendUint64(tail, uint64(c.MaxTimestamp))
		tail = binary.BigEndian.AppendUint64(tail, uint64(c.BaseOffset))
	}
	if len(aborted) > 0 {
		f.Version = VersionAborted
		for _, a := range aborted {
			tail = binary.BigEndian.AppendUint64(tail, uint64(a.ProducerID))
			tail = binary.BigEndian.AppendUint64(tail, uint64(a.FirstOffset))
			tail = binary.BigEndian.AppendUint64(tail, uint64(a.MarkerOffset))
		}
	}
	f.IndexCRC = crc32.Checksum(tail, castagnoli)
	tail = appendFooter(tail, &f)

	if _, err := w.bw.Write(tail); err != nil {
		return Info{}, fmt.Errorf("segment: write index: %w", err)
	}
	if err := w.bw.Flush(); err != nil {
		return Info{}, fmt.Errorf("segment: flush: %w", err)
	}
	return Info{
		BaseOffset:   f.BaseOffset,
		EndOffset:    f.EndOffset,
		Size:         w.pos + int64(len(tail)),
		IndexPos:     f.IndexPos,
		DataLen:      f.DataLen,
		Chunks:       f.ChunkCount,
		Batches:      w.batches,
		Records:      f.Records,
		MaxTimestamp: f.MaxTimestamp,
	}, nil
}

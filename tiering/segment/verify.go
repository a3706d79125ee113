package segment

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
)

// Verify checks a whole object held in memory; see VerifyAt.
func Verify(obj []byte) (*Index, error) {
	return VerifyAt(bytes.NewReader(obj), int64(len(obj)))
}

// VerifyAt reads the object of the given size from r and checks all of it:
// the footer and index as ParseIndex does, every chunk's length and CRC, and
// that the batches in each chunk frame it exactly and agree with its index
// entry and with the footer's batch count, record count and timestamps. It
// is for tools and tests; readers on the fetch path verify only the chunks
// they read. Errors from r are returned as they are, wrapped; every other
// error wraps ErrCorrupt or ErrUnsupportedVersion.
func VerifyAt(r io.ReaderAt, size int64) (*Index, error) {
	if size < FooterSize {
		return nil, corruptf("object is %d bytes, shorter than a footer", size)
	}
	buf := make([]byte, FooterSize)
	if err := readAt(r, buf, size-FooterSize); err != nil {
		return nil, err
	}
	f, err := ParseFooter(buf)
	if err != nil {
		return nil, err
	}
	if f.IndexPos+f.TailSize() != size {
		return nil, corruptf("object is %d bytes, footer says %d", size, f.IndexPos+f.TailSize())
	}
	buf = make([]byte, f.TailSize())
	if err := readAt(r, buf, f.IndexPos); err != nil {
		return nil, err
	}
	ix, err := ParseIndex(buf)
	if err != nil {
		return nil, err
	}

	var (
		batches, records int64
		maxTS            int64
	)
	for i, c := range ix.Chunks {
		if cap(buf) < c.Len {
			buf = make([]byte, c.Len)
		}
		data := buf[:c.Len]
		if err := readAt(r, data, c.Pos); err != nil {
			return nil, err
		}
		if err := VerifyChunk(c, data); err != nil {
			return nil, err
		}
		first, last := int64(-1), int64(-1)
		var bad error
		err := Batches(data, math.MinInt64, func(b []byte) bool {
			h, err := readBatchHeader(b)
			if err != nil { // Batches has read it already
				bad = err
				return false
			}
			if first < 0 {
				first = h.base
			}
			if batches == 0 {
				maxTS = h.maxTimestamp
			}
			last = h.last
			maxTS = max(maxTS, h.maxTimestamp)
			batches++
			records += int64(h.records)
			return true
		})
		switch {
		case err != nil:
			return nil, fmt.Errorf("chunk %d: %w", i, err)
		case bad != nil:
			return nil, corruptf("chunk %d: %w", i, bad)
		case first != c.BaseOffset || last != c.LastOffset:
			return nil, corruptf("chunk %d holds offsets [%d, %d], index says [%d, %d]",
				i, first, last, c.BaseOffset, c.LastOffset)
		case maxTS != c.MaxTimestamp:
			return nil, corruptf("chunk %d: max timestamp %d, index says %d", i, maxTS, c.MaxTimestamp)
		}
	}
	if batches != ix.Batches || records != ix.Records {
		return nil, corruptf("object holds %d batches of %d records, footer says %d of %d",
			batches, records, ix.Batches, ix.Records)
	}
	return ix, nil
}

func readAt(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil // a ReaderAt may report io.EOF with the last byte
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("segment: read %d bytes at %d: %w", len(p), off, err)
}

package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// Sentinel errors. Every error from reading an object that does not hold
// together wraps ErrCorrupt, every batch Writer.Append refuses wraps
// ErrInvalidBatch.
var (
	ErrCorrupt            = errors.New("segment: corrupt object")
	ErrUnsupportedVersion = errors.New("segment: unsupported format version")
	ErrInvalidBatch       = errors.New("segment: invalid record batch")
	ErrEmpty              = errors.New("segment: no batches appended")
	ErrClosed             = errors.New("segment: writer is closed")
)

// Format constants; doc.go describes the layout they belong to.
const (
	// Version is the format version of objects without aborted
	// transactions: this package writes it for them, as every release did.
	Version = 1
	// VersionAborted is the format version of objects that list aborted
	// transactions (doc.go). ParseFooter accepts both.
	VersionAborted = 2
	// FooterSize is the size of the footer that ends every object.
	FooterSize = 80
	// MaxAborted is the most aborted transactions one object lists (the
	// footer's count is a uint16).
	MaxAborted = math.MaxUint16

	magic            = "CHRNKSEG"
	offsetEntrySize  = 32
	timeEntrySize    = 16
	entrySize        = offsetEntrySize + timeEntrySize
	abortedEntrySize = 24
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// TailSize is the size of everything from the index position to the end of
// an object of n chunks without aborted transactions: both indexes and the
// footer.
func TailSize(n int) int64 { return int64(n)*entrySize + FooterSize }

// Footer is the decoded footer of an object.
type Footer struct {
	// Version is the format version: Version, or VersionAborted when the
	// object lists aborted transactions.
	Version uint16
	// BaseOffset is the first offset of the first batch.
	BaseOffset int64
	// EndOffset is the last offset of the last batch, plus one.
	EndOffset int64
	// DataLen is the length of the data, all chunks together.
	DataLen int64
	// IndexPos is where the offset index starts; always DataLen.
	IndexPos int64
	// ChunkCount is the number of chunks, at least one.
	ChunkCount int
	// Records is the sum of the batches' record counts.
	Records int64
	// Batches is the number of batches.
	Batches int64
	// MaxTimestamp is the largest batch maxTimestamp.
	MaxTimestamp int64
	// Aborted is how many aborted transactions the object lists (0 in
	// version 1).
	Aborted int
	// IndexCRC is the CRC-32C of the offset index, the time index and the
	// aborted transactions.
	IndexCRC uint32
}

// TailSize is the size of everything from f.IndexPos to the end of the
// object, the byte range ParseIndex wants.
func (f *Footer) TailSize() int64 {
	return TailSize(f.ChunkCount) + int64(f.Aborted)*abortedEntrySize
}

// ParseFooter decodes and checks the footer in the last FooterSize bytes of
// b (b may be the footer alone, the tail, or the whole object). Errors wrap
// ErrCorrupt or ErrUnsupportedVersion.
func ParseFooter(b []byte) (Footer, error) {
	if len(b) < FooterSize {
		return Footer{}, corruptf("footer: %d bytes, want %d", len(b), FooterSize)
	}
	b = b[len(b)-FooterSize:]
	if string(b[:8]) != magic {
		return Footer{}, corruptf("footer: bad magic %q", b[:8])
	}
	if got, want := crc32.Checksum(b[:76], castagnoli), binary.BigEndian.Uint32(b[76:]); got != want {
		return Footer{}, corruptf("footer: crc %#08x, footer says %#08x", got, want)
	}
	f := Footer{Version: binary.BigEndian.Uint16(b[8:])}
	switch f.Version {
	case Version:
		if r := binary.BigEndian.Uint16(b[10:]); r != 0 {
			return Footer{}, corruptf("footer: reserved field is %#04x, want 0", r)
		}
	case VersionAborted:
		if f.Aborted = int(binary.BigEndian.Uint16(b[10:])); f.Aborted == 0 {
			return Footer{}, corruptf("footer: version %d lists no aborted transaction", f.Version)
		}
	default:
		return Footer{}, fmt.Errorf("%w %d (this reader knows %d and %d)", ErrUnsupportedVersion, f.Version, Version, VersionAborted)
	}
	chunks := uint64(binary.BigEndian.Uint32(b[12:]))
	dataLen := binary.BigEndian.Uint64(b[32:])
	indexPos := binary.BigEndian.Uint64(b[40:])
	batches := binary.BigEndian.Uint64(b[56:])
	f.BaseOffset = int64(binary.BigEndian.Uint64(b[16:]))
	f.EndOffset = int64(binary.BigEndian.Uint64(b[24:]))
	f.Records = int64(binary.BigEndian.Uint64(b[48:]))
	f.MaxTimestamp = int64(binary.BigEndian.Uint64(b[64:]))
	f.IndexCRC = binary.BigEndian.Uint32(b[72:])

	// Every chunk holds a batch, every batch at least one offset and
	// batchHeaderSize bytes; these bounds also keep the conversions below and
	// IndexPos+TailSize from overflowing.
	switch {
	case chunks == 0 || chunks > math.MaxInt:
		return Footer{}, corruptf("footer: chunk count %d", chunks)
	case f.BaseOffset < 0 || f.EndOffset <= f.BaseOffset:
		return Footer{}, corruptf("footer: offsets [%d, %d)", f.BaseOffset, f.EndOffset)
	case indexPos != dataLen:
		return Footer{}, corruptf("footer: index position %d, data length %d", indexPos, dataLen)
	case dataLen > math.MaxInt64-uint64(TailSize(int(chunks))+int64(f.Aborted)*abortedEntrySize):
		return Footer{}, corruptf("footer: data length %d", dataLen)
	case batches < chunks || batches > dataLen/batchHeaderSize || batches > uint64(f.EndOffset-f.BaseOffset):
		return Footer{}, corruptf("footer: %d batches in %d chunks, %d bytes, offsets [%d, %d)",
			batches, chunks, dataLen, f.BaseOffset, f.EndOffset)
	case f.Records < 0:
		return Footer{}, corruptf("footer: record count %d", f.Records)
	}
	f.ChunkCount = int(chunks)
	f.DataLen = int64(dataLen)
	f.IndexPos = int64(indexPos)
	f.Batches = int64(batches)
	return f, nil
}

// appendFooter appends f's encoding to dst; the chunk count must fit a
// uint32 (the Writer checks).
func appendFooter(dst []byte, f *Footer) []byte {
	start := len(dst)
	dst = append(dst, magic...)
	dst = binary.BigEndian.AppendUint16(dst, f.Version)
	dst = binary.BigEndian.AppendUint16(dst, uint16(f.Aborted))
	dst = binary.BigEndian.AppendUint32(dst, uint32(f.ChunkCount))
	dst = binary.BigEndian.AppendUint64(dst, uint64(f.BaseOffset))
	dst = binary.BigEndian.AppendUint64(dst, uint64(f.EndOffset))
	dst = binary.BigEndian.AppendUint64(dst, uint64(f.DataLen))
	dst = binary.BigEndian.AppendUint64(dst, uint64(f.IndexPos))
	dst = binary.BigEndian.AppendUint64(dst, uint64(f.Records))
	dst = binary.BigEndian.AppendUint64(dst, uint64(f.Batches))
	dst = binary.BigEndian.AppendUint64(dst, uint64(f.MaxTimestamp))
	dst = binary.BigEndian.AppendUint32(dst, f.IndexCRC)
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// The fields of the RecordBatch v2 header this package reads.
const (
	batchHeaderSize     = 61
	batchLengthOverhead = 12 // baseOffset and batchLength precede what batchLength counts
	batchMagic          = 2

	offBatchLength     = 8
	offMagic           = 16
	offLastOffsetDelta = 23
	offMaxTimestamp    = 35
	offRecordCount     = 57
)

// batchHeader is what the format needs from a batch's header.
type batchHeader struct {
	base, last   int64
	maxTimestamp int64
	records      int32
	size         int // of the whole batch
}

// readBatchHeader decodes the header of the batch at the start of b and
// checks that it is a well-formed v2 batch that fits in b. Its errors wrap
// no sentinel; callers add theirs.
func readBatchHeader(b []byte) (batchHeader, error) {
	if len(b) < batchHeaderSize {
		return batchHeader{}, fmt.Errorf("%d bytes, shorter than a batch header (%d)", len(b), batchHeaderSize)
	}
	bl := int32(binary.BigEndian.Uint32(b[offBatchLength:]))
	if bl < batchHeaderSize-batchLengthOverhead || int64(bl)+batchLengthOverhead > int64(len(b)) {
		return batchHeader{}, fmt.Errorf("batchLength %d does not fit %d bytes", bl, len(b))
	}
	if m := int8(b[offMagic]); m != batchMagic {
		return batchHeader{}, fmt.Errorf("magic %d, want %d", m, batchMagic)
	}
	h := batchHeader{
		base:         int64(binary.BigEndian.Uint64(b)),
		maxTimestamp: int64(binary.BigEndian.Uint64(b[offMaxTimestamp:])),
		records:      int32(binary.BigEndian.Uint32(b[offRecordCount:])),
		size:         int(bl) + batchLengthOverhead,
	}
	delta := int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:]))
	switch {
	case h.base < 0:
		return batchHeader{}, fmt.Errorf("baseOffset %d", h.base)
	case delta < 0 || h.base >= math.MaxInt64-int64(delta):
		// The end offset, last+1, must fit an int64 too.
		return batchHeader{}, fmt.Errorf("lastOffsetDelta %d at baseOffset %d", delta, h.base)
	case h.records < 0:
		return batchHeader{}, fmt.Errorf("recordCount %d", h.records)
	}
	h.last = h.base + int64(delta)
	return h, nil
}

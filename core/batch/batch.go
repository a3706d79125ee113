package batch

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// HeaderSize is the size of a v2 batch header: everything before the first
// record.
const HeaderSize = 61

const (
	// logOverhead is baseOffset + batchLength: the bytes batchLength does not
	// count.
	logOverhead = 12
	// minLength is the smallest valid batchLength: a header with no records.
	minLength = HeaderSize - logOverhead
	// magicOffset is where the magic byte sits in every message format
	// (v0, v1 and v2), so an old-format message set can be recognized.
	magicOffset = 16
	crcOffset   = 17
	// crcStart is the first byte the CRC covers (attributes).
	crcStart = 21
)

const (
	attrCodecMask     = 0x07
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20
)

// noSequence is the baseSequence of a batch from a non-idempotent producer.
const noSequence = -1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Codec is the compression codec of a batch (attributes bits 0-2).
type Codec int8

// Codecs defined by Kafka. Values 5-7 are invalid.
const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLZ4    Codec = 3
	CodecZstd   Codec = 4
)

func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

// TimestampType says where record timestamps come from (attributes bit 3).
type TimestampType int8

// Timestamp types.
const (
	// CreateTime: each record carries the producer's timestamp.
	CreateTime TimestampType = 0
	// LogAppendTime: every record's timestamp is the batch's MaxTimestamp,
	// set by the broker.
	LogAppendTime TimestampType = 1
)

func (t TimestampType) String() string {
	if t == LogAppendTime {
		return "LogAppendTime"
	}
	return "CreateTime"
}

// Header is the decoded header of a v2 record batch.
type Header struct {
	BaseOffset           int64
	Length               int32 // batchLength: bytes following this field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Compression returns the codec from attributes bits 0-2.
func (h Header) Compression() Codec { return Codec(h.Attributes & attrCodecMask) }

// IsTransactional reports whether the batch belongs to a transaction.
func (h Header) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

// IsControl reports whether the batch holds control records (transaction
// markers).
func (h Header) IsControl() bool { return h.Attributes&attrControl != 0 }

// TimestampType returns the batch's timestamp type from attributes bit 3.
func (h Header) TimestampType() TimestampType {
	if h.Attributes&attrLogAppendTime != 0 {
		return LogAppendTime
	}
	return CreateTime
}

// LastOffset is the offset of the batch's last record relative to whatever
// BaseOffset holds: 0-based as a producer sends it, absolute once
// SetBaseOffset has run.
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Size is the batch's size on the wire: batchLength plus the 12 bytes of
// baseOffset and batchLength.
func (h Header) Size() int { return logOverhead + int(h.Length) }

// LastSequence is the sequence number of the batch's last record, or -1 for
// a non-idempotent batch. Sequences wrap from MaxInt32 to 0, as in Kafka.
func (h Header) LastSequence() int32 {
	if h.BaseSequence == noSequence {
		return noSequence
	}
	if h.BaseSequence > math.MaxInt32-h.LastOffsetDelta {
		return h.LastOffsetDelta - (math.MaxInt32 - h.BaseSequence) - 1
	}
	return h.BaseSequence + h.LastOffsetDelta
}

// ParseHeader decodes the header at the start of b without checking the CRC
// or that b holds the whole batch. It fails on old message formats (magic
// 0 or 1), on fewer than HeaderSize bytes and on a batchLength too small to
// hold the header.
func ParseHeader(b []byte) (Header, error) {
	if len(b) <= magicOffset {
		return Header{}, fmt.Errorf("%w: %d bytes is shorter than the %d-byte batch header", ErrInvalid, len(b), HeaderSize)
	}
	if b[magicOffset] != 2 {
		return Header{}, fmt.Errorf("%w: magic %d", ErrUnsupportedMagic, int8(b[magicOffset]))
	}
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes is shorter than the %d-byte batch header", ErrInvalid, len(b), HeaderSize)
	}
	h := Header{
		BaseOffset:           int64(binary.BigEndian.Uint64(b[0:])),
		Length:               int32(binary.BigEndian.Uint32(b[8:])),
		PartitionLeaderEpoch: int32(binary.BigEndian.Uint32(b[12:])),
		Magic:                int8(b[16]),
		CRC:                  binary.BigEndian.Uint32(b[17:]),
		Attributes:           int16(binary.BigEndian.Uint16(b[21:])),
		LastOffsetDelta:      int32(binary.BigEndian.Uint32(b[23:])),
		FirstTimestamp:       int64(binary.BigEndian.Uint64(b[27:])),
		MaxTimestamp:         int64(binary.BigEndian.Uint64(b[35:])),
		ProducerID:           int64(binary.BigEndian.Uint64(b[43:])),
		ProducerEpoch:        int16(binary.BigEndian.Uint16(b[51:])),
		BaseSequence:         int32(binary.BigEndian.Uint32(b[53:])),
		NumRecords:           int32(binary.BigEndian.Uint32(b[57:])),
	}
	if h.Length < minLength {
		return Header{}, fmt.Errorf("%w: batchLength %d is smaller than the %d-byte header", ErrInvalid, h.Length, minLength)
	}
	return h, nil
}

// Validate checks that b is exactly one well-formed v2 record batch, as the
// produce path must before proposing it:
//
//   - magic is 2 (ErrUnsupportedMagic, also for v0/v1 message sets);
//   - the header is complete and batchLength matches len(b) (ErrInvalid);
//   - the batch is at most maxBatchBytes, when maxBatchBytes > 0 (ErrTooLarge);
//   - the CRC-32C over attributes..end matches (ErrCorrupt);
//   - the record count is not negative, lastOffsetDelta is count-1 (or, for
//     an empty batch, not negative), the codec is known, and for
//     uncompressed batches every record parses and the records fill the
//     batch exactly (ErrInvalid).
//
// Compressed records are not inspected: produce never decompresses.
// Validate does not allocate unless it fails.
func Validate(b []byte, maxBatchBytes int) (Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return Header{}, err
	}
	if size := int64(h.Length) + logOverhead; size != int64(len(b)) {
		return Header{}, fmt.Errorf("%w: batchLength says %d bytes, have %d", ErrInvalid, size, len(b))
	}
	if maxBatchBytes > 0 && len(b) > maxBatchBytes {
		return Header{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), maxBatchBytes)
	}
	if sum := crc32.Checksum(b[crcStart:], castagnoli); sum != h.CRC {
		return Header{}, fmt.Errorf("%w: header says %#08x, computed %#08x", ErrCorrupt, h.CRC, sum)
	}
	if err := checkCounts(h); err != nil {
		return Header{}, err
	}
	switch c := h.Compression(); {
	case c == CodecNone:
		if err := walkRecords(h, b[HeaderSize:], nil); err != nil {
			return Header{}, err
		}
	case c > CodecZstd:
		return Header{}, fmt.Errorf("%w: unknown compression codec %d", ErrInvalid, c)
	}
	return h, nil
}

// checkCounts checks the record count against lastOffsetDelta for a batch
// a producer sent: its records have consecutive offsets, so lastOffsetDelta
// is count-1, as Kafka's produce validation demands.
func checkCounts(h Header) error {
	if err := checkStoredCounts(h); err != nil {
		return err
	}
	if h.NumRecords > 0 && h.LastOffsetDelta != h.NumRecords-1 {
		return fmt.Errorf("%w: %d records but lastOffsetDelta %d", ErrInvalid, h.NumRecords, h.LastOffsetDelta)
	}
	return nil
}

// checkStoredCounts is checkCounts for a batch read from the log, where
// compaction (Filter) may have removed records but kept lastOffsetDelta: a
// batch may hold fewer records than the offsets it spans, never more. An
// empty batch (Kafka writes them when compaction removes every record but
// the producer state must survive) must still cover at least one offset,
// so that batches never share a base offset.
func checkStoredCounts(h Header) error {
	switch {
	case h.NumRecords < 0:
		return fmt.Errorf("%w: negative record count %d", ErrInvalid, h.NumRecords)
	case h.NumRecords == 0 && h.LastOffsetDelta < 0:
		return fmt.Errorf("%w: empty batch with negative lastOffsetDelta %d", ErrInvalid, h.LastOffsetDelta)
	case h.NumRecords > 0 && h.LastOffsetDelta < h.NumRecords-1:
		return fmt.Errorf("%w: %d records but lastOffsetDelta %d", ErrInvalid, h.NumRecords, h.LastOffsetDelta)
	}
	return nil
}

// Split calls fn for each batch in records, the concatenated batches of one
// partition of a Produce request, after validating it with Validate. Each
// batch slice aliases records. Empty records and a trailing partial batch
// are ErrInvalid. Split stops at the first error, from validation or from
// fn, and returns it. It does not allocate unless it fails.
//
// Kafka itself accepts exactly one batch per partition from Produce v3 on;
// enforcing that is the caller's choice.
func Split(records []byte, maxBatchBytes int, fn func(batch []byte, h Header) error) error {
	if len(records) == 0 {
		return fmt.Errorf("%w: no record batch", ErrInvalid)
	}
	for pos := 0; pos < len(records); {
		rest := records[pos:]
		if len(rest) <= magicOffset {
			return fmt.Errorf("%w: %d trailing bytes at position %d are not a batch", ErrInvalid, len(rest), pos)
		}
		if rest[magicOffset] != 2 {
			return fmt.Errorf("%w: magic %d at position %d", ErrUnsupportedMagic, int8(rest[magicOffset]), pos)
		}
		length := int32(binary.BigEndian.Uint32(rest[8:]))
		if length < minLength {
			return fmt.Errorf("%w: batchLength %d at position %d is smaller than the %d-byte header", ErrInvalid, length, pos, minLength)
		}
		size := int64(length) + logOverhead
		if maxBatchBytes > 0 && size > int64(maxBatchBytes) {
			return fmt.Errorf("%w: batch at position %d has %d bytes, limit %d", ErrTooLarge, pos, size, maxBatchBytes)
		}
		if size > int64(len(rest)) {
			return fmt.Errorf("%w: batch at position %d needs %d bytes, only %d left", ErrInvalid, pos, size, len(rest))
		}
		b := rest[:size:size]
		h, err := Validate(b, maxBatchBytes)
		if err != nil {
			return err
		}
		if err := fn(b, h); err != nil {
			return err
		}
		pos += int(size)
	}
	return nil
}

// SetBaseOffset rewrites the batch's baseOffset (bytes 0-8) in place. The
// CRC does not cover it. b must hold at least the batch header.
func SetBaseOffset(b []byte, off int64) {
	binary.BigEndian.PutUint64(b[0:8], uint64(off))
}

// SetPartitionLeaderEpoch rewrites the batch's partitionLeaderEpoch (bytes
// 12-16) in place. The CRC does not cover it. b must hold at least the
// batch header.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[12:16], uint32(epoch))
}

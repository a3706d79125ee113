package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Record is one record of a batch. Key, Value and Headers alias memory that
// is only valid until the callback given the Record returns: the batch
// itself, or a pooled decompression buffer. Copy them to keep them.
type Record struct {
	Attributes     int8
	TimestampDelta int64
	OffsetDelta    int32
	// Offset is the batch's BaseOffset plus OffsetDelta.
	Offset int64
	// Timestamp is FirstTimestamp plus TimestampDelta, or the batch's
	// MaxTimestamp when the batch uses LogAppendTime.
	Timestamp int64
	Key       []byte // nil for a null key
	Value     []byte // nil for a null value
	// NumHeaders is the number of record headers; Headers holds their
	// encoding (varint-framed key and value per header, the count excluded).
	NumHeaders int
	Headers    []byte
}

// errStop ends an iteration early without reporting an error.
var errStop = errors.New("batch: stop iteration")

// Records calls fn for each record of the batch b, decompressing the records
// when the batch is compressed. b must be exactly one v2 batch; its CRC is
// not checked (stored batches were validated on produce). b may hold fewer
// records than its offset range, as Filter leaves a compacted batch.
// Records stops at the first error from fn and returns it. A decompressed
// size over MaxDecompressedBytes is ErrTooLarge; a record count that does
// not match the header, a malformed record or undecodable compressed data
// is ErrInvalid.
func Records(b []byte, fn func(r Record) error) error {
	h, err := parseOne(b)
	if err != nil {
		return err
	}
	each := func(r Record, _ []byte) error { return fn(r) }
	codec := h.Compression()
	if codec == CodecNone {
		return walkRecords(h, b[HeaderSize:], each)
	}
	buf := getBuffer()
	defer putBuffer(buf)
	data, err := decompress(codec, b[HeaderSize:], (*buf)[:0])
	if err != nil {
		return err
	}
	*buf = data
	return walkRecords(h, data, each)
}

// FirstAtOrAfter returns the absolute offset (BaseOffset+offsetDelta) and the
// timestamp of the first record of batch b whose timestamp is at least ts,
// as ListOffsets by timestamp needs. ok is false when no record qualifies.
// With LogAppendTime every record's timestamp is MaxTimestamp, so the batch
// is only decompressed when it qualifies. With CreateTime the records are
// always examined, because MaxTimestamp is the producer's claim; callers
// that trust it can skip a batch whose MaxTimestamp < ts without calling
// FirstAtOrAfter.
func FirstAtOrAfter(b []byte, ts int64) (offset int64, timestamp int64, ok bool, err error) {
	h, err := parseOne(b)
	if err != nil {
		return 0, 0, false, err
	}
	if h.TimestampType() == LogAppendTime && h.MaxTimestamp < ts {
		return 0, 0, false, nil
	}
	err = Records(b, func(r Record) error {
		if r.Timestamp >= ts {
			offset, timestamp, ok = r.Offset, r.Timestamp, true
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	if err != nil {
		return 0, 0, false, err
	}
	return offset, timestamp, ok, nil
}

// parseOne parses the header of b and checks that b is exactly one batch
// with sane counts and a known codec; it does not check the CRC. The counts
// are checked as for a stored batch, which compaction may have thinned.
func parseOne(b []byte) (Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return Header{}, err
	}
	if size := int64(h.Length) + logOverhead; size != int64(len(b)) {
		return Header{}, fmt.Errorf("%w: batchLength says %d bytes, have %d", ErrInvalid, size, len(b))
	}
	if err := checkStoredCounts(h); err != nil {
		return Header{}, err
	}
	if c := h.Compression(); c > CodecZstd {
		return Header{}, fmt.Errorf("%w: unknown compression codec %d", ErrInvalid, c)
	}
	return h, nil
}

// walkRecords parses the uncompressed records section data of batch h and
// calls fn (when not nil) for each record, with the record's encoding (its
// length prefix included) as raw, which Filter copies. The records must fill
// data exactly and number h.NumRecords, unless fn ends the walk with an error.
func walkRecords(h Header, data []byte, fn func(r Record, raw []byte) error) error {
	logAppend := h.TimestampType() == LogAppendTime
	var n int32
	for len(data) > 0 {
		if n == h.NumRecords {
			return fmt.Errorf("%w: %d bytes after the %d records the header announces", ErrInvalid, len(data), h.NumRecords)
		}
		if fn == nil {
			// Validation: skip without building a Record; parse again only
			// to describe a failure.
			rest, ok := skipRecord(data)
			if !ok {
				_, _, err := readRecord(data)
				if err == nil {
					err = fmt.Errorf("%w: malformed record", ErrInvalid)
				}
				return fmt.Errorf("%w (record %d)", err, n)
			}
			data = rest
			n++
			continue
		}
		r, rest, err := readRecord(data)
		if err != nil {
			return fmt.Errorf("%w (record %d)", err, n)
		}
		raw := data[:len(data)-len(rest)]
		data = rest
		n++
		r.Offset = h.BaseOffset + int64(r.OffsetDelta)
		if logAppend {
			r.Timestamp = h.MaxTimestamp
		} else {
			r.Timestamp = h.FirstTimestamp + r.TimestampDelta
		}
		if err := fn(r, raw); err != nil {
			return err
		}
	}
	if n != h.NumRecords {
		return fmt.Errorf("%w: header announces %d records, found %d", ErrInvalid, h.NumRecords, n)
	}
	return nil
}

// readRecord parses one record from the front of b and returns it with the
// bytes that follow it. The checks follow Kafka's DefaultRecord.readFrom:
// lengths fit, null is the only negative length (-1) and header keys are
// never null, and the body is exactly as long as its length prefix says.
func readRecord(b []byte) (Record, []byte, error) {
	var r Record
	length, b, ok := readVarint(b)
	if !ok {
		return r, nil, fmt.Errorf("%w: bad record length varint", ErrInvalid)
	}
	if length < 0 || int64(length) > int64(len(b)) {
		return r, nil, fmt.Errorf("%w: record length %d with %d bytes left", ErrInvalid, length, len(b))
	}
	body, rest := b[:length], b[length:]
	if len(body) == 0 {
		return r, nil, fmt.Errorf("%w: empty record body", ErrInvalid)
	}
	r.Attributes = int8(body[0])
	body = body[1:]
	if r.TimestampDelta, body, ok = readVarlong(body); !ok {
		return r, nil, fmt.Errorf("%w: bad timestampDelta varlong", ErrInvalid)
	}
	if r.OffsetDelta, body, ok = readVarint(body); !ok {
		return r, nil, fmt.Errorf("%w: bad offsetDelta varint", ErrInvalid)
	}
	var err error
	if r.Key, body, err = readBytes(body, "key"); err != nil {
		return r, nil, err
	}
	if r.Value, body, err = readBytes(body, "value"); err != nil {
		return r, nil, err
	}
	count, body, ok := readVarint(body)
	if !ok || count < 0 {
		return r, nil, fmt.Errorf("%w: bad header count", ErrInvalid)
	}
	r.NumHeaders = int(count)
	r.Headers = body
	for i := int32(0); i < count; i++ {
		var k []byte
		if k, body, err = readBytes(body, "header key"); err != nil {
			return r, nil, err
		}
		if k == nil {
			return r, nil, fmt.Errorf("%w: null header key", ErrInvalid)
		}
		if _, body, err = readBytes(body, "header value"); err != nil {
			return r, nil, err
		}
	}
	if len(body) != 0 {
		return r, nil, fmt.Errorf("%w: %d bytes left over in a record body", ErrInvalid, len(body))
	}
	return r, rest, nil
}

// skipRecord is readRecord for validation: the same checks, no Record, no
// error value, so the produce path stays cheap. It returns the bytes after
// the record and whether it is well formed.
func skipRecord(b []byte) ([]byte, bool) {
	length, n := varint(b)
	if n == 0 || length < 0 || int(length) > len(b)-n {
		return nil, false
	}
	body, rest := b[n:n+int(length)], b[n+int(length):]
	if len(body) == 0 {
		return nil, false
	}
	body = body[1:] // attributes
	_, m := binary.Varint(body)
	if m <= 0 {
		return nil, false
	}
	body = body[m:]
	if _, n = varint(body); n == 0 { // offsetDelta
		return nil, false
	}
	body = body[n:]
	for range 2 { // key, value
		l, n := varint(body)
		if n == 0 || l < -1 || int(l) > len(body)-n {
			return nil, false
		}
		body = body[n+max(int(l), 0):]
	}
	count, n := varint(body)
	if n == 0 || count < 0 {
		return nil, false
	}
	body = body[n:]
	for ; count > 0; count-- {
		l, n := varint(body)
		if n == 0 || l < 0 || int(l) > len(body)-n { // header keys are never null
			return nil, false
		}
		body = body[n+int(l):]
		if l, n = varint(body); n == 0 || l < -1 || int(l) > len(body)-n {
			return nil, false
		}
		body = body[n+max(int(l), 0):]
	}
	return rest, len(body) == 0
}

// varint decodes a Kafka varint (zig-zag, at most 5 bytes, fits an int32)
// and returns it with its size, or size 0 when malformed. One- and two-byte
// varints (values within ±8191) take the short path.
func varint(b []byte) (int32, int) {
	var u uint32
	var n int
	switch {
	case len(b) > 0 && b[0] < 0x80:
		u, n = uint32(b[0]), 1
	case len(b) > 1 && b[1] < 0x80:
		u, n = uint32(b[0]&0x7f)|uint32(b[1])<<7, 2
	default:
		u64, n64 := binary.Uvarint(b)
		if n64 <= 0 || n64 > 5 || u64 > 0xffffffff {
			return 0, 0
		}
		u, n = uint32(u64), n64
	}
	return int32(u>>1) ^ -int32(u&1), n
}

// readBytes reads a varint length and that many bytes; length -1 is null.
func readBytes(b []byte, what string) ([]byte, []byte, error) {
	n, b, ok := readVarint(b)
	switch {
	case !ok:
		return nil, nil, fmt.Errorf("%w: bad %s length varint", ErrInvalid, what)
	case n == -1:
		return nil, b, nil
	case n < 0 || int64(n) > int64(len(b)):
		return nil, nil, fmt.Errorf("%w: %s length %d with %d bytes left", ErrInvalid, what, n, len(b))
	}
	return b[:n:n], b[n:], nil
}

// readVarint reads a zig-zag varint of at most 5 bytes that fits an int32,
// Kafka's varint.
func readVarint(b []byte) (int32, []byte, bool) {
	v, n := varint(b)
	if n == 0 {
		return 0, nil, false
	}
	return v, b[n:], true
}

// readVarlong reads a zig-zag varint of at most 10 bytes, Kafka's varlong.
func readVarlong(b []byte) (int64, []byte, bool) {
	v, n := binary.Varint(b)
	if n <= 0 {
		return 0, nil, false
	}
	return v, b[n:], true
}

package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestParseHeader(t *testing.T) {
	s := testSpec(CodecZstd)
	s.attrs = attrTransactional | attrLogAppendTime
	s.producerID, s.producerEpoch, s.baseSequence = 4242, 7, 100
	b := build(t, s)
	SetBaseOffset(b, 1000)
	SetPartitionLeaderEpoch(b, 9)

	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Header{
		BaseOffset:           1000,
		Length:               int32(len(b) - 12),
		PartitionLeaderEpoch: 9,
		Magic:                2,
		CRC:                  binary.BigEndian.Uint32(b[17:]),
		Attributes:           int16(CodecZstd) | attrTransactional | attrLogAppendTime,
		LastOffsetDelta:      2,
		FirstTimestamp:       s.firstTimestamp,
		MaxTimestamp:         s.firstTimestamp + 20,
		ProducerID:           4242,
		ProducerEpoch:        7,
		BaseSequence:         100,
		NumRecords:           3,
	}
	if h != want {
		t.Fatalf("ParseHeader:\n got %+v\nwant %+v", h, want)
	}
	if h.Compression() != CodecZstd || !h.IsTransactional() || h.IsControl() || h.TimestampType() != LogAppendTime {
		t.Fatalf("attribute helpers wrong for %#x", h.Attributes)
	}
	if h.Size() != len(b) || h.LastOffset() != 1002 || h.LastSequence() != 102 {
		t.Fatalf("Size %d LastOffset %d LastSequence %d", h.Size(), h.LastOffset(), h.LastSequence())
	}
	// ParseHeader needs only the header.
	if h2, err := ParseHeader(b[:HeaderSize]); err != nil || h2 != want {
		t.Fatalf("ParseHeader(header only) = %+v, %v", h2, err)
	}
}

func TestParseHeaderErrors(t *testing.T) {
	valid := build(t, testSpec(CodecNone))
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"nil", nil, ErrInvalid},
		{"16 bytes", valid[:16], ErrInvalid},
		{"60 bytes", valid[:60], ErrInvalid},
		{"magic 1", mutated(valid[:HeaderSize], false, func(b []byte) []byte { b[16] = 1; return b }), ErrUnsupportedMagic},
		{"magic 1 short", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 0, 1}, ErrUnsupportedMagic},
		{"batchLength 48", mutated(valid, false, put32(8, 48)), ErrInvalid},
		{"batchLength negative", mutated(valid, false, put32(8, -1)), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseHeader(tt.b); !errors.Is(err, tt.want) {
				t.Fatalf("ParseHeader err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestHeaderHelpers(t *testing.T) {
	tests := []struct {
		name     string
		h        Header
		codec    Codec
		txn, ctl bool
		tsType   TimestampType
		lastOff  int64
		lastSeq  int32
	}{
		{"plain", Header{Attributes: 0, BaseSequence: -1, LastOffsetDelta: 4, BaseOffset: 10}, CodecNone, false, false, CreateTime, 14, -1},
		{"gzip control", Header{Attributes: 1 | attrControl, BaseSequence: 0}, CodecGzip, false, true, CreateTime, 0, 0},
		{"lz4 txn logappend", Header{Attributes: 3 | attrTransactional | attrLogAppendTime, BaseSequence: 5, LastOffsetDelta: 2}, CodecLZ4, true, false, LogAppendTime, 2, 7},
		{"sequence wraps", Header{Attributes: 4, BaseSequence: math.MaxInt32 - 1, LastOffsetDelta: 3}, CodecZstd, false, false, CreateTime, 3, 1},
		{"sequence at max", Header{Attributes: 2, BaseSequence: math.MaxInt32 - 2, LastOffsetDelta: 2}, CodecSnappy, false, false, CreateTime, 2, math.MaxInt32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			if got := h.Compression(); got != tt.codec {
				t.Errorf("Compression = %v, want %v", got, tt.codec)
			}
			if h.IsTransactional() != tt.txn || h.IsControl() != tt.ctl {
				t.Errorf("IsTransactional %v IsControl %v", h.IsTransactional(), h.IsControl())
			}
			if got := h.TimestampType(); got != tt.tsType {
				t.Errorf("TimestampType = %v, want %v", got, tt.tsType)
			}
			if got := h.LastOffset(); got != tt.lastOff {
				t.Errorf("LastOffset = %d, want %d", got, tt.lastOff)
			}
			if got := h.LastSequence(); got != tt.lastSeq {
				t.Errorf("LastSequence = %d, want %d", got, tt.lastSeq)
			}
		})
	}
	if got := (Header{Length: 49}).Size(); got != HeaderSize {
		t.Errorf("Size of an empty batch = %d, want %d", got, HeaderSize)
	}
}

func TestValidate(t *testing.T) {
	valid := build(t, testSpec(CodecNone))
	empty := build(t, spec{producerID: -1, producerEpoch: -1, baseSequence: -1})

	type tc struct {
		name string
		b    []byte
		max  int
		want error // nil: valid
	}
	tests := []tc{
		{"uncompressed", valid, 0, nil},
		{"empty batch", empty, 0, nil},
		{"exactly at limit", valid, len(valid), nil},
		{"over limit", valid, len(valid) - 1, ErrTooLarge},
		{"nil", nil, 0, ErrInvalid},
		{"truncated header", valid[:40], 0, ErrInvalid},
		{"truncated records", valid[:len(valid)-1], 0, ErrInvalid},
		{"trailing garbage", append(append([]byte(nil), valid...), 0), 0, ErrInvalid},
		{"batchLength too large", mutated(valid, false, put32(8, int32(len(valid)))), 0, ErrInvalid},
		{"batchLength too small", mutated(valid, false, put32(8, int32(len(valid)-14))), 0, ErrInvalid},
		{"batchLength below header", mutated(valid, false, put32(8, 10)), 0, ErrInvalid},
		{"bad CRC", mutated(valid, false, func(b []byte) []byte { b[17] ^= 1; return b }), 0, ErrCorrupt},
		{"flipped record byte", mutated(valid, false, func(b []byte) []byte { b[len(b)-1] ^= 0x40; return b }), 0, ErrCorrupt},
		{"flipped attributes", mutated(valid, false, func(b []byte) []byte { b[22] ^= 0x10; return b }), 0, ErrCorrupt},
		{"magic 0", mutated(valid, false, func(b []byte) []byte { b[16] = 0; return b }), 0, ErrUnsupportedMagic},
		{"magic 1", mutated(valid, false, func(b []byte) []byte { b[16] = 1; return b }), 0, ErrUnsupportedMagic},
		{"v1 message set", legacyMessage(1), 0, ErrUnsupportedMagic},
		{"v0 message set", legacyMessage(0), 0, ErrUnsupportedMagic},
		{"magic 3", mutated(valid, true, func(b []byte) []byte { b[16] = 3; return b }), 0, ErrUnsupportedMagic},
		{"lastOffsetDelta too large", mutated(valid, true, put32(23, 3)), 0, ErrInvalid},
		{"lastOffsetDelta too small", mutated(valid, true, put32(23, 1)), 0, ErrInvalid},
		{"negative record count", mutated(valid, true, put32(57, -1)), 0, ErrInvalid},
		{"empty batch with lastOffsetDelta -1", mutated(empty, true, put32(23, -1)), 0, ErrInvalid},
		{"count above records", mutated(valid, true, func(b []byte) []byte {
			put32(57, 4)(b)
			return put32(23, 3)(b)
		}), 0, ErrInvalid},
		{"count below records", mutated(valid, true, func(b []byte) []byte {
			put32(57, 2)(b)
			return put32(23, 1)(b)
		}), 0, ErrInvalid},
		{"unknown codec", mutated(valid, true, func(b []byte) []byte { b[22] |= 5; return b }), 0, ErrInvalid},
		{"record length past end", mutated(valid, true, func(b []byte) []byte {
			b[HeaderSize] += 2 // zig-zag: +1 in length
			return b
		}), 0, ErrInvalid},
		{"null header key", buildRaw(t, 1, nullHeaderKeyRecord()), 0, ErrInvalid},
		{"key length -2", buildRaw(t, 1, badKeyLengthRecord()), 0, ErrInvalid},
		{"overlong varint", buildRaw(t, 1, overlongVarintRecord()), 0, ErrInvalid},
	}
	for _, c := range codecCases[1:] {
		tests = append(tests, tc{"valid " + c.name, build(t, withCodec(c.codec, c.xerial)), 0, nil})
	}
	// Compressed records are not inspected on produce: garbage passes if
	// the CRC matches.
	garbage := mutated(build(t, testSpec(CodecGzip)), true, func(b []byte) []byte {
		copy(b[HeaderSize:], "not gzip at all")
		return b
	})
	tests = append(tests, tc{"compressed garbage", garbage, 0, nil})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := Validate(tt.b, tt.max)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if h.Size() != len(tt.b) || h.Magic != 2 {
					t.Fatalf("Validate header %+v for %d bytes", h, len(tt.b))
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Validate err = %v, want %v", err, tt.want)
			}
			if err.Error() == tt.want.Error() {
				t.Errorf("error %q carries no detail", err)
			}
		})
	}
}

func withCodec(c Codec, xerial bool) spec {
	s := testSpec(c)
	s.xerial = xerial
	return s
}

// legacyMessage is a one-message v0 or v1 message set (offset, size, crc,
// magic, attributes, [timestamp], key, value).
func legacyMessage(magic byte) []byte {
	msg := []byte{0, 0, 0, 0, magic, 0}
	if magic == 1 {
		msg = append(msg, 0, 0, 0, 0, 0, 0, 0, 0)
	}
	msg = append(msg, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 'v')
	b := make([]byte, 12, 12+len(msg))
	binary.BigEndian.PutUint32(b[8:], uint32(len(msg)))
	return append(b, msg...)
}

// buildRaw wraps an already encoded records section in a valid header.
func buildRaw(t testing.TB, n int32, records []byte) []byte {
	t.Helper()
	rb := kmsg.RecordBatch{
		Length: int32(HeaderSize - 12 + len(records)), Magic: 2, LastOffsetDelta: n - 1,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: n, Records: records,
	}
	b := rb.AppendTo(nil)
	fixCRC(b)
	return b
}

// framed prefixes a record body with its varint length.
func framed(body []byte) []byte {
	return append(binary.AppendVarint(nil, int64(len(body))), body...)
}

// oneRecord returns the body (without length) of a record with a null key.
func oneRecord(value []byte) []byte {
	body := []byte{0, 0, 0}              // attributes, timestampDelta 0, offsetDelta 0
	body = binary.AppendVarint(body, -1) // null key
	body = binary.AppendVarint(body, int64(len(value)))
	body = append(body, value...)
	return binary.AppendVarint(body, 0) // no headers
}

func nullHeaderKeyRecord() []byte {
	body := []byte{0, 0, 0}
	body = binary.AppendVarint(body, -1)
	body = binary.AppendVarint(body, -1)
	body = binary.AppendVarint(body, 1)  // one header
	body = binary.AppendVarint(body, -1) // null key
	body = binary.AppendVarint(body, -1)
	return framed(body)
}

func badKeyLengthRecord() []byte {
	body := []byte{0, 0, 0}
	body = binary.AppendVarint(body, -2)
	body = append(body, 0, 0, 0, 0)
	return framed(body)
}

func overlongVarintRecord() []byte {
	// offsetDelta as a 6-byte varint: Kafka varints are at most 5 bytes.
	body := []byte{0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}
	body = binary.AppendVarint(body, -1)
	body = binary.AppendVarint(body, -1)
	body = binary.AppendVarint(body, 0)
	return framed(body)
}

func TestValidateRecordBodyExtraByte(t *testing.T) {
	ok := buildRaw(t, 1, framed(oneRecord([]byte("v"))))
	if _, err := Validate(ok, 0); err != nil {
		t.Fatalf("hand-built record: %v", err)
	}
	bad := buildRaw(t, 1, framed(append(oneRecord([]byte("v")), 0)))
	if _, err := Validate(bad, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("record with a stray byte in its body: err = %v, want ErrInvalid", err)
	}
}

func TestSplit(t *testing.T) {
	a := build(t, testSpec(CodecNone))
	b := build(t, testSpec(CodecLZ4))
	c := build(t, withCodec(CodecSnappy, true))
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	badCRC := mutated(b, false, func(x []byte) []byte { x[20] ^= 0xff; return x })
	errFn := errors.New("stop here")

	tests := []struct {
		name    string
		records []byte
		max     int
		fnErr   error
		sizes   []int // batch sizes fn must see, in order
		want    error
	}{
		{"one", a, 0, nil, []int{len(a)}, nil},
		{"three", cat(a, b, c), 0, nil, []int{len(a), len(b), len(c)}, nil},
		{"nil", nil, 0, nil, nil, ErrInvalid},
		{"empty", []byte{}, 0, nil, nil, ErrInvalid},
		{"trailing partial batch", cat(a, b[:len(b)-3]), 0, nil, []int{len(a)}, ErrInvalid},
		{"trailing partial header", cat(a, b[:30]), 0, nil, []int{len(a)}, ErrInvalid},
		{"trailing garbage byte", cat(a, []byte{0}), 0, nil, []int{len(a)}, ErrInvalid},
		{"second batch corrupt", cat(a, badCRC, c), 0, nil, []int{len(a)}, ErrCorrupt},
		{"second batch over limit", cat(a, c), len(a), nil, []int{len(a)}, ErrTooLarge},
		{"old format", legacyMessage(1), 0, nil, nil, ErrUnsupportedMagic},
		{"fn error", cat(a, b), 0, errFn, []int{len(a)}, errFn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sizes []int
			pos := 0
			err := Split(tt.records, tt.max, func(batch []byte, h Header) error {
				if !bytes.Equal(batch, tt.records[pos:pos+len(batch)]) {
					t.Errorf("batch %d is not the next slice of records", len(sizes))
				}
				if h.Size() != len(batch) || cap(batch) != len(batch) {
					t.Errorf("batch %d: Size %d, len %d, cap %d", len(sizes), h.Size(), len(batch), cap(batch))
				}
				pos += len(batch)
				sizes = append(sizes, len(batch))
				return tt.fnErr
			})
			if tt.want == nil && err != nil {
				t.Fatalf("Split: %v", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Split err = %v, want %v", err, tt.want)
			}
			if fmt.Sprint(sizes) != fmt.Sprint(tt.sizes) {
				t.Fatalf("fn saw batches of %v bytes, want %v", sizes, tt.sizes)
			}
		})
	}
}

func TestSetBaseOffsetAndEpochKeepCRC(t *testing.T) {
	for _, c := range codecCases {
		t.Run(c.name, func(t *testing.T) {
			b := build(t, withCodec(c.codec, c.xerial))
			before, err := Validate(b, 0)
			if err != nil {
				t.Fatal(err)
			}
			SetBaseOffset(b, 1<<40+7)
			SetPartitionLeaderEpoch(b, 12345)
			h, err := Validate(b, 0)
			if err != nil {
				t.Fatalf("Validate after rewrite: %v", err)
			}
			if h.BaseOffset != 1<<40+7 || h.PartitionLeaderEpoch != 12345 {
				t.Fatalf("rewrite not visible: %+v", h)
			}
			if h.CRC != before.CRC || h.LastOffset() != 1<<40+7+2 {
				t.Fatalf("CRC %#x→%#x, LastOffset %d", before.CRC, h.CRC, h.LastOffset())
			}
			var offsets []int64
			must(t, Records(b, func(r Record) error { offsets = append(offsets, r.Offset); return nil }))
			if fmt.Sprint(offsets) != fmt.Sprint([]int64{1<<40 + 7, 1<<40 + 8, 1<<40 + 9}) {
				t.Fatalf("record offsets %v", offsets)
			}
		})
	}
}

func TestRecords(t *testing.T) {
	for _, c := range codecCases {
		t.Run(c.name, func(t *testing.T) {
			s := withCodec(c.codec, c.xerial)
			b := build(t, s)
			SetBaseOffset(b, 100)
			var got []Record
			err := Records(b, func(r Record) error {
				r.Key = bytes.Clone(r.Key)
				r.Value = bytes.Clone(r.Value)
				r.Headers = bytes.Clone(r.Headers)
				got = append(got, r)
				return nil
			})
			if err != nil {
				t.Fatalf("Records: %v", err)
			}
			if len(got) != len(s.records) {
				t.Fatalf("%d records, want %d", len(got), len(s.records))
			}
			for i, want := range s.records {
				r := got[i]
				if r.OffsetDelta != int32(i) || r.Offset != 100+int64(i) {
					t.Errorf("record %d: OffsetDelta %d Offset %d", i, r.OffsetDelta, r.Offset)
				}
				if r.TimestampDelta != want.TimestampDelta64 || r.Timestamp != s.firstTimestamp+want.TimestampDelta64 {
					t.Errorf("record %d: TimestampDelta %d Timestamp %d", i, r.TimestampDelta, r.Timestamp)
				}
				if !bytes.Equal(r.Key, want.Key) || (r.Key == nil) != (want.Key == nil) {
					t.Errorf("record %d: key %q, want %q", i, r.Key, want.Key)
				}
				if !bytes.Equal(r.Value, want.Value) || (r.Value == nil) != (want.Value == nil) {
					t.Errorf("record %d: value %q, want %q", i, r.Value, want.Value)
				}
				if r.NumHeaders != len(want.Headers) {
					t.Errorf("record %d: %d headers, want %d", i, r.NumHeaders, len(want.Headers))
				}
			}
			if want := []byte("\x02h\x02v\x02n\x01"); !bytes.Equal(got[1].Headers, want) {
				t.Errorf("headers encoding %q, want %q", got[1].Headers, want)
			}

			errFn := errors.New("enough")
			calls := 0
			err = Records(b, func(Record) error { calls++; return errFn })
			if !errors.Is(err, errFn) || calls != 1 {
				t.Fatalf("fn error: err %v after %d calls", err, calls)
			}
		})
	}
}

func TestRecordsLogAppendTime(t *testing.T) {
	s := testSpec(CodecGzip)
	s.attrs = attrLogAppendTime
	s.maxTimestamp = 5_000
	b := build(t, s)
	must(t, Records(b, func(r Record) error {
		if r.Timestamp != 5_000 {
			t.Errorf("record %d: Timestamp %d, want MaxTimestamp 5000", r.OffsetDelta, r.Timestamp)
		}
		return nil
	}))
}

func TestRecordsErrors(t *testing.T) {
	gz := build(t, testSpec(CodecGzip))
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"truncated", gz[:len(gz)-1], ErrInvalid},
		{"magic 1", legacyMessage(1), ErrUnsupportedMagic},
		{"unknown codec", mutated(gz, false, func(b []byte) []byte { b[22] = 6; return b }), ErrInvalid},
		{"corrupt gzip", mutated(gz, false, func(b []byte) []byte { copy(b[HeaderSize:], "garbage!"); return b }), ErrInvalid},
		{"gzip stream cut short", cutCompressed(t, CodecGzip, false), ErrInvalid},
		{"lz4 stream cut short", cutCompressed(t, CodecLZ4, false), ErrInvalid},
		{"zstd stream cut short", cutCompressed(t, CodecZstd, false), ErrInvalid},
		{"snappy cut short", cutCompressed(t, CodecSnappy, false), ErrInvalid},
		{"xerial cut short", cutCompressed(t, CodecSnappy, true), ErrInvalid},
		{"compressed count mismatch", mutated(gz, false, func(b []byte) []byte {
			put32(57, 2)(b)
			return put32(23, 1)(b)
		}), ErrInvalid},
		{"snappy bomb", withRecords(t, CodecSnappy, binary.AppendUvarint(nil, MaxDecompressedBytes+1)), ErrTooLarge},
		{"xerial bomb", withRecords(t, CodecSnappy, xerialBomb()), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Records(tt.b, func(Record) error { return nil })
			if !errors.Is(err, tt.want) {
				t.Fatalf("Records err = %v, want %v", err, tt.want)
			}
			if _, _, _, err := FirstAtOrAfter(tt.b, math.MaxInt64); !errors.Is(err, tt.want) {
				t.Fatalf("FirstAtOrAfter err = %v, want %v", err, tt.want)
			}
		})
	}
}

// cutCompressed is a batch whose compressed records lack their last bytes.
func cutCompressed(t *testing.T, codec Codec, xerial bool) []byte {
	t.Helper()
	data := compressed(t, codec, xerial, encodeRecords(testSpec(codec).records, false))
	return withRecords(t, codec, data[:len(data)-2])
}

// withRecords wraps a records section in a three-record header with codec.
func withRecords(t testing.TB, codec Codec, data []byte) []byte {
	t.Helper()
	b := buildRaw(t, 3, data)
	b[22] = byte(codec)
	fixCRC(b)
	return b
}

func xerialBomb() []byte {
	b := []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1}
	chunk := binary.AppendUvarint(nil, MaxDecompressedBytes/2+1)
	for range 2 {
		b = binary.BigEndian.AppendUint32(b, uint32(len(chunk)))
		b = append(b, chunk...)
	}
	return b
}

func TestDecompressionBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("compresses 64 MiB per codec; skipped with -short")
	}
	zeros := make([]byte, MaxDecompressedBytes+1)
	for _, c := range codecCases[1:] {
		if c.codec == CodecSnappy {
			continue // covered by the header-only bombs in TestRecordsErrors
		}
		t.Run(c.name, func(t *testing.T) {
			b := withRecords(t, c.codec, compressed(t, c.codec, false, zeros))
			if err := Records(b, func(Record) error { return nil }); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Records err = %v, want ErrTooLarge", err)
			}
		})
	}
}

func TestFirstAtOrAfter(t *testing.T) {
	// Timestamps out of order on purpose: the answer is the first record in
	// offset order whose timestamp is >= ts, as in Kafka.
	deltas := []int64{0, 30, 10, 40}
	const first = 1_000
	tests := []struct {
		ts         int64
		off, stamp int64
		ok         bool
	}{
		{math.MinInt64, 50, first, true},
		{first, 50, first, true},
		{first + 1, 51, first + 30, true},
		{first + 10, 51, first + 30, true},
		{first + 31, 53, first + 40, true},
		{first + 40, 53, first + 40, true},
		{first + 41, 0, 0, false},
	}
	for _, c := range codecCases {
		s := withCodec(c.codec, c.xerial)
		s.firstTimestamp = first
		s.records = nil
		for _, d := range deltas {
			s.records = append(s.records, kmsg.Record{Value: []byte("v"), TimestampDelta64: d})
		}
		b := build(t, s)
		SetBaseOffset(b, 50)
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/ts=%d", c.name, tt.ts), func(t *testing.T) {
				off, stamp, ok, err := FirstAtOrAfter(b, tt.ts)
				if err != nil {
					t.Fatal(err)
				}
				if off != tt.off || stamp != tt.stamp || ok != tt.ok {
					t.Fatalf("FirstAtOrAfter(%d) = %d, %d, %v; want %d, %d, %v", tt.ts, off, stamp, ok, tt.off, tt.stamp, tt.ok)
				}
			})
		}
	}
}

func TestFirstAtOrAfterLogAppendTime(t *testing.T) {
	for _, c := range codecCases {
		t.Run(c.name, func(t *testing.T) {
			s := withCodec(c.codec, c.xerial)
			s.attrs = attrLogAppendTime
			s.maxTimestamp = 9_000
			b := build(t, s)
			SetBaseOffset(b, 7)
			for _, tt := range []struct {
				ts int64
				ok bool
			}{{0, true}, {9_000, true}, {9_001, false}} {
				off, stamp, ok, err := FirstAtOrAfter(b, tt.ts)
				if err != nil {
					t.Fatal(err)
				}
				if ok != tt.ok || (ok && (off != 7 || stamp != 9_000)) {
					t.Fatalf("FirstAtOrAfter(%d) = %d, %d, %v", tt.ts, off, stamp, ok)
				}
			}
		})
	}
}

func TestFirstAtOrAfterEmptyBatch(t *testing.T) {
	b := build(t, spec{producerID: -1, producerEpoch: -1, baseSequence: -1})
	if _, _, ok, err := FirstAtOrAfter(b, 0); ok || err != nil {
		t.Fatalf("empty batch: ok %v err %v", ok, err)
	}
}

func TestNoAllocations(t *testing.T) {
	b := bigBatch(t, 16<<10)
	two := append(append([]byte(nil), b...), b...)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := Validate(b, 1<<20); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Validate: %v allocs/op", n)
	}
	fn := func([]byte, Header) error { return nil }
	if n := testing.AllocsPerRun(100, func() {
		if err := Split(two, 1<<20, fn); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Split: %v allocs/op", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := Records(b, func(Record) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Records (uncompressed): %v allocs/op", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, _, _, err := FirstAtOrAfter(b, math.MaxInt64); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("FirstAtOrAfter (uncompressed): %v allocs/op", n)
	}
}

func BenchmarkValidate(b *testing.B) {
	batch := bigBatch(b, 16<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(batch)))
	for b.Loop() {
		if _, err := Validate(batch, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSplit(b *testing.B) {
	one := bigBatch(b, 16<<10)
	records := bytes.Repeat(one, 4)
	fn := func([]byte, Header) error { return nil }
	b.ReportAllocs()
	b.SetBytes(int64(len(records)))
	for b.Loop() {
		if err := Split(records, 1<<20, fn); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecords(b *testing.B) {
	raw := bigBatch(b, 16<<10)
	h, err := ParseHeader(raw)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range codecCases {
		b.Run(c.name, func(b *testing.B) {
			batch := withRecords(b, c.codec, compressed(b, c.codec, c.xerial, raw[HeaderSize:]))
			binary.BigEndian.PutUint32(batch[57:], uint32(h.NumRecords))
			binary.BigEndian.PutUint32(batch[23:], uint32(h.LastOffsetDelta))
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if err := Records(batch, func(Record) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

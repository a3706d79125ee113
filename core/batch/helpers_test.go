package batch

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// spec describes a batch for build. Records get OffsetDelta = index unless
// keepDeltas is set.
type spec struct {
	codec          Codec
	xerial         bool // snappy: use the Java client's xerial framing
	attrs          int16
	firstTimestamp int64
	maxTimestamp   int64 // 0: computed from the records
	producerID     int64
	producerEpoch  int16
	baseSequence   int32
	records        []kmsg.Record
	keepDeltas     bool
}

// testSpec is a three-record batch with a null key, headers and varied
// timestamps, the default test subject.
func testSpec(codec Codec) spec {
	return spec{
		codec:          codec,
		firstTimestamp: 1_700_000_000_000,
		producerID:     -1,
		producerEpoch:  -1,
		baseSequence:   -1,
		records: []kmsg.Record{
			{Key: []byte("k0"), Value: []byte("value zero"), TimestampDelta64: 0},
			{
				Key: nil, Value: []byte("value one"), TimestampDelta64: 10,
				Headers: []kmsg.Header{{Key: "h", Value: []byte("v")}, {Key: "n", Value: nil}},
			},
			{Key: []byte("k2"), Value: nil, TimestampDelta64: 20},
		},
	}
}

// encodeRecords returns the uncompressed records section for recs.
func encodeRecords(recs []kmsg.Record, keepDeltas bool) []byte {
	var out []byte
	for i := range recs {
		r := recs[i]
		if !keepDeltas {
			r.OffsetDelta = int32(i)
		}
		r.Length = 0
		body := r.AppendTo(nil)
		r.Length = int32(len(body) - 1) // a zero Length is one varint byte
		out = r.AppendTo(out)
	}
	return out
}

// build returns a batch with a valid CRC for s.
func build(t testing.TB, s spec) []byte {
	t.Helper()
	raw := encodeRecords(s.records, s.keepDeltas)
	data := compressed(t, s.codec, s.xerial, raw)
	maxTS := s.maxTimestamp
	if maxTS == 0 {
		maxTS = s.firstTimestamp
		for _, r := range s.records {
			maxTS = max(maxTS, s.firstTimestamp+r.TimestampDelta64)
		}
	}
	n := int32(len(s.records))
	rb := kmsg.RecordBatch{
		FirstOffset:          0,
		Length:               int32(HeaderSize - 12 + len(data)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           s.attrs | int16(s.codec),
		LastOffsetDelta:      n - 1,
		FirstTimestamp:       s.firstTimestamp,
		MaxTimestamp:         maxTS,
		ProducerID:           s.producerID,
		ProducerEpoch:        s.producerEpoch,
		FirstSequence:        s.baseSequence,
		NumRecords:           n,
		Records:              data,
	}
	if n == 0 {
		rb.LastOffsetDelta = 0
	}
	b := rb.AppendTo(nil)
	fixCRC(b)
	return b
}

func fixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
}

// compressed is raw compressed with codec by the reference encoders (not the
// package's own compress), so that tests check it against independent output.
func compressed(t testing.TB, codec Codec, xerial bool, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch codec {
	case CodecNone:
		return raw
	case CodecGzip:
		w := gzip.NewWriter(&buf)
		mustWrite(t, w.Write, raw)
		must(t, w.Close())
	case CodecSnappy:
		if !xerial {
			return snappy.Encode(nil, raw)
		}
		buf.Write([]byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1})
		// The Java client writes 32 KiB chunks; small inputs get 32-byte
		// chunks so that the tests exercise multi-chunk framing.
		chunk := 32 << 10
		if len(raw) < 1<<10 {
			chunk = 32
		}
		for len(raw) > 0 {
			n := min(len(raw), chunk)
			block := snappy.Encode(nil, raw[:n])
			buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(block))))
			buf.Write(block)
			raw = raw[n:]
		}
	case CodecLZ4:
		w := lz4.NewWriter(&buf)
		mustWrite(t, w.Write, raw)
		must(t, w.Close())
	case CodecZstd:
		w, err := zstd.NewWriter(&buf)
		must(t, err)
		mustWrite(t, w.Write, raw)
		must(t, w.Close())
	default:
		t.Fatalf("no compressor for %v", codec)
	}
	return buf.Bytes()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t testing.TB, write func([]byte) (int, error), p []byte) {
	t.Helper()
	if _, err := write(p); err != nil {
		t.Fatal(err)
	}
}

// codecCases lists every way a batch's records can be encoded.
var codecCases = []struct {
	name   string
	codec  Codec
	xerial bool
}{
	{"none", CodecNone, false},
	{"gzip", CodecGzip, false},
	{"snappy", CodecSnappy, false},
	{"snappy-xerial", CodecSnappy, true},
	{"lz4", CodecLZ4, false},
	{"zstd", CodecZstd, false},
}

// mutated returns a copy of b changed by fn, with the CRC recomputed when
// recrc is set.
func mutated(b []byte, recrc bool, fn func(b []byte) []byte) []byte {
	c := fn(append([]byte(nil), b...))
	if recrc && len(c) >= HeaderSize {
		fixCRC(c)
	}
	return c
}

func put32(off int, v int32) func([]byte) []byte {
	return func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[off:], uint32(v))
		return b
	}
}

// bigBatch returns an uncompressed batch of about size bytes made of
// 100-byte values.
func bigBatch(t testing.TB, size int) []byte {
	t.Helper()
	s := testSpec(CodecNone)
	s.records = nil
	value := bytes.Repeat([]byte("x"), 100)
	for i := 0; HeaderSize+len(s.records)*112 < size; i++ {
		s.records = append(s.records, kmsg.Record{Key: []byte("key"), Value: value, TimestampDelta64: int64(i)})
	}
	return build(t, s)
}

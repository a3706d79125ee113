package batch

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Compaction-shaped record contents: keys k0..k9 over and over, every
// seventh value null (a tombstone), every third record with headers (one of
// them with a null value).
const compactionRecords = 50

func compactionKey(i int) []byte { return []byte("k" + strconv.Itoa(i%10)) }

func compactionValue(i int) []byte {
	if i%7 == 3 {
		return nil
	}
	return []byte(fmt.Sprintf("value %d %s", i, strings.Repeat("x", i)))
}

func compactionHeaders(i int) []kmsg.Header {
	if i%3 != 0 {
		return nil
	}
	return []kmsg.Header{{Key: "i", Value: []byte(strconv.Itoa(i))}, {Key: "null", Value: nil}}
}

// compactionSpec is a batch of compactionRecords records for build.
func compactionSpec(codec Codec, xerial bool) spec {
	s := testSpec(codec)
	s.xerial = xerial
	s.records = nil
	for i := range compactionRecords {
		s.records = append(s.records, kmsg.Record{
			Key:              compactionKey(i),
			Value:            compactionValue(i),
			Headers:          compactionHeaders(i),
			TimestampDelta64: int64(3 * i),
		})
	}
	return s
}

// clientBatches produces the compaction-shaped records through franz-go's
// kgo client with codec and returns the batches it wrote, rebased to offset
// 1000 and leader epoch 3 as the broker stores them.
func clientBatches(t *testing.T, codec kgo.CompressionCodec) [][]byte {
	t.Helper()
	fb := startFakeBroker(t)
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(fb.addr),
		kgo.DefaultProduceTopic("t"),
		kgo.DisableIdempotentWrite(),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(50*time.Millisecond),
	)
	must(t, err)
	defer cl.Close()
	recs := make([]*kgo.Record, compactionRecords)
	for i := range recs {
		recs[i] = &kgo.Record{Key: compactionKey(i), Value: compactionValue(i)}
		for _, h := range compactionHeaders(i) {
			recs[i].Headers = append(recs[i].Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, cl.ProduceSync(ctx, recs...).FirstErr())

	var batches [][]byte
	base := int64(1000)
	for _, records := range fb.produced() {
		must(t, Split(records, 0, func(b []byte, h Header) error {
			c := bytes.Clone(b)
			SetBaseOffset(c, base)
			SetPartitionLeaderEpoch(c, 3)
			base += int64(h.LastOffsetDelta) + 1
			batches = append(batches, c)
			return nil
		}))
	}
	return batches
}

// keepCase selects records of a batch, given all of them (decoded) and an
// index.
type keepCase struct {
	name string
	keep func(recs []Record, i int) bool
}

var keepCases = []keepCase{
	{"all", func([]Record, int) bool { return true }},
	{"none", func([]Record, int) bool { return false }},
	{"odd offsets", func(recs []Record, i int) bool { return recs[i].Offset%2 == 1 }},
	{"first", func(_ []Record, i int) bool { return i == 0 }},
	{"last", func(recs []Record, i int) bool { return i == len(recs)-1 }},
	{"tombstones", func(recs []Record, i int) bool { return recs[i].Value == nil }},
	{"latest per key", func(recs []Record, i int) bool {
		for _, r := range recs[i+1:] {
			if bytes.Equal(r.Key, recs[i].Key) {
				return false
			}
		}
		return true
	}},
}

// cloneRecord copies r's slices, which Records only lends.
func cloneRecord(r Record) Record {
	r.Key, r.Value, r.Headers = bytes.Clone(r.Key), bytes.Clone(r.Value), bytes.Clone(r.Headers)
	return r
}

// readAll returns copies of the records of batch b.
func readAll(b []byte) ([]Record, error) {
	var recs []Record
	err := Records(b, func(r Record) error {
		recs = append(recs, cloneRecord(r))
		return nil
	})
	return recs, err
}

func mustReadAll(t testing.TB, b []byte) []Record {
	t.Helper()
	recs, err := readAll(b)
	must(t, err)
	return recs
}

// sameRecord reports whether a and b are the same record, null key or
// value included.
func sameRecord(a, b Record) bool {
	return a.Attributes == b.Attributes && a.TimestampDelta == b.TimestampDelta &&
		a.OffsetDelta == b.OffsetDelta && a.Offset == b.Offset && a.Timestamp == b.Timestamp &&
		bytes.Equal(a.Key, b.Key) && (a.Key == nil) == (b.Key == nil) &&
		bytes.Equal(a.Value, b.Value) && (a.Value == nil) == (b.Value == nil) &&
		a.NumHeaders == b.NumHeaders && bytes.Equal(a.Headers, b.Headers)
}

// filterCase runs Filter on b with kc and checks the result against what
// Records says b holds, and what franz-go reads in a new batch; it returns
// the new batch (b itself when all is kept, nil when nothing is).
func filterCase(t *testing.T, b []byte, kc keepCase) []byte {
	t.Helper()
	in := mustReadAll(t, b)
	var want []Record
	for i := range in {
		if kc.keep(in, i) {
			want = append(want, in[i])
		}
	}
	dst := []byte("prefix")
	calls := 0
	out, kept, total, err := Filter(dst, b, func(r Record) bool {
		if calls >= len(in) || !sameRecord(r, in[calls]) {
			t.Fatalf("keep call %d got %+v", calls, r)
		}
		calls++
		return kc.keep(in, calls-1)
	})
	must(t, err)
	if total != len(in) || kept != len(want) || calls != len(in) {
		t.Fatalf("kept %d of %d after %d calls; want %d of %d", kept, total, calls, len(want), len(in))
	}
	nb := checkFiltered(t, dst, b, out, want)
	if nb != nil {
		checkFranz(t, nb, want)
	}
	return nb
}

// checkFiltered checks out, what Filter appended to dst for batch b,
// against want, the records it must hold, and returns the new batch.
func checkFiltered(t *testing.T, dst, b, out []byte, want []Record) []byte {
	t.Helper()
	if len(out) < len(dst) || !bytes.Equal(out[:len(dst)], dst) {
		t.Fatalf("dst %q not kept at the front of the output", dst)
	}
	nb := out[len(dst):]
	h, err := ParseHeader(b)
	must(t, err)
	switch {
	case h.NumRecords == 0 || len(want) == int(h.NumRecords):
		if !bytes.Equal(nb, b) {
			t.Fatalf("all records kept but the batch changed")
		}
		return nb
	case len(want) == 0:
		if len(nb) != 0 {
			t.Fatalf("no record kept but %d bytes appended", len(nb))
		}
		return nil
	}
	got, err := parseChecked(nb)
	if err != nil {
		t.Fatalf("filtered batch: %v", err)
	}
	wantH := h
	wantH.Length, wantH.CRC, wantH.NumRecords = int32(len(nb)-logOverhead), got.CRC, int32(len(want))
	if got != wantH {
		t.Fatalf("filtered header\n got %+v\nwant %+v", got, wantH)
	}
	recs, err := readAll(nb)
	if err != nil {
		t.Fatalf("Records on the filtered batch: %v", err)
	}
	if len(recs) != len(want) {
		t.Fatalf("filtered batch holds %d records, want %d", len(recs), len(want))
	}
	for i := range recs {
		if !sameRecord(recs[i], want[i]) {
			t.Fatalf("record %d\n got %+v\nwant %+v", i, recs[i], want[i])
		}
	}
	return nb
}

// checkFranz decodes batch nb with franz-go's consumer code (CRC check,
// its own decompressors, its record parsing) and compares with want, so
// that another implementation vouches for what compress writes.
func checkFranz(t *testing.T, nb []byte, want []Record) {
	t.Helper()
	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{KeepControlRecords: true, Topic: "t"},
		&kmsg.FetchResponseTopicPartition{RecordBatches: nb}, kgo.DefaultDecompressor(), nil)
	if fp.Err != nil {
		t.Fatalf("franz-go: %v", fp.Err)
	}
	if len(fp.Records) != len(want) {
		t.Fatalf("franz-go decodes %d records, want %d", len(fp.Records), len(want))
	}
	for i, r := range fp.Records {
		w := want[i]
		if r.Offset != w.Offset || r.Timestamp.UnixMilli() != w.Timestamp ||
			!bytes.Equal(r.Key, w.Key) || (r.Key == nil) != (w.Key == nil) ||
			!bytes.Equal(r.Value, w.Value) || (r.Value == nil) != (w.Value == nil) ||
			!bytes.Equal(encodeHeaders(r.Headers), w.Headers) {
			t.Fatalf("franz-go record %d: %+v\nwant %+v", i, r, w)
		}
	}
}

// encodeHeaders is the wire encoding of hs without the count, as
// Record.Headers holds it.
func encodeHeaders(hs []kgo.RecordHeader) []byte {
	var b []byte
	for _, h := range hs {
		b = binary.AppendVarint(b, int64(len(h.Key)))
		b = append(b, h.Key...)
		if h.Value == nil {
			b = binary.AppendVarint(b, -1)
			continue
		}
		b = binary.AppendVarint(b, int64(len(h.Value)))
		b = append(b, h.Value...)
	}
	return b
}

func TestFilter(t *testing.T) {
	for _, c := range codecCases {
		for _, kc := range keepCases {
			t.Run(c.name+"/"+kc.name, func(t *testing.T) {
				b := build(t, compactionSpec(c.codec, c.xerial))
				SetBaseOffset(b, 1000)
				SetPartitionLeaderEpoch(b, 3)
				filterCase(t, b, kc)
			})
		}
	}
}

// TestFilterClientBatches filters the batches franz-go's producer really
// writes, with every codec.
func TestFilterClientBatches(t *testing.T) {
	for _, c := range clientCodecs {
		t.Run(c.name, func(t *testing.T) {
			batches := clientBatches(t, c.c)
			n := 0
			for _, b := range batches {
				h, err := Validate(b, 0)
				must(t, err)
				if h.Compression() != c.want {
					t.Fatalf("client batch codec %v, want %v", h.Compression(), c.want)
				}
				n += int(h.NumRecords)
			}
			if n != compactionRecords {
				t.Fatalf("client wrote %d records, want %d", n, compactionRecords)
			}
			for _, kc := range keepCases {
				t.Run(kc.name, func(t *testing.T) {
					for _, b := range batches {
						filterCase(t, b, kc)
					}
				})
			}
		})
	}
}

// TestFilterBatchKinds covers the header bits and producer fields Filter
// must carry over, control batches, and a second pass over a batch that
// compaction already thinned.
func TestFilterBatchKinds(t *testing.T) {
	txn := compactionSpec(CodecLZ4, false)
	txn.attrs = attrTransactional | attrLogAppendTime
	txn.maxTimestamp = 1_800_000_000_000
	txn.producerID, txn.producerEpoch, txn.baseSequence = 4242, 7, 100
	control := testSpec(CodecNone)
	control.attrs = attrControl | attrTransactional
	control.records = []kmsg.Record{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 3}}}
	for name, s := range map[string]spec{"txn-logappend-lz4": txn, "control": control} {
		for _, kc := range keepCases {
			t.Run(name+"/"+kc.name, func(t *testing.T) {
				b := build(t, s)
				SetBaseOffset(b, 77)
				filterCase(t, b, kc)
			})
		}
	}

	for _, c := range codecCases {
		t.Run("second-pass/"+c.name, func(t *testing.T) {
			b := build(t, compactionSpec(c.codec, c.xerial))
			SetBaseOffset(b, 1000)
			once := filterCase(t, b, keepCases[2]) // odd offsets: sparse, last record kept
			if _, err := Validate(once, 0); !errors.Is(err, ErrInvalid) {
				t.Fatalf("produce validation must refuse a sparse batch: %v", err)
			}
			for _, kc := range keepCases {
				t.Run(kc.name, func(t *testing.T) {
					filterCase(t, once, kc)
				})
			}
		})
	}
}

// TestFilterEmptyBatch: a batch without records is kept as it is; Filter
// never calls keep for it.
func TestFilterEmptyBatch(t *testing.T) {
	b := build(t, spec{producerID: 9, producerEpoch: 1, baseSequence: 5})
	dst := []byte("prefix")
	out, kept, total, err := Filter(dst, b, func(Record) bool { t.Fatal("keep called"); return false })
	must(t, err)
	if kept != 0 || total != 0 || !bytes.Equal(out, append(dst, b...)) {
		t.Fatalf("kept %d of %d, out %q", kept, total, out)
	}
}

func TestFilterErrors(t *testing.T) {
	gz := build(t, testSpec(CodecGzip))
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"bad crc", mutated(gz, false, func(b []byte) []byte { b[len(b)-1]++; return b }), ErrCorrupt},
		{"truncated", gz[:len(gz)-1], ErrInvalid},
		{"magic 1", legacyMessage(1), ErrUnsupportedMagic},
		{"more records than offsets", mutated(gz, true, put32(23, 1)), ErrInvalid},
		{"unknown codec", mutated(gz, true, func(b []byte) []byte { b[22] = 6; return b }), ErrInvalid},
		{"corrupt gzip", mutated(gz, true, func(b []byte) []byte { copy(b[HeaderSize:], "garbage!"); return b }), ErrInvalid},
		{"zstd cut short", withFixedCRCs(cutCompressed(t, CodecZstd, false)), ErrInvalid},
		{"null header key", buildRaw(t, 1, nullHeaderKeyRecord()), ErrInvalid},
		{"overlong varint", buildRaw(t, 1, overlongVarintRecord()), ErrInvalid},
		{"snappy bomb", withFixedCRCs(withRecords(t, CodecSnappy, binary.AppendUvarint(nil, MaxDecompressedBytes+1))), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("prefix")
			out, kept, _, err := Filter(dst, tt.b, func(Record) bool { return true })
			if !errors.Is(err, tt.want) {
				t.Fatalf("Filter err = %v, want %v", err, tt.want)
			}
			if kept != 0 || !bytes.Equal(out, dst) {
				t.Fatalf("failed Filter gave kept %d, out %q", kept, out)
			}
		})
	}
}

// TestCompress checks compress against this package's decompress and
// franz-go's decompressors, for sizes across the LZ4 block sizes.
func TestCompress(t *testing.T) {
	text := []byte(strings.Repeat("compaction keeps the last value of every key; ", 120_000))
	noise := make([]byte, 300<<10)
	for i := range noise {
		noise[i] = byte(i*7919 + i>>5*31 + i>>11)
	}
	inputs := map[string][]byte{
		"empty": {}, "one": {'x'}, "100": text[:100],
		"70k": text[:70<<10], "300k-noise": noise, "1.5m": text[:3<<19], "5m": text[:5<<20],
	}
	franz := kgo.DefaultDecompressor()
	for _, codec := range []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
		for name, src := range inputs {
			t.Run(codec.String()+"/"+name, func(t *testing.T) {
				out, err := compress(codec, src, []byte("dst"))
				must(t, err)
				if !bytes.HasPrefix(out, []byte("dst")) {
					t.Fatalf("dst not kept")
				}
				enc := out[3:]
				if codec == CodecNone {
					if !bytes.Equal(enc, src) {
						t.Fatalf("CodecNone changed the bytes")
					}
					return
				}
				dec, err := decompress(codec, enc, nil)
				must(t, err)
				if !bytes.Equal(dec, src) {
					t.Fatalf("decompress gives %d bytes, want %d", len(dec), len(src))
				}
				fdec, err := franz.Decompress(enc, kgo.CompressionCodecType(codec))
				if err != nil || !bytes.Equal(fdec, src) {
					t.Fatalf("franz-go decompress: %d bytes, %v", len(fdec), err)
				}
				if codec == CodecLZ4 {
					checkLZ4Frame(t, enc, len(src))
				}
			})
		}
	}
}

// checkLZ4Frame checks that an LZ4 frame of n bytes announces the smallest
// block size that holds n bytes (the FLG byte's version 01 and independent
// blocks; BD's size index 4-7: 64 KB to 4 MB).
func checkLZ4Frame(t *testing.T, frame []byte, n int) {
	t.Helper()
	flg, bd := frame[4], frame[5]
	if flg>>6 != 1 || flg&0x20 == 0 || flg&0x10 != 0 {
		t.Fatalf("FLG %#x: want version 01, independent blocks, no block checksum", flg)
	}
	want := byte(4)
	for size := 64 << 10; n > size && want < 7; size <<= 2 {
		want++
	}
	if got := bd >> 4 & 7; got != want {
		t.Fatalf("block size index %d for %d bytes, want %d", got, n, want)
	}
}

// TestFilterAllocations checks that Filter's allocations do not grow with
// the record count, and that the uncompressed path allocates nothing.
func TestFilterAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	keepOdd := func(r Record) bool { return r.OffsetDelta%2 == 1 }
	for _, codec := range []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
		t.Run(codec.String(), func(t *testing.T) {
			allocs := func(n int) float64 {
				b := benchBatch(t, codec, n)
				// dst is reused as a caller would: it keeps the room
				// compress asks for (snappy wants the worst case).
				var dst []byte
				return testing.AllocsPerRun(50, func() {
					var err error
					if dst, _, _, err = Filter(dst[:0], b, keepOdd); err != nil {
						t.Fatal(err)
					}
				})
			}
			small, large := allocs(20), allocs(2000)
			if large > small || codec == CodecNone && large != 0 {
				t.Fatalf("%v allocs/op for 20 records, %v for 2000", small, large)
			}
		})
	}
}

// benchBatch is a batch of n records with 100-byte values, compressed with
// codec.
func benchBatch(t testing.TB, codec Codec, n int) []byte {
	t.Helper()
	s := testSpec(codec)
	s.records = make([]kmsg.Record, n)
	for i := range s.records {
		value := fmt.Sprintf(`{"id":%d,"user":"u%03d","event":"click","page":"/p/%d"}`, i, i%97, i%13)
		s.records[i] = kmsg.Record{
			Key:              compactionKey(i),
			Value:            []byte(value + strings.Repeat(" ", 100-len(value))),
			TimestampDelta64: int64(i),
		}
	}
	return build(t, s)
}

func BenchmarkFilter(b *testing.B) {
	keepOdd := func(r Record) bool { return r.OffsetDelta%2 == 1 }
	plain := benchBatch(b, CodecNone, 1000)
	for _, codec := range []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
		b.Run(codec.String(), func(b *testing.B) {
			batch := benchBatch(b, codec, 1000)
			dst := make([]byte, 0, 2*len(batch))
			b.ReportAllocs()
			// MB/s counts the records uncompressed, the same work for
			// every codec.
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				out, kept, _, err := Filter(dst[:0], batch, keepOdd)
				if err != nil || kept != 500 {
					b.Fatalf("kept %d: %v", kept, err)
				}
				dst = out
			}
		})
	}
}

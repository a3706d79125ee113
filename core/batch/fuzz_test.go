package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

var update = flag.Bool("update", false, "rewrite the seed corpora under testdata/fuzz")

// requireSentinel fails unless err is one of the package's error kinds.
func requireSentinel(t *testing.T, err error) {
	t.Helper()
	for _, s := range []error{ErrInvalid, ErrCorrupt, ErrUnsupportedMagic, ErrTooLarge} {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error %v wraps no package sentinel", err)
}

// withFixedCRCs returns a copy of b in which every batch that b's length
// fields frame gets a correct CRC, so the fuzzer gets past the checksum.
func withFixedCRCs(b []byte) []byte {
	c := bytes.Clone(b)
	for rest := c; len(rest) >= HeaderSize; {
		size := int64(int32(binary.BigEndian.Uint32(rest[8:]))) + logOverhead
		if size < HeaderSize || size > int64(len(rest)) {
			break
		}
		binary.BigEndian.PutUint32(rest[crcOffset:], crc32.Checksum(rest[crcStart:size], castagnoli))
		rest = rest[size:]
	}
	return c
}

func FuzzValidate(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		checkValidate(t, b)
		checkValidate(t, withFixedCRCs(b))
	})
}

func checkValidate(t *testing.T, b []byte) {
	h, err := Validate(b, 0)
	if err != nil {
		requireSentinel(t, err)
		return
	}
	if p, err := ParseHeader(b); err != nil || p != h {
		t.Fatalf("Validate says %+v, ParseHeader says %+v, %v", h, p, err)
	}
	if h.Size() != len(b) || h.Magic != 2 || h.CRC != crc32.Checksum(b[crcStart:], castagnoli) {
		t.Fatalf("valid batch of %d bytes with header %+v", len(b), h)
	}
	if h.NumRecords > 0 && h.LastOffsetDelta != h.NumRecords-1 || h.NumRecords < 0 || h.LastOffsetDelta < 0 {
		t.Fatalf("counts passed: %d records, lastOffsetDelta %d", h.NumRecords, h.LastOffsetDelta)
	}
	if _, err := Validate(b, len(b)); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	if _, err := Validate(b, len(b)-1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	calls := 0
	if err := Split(b, 0, func(batch []byte, sh Header) error {
		calls++
		if len(batch) != len(b) || sh != h {
			t.Fatalf("Split gave %d bytes %+v", len(batch), sh)
		}
		return nil
	}); err != nil || calls != 1 {
		t.Fatalf("Split of one valid batch: %v after %d calls", err, calls)
	}

	c := bytes.Clone(b)
	SetBaseOffset(c, h.BaseOffset^0x5555)
	SetPartitionLeaderEpoch(c, h.PartitionLeaderEpoch^0x77)
	h2, err := Validate(c, 0)
	if err != nil {
		t.Fatalf("after rewriting offset and epoch: %v", err)
	}
	want := h
	want.BaseOffset, want.PartitionLeaderEpoch = h.BaseOffset^0x5555, h.PartitionLeaderEpoch^0x77
	if h2 != want {
		t.Fatalf("after rewrite %+v, want %+v", h2, want)
	}

	n := int32(0)
	err = Records(b, func(r Record) error {
		if r.Offset != h.BaseOffset+int64(r.OffsetDelta) {
			t.Fatalf("record offset %d with base %d delta %d", r.Offset, h.BaseOffset, r.OffsetDelta)
		}
		n++
		return nil
	})
	switch {
	case h.Compression() == CodecNone && err != nil:
		t.Fatalf("Records on a valid uncompressed batch: %v", err)
	case err == nil && n != h.NumRecords:
		t.Fatalf("Records gave %d records, header says %d", n, h.NumRecords)
	case err != nil:
		requireSentinel(t, err)
	}
	if _, _, _, err := FirstAtOrAfter(b, h.FirstTimestamp); err != nil {
		requireSentinel(t, err)
	}
}

func FuzzSplit(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		checkSplit(t, b)
		checkSplit(t, withFixedCRCs(b))
	})
}

func checkSplit(t *testing.T, b []byte) {
	pos, calls := 0, 0
	err := Split(b, 0, func(batch []byte, h Header) error {
		if len(batch) == 0 || &batch[0] != &b[pos] {
			t.Fatalf("batch %d does not start at position %d", calls, pos)
		}
		if h.Size() != len(batch) || cap(batch) != len(batch) {
			t.Fatalf("batch %d: Size %d, len %d, cap %d", calls, h.Size(), len(batch), cap(batch))
		}
		if v, err := Validate(batch, 0); err != nil || v != h {
			t.Fatalf("batch %d: Split passed it, Validate says %v", calls, err)
		}
		pos += len(batch)
		calls++
		return nil
	})
	if err != nil {
		requireSentinel(t, err)
		return
	}
	if pos != len(b) || calls == 0 {
		t.Fatalf("Split succeeded covering %d of %d bytes in %d batches", pos, len(b), calls)
	}
}

func FuzzRecords(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, ts int64) {
		type rec struct{ off, ts int64 }
		var recs []rec
		err := Records(b, func(r Record) error {
			if r.Key != nil && cap(r.Key) != len(r.Key) || r.Value != nil && cap(r.Value) != len(r.Value) {
				t.Fatalf("key or value slice can reach past its end")
			}
			if r.NumHeaders < 0 || r.NumHeaders > len(r.Headers) {
				t.Fatalf("%d headers in %d bytes", r.NumHeaders, len(r.Headers))
			}
			recs = append(recs, rec{r.Offset, r.Timestamp})
			return nil
		})
		off, stamp, ok, ferr := FirstAtOrAfter(b, ts)
		if err != nil {
			requireSentinel(t, err)
			if ferr != nil {
				requireSentinel(t, ferr)
			}
			return
		}
		h, _ := ParseHeader(b)
		if len(recs) != int(h.NumRecords) {
			t.Fatalf("%d records, header says %d", len(recs), h.NumRecords)
		}
		// Whatever Records reads, Validate must accept once the CRC is right,
		// unless compaction could have thinned it: produce refuses that.
		checkValidateAgrees(t, withFixedCRCs(b), h)
		if ferr != nil {
			t.Fatalf("Records read the batch but FirstAtOrAfter failed: %v", ferr)
		}
		var want rec
		found := false
		for _, r := range recs {
			if r.ts >= ts {
				want, found = r, true
				break
			}
		}
		if ok != found || ok && (off != want.off || stamp != want.ts) {
			t.Fatalf("FirstAtOrAfter(%d) = %d, %d, %v; records say %+v, %v", ts, off, stamp, ok, want, found)
		}
	})
}

// FuzzFilter checks Filter against Records: on any batch, Filter succeeds
// exactly when Records reads it (and the CRC is right), and then its output
// holds exactly the records keep selected. keep follows bit offsetDelta%64
// of seed.
func FuzzFilter(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, seed uint64) {
		checkFilter(t, b, seed)
		checkFilter(t, withFixedCRCs(b), seed)
	})
}

func checkFilter(t *testing.T, b []byte, seed uint64) {
	keep := func(r Record) bool { return seed>>(uint32(r.OffsetDelta)%64)&1 == 1 }
	in, rerr := readAll(b)
	_, verr := Validate(b, 0)
	dst := []byte("dst")
	out, kept, total, err := Filter(dst, b, keep)
	if err != nil {
		requireSentinel(t, err)
		if kept != 0 || !bytes.Equal(out, dst) {
			t.Fatalf("failed Filter (%v) gave kept %d, %d bytes", err, kept, len(out))
		}
		if verr == nil && rerr == nil {
			t.Fatalf("Validate and Records accept the batch, Filter fails: %v", err)
		}
		return
	}
	if rerr != nil || crc32.Checksum(b[crcStart:], castagnoli) != binary.BigEndian.Uint32(b[crcOffset:]) {
		t.Fatalf("Filter passed a batch Records fails on (%v) or with a bad CRC", rerr)
	}
	var want []Record
	for _, r := range in {
		if keep(r) {
			want = append(want, r)
		}
	}
	if total != len(in) || kept != len(want) {
		t.Fatalf("kept %d of %d, want %d of %d", kept, total, len(want), len(in))
	}
	nb := checkFiltered(t, dst, b, out, want)
	if nb == nil {
		return
	}
	// Filtering the output again with the same keep changes nothing.
	again, kept2, total2, err := Filter(nil, nb, keep)
	if err != nil || kept2 != len(want) || total2 != len(want) || !bytes.Equal(again, nb) {
		t.Fatalf("second pass: kept %d of %d, same bytes %v, err %v", kept2, total2, bytes.Equal(again, nb), err)
	}
}

// Uncompressed batches that Records reads are exactly the ones Validate
// accepts (given a correct CRC), except the sparse ones compaction writes;
// the fuzz targets check the same on random input.
func TestValidateAndRecordsAgree(t *testing.T) {
	for name, b := range corpusBatches(t) {
		t.Run(name, func(t *testing.T) {
			b = withFixedCRCs(b)
			h, verr := Validate(b, 0)
			rerr := Records(b, func(Record) error { return nil })
			if verr == nil && h.Compression() == CodecNone && rerr != nil {
				t.Fatalf("Validate accepts, Records fails: %v", rerr)
			}
			if rerr == nil {
				h, _ = ParseHeader(b)
				checkValidateAgrees(t, b, h)
			}
		})
	}
}

// sparse reports whether batch h holds fewer records than the offsets it
// spans, as only compaction leaves a batch.
func sparse(h Header) bool { return h.NumRecords > 0 && h.LastOffsetDelta > h.NumRecords-1 }

// checkValidateAgrees checks Validate on b, with header h, a batch with a
// right CRC that Records reads: it accepts b unless b is sparse.
func checkValidateAgrees(t *testing.T, b []byte, h Header) {
	t.Helper()
	_, err := Validate(b, 0)
	switch {
	case sparse(h) && !errors.Is(err, ErrInvalid):
		t.Fatalf("Validate on a sparse batch (%d records, lastOffsetDelta %d): %v", h.NumRecords, h.LastOffsetDelta, err)
	case !sparse(h) && err != nil:
		t.Fatalf("Records reads the batch, Validate rejects it: %v", err)
	}
}

// corpusBatches is the seed material for the fuzz corpora: valid batches of
// every codec and shape, and broken ones.
func corpusBatches(t testing.TB) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	for _, c := range codecCases {
		m["valid-"+c.name] = build(t, withCodec(c.codec, c.xerial))
	}
	s := testSpec(CodecLZ4)
	s.attrs = attrTransactional | attrLogAppendTime
	s.producerID, s.producerEpoch, s.baseSequence = 7, 1, math.MaxInt32-1
	m["valid-lz4-txn-logappend"] = build(t, s)

	s = testSpec(CodecNone)
	s.attrs = attrControl | attrTransactional
	s.records = []kmsg.Record{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 3}}}
	m["valid-control"] = build(t, s)
	m["valid-empty"] = build(t, spec{producerID: -1, producerEpoch: -1, baseSequence: -1})
	m["valid-1k"] = bigBatch(t, 1<<10)

	v := m["valid-none"]
	m["truncated-header"] = v[:HeaderSize-1]
	m["truncated-records"] = v[:len(v)-5]
	m["trailing-byte"] = append(bytes.Clone(v), 0)
	m["bad-crc"] = mutated(v, false, func(b []byte) []byte { b[20]++; return b })
	m["magic-1"] = legacyMessage(1)
	m["magic-0"] = legacyMessage(0)
	m["length-mismatch"] = mutated(v, false, put32(8, int32(len(v))))
	m["last-offset-delta-mismatch"] = mutated(v, true, put32(23, 5))
	m["unknown-codec"] = mutated(v, true, func(b []byte) []byte { b[22] = 7; return b })
	m["null-header-key"] = buildRaw(t, 1, nullHeaderKeyRecord())
	m["overlong-varint"] = buildRaw(t, 1, overlongVarintRecord())
	m["gzip-cut"] = withRecords(t, CodecGzip, compressed(t, CodecGzip, false, encodeRecords(testSpec(0).records, false))[:20])
	m["zstd-cut"] = withRecords(t, CodecZstd, compressed(t, CodecZstd, false, encodeRecords(testSpec(0).records, false))[:20])
	m["xerial-bomb"] = withRecords(t, CodecSnappy, xerialBomb())
	return m
}

func fuzzFilterSeed(b []byte, seed uint64) string {
	return fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint64(%d)\n", b, seed)
}

// TestFuzzCorpus rewrites testdata/fuzz with -update and otherwise checks
// that every target has its seeds.
func TestFuzzCorpus(t *testing.T) {
	batches := corpusBatches(t)
	corpora := map[string]map[string]string{"FuzzValidate": {}, "FuzzSplit": {}, "FuzzRecords": {}, "FuzzFilter": {}}
	for name, b := range batches {
		corpora["FuzzValidate"][name] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		corpora["FuzzRecords"][name] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nint64(%d)\n", b, 1_700_000_000_005)
		corpora["FuzzFilter"][name] = fuzzFilterSeed(b, 0x5555_5555_5555_5555)
	}
	for _, c := range codecCases {
		b := build(t, compactionSpec(c.codec, c.xerial))
		corpora["FuzzFilter"]["compaction-"+c.name] = fuzzFilterSeed(b, 0x0123_4567_89ab_cdef)
		corpora["FuzzFilter"]["compaction-"+c.name+"-first"] = fuzzFilterSeed(b, 1)
	}
	corpora["FuzzRecords"]["valid-zstd-min-ts"] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nint64(%d)\n", batches["valid-zstd"], int64(math.MinInt64))
	split := map[string][]byte{
		"one":              batches["valid-none"],
		"three":            bytes.Join([][]byte{batches["valid-none"], batches["valid-gzip"], batches["valid-snappy-xerial"]}, nil),
		"two-then-partial": bytes.Join([][]byte{batches["valid-zstd"], batches["valid-control"], batches["valid-lz4"][:70]}, nil),
		"then-bad-crc":     bytes.Join([][]byte{batches["valid-empty"], batches["bad-crc"]}, nil),
		"then-garbage":     bytes.Join([][]byte{batches["valid-1k"], {1, 2, 3}}, nil),
		"legacy":           batches["magic-1"],
		"empty":            nil,
	}
	for name, b := range split {
		corpora["FuzzSplit"][name] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
	}

	for target, files := range corpora {
		dir := filepath.Join("testdata", "fuzz", target)
		if *update {
			must(t, os.MkdirAll(dir, 0o755))
			for name, content := range files {
				must(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
			}
			continue
		}
		for name := range files {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Errorf("seed %s/%s missing (go test ./core/batch -run TestFuzzCorpus -update): %v", target, name, err)
			}
		}
	}
}

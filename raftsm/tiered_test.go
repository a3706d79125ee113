package raftsm

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func seg(base, end int64, key string) *SegmentRecord {
	return &SegmentRecord{BaseOffset: base, EndOffset: end, Key: key, Size: 100, IndexPos: 80, DataBytes: 80, MaxTimestamp: end * 10, LeaderEpoch: 1, UploadedAt: 5}
}

func TestPartitionTieredManifestAndLocalTrim(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	// Batches at offsets 0-2, 3-4, 5, 6-9.
	h.update(appendCmd(1, plain(3, 10, "a")), appendCmd(1, plain(2, 20, "bb")), appendCmd(1, plain(1, 30, "c")), appendCmd(1, plain(4, 40, "dddd")))

	res := h.update(
		EncodeSegmentTiered(seg(0, 5, "s0"), 0),   // ok, keeps everything local
		EncodeSegmentTiered(seg(0, 5, "s0b"), 0),  // stale: overlaps
		EncodeSegmentTiered(seg(6, 10, "gap"), 0), // gap [5,6) still stored locally
		EncodeSegmentTiered(seg(5, 11, "end"), 0), // past the high watermark
		EncodeSegmentTiered(&SegmentRecord{BaseOffset: 5, EndOffset: 5, Key: "x", Size: 1}, 0),
	)
	want := []Status{StatusOK, StatusConflict, StatusConflict, StatusOffsetOutOfRange, StatusMalformed}
	for i, w := range want {
		if got := ResultStatus(res[i].Data); got != w {
			t.Fatalf("command %d: status %s, want %s", i, got, w)
		}
	}
	if got, want := h.p.UntieredBytes(), int64(2*batchHeaderSize+1+4); got != want {
		t.Fatalf("untiered bytes %d, want %d", got, want)
	}
	if h.p.TieredEnd() != 5 || res[0].Value != 5 || h.p.LocalStartOffset() != 0 {
		t.Fatalf("tiered end %d local start %d", h.p.TieredEnd(), h.p.LocalStartOffset())
	}
	// The next segment trims local data up to 5 (never past the tiered end).
	res = h.update(EncodeSegmentTiered(seg(5, 6, "s1"), 100))
	if ResultStatus(res[0].Data) != StatusOK || h.p.TieredEnd() != 6 {
		t.Fatalf("second segment: %s, tiered end %d", ResultStatus(res[0].Data), h.p.TieredEnd())
	}
	if h.p.LocalStartOffset() != 6 || h.p.LogStartOffset() != 0 {
		t.Fatalf("local start %d log start %d; want 6, 0", h.p.LocalStartOffset(), h.p.LogStartOffset())
	}
	if got := storedBatches(t, h.p); len(got) != 1 || got[0] != 6 {
		t.Fatalf("stored batches %v, want [6]", got)
	}
	if got := h.p.SizeBytes(); got != batchHeaderSize+4 || h.p.UntieredBytes() != got {
		t.Fatalf("local size %d, untiered %d", got, h.p.UntieredBytes())
	}
	if _, err := h.p.Read(nil, 2, 1<<20); !errors.Is(err, ErrOffsetTiered) {
		t.Fatalf("read of a tiered offset: %v", err)
	}
	if s, ok := h.p.SegmentFor(4); !ok || s.Key != "s0" {
		t.Fatalf("SegmentFor(4) = %+v %v", s, ok)
	}
	if s, ok := h.p.SegmentFor(5); !ok || s.Key != "s1" {
		t.Fatalf("SegmentFor(5) = %+v %v", s, ok)
	}
	if _, ok := h.p.SegmentFor(6); ok {
		t.Fatal("offset 6 is not tiered")
	}

	// Retention: the log start moves to 4 (inside s0: s0 stays), then to 5
	// (s0 leaves the manifest); local start never falls below the log start.
	res = h.update(EncodeTrim(4, 0))
	if res[0].Value != 4 || len(h.p.Segments()) != 2 {
		t.Fatalf("trim to 4: value %d, %d segments", res[0].Value, len(h.p.Segments()))
	}
	res = h.update(EncodeTrim(5, 0), EncodeTrim(3, 0))
	if res[0].Value != 5 || res[1].Value != 5 || len(h.p.Segments()) != 1 || h.p.Segments()[0].Key != "s1" {
		t.Fatalf("trim to 5: value %d/%d, segments %+v", res[0].Value, res[1].Value, h.p.Segments())
	}
	if _, err := h.p.Read(nil, 4, 100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below the log start: %v", err)
	}

	// An append and a segment over it in one Update (a follower applying a
	// backlog): the trim sees the new batch.
	res = h.update(appendCmd(1, plain(2, 50, "ee")), EncodeSegmentTiered(seg(6, 12, "s2"), 12))
	if ResultStatus(res[1].Data) != StatusOK || h.p.LocalStartOffset() != 12 || len(storedBatches(t, h.p)) != 0 {
		t.Fatalf("segment over a fresh append: %s local start %d batches %v", ResultStatus(res[1].Data), h.p.LocalStartOffset(), storedBatches(t, h.p))
	}
	if out, err := h.p.Read(nil, 12, 100); err != nil || len(out) != 0 {
		t.Fatalf("read at HW: %d bytes %v", len(out), err)
	}

	// State survives a reopen and a snapshot.
	check := func(name string, p *Partition) {
		t.Helper()
		segs := p.Segments()
		if p.LogStartOffset() != 5 || p.LocalStartOffset() != 12 || p.TieredEnd() != 12 || p.HighWatermark() != 12 ||
			len(segs) != 2 || segs[0].Key != "s1" || segs[1] != *seg(6, 12, "s2") {
			t.Fatalf("%s: start %d local %d tiered %d HW %d segments %+v", name, p.LogStartOffset(), p.LocalStartOffset(), p.TieredEnd(), p.HighWatermark(), segs)
		}
	}
	h.checkDurable(check)
}

// A partition tiered only after retention removed its start: the first
// segment may begin above the (empty) tiered end, but only where nothing is
// stored locally in between.
func TestPartitionTieredAfterRetention(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	h.update(appendCmd(1, plain(3, 10, "a")), appendCmd(1, plain(2, 20, "bb")), appendCmd(1, plain(1, 30, "c")))
	res := h.update(EncodeTrim(4, 4)) // not tiered: local follows the log start
	if res[0].Value != 4 || h.p.LocalStartOffset() != 4 || h.p.TieredEnd() != 0 {
		t.Fatalf("trim: %d local %d", res[0].Value, h.p.LocalStartOffset())
	}
	if got := storedBatches(t, h.p); len(got) != 2 || got[0] != 3 {
		t.Fatalf("stored %v", got)
	}
	res = h.update(EncodeSegmentTiered(seg(5, 6, "late"), 0), EncodeSegmentTiered(seg(3, 6, "ok"), 0))
	if ResultStatus(res[0].Data) != StatusConflict || ResultStatus(res[1].Data) != StatusOK || h.p.TieredEnd() != 6 {
		t.Fatalf("statuses %s %s tiered end %d", ResultStatus(res[0].Data), ResultStatus(res[1].Data), h.p.TieredEnd())
	}
}

func TestScanBatches(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	h.update(appendCmd(1, plain(3, 10, "a")), appendCmd(1, plain(2, 20, "bb")), appendCmd(1, plain(1, 30, "c")))
	var bases []int64
	err := h.p.ScanBatches(4, func(b []byte) bool { bases = append(bases, int64(binary.BigEndian.Uint64(b))); return true })
	if err != nil || len(bases) != 2 || bases[0] != 3 || bases[1] != 5 {
		t.Fatalf("ScanBatches(4) = %v %v", bases, err)
	}
	bases = nil
	_ = h.p.ScanBatches(0, func(b []byte) bool { bases = append(bases, int64(binary.BigEndian.Uint64(b))); return false })
	if len(bases) != 1 {
		t.Fatalf("stop after the first: %v", bases)
	}
	if err := h.p.ScanBatches(6, func([]byte) bool { t.Fatal("called at HW"); return true }); err != nil {
		t.Fatal(err)
	}
}

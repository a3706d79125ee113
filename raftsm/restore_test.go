package raftsm

import (
	"errors"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestPartitionRestore(t *testing.T) {
	segs := []SegmentRecord{*seg(100, 150, "s0"), *seg(150, 160, "s1"), *seg(160, 200, "s2")}
	segs[1].LeaderEpoch = 4
	h := newHarness(t, vfs.NewMem())

	res := h.update(
		EncodeRestorePartition(120, []SegmentRecord{*seg(0, 10, "a"), *seg(11, 20, "gap")}, nil),   // not contiguous
		EncodeRestorePartition(120, []SegmentRecord{{BaseOffset: 0, EndOffset: 10, Size: 1}}, nil), // no key
		EncodeRestorePartition(-1, nil, nil),
		[]byte{commandVersion, cmdRestorePartition, 1},
		EncodeRestorePartition(120, segs, []AbortedMarker{{1, 130, 130}}), // a marker at its first offset
		EncodeRestorePartition(120, segs, []AbortedMarker{
			{7, 105, 110}, // ended below the log start: dropped
			{8, 130, 140},
			{9, 190, 205},  // its marker was past the tiered end
			{10, 200, 210}, // began past the restored range: dropped
		}),
		EncodeRestorePartition(0, segs[:1], nil), // re-proposed: the partition is no longer empty
	)
	want := []Status{StatusMalformed, StatusMalformed, StatusMalformed, StatusMalformed, StatusMalformed, StatusOK, StatusNotEmpty}
	for i, w := range want {
		if got := ResultStatus(res[i].Data); got != w {
			t.Fatalf("command %d: status %s, want %s", i, got, w)
		}
	}
	if res[5].Value != 200 || res[6].Value != 200 {
		t.Fatalf("values %d, %d; want the high watermark 200", res[4].Value, res[5].Value)
	}

	check := func(name string, p *Partition) {
		t.Helper()
		if p.LogStartOffset() != 120 || p.LocalStartOffset() != 200 || p.TieredEnd() != 200 || p.HighWatermark() != 200 {
			t.Fatalf("%s: start %d local %d tiered %d HW %d", name, p.LogStartOffset(), p.LocalStartOffset(), p.TieredEnd(), p.HighWatermark())
		}
		if p.SizeBytes() != 0 || p.UntieredBytes() != 0 {
			t.Fatalf("%s: local size %d, untiered %d; want 0", name, p.SizeBytes(), p.UntieredBytes())
		}
		if got := p.Segments(); len(got) != 3 || got[2] != segs[2] {
			t.Fatalf("%s: segments %+v", name, got)
		}
		if got, err := p.AbortedTxns(120, 200); err != nil || !slices.Equal(got, []AbortedTxn{{8, 130}, {9, 190}}) {
			t.Fatalf("%s: aborted transactions %v %v, want those of the backup within the restored range", name, got, err)
		}
		if s, ok := p.SegmentFor(155); !ok || s.Key != "s1" {
			t.Fatalf("%s: SegmentFor(155) = %+v %v", name, s, ok)
		}
		if _, err := p.Read(nil, 130, 100); !errors.Is(err, ErrOffsetTiered) {
			t.Fatalf("%s: read of a tiered offset: %v", name, err)
		}
		if _, err := p.Read(nil, 110, 100); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("%s: read below the log start: %v", name, err)
		}
		if out, err := p.Read(nil, 200, 100); err != nil || len(out) != 0 {
			t.Fatalf("%s: read at the HW: %d bytes, %v", name, len(out), err)
		}
		if e, end := p.EndOffsetForEpoch(1); e != 0 || end != 200 {
			t.Fatalf("%s: EndOffsetForEpoch(1) = %d, %d; want 0, 200 (no restored position looks truncated)", name, e, end)
		}
		if e, end := p.EndOffsetForEpoch(9); e != 4 || end != p.HighWatermark() {
			t.Fatalf("%s: EndOffsetForEpoch(9) = %d, %d; want 4, HW", name, e, end)
		}
	}
	h.checkDurable(check)

	// New appends continue at the restored end in the restored epoch (a
	// smaller Raft term never lowers it), and the next segment continues
	// the manifest.
	res = h.update(appendCmd(2, plain(5, 3000, "new")))
	if res[0].Value != 200 || h.p.HighWatermark() != 205 || h.p.UntieredBytes() != int64(batchHeaderSize+3) {
		t.Fatalf("append after restore: base %d HW %d untiered %d", res[0].Value, h.p.HighWatermark(), h.p.UntieredBytes())
	}
	out, err := h.p.Read(nil, 200, 1<<20)
	if err != nil || len(out) != batchHeaderSize+3 {
		t.Fatalf("read new batch: %d bytes, %v", len(out), err)
	}
	if epoch := int32(out[offLeaderEpoch])<<24 | int32(out[offLeaderEpoch+1])<<16 | int32(out[offLeaderEpoch+2])<<8 | int32(out[offLeaderEpoch+3]); epoch != 4 {
		t.Fatalf("new batch epoch %d, want 4", epoch)
	}
	res = h.update(EncodeSegmentTiered(seg(200, 205, "s3"), 205))
	if ResultStatus(res[0].Data) != StatusOK || h.p.TieredEnd() != 205 || h.p.LocalStartOffset() != 205 {
		t.Fatalf("segment after restore: %s tiered end %d local start %d", ResultStatus(res[0].Data), h.p.TieredEnd(), h.p.LocalStartOffset())
	}
}

func TestPartitionRestoreRefusesData(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	h.update(appendCmd(1, plain(3, 10, "a")))
	res := h.update(EncodeRestorePartition(0, []SegmentRecord{*seg(0, 10, "s")}, nil))
	if ResultStatus(res[0].Data) != StatusNotEmpty || res[0].Value != 3 || len(h.p.Segments()) != 0 {
		t.Fatalf("restore over data: %s value %d segments %d", ResultStatus(res[0].Data), res[0].Value, len(h.p.Segments()))
	}
}

// A partition without tiered data comes back empty at its old log start, so
// offsets handed out before the disaster are not handed out again.
func TestPartitionRestoreWithoutSegments(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	res := h.update(EncodeRestorePartition(42, nil, nil))
	if ResultStatus(res[0].Data) != StatusOK || h.p.HighWatermark() != 42 || h.p.LogStartOffset() != 42 || h.p.TieredEnd() != 0 {
		t.Fatalf("restore: %s HW %d start %d tiered %d", ResultStatus(res[0].Data), h.p.HighWatermark(), h.p.LogStartOffset(), h.p.TieredEnd())
	}
	res = h.update(appendCmd(1, plain(2, 10, "a")))
	if res[0].Value != 42 {
		t.Fatalf("first append at %d, want 42", res[0].Value)
	}
	if got := ResultStatus(h.update(EncodeRestorePartition(42, nil, nil))[0].Data); got != StatusNotEmpty {
		t.Fatalf("second restore: %s", got)
	}
	if StatusNotEmpty.String() != "target not empty" {
		t.Fatalf("status name %q", StatusNotEmpty)
	}
}

package raftsm

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestTimeRetentionStart(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	// Batches at offsets 0-2 (ts 100), 3-4 (ts 300), 5 (ts 200: below the
	// running maximum, so not indexed), 6-9 (ts 400).
	h.update(appendCmd(1, plain(3, 100, "a")), appendCmd(1, plain(2, 300, "bb")), appendCmd(1, plain(1, 200, "c")), appendCmd(1, plain(4, 400, "dddd")))
	for _, c := range []struct{ cutoff, want int64 }{
		{50, 0},   // nothing is older
		{100, 0},  // the first batch is not older than its own timestamp
		{101, 3},  // only batch 0-2 is older
		{250, 3},  // batch 5 (ts 200) is older, but batch 3-4 before it is not
		{301, 6},  // 3-4 and 5 are older now
		{401, 10}, // everything: the high watermark
	} {
		got, err := h.p.TimeRetentionStart(c.cutoff)
		if err != nil || got != c.want {
			t.Errorf("TimeRetentionStart(%d) = %d, %v; want %d", c.cutoff, got, err, c.want)
		}
	}
	// Trimming there deletes the older batches; a second look asks for no more.
	h.update(EncodeTrim(6, 0))
	if got := h.p.LogStartOffset(); got != 6 {
		t.Fatalf("log start %d after the trim, want 6", got)
	}
	if got, _ := h.p.TimeRetentionStart(301); got > 6 {
		t.Fatalf("TimeRetentionStart(301) = %d after the trim, want ≤ 6", got)
	}
	if got, want := h.p.SizeBytes(), int64(batchHeaderSize+4); got != want {
		t.Fatalf("size %d after the trim, want %d (batch 6-9 only)", got, want)
	}
}

func TestSizeRetentionStart(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	sizes := appendGrowing(h, 40)
	after := func(from int64) int64 { return sumFrom(sizes, from) }
	total := after(0)
	if got, err := h.p.SizeRetentionStart(total); err != nil || got != 0 {
		t.Fatalf("SizeRetentionStart(all) = %d, %v; want 0", got, err)
	}
	if got, _ := h.p.SizeRetentionStart(total + 1); got != 0 {
		t.Fatalf("SizeRetentionStart(more than all) = %d, want 0", got)
	}
	for _, keep := range []int64{total - 1, 2 << 20, 1 << 20, 300_000, 0} {
		got, err := h.p.SizeRetentionStart(keep)
		if err != nil {
			t.Fatal(err)
		}
		// At least keep bytes stay, and the next indexed start (≤ ~1 MiB
		// further: one position entry per MiB) would keep too little.
		if after(got) < keep {
			t.Errorf("keep %d: start %d leaves %d bytes", keep, got, after(got))
		}
		if slack := after(got) - keep; got > 0 && slack > positionStep+sizes[got] || got == 0 && keep < total-positionStep-sizes[0] {
			t.Errorf("keep %d: start %d leaves %d bytes, %d more than needed", keep, got, after(got), slack)
		}
	}
	start, _ := h.p.SizeRetentionStart(1 << 20)
	h.update(EncodeTrim(start, 0))
	if got, want := h.p.SizeBytes(), after(start); got != want || got < 1<<20 {
		t.Fatalf("size %d after trimming to %d, want %d (≥ 1 MiB)", got, start, want)
	}
	// Reopened and recovered from a snapshot (indexes and counters from
	// disk), the answer holds.
	h.checkDurable(func(name string, p *Partition) {
		if got, err := p.SizeRetentionStart(1 << 20); err != nil || got != start {
			t.Errorf("%s: SizeRetentionStart = %d, %v; want %d", name, got, err, start)
		}
	})
}

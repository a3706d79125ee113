package raftsm

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// reopenCrashed opens shard 2000 from a crash clone of fs (only what was
// synced survives).
func reopenCrashed(t *testing.T, h *harness, fs *vfs.MemFS) (*Partition, uint64) {
	t.Helper()
	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	abandon(h.store)
	st, err := openStore("state", crashed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	st.batchFileSize = h.store.batchFileSize
	p := NewPartition(st, 2000, nil)
	applied, err := p.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	return p, applied
}

func readAll(t *testing.T, p *Partition) []byte {
	t.Helper()
	got, err := p.Read(nil, p.LogStartOffset(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestBatchFilesSurviveCrash: a crash keeps exactly the batches whose state
// a flush made durable, bytes included — whether the flush was Sync's or
// one Pebble started on its own (a full memtable), which fsyncs the batch
// files first.
func TestBatchFilesSurviveCrash(t *testing.T) {
	for _, flush := range []string{"Sync", "memtable flush"} {
		t.Run(flush, func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			h := newHarness(t, fs)
			synced, unsynced := strings.Repeat("a", 64<<10), strings.Repeat("b", 64<<10)
			h.update(appendCmd(1, plain(2, 1, synced)))
			if flush == "Sync" {
				if err := h.p.Sync(); err != nil {
					t.Fatal(err)
				}
			} else if err := h.store.db.Flush(); err != nil {
				t.Fatal(err)
			}
			h.update(appendCmd(1, plain(2, 1, unsynced))) // applied, not synced
			p, applied := reopenCrashed(t, h, fs)
			if applied != 1 || p.HighWatermark() != 2 {
				t.Fatalf("after crash: applied %d HW %d; want 1, 2", applied, p.HighWatermark())
			}
			got := readAll(t, p)
			if len(got) != batchHeaderSize+len(synced) || !bytes.Contains(got, []byte(synced)) {
				t.Fatalf("after crash read %d bytes: want the synced batch only", len(got))
			}
			// The replay appends the lost batch again where it was.
			(&harness{t: t, store: p.store, p: p, index: 1}).update(appendCmd(1, plain(2, 1, unsynced)))
			if got := readAll(t, p); !bytes.Contains(got, []byte(unsynced)) || !bytes.Contains(got, []byte(synced)) {
				t.Fatal("replayed batch not readable")
			}
		})
	}
}

// TestBatchFilesRollAndDrop: batches spread over many files read back the
// same whole and from any offset, a file goes once every batch in it is
// below the log start, and a crash after rolls that were never flushed
// leaves no stray file behind.
func TestBatchFilesRollAndDrop(t *testing.T) {
	fs := vfs.NewCrashableMem()
	h := newHarness(t, fs)
	h.store.batchFileSize = 300
	var want []string
	for i := range 20 {
		payload := strings.Repeat(string(rune('a'+i)), 100+i)
		want = append(want, payload)
		h.update(appendCmd(1, plain(1, int64(i), payload)))
	}
	files := func() []string {
		names, err := fs.List(h.store.batchDir(2000))
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	if n := len(files()); n < 6 {
		t.Fatalf("%d files for 20 batches of ~170 bytes rolled at 300; want ≥ 6", n)
	}
	checkFrom := func(p *Partition, from int) {
		t.Helper()
		got, err := p.Read(nil, int64(from), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if has := bytes.Contains(got, []byte(want[i])); has != (i >= from) {
				t.Fatalf("read from %d: batch %d present = %v", from, i, has)
			}
		}
	}
	for _, from := range []int{0, 7, 19} {
		checkFrom(h.p, from)
	}
	// maxBytes stops at a batch boundary, inside a run of adjacent batches.
	two, err := h.p.Read(nil, 3, int32(2*(batchHeaderSize+104)))
	if err != nil || !bytes.Contains(two, []byte(want[3])) || !bytes.Contains(two, []byte(want[4])) || bytes.Contains(two, []byte(want[5][:50])) {
		t.Fatalf("read of two batches: %d bytes, %v", len(two), err)
	}
	before := len(files())
	h.update(EncodeDeleteRecords(12))
	checkFrom(h.p, 12)
	if err := h.p.Sync(); err != nil {
		t.Fatal(err)
	}
	// The store's own sync (removeLoop, woken by the drop) may have taken
	// the files and be removing them still: the Sync above covered them
	// but did not wait for another caller's removal.
	deadline := time.Now().Add(10 * time.Second)
	for len(files()) >= before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := len(files()); n >= before || n < 3 {
		t.Fatalf("DeleteRecords(12), synced: %d files, was %d", n, before)
	}
	// A snapshot of what is left recovers into files at the same
	// positions, on a replica with files of its own.
	other := NewPartition(h.store, 2001, nil)
	if _, err := other.Open(nil); err != nil {
		t.Fatal(err)
	}
	(&harness{t: t, store: h.store, p: other}).update(appendCmd(1, plain(3, 1, strings.Repeat("s", 500))))
	if err := other.RecoverFromSnapshot(snapshotOf(t, h.p), nil); err != nil {
		t.Fatal(err)
	}
	checkFrom(other, 12)
	names, err := fs.List(h.store.batchDir(2001))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	if len(names) == 0 || names[0] != batchFileName(h.p.startPos) {
		t.Fatalf("recovered files %v, want the first at the source's start position %d", names, h.p.startPos)
	}
	if err := h.p.Sync(); err != nil {
		t.Fatal(err)
	}
	// Rolled and written after the last flush: gone after a crash, and the
	// files that remain read as before.
	for i := range 4 {
		h.update(appendCmd(1, plain(1, 100, strings.Repeat("z", 200+i))))
	}
	durable := len(files())
	p, applied := reopenCrashed(t, h, fs)
	if applied != h.index-4 {
		t.Fatalf("applied %d after crash, want %d", applied, h.index-4)
	}
	names, err = p.store.fs.List(p.store.batchDir(2000))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) >= durable {
		t.Fatalf("%d files after crash, %d before it: unflushed rolls not removed", len(names), durable)
	}
	checkFrom(p, 12)
}

// TestBatchFileReaderOutlivesDrop: a reader holding the files keeps
// reading one that retention removes meanwhile.
func TestBatchFileReaderOutlivesDrop(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	h.store.batchFileSize = 100
	for i := range 3 {
		h.update(appendCmd(1, plain(1, 1, strings.Repeat("x", 150+i))))
	}
	held := h.p.files.acquire()
	h.update(EncodeDeleteRecords(2))
	got, err := readBatchBytes(held, nil, 0, batchHeaderSize+150)
	releaseAll(held)
	if err != nil || !bytes.HasSuffix(got, []byte(strings.Repeat("x", 150))) {
		t.Fatalf("held file after drop: %d bytes, %v", len(got), err)
	}
	now := h.p.files.acquire()
	_, err = readBatchBytes(now, nil, 0, 10)
	releaseAll(now)
	if err == nil {
		t.Fatal("a dropped file is still listed")
	}
}

// TestPartitionReadsInlineBatches: a store written before batch files holds
// the batches in Pebble; they read as before and appends go on after them.
func TestPartitionReadsInlineBatches(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	old := fakeBatch(2, "inline")
	b := h.store.db.NewBatch()
	_ = b.Set(h.p.batchKey(0), old, nil)
	e := enc{}
	for _, v := range []int64{1, 2, 0, 1, int64(len(old)), 0, 0, 0, 0} {
		e.i64(v)
	}
	_ = b.Set(h.p.key(keyState, 0), e.b, nil)
	if err := h.store.apply(b); err != nil {
		t.Fatal(err)
	}
	if _, err := h.p.Open(nil); err != nil {
		t.Fatal(err)
	}
	h.index = 1
	h.update(appendCmd(1, plain(1, 2, "in-file")))
	got := readAll(t, h.p)
	if !bytes.HasPrefix(got, old) || !bytes.HasSuffix(got, []byte("in-file")) || len(got) != len(old)+batchHeaderSize+7 {
		t.Fatalf("read %q", got)
	}
	if got, _ := h.p.Read(nil, 2, 1<<20); !bytes.HasSuffix(got, []byte("in-file")) || bytes.Contains(got, []byte("inline")) {
		t.Fatalf("read from 2: %q", got)
	}
}

// TestBatchFilesWriteBehind: every 1 MiB a partition writes, and when a
// file fills, writeback of what it wrote since the last request starts, so
// a flush's fsync finds little left. The requests cover each file from its
// start without gaps or overlaps, up to the last MiB written.
func TestBatchFilesWriteBehind(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	h.store.batchFileSize = 3 << 20
	var files []vfs.File
	spans := map[vfs.File][]fileSpan{}
	h.store.writeback = func(f vfs.File, off, n int64) {
		if _, ok := spans[f]; !ok {
			files = append(files, f)
		}
		spans[f] = append(spans[f], fileSpan{off, n})
	}
	const batches = 20
	payload := strings.Repeat("w", 300<<10)
	for range batches { // ~6 MiB: two full files and a third
		h.update(appendCmd(1, plain(1, 1, payload)))
	}
	written := int64(batches * (batchHeaderSize + len(payload)))
	covered := coveredFromStart(t, "writeback request", files, spans)
	if len(files) < 2 || covered > written || covered < written-writeBehindBytes {
		t.Fatalf("writeback requested for %d of %d bytes in %d files; want all but the last MiB, in ≥ 2 files",
			covered, written, len(files))
	}
}

// fileSpan is a byte range of a file.
type fileSpan struct{ off, n int64 }

// coveredFromStart checks that each file's spans follow each other from
// the file's start without gaps or overlaps, and returns the bytes they
// cover in all.
func coveredFromStart(t *testing.T, what string, files []vfs.File, spans map[vfs.File][]fileSpan) int64 {
	t.Helper()
	var covered int64
	for i, f := range files {
		next := int64(0)
		for _, s := range spans[f] {
			if s.off != next || s.n <= 0 {
				t.Fatalf("file %d: %s for [%d, +%d) after one that ended at %d", i, what, s.off, s.n, next)
			}
			next += s.n
		}
		covered += next
	}
	return covered
}

// TestRetentionKeepsFilesUntilSynced: batch files retention drops stay on
// disk until the state that raised the start is durable, and then go
// without anything else asking for a sync. A crash of the process before
// that brings back the old start with its files, and the replay drops them
// again; removed at once, the old start pointed into files that were gone.
func TestRetentionKeepsFilesUntilSynced(t *testing.T) {
	fs := vfs.NewCrashableMem()
	h := newHarness(t, fs)
	h.store.batchFileSize = 300
	for i := range 20 {
		h.update(appendCmd(1, plain(1, int64(i), strings.Repeat(string(rune('a'+i)), 100+i))))
	}
	if err := h.p.Sync(); err != nil {
		t.Fatal(err)
	}
	list := func(fs vfs.FS) []string {
		t.Helper()
		names, err := fs.List(h.store.batchDir(2000))
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(names)
		return names
	}
	before := list(fs)
	// Hold the store's syncs off (they sync the batch files first): the
	// removal must wait for one.
	h.store.syncingBatches.Lock()
	h.update(EncodeDeleteRecords(12))
	onDisk := list(fs)
	if !slices.Equal(onDisk, before) {
		t.Fatalf("files removed before the state that dropped them was synced: %v, was %v", onDisk, before)
	}

	// A crash of the process now: the WAL's unsynced part is lost, the
	// files are all there (the clone keeps every write the FS got).
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: rand.New(rand.NewPCG(1, 1))})
	st, err := openStore("state", crashed)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	st.batchFileSize = 300
	p := NewPartition(st, 2000, nil)
	applied, err := p.Open(nil)
	if err != nil || applied != 20 || p.LogStartOffset() != 0 {
		t.Fatalf("after the crash: applied %d, start %d, %v; want 20, 0", applied, p.LogStartOffset(), err)
	}
	if got := readAll(t, p); !bytes.Contains(got, []byte(strings.Repeat("a", 100))) {
		t.Fatalf("after the crash the batches from the old start read %d bytes", len(got))
	}
	h.store.syncingBatches.Unlock()

	// The live store syncs on its own and the files go.
	deadline := time.Now().Add(10 * time.Second)
	for len(list(fs)) >= len(before) {
		if time.Now().After(deadline) {
			t.Fatalf("dropped files still on disk 10 s after DeleteRecords: %v", list(fs))
		}
		time.Sleep(time.Millisecond)
	}
	checkFrom := readAll(t, h.p)
	if bytes.Contains(checkFrom, []byte(strings.Repeat("k", 110))) || !bytes.Contains(checkFrom, []byte(strings.Repeat("m", 112))) {
		t.Fatal("after the removal the partition reads from the wrong start")
	}
}

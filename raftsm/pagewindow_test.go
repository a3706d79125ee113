package raftsm

import (
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestPageWindowDropsOldest: once a store has handed more than the window
// to writeback, the oldest ranges' pages are dropped, each file's from its
// start without gaps; what is dropped plus what the window keeps is what
// went to writeback, and the window keeps no more than its size. Dropping
// changes nothing that is read.
func TestPageWindowDropsOldest(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	h.store.batchFileSize = 3 << 20
	var (
		mu       sync.Mutex
		wbFiles  []vfs.File
		dropped  = map[vfs.File][]fileSpan{}
		writeOut int64
	)
	h.store.writeback = func(f vfs.File, _, n int64) {
		if len(wbFiles) == 0 || wbFiles[len(wbFiles)-1] != f {
			wbFiles = append(wbFiles, f)
		}
		writeOut += n
	}
	const window = 2 << 20
	h.store.window = newPageWindow(window, func(f vfs.File, off, n int64) {
		mu.Lock()
		defer mu.Unlock()
		dropped[f] = append(dropped[f], fileSpan{off, n})
	})
	const batches = 20
	payload := strings.Repeat("d", 300<<10)
	for range batches { // ~6 MiB: two full files and a third
		h.update(appendCmd(1, plain(1, 1, payload)))
	}
	w := h.store.window
	w.mu.Lock()
	kept := w.keptN
	w.mu.Unlock()
	got := readAll(t, h.p)
	w.close()
	h.store.window = nil // closed above

	droppedN := coveredFromStart(t, "drop", wbFiles, dropped)
	if kept > window || droppedN == 0 || droppedN+kept != writeOut {
		t.Fatalf("dropped %d and kept %d of %d bytes sent to writeback; want kept ≤ %d and the rest dropped",
			droppedN, kept, writeOut, window)
	}
	if want := batches * (batchHeaderSize + len(payload)); len(got) != want || strings.Count(string(got), "d") < batches*len(payload) {
		t.Fatalf("read %d bytes after drops, want %d", len(got), want)
	}
}

// TestPageWindowHoldsFiles: a file whose pages the window keeps has a
// reference of the window's, which goes when the partition lets go of the
// file (else a deleted file's space would stay allocated until newer writes
// pushed it out of the window).
func TestPageWindowHoldsFiles(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	h.store.window = newPageWindow(1<<30, func(vfs.File, int64, int64) {})
	h.update(appendCmd(1, plain(1, 1, strings.Repeat("h", 2<<20))))
	if err := h.store.Sync(); err != nil { // lets go of the file's dirty reference
		t.Fatal(err)
	}
	files := h.p.files.acquire()
	releaseAll(files)
	if len(files) != 1 {
		t.Fatalf("%d batch files, want 1", len(files))
	}
	f := files[0]
	if n := f.refs.Load(); n != 2 { // the partition's and the window's
		t.Fatalf("file references %d, want 2 (the partition's and the window's)", n)
	}
	h.p.files.close()
	if n := f.refs.Load(); n != 0 {
		t.Fatalf("file references after the partition let go: %d, want 0", n)
	}
	w := h.store.window
	w.mu.Lock()
	kept, keptN := len(w.kept), w.keptN
	w.mu.Unlock()
	if kept != 0 || keptN != 0 {
		t.Fatalf("window still keeps %d regions (%d bytes) of a closed file", kept, keptN)
	}
	w.close()
	h.store.window = nil
}

// TestPageWindowForgetsDeletedFiles: files that retention deletes leave the
// window at once, so their disk space is freed without waiting for newer
// writes to push them out.
func TestPageWindowForgetsDeletedFiles(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	h.store.batchFileSize = 1 << 20
	h.store.window = newPageWindow(1<<30, func(vfs.File, int64, int64) {})
	for i := range 4 { // one 1.5 MiB batch per file
		h.update(appendCmd(1, plain(1, int64(i), strings.Repeat("r", 1536<<10))))
	}
	if err := h.store.Sync(); err != nil {
		t.Fatal(err)
	}
	files := h.p.files.acquire()
	releaseAll(files)
	if len(files) != 4 {
		t.Fatalf("%d batch files, want 4", len(files))
	}
	h.update(EncodeDeleteRecords(3))
	for i, f := range files {
		want := int64(0) // deleted and closed
		if i == 3 {
			want = 2 // the partition's and the window's
		}
		if n := f.refs.Load(); n != want {
			t.Fatalf("file %d: %d references after DeleteRecords(3), want %d", i, n, want)
		}
	}
	w := h.store.window
	w.mu.Lock()
	kept := len(w.kept)
	w.mu.Unlock()
	if kept != 1 {
		t.Fatalf("window keeps %d regions, want the last file's one", kept)
	}
	w.close()
	h.store.window = nil
}

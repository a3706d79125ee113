package raftsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestWALFileWritesAfterBatchSync: what Pebble writes to a WAL file reaches
// the file only at a sync, a close or past the write-out size, each time
// after the batch files are synced; a failed batch sync keeps the bytes out
// and fails every later sync.
func TestWALFileWritesAfterBatchSync(t *testing.T) {
	mem := vfs.NewMem()
	var syncs []int64 // the file's size at each batch sync
	var fail error
	fs := walFS{FS: mem, writeOutBytes: 1 << 20}
	fs.syncBatches = func() error {
		st, err := mem.Stat("000001.log")
		if err != nil {
			t.Fatal(err)
		}
		syncs = append(syncs, st.Size())
		return fail
	}
	size := func() int64 {
		t.Helper()
		st, err := mem.Stat("000001.log")
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	f, err := fs.Create("000001.log", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.(*walFile); !ok {
		t.Fatalf("a WAL file is a %T", f)
	}
	other, err := fs.Create("MANIFEST-000001", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := other.(*walFile); ok {
		t.Fatal("a manifest is kept in memory too")
	}
	_ = other.Close()

	_, _ = f.Write([]byte("abc"))
	_, _ = f.Write([]byte("def"))
	if n := size(); n != 0 || len(syncs) != 0 {
		t.Fatalf("before a sync: file %d bytes, %d batch syncs; want 0, 0", n, len(syncs))
	}
	if err := f.SyncData(); err != nil {
		t.Fatal(err)
	}
	if n := size(); n != 6 || len(syncs) != 1 || syncs[0] != 0 {
		t.Fatalf("after SyncData: file %d bytes, batch syncs at sizes %v; want 6, [0]", n, syncs)
	}
	if err := f.Sync(); err != nil || len(syncs) != 1 {
		t.Fatalf("a Sync with nothing new: %v, %d batch syncs; want none more", err, len(syncs))
	}

	// Past the write-out size, without a sync.
	fs.writeOutBytes = 8
	g, err := fs.Create("000002.log", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	wf := g.(*walFile)
	_, _ = g.Write([]byte("0123456789"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		wf.mu.Lock()
		left := len(wf.pending)
		wf.mu.Unlock()
		if left == 0 && !wf.flushing.Load() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("10 bytes past a write-out size of 8 still in memory after 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	r, err := mem.Open("000002.log")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	_ = r.Close()
	if string(got) != "0123456789" || len(syncs) != 2 {
		t.Fatalf("written out %q after %d batch syncs; want all 10 bytes, after a second sync", got, len(syncs))
	}
	_ = g.Close()
	reused, err := fs.ReuseForWrite("000002.log", "000003.log", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := reused.(*walFile); !ok {
		t.Fatalf("a recycled WAL file is a %T", reused)
	}
	_ = reused.Close()

	// A failed batch sync: nothing reaches the file, now or later.
	fail = errors.New("batch sync failed")
	syncs = nil
	_, _ = f.Write([]byte("ghi"))
	if err := f.SyncData(); !errors.Is(err, fail) {
		t.Fatalf("SyncData after a failed batch sync: %v", err)
	}
	fail = nil
	_, _ = f.Write([]byte("jkl"))
	if err := f.Sync(); err == nil {
		t.Fatal("a Sync after a failed write-out succeeded")
	}
	if err := f.Close(); err == nil {
		t.Fatal("a Close after a failed write-out succeeded")
	}
	if n := size(); n != 6 {
		t.Fatalf("after the failed write-out the file holds %d bytes; want the 6 synced before", n)
	}
}

// TestCrashKeepsNoStateWithoutItsBatches: whatever part of the unsynced
// writes a crash keeps, the state store never comes back pointing at batch
// bytes the crash lost. State synced survives; state applied since is in
// the WAL only if every batch it points to was synced first, and state not
// yet written out is gone (the Raft log replays it).
func TestCrashKeepsNoStateWithoutItsBatches(t *testing.T) {
	const size, written, applied = 1 << 10, 400, 500
	fs := vfs.NewCrashableMem()
	h := newHarness(t, fs)
	payload := func(i int) string {
		return fmt.Sprintf("%04d", i) + strings.Repeat(string(rune('a'+i%26)), size-4)
	}
	h.update(appendCmd(1, plain(1, 1, payload(0))))
	if err := h.p.Sync(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < written; i++ {
		h.update(appendCmd(1, plain(1, 1, payload(i))))
	}
	// Pebble's WAL writer hands over full blocks only, without a sync;
	// write out what it handed over (the batch files synced first), not
	// synced: a crash may keep any part of these WAL bytes.
	wal := h.store.wal.Load()
	waitWALWritten(t, wal)
	if err := wal.writeOut(); err != nil {
		t.Fatal(err)
	}
	for i := written; i < applied; i++ {
		// Their batch bytes are unsynced, and a crash may keep any part
		// of those too; their state is in the WAL's memory or Pebble's.
		h.update(appendCmd(1, plain(1, 1, payload(i))))
	}
	defer abandon(h.store)

	seen := map[uint64]bool{}
	for seed := range uint64(24) {
		crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(seed, 1))})
		st, err := openStore("state", crashed)
		if err != nil {
			t.Fatalf("seed %d: open: %v", seed, err)
		}
		p := NewPartition(st, 2000, nil)
		got, err := p.Open(nil)
		if err != nil {
			t.Fatalf("seed %d: open partition: %v", seed, err)
		}
		if got < 1 || got >= written {
			t.Fatalf("seed %d: applied %d after the crash; want 1 (synced) to %d (written out)", seed, got, written-1)
		}
		seen[got] = true
		var want []byte
		for i := range int(got) {
			want = append(want, payload(i)...)
		}
		if b := readAll(t, p); !bytes.Equal(stripHeaders(b, size), want) {
			t.Fatalf("seed %d: applied %d but the batches read back wrong (%d bytes)", seed, got, len(b))
		}
		if err := st.Close(); err != nil {
			t.Fatal(fmt.Errorf("seed %d: close: %w", seed, err))
		}
	}
	t.Logf("applied after crashes: %v", seen)
	if len(seen) < 2 {
		t.Fatalf("every crash came back at the same applied index %v: the test kept none of the written-out WAL", seen)
	}
}

// stripHeaders joins the payloads of batches of one record of n bytes.
func stripHeaders(b []byte, n int) []byte {
	var out []byte
	for len(b) >= batchHeaderSize+n {
		out = append(out, b[batchHeaderSize:batchHeaderSize+n]...)
		b = b[batchHeaderSize+n:]
	}
	return out
}

// waitWALWritten waits until Pebble's WAL writer has handed f what it
// holds (it writes from its own goroutine): until f's pending bytes stop
// growing.
func waitWALWritten(t *testing.T, f *walFile) {
	t.Helper()
	last, stable := -1, 0
	for deadline := time.Now().Add(10 * time.Second); stable < 5; {
		f.mu.Lock()
		n := len(f.pending)
		f.mu.Unlock()
		if n > 0 && n == last {
			stable++
		} else {
			stable = 0
		}
		last = n
		if time.Now().After(deadline) {
			t.Fatalf("WAL writer still writing after 10 s (%d bytes pending)", n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

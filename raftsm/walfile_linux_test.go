package raftsm

import (
	"path/filepath"
	"syscall"
	"testing"
)

// TestWALPreallocationCapped: the WAL files of a store on disk hold at most
// walPreallocateBytes of disk each (Pebble alone preallocates 70 MiB per
// file), also after memtable flushes rotated them.
func TestWALPreallocationCapped(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenStore(dir, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: st, p: NewPartition(st, 2000, nil)}
	if _, err := h.p.Open(nil); err != nil {
		t.Fatal(err)
	}
	write := func() { // a few writes to the WAL file (Pebble preallocates past the first)
		t.Helper()
		for range 3 {
			h.update(appendCmd(1, plain(1, 1, "x")))
			if err := h.p.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 3 {
		write()
		if err := st.db.Flush(); err != nil { // a new WAL file each time
			t.Fatal(err)
		}
	}
	write()
	logs, err := filepath.Glob(filepath.Join(dir, "state", "*.log"))
	if err != nil || len(logs) < 2 {
		t.Fatalf("WAL files %v (%v); want several", logs, err)
	}
	for _, l := range logs {
		var s syscall.Stat_t
		if err := syscall.Stat(l, &s); err != nil {
			t.Fatal(err)
		}
		if used := s.Blocks * 512; used > walPreallocateBytes+64<<10 {
			t.Errorf("%s holds %d bytes of disk; want at most %d", filepath.Base(l), used, walPreallocateBytes)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

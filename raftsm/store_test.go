package raftsm

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestStoreBlobValuesSurviveCrash is the crash test with record batches
// large enough to go to blob files: a crash keeps exactly what Sync made
// durable, values included.
func TestStoreBlobValuesSurviveCrash(t *testing.T) {
	fs := vfs.NewCrashableMem()
	h := newHarness(t, fs)
	synced, unsynced := strings.Repeat("a", 64<<10), strings.Repeat("b", 64<<10)
	h.update(appendCmd(1, plain(2, 1, synced)))
	if err := h.p.Sync(); err != nil {
		t.Fatal(err)
	}
	if !hasBlobFile(t, fs) {
		t.Fatal("a 64 KiB batch was not separated into a blob file")
	}
	h.update(appendCmd(1, plain(2, 1, unsynced))) // applied, not synced
	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	_ = h.store.db.Close()

	st, err := openStore("state", crashed)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := NewPartition(st, 2000, nil)
	applied, err := p.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	if applied != 1 || p.HighWatermark() != 2 {
		t.Fatalf("after crash: applied %d HW %d; want 1, 2", applied, p.HighWatermark())
	}
	got, err := p.Read(nil, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(got, []byte(synced)) || bytes.Contains(got, []byte(unsynced[:1024])) {
		t.Fatalf("after crash read %d bytes: want the synced batch only", len(got))
	}
}

// TestStoreUpgradesOlderFormat: a state store written by a build without
// value separation (Pebble's default format) opens, keeps its data and is
// moved to the format that allows blob files.
func TestStoreUpgradesOlderFormat(t *testing.T) {
	fs := vfs.NewMem()
	old, err := pebble.Open("state", &pebble.Options{FS: fs, DisableWAL: true, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	if old.FormatMajorVersion() >= pebble.FormatValueSeparation {
		t.Fatalf("old store already at %s", old.FormatMajorVersion())
	}
	key, value := []byte("k"), bytes.Repeat([]byte{7}, 4<<10)
	if err := old.Set(key, value, pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	if err := old.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	st, err := openStore("state", fs)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if v := st.db.FormatMajorVersion(); v != pebble.FormatValueSeparation {
		t.Fatalf("format after open = %s, want %s", v, pebble.FormatValueSeparation)
	}
	got, closer, err := st.db.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if !bytes.Equal(got, value) {
		t.Fatal("value changed across the upgrade")
	}
}

func hasBlobFile(t *testing.T, fs vfs.FS) bool {
	t.Helper()
	names, err := fs.List("state")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.HasSuffix(n, ".blob") {
			return true
		}
	}
	return false
}

package raftsm

import (
	"bytes"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

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

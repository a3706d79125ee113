package raftsm

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
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

// TestFlushGivesUpOnFailingFlush: when the state store's flushes fail (a
// data directory whose disk fails, or that was removed), Pebble retries
// them forever; once they have failed for flushGiveUp, a flush and Close
// report it instead of waiting for a flush that may never succeed. Shorter
// failures only delay a flush, and a flush after the disk recovers waits
// for the retried one and succeeds.
func TestFlushGivesUpOnFailingFlush(t *testing.T) {
	failing := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpCreate && (strings.HasSuffix(op.Path, ".sst") || strings.HasSuffix(op.Path, ".blob")) {
			return errorfs.ErrInjected
		}
		return nil
	})}
	st, err := openStore("state", errorfs.Wrap(vfs.NewMem(), failing))
	if err != nil {
		t.Fatal(err)
	}
	set := func(k string) {
		t.Helper()
		b := st.db.NewBatch()
		if err := b.Set([]byte(k), bytes.Repeat([]byte{1}, 2<<10), nil); err != nil {
			t.Fatal(err)
		}
		if err := st.apply(b); err != nil {
			t.Fatal(err)
		}
	}
	timed := func(what string, f func() error) error {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- f() }()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatalf("%s still waiting after 20 s for a flush that keeps failing", what)
			return nil
		}
	}

	// Failures that clear within flushGiveUp only delay a flush.
	set("blip")
	failing.On()
	go func() {
		time.Sleep(flushGiveUp / 5)
		failing.Off()
	}()
	if err := timed("flush through a short failure", st.flush); err != nil {
		t.Fatalf("flush through failures that cleared after %v: %v", flushGiveUp/5, err)
	}

	set("a")
	failing.On()
	if err := timed("flush", st.flush); !errors.Is(err, errFlushFailing) || !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("flush with failing flushes: %v, want errFlushFailing wrapping the injected error", err)
	}
	// The flushes go on failing: a Sync, which writes no table, reports it.
	if err := st.Sync(); !errors.Is(err, errFlushFailing) {
		t.Fatalf("Sync while flushes have been failing for %v: %v, want errFlushFailing", flushGiveUp, err)
	}
	failing.Off() // the disk is back: the retried flush, then a new one for "b"
	set("b")
	if err := timed("flush after recovery", st.flush); err != nil {
		t.Fatalf("flush after the disk recovered: %v", err)
	}
	if err := st.Sync(); err != nil {
		t.Fatalf("Sync after the disk recovered: %v", err)
	}

	set("c")
	failing.On()
	if err := timed("Close", st.Close); !errors.Is(err, errFlushFailing) {
		t.Fatalf("Close with failing flushes: %v, want errFlushFailing", err)
	}
	// Close left Pebble open, retrying; let it finish and close it so
	// that no flush loop outlives the test.
	failing.Off()
	if err := timed("flush to drain", st.flush); err != nil {
		t.Fatal(err)
	}
	if err := st.db.Close(); err != nil {
		t.Fatal(err)
	}
}

package localstore_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/chronik-go/chronik/plugins/localstore"
	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
	"github.com/chronik-go/chronik/tiering/drivertest"
)

func newBucket(tb testing.TB) driver.Bucket {
	tb.Helper()
	b, err := localstore.Open(&localstore.Config{Dir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	t.Parallel()
	drivertest.RunConformance(t, newBucket)
}

func BenchmarkDriver(b *testing.B) { drivertest.RunBenchmarks(b, newBucket) }

func TestUnsafeKeys(t *testing.T) {
	t.Parallel()
	b := newBucket(t)
	ctx := t.Context()
	for _, key := range []string{"../escape", "a/../../escape", "/abs", "a//b", "./a", "a/.", ".chronik-tmp/x", "back\\slash", "nul\x00"} {
		err := b.Put(ctx, key, bytes.NewReader([]byte("x")), 1)
		if err == nil {
			t.Errorf("Put(%q) succeeded", key)
			continue
		}
		if k := b.ErrorKind(err); k != driver.InvalidArgument {
			t.Errorf("Put(%q): kind %v, want InvalidArgument (%v)", key, k, err)
		}
		if _, err := b.Stat(ctx, key); b.ErrorKind(err) != driver.InvalidArgument {
			t.Errorf("Stat(%q) = %v, want InvalidArgument", key, err)
		}
	}
	// A key cannot be both an object and a directory of objects.
	if err := b.Put(ctx, "obj", bytes.NewReader([]byte("x")), 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "obj/child", bytes.NewReader([]byte("x")), 1); b.ErrorKind(err) != driver.InvalidArgument {
		t.Errorf("Put under an object's name = %v, want InvalidArgument", err)
	}
}

func TestLayoutAndURL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := t.Context()
	s, err := tiering.Default.OpenURL(ctx, "file://"+dir+"?no_sync=false")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sub, err := s.Sub("topic-uuid/0")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Put(ctx, "00000000000000000000-1.seg", bytes.NewReader([]byte("seg")), 3); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "topic-uuid", "0", "00000000000000000000-1.seg"))
	if err != nil || string(got) != "seg" {
		t.Fatalf("the object's file holds %q, %v", got, err)
	}
	tmps, _ := os.ReadDir(filepath.Join(dir, ".chronik-tmp"))
	if len(tmps) != 0 {
		t.Errorf("temporary files left behind: %v", tmps)
	}
	if err := sub.Delete(ctx, "00000000000000000000-1.seg"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "topic-uuid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("emptied directories were not removed: %v", err)
	}
	for _, bad := range []string{"file://host/dir", "file:///x?sync=1", "file://"} {
		if _, _, err := tiering.Default.ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) succeeded", bad)
		}
	}
}

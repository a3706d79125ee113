package memstore_test

import (
	"bytes"
	"testing"

	"github.com/chronik-go/chronik/plugins/memstore"
	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
	"github.com/chronik-go/chronik/tiering/drivertest"
)

func newBucket(testing.TB) driver.Bucket { return memstore.Open(memstore.NewConfig()) }

func TestConformance(t *testing.T) {
	t.Parallel()
	drivertest.RunConformance(t, newBucket)
}

func BenchmarkDriver(b *testing.B) { drivertest.RunBenchmarks(b, newBucket) }

func TestSharedByName(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, err := tiering.Default.OpenURL(ctx, "mem://shared-test/p")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := tiering.Default.OpenURL(ctx, "mem://shared-test/p")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	private, err := tiering.Default.OpenURL(ctx, "mem:///p")
	if err != nil {
		t.Fatal(err)
	}
	defer private.Close()
	if err := a.Put(ctx, "k", bytes.NewReader([]byte("v")), 1); err != nil {
		t.Fatal(err)
	}
	if got, err := b.ReadAll(ctx, "k"); err != nil || string(got) != "v" {
		t.Fatalf("a second store of the same name read %q, %v", got, err)
	}
	if _, err := private.Stat(ctx, "k"); err == nil {
		t.Fatal("a private bucket sees another bucket's object")
	}
	if _, err := tiering.Default.OpenURL(ctx, "mem://x?bogus=1"); err == nil {
		t.Fatal("an unknown query parameter was accepted")
	}
}

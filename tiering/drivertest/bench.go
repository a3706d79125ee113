package drivertest

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/chronik-go/chronik/tiering/driver"
)

// RunBenchmarks measures the operations the broker makes most: puts and
// full reads of small and segment-sized objects, the ranged reads of remote
// fetches, Stat and List. Each sub-benchmark gets a fresh bucket from
// newBucket. Compare runs with benchstat.
func RunBenchmarks(b *testing.B, newBucket NewBucket) {
	open := func(b *testing.B) driver.Bucket {
		b.Helper()
		bk := newBucket(b)
		b.Cleanup(func() {
			if err := bk.Close(); err != nil {
				b.Errorf("Close: %v", err)
			}
		})
		return bk
	}
	for _, size := range []int64{1 << 10, 1 << 20, 8 << 20} {
		data := testData(size, 1)
		b.Run(fmt.Sprintf("Put/%s", sizeName(size)), func(b *testing.B) {
			bk := open(b)
			b.ReportAllocs()
			b.SetBytes(size)
			i := 0
			for b.Loop() {
				if err := bk.Put(b.Context(), fmt.Sprintf("put/%d", i%16), bytes.NewReader(data), size); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("Get/%s", sizeName(size)), func(b *testing.B) {
			bk := open(b)
			put(b, bk, "get", data)
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				readDiscard(b, bk, "get", 0, -1)
			}
		})
	}
	b.Run("GetRange/64KiB-of-16MiB", func(b *testing.B) {
		const size, chunk = 16 << 20, 64 << 10
		bk := open(b)
		put(b, bk, "seg", testData(size, 2))
		b.ReportAllocs()
		b.SetBytes(chunk)
		i := int64(0)
		for b.Loop() {
			readDiscard(b, bk, "seg", (i*7919*chunk)%(size-chunk), chunk)
			i++
		}
	})
	b.Run("Stat", func(b *testing.B) {
		bk := open(b)
		put(b, bk, "stat", []byte("x"))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := bk.Stat(b.Context(), "stat"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("List/100", func(b *testing.B) {
		bk := open(b)
		for i := range 100 {
			put(b, bk, fmt.Sprintf("list/%03d", i), []byte("x"))
		}
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			if err := bk.List(b.Context(), "list/", func(driver.Object) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
			if n != 100 {
				b.Fatalf("listed %d objects, want 100", n)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/object")
	})
}

func readDiscard(b *testing.B, bk driver.Bucket, key string, off, n int64) {
	b.Helper()
	rc, err := bk.Open(b.Context(), key, off, n)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		b.Fatal(err)
	}
	if err := rc.Close(); err != nil {
		b.Fatal(err)
	}
}

func sizeName(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	default:
		return fmt.Sprintf("%dB", n)
	}
}

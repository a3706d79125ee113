//go:build integration

package broker_test

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/chronik-go/chronik/core/broker/brokertest"
)

// TestBatchPageCacheBound: with storage.batch-page-cache-bytes at 3 MiB, a
// broker that took 8 MiB of records keeps at most 3 MiB of them in its page
// window and reports the rest dropped, and every record still reads back
// byte-identical (now from the disk).
func TestBatchPageCacheBound(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Storage.BatchPageCacheBytes = 3 << 20
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seeds := []string{b.KafkaAddr()}
	createTopic(t, newClient(t, seeds[0]), "paged", 1)
	all := brokertest.Produce(ctx, t, seeds, "paged", 1, 8000, 1024, time.Now())

	metric := func(name string) float64 {
		t.Helper()
		m := regexp.MustCompile(`\n` + name + `(?:\{[^}]*\})? (\S+)`).FindStringSubmatch(metricsText(t, b.HTTPAddr()))
		if m == nil {
			t.Fatalf("%s missing from /metrics", name)
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatalf("%s = %q: %v", name, m[1], err)
		}
		return v
	}
	// Pages are dropped by a goroutine of the store's, once written.
	deadline := time.Now().Add(30 * time.Second)
	for metric("chronik_batch_page_cache_dropped_bytes_total") < 4<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("dropped %v bytes after 8 MiB of records, want ≥ 4 MiB", metric("chronik_batch_page_cache_dropped_bytes_total"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if kept := metric("chronik_batch_page_cache_bytes"); kept <= 0 || kept > 3<<20 {
		t.Fatalf("chronik_batch_page_cache_bytes = %v, want above 0 and at most 3 MiB", kept)
	}
	brokertest.CheckPartition(ctx, t, seeds, "paged", 0, all)
}

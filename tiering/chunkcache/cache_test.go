package chunkcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func open(t *testing.T, dir string, maxBytes int64) *Cache {
	t.Helper()
	c, err := Open(dir, maxBytes)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

func mustPut(t *testing.T, c *Cache, key string, data []byte) {
	t.Helper()
	if err := c.Put(key, data); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

// dirBytes is the total size of the regular files in dir and their count.
func dirBytes(t *testing.T, dir string) (total int64, files int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
			files++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return total, files
}

// valueFor derives a value from its key, so any value read back can be
// checked against the key it was read under.
func valueFor(key string, size int) []byte {
	sum := sha256.Sum256([]byte(key))
	out := make([]byte, size)
	for i := range out {
		out[i] = sum[i%len(sum)] ^ byte(i/len(sum))
	}
	return out
}

// loadWaiters is how many GetOrLoad callers wait for the in-flight load of key.
func loadWaiters(c *Cache, key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.mu.loads[key]; ok {
		return cl.waiters
	}
	return 0
}

func waitForWaiters(t *testing.T, c *Cache, key string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for loadWaiters(c, key) != n {
		if time.Now().After(deadline) {
			t.Fatalf("waiters for %q: %d, want %d", key, loadWaiters(c, key), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func assertGet(t *testing.T, c *Cache, key string, want []byte) {
	t.Helper()
	got, ok := c.Get(key)
	switch {
	case want == nil && ok:
		t.Errorf("Get(%q) hit with %d bytes, want a miss", key, len(got))
	case want != nil && !ok:
		t.Errorf("Get(%q) missed, want %d bytes", key, len(want))
	case want != nil && !bytes.Equal(got, want):
		t.Errorf("Get(%q) returned different bytes than were put", key)
	}
}

func TestOpenRejectsBadBudget(t *testing.T) {
	for _, max := range []int64{0, -1} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			if c, err := Open(t.TempDir(), max); err == nil {
				_ = c.Close()
				t.Fatalf("Open with max bytes %d succeeded", max)
			}
		})
	}
}

func TestOpenCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	c := open(t, dir, 1<<20)
	mustPut(t, c, "k", []byte("v"))
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm&^0o750 != 0 {
		t.Errorf("dir mode %v, want at most 0750", perm)
	}
}

func TestPutGetRoundTrip(t *testing.T) {
	c := open(t, t.TempDir(), 1<<20)
	key := "segments/orders-0b7e/0/00000000000000000000-00000000000000001000-3.seg#12"
	in := valueFor(key, 256<<10)
	want := bytes.Clone(in)
	mustPut(t, c, key, in)
	in[0] ^= 0xff // Put must not keep the caller's slice

	got, ok := c.Get(key)
	if !ok || !bytes.Equal(got, want) {
		t.Fatalf("Get after Put: ok=%v, equal=%v", ok, bytes.Equal(got, want))
	}
	got[0] ^= 0xff // nor may Get hand out something the cache keeps
	assertGet(t, c, key, want)

	mustPut(t, c, "empty", nil)
	if got, ok := c.Get("empty"); !ok || len(got) != 0 {
		t.Errorf("Get(empty) = %d bytes, %v; want 0 bytes, hit", len(got), ok)
	}

	// Replacing a value appends the new one; the old bytes stay on disk,
	// counted, until their slab goes.
	mustPut(t, c, key, []byte("short"))
	assertGet(t, c, key, []byte("short"))
	if st := c.Stats(); st.Entries != 2 || st.Bytes != 256<<10+5 || st.Files != 2 {
		t.Errorf("Stats after replace: %+v, want 2 entries, 256 KiB + 5 bytes in 2 files", st)
	}
	if total, files := dirBytes(t, c.dir); total != 256<<10+5 || files != 2 {
		t.Errorf("%d bytes in %d files on disk, want 256 KiB + 5 in 2", total, files)
	}
}

func TestGetUnknownKeyMisses(t *testing.T) {
	c := open(t, t.TempDir(), 1<<20)
	mustPut(t, c, "a", []byte("x"))
	assertGet(t, c, "b", nil)
	assertGet(t, c, "a", []byte("x"))
	if st := c.Stats(); st.Hits != 1 || st.Misses != 1 {
		t.Errorf("Stats: %+v, want 1 hit, 1 miss", st)
	}
}

func TestEvictionOldestSlabFirst(t *testing.T) {
	// A 300-byte budget makes 18-byte slabs: every chunk gets its own.
	c := open(t, t.TempDir(), 300)
	mustPut(t, c, "a", valueFor("a", 100))
	mustPut(t, c, "b", valueFor("b", 100))
	mustPut(t, c, "c", valueFor("c", 100))
	assertGet(t, c, "a", valueFor("a", 100)) // a read does not keep a: first in, first out

	mustPut(t, c, "d", valueFor("d", 100)) // 400 > 300: a goes
	assertGet(t, c, "a", nil)
	assertGet(t, c, "b", valueFor("b", 100))
	if st := c.Stats(); st.Evictions != 1 || st.Bytes != 300 || st.Entries != 3 || st.Files != 3 {
		t.Fatalf("Stats after first eviction: %+v", st)
	}

	// A 150-byte value needs 150 bytes freed: b alone frees 100, so c goes
	// too; d stays.
	mustPut(t, c, "e", valueFor("e", 150))
	assertGet(t, c, "b", nil)
	assertGet(t, c, "c", nil)
	assertGet(t, c, "d", valueFor("d", 100))
	assertGet(t, c, "e", valueFor("e", 150))
	if st := c.Stats(); st.Evictions != 3 || st.Bytes != 250 || st.Entries != 2 || st.Files != 2 {
		t.Fatalf("Stats after second eviction: %+v", st)
	}
	if total, files := dirBytes(t, c.dir); total != 250 || files != 2 {
		t.Errorf("on disk: %d bytes in %d files, want 250 in 2", total, files)
	}
}

// TestSlabsShareFiles: chunks go to one file until it is full, and a slab
// leaves with all its chunks.
func TestSlabsShareFiles(t *testing.T) {
	c := open(t, t.TempDir(), 64<<10) // 4 KiB slabs
	for i := range 8 {
		k := fmt.Sprint(i)
		mustPut(t, c, k, valueFor(k, 1024))
	}
	if st := c.Stats(); st.Files != 2 || st.Entries != 8 || st.Bytes != 8<<10 {
		t.Fatalf("8 KiB of 1 KiB chunks: %+v, want 2 files", st)
	}
	for i := 8; i < 65; i++ { // 65 KiB: the first slab (0–3) goes
		k := fmt.Sprint(i)
		mustPut(t, c, k, valueFor(k, 1024))
	}
	for i := range 8 {
		k := fmt.Sprint(i)
		if i < 4 {
			assertGet(t, c, k, nil)
		} else {
			assertGet(t, c, k, valueFor(k, 1024))
		}
	}
	if st := c.Stats(); st.Evictions != 4 || st.Bytes != 61<<10 || st.Files != 16 {
		t.Fatalf("after the first slab went: %+v", st)
	}
	// A key put again points to its new bytes; the old ones leave with
	// their slab.
	mustPut(t, c, "5", valueFor("five", 1024))
	assertGet(t, c, "5", valueFor("five", 1024))
	if total, files := dirBytes(t, c.dir); total != c.Stats().Bytes || files != c.Stats().Files {
		t.Errorf("on disk: %d bytes in %d files, Stats %+v", total, files, c.Stats())
	}
}

func TestPutLargerThanBudgetIsNotCached(t *testing.T) {
	c := open(t, t.TempDir(), 100)
	mustPut(t, c, "small", valueFor("small", 60))
	mustPut(t, c, "k", valueFor("k", 30))

	if err := c.Put("big", valueFor("big", 101)); err != nil {
		t.Fatalf("Put(big) = %v, want nil", err)
	}
	assertGet(t, c, "big", nil)
	assertGet(t, c, "small", valueFor("small", 60)) // nothing evicted for it

	// An oversized replacement drops the old value rather than leaving it
	// behind as if it were current.
	if err := c.Put("k", valueFor("k2", 101)); err != nil {
		t.Fatalf("Put(k, oversized) = %v, want nil", err)
	}
	assertGet(t, c, "k", nil)

	mustPut(t, c, "exact", valueFor("exact", 100)) // exactly the budget fits
	assertGet(t, c, "exact", valueFor("exact", 100))
	if total, _ := dirBytes(t, c.dir); total != 100 {
		t.Errorf("on disk: %d bytes, want 100", total)
	}
}

func TestDiskNeverExceedsBudget(t *testing.T) {
	const maxBytes = 64 << 10
	c := open(t, t.TempDir(), maxBytes)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		key := fmt.Sprintf("k%d", rng.IntN(40))
		size := rng.IntN(maxBytes / 3)
		if i%50 == 0 {
			size = maxBytes + 1 // not cached; must not break the accounting
		}
		mustPut(t, c, key, valueFor(key, size))
		total, files := dirBytes(t, c.dir)
		st := c.Stats()
		if total > maxBytes {
			t.Fatalf("after Put %d: %d bytes on disk, budget %d", i, total, maxBytes)
		}
		if total != st.Bytes || files != st.Files {
			t.Fatalf("after Put %d: disk has %d bytes in %d files, Stats %+v", i, total, files, st)
		}
	}
}

func TestOpenRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	prev, err := Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, prev, "a", []byte("aaaa"))
	mustPut(t, prev, "b", []byte("bbbb"))
	// prev is never closed: the process "crashed". It also left a half
	// written slab and a chunk file of the format before slabs, and someone
	// else's file sits in the directory.
	for _, name := range []string{slabFileName(99), "0123456789abcdef0123456789abcdef-0000000000000001"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("par"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	foreign := filepath.Join(dir, "README.txt")
	if err := os.WriteFile(foreign, []byte("not ours"), 0o600); err != nil {
		t.Fatal(err)
	}

	c := open(t, dir, 1<<20)
	if _, files := dirBytes(t, dir); files != 1 {
		t.Errorf("%d files after Open, want only the foreign one", files)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("Open removed a file it did not create: %v", err)
	}
	assertGet(t, c, "a", nil)
	if st := c.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Errorf("Stats of a fresh cache: %+v", st)
	}
}

func TestLostChunkFileIsMiss(t *testing.T) {
	c := open(t, t.TempDir(), 1<<20)
	mustPut(t, c, "kept", valueFor("kept", 1000))
	mustPut(t, c, "lost", valueFor("lost", 1000)) // same slab, after kept
	c.mu.Lock()
	path := filepath.Join(c.dir, c.mu.entries["lost"].slab.name)
	c.mu.Unlock()
	if err := os.Truncate(path, 1010); err != nil {
		t.Fatal(err)
	}

	assertGet(t, c, "lost", nil)
	assertGet(t, c, "kept", valueFor("kept", 1000))
	if st := c.Stats(); st.Entries != 1 || st.Misses != 1 {
		t.Errorf("Stats: %+v, want the lost entry dropped and counted a miss", st)
	}

	// A slab file deleted behind the cache's back is still read through
	// the descriptor the cache holds; its space returns when it is evicted.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	assertGet(t, c, "kept", valueFor("kept", 1000))
}

func TestGetOrLoadDedupsConcurrentCallers(t *testing.T) {
	const callers = 50
	c := open(t, t.TempDir(), 1<<20)
	want := valueFor("k", 4096)
	var calls atomic.Int32
	release := make(chan struct{})
	load := func(context.Context) ([]byte, error) {
		calls.Add(1)
		<-release
		return bytes.Clone(want), nil
	}

	results := make([][]byte, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { results[i], errs[i] = c.GetOrLoad(t.Context(), "k", load) })
	}
	waitForWaiters(t, c, "k", callers)
	close(release)
	wg.Wait()

	if n := calls.Load(); n != 1 {
		t.Fatalf("load ran %d times, want 1", n)
	}
	for i := range callers {
		if errs[i] != nil || !bytes.Equal(results[i], want) {
			t.Fatalf("caller %d: err %v, equal %v", i, errs[i], bytes.Equal(results[i], want))
		}
	}
	// Every caller owns its slice.
	for i := range callers {
		results[i][0] = byte(i)
	}
	for i := range callers {
		if results[i][0] != byte(i) {
			t.Fatalf("callers share a result slice")
		}
	}

	got, err := c.GetOrLoad(t.Context(), "k", load)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("GetOrLoad after load: err %v, equal %v", err, bytes.Equal(got, want))
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("a cached key was loaded again (%d loads)", n)
	}
	if st := c.Stats(); st.Loads != 1 || st.Entries != 1 {
		t.Errorf("Stats: %+v, want 1 load, 1 entry", st)
	}
}

func TestGetOrLoadErrorCachesNothing(t *testing.T) {
	c := open(t, t.TempDir(), 1<<20)
	errFetch := errors.New("fetch failed")
	var calls atomic.Int32
	failing := func(context.Context) ([]byte, error) {
		calls.Add(1)
		return nil, errFetch
	}
	if _, err := c.GetOrLoad(t.Context(), "k", failing); !errors.Is(err, errFetch) {
		t.Fatalf("GetOrLoad = %v, want %v", err, errFetch)
	}
	assertGet(t, c, "k", nil)
	if st := c.Stats(); st.Entries != 0 {
		t.Fatalf("a failed load was cached: %+v", st)
	}

	got, err := c.GetOrLoad(t.Context(), "k", func(context.Context) ([]byte, error) {
		calls.Add(1)
		return []byte("ok"), nil
	})
	if err != nil || string(got) != "ok" {
		t.Fatalf("second GetOrLoad = %q, %v", got, err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("load ran %d times, want 2 (a failure must not stick)", n)
	}
	assertGet(t, c, "k", []byte("ok"))
}

func TestGetOrLoadWaiterCancel(t *testing.T) {
	c := open(t, t.TempDir(), 1<<20)
	started := make(chan struct{})
	release := make(chan struct{})
	loadCtxErr := make(chan error, 1)
	load := func(ctx context.Context) ([]byte, error) {
		close(started)
		<-release
		loadCtxErr <- ctx.Err()
		return []byte("data"), nil
	}

	type result struct {
		data []byte
		err  error
	}
	first := make(chan result, 1)
	go func() {
		data, err := c.GetOrLoad(t.Context(), "k", load)
		first <- result{data, err}
	}()
	<-started

	ctx, cancel := context.WithCancel(t.Context())
	second := make(chan result, 1)
	go func() {
		data, err := c.GetOrLoad(ctx, "k", load)
		second <- result{data, err}
	}()
	waitForWaiters(t, c, "k", 2)

	cancel()
	select {
	case r := <-second:
		if !errors.Is(r.err, context.Canceled) || r.data != nil {
			t.Fatalf("cancelled waiter got %q, %v; want context.Canceled", r.data, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled waiter did not return while the load was blocked")
	}

	close(release)
	if err := <-loadCtxErr; err != nil {
		t.Errorf("load context ended (%v) although a caller still waited", err)
	}
	if r := <-first; r.err != nil || string(r.data) != "data" {
		t.Fatalf("remaining waiter got %q, %v", r.data, r.err)
	}
	assertGet(t, c, "k", []byte("data"))
}

func TestGetOrLoadLastWaiterGoneCancelsLoad(t *testing.T) {
	c := open(t, t.TempDir(), 1<<20)
	type ctxKey struct{}
	ctx, cancel := context.WithCancel(context.WithValue(t.Context(), ctxKey{}, "v"))
	started := make(chan struct{})
	loadDone := make(chan error, 1)
	var sawValue atomic.Bool
	load := func(ctx context.Context) ([]byte, error) {
		sawValue.Store(ctx.Value(ctxKey{}) == "v")
		close(started)
		<-ctx.Done()
		loadDone <- ctx.Err()
		return nil, ctx.Err()
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.GetOrLoad(ctx, "k", load)
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("GetOrLoad = %v, want context.Canceled", err)
	}
	select {
	case err := <-loadDone:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("load context ended with %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("load context not cancelled after its only waiter left")
	}
	if !sawValue.Load() {
		t.Error("load context lost the caller's values")
	}

	// The next caller starts a fresh load instead of joining the cancelled one.
	got, err := c.GetOrLoad(t.Context(), "k", func(context.Context) ([]byte, error) { return []byte("fresh"), nil })
	if err != nil || string(got) != "fresh" {
		t.Fatalf("GetOrLoad after cancel = %q, %v", got, err)
	}
}

func TestClose(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, c, "a", []byte("aaa"))

	started := make(chan struct{})
	inflight := make(chan error, 1)
	go func() {
		_, err := c.GetOrLoad(t.Context(), "slow", func(ctx context.Context) ([]byte, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		})
		inflight <- err
	}()
	<-started

	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-inflight:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("in-flight GetOrLoad = %v, want its load cancelled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not cancel an in-flight load")
	}

	assertGet(t, c, "a", nil)
	if err := c.Put("b", []byte("b")); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close = %v, want ErrClosed", err)
	}
	if err := c.Put("huge", make([]byte, 2<<20)); !errors.Is(err, ErrClosed) {
		t.Errorf("oversized Put after Close = %v, want ErrClosed", err)
	}
	loaded := false
	_, err = c.GetOrLoad(t.Context(), "a", func(context.Context) ([]byte, error) { loaded = true; return nil, nil })
	if !errors.Is(err, ErrClosed) || loaded {
		t.Errorf("GetOrLoad after Close = %v (loaded %v), want ErrClosed without loading", err, loaded)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if st := c.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Errorf("Stats after Close: %+v", st)
	}
	if _, files := dirBytes(t, dir); files != 0 {
		t.Errorf("%d files left after Close", files)
	}
}

// TestConcurrentUse mixes Put, Get and GetOrLoad of overlapping keys under a
// budget small enough to evict constantly; every value read must be the one
// derived from its key.
func TestConcurrentUse(t *testing.T) {
	const (
		workers  = 8
		ops      = 400
		keys     = 24
		maxBytes = 48 << 10
	)
	c := open(t, t.TempDir(), maxBytes)
	sizeOf := func(k int) int { return 512 + k*337 }
	var loads atomic.Int64

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range ops {
				k := rng.IntN(keys)
				key := fmt.Sprintf("segments/t-%d.seg#%d", k%5, k)
				want := valueFor(key, sizeOf(k))
				var (
					got []byte
					ok  bool
				)
				switch rng.IntN(3) {
				case 0:
					if err := c.Put(key, want); err != nil {
						t.Errorf("Put(%q): %v", key, err)
						return
					}
					continue
				case 1:
					got, ok = c.Get(key)
				case 2:
					var err error
					got, err = c.GetOrLoad(t.Context(), key, func(context.Context) ([]byte, error) {
						loads.Add(1)
						return valueFor(key, sizeOf(k)), nil
					})
					if err != nil {
						t.Errorf("GetOrLoad(%q): %v", key, err)
						return
					}
					ok = true
				}
				if ok && !bytes.Equal(got, want) {
					t.Errorf("%q: read %d bytes that are not its value", key, len(got))
					return
				}
				if ok && len(got) > 0 {
					got[0]++ // the caller owns it; the race detector watches
				}
			}
		})
	}
	wg.Wait()

	st := c.Stats()
	total, files := dirBytes(t, c.dir)
	if total > maxBytes || total != st.Bytes || files != st.Files {
		t.Errorf("after the run: disk %d bytes in %d files, budget %d, Stats %+v", total, files, maxBytes, st)
	}
	if st.Evictions == 0 || st.Hits == 0 || uint64(loads.Load()) != st.Loads {
		t.Errorf("run did not exercise the cache as intended: %+v, loads %d", st, loads.Load())
	}
	for k := range keys {
		key := fmt.Sprintf("segments/t-%d.seg#%d", k%5, k)
		if got, ok := c.Get(key); ok && !bytes.Equal(got, valueFor(key, sizeOf(k))) {
			t.Errorf("%q: final value is not its own", key)
		}
	}
}

func TestFileNameShape(t *testing.T) {
	for _, n := range []uint64{0, 1, 42, 1 << 63} {
		name := slabFileName(n)
		if !isSlabFileName(name) || isChunkFileName(name) {
			t.Errorf("slabFileName(%d) = %q is not recognised as a slab file", n, name)
		}
	}
	if slabFileName(1) == slabFileName(2) {
		t.Error("slab file names collide")
	}
	if !isChunkFileName("0123456789abcdef0123456789abcdef-0000000000000001") {
		t.Error("a chunk file of the earlier format is not recognised")
	}
	for _, name := range []string{"README.txt", "", slabFileName(1) + "x", "0123456789ABCDEF.slab", ".slab", "0123456789abcdef0123456789ABCDEF-0000000000000001"} {
		if isSlabFileName(name) || isChunkFileName(name) {
			t.Errorf("%q taken for a file of ours", name)
		}
	}
}

func BenchmarkGetHit(b *testing.B) {
	const size = 256 << 10
	c, err := Open(b.TempDir(), 64<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	key := "segments/orders-0b7e/0/00000000000000000000-00000000000000001000-3.seg#12"
	if err := c.Put(key, valueFor(key, size)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Get(key); !ok {
			b.Fatal("miss")
		}
	}
}

// TestPutRacingClose: a Put that overlaps Close returns nil or ErrClosed,
// never a write error from a file Close shut under it.
func TestPutRacingClose(t *testing.T) {
	for round := range 20 {
		c, err := Open(t.TempDir(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := range 50 {
					key := fmt.Sprintf("%d-%d-%d", round, w, i)
					if err := c.Put(key, valueFor(key, 4096)); err != nil && !errors.Is(err, ErrClosed) {
						t.Errorf("Put during Close: %v", err)
						return
					}
				}
			})
		}
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		wg.Wait()
	}
}

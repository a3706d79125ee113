package chunkcache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by Put and GetOrLoad once the Cache is closed.
var ErrClosed = errors.New("chunkcache: cache is closed")

// Option configures a Cache opened by Open.
type Option func(*options)

type options struct {
	logger *slog.Logger
}

// WithLogger sets the logger for problems the Cache handles itself (a chunk
// file it cannot read or delete, a loaded chunk it could not store). The
// default discards them.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// Stats is a snapshot of a Cache's counters and size.
type Stats struct {
	// Hits counts Get calls (GetOrLoad's included) served from disk.
	Hits uint64
	// Misses counts Get calls that found no usable chunk.
	Misses uint64
	// Loads counts the load functions GetOrLoad started.
	Loads uint64
	// Evictions counts chunks dropped to keep the cache within its budget.
	Evictions uint64
	// Bytes is what the slab files hold: the cached chunks and the earlier
	// values of keys put again (their space is freed with their slab).
	Bytes int64
	// Entries is the number of cached chunks.
	Entries int
	// Files is the number of slab files.
	Files int
}

// Cache is a bounded cache of chunks stored in slab files in one directory.
// All methods are safe for concurrent use.
//
// A Put appends its chunk to the newest slab (one pwrite); a slab takes
// chunks until the next would take it past slabBytes, and then a new one is
// created. When the slabs together exceed the budget, the oldest slab goes,
// with every chunk in it: eviction is first in, first out by slab. Creating
// a file per chunk, as this package first did, cost 0.2–0.4 ms of kernel
// time per 256 KiB chunk on this project's machines, half the broker's CPU
// in a remote catch-up read (bench/README.md "Remote fetch: read-ahead and
// slab files").
//
// How concurrent use stays correct: slabs are append-only, so the bytes an
// entry points to never change while the entry exists; putting a key again
// appends the new value and repoints the key. A reader finds the entry and
// takes a reference on its slab under c.mu and reads outside it; the slab's
// file is closed only when its last reference goes, so a slab evicted (and
// unlinked) meanwhile is still read whole. A crash leaves slab files that the
// next Open deletes.
type Cache struct {
	dir       string
	maxBytes  int64
	slabBytes int64
	log       *slog.Logger

	hits, misses, loadsRun, evictions atomic.Uint64

	// wmu serialises Puts: the append to the newest slab and the creation
	// of the next one happen under it, with c.mu not held.
	wmu sync.Mutex
	cur *slab  // the slab Puts append to (guarded by wmu)
	seq uint64 // slab file numbers, never reused (guarded by wmu)

	// mu guards the index. No file I/O happens with it held.
	mu struct {
		sync.Mutex
		closed  bool
		entries map[string]*entry
		slabs   []*slab          // oldest first
		bytes   int64            // sum of the slabs' sizes
		loads   map[string]*call // in-flight GetOrLoad loads by key
	}
}

// slab is one file of appended chunks.
type slab struct {
	name string
	f    *os.File
	refs atomic.Int32 // the cache's and one per read in progress; 0 closes f
	// Guarded by Cache.mu.
	size int64    // bytes appended
	keys []string // keys put into it (some may have been put again since)
}

func (s *slab) release() {
	if s.refs.Add(-1) == 0 {
		_ = s.f.Close()
	}
}

// entry is one cached chunk. Its fields never change after it is published.
type entry struct {
	slab      *slab
	off, size int64
}

// call is one in-flight load shared by the GetOrLoad callers of a key.
type call struct {
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed once data and err are set

	waiters int // guarded by Cache.mu: callers still waiting for done

	// Set before done is closed, read only after.
	data      []byte
	err       error
	exclusive bool // a single waiter was left: it may have data itself
}

// maxSlabBytes is the largest slab; a smaller budget gets slabs of a
// sixteenth of it, so that eviction frees space in steps of that size.
const maxSlabBytes = 32 << 20

// Open returns an empty Cache that keeps at most maxBytes of chunks in dir.
// It creates dir if missing and deletes the files a previous Cache left
// there. Only file names this package creates are deleted: anything else
// found in dir is left alone (and logged), so a mistyped dir cannot wipe
// unrelated data. dir must not be shared with another Cache.
func Open(dir string, maxBytes int64, opts ...Option) (*Cache, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("chunkcache: max bytes is %d: want a positive size", maxBytes)
	}
	o := options{logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("chunkcache: create dir: %w", err)
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("chunkcache: read dir: %w", err)
	}
	for _, de := range des {
		if ours := isSlabFileName(de.Name()) || isChunkFileName(de.Name()); !ours || !de.Type().IsRegular() {
			o.logger.Warn("chunkcache: leaving a file it did not create", "dir", dir, "name", de.Name())
			continue
		}
		if err := os.Remove(filepath.Join(dir, de.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("chunkcache: remove leftover chunk: %w", err)
		}
	}
	c := &Cache{dir: dir, maxBytes: maxBytes, slabBytes: min(maxSlabBytes, maxBytes/16), log: o.logger}
	c.mu.entries = make(map[string]*entry)
	c.mu.loads = make(map[string]*call)
	return c, nil
}

// Get returns the chunk cached under key. The returned slice is the
// caller's to keep and modify. A chunk that cannot be read whole (its file
// truncated behind the cache's back, say) is a miss and its entry is
// dropped. After Close every Get misses.
func (c *Cache) Get(key string) ([]byte, bool) {
	c.mu.Lock()
	e, ok := c.mu.entries[key]
	if !ok || c.mu.closed {
		c.mu.Unlock()
		c.misses.Add(1)
		return nil, false
	}
	e.slab.refs.Add(1)
	c.mu.Unlock()

	data := make([]byte, e.size)
	_, err := e.slab.f.ReadAt(data, e.off)
	e.slab.release()
	if err != nil {
		c.misses.Add(1)
		c.log.Warn("chunkcache: dropping unreadable chunk", "key", key, "err", err)
		c.drop(key, e)
		return nil, false
	}
	c.hits.Add(1)
	return data, true
}

// Contains reports whether a chunk is cached under key, without reading it
// (a read-ahead asks before it loads).
func (c *Cache) Contains(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.mu.entries[key]
	return ok && !c.mu.closed
}

// drop removes key's entry if it is still e (a concurrent Put may have
// replaced it). Its bytes stay in the slab until the slab goes.
func (c *Cache) drop(key string, e *entry) {
	c.mu.Lock()
	if c.mu.entries[key] == e {
		delete(c.mu.entries, key)
	}
	c.mu.Unlock()
}

// Put caches data under key, replacing what was cached there, then evicts
// the oldest slabs until the total fits in the budget. Put does not keep
// data. A value larger than the whole budget is not cached (and whatever
// key held before is dropped, so Get never returns an older value): Put
// returns nil. After Close, Put returns ErrClosed.
func (c *Cache) Put(key string, data []byte) error {
	size := int64(len(data))
	if size > c.maxBytes {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.mu.closed {
			return ErrClosed
		}
		delete(c.mu.entries, key)
		return nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	s, err := c.slabFor(size)
	if err != nil {
		return err
	}
	defer s.release()
	c.mu.Lock()
	off := s.size
	c.mu.Unlock()
	// Only Puts (serialised by wmu) append, so nothing else writes here; a
	// failed write leaves the slab's size as it was.
	if _, err := s.f.WriteAt(data, off); err != nil {
		return fmt.Errorf("chunkcache: write slab %s: %w", s.name, err)
	}

	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	s.size += size
	s.keys = append(s.keys, key)
	c.mu.bytes += size
	c.mu.entries[key] = &entry{slab: s, off: off, size: size}
	// Evict the oldest slabs; the newest (s) is never evicted, and alone it
	// fits: it takes a chunk past slabBytes ≤ maxBytes only when empty.
	var victims []*slab
	for c.mu.bytes > c.maxBytes && len(c.mu.slabs) > 1 {
		v := c.mu.slabs[0]
		c.mu.slabs = slices.Delete(c.mu.slabs, 0, 1)
		c.mu.bytes -= v.size
		for _, k := range v.keys {
			if e, ok := c.mu.entries[k]; ok && e.slab == v {
				delete(c.mu.entries, k)
				c.evictions.Add(1)
			}
		}
		victims = append(victims, v)
	}
	c.mu.Unlock()

	for _, v := range victims {
		c.retire(v)
	}
	return nil
}

// slabFor returns the slab a chunk of size bytes goes to, creating a new
// one when the current one is full, with a reference for the writer (so a
// Close meanwhile cannot close the file under the write). The caller holds
// wmu and releases the reference.
func (c *Cache) slabFor(size int64) (*slab, error) {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if s := c.cur; s != nil && (s.size == 0 || s.size+size <= c.slabBytes) {
		s.refs.Add(1)
		c.mu.Unlock()
		return s, nil
	}
	c.mu.Unlock()
	c.seq++
	s := &slab{name: slabFileName(c.seq)}
	f, err := os.OpenFile(filepath.Join(c.dir, s.name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("chunkcache: create slab file: %w", err)
	}
	s.f = f
	s.refs.Store(2) // the cache's and the writer's
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		c.retire(s)
		s.release()
		return nil, ErrClosed
	}
	c.mu.slabs = append(c.mu.slabs, s)
	c.mu.Unlock()
	c.cur = s
	return s, nil
}

// retire deletes an evicted slab's file and drops the cache's reference;
// reads in progress finish from the open file.
func (c *Cache) retire(s *slab) {
	if err := os.Remove(filepath.Join(c.dir, s.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Warn("chunkcache: removing a slab file failed", "name", s.name, "err", err)
	}
	s.release()
}

// GetOrLoad returns the chunk cached under key or, on a miss, the result of
// load, which it then caches (a failure to cache is logged, not returned). A
// load error is returned and nothing is cached, so the next call loads again.
//
// At most one load per key runs at a time: callers that miss while a load of
// their key is in flight wait for its result instead of starting another. Each
// caller waits only as long as its own ctx allows and then returns ctx.Err().
// The load runs on its own goroutine with a context that carries the values
// of the ctx of the caller that started it but not its cancellation: it is
// cancelled when every caller waiting for it has given up, or by Close. The
// returned slice is the caller's to keep and modify.
func (c *Cache) GetOrLoad(ctx context.Context, key string, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	if data, ok := c.Get(key); ok {
		return data, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	cl, ok := c.mu.loads[key]
	if ok {
		cl.waiters++
	} else {
		lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		cl = &call{ctx: lctx, cancel: cancel, done: make(chan struct{}), waiters: 1}
		c.mu.loads[key] = cl
		c.loadsRun.Add(1)
		go c.runLoad(key, cl, load)
	}
	c.mu.Unlock()

	select {
	case <-cl.done:
		if cl.err != nil {
			return nil, cl.err
		}
		if cl.exclusive {
			return cl.data, nil
		}
		// Others read cl.data too: a caller modifying its result must not
		// change theirs.
		return append([]byte(nil), cl.data...), nil
	case <-ctx.Done():
		c.mu.Lock()
		cl.waiters--
		if cl.waiters == 0 {
			// Nobody wants the result any more: stop the load, and let the next
			// caller start a fresh one rather than join a cancelled one.
			cl.cancel()
			if c.mu.loads[key] == cl {
				delete(c.mu.loads, key)
			}
		}
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

func (c *Cache) runLoad(key string, cl *call, load func(ctx context.Context) ([]byte, error)) {
	defer cl.cancel()
	data, err := load(cl.ctx)
	if err == nil {
		// Cache before waking the waiters: they may modify the slice they get.
		if perr := c.Put(key, data); perr != nil && !errors.Is(perr, ErrClosed) {
			c.log.Warn("chunkcache: caching a loaded chunk failed", "key", key, "err", perr)
		}
	}
	c.mu.Lock()
	if c.mu.loads[key] == cl {
		delete(c.mu.loads, key)
	}
	// Out of the map, cl gains no waiters; it can only lose some. So if at
	// most one is left now, nobody else will ever read data.
	cl.exclusive = cl.waiters <= 1
	c.mu.Unlock()
	cl.data, cl.err = data, err
	close(cl.done)
}

// Stats returns a snapshot of the counters and the current size. The counters
// are read one by one, so under concurrent use they need not add up exactly.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	bytes, n, files := c.mu.bytes, len(c.mu.entries), len(c.mu.slabs)
	c.mu.Unlock()
	return Stats{
		Hits:      c.hits.Load(),
		Misses:    c.misses.Load(),
		Loads:     c.loadsRun.Load(),
		Evictions: c.evictions.Load(),
		Bytes:     bytes,
		Entries:   n,
		Files:     files,
	}
}

// Close empties the cache, deleting its files, and cancels the contexts of
// in-flight loads (their waiters get whatever the load then returns). Later
// calls fail cleanly: Get misses, Put and GetOrLoad return ErrClosed, Close
// returns nil. Close does not wait for running Get or Put calls: a read in
// progress finishes from the open file; a Put returns ErrClosed.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil
	}
	c.mu.closed = true
	slabs := c.mu.slabs
	c.mu.slabs = nil
	clear(c.mu.entries)
	c.mu.bytes = 0
	for _, cl := range c.mu.loads {
		cl.cancel()
	}
	c.mu.Unlock()

	var errs []error
	for _, s := range slabs {
		if err := os.Remove(filepath.Join(c.dir, s.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		s.release()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("chunkcache: close: %w", err)
	}
	return nil
}

const slabSuffix = ".slab"

// slabFileName names slab file n: 16 hex digits and a suffix.
func slabFileName(n uint64) string { return fmt.Sprintf("%016x%s", n, slabSuffix) }

// isSlabFileName reports whether name has the shape slabFileName gives.
func isSlabFileName(name string) bool {
	hex, ok := strings.CutSuffix(name, slabSuffix)
	return ok && len(hex) == 16 && isLowerHex(hex)
}

// isChunkFileName reports whether name is a chunk file of this package's
// earlier format (a file per chunk: 32 hex digits of the key's hash, '-',
// 16 of a sequence number), which Open deletes like its own leftovers.
func isChunkFileName(name string) bool {
	const hashHexLen, seqHexLen = 32, 16
	return len(name) == hashHexLen+1+seqHexLen && name[hashHexLen] == '-' &&
		isLowerHex(name[:hashHexLen]) && isLowerHex(name[hashHexLen+1:])
}

func isLowerHex(s string) bool {
	for i := range len(s) {
		if ch := s[i]; (ch < '0' || ch > '9') && (ch < 'a' || ch > 'f') {
			return false
		}
	}
	return true
}

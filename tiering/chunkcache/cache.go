package chunkcache

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
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
	// Bytes is the size of the cached chunks.
	Bytes int64
	// Entries is the number of cached chunks.
	Entries int
}

// Cache is a bounded, least-recently-used cache of chunks stored as files in
// one directory. All methods are safe for concurrent use.
//
// How concurrent use stays correct: every Put writes its chunk to a file name
// nobody has used before (the key's hash plus a per-Cache sequence number,
// created with O_EXCL) and only then, under c.mu, makes it the key's entry.
// A file is never rewritten after that, only deleted (when the entry is
// replaced, evicted or dropped). Get looks the entry up under c.mu and reads
// the file outside it, so a concurrent Put or eviction can only make that read
// fail with "not found" (a miss), never return another value's bytes or a
// partly written file. This gives what a temporary file plus rename would, one
// syscall cheaper; a file left half written by a crash is deleted by the next
// Open like every other leftover.
type Cache struct {
	dir      string
	maxBytes int64
	log      *slog.Logger

	seq                               atomic.Uint64 // file name suffixes, never reused
	hits, misses, loadsRun, evictions atomic.Uint64

	// mu is the only lock; nothing in this package takes another one. No file
	// I/O happens with it held.
	mu struct {
		sync.Mutex
		closed  bool
		entries map[string]*list.Element // key → element of lru holding *entry
		lru     list.List                // front: most recently used
		bytes   int64                    // sum of the entries' sizes
		loads   map[string]*call         // in-flight GetOrLoad loads by key
	}
}

// entry is one cached chunk. Its fields never change after it is published.
type entry struct {
	key  string
	name string // file name in dir; unique for the life of the Cache
	size int64
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

// Open returns an empty Cache that keeps at most maxBytes of chunks in dir.
// It creates dir if missing and deletes the chunk files a previous Cache left
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
		if !isChunkFileName(de.Name()) || !de.Type().IsRegular() {
			o.logger.Warn("chunkcache: leaving a file it did not create", "dir", dir, "name", de.Name())
			continue
		}
		if err := os.Remove(filepath.Join(dir, de.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("chunkcache: remove leftover chunk: %w", err)
		}
	}
	c := &Cache{dir: dir, maxBytes: maxBytes, log: o.logger}
	c.mu.entries = make(map[string]*list.Element)
	c.mu.loads = make(map[string]*call)
	return c, nil
}

// Get returns the chunk cached under key and marks it most recently used.
// The returned slice is the caller's to keep and modify. A chunk whose file
// cannot be read (deleted behind the cache's back, say) is a miss and its
// entry is dropped. After Close every Get misses.
func (c *Cache) Get(key string) ([]byte, bool) {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil, false
	}
	el, ok := c.mu.entries[key]
	if !ok {
		c.mu.Unlock()
		c.misses.Add(1)
		return nil, false
	}
	c.mu.lru.MoveToFront(el)
	e := el.Value.(*entry)
	c.mu.Unlock()

	data, err := c.read(e)
	if err != nil {
		c.misses.Add(1)
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("chunkcache: dropping unreadable chunk", "key", key, "err", err)
		}
		c.drop(e)
		return nil, false
	}
	c.hits.Add(1)
	return data, true
}

// read reads e's file into a new slice. A short file is an error.
func (c *Cache) read(e *entry) ([]byte, error) {
	f, err := os.Open(filepath.Join(c.dir, e.name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data := make([]byte, e.size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("read %s: %w", e.name, err)
	}
	return data, nil
}

// drop removes e from the index if it is still the entry of its key (a
// concurrent Put may have replaced it) and deletes its file.
func (c *Cache) drop(e *entry) {
	c.mu.Lock()
	if el, ok := c.mu.entries[e.key]; ok && el.Value.(*entry) == e {
		c.removeLocked(el)
	}
	c.mu.Unlock()
	c.remove(e.name)
}

// Put caches data under key, replacing what was cached there, then evicts
// least recently used chunks until the total fits in the budget. Put does not
// keep data. A value larger than the whole budget is not cached (and whatever
// key held before is dropped, so Get never returns an older value): Put
// returns nil. After Close, Put returns ErrClosed.
func (c *Cache) Put(key string, data []byte) error {
	size := int64(len(data))
	if size > c.maxBytes {
		c.mu.Lock()
		if c.mu.closed {
			c.mu.Unlock()
			return ErrClosed
		}
		var stale string
		if el, ok := c.mu.entries[key]; ok {
			stale = el.Value.(*entry).name
			c.removeLocked(el)
		}
		c.mu.Unlock()
		if stale != "" {
			c.remove(stale)
		}
		return nil
	}
	if c.isClosed() {
		return ErrClosed
	}

	e := &entry{key: key, name: fileName(key, c.seq.Add(1)), size: size}
	if err := c.write(e.name, data); err != nil {
		return err
	}

	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		c.remove(e.name)
		return ErrClosed
	}
	var victims []string
	if el, ok := c.mu.entries[key]; ok {
		victims = append(victims, el.Value.(*entry).name)
		c.removeLocked(el)
	}
	c.mu.entries[key] = c.mu.lru.PushFront(e)
	c.mu.bytes += size
	// e is at the front and no larger than the budget, so this stops before
	// reaching it.
	for c.mu.bytes > c.maxBytes {
		el := c.mu.lru.Back()
		victims = append(victims, el.Value.(*entry).name)
		c.removeLocked(el)
		c.evictions.Add(1)
	}
	c.mu.Unlock()

	for _, name := range victims {
		c.remove(name)
	}
	return nil
}

func (c *Cache) write(name string, data []byte) error {
	path := filepath.Join(c.dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("chunkcache: create chunk file: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		c.remove(name)
		return fmt.Errorf("chunkcache: write chunk file: %w", err)
	}
	return nil
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
	bytes, n := c.mu.bytes, len(c.mu.entries)
	c.mu.Unlock()
	return Stats{
		Hits:      c.hits.Load(),
		Misses:    c.misses.Load(),
		Loads:     c.loadsRun.Load(),
		Evictions: c.evictions.Load(),
		Bytes:     bytes,
		Entries:   n,
	}
}

// Close empties the cache, deleting its files, and cancels the contexts of
// in-flight loads (their waiters get whatever the load then returns). Later
// calls fail cleanly: Get misses, Put and GetOrLoad return ErrClosed, Close
// returns nil. Close does not wait for running Get or Put calls; a Put that
// finishes writing after Close deletes its own file.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil
	}
	c.mu.closed = true
	names := make([]string, 0, len(c.mu.entries))
	for el := c.mu.lru.Front(); el != nil; el = el.Next() {
		names = append(names, el.Value.(*entry).name)
	}
	clear(c.mu.entries)
	c.mu.lru.Init()
	c.mu.bytes = 0
	for _, cl := range c.mu.loads {
		cl.cancel()
	}
	c.mu.Unlock()

	var errs []error
	for _, name := range names {
		if err := os.Remove(filepath.Join(c.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("chunkcache: close: %w", err)
	}
	return nil
}

func (c *Cache) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.closed
}

// removeLocked takes el out of the index; the caller deletes its file after
// unlocking.
func (c *Cache) removeLocked(el *list.Element) {
	e := c.mu.lru.Remove(el).(*entry)
	delete(c.mu.entries, e.key)
	c.mu.bytes -= e.size
}

// remove deletes a chunk file that is no longer (or not yet) in the index.
func (c *Cache) remove(name string) {
	if err := os.Remove(filepath.Join(c.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Warn("chunkcache: removing a chunk file failed", "name", name, "err", err)
	}
}

const (
	hashHexLen = 32 // hex digits of the key's SHA-256 kept in a file name
	seqHexLen  = 16 // hex digits of the sequence number
)

// fileName names a chunk file: the truncated hash of its key (so any key is a
// safe name and files of one key sort together) and a sequence number that
// makes the name unique for the life of the Cache.
func fileName(key string, seq uint64) string {
	sum := sha256.Sum256([]byte(key))
	return fmt.Sprintf("%x-%0*x", sum[:hashHexLen/2], seqHexLen, seq)
}

// isChunkFileName reports whether name has the shape fileName gives.
func isChunkFileName(name string) bool {
	if len(name) != hashHexLen+1+seqHexLen || name[hashHexLen] != '-' {
		return false
	}
	for i := range len(name) {
		if i == hashHexLen {
			continue
		}
		if ch := name[i]; (ch < '0' || ch > '9') && (ch < 'a' || ch > 'f') {
			return false
		}
	}
	return true
}

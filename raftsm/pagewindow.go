package raftsm

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// pageWindow bounds how much of the batch files the page cache keeps: the
// regions a store has handed to writeback, newest last, up to max bytes;
// past that the oldest region's pages are dropped once written (by a
// goroutine of its own, so the state machines never wait for the disk).
//
// Left to the kernel, the batch files would fill memory with page cache:
// every page they write is then a page the kernel takes anew, which here
// costs ~1 s of kernel CPU per GiB against ~0.25 s for a page just freed,
// and with memory full the writer reclaims first (bench/README.md "Page
// window for the batch files"). Recent batches are what consumers at the
// tail read; a consumer further back reads from the disk.
type pageWindow struct {
	max  int64
	drop func(f vfs.File, off, n int64) // dropPages; tests record the calls

	mu      sync.Mutex
	cond    *sync.Cond
	kept    []pageRegion // written back or being written, oldest first
	keptN   int64        // bytes in kept
	pending []pageRegion // to drop, oldest first
	closed  bool
	done    chan struct{}
	dropped atomic.Int64 // bytes whose pages were dropped
}

// pageRegion is a byte range of a batch file, with a reference held on it.
type pageRegion struct {
	f      *batchFile
	off, n int64
}

// newPageWindow starts a window of maxBytes that drops pages with drop
// (dropPages; tests record the calls).
func newPageWindow(maxBytes int64, drop func(f vfs.File, off, n int64)) *pageWindow {
	w := &pageWindow{max: maxBytes, drop: drop, done: make(chan struct{})}
	w.cond = sync.NewCond(&w.mu)
	go w.run()
	return w
}

// add records that [off, off+n) of f went to writeback, and hands the
// oldest regions to the dropper while the window holds more than max.
func (w *pageWindow) add(f *batchFile, off, n int64) {
	f.refs.Add(1)
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		f.release()
		return
	}
	w.kept = append(w.kept, pageRegion{f: f, off: off, n: n})
	w.keptN += n
	handed := false
	for w.keptN > w.max && len(w.kept) > 0 {
		r := w.kept[0]
		w.kept[0] = pageRegion{}
		w.kept = w.kept[1:]
		w.keptN -= r.n
		w.pending = append(w.pending, r)
		handed = true
	}
	w.mu.Unlock()
	if handed {
		w.cond.Signal()
	}
}

// forget lets go of the regions kept of files, which their partition no
// longer lists (deleted, or closed with the partition): holding them would
// keep a deleted file's disk space until newer writes pushed them out.
func (w *pageWindow) forget(files []*batchFile) {
	w.mu.Lock()
	var gone []pageRegion
	w.kept = slices.DeleteFunc(w.kept, func(r pageRegion) bool {
		if slices.Contains(files, r.f) {
			gone = append(gone, r)
			w.keptN -= r.n
			return true
		}
		return false
	})
	w.mu.Unlock()
	for _, r := range gone {
		r.f.release()
	}
}

func (w *pageWindow) run() {
	defer close(w.done)
	var batch []pageRegion
	for {
		w.mu.Lock()
		for len(w.pending) == 0 && !w.closed {
			w.cond.Wait()
		}
		if len(w.pending) == 0 { // closed and drained
			w.mu.Unlock()
			return
		}
		batch, w.pending = w.pending, batch[:0]
		w.mu.Unlock()
		for i, r := range batch {
			w.drop(r.f.f, r.off, r.n)
			w.dropped.Add(r.n)
			r.f.release()
			batch[i] = pageRegion{}
		}
	}
}

// close drops what is pending, stops the dropper and releases the regions
// still kept (their pages stay cached until the kernel reclaims them).
func (w *pageWindow) close() {
	w.mu.Lock()
	w.closed = true
	kept := w.kept
	w.kept, w.keptN = nil, 0
	w.mu.Unlock()
	w.cond.Signal()
	<-w.done
	for _, r := range kept {
		r.f.release()
	}
}

// PageCacheStats describes a store's page window.
type PageCacheStats struct {
	KeptBytes    int64 // newest batch bytes written back whose pages are kept
	DroppedBytes int64 // batch bytes whose pages were dropped, since the store opened
}

// PageCacheStats returns the page window's figures; zero when the store
// has none (storage.batch-page-cache-bytes = 0).
func (s *Store) PageCacheStats() PageCacheStats {
	w := s.window
	if w == nil {
		return PageCacheStats{}
	}
	w.mu.Lock()
	kept := w.keptN
	w.mu.Unlock()
	return PageCacheStats{KeptBytes: kept, DroppedBytes: w.dropped.Load()}
}

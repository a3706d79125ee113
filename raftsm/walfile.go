package raftsm

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// The state store's Pebble writes its WAL, so that Sync — which Dragonboat
// calls before every snapshot, holding the state machine's lock — is an
// fdatasync of the batch files and of the WAL rather than a memtable flush
// (bench/README.md "State store WAL"). State in the WAL points into the batch
// files like state in a table, so it must not become durable before the
// bytes it points to: the WAL files Pebble writes keep what it writes in
// memory, and hand it to the file only after every batch file written until
// then is synced (Store.syncBatchFiles). The kernel can then write WAL pages
// back in any order and at any time without a crash leaving state that
// points past durable batch bytes. What a crash of the process takes with it
// is what the WAL held in memory: state applied since the last Sync, which
// the Raft log replays, as it did when the state lived in the memtable only.

// walWriteOutBytes is how much WAL a file keeps in memory before it writes
// it out without waiting for a Sync (batch files synced first): a store
// whose partitions take few snapshots would otherwise hold its WAL since the
// last one.
const walWriteOutBytes = 1 << 20

// walPreallocateBytes caps how much of a WAL file is preallocated. Pebble
// preallocates 110 % of the memtable size (70 MiB) per WAL file, and keeps
// old WAL files for reuse with their blocks: its first memtables are small
// (256 KiB and doubling), so a young store held ~210 MiB of disk for a
// few hundred KiB of WAL. This store syncs its WAL at snapshots, not at
// every write, so growing the file costs little.
const walPreallocateBytes = 4 << 20

// walFS is the store's FS for Pebble: the WAL files it creates are walFiles.
type walFS struct {
	vfs.FS
	syncBatches   func() error     // Store.syncBatchFiles
	created       func(f *walFile) // told of each new WAL file (Store.wal)
	writeOutBytes int              // walWriteOutBytes; tests lower it
}

func (fs walFS) wrap(f vfs.File) vfs.File {
	w := &walFile{File: f, syncBatches: fs.syncBatches, writeOutBytes: fs.writeOutBytes}
	if fs.created != nil {
		fs.created(w)
	}
	return w
}

// isWAL reports whether name is a Pebble WAL file ("000123.log").
func isWAL(name string) bool { return strings.HasSuffix(name, ".log") }

func (fs walFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	if err != nil || !isWAL(name) {
		return f, err
	}
	return fs.wrap(f), nil
}

func (fs walFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	if err != nil || !isWAL(newname) {
		return f, err
	}
	return fs.wrap(f), nil
}

// walFile is a WAL file whose writes wait in memory for the batch files (see
// the top of this file). Pebble writes a WAL sequentially from one
// goroutine; Sync, SyncData, SyncTo and Close write out what it wrote, then
// do what they say.
type walFile struct {
	vfs.File
	syncBatches   func() error
	writeOutBytes int

	mu      sync.Mutex // guards pending
	pending []byte     // written by Pebble, not yet to the file

	out      sync.Mutex // held while writing out: writes reach the file in order
	spare    []byte     // the buffer the last write-out emptied, reused (under out)
	closed   bool       // under out
	err      error      // the first failed write-out: the file is broken (under out)
	flushing atomic.Bool
}

// Write keeps p until the next write-out; from writeOutBytes on it starts
// one in the background. Like the other writes here it never fails: a
// failed write-out is reported by the Sync or Close that follows.
func (f *walFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	f.pending = append(f.pending, p...)
	n := len(f.pending)
	f.mu.Unlock()
	if n >= f.writeOutBytes && f.flushing.CompareAndSwap(false, true) {
		go func() {
			defer f.flushing.Store(false)
			_ = f.writeOut()
		}()
	}
	return len(p), nil
}

// writeOut syncs the batch files, then writes what Pebble wrote so far to
// the file (without syncing it).
func (f *walFile) writeOut() error {
	f.out.Lock()
	defer f.out.Unlock()
	if f.err != nil || f.closed {
		return f.err
	}
	f.mu.Lock()
	data := f.pending
	f.pending = f.spare[:0]
	f.mu.Unlock()
	if len(data) == 0 {
		f.spare = data
		return nil
	}
	if err := f.syncBatches(); err != nil {
		f.err = err
		return err
	}
	if _, err := f.File.Write(data); err != nil {
		f.err = err
		return err
	}
	f.spare = data[:0]
	return nil
}

// Preallocate preallocates no further than walPreallocateBytes.
func (f *walFile) Preallocate(offset, length int64) error {
	if offset >= walPreallocateBytes {
		return nil
	}
	return f.File.Preallocate(offset, min(length, walPreallocateBytes-offset))
}

func (f *walFile) Sync() error {
	if err := f.writeOut(); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *walFile) SyncData() error {
	if err := f.writeOut(); err != nil {
		return err
	}
	return f.File.SyncData()
}

func (f *walFile) SyncTo(length int64) (bool, error) {
	if err := f.writeOut(); err != nil {
		return false, err
	}
	return f.File.SyncTo(length)
}

func (f *walFile) Close() error {
	err := f.writeOut()
	f.out.Lock()
	f.closed = true
	f.out.Unlock()
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	return err
}

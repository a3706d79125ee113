package raftsm

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Record batches live outside Pebble, in append-only files of their
// partition (one directory per partition shard under the store's batches
// directory); the 'b' key of a batch holds a batchRef to them. Pebble copied
// each batch four times in user space and wrote it again at every memtable
// flush: an RF3 follower spent 37–45 % of its CPU there. Appended to a file
// with one write per command, RF3 produce ran 14–39 % faster, RF1 17–50 %
// (bench/README.md "Record batches in files").
//
// A file is named by the partition's byte position (bytes ever appended) of
// its first byte, so a batch at position pos lives in the last file whose
// name is ≤ pos, at pos minus that name. Files roll at batchFileSize and go
// as a whole once every batch in them is below the local start and that
// start is durable (dropBelow).
//
// Durability: batch files are written without fsync, like the state store.
// Before state that points into them can become durable, the store fsyncs
// every file written since the last such sync (Store.syncBatchFiles): before
// a Pebble flush's first table (its first TableCreated event), and before
// the WAL hands Pebble's writes to its file (walfile.go). So durable state
// never points past durable batch bytes. After a crash, Open ignores
// whatever a file holds past the durable state's byte position, and the
// Raft log's replay writes the same bytes again.
const batchFileSize = 64 << 20 // Store.batchFileSize, which tests lower

// batchRefSize is the length of a 'b' value that refers to a batch file.
// Stores written before the files hold the batch itself (at least
// batchHeaderSize bytes) and are read as they are.
const batchRefSize = 16

// batchRef locates a batch in its partition's files.
type batchRef struct {
	pos       int64 // byte position of the batch's first byte
	size      int32
	lastDelta int32 // the batch's lastOffsetDelta, for lookups that need no bytes
}

// put encodes r into v[:batchRefSize].
func (r batchRef) put(v []byte) {
	binary.BigEndian.PutUint64(v, uint64(r.pos))
	binary.BigEndian.PutUint32(v[8:], uint32(r.size))
	binary.BigEndian.PutUint32(v[12:], uint32(r.lastDelta))
}

func decodeBatchRef(v []byte) batchRef {
	return batchRef{
		pos:       int64(binary.BigEndian.Uint64(v)),
		size:      int32(binary.BigEndian.Uint32(v[8:])),
		lastDelta: int32(binary.BigEndian.Uint32(v[12:])),
	}
}

// batchFile is one file of a partition's batches. Readers and snapshots
// hold a reference while they read, so a file dropped meanwhile (unlinked
// at once) is closed only when the last of them is done.
type batchFile struct {
	first int64 // byte position of its first byte
	path  string
	f     vfs.File
	refs  atomic.Int64 // the owner's (while listed) plus readers'
	dirty atomic.Bool  // written since the store last synced it
}

func (f *batchFile) release() {
	if f.refs.Add(-1) == 0 {
		_ = f.f.Close()
	}
}

// batchFiles is one partition's set of batch files. append, open, drop
// and close run on the state machine's Update goroutine (or while it is
// excluded); acquire and read may run on any goroutine.
type batchFiles struct {
	store *Store
	dir   string
	end   int64 // position after the last byte written (Update goroutine)
	// wbFrom is the position from which no writeback has been started.
	wbFrom int64
	// dirSynced says the directory and its parents' entries are durable.
	dirSynced bool
	// rollNext makes the next append start a new file (after skipTo).
	rollNext bool
	// installs counts files installed below the end (install): a reader
	// whose file list predates one may find no file at a new position.
	installs atomic.Uint64

	mu    sync.RWMutex
	files []*batchFile // ascending by first
}

func newBatchFiles(store *Store, shardID uint64) *batchFiles {
	return &batchFiles{store: store, dir: store.batchDir(shardID)}
}

func batchFileName(first int64) string { return fmt.Sprintf("%020d.batches", first) }

// open (re)loads the partition's files for a durable state whose byte
// position is end: files starting at or past end hold only bytes written
// after the last sync (a crash lost their state) and are removed; so are
// files wholly below start, whose removal a crash interrupted.
func (s *batchFiles) open(start, end int64) error {
	s.close()
	s.end, s.wbFrom, s.dirSynced, s.rollNext = end, end, false, false
	names, err := s.store.fs.List(s.dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("raftsm: list batch files: %w", err)
	}
	var firsts []int64
	for _, n := range names {
		if first, ok := parseBatchFileName(n); ok {
			firsts = append(firsts, first)
		}
		if strings.HasSuffix(n, ".tmp") { // an unfinished compaction's output
			if err := s.store.fs.Remove(s.store.fs.PathJoin(s.dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("raftsm: remove stale compaction output: %w", err)
			}
		}
	}
	slices.Sort(firsts)
	var files []*batchFile
	for i, first := range firsts {
		path := s.store.fs.PathJoin(s.dir, batchFileName(first))
		wholeBelow := i+1 < len(firsts) && firsts[i+1] <= start
		if first >= end || wholeBelow {
			// (One the store was already removing may be gone meanwhile.)
			if err := s.store.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("raftsm: remove stale batch file: %w", err)
			}
			continue
		}
		f, err := s.store.fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
		if err != nil {
			return fmt.Errorf("raftsm: open batch file: %w", err)
		}
		bf := &batchFile{first: first, path: path, f: f}
		bf.refs.Store(1)
		files = append(files, bf)
	}
	s.mu.Lock()
	s.files = files
	s.mu.Unlock()
	return nil
}

func parseBatchFileName(name string) (int64, bool) {
	base, ok := strings.CutSuffix(name, ".batches")
	if !ok || len(base) != 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(base, 10, 64)
	return n, err == nil && n >= 0
}

// append writes data at the end of the partition's files and returns the
// position of its first byte. The data is in the page cache, not durable:
// the comment at the top of this file says how it becomes so.
func (s *batchFiles) append(data []byte) (int64, error) {
	s.mu.RLock()
	var last *batchFile
	if n := len(s.files); n > 0 {
		last = s.files[n-1]
	}
	s.mu.RUnlock()
	if last == nil || s.rollNext || s.end-last.first >= s.store.batchFileSize {
		if last != nil && s.wbFrom < s.end { // the full file's tail
			s.writeBehind(last)
		}
		var err error
		if last, err = s.roll(); err != nil {
			return 0, err
		}
		s.rollNext = false
	}
	pos := s.end
	if _, err := last.f.WriteAt(data, pos-last.first); err != nil {
		return 0, fmt.Errorf("raftsm: write batch file %s: %w", last.path, err)
	}
	s.end += int64(len(data))
	s.store.markDirty(last)
	// Start writing back what accumulated, so that the fsync at the next
	// sync finds little left: otherwise the dirty bytes of every partition
	// since the last one (64 MiB and more each) reach the disk in one burst
	// there, and the Raft log's fdatasyncs queue behind it.
	if s.end-s.wbFrom >= writeBehindBytes {
		s.writeBehind(last)
	}
	return pos, nil
}

// writeBehind starts writing back what f holds from wbFrom to the end, and
// hands the range to the store's page window (pagewindow.go).
func (s *batchFiles) writeBehind(f *batchFile) {
	off, n := s.wbFrom-f.first, s.end-s.wbFrom
	s.store.writeback(f.f, off, n)
	if w := s.store.window; w != nil {
		w.add(f, off, n)
	}
	s.wbFrom = s.end
}

// writeBehindBytes is how much a partition writes to its batch files
// between two requests to start writing them back.
const writeBehindBytes = 1 << 20

// roll starts a new file at the current end. The directory entries are
// made durable at once: a sync may make state pointing into the file
// durable any time after.
func (s *batchFiles) roll() (*batchFile, error) {
	fs := s.store.fs
	if err := fs.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftsm: create batch dir: %w", err)
	}
	path := fs.PathJoin(s.dir, batchFileName(s.end))
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, fmt.Errorf("raftsm: create batch file: %w", err)
	}
	dirs := []string{s.dir}
	if !s.dirSynced { // the first file: the new directories' entries too
		dirs = append(dirs, filepath.Dir(s.dir), filepath.Dir(filepath.Dir(s.dir)))
	}
	for _, d := range dirs {
		if err := syncDir(fs, d); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	s.dirSynced = true
	bf := &batchFile{first: s.end, path: path, f: f}
	bf.refs.Store(1)
	s.mu.Lock()
	s.files = append(s.files, bf)
	s.mu.Unlock()
	return bf, nil
}

// skipTo moves the end to pos (past a compaction pass's gap): the next
// append starts a new file there.
func (s *batchFiles) skipTo(pos int64) {
	s.mu.RLock()
	var last *batchFile
	if n := len(s.files); n > 0 {
		last = s.files[n-1]
	}
	s.mu.RUnlock()
	if last != nil && s.wbFrom < s.end {
		s.writeBehind(last)
	}
	s.end, s.wbFrom, s.rollNext = pos, pos, true
}

// install makes the durable file tmp (a compaction pass's output) the
// batch file starting at position first, below the end: renamed, its
// directory entry synced, and listed in order.
func (s *batchFiles) install(tmp string, first int64) error {
	fs := s.store.fs
	path := fs.PathJoin(s.dir, batchFileName(first))
	if err := fs.Rename(tmp, path); err != nil {
		return fmt.Errorf("raftsm: install compacted batch file: %w", err)
	}
	if err := syncDir(fs, s.dir); err != nil {
		return err
	}
	f, err := fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("raftsm: open compacted batch file: %w", err)
	}
	bf := &batchFile{first: first, path: path, f: f}
	bf.refs.Store(1)
	s.mu.Lock()
	i, found := slices.BinarySearchFunc(s.files, first, func(f *batchFile, first int64) int { return cmp.Compare(f.first, first) })
	if found { // a file a crash left from an earlier attempt: no state refers to it
		old := s.files[i]
		s.files[i] = bf
		defer old.release()
	} else {
		s.files = slices.Insert(s.files, i, bf)
	}
	s.mu.Unlock()
	s.installs.Add(1)
	return nil
}

func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("raftsm: open dir %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("raftsm: sync dir %s: %w", dir, err)
	}
	return nil
}

// dropBelow drops the files wholly below position start (the file holding
// start stays). Readers that hold one keep reading it. The files leave the
// disk once the state that raised the start is durable (Store.removeLater):
// removed at once, a crash of the process before the next sync would bring
// back state whose start lies in files that are gone.
func (s *batchFiles) dropBelow(start int64) {
	s.mu.Lock()
	n := 0
	for n+1 < len(s.files) && s.files[n+1].first <= start {
		n++
	}
	dropped := slices.Clone(s.files[:n])
	s.files = slices.Delete(s.files, 0, n)
	s.mu.Unlock()
	if w := s.store.window; w != nil && len(dropped) > 0 {
		w.forget(dropped)
	}
	paths := make([]string, len(dropped))
	for i, f := range dropped {
		paths[i] = f.path
		f.release()
	}
	s.store.removeLater(paths)
}

// close releases every file (the files stay on disk).
func (s *batchFiles) close() {
	s.mu.Lock()
	files := s.files
	s.files = nil
	s.mu.Unlock()
	if w := s.store.window; w != nil && len(files) > 0 {
		w.forget(files)
	}
	for _, f := range files {
		f.release()
	}
}

// acquire returns the current files with a reference held on each; the
// caller releases them with releaseAll.
func (s *batchFiles) acquire() []*batchFile {
	s.mu.RLock()
	defer s.mu.RUnlock()
	files := slices.Clone(s.files)
	for _, f := range files {
		f.refs.Add(1)
	}
	return files
}

func releaseAll(files []*batchFile) {
	for _, f := range files {
		f.release()
	}
}

// readBatchBytes appends n bytes at position pos, read from files
// (ascending), to dst. A range may span files.
func readBatchBytes(files []*batchFile, dst []byte, pos int64, n int) ([]byte, error) {
	dst = slices.Grow(dst, n)
	for n > 0 {
		i, _ := slices.BinarySearchFunc(files, pos, func(f *batchFile, pos int64) int {
			if f.first <= pos {
				return -1
			}
			return 1
		})
		if i == 0 {
			return dst, fmt.Errorf("raftsm: no batch file holds position %d", pos)
		}
		f := files[i-1]
		chunk := n
		if i < len(files) {
			chunk = int(min(int64(n), files[i].first-pos))
		}
		at := len(dst)
		dst = dst[:at+chunk]
		if _, err := f.f.ReadAt(dst[at:], pos-f.first); err != nil {
			return dst[:at], fmt.Errorf("raftsm: read batch file %s at %d: %w", f.path, pos-f.first, err)
		}
		pos += int64(chunk)
		n -= chunk
	}
	return dst, nil
}

// batchInfo returns the base offset, last offset and stored size of the
// batch whose 'b' key (shard prefix included) is k and value v.
func (p *Partition) batchInfo(k, v []byte) (base, last int64, size int, err error) {
	if len(v) == batchRefSize {
		r := decodeBatchRef(v)
		if len(k) != len(p.prefix)+9 {
			return 0, 0, 0, errShortCommand
		}
		base = int64(binary.BigEndian.Uint64(k[len(p.prefix)+1:]))
		return base, base + int64(r.lastDelta), int(r.size), nil
	}
	if len(v) < batchHeaderSize {
		return 0, 0, 0, fmt.Errorf("raftsm: partition %d: short stored batch", p.shardID)
	}
	base = int64(binary.BigEndian.Uint64(v))
	return base, base + int64(int32(binary.BigEndian.Uint32(v[offLastOffsetDelta:]))), len(v), nil
}

// appendBatch appends the batch stored as v (a batchRef into files, or the
// batch itself) to dst.
func appendBatch(files []*batchFile, dst, v []byte) ([]byte, error) {
	if len(v) != batchRefSize {
		return append(dst, v...), nil
	}
	r := decodeBatchRef(v)
	return readBatchBytes(files, dst, r.pos, int(r.size))
}

// fromSnapshot returns loadShard's value hook for a partition: it writes
// the stream's batches (which carry their bytes) to new files at the byte
// positions they had on the sender, from the state's position of the first
// local batch, and stores references. The state key comes first in the
// stream; one without byte positions (written before they were counted),
// or batches past the positions it counts, stay in Pebble.
func (s *batchFiles) fromSnapshot() func(k, v []byte) ([]byte, error) {
	next := int64(-1) // where the next batch goes; -1: keep batches in Pebble
	var end int64     // the state's byte position after the last batch
	var holes []hole  // positions no batch uses, ascending: batches resume past each
	return func(k, v []byte) ([]byte, error) {
		switch k[0] {
		case keyCompaction: // before the state key and the batches
			c, err := decodeCompactionState(v)
			if err != nil {
				return nil, err
			}
			holes = c.holes
			if c.pending {
				holes = append(holes, hole{c.gapStart, c.gapEnd})
			}
			return v, nil
		case keyState:
			d := dec{b: v}
			d.u64()
			d.i64()
			d.i64()
			d.i64()
			if len(d.b) > 0 {
				end, next = d.i64(), d.i64()
			}
			if d.err != nil || next > end {
				return nil, fmt.Errorf("%w: partition state", errSnapshotFormat)
			}
			s.close() // loadShard removed them
			s.end, s.wbFrom, s.dirSynced = next, next, false
			return v, nil
		case keyBatch:
			if next < 0 {
				return v, nil
			}
			if len(v) < batchHeaderSize {
				return nil, fmt.Errorf("%w: batch of %d bytes", errSnapshotFormat, len(v))
			}
			for len(holes) > 0 && next >= holes[0].start { // the first batch after a compaction's gap
				if next == holes[0].start {
					next = holes[0].end
					s.skipTo(next)
				}
				holes = holes[1:]
			}
			if next+int64(len(v)) > end {
				// More batches than the state counted bytes for (a store
				// from before the counting): the rest stay in Pebble.
				next = -1
				return v, nil
			}
			at, err := s.append(v)
			if err != nil {
				return nil, err
			}
			ref := make([]byte, batchRefSize)
			batchRef{pos: at, size: int32(len(v)), lastDelta: int32(binary.BigEndian.Uint32(v[offLastOffsetDelta:]))}.put(ref)
			next += int64(len(v))
			return ref, nil
		}
		return v, nil
	}
}

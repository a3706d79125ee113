package raftsm

import (
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
	"time"

	"golang.org/x/time/rate"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Store is the broker's state: one Pebble instance shared by every state
// machine, and beside it the partitions' record batch files (batchfiles.go).
// Writes go to the memtable and the WAL without fsync; Sync syncs the batch
// files and the WAL (walfile.go), and Close flushes the memtable. A Sync
// that finds nothing written since the last one returns at once.
type Store struct {
	db            *pebble.DB
	fs            vfs.FS
	batchesDir    string // partitions' batch files (batchfiles.go)
	batchFileSize int64
	writeback     func(f vfs.File, off, n int64) // startWriteback; tests record the calls
	window        *pageWindow                    // nil: the page cache keeps the batch files' pages
	onSync        func(time.Duration)            // StoreOptions.OnSync
	compactionIO  ioLimiter                      // nil: compaction workers are not throttled

	wal    atomic.Pointer[walFile] // the WAL file Pebble writes now
	writes atomic.Uint64           // incremented by every Apply
	synced atomic.Uint64           // value of writes covered by the last Sync
	mu     struct {
		sync.Mutex
		// pending is the flush a flush gave up waiting for (it failed, and
		// Pebble retries it); the next flush waits for it first.
		pending <-chan struct{}
	}
	flushFails   atomic.Uint64 // flushes that ended with an error
	lastFlushErr atomic.Pointer[error]
	failingSince atomic.Int64 // unix ns of the first of the flushes failing now; 0 after a success
	dirty        struct {
		sync.Mutex
		files   map[*batchFile]struct{} // batch files written since their last sync
		flushes map[int]struct{}        // flush jobs that have not created a table yet
	}
	syncingBatches sync.Mutex // held by syncBatchFiles: a call returns only once every file dirty at its start is synced
	removals       struct {
		sync.Mutex
		paths []string // batch files retention dropped, to remove once that state is durable
	}
	removeWake chan struct{} // removeLoop: files wait for a sync
	stop       chan struct{} // closed by Close
	stopped    chan struct{} // closed when removeLoop returns
}

// StoreOptions tunes a Store.
type StoreOptions struct {
	// BatchPageCacheBytes is how much of the record batches written last
	// the page cache keeps; the pages of older ones are dropped once they
	// are on disk (pagewindow.go). 0 leaves them all to the kernel.
	BatchPageCacheBytes int64
	// OnSync, if set, is told how long each Sync that had something to
	// sync took (Dragonboat holds the partition's lock through it at every
	// snapshot).
	OnSync func(time.Duration)
	// CompactionBytesPerSec bounds what the compaction workers of all the
	// store's partitions read and write together, per second (Kafka's
	// log.cleaner.io.max.bytes.per.second); 0 means no bound.
	CompactionBytesPerSec int64
}

// OpenStore opens (or creates) the store of a broker's data dir: the state
// Pebble in dataDir/state and the partitions' batch files in
// dataDir/batches.
func OpenStore(dataDir string, opts StoreOptions) (*Store, error) {
	dir := filepath.Join(dataDir, "state")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftsm: create state dir: %w", err)
	}
	s, err := openStore(dir, vfs.Default)
	if err != nil {
		return nil, err
	}
	if opts.BatchPageCacheBytes > 0 {
		s.window = newPageWindow(opts.BatchPageCacheBytes, dropPages)
	}
	s.onSync = opts.OnSync
	if n := opts.CompactionBytesPerSec; n > 0 {
		// A burst of a second's worth (larger batches wait in parts).
		s.compactionIO = rate.NewLimiter(rate.Limit(n), int(min(n, 1<<30)))
	}
	return s, nil
}

// openStore opens the store with its Pebble in dir and the batch files
// beside it, on fs (tests use vfs.NewCrashableMem to simulate crashes that
// lose unsynced writes).
func openStore(dir string, fs vfs.FS) (*Store, error) {
	s := &Store{
		fs:            fs,
		batchesDir:    fs.PathJoin(filepath.Dir(dir), "batches"),
		batchFileSize: batchFileSize,
		writeback:     startWriteback,
	}
	s.dirty.files = make(map[*batchFile]struct{})
	s.dirty.flushes = make(map[int]struct{})
	s.removeWake, s.stop, s.stopped = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	opts := &pebble.Options{
		FS: walFS{FS: fs, syncBatches: s.syncBatchFiles, created: s.wal.Store, writeOutBytes: walWriteOutBytes},
		// State that points into batch files becomes durable only with
		// the files' bytes (batchfiles.go): a flush syncs them before it
		// writes its first table, the WAL before it writes (walfile.go).
		EventListener: &pebble.EventListener{
			FlushBegin:   s.flushBegin,
			TableCreated: s.tableCreated,
			FlushEnd:     s.flushEnd,
		},
		MemTableSize: 64 << 20,
		Logger:       quietLogger{},
		// Blob files (value separation) need this format; a store made by
		// an older build is upgraded when it opens, after which that build
		// can no longer open it.
		FormatMajorVersion: pebble.FormatValueSeparation,
	}
	// Record batches are stored as the producer sent them, as Kafka does:
	// already compressed by the client, or left uncompressed on purpose.
	// Compressing them again cost 3 % of the broker's CPU on the produce
	// path for nothing with compressed batches (bench/README.md "Profile").
	// Larger files: a flush of the 64 MiB memtable wrote ~20 blob files and
	// as many tables of 2–3 MB, and creating a file costs 0.2–1 ms of
	// kernel time here.
	opts.EnsureDefaults()
	for i := range opts.Levels {
		opts.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	}
	opts.TargetFileSizes[0] = 32 << 20
	for i := 1; i < len(opts.TargetFileSizes); i++ {
		opts.TargetFileSizes[i] = 2 * opts.TargetFileSizes[i-1]
	}
	// Record batches go to blob files when a memtable is flushed and stay
	// there: compactions then rewrite keys and small values (offsets,
	// producer state, indexes) only. Every flush holds keys of every shard
	// that applied since the last one, so its tables overlap all earlier ones
	// and without this each batch is rewritten at every level it passes
	// (bench/README.md "Write amplification": 16 partitions 3.4–3.6 → 2.2
	// bytes written per payload byte).
	opts.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
		return pebble.ValueSeparationPolicy{
			Enabled:     true,
			MinimumSize: 1 << 10, // a batch of a few records; smaller values stay in the table
			// More overlapping blob files than this under one table and a
			// compaction copies the values into new ones, for read locality.
			// At 10 (CockroachDB's value) compactions rewrote about a third
			// of the payload again: 8M 256 B records, one partition, wrote
			// 3.5–4.2 bytes per payload byte against 2.4–2.5 at 100 or 1000,
			// and 64 keyed partitions 3.3 against 2.1; broker CPU per record
			// fell by 25–30 % and catch-up reads did not slow
			// (bench/README.md "Write amplification"). A batch is read whole
			// by its key, so locality across blob files buys little.
			MaxBlobReferenceDepth: 100,
			// Rewrite a blob file to reclaim space once a fifth of it is
			// garbage (records deleted by retention), if it is old enough.
			RewriteMinimumAge:  5 * time.Minute,
			TargetGarbageRatio: 0.2,
		}
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("raftsm: open state pebble in %s: %w", dir, err)
	}
	s.db = db
	go s.removeLoop()
	return s, nil
}

// Close flushes what was applied (so a clean restart replays nothing) and
// closes Pebble.
func (s *Store) Close() error {
	close(s.stop)
	<-s.stopped
	ferr := s.flush()
	if s.window != nil {
		s.window.close()
	}
	if errors.Is(ferr, errFlushFailing) {
		// Pebble's Close would wait for the flush it keeps retrying:
		// leave it open, the process is on its way out. Everything
		// acknowledged is in the Raft log and replays at the next start.
		return ferr
	}
	cerr := s.db.Close()
	if ferr != nil {
		return ferr
	}
	return cerr
}

// Sync makes everything applied so far durable: the batch files, then the
// WAL (walfile.go). Dragonboat calls it before each snapshot with the state
// machine's lock held; a memtable flush there stalled the partition's
// applies for 4–10 ms (bench/README.md "State store WAL").
func (s *Store) Sync() error {
	// Flushes that keep failing (a failed or removed state directory) end
	// a Sync too, though it writes no table: Pebble would otherwise take
	// writes until its memtables are full, then stall every partition.
	if since := s.failingSince.Load(); since != 0 && time.Since(time.Unix(0, since)) >= flushGiveUp {
		return fmt.Errorf("raftsm: sync state: %w", s.flushFailure())
	}
	drop := s.takeRemovals() // dropped by state applied before w is read
	w := s.writes.Load()
	if w == s.synced.Load() {
		s.remove(drop)
		return nil
	}
	start := time.Now()
	if err := s.db.LogData(nil, pebble.Sync); err != nil {
		s.removeLater(drop)
		return fmt.Errorf("raftsm: sync state: %w", err)
	}
	if s.onSync != nil {
		s.onSync(time.Since(start))
	}
	s.remove(drop)
	for {
		old := s.synced.Load()
		if old >= w || s.synced.CompareAndSwap(old, w) {
			return nil
		}
	}
}

// removeLater removes the batch files at paths at the next successful
// Sync or flush, which removeLoop asks for at once.
func (s *Store) removeLater(paths []string) {
	if len(paths) == 0 {
		return
	}
	s.removals.Lock()
	s.removals.paths = append(s.removals.paths, paths...)
	s.removals.Unlock()
	select {
	case s.removeWake <- struct{}{}:
	default:
	}
}

func (s *Store) takeRemovals() []string {
	s.removals.Lock()
	defer s.removals.Unlock()
	paths := s.removals.paths
	s.removals.paths = nil
	return paths
}

// remove removes batch files whose drop is durable. One that fails to go
// (or that a crash kept) is removed by the next Open of its partition.
func (s *Store) remove(paths []string) {
	for _, p := range paths {
		_ = s.fs.Remove(p)
	}
}

// removeLoop syncs the store when retention dropped batch files, so that
// their space comes back within a sync rather than at the next snapshot.
// A failed sync leaves them to the next one.
func (s *Store) removeLoop() {
	defer close(s.stopped)
	for {
		select {
		case <-s.stop:
			return
		case <-s.removeWake:
			_ = s.Sync()
		}
	}
}

// flush writes the memtable to tables, so that the next Open replays no
// WAL, and gives up when flushes keep failing (see flushLocked).
func (s *Store) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	drop := s.takeRemovals()
	if err := s.flushLocked(); err != nil {
		s.removeLater(drop)
		return fmt.Errorf("raftsm: flush state: %w", err)
	}
	s.remove(drop)
	return nil
}

// errFlushFailing marks a Sync or flush that gave up on a flush Pebble
// keeps retrying.
var errFlushFailing = errors.New("a state store flush failed and is being retried")

// flushFailure is errFlushFailing with the last flush's error.
func (s *Store) flushFailure() error {
	if last := s.lastFlushErr.Load(); last != nil {
		return fmt.Errorf("%w: %w", errFlushFailing, *last)
	}
	return errFlushFailing
}

// flushLocked flushes the memtable and waits until the flush is done, or
// until one fails: Pebble retries a failed flush until it succeeds, so a
// data directory whose disk fails or was removed would hold the caller
// (and a broker's stop) forever. The flush goes on in the background, and
// the next call waits for it before it starts another. The caller holds
// s.mu.
func (s *Store) flushLocked() error {
	fails := s.flushFails.Load()
	for {
		if s.mu.pending == nil {
			done, err := s.db.AsyncFlush()
			if err != nil {
				return err
			}
			s.mu.pending = done
			return s.waitFlushLocked(fails)
		}
		// An earlier flush is still being retried; it does not cover
		// what was written since, so another follows it.
		if err := s.waitFlushLocked(fails); err != nil {
			return err
		}
	}
}

// flushGiveUp is how long flushes must keep failing before a flush or a
// Sync gives up on them: a failure that clears sooner (Pebble retries at
// once) only delays a flush.
const flushGiveUp = time.Second

// waitFlushLocked waits for s.mu.pending, or until flushes have failed
// (the count passed fails) for flushGiveUp.
func (s *Store) waitFlushLocked(fails uint64) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var failingSince time.Time
	for {
		select {
		case <-s.mu.pending:
			s.mu.pending = nil
			return nil
		case now := <-tick.C:
			n := s.flushFails.Load()
			switch {
			case n == fails: // no failure since the last look
			case failingSince.IsZero():
				failingSince, fails = now, n
			case now.Sub(failingSince) >= flushGiveUp: // failed again, and for long enough
				return s.flushFailure()
			}
		}
	}
}

// apply commits b without fsync; b must include the shard's applied index.
func (s *Store) apply(b *pebble.Batch) error {
	if err := s.db.Apply(b, pebble.NoSync); err != nil {
		return err
	}
	s.writes.Add(1)
	return nil
}

// DeleteShard removes every key of a shard (used when a topic is deleted,
// a replica is removed or a snapshot replaces the shard's state), then its
// batch files. The deletion is synced before the files go: a crash in
// between would otherwise bring back the shard's state without them.
func (s *Store) DeleteShard(shardID uint64) error {
	lo, hi := shardBounds(shardID)
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(lo, hi, nil); err != nil {
		return err
	}
	if err := s.apply(b); err != nil {
		return err
	}
	if err := s.Sync(); err != nil {
		return fmt.Errorf("raftsm: delete state of shard %d: %w", shardID, err)
	}
	// Files of the shard waiting for a sync go with the directory; a
	// replica added again under this shard ID must not lose its new ones.
	dir := s.batchDir(shardID) + string(filepath.Separator)
	s.removals.Lock()
	s.removals.paths = slices.DeleteFunc(s.removals.paths, func(p string) bool { return strings.HasPrefix(p, dir) })
	s.removals.Unlock()
	if err := s.fs.RemoveAll(s.batchDir(shardID)); err != nil {
		return fmt.Errorf("raftsm: remove batch files of shard %d: %w", shardID, err)
	}
	return nil
}

// batchDir is the directory of a partition shard's batch files.
func (s *Store) batchDir(shardID uint64) string {
	return s.fs.PathJoin(s.batchesDir, strconv.FormatUint(shardID, 10))
}

// markDirty records that f was written; the next flush syncs it.
func (s *Store) markDirty(f *batchFile) {
	if !f.dirty.CompareAndSwap(false, true) {
		return
	}
	f.refs.Add(1) // held until synced
	s.dirty.Lock()
	s.dirty.files[f] = struct{}{}
	s.dirty.Unlock()
}

// flushBegin notes a flush job (Pebble holds its mutex: nothing slow here).
func (s *Store) flushBegin(info pebble.FlushInfo) {
	s.dirty.Lock()
	s.dirty.flushes[info.JobID] = struct{}{}
	s.dirty.Unlock()
}

// tableCreated syncs the batch files when a flush creates its first table:
// the memtables it writes were sealed after every batch they point to was
// written, and nothing of the flush is durable before its tables are. A
// failed sync stops the process: state could otherwise become durable
// pointing at bytes the disk lost (the Raft log still holds them, and a
// restart replays them).
func (s *Store) tableCreated(info pebble.TableCreateInfo) {
	s.dirty.Lock()
	_, flush := s.dirty.flushes[info.JobID]
	delete(s.dirty.flushes, info.JobID)
	s.dirty.Unlock()
	if !flush {
		return
	}
	if err := s.syncBatchFiles(); err != nil {
		panic(err)
	}
}

func (s *Store) flushEnd(info pebble.FlushInfo) {
	s.dirty.Lock()
	delete(s.dirty.flushes, info.JobID)
	s.dirty.Unlock()
	// Pebble reports a flush of nothing as an error too ("empty table").
	switch err := info.Err; {
	case err == nil:
		s.failingSince.Store(0)
	case !strings.Contains(err.Error(), "empty table"):
		s.lastFlushErr.Store(&err)
		s.flushFails.Add(1)
		s.failingSince.CompareAndSwap(0, time.Now().UnixNano())
	}
}

// syncBatchFiles fsyncs every batch file written since its last sync, up
// to batchSyncWorkers at a time (a flush after many partitions took data
// has one file per partition to sync).
func (s *Store) syncBatchFiles() error {
	s.syncingBatches.Lock()
	defer s.syncingBatches.Unlock()
	s.dirty.Lock()
	files := s.dirty.files
	s.dirty.files = make(map[*batchFile]struct{}, len(files))
	s.dirty.Unlock()
	work := make(chan *batchFile)
	errs := make(chan error, len(files))
	var wg sync.WaitGroup
	for range min(len(files), batchSyncWorkers) {
		wg.Go(func() {
			for f := range work {
				// Cleared before the sync: a write after it marks the file again.
				f.dirty.Store(false)
				if err := f.f.SyncData(); err != nil {
					errs <- fmt.Errorf("raftsm: sync batch file %s: %w", f.path, err)
				}
				f.release()
			}
		})
	}
	for f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs // the first error, if any
}

// batchSyncWorkers bounds the fdatasyncs of batch files in flight at once.
const batchSyncWorkers = 8

// shardPrefix returns the 8-byte key prefix of a shard.
func shardPrefix(shardID uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 32), shardID)
}

// shardBounds returns [lo, hi) covering every key of a shard.
func shardBounds(shardID uint64) (lo, hi []byte) {
	lo = binary.BigEndian.AppendUint64(nil, shardID)
	hi = binary.BigEndian.AppendUint64(nil, shardID+1)
	return lo, hi
}

// quietLogger drops Pebble's info logs; errors still surface as returned errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}

// localShard is a pseudo shard ID whose key range records which replicas
// this broker created, so replicas of topics deleted while it was down can
// be cleaned up at start.
const localShard uint64 = 0

func localReplicaKey(shardID uint64) []byte {
	k := append(shardPrefix(localShard), 'r')
	return binary.BigEndian.AppendUint64(k, shardID)
}

// AddLocalReplica records that this broker holds replicaID of shardID.
// Call Sync to make the record durable.
func (s *Store) AddLocalReplica(shardID, replicaID uint64) error {
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Set(localReplicaKey(shardID), binary.BigEndian.AppendUint64(nil, replicaID), nil); err != nil {
		return err
	}
	return s.apply(b)
}

// RemoveLocalReplica forgets the record of a local replica.
func (s *Store) RemoveLocalReplica(shardID uint64) error {
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Delete(localReplicaKey(shardID), nil); err != nil {
		return err
	}
	return s.apply(b)
}

// LocalReplicas returns shard ID → replica ID of every recorded local replica.
func (s *Store) LocalReplicas() (map[uint64]uint64, error) {
	lo := append(shardPrefix(localShard), 'r')
	hi := append(shardPrefix(localShard), 's')
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, err
	}
	out := map[uint64]uint64{}
	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key()[len(lo):], it.Value()
		if len(k) == 8 && len(v) == 8 {
			out[binary.BigEndian.Uint64(k)] = binary.BigEndian.Uint64(v)
		}
	}
	return out, errors.Join(it.Error(), it.Close())
}

// scanKind calls fn for every key of one kind in a shard (keys
// prefix+kind+suffix), passing the suffix and the value; both are only
// valid during the call.
func (s *Store) scanKind(prefix []byte, kind byte, fn func(suffix, v []byte) error) error {
	lo := append(slices.Clip(prefix), kind)
	hi := append(slices.Clip(prefix), kind+1)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(it.Key()[len(lo):], it.Value()); err != nil {
			return errors.Join(err, it.Close())
		}
	}
	return errors.Join(it.Error(), it.Close())
}

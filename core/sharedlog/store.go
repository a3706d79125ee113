// Package sharedlog is a Raft log store for Dragonboat (raftio.ILogDB) in
// which all of a node's replicas append to one log, so that a save round
// costs one fdatasync however many partitions it touched. Dragonboat's tan
// gives every replica a log file of its own and fsyncs each file a round
// wrote; with 64 busy partitions that is 64 fsyncs per round, which bounds
// the broker (bench/README.md "Partition scaling").
//
// The log is a directory of numbered segment files. Records are appended to
// the newest; an in-memory index says, per replica, which record holds each
// live entry, its Raft state, snapshot metadata and bootstrap info. When a
// segment fills up, the store seals it (a seal record, fdatasynced), moves
// on to a new one and cleans old ones: a segment nothing live is in any
// more is deleted, and one whose live part is under a quarter of it has
// that part copied to the newest segment first, a slice (1 MiB) per save
// round so that no round waits for all of it (clean.go). Disk use therefore follows
// what the replicas keep (their uncompacted entries), not the traffic
// pattern: an idle or trickle partition cannot pin old segments. The last
// two deleted segment files are kept and written over by the next segments
// (each record names its segment, so what a file held before never reads
// as valid): on this machine's ext4 a save round into blocks a file already
// has takes half the time of appending (BenchmarkSaveRound).
//
// Opening the store replays the segments in order to rebuild the index: a
// sealed segment through the summary of its records written when it was
// sealed (summary.go), or, without a usable one, by reading it. The end of
// the newest segment after its last intact record (a write cut short by a
// crash, so never acknowledged, or an old life of a recycled file) is cut
// off; a sealed segment read in full and damaged before its seal is an
// error (through its summary, damage is found when the record is read).
//
// Dragonboat's contract, as tan (internal/tan) implements it and this store
// follows: a save with entries from index i replaces every entry at and
// above i; commit-only state changes need no fdatasync; ReadRaftState gets
// the latest snapshot's index and reports the entries after it (FirstIndex,
// EntryCount) or none if the log does not continue right after it;
// IterateEntries returns contiguous entries from low only, nothing when low
// is compacted, and stops after the entry that takes the size past maxSize;
// GetSnapshot returns an empty snapshot, not an error, when there is none;
// ImportSnapshot makes the replica a joining one (bootstrap Join) that starts
// from the snapshot.
//
// Concurrency: Dragonboat calls SaveRaftState from its step workers, and
// IterateEntries, ReadRaftState and the snapshot methods from other
// goroutines. Writers are serialised by wmu; readers take mu only to copy
// what they need from the index and read the segment files without it.
package sharedlog

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/raftio"
	pb "github.com/lni/dragonboat/v4/raftpb"
	"golang.org/x/sys/unix"
)

// Name is the store's name as Dragonboat records it in its data directory.
const Name = "sharedlog"

// DefaultSegmentBytes is the size at which the log moves on to a new segment.
const DefaultSegmentBytes = 64 << 20

// cleanBelow is the live fraction (1/cleanBelow) under which a sealed
// segment's live records are copied forward so that it can be deleted. At 4
// the disk holds at most about 4× the live data, and cleaning writes at
// most a third of what it frees.
const cleanBelow = 4

const (
	segmentSuffix = ".log"
	recycleSuffix = ".recycle"
	// maxRecycled is how many deleted segment files are kept for reuse.
	maxRecycled = 2
)

// Options tunes a Store.
type Options struct {
	// SegmentBytes is the segment size (DefaultSegmentBytes when 0).
	SegmentBytes int64
	// Logger gets one line when the store has been replayed, and one if
	// the file system refuses direct I/O (nil: none).
	Logger *slog.Logger
	// DirectBytes is the smallest save round whose whole pages are
	// written with direct I/O (DefaultDirectBytes when 0, none when
	// negative; direct.go).
	DirectBytes int
	// relocateBytes is how much copying a cleaning pass adds to a save
	// round (defaultRelocateBytes when 0); tests make it small.
	relocateBytes int
}

// Factory creates the store for a Dragonboat NodeHost
// (config.ExpertConfig.LogDBFactory), in <NodeHostDir>/…/sharedlog.
type Factory struct{ Options Options }

// Create implements config.LogDBFactory.
func (f Factory) Create(_ config.NodeHostConfig, _ config.LogDBCallback, dirs, _ []string) (raftio.ILogDB, error) {
	if len(dirs) == 0 {
		return nil, errors.New("sharedlog: no directory")
	}
	return Open(filepath.Join(dirs[0], Name), f.Options)
}

// Name implements config.LogDBFactory.
func (Factory) Name() string { return Name }

type key struct{ shard, replica uint64 }

// segment is one log file. A reader holds a reference while it reads, so
// that cleaning can delete the file without closing it under the reader.
type segment struct {
	num  uint64
	path string
	f    *os.File
	size int64
	refs int
	dead bool
}

// Store is the shared Raft log. Lock order: wmu, then mu.
type Store struct {
	dir  string
	opts Options
	dirf *os.File

	// wmu serialises everything that writes: appends to the current
	// segment and every change of the index. The index may be read with
	// only wmu held.
	wmu     sync.Mutex
	cur     *segment
	off     int64
	buf     []byte // the round's records, in bufMem (direct.go)
	bufMem  []byte
	pending []pending
	// direct is the current segment opened for direct writes, nil when
	// they are off (noDirect: the file system refused them, or one failed).
	direct   *os.File
	noDirect bool
	staged   map[key]struct{} // the replicas in pending
	nextGen  uint64
	failed   error
	// recycled are deleted segment files kept for new segments to write
	// over (named <num>.recycle), at most recycleMax.
	recycled   []*segment
	recycleMax int
	// cleaning is the cleaning pass under way, if any (clean.go).
	cleaning      *cleaning
	relocateBytes int
	// summary is the current segment's summary so far (summary.go),
	// given up when summaryLost.
	summary     []byte
	summaryLost bool
	// fromSummaries is how many segments the last replay read through
	// their summaries.
	fromSummaries int

	mu struct {
		sync.Mutex
		replicas map[key]*replica
		segs     map[uint64]*segment
		stats    Stats
	}
}

// Stats describes the log's files and what cleaning did.
type Stats struct {
	Segments        int   // segment files
	Bytes           int64 // their size
	CleanedSegments int64 // deleted after copying their live records forward
	RelocatedBytes  int64 // copied forward by cleaning
	DeletedSegments int64 // deleted, cleaned or not
	Syncs           int64 // fdatasyncs of save rounds
	DirectBytes     int64 // written with direct I/O (direct.go)
}

type pending struct {
	rec   record
	start int
	size  int
}

// Open opens (or creates) the store in dir and replays its segments.
func Open(dir string, opts Options) (*Store, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	if opts.relocateBytes <= 0 {
		opts.relocateBytes = defaultRelocateBytes
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sharedlog: %w", err)
	}
	dirf, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("sharedlog: %w", err)
	}
	s := &Store{dir: dir, opts: opts, dirf: dirf, staged: map[key]struct{}{}, recycleMax: maxRecycled, relocateBytes: opts.relocateBytes}
	s.mu.replicas = map[key]*replica{}
	s.mu.segs = map[uint64]*segment{}
	start := time.Now()
	sealed, err := s.replay()
	if err != nil {
		return nil, errors.Join(err, s.closeFiles())
	}
	// Appends continue the newest segment (after its torn end, if any):
	// a fresh one per start would leave a small file behind each restart.
	// One sealed by a rotation cut short before the next began is done.
	last := uint64(0)
	for num := range s.mu.segs {
		last = max(last, num)
	}
	if seg := s.mu.segs[last]; seg != nil && !sealed {
		s.cur, s.off = seg, seg.size
		s.openDirectLocked()
	} else {
		s.summary, s.summaryLost = s.summary[:0], false // of a sealed segment
		if err := s.newSegmentLocked(last + 1); err != nil {
			return nil, errors.Join(err, s.closeFiles())
		}
	}
	if opts.Logger != nil {
		st := s.Stats()
		opts.Logger.Info("raft log replayed", "dir", dir, "segments", st.Segments, "bytes", st.Bytes,
			"from_summaries", s.fromSummaries, "replicas", len(s.mu.replicas), "duration", time.Since(start).Round(time.Millisecond))
	}
	return s, nil
}

func (s *Store) segmentPath(num uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", num, segmentSuffix))
}

// replay rebuilds the index from every segment, oldest first (a sealed
// one through its summary when it has a usable one), and takes the
// recycled files into the pool. It returns whether the newest segment is
// sealed.
func (s *Store) replay() (bool, error) {
	names, err := os.ReadDir(s.dir)
	if err != nil {
		return false, fmt.Errorf("sharedlog: %w", err)
	}
	var nums []uint64
	summaries := map[uint64]bool{}
	for _, de := range names {
		if n, ok := strings.CutSuffix(de.Name(), summarySuffix); ok {
			if num, err := strconv.ParseUint(n, 10, 64); err == nil {
				summaries[num] = true
			}
			continue
		}
		if strings.HasSuffix(de.Name(), recycleSuffix) {
			if err := s.poolRecycled(filepath.Join(s.dir, de.Name())); err != nil {
				return false, err
			}
			continue
		}
		n, ok := strings.CutSuffix(de.Name(), segmentSuffix)
		if !ok {
			continue
		}
		num, err := strconv.ParseUint(n, 10, 64)
		if err != nil {
			continue
		}
		nums = append(nums, num)
	}
	slices.Sort(nums)
	for num := range summaries {
		if _, err := os.Stat(s.segmentPath(num)); os.IsNotExist(err) {
			_ = os.Remove(s.summaryPath(num)) // its segment's deletion was cut short
		}
	}
	maxGen := uint64(0)
	sealed := false
	apply := func(rec *record, at loc) {
		maxGen = max(maxGen, rec.gen)
		k := key{rec.shard, rec.replica}
		r := s.mu.replicas[k]
		if r == nil {
			r = &replica{gen: rec.gen}
			s.mu.replicas[k] = r
		}
		r.apply(rec, at)
	}
	for i, num := range nums {
		path := s.segmentPath(num)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return false, fmt.Errorf("sharedlog: %w", err)
		}
		seg := &segment{num: num, path: path, f: f}
		s.mu.segs[num] = seg
		newest := i == len(nums)-1
		if summaries[num] && !newest {
			size, ok, err := s.replaySummary(seg, apply)
			if err != nil {
				return false, err
			}
			if ok {
				seg.size, sealed = size, true
				s.fromSummaries++
				continue
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return false, fmt.Errorf("sharedlog: %w", err)
		}
		off := 0
		sealed = false
		for !sealed {
			n, err := recordSize(data[off:], num)
			if err != nil {
				if !newest {
					return false, fmt.Errorf("sharedlog: %s: no intact record at offset %d of a sealed segment, and no seal before it (the segment was fsynced when the next one began, so this is damage, not a torn write): %w", path, off, err)
				}
				// The end of the newest segment: a write that never
				// completed (so never acknowledged), or what a recycled
				// file held before. Cut it, so that no leftover of a torn
				// write can ever follow the records written next.
				if err := f.Truncate(int64(off)); err != nil {
					return false, fmt.Errorf("sharedlog: cutting the end of %s: %w", path, err)
				}
				if err := f.Sync(); err != nil {
					return false, fmt.Errorf("sharedlog: %w", err)
				}
				break
			}
			rec, err := decodeRecord(data[off : off+n])
			if err != nil {
				return false, fmt.Errorf("sharedlog: %s offset %d: %w", path, off, err)
			}
			if rec.kind == kindSeal {
				sealed = true
			} else {
				at := loc{seg: num, off: int64(off), size: int64(n)}
				apply(&rec, at)
				if newest {
					// Appends may continue this segment: its summary so far.
					s.noteSummaryLocked(&rec, at)
				}
			}
			off += n
		}
		seg.size = int64(off)
	}
	s.nextGen = maxGen + 1
	return sealed, nil
}

// poolRecycled takes a recycled segment file into the pool, or deletes it
// when the pool is full.
func (s *Store) poolRecycled(path string) error {
	if len(s.recycled) >= s.recycleMax {
		return os.Remove(path)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("sharedlog: %w", err)
	}
	s.recycled = append(s.recycled, &segment{path: path, f: f})
	return nil
}

// newSegmentLocked starts segment num and makes it the one written to,
// in a recycled file when there is one: writing over blocks a file already
// has costs this machine's file system a quarter of the time of appending
// (no block allocation and no size change to journal at each fdatasync;
// bench/README.md "Partition scaling").
func (s *Store) newSegmentLocked(num uint64) error {
	path := s.segmentPath(num)
	var f *os.File
	if n := len(s.recycled); n > 0 {
		old := s.recycled[n-1]
		s.recycled = s.recycled[:n-1]
		if err := os.Rename(old.path, path); err != nil {
			old.f.Close() // a fresh file then
		} else {
			f = old.f
		}
	}
	if f == nil {
		var err error
		if f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644); err != nil {
			return fmt.Errorf("sharedlog: %w", err)
		}
	}
	// The name must be durable before records in the file are
	// acknowledged.
	if err := s.dirf.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sharedlog: %w", err)
	}
	seg := &segment{num: num, path: path, f: f}
	s.mu.Lock()
	s.mu.segs[num] = seg
	s.mu.Unlock()
	s.cur, s.off = seg, 0
	s.openDirectLocked()
	return nil
}

// Name implements raftio.ILogDB.
func (s *Store) Name() string { return Name }

// BinaryFormat implements raftio.ILogDB.
func (s *Store) BinaryFormat() uint32 { return raftio.PlainLogDBBinVersion }

// Close implements raftio.ILogDB.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var err error
	if s.failed == nil && s.cur != nil {
		err = fdatasync(s.cur.f)
	}
	s.failed = errors.New("sharedlog: closed")
	if s.direct != nil {
		err = errors.Join(err, s.direct.Close())
		s.direct = nil
	}
	return errors.Join(err, s.closeFiles())
}

func (s *Store) closeFiles() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, seg := range s.mu.segs {
		errs = append(errs, seg.f.Close())
	}
	for _, seg := range s.recycled {
		errs = append(errs, seg.f.Close())
	}
	s.mu.segs, s.recycled = map[uint64]*segment{}, nil
	errs = append(errs, s.dirf.Close())
	return errors.Join(errs...)
}

// writerReplicaLocked returns the replica a write goes to, starting a new
// generation for one that is unknown or removed.
func (s *Store) writerReplicaLocked(k key) *replica {
	r := s.mu.replicas[k]
	if r == nil || r.removed {
		s.mu.Lock()
		if r == nil {
			r = &replica{}
			s.mu.replicas[k] = r
		}
		r.reset(s.nextGen)
		s.mu.Unlock()
		s.nextGen++
	}
	return r
}

// stage encodes rec into the pending write.
func (s *Store) stage(rec record) {
	s.stageCopy(rec)
	s.staged[key{rec.shard, rec.replica}] = struct{}{}
}

// stageCopy is stage for a cleaning's copy of live records: it changes
// what the index says is where, not what it holds, so a replica's update
// may follow it in the same write.
func (s *Store) stageCopy(rec record) {
	s.reserveLocked(maxEncodedSize(&rec))
	start := len(s.buf)
	s.buf = appendRecord(s.buf, s.cur.num, &rec)
	s.pending = append(s.pending, pending{rec: rec, start: start, size: len(s.buf) - start})
}

// commitLocked writes the staged records, rotates the segment once it is
// full and ends a cleaning pass whose copies are all written.
func (s *Store) commitLocked(sync bool) error {
	err := s.writeLocked(sync)
	if err == nil && s.off >= s.opts.SegmentBytes {
		err = s.rotateLocked()
	}
	if err == nil && s.cleaning != nil && len(s.cleaning.moves) == 0 {
		err = s.finishCleaningLocked()
	}
	if err != nil {
		s.failed = err
	}
	return err
}

// writeLocked writes the staged records to the current segment (and
// fdatasyncs it when sync) and applies them to the index.
func (s *Store) writeLocked(sync bool) error {
	defer func() {
		s.pending = s.pending[:0]
		clear(s.staged)
		s.releaseBufLocked()
	}()
	if s.failed != nil {
		return s.failed
	}
	if len(s.pending) == 0 {
		return nil
	}
	direct, err := s.writeAt(s.buf, s.off)
	if err != nil {
		s.failed = fmt.Errorf("sharedlog: writing %s: %w", s.cur.path, err)
		return s.failed
	}
	if sync {
		if err := fdatasync(s.cur.f); err != nil {
			s.failed = fmt.Errorf("sharedlog: syncing %s: %w", s.cur.path, err)
			return s.failed
		}
	}
	s.mu.Lock()
	if sync {
		s.mu.stats.Syncs++
	}
	s.mu.stats.DirectBytes += int64(direct)
	for i := range s.pending {
		p := &s.pending[i]
		if p.rec.kind == kindSeal {
			continue
		}
		at := loc{seg: s.cur.num, off: s.off + int64(p.start), size: int64(p.size)}
		s.mu.replicas[key{p.rec.shard, p.rec.replica}].apply(&p.rec, at)
		s.noteSummaryLocked(&p.rec, at)
	}
	s.off += int64(len(s.buf))
	s.cur.size = s.off
	s.mu.Unlock()
	return nil
}

// SaveRaftState implements raftio.ILogDB: every update in one write and at
// most one fdatasync.
func (s *Store) SaveRaftState(updates []pb.Update, _ uint64) error {
	if nothingToPersist(updates) {
		// Heartbeat rounds: do not queue behind another round's fsync.
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.stageMovesLocked(); err != nil {
		s.failed = err
		return err
	}
	sync := false
	for i := range updates {
		u := &updates[i]
		k := key{u.ShardID, u.ReplicaID}
		if _, dup := s.staged[k]; dup {
			// A second update for a replica (Dragonboat sends one per
			// round): stage it against the index the first one leaves.
			if err := s.writeLocked(sync); err != nil {
				return err
			}
		}
		r := s.writerReplicaLocked(k)
		noEntries, noSnapshot := len(u.EntriesToSave) == 0, pb.IsEmptySnapshot(u.Snapshot)
		// Dragonboat passes an update for every replica that stepped, most
		// with nothing to persist: an empty State means "unchanged".
		noState := pb.IsEmptyState(u.State) || pb.IsStateEqual(u.State, r.state)
		if noState && noEntries && noSnapshot {
			continue
		}
		// A commit index alone need not be durable: Raft learns it again.
		sync = sync || !noEntries || !noSnapshot || (!noState && (u.Term != r.state.Term || u.Vote != r.state.Vote))
		rec := record{kind: kindUpdate, shard: u.ShardID, replica: u.ReplicaID, gen: r.gen, update: pb.Update{
			ShardID: u.ShardID, ReplicaID: u.ReplicaID, State: u.State, EntriesToSave: u.EntriesToSave, Snapshot: u.Snapshot,
		}}
		if !noEntries {
			rec.a = r.gapBelow(u.EntriesToSave[0].Index)
		}
		s.stage(rec)
	}
	return s.commitLocked(sync)
}

// nothingToPersist reports whether no update carries a state (an empty
// one means unchanged), entries or a snapshot.
func nothingToPersist(updates []pb.Update) bool {
	for i := range updates {
		u := &updates[i]
		if !pb.IsEmptyState(u.State) || len(u.EntriesToSave) > 0 || !pb.IsEmptySnapshot(u.Snapshot) {
			return false
		}
	}
	return true
}

// SaveBootstrapInfo implements raftio.ILogDB.
func (s *Store) SaveBootstrapInfo(shardID, replicaID uint64, bs pb.Bootstrap) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	r := s.writerReplicaLocked(key{shardID, replicaID})
	s.stage(record{kind: kindBootstrap, shard: shardID, replica: replicaID, gen: r.gen, boot: bs})
	return s.commitLocked(true)
}

// GetBootstrapInfo implements raftio.ILogDB.
func (s *Store) GetBootstrapInfo(shardID, replicaID uint64) (pb.Bootstrap, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mu.replicas[key{shardID, replicaID}]
	if r == nil || r.removed || r.bootAt.empty() {
		return pb.Bootstrap{}, raftio.ErrNoBootstrapInfo
	}
	return r.boot, nil
}

// ListNodeInfo implements raftio.ILogDB: the replicas with bootstrap info.
func (s *Store) ListNodeInfo() ([]raftio.NodeInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []raftio.NodeInfo
	for k, r := range s.mu.replicas {
		if !r.removed && !r.bootAt.empty() {
			out = append(out, raftio.NodeInfo{ShardID: k.shard, ReplicaID: k.replica})
		}
	}
	return out, nil
}

// ReadRaftState implements raftio.ILogDB. lastIndex is the index of the
// replica's latest snapshot; the entries reported are the ones after it.
func (s *Store) ReadRaftState(shardID, replicaID, lastIndex uint64) (raftio.RaftState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mu.replicas[key{shardID, replicaID}]
	if r == nil || r.removed || r.stateAt.empty() {
		return raftio.RaftState{}, raftio.ErrNoSavedLog
	}
	st := raftio.RaftState{State: r.state}
	if i := r.find(lastIndex + 1); i >= 0 {
		st.FirstIndex = lastIndex + 1
		st.EntryCount = r.lastIndex() - lastIndex
	}
	return st, nil
}

// IterateEntries implements raftio.ILogDB: the contiguous entries from low
// (below high), appended to ents until their size passes maxSize (0: no
// limit). Nothing is returned for a compacted low.
func (s *Store) IterateEntries(ents []pb.Entry, size, shardID, replicaID, low, high, maxSize uint64) ([]pb.Entry, uint64, error) {
	if maxSize == 0 {
		maxSize = math.MaxUint64
	}
	runs, segs := s.runsFor(key{shardID, replicaID}, low, high)
	defer s.release(segs)
	expected := low
	for i, rn := range runs {
		u, err := readUpdate(segs[i], rn.at)
		if err != nil {
			return ents, size, err
		}
		for _, e := range u.EntriesToSave {
			if e.Index < expected {
				continue
			}
			if e.Index != expected || e.Index > rn.last || e.Index >= high {
				break
			}
			size += uint64(e.SizeUpperLimit())
			ents = append(ents, e)
			expected++
			if size > maxSize {
				return ents, size, nil
			}
		}
		if expected <= rn.last && expected < high {
			return ents, size, fmt.Errorf("sharedlog: shard %d replica %d: record at %d:%d lacks entry %d", shardID, replicaID, rn.at.seg, rn.at.off, expected)
		}
	}
	return ents, size, nil
}

// runsFor returns the runs holding low.. (below high), contiguous, with a
// reference on each one's segment.
func (s *Store) runsFor(k key, low, high uint64) ([]run, []*segment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mu.replicas[k]
	if r == nil || r.removed || low <= r.compactedTo || low >= high {
		return nil, nil
	}
	i := r.find(low)
	if i < 0 {
		return nil, nil
	}
	var runs []run
	var segs []*segment
	for ; i < len(r.runs) && r.runs[i].first < high; i++ {
		if len(runs) > 0 && runs[len(runs)-1].last+1 != r.runs[i].first {
			break
		}
		seg := s.mu.segs[r.runs[i].at.seg]
		seg.refs++
		runs, segs = append(runs, r.runs[i]), append(segs, seg)
	}
	return runs, segs
}

func (s *Store) release(segs []*segment) {
	if len(segs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seg := range segs {
		seg.refs--
		if seg.dead && seg.refs == 0 {
			seg.f.Close()
		}
	}
}

// readUpdate reads the update or relocated entries in the record at at.
// The entries keep slices of the buffer read, so each read has its own.
func readUpdate(seg *segment, at loc) (pb.Update, error) {
	buf := make([]byte, at.size)
	if _, err := seg.f.ReadAt(buf, at.off); err != nil {
		return pb.Update{}, fmt.Errorf("sharedlog: reading %s at %d: %w", seg.path, at.off, err)
	}
	if _, err := recordSize(buf, seg.num); err != nil {
		return pb.Update{}, fmt.Errorf("sharedlog: %s at %d: %w", seg.path, at.off, err)
	}
	rec, err := decodeRecord(buf)
	if err != nil {
		return pb.Update{}, fmt.Errorf("sharedlog: %s at %d: %w", seg.path, at.off, err)
	}
	return rec.update, nil
}

// RemoveEntriesTo implements raftio.ILogDB: entries up to index are gone.
func (s *Store) RemoveEntriesTo(shardID, replicaID, index uint64) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	r := s.mu.replicas[key{shardID, replicaID}]
	if r == nil || r.removed || index <= r.compactedTo {
		return nil
	}
	s.stage(record{kind: kindCompact, shard: shardID, replica: replicaID, gen: r.gen, a: index})
	return s.commitLocked(true)
}

// CompactEntriesTo implements raftio.ILogDB. Space comes back when the
// segments holding the entries are cleaned, as the log grows.
func (s *Store) CompactEntriesTo(_, _, _ uint64) (<-chan struct{}, error) {
	done := make(chan struct{})
	close(done)
	return done, nil
}

// SaveSnapshots implements raftio.ILogDB.
func (s *Store) SaveSnapshots(updates []pb.Update) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for i := range updates {
		u := &updates[i]
		if pb.IsEmptySnapshot(u.Snapshot) {
			continue
		}
		r := s.writerReplicaLocked(key{u.ShardID, u.ReplicaID})
		s.stage(record{kind: kindUpdate, shard: u.ShardID, replica: u.ReplicaID, gen: r.gen, update: pb.Update{
			ShardID: u.ShardID, ReplicaID: u.ReplicaID, Snapshot: u.Snapshot,
		}})
	}
	return s.commitLocked(true)
}

// GetSnapshot implements raftio.ILogDB: the latest snapshot's metadata.
func (s *Store) GetSnapshot(shardID, replicaID uint64) (pb.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mu.replicas[key{shardID, replicaID}]
	if r == nil || r.removed {
		return pb.Snapshot{}, nil
	}
	return r.snapshot, nil
}

// RemoveNodeData implements raftio.ILogDB.
func (s *Store) RemoveNodeData(shardID, replicaID uint64) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if r := s.mu.replicas[key{shardID, replicaID}]; r == nil || r.removed {
		return nil
	}
	s.stage(record{kind: kindRemove, shard: shardID, replica: replicaID, gen: s.nextGen})
	s.nextGen++
	return s.commitLocked(true)
}

// ImportSnapshot implements raftio.ILogDB: the replica starts over from
// snapshot (a new generation), as a joining replica.
func (s *Store) ImportSnapshot(snapshot pb.Snapshot, replicaID uint64) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	k := key{snapshot.ShardID, replicaID}
	s.writerReplicaLocked(k)
	gen := s.nextGen
	s.nextGen++
	s.stage(record{kind: kindBootstrap, shard: k.shard, replica: replicaID, gen: gen, boot: pb.Bootstrap{Join: true, Type: snapshot.Type}})
	s.stage(record{kind: kindUpdate, shard: k.shard, replica: replicaID, gen: gen, update: pb.Update{
		ShardID: k.shard, ReplicaID: replicaID,
		State:    pb.State{Commit: snapshot.Index, Term: snapshot.Term},
		Snapshot: snapshot,
	}})
	return s.commitLocked(true)
}

// Stats returns the log's current figures.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.mu.stats
	st.Segments = len(s.mu.segs)
	for _, seg := range s.mu.segs {
		st.Bytes += seg.size
	}
	return st
}

func fdatasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

var _ raftio.ILogDB = (*Store)(nil)

package sharedlog

import (
	"fmt"
	"os"
	"strings"

	pb "github.com/lni/dragonboat/v4/raftpb"
)

// Cleaning frees the sealed segments. At each rotation it plans: segments
// nothing live is in are deleted, and those whose live part is under
// 1/cleanBelow of them are victims, their live records to be copied to
// the current segment first. The copies are spread over the save rounds
// that follow, at most relocateBytes per round, written in the round's
// own write and fdatasync: copying a victim's live part all at once (up to
// a quarter of a segment, read back and rewritten while every replica
// waits for its save) held saves for up to half a second under load, long
// enough for idle shards to lose their leaders. Once every copy is
// written, cleaning writes every replica's bounds, makes the copies and
// bounds durable, and deletes whatever is no longer live.

// defaultRelocateBytes is how much of a cleaning's copying a save round
// takes on by default.
const defaultRelocateBytes = 1 << 20

// cleaning is a cleaning pass under way.
type cleaning struct {
	moves   []move          // copies not yet staged, in no particular order
	victims map[uint64]bool // the segments being copied out of
}

// move is one record's worth of a replica's live items to copy forward:
// whatever of generation gen is still at at when its turn comes.
type move struct {
	k   key
	gen uint64
	at  loc
}

// rotateLocked seals the full current segment, starts the next and plans
// a cleaning pass, doing as much of it as one round takes.
func (s *Store) rotateLocked() error {
	// Sealed segments are durable to the seal: replay takes a damaged
	// record before it for corruption, not for a torn write.
	s.stage(record{kind: kindSeal})
	if err := s.writeLocked(true); err != nil {
		return err
	}
	s.writeSummaryLocked()
	if err := s.newSegmentLocked(s.cur.num + 1); err != nil {
		return err
	}
	s.planCleaningLocked()
	if err := s.stageMovesLocked(); err != nil {
		return err
	}
	return s.writeLocked(false)
}

// liveLocked returns what each segment would have to rewrite if it were
// cleaned, forgetting removed replicas nothing older can bring back.
func (s *Store) liveLocked() map[uint64]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	oldest := s.cur.num
	for num := range s.mu.segs {
		oldest = min(oldest, num)
	}
	live := map[uint64]int64{}
	for k, r := range s.mu.replicas {
		if !r.liveBytes(live, oldest) {
			// A removed replica whose records are all in the oldest
			// segment, or gone: nothing older can bring it back.
			delete(s.mu.replicas, k)
		}
	}
	return live
}

// planCleaningLocked starts a cleaning pass (replacing one still under
// way: its victims are chosen again if they still qualify).
func (s *Store) planCleaningLocked() {
	live := s.liveLocked()
	c := &cleaning{victims: map[uint64]bool{}}
	s.mu.Lock()
	for num, seg := range s.mu.segs {
		if n := live[num]; num != s.cur.num && n > 0 && n*cleanBelow < seg.size {
			c.victims[num] = true
		}
	}
	s.mu.Unlock()
	seen := map[move]bool{}
	add := func(k key, r *replica, at loc) {
		m := move{k: k, gen: r.gen, at: at}
		if !at.empty() && c.victims[at.seg] && !seen[m] {
			seen[m] = true
			c.moves = append(c.moves, m)
		}
	}
	for k, r := range s.mu.replicas {
		add(k, r, r.removedAt)
		add(k, r, r.bootAt)
		add(k, r, r.stateAt)
		add(k, r, r.snapAt)
		for _, rn := range r.runs {
			add(k, r, rn.at)
		}
	}
	s.cleaning = c
}

// stageMovesLocked stages the next copies of the cleaning under way, up to
// the round's budget. They are taken from the index as it is before
// anything else staged in the round is applied, so they must be staged
// first: applied in order, the round's own records then override them.
func (s *Store) stageMovesLocked() error {
	c := s.cleaning
	if c == nil {
		return nil
	}
	start := len(s.buf)
	for len(c.moves) > 0 && len(s.buf)-start < s.relocateBytes {
		if err := s.stageMove(c.moves[len(c.moves)-1]); err != nil {
			return err
		}
		c.moves = c.moves[:len(c.moves)-1]
	}
	s.mu.Lock()
	s.mu.stats.RelocatedBytes += int64(len(s.buf) - start)
	s.mu.Unlock()
	return nil
}

// stageMove stages a copy of what m's replica still has at m.at.
func (s *Store) stageMove(m move) error {
	r := s.mu.replicas[m.k]
	if r == nil || r.gen != m.gen {
		return nil // gone, or started over: its old records are dead
	}
	k := m.k
	if r.removed {
		if r.removedAt == m.at {
			s.stageCopy(record{kind: kindRemove, shard: k.shard, replica: k.replica, gen: r.gen})
		}
		return nil
	}
	if r.bootAt == m.at {
		s.stageCopy(record{kind: kindBootstrap, shard: k.shard, replica: k.replica, gen: r.gen, boot: r.boot})
	}
	if r.stateAt == m.at || r.snapAt == m.at {
		s.stageCopy(record{kind: kindUpdate, shard: k.shard, replica: k.replica, gen: r.gen, update: pb.Update{
			ShardID: k.shard, ReplicaID: k.replica, State: r.state, Snapshot: r.snapshot,
		}})
	}
	var u *pb.Update
	for _, rn := range r.runs {
		if rn.at != m.at {
			continue
		}
		if u == nil {
			s.mu.Lock()
			seg := s.mu.segs[m.at.seg]
			s.mu.Unlock()
			read, err := readUpdate(seg, m.at)
			if err != nil {
				return err
			}
			u = &read
		}
		var es []pb.Entry
		for _, e := range u.EntriesToSave {
			if e.Index >= rn.first && e.Index <= rn.last {
				es = append(es, e)
			}
		}
		if uint64(len(es)) != rn.last-rn.first+1 {
			return fmt.Errorf("sharedlog: shard %d replica %d: record at %d:%d holds %d of entries %d..%d", k.shard, k.replica, m.at.seg, m.at.off, len(es), rn.first, rn.last)
		}
		s.stageCopy(record{
			kind: kindRelocate, shard: k.shard, replica: k.replica, gen: r.gen,
			update: pb.Update{ShardID: k.shard, ReplicaID: k.replica, EntriesToSave: es},
		})
	}
	return nil
}

// finishCleaningLocked ends the cleaning pass once its copies are all
// written: it writes every replica's bounds, makes everything durable and
// deletes the sealed segments nothing live is in. Everything written
// before is durable then (the copies and bounds by this fdatasync, the
// sealed segments by their seal), so no deletion can take a record that
// replay still needs.
func (s *Store) finishCleaningLocked() error {
	victims := s.cleaning.victims
	s.cleaning = nil
	live := s.liveLocked()
	var doomed []uint64
	s.mu.Lock()
	for num := range s.mu.segs {
		if _, ok := live[num]; !ok && num != s.cur.num {
			doomed = append(doomed, num)
		}
	}
	s.mu.Unlock()
	if len(doomed) == 0 {
		return nil
	}
	for k, r := range s.mu.replicas {
		if !r.removed {
			first, last := r.bounds()
			s.stage(record{kind: kindBounds, shard: k.shard, replica: k.replica, gen: r.gen, a: first, b: last})
		}
	}
	// No rotation here: the segment was just started, or the copies are
	// only a part of what a round writes.
	if err := s.writeLocked(true); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, num := range doomed {
		if victims[num] {
			s.mu.stats.CleanedSegments++
		}
	}
	s.deleteSegmentsLocked(doomed)
	return nil
}

// deleteSegmentsLocked removes segment files, keeping up to recycleMax of
// them for new segments to write over; one being read is closed by its
// last reader instead.
func (s *Store) deleteSegmentsLocked(nums []uint64) {
	for _, num := range nums {
		seg := s.mu.segs[num]
		delete(s.mu.segs, num)
		seg.dead = true
		s.mu.stats.DeletedSegments++
		_ = os.Remove(s.summaryPath(num)) // left behind, replay removes it
		path := s.segmentPath(num)
		if seg.refs == 0 && len(s.recycled) < s.recycleMax {
			// Its records fail the checksum of any later segment number.
			// A rename lost in a crash leaves the segment to replay again:
			// everything in it is obsolete or was copied forward.
			to := strings.TrimSuffix(path, segmentSuffix) + recycleSuffix
			if os.Rename(path, to) == nil {
				s.recycled = append(s.recycled, &segment{path: to, f: seg.f})
				continue
			}
		}
		// A failed removal leaves a file that replay reads again: its
		// records are all obsolete, so that costs only space.
		_ = os.Remove(path)
		if seg.refs == 0 {
			seg.f.Close()
		}
	}
}

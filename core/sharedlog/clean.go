package sharedlog

import (
	"fmt"
	"os"
	"strings"

	pb "github.com/lni/dragonboat/v4/raftpb"
)

// rotateLocked seals the full current segment, starts the next and cleans.
func (s *Store) rotateLocked() error {
	// Sealed segments are durable to the seal: replay takes a damaged
	// record before it for corruption, not for a torn write.
	s.stage(record{kind: kindSeal})
	if err := s.writeLocked(true); err != nil {
		return err
	}
	if err := s.newSegmentLocked(s.cur.num + 1); err != nil {
		return err
	}
	return s.cleanLocked()
}

// cleanLocked deletes the sealed segments nothing live is in, and cleans
// those whose live part is under 1/cleanBelow of them by copying their
// live records to the current segment first. Before deleting anything it
// writes every replica's bounds and makes the copies and bounds durable;
// everything written before is durable already (the last segment was just
// sealed), so no deletion can take a record that replay still needs.
func (s *Store) cleanLocked() error {
	s.mu.Lock()
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
	var doomed []uint64
	victims := map[uint64]bool{}
	for num, seg := range s.mu.segs {
		switch n, ok := live[num]; {
		case num == s.cur.num:
		case !ok:
			doomed = append(doomed, num)
		case n*cleanBelow < seg.size:
			doomed = append(doomed, num)
			victims[num] = true
		}
	}
	s.mu.Unlock()
	if len(doomed) == 0 {
		return nil
	}
	if err := s.stageRelocations(victims); err != nil {
		return err
	}
	moved := int64(len(s.buf))
	for k, r := range s.mu.replicas {
		if !r.removed {
			first, last := r.bounds()
			s.stage(record{kind: kindBounds, shard: k.shard, replica: k.replica, gen: r.gen, a: first, b: last})
		}
	}
	// No rotation here: the segment was just started, and a relocation
	// larger than a segment only makes this one longer.
	if err := s.writeLocked(true); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteSegmentsLocked(doomed)
	s.mu.stats.CleanedSegments += int64(len(victims))
	s.mu.stats.RelocatedBytes += moved
	return nil
}

// stageRelocations stages a copy of every live item in victims.
func (s *Store) stageRelocations(victims map[uint64]bool) error {
	in := func(at loc) bool { return !at.empty() && victims[at.seg] }
	for k, r := range s.mu.replicas {
		if r.removed {
			if in(r.removedAt) {
				s.stage(record{kind: kindRemove, shard: k.shard, replica: k.replica, gen: r.gen})
			}
			continue
		}
		if in(r.bootAt) {
			s.stage(record{kind: kindBootstrap, shard: k.shard, replica: k.replica, gen: r.gen, boot: r.boot})
		}
		if in(r.stateAt) || in(r.snapAt) {
			s.stage(record{kind: kindUpdate, shard: k.shard, replica: k.replica, gen: r.gen, update: pb.Update{
				ShardID: k.shard, ReplicaID: k.replica, State: r.state, Snapshot: r.snapshot,
			}})
		}
		for _, rn := range r.runs {
			if !in(rn.at) {
				continue
			}
			s.mu.Lock()
			seg := s.mu.segs[rn.at.seg]
			s.mu.Unlock()
			u, err := readUpdate(seg, rn.at)
			if err != nil {
				return err
			}
			var es []pb.Entry
			for _, e := range u.EntriesToSave {
				if e.Index >= rn.first && e.Index <= rn.last {
					es = append(es, e)
				}
			}
			if uint64(len(es)) != rn.last-rn.first+1 {
				return fmt.Errorf("sharedlog: shard %d replica %d: record at %d:%d holds %d of entries %d..%d", k.shard, k.replica, rn.at.seg, rn.at.off, len(es), rn.first, rn.last)
			}
			s.stage(record{
				kind: kindRelocate, shard: k.shard, replica: k.replica, gen: r.gen,
				update: pb.Update{ShardID: k.shard, ReplicaID: k.replica, EntriesToSave: es},
			})
		}
	}
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

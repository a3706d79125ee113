package partition

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lni/dragonboat/v4"
)

// A replica that has just become its shard's leader holds every entry its
// predecessor committed, but it learns which of them are committed only
// once it commits an entry of its own term (Raft's no-op, §8 of the Raft
// paper); until its state machine has applied them, its high watermark can
// be below offsets the old leader acknowledged. Serving reads then would
// answer ListOffsets with a stale end, OffsetForLeaderEpoch with an end
// below a consumer's position, and a Fetch at an offset the consumer was
// given OFFSET_OUT_OF_RANGE, which resets its position
// (TestLinearizableUnderFaults found all three). So a new leader serves
// reads only after one ReadIndex in its term has completed: Dragonboat
// completes it once the leader has committed an entry of its term and the
// local state machine has applied up to it. Appends need no such wait:
// Raft orders them after everything committed before.

// readiness tracks, per replica, the last term in which this replica as
// leader has confirmed that it applied everything committed before it.
type readiness struct {
	term       atomic.Uint64 // confirmed
	confirming atomic.Uint64 // a confirmation is running for this term

	mu      sync.Mutex
	changed chan struct{} // closed when term changes, then replaced
}

// wait returns a channel closed at the next confirmation.
func (rd *readiness) wait() <-chan struct{} {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.changed == nil {
		rd.changed = make(chan struct{})
	}
	return rd.changed
}

func (rd *readiness) confirmed(term uint64) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if term > rd.term.Load() {
		rd.term.Store(term)
	}
	if rd.changed != nil {
		close(rd.changed)
		rd.changed = nil
	}
}

// confirmLeadership starts confirming the replica's leadership in term,
// unless that is done or under way.
func (s *Service) confirmLeadership(r *replica, term uint64) {
	for {
		c := r.ready.confirming.Load()
		if c >= term || r.ready.term.Load() >= term {
			return
		}
		if r.ready.confirming.CompareAndSwap(c, term) {
			break
		}
	}
	go s.confirm(r, term)
}

// confirm issues ReadIndex requests until one completes while the replica
// still leads in term.
func (s *Service) confirm(r *replica, term uint64) {
	defer r.ready.confirming.CompareAndSwap(term, 0) // unless confirmed, a later call may try again
	start, backoff := time.Now(), time.Millisecond
	for {
		id, t, valid, err := s.nh.GetLeaderID(r.shardID)
		if err != nil || !valid || id != r.id || t != term || s.lookupShard(r.shardID) != r {
			return // no longer ours to confirm: a later term starts its own
		}
		rs, err := s.nh.ReadIndex(r.shardID, s.election())
		if err == nil {
			res := <-rs.ResultC()
			rs.Release()
			if res.Completed() {
				r.ready.confirmed(term)
				s.metrics.LeaderConfirm.Record(context.Background(), time.Since(start).Seconds())
				return
			}
		} else if errors.Is(err, dragonboat.ErrClosed) || errors.Is(err, dragonboat.ErrShardNotFound) {
			return
		}
		// Not ready yet (no entry of the term committed), or dropped.
		time.Sleep(backoff)
		backoff = min(2*backoff, 20*time.Millisecond)
	}
}

// awaitConfirmed waits, while the replica leads but has not confirmed its
// term, until it has, its leadership changes, an election timeout passes
// or ctx ends. It returns false when the replica leads unconfirmed.
func (r *replica) awaitConfirmed(ctx context.Context) bool {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if r.confirmedOrNotLeading() {
			return true // the caller's own leadership check decides
		}
		// Look again after taking the channels, so no change slips between.
		lost, changed := r.svc.leadership.watch(r.shardID), r.ready.wait()
		if r.confirmedOrNotLeading() {
			return true
		}
		_, epoch, _, _ := r.leader()
		r.svc.confirmLeadership(r, uint64(epoch))
		if timer == nil {
			timer = time.NewTimer(r.svc.election())
		}
		select {
		case <-changed:
		case <-lost:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

func (r *replica) confirmedOrNotLeading() bool {
	_, epoch, isUs, err := r.leader()
	return err != nil || !isUs || r.ready.term.Load() >= uint64(epoch)
}

// ReadState is PartitionState for answering reads as the leader: when this
// replica leads, it first waits until the replica has applied everything
// committed before its term (awaitConfirmed), so the offsets are not
// behind what an earlier leader acknowledged; a leader that cannot confirm
// in time is ErrLeaderNotAvailable.
func (s *Service) ReadState(ctx context.Context, tp TP) (State, error) {
	r := s.lookup(tp)
	if r == nil {
		return State{Leader: -1}, ErrUnknownPartition
	}
	if !r.awaitConfirmed(ctx) {
		return State{Leader: -1}, ErrLeaderNotAvailable
	}
	return s.PartitionState(tp)
}

func (s *Service) lookupShard(shardID uint64) *replica {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.byShard[shardID]
}

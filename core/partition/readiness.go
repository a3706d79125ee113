package partition

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lni/dragonboat/v4"
)

// Reads at the leader: when they may be served from local state.
//
// A replica that has just become its shard's leader holds every entry its
// predecessor committed, but it learns which of them are committed only
// once it commits an entry of its own term (Raft's no-op, §8 of the Raft
// paper); until its state machine has applied them, its high watermark can
// be below offsets the old leader acknowledged. Serving reads then would
// answer ListOffsets with a stale end, OffsetForLeaderEpoch with an end
// below a consumer's position, and a Fetch at an offset the consumer was
// given OFFSET_OUT_OF_RANGE, which resets its position
// (TestLinearizableUnderFaults found all three).
//
// A leader cut off from its peers has the opposite problem: it believes it
// leads until its quorum check fails, while its peers may have elected a
// successor that acknowledges appends; served from local state, its reads
// would miss them (TestCutOffLeaderServesNoStaleReads: for up to 250 ms
// with a 200 ms election timeout).
//
// So a leader serves reads only under a lease, which a confirmation in its
// term starts: a ReadIndex that completed, or an append it committed. Each
// means a quorum heard from it in its term after the confirmation began,
// and the quorum of any successor's election shares a member with that
// quorum, which acknowledged this leader before it voted: every
// successor's election comes after the start of every confirmation. A
// lease lasts leaseServe from the start, and a replica that becomes leader
// neither serves reads nor acknowledges appends until leaderWait (longer)
// after it learned it leads. Whatever a successor acknowledges therefore
// comes after every lease of its predecessors has ended, whatever caused
// the election (a timeout, a transfer, a voter restarted without memory of
// the leader), and the brokers' clocks need only run at about the same
// rate. Both completions of a confirmation also mean the local state
// machine applied everything committed before, which answers the first
// problem. A lease in its second half is renewed in the background, so a
// partition read steadily never waits; one read again after a pause waits
// for one ReadIndex (a heartbeat round trip).

// leaderWait is how long a new leader waits before it serves reads or
// acknowledges appends: half the election timeout (100 ms by default).
func (s *Service) leaderWait() time.Duration { return s.election() / 2 }

// leaseServe is how long after a confirmation began a leader serves reads
// on it: 9/10 of leaderWait, leaving room for clocks that run at slightly
// different rates.
func (s *Service) leaseServe() time.Duration { return s.leaderWait() * 9 / 10 }

// now is the service's monotonic clock, in nanoseconds.
func (s *Service) now() int64 { return int64(time.Since(s.clock)) }

// readiness is a replica's lease and what it knows of its leadership.
type readiness struct {
	lease      atomic.Pointer[lease]
	start      atomic.Pointer[leadStart]
	confirming atomic.Uint64 // a confirmation is running for this term
	confirmed  atomic.Uint64 // the latest term confirmed (for the metric)

	mu      sync.Mutex
	changed chan struct{} // closed when a lease is extended from none, then replaced
}

// lease lets the leader of term serve reads until until (Service.now).
type lease struct {
	term  uint64
	until int64
}

// leadStart is when the replica first knew it led in term (Service.now).
type leadStart struct {
	term uint64
	at   int64
}

// wait returns a channel closed at the next extension of an expired lease.
func (rd *readiness) wait() <-chan struct{} {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.changed == nil {
		rd.changed = make(chan struct{})
	}
	return rd.changed
}

// extend extends the lease of term until until; now is the time of the
// call. It reports whether the replica held no valid lease of term before.
func (rd *readiness) extend(term uint64, until, now int64) bool {
	for {
		cur := rd.lease.Load()
		if cur != nil && (cur.term > term || cur.term == term && cur.until >= until) {
			return false
		}
		if rd.lease.CompareAndSwap(cur, &lease{term: term, until: until}) {
			renewed := cur != nil && cur.term == term && cur.until > now
			if !renewed {
				rd.mu.Lock()
				if rd.changed != nil {
					close(rd.changed)
					rd.changed = nil
				}
				rd.mu.Unlock()
			}
			return !renewed
		}
	}
}

// firstConfirmation reports whether term had no confirmation before.
func (rd *readiness) firstConfirmation(term uint64) bool {
	for {
		c := rd.confirmed.Load()
		if c >= term {
			return false
		}
		if rd.confirmed.CompareAndSwap(c, term) {
			return true
		}
	}
}

// leading returns when the replica first knew it led in term, recording
// now if this is the first time. For an older term than the latest known
// it returns the latest one's start, which is later: waiting from it is
// safe.
func (rd *readiness) leading(term uint64, now int64) int64 {
	for {
		cur := rd.start.Load()
		if cur != nil && cur.term >= term {
			return cur.at
		}
		if rd.start.CompareAndSwap(cur, &leadStart{term: term, at: now}) {
			return now
		}
	}
}

// confirmLeadership starts a confirmation of the replica's leadership in
// term, unless one is under way.
func (s *Service) confirmLeadership(r *replica, term uint64) {
	for {
		c := r.ready.confirming.Load()
		if c >= term {
			return
		}
		if r.ready.confirming.CompareAndSwap(c, term) {
			break
		}
	}
	go s.confirm(r, term)
}

// confirm issues ReadIndex requests until one completes while the replica
// still leads in term, and extends the lease from when it was issued.
func (s *Service) confirm(r *replica, term uint64) {
	defer r.ready.confirming.CompareAndSwap(term, 0) // a later call may start another
	begin, backoff := time.Now(), time.Millisecond
	for {
		id, t, valid, err := s.nh.GetLeaderID(r.shardID)
		if err != nil || !valid || id != r.id || t != term || s.lookupShard(r.shardID) != r {
			return // no longer ours to confirm: a later term starts its own
		}
		start := s.now()
		r.ready.leading(term, start)
		rs, err := s.nh.ReadIndex(r.shardID, s.election())
		if err == nil {
			res := <-rs.ResultC()
			rs.Release()
			if res.Completed() {
				r.ready.extend(term, start+int64(s.leaseServe()), s.now())
				if r.ready.firstConfirmation(term) {
					s.metrics.LeaderConfirm.Record(context.Background(), time.Since(begin).Seconds())
				}
				return
			}
		} else if errors.Is(err, dragonboat.ErrClosed) || errors.Is(err, dragonboat.ErrShardNotFound) {
			return
		}
		// Not ready yet (no entry of the term committed), or dropped:
		// cut off, or a new leader elected.
		time.Sleep(backoff)
		backoff = min(2*backoff, 20*time.Millisecond)
	}
}

// readable reports whether the replica may serve a read at now: it does
// not lead (the caller's own leadership check decides), or it leads under
// a lease. Otherwise it returns the term it leads in and how long until
// it may serve reads at all (leaderWait), 0 once it may. A lease in its
// second half is renewed in the background.
func (r *replica) readable(now int64) (ok bool, term uint64, startIn time.Duration) {
	_, epoch, isUs, err := r.leader()
	if err != nil || !isUs {
		return true, 0, 0
	}
	term = uint64(epoch)
	s := r.svc
	if d := time.Duration(r.ready.leading(term, now) + int64(s.leaderWait()) - now); d > 0 {
		return false, term, d
	}
	l := r.ready.lease.Load()
	if l == nil || l.term != term || now >= l.until {
		return false, term, 0
	}
	if time.Duration(l.until-now) < s.leaseServe()/2 {
		s.confirmLeadership(r, term)
	}
	return true, term, 0
}

// awaitReadable waits until the replica may serve a read (readable), at
// most an election timeout or until ctx ends. It returns false when the
// replica leads but may not serve reads: it could not confirm its
// leadership in time.
func (r *replica) awaitReadable(ctx context.Context) bool {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		ok, _, _ := r.readable(r.svc.now())
		if ok {
			return true
		}
		// Look again after taking the channels, so no change slips between.
		lost, changed := r.svc.leadership.watch(r.shardID), r.ready.wait()
		ok, term, startIn := r.readable(r.svc.now())
		if ok {
			return true
		}
		var started <-chan time.Time
		if startIn > 0 {
			started = time.After(startIn)
		} else {
			r.svc.confirmLeadership(r, term)
		}
		if timer == nil {
			timer = time.NewTimer(r.svc.election())
		}
		select {
		case <-changed:
		case <-lost:
		case <-started:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// acknowledge is called when an append proposed at proposedAt while the
// replica led in term has been applied: if the replica still leads in
// term, the commit extends its lease. It then waits, unless done first,
// until leaderWait after the replica knew it led in term before the
// append may be acknowledged.
func (r *replica) acknowledge(done <-chan struct{}, term uint64, proposedAt int64) error {
	s := r.svc
	now := s.now()
	// Extend only by more than an eighth of a lease: a busy partition
	// then asks Dragonboat who leads, and allocates a lease, every few
	// milliseconds rather than for every append.
	until := proposedAt + int64(s.leaseServe())
	if l := r.ready.lease.Load(); l == nil || l.term != term || l.until < until-int64(s.leaseServe()/8) {
		if id, t, valid, err := s.nh.GetLeaderID(r.shardID); err == nil && valid && id == r.id && t == term {
			r.ready.extend(term, until, now)
		}
	}
	d := time.Duration(r.ready.leading(term, now) + int64(s.leaderWait()) - now)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-done:
		return ErrTimeout
	}
}

// ReadState is PartitionState for answering reads as the leader: when this
// replica leads, it first waits until it may serve reads (awaitReadable),
// so the offsets are neither behind what an earlier leader acknowledged
// nor what a successor may have; a leader that cannot confirm its
// leadership in time is ErrLeaderNotAvailable.
func (s *Service) ReadState(ctx context.Context, tp TP) (State, error) {
	r := s.lookup(tp)
	if r == nil {
		return State{Leader: -1}, ErrUnknownPartition
	}
	if !r.awaitReadable(ctx) {
		return State{Leader: -1}, ErrLeaderNotAvailable
	}
	return s.PartitionState(tp)
}

// PrepareReads starts at once, side by side, the confirmations that reads
// of tps will wait for: those of the local leaders holding no valid lease.
// A Fetch of many partitions read again after a pause then waits for one
// ReadIndex round trip, not one per partition.
func (s *Service) PrepareReads(tps []TP) {
	now := s.now()
	for _, tp := range tps {
		if r := s.lookup(tp); r != nil {
			if ok, term, startIn := r.readable(now); !ok && startIn == 0 {
				s.confirmLeadership(r, term)
			}
		}
	}
}

func (s *Service) lookupShard(shardID uint64) *replica {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.byShard[shardID]
}

package partition

import (
	"context"
	"errors"
	"time"

	"github.com/lni/dragonboat/v4"

	"github.com/chronik-go/chronik/core/readlease"
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
// (TestLinearizableUnderFaults found all three). A leader cut off from its
// peers has the opposite problem: it believes it leads until its quorum
// check fails, while a successor may acknowledge appends it lacks
// (TestCutOffLeaderServesNoStaleReads).
//
// So a leader serves reads only under a read lease (core/readlease, which
// has the argument): a ReadIndex that completed, or an append it
// committed, starts one; a new leader serves reads, and acknowledges
// appends, transaction markers and DeleteRecords, only readlease.Wait
// after it learned it leads. A lease in its second half is renewed in the
// background, so a partition read steadily never waits; one read again
// after a pause waits for one ReadIndex (a heartbeat round trip).

func (s *Service) now() int64 { return s.clock.Now() }

// confirmLeadership starts a confirmation of the replica's leadership in
// term, unless one is under way.
func (s *Service) confirmLeadership(r *replica, term uint64) {
	if r.ready.StartConfirming(term) {
		go s.confirm(r, term)
	}
}

// confirm issues ReadIndex requests until one completes while the replica
// still leads in term, and extends the lease from when it was issued.
func (s *Service) confirm(r *replica, term uint64) {
	defer r.ready.DoneConfirming(term) // a later call may start another
	begin, backoff := time.Now(), time.Millisecond
	for {
		id, t, valid, err := s.nh.GetLeaderID(r.shardID)
		if err != nil || !valid || id != r.id || t != term || s.lookupShard(r.shardID) != r {
			return // no longer ours to confirm: a later term starts its own
		}
		start := s.now()
		r.ready.Leading(term, start)
		rs, err := s.nh.ReadIndex(r.shardID, s.election())
		if err == nil {
			res := <-rs.ResultC()
			rs.Release()
			if res.Completed() {
				s.metrics.LeaseConfirmations.Add(context.Background(), 1, s.confirmedAttrs)
				r.ready.Confirmed(term, start, s.now(), s.election())
				if r.ready.FirstConfirmation(term) {
					s.metrics.LeaderConfirm.Record(context.Background(), time.Since(begin).Seconds())
				}
				return
			}
		} else if errors.Is(err, dragonboat.ErrClosed) || errors.Is(err, dragonboat.ErrShardNotFound) {
			return
		}
		s.metrics.LeaseConfirmations.Add(context.Background(), 1, s.unconfirmedAttrs)
		// Not ready yet (no entry of the term committed), or dropped:
		// cut off, or a new leader elected.
		time.Sleep(backoff)
		backoff = min(2*backoff, 20*time.Millisecond)
	}
}

// readable reports whether the replica may serve at now a read that
// arrived at arrival: it does not lead (the caller's own leadership check
// decides), or it leads under a lease (renewed in the background in its
// second half) or has confirmed its leadership since arrival. Otherwise it
// returns the term it leads in and how long until it may serve reads at
// all, 0 once it may (it needs a confirmation).
func (r *replica) readable(arrival, now int64) (ok bool, term uint64, startIn time.Duration) {
	_, epoch, isUs, err := r.leader()
	if err != nil || !isUs {
		return true, 0, 0
	}
	term = uint64(epoch)
	ok, renew, startIn := r.ready.Readable(term, arrival, now, r.svc.election())
	if renew {
		r.svc.confirmLeadership(r, term)
	}
	return ok, term, startIn
}

// awaitReadable waits until the replica may serve a read that arrived at
// arrival (readable), at most an election timeout or until ctx ends, and
// returns the term it serves in (0 when it does not lead). It returns
// false when the replica leads but may not serve reads: it could not
// confirm its leadership in time.
func (r *replica) awaitReadable(ctx context.Context, arrival int64) (uint64, bool) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if ok, term, _ := r.readable(arrival, r.svc.now()); ok {
			return term, true
		}
		// Look again after taking the channels, so no change slips between.
		lost, changed := r.svc.leadership.watch(r.shardID), r.ready.Changed()
		ok, term, startIn := r.readable(arrival, r.svc.now())
		if ok {
			return term, true
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
			return 0, false
		case <-ctx.Done():
			return 0, false
		}
	}
}

// readLeased runs read once the replica may serve reads (awaitReadable),
// and runs it again if the lease ran out before read returned: a process
// paused or starved between the check and the read (a long GC pause, a
// busy machine) may have taken its values after the lease's end — unless
// a ReadIndex begun since the read arrived has completed (Lease.Served).
// It returns false when the replica leads but could not serve the read.
func (r *replica) readLeased(ctx context.Context, read func()) bool {
	arrival := r.svc.arrival(ctx)
	for range 3 {
		term, ok := r.awaitReadable(ctx, arrival)
		if !ok {
			return false
		}
		read()
		if term == 0 || r.ready.Served(term, arrival, r.svc.now()) {
			return true
		}
	}
	return false
}

// acknowledge is called when an append proposed at proposedAt while the
// replica led in term has been applied: the commit extends the lease, and
// the acknowledgement waits, unless done first, until readlease.Wait after
// the replica knew it led in term.
func (r *replica) acknowledge(done <-chan struct{}, term uint64, proposedAt int64) error {
	s := r.svc
	d := r.ready.Acknowledged(term, proposedAt, s.now(), s.election(), func() bool {
		id, t, valid, err := s.nh.GetLeaderID(r.shardID)
		return err == nil && valid && id == r.id && t == term
	})
	if !readlease.Sleep(done, d) {
		return ErrTimeout
	}
	return nil
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
	var (
		st  State
		err error
	)
	if !r.readLeased(ctx, func() { st, err = s.PartitionState(tp) }) {
		return State{Leader: -1}, ErrLeaderNotAvailable
	}
	return st, err
}

// PrepareReads starts at once, side by side, the confirmations that reads
// of tps will wait for: those of the local leaders holding no valid lease.
// A Fetch of many partitions read again after a pause then waits for one
// ReadIndex round trip, not one per partition. The reads pass the context
// it returns: when it started a confirmation, that carries the time before
// it started, so the reads are served when it completes even if the lease
// it extends has already ended (a ReadIndex slower than the lease, on a
// busy machine).
func (s *Service) PrepareReads(ctx context.Context, tps []TP) context.Context {
	now, started := s.now(), false
	for _, tp := range tps {
		if r := s.lookup(tp); r != nil {
			if ok, term, startIn := r.readable(now, now); !ok && startIn == 0 {
				s.confirmLeadership(r, term)
				started = true
			}
		}
	}
	if !started {
		return ctx // every read is leased, or waits for its leadership
	}
	return context.WithValue(ctx, arrivalKey{}, now)
}

// arrivalKey is the context key of PrepareReads' time.
type arrivalKey struct{}

// arrival is when a read served under ctx arrived, for Lease.Readable:
// PrepareReads' time, if it set one, or now. Neither is before the
// request came.
func (s *Service) arrival(ctx context.Context) int64 {
	if at, ok := ctx.Value(arrivalKey{}).(int64); ok {
		return at
	}
	return s.now()
}

func (s *Service) lookupShard(shardID uint64) *replica {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.byShard[shardID]
}

// Package readlease is the read lease of a Raft leader: what lets it answer
// reads from its local state without asking its peers each time, and still
// never answer one that misses what a successor acknowledged.
//
// A leader cut off from its peers believes it leads until its quorum check
// fails, while its peers may have elected a successor that acknowledges
// writes; served from local state, its reads would miss them. A lease
// starts with a confirmation in the leader's term — a ReadIndex that
// completed, or a write it committed — which means a quorum heard from it
// in its term after the confirmation began; the quorum of any successor's
// election shares a member with that quorum, which acknowledged this
// leader before it voted, so every successor is elected after the start of
// every confirmation. A lease lasts Serve(election) from that start, and a
// replica that becomes leader neither serves reads nor acknowledges writes
// until Wait(election), which is longer, after it learned it leads.
// Whatever a successor acknowledges therefore comes after every lease of
// its predecessors has ended, whatever caused the election (a timeout, a
// leadership transfer, a voter restarted without memory of the leader),
// and the brokers' clocks need only run at about the same rate.
//
// Both completions of a confirmation also mean the local state machine has
// applied everything committed before, so a new leader's first lease also
// means it is not behind what its predecessors acknowledged.
//
// A read that arrived before a ReadIndex began may also be served once the
// ReadIndex completed, lease or not (Raft's ReadIndex read: no successor
// had acknowledged anything when it began, and the state has applied all
// that was committed then). On a busy machine a ReadIndex can take longer
// than the lease lasts; the reads waiting for it are still served.
//
// Core/partition holds one Lease per partition replica, core/coordraft one
// per coordinator shard; each confirms and waits in its own way. Times are
// a Clock's nanoseconds.
package readlease

import (
	"sync"
	"sync/atomic"
	"time"
)

// Wait is how long a new leader waits before it serves reads or
// acknowledges writes: half the election timeout (100 ms by default).
func Wait(election time.Duration) time.Duration { return election / 2 }

// Serve is how long after a confirmation began a leader serves reads on
// it: 9/10 of Wait, leaving room for clocks that run at slightly different
// rates.
func Serve(election time.Duration) time.Duration { return Wait(election) * 9 / 10 }

// Clock is a monotonic clock in nanoseconds since its start.
type Clock struct{ start time.Time }

// NewClock returns a clock starting now.
func NewClock() Clock { return Clock{start: time.Now()} }

// Now returns the nanoseconds since the clock's start.
func (c Clock) Now() int64 { return int64(time.Since(c.start)) }

// Lease is one leader's lease and what it knows of its leadership. The
// zero value holds no lease.
type Lease struct {
	lease      atomic.Pointer[lease]
	start      atomic.Pointer[termAt]
	readIndex  atomic.Pointer[termAt] // when the latest completed ReadIndex began (Confirmed)
	confirmed  atomic.Uint64          // the latest term confirmed (FirstConfirmation)
	confirming atomic.Uint64          // the term a confirmation runs for (StartConfirming)

	mu      sync.Mutex
	changed chan struct{} // closed when a lease starts, then replaced
}

// lease lets the leader of term serve reads until until.
type lease struct {
	term  uint64
	until int64
}

// termAt is a moment in a term: when the replica first knew it led in it
// (Lease.start), or when its latest completed ReadIndex began
// (Lease.readIndex).
type termAt struct {
	term uint64
	at   int64
}

// Changed returns a channel closed when a lease next starts (one is
// extended from none or from an expired one) or a ReadIndex completes
// (Confirmed).
func (l *Lease) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.changed
}

// Extend extends the lease of term until until; now is the time of the
// call. It reports whether a lease started (none of term was valid at
// now), and then closes the Changed channel.
func (l *Lease) Extend(term uint64, until, now int64) bool {
	for {
		cur := l.lease.Load()
		if cur != nil && (cur.term > term || cur.term == term && cur.until >= until) {
			return false
		}
		if l.lease.CompareAndSwap(cur, &lease{term: term, until: until}) {
			if cur != nil && cur.term == term && cur.until > now {
				return false // renewed
			}
			l.wake()
			return true
		}
	}
}

// wake closes the Changed channel.
func (l *Lease) wake() {
	l.mu.Lock()
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	l.mu.Unlock()
}

// Confirmed records a ReadIndex of term that began at start and completed
// at now, while the replica still led in term: it extends the lease to
// start+Serve(election), and reads that arrived by start may be served
// (Readable), whether or not the lease is still valid. It wakes the
// waiters.
func (l *Lease) Confirmed(term uint64, start, now int64, election time.Duration) {
	for {
		cur := l.readIndex.Load()
		if cur != nil && (cur.term > term || cur.term == term && cur.at >= start) {
			break
		}
		if l.readIndex.CompareAndSwap(cur, &termAt{term: term, at: start}) {
			break
		}
	}
	if !l.Extend(term, start+int64(Serve(election)), now) {
		l.wake()
	}
}

// readIndexSince reports whether a ReadIndex of term that began at or
// after arrival has completed.
func (l *Lease) readIndexSince(term uint64, arrival int64) bool {
	cur := l.readIndex.Load()
	return cur != nil && cur.term == term && cur.at >= arrival
}

// Until returns when the lease of term ends, 0 when there is none of term.
func (l *Lease) Until(term uint64) int64 {
	if cur := l.lease.Load(); cur != nil && cur.term == term {
		return cur.until
	}
	return 0
}

// Leading returns when the replica first knew it led in term, recording
// now if this is the first time. For an older term than the latest known
// it returns the latest one's start, which is later: waiting from it is
// safe.
func (l *Lease) Leading(term uint64, now int64) int64 {
	for {
		cur := l.start.Load()
		if cur != nil && cur.term >= term {
			return cur.at
		}
		if l.start.CompareAndSwap(cur, &termAt{term: term, at: now}) {
			return now
		}
	}
}

// StartConfirming reports whether the caller should start a confirmation
// of term: none runs for it (or a later term). The caller calls
// DoneConfirming when it ends, whatever its outcome.
func (l *Lease) StartConfirming(term uint64) bool { return raise(&l.confirming, term) }

// DoneConfirming ends the confirmation of term StartConfirming started.
func (l *Lease) DoneConfirming(term uint64) { l.confirming.CompareAndSwap(term, 0) }

// FirstConfirmation reports whether term had no confirmation before (for
// timing how long new leaders take to confirm).
func (l *Lease) FirstConfirmation(term uint64) bool { return raise(&l.confirmed, term) }

// raise sets a to term if it is below and reports whether it did.
func raise(a *atomic.Uint64, term uint64) bool {
	for {
		c := a.Load()
		if c >= term {
			return false
		}
		if a.CompareAndSwap(c, term) {
			return true
		}
	}
}

// StartIn is how long from now the leader of term must still wait before
// it serves reads or acknowledges writes: Wait after it learned it leads
// (recording now as that moment if it had not), ≤ 0 once it may.
func (l *Lease) StartIn(term uint64, now int64, election time.Duration) time.Duration {
	return time.Duration(l.Leading(term, now) + int64(Wait(election)) - now)
}

// Readable tells a leader of term at now whether it may serve a read that
// arrived at arrival: ok under a valid lease or after a ReadIndex that
// began at or after arrival (Confirmed), else startIn > 0 while it must
// still wait after learning it leads (no read at all before: a
// predecessor may still serve reads under its lease), else 0 (it needs a
// confirmation). renew is set when the lease is in its second half and a
// confirmation should start in the background.
func (l *Lease) Readable(term uint64, arrival, now int64, election time.Duration) (ok, renew bool, startIn time.Duration) {
	if d := l.StartIn(term, now, election); d > 0 {
		return false, false, d
	}
	until := l.Until(term)
	if now >= until {
		return l.readIndexSince(term, arrival), false, 0
	}
	return true, time.Duration(until-now) < Serve(election)/2, 0
}

// Served reports whether a read that arrived at arrival and was served
// by the leader of term has values it could serve: the lease was still
// valid at now, after the values were taken, or a ReadIndex that began at
// or after arrival had completed (then any later state will do).
func (l *Lease) Served(term uint64, arrival, now int64) bool {
	return now < l.Until(term) || l.readIndexSince(term, arrival)
}

// Acknowledged is called when a write that the leader of term proposed at
// proposedAt has been applied; still is whether the replica leads in term
// now (called only when the lease would grow by more than an eighth, so a
// busy leader asks Raft and allocates every few milliseconds, not for
// every write). The commit extends the lease; the returned duration is how
// long the write's acknowledgement must still wait (Wait after the
// replica learned it led in term).
func (l *Lease) Acknowledged(term uint64, proposedAt, now int64, election time.Duration, still func() bool) time.Duration {
	until := proposedAt + int64(Serve(election))
	if l.Until(term) < until-int64(Serve(election)/8) && still() {
		l.Extend(term, until, now)
	}
	return l.StartIn(term, now, election)
}

// Sleep waits d, nothing when d ≤ 0, unless done closes first: then it
// returns false.
func Sleep(done <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

package partition

import (
	"testing"
	"time"
)

// TestLeaseNeverShortensOrOutlivesItsTerm: a lease only grows within a
// term, a later term's lease replaces it whatever its end, an older term's
// never does; the waiters are woken only when a lease starts, not when a
// valid one is renewed.
func TestLeaseNeverShortensOrOutlivesItsTerm(t *testing.T) {
	var rd readiness
	woken := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	ch := rd.wait()
	if !rd.extend(3, 100, 10) || !woken(ch) {
		t.Fatal("the first lease of term 3 is new and wakes the waiters")
	}
	ch = rd.wait()
	if rd.extend(3, 90, 20) || rd.lease.Load().until != 100 {
		t.Fatalf("a shorter extension shortened the lease to %d", rd.lease.Load().until)
	}
	if rd.extend(3, 150, 50) || woken(ch) || rd.lease.Load().until != 150 {
		t.Fatalf("renewing a valid lease: until %d, woken %v; want 150, not woken", rd.lease.Load().until, woken(ch))
	}
	if !rd.extend(3, 300, 200) || !woken(ch) {
		t.Fatal("extending an expired lease starts a new one and wakes the waiters")
	}
	if !rd.extend(4, 250, 210) || rd.lease.Load().term != 4 || rd.lease.Load().until != 250 {
		t.Fatalf("term 4's lease did not replace term 3's: %+v", *rd.lease.Load())
	}
	if rd.extend(3, 1000, 220) || rd.lease.Load().term != 4 {
		t.Fatalf("an older term's confirmation replaced the lease: %+v", *rd.lease.Load())
	}
}

// TestLeadingRecordsTheFirstSighting: the start of a term's leadership is
// the first time it was seen; an older term gets the latest start, later
// than its own, so waiting from it is never too short.
func TestLeadingRecordsTheFirstSighting(t *testing.T) {
	var rd readiness
	if at := rd.leading(5, 100); at != 100 {
		t.Fatalf("first sighting of term 5 at %d, want 100", at)
	}
	if at := rd.leading(5, 200); at != 100 {
		t.Fatalf("term 5 seen again: start %d, want 100", at)
	}
	if at := rd.leading(7, 300); at != 300 {
		t.Fatalf("term 7: start %d, want 300", at)
	}
	if at := rd.leading(5, 400); at != 300 {
		t.Fatalf("term 5 after term 7: start %d, want 7's 300", at)
	}
}

// TestLeaseShorterThanANewLeadersWait: the lease a leader serves reads on
// must end before any successor acknowledges anything, which waits
// leaderWait from its election, after the lease began.
func TestLeaseShorterThanANewLeadersWait(t *testing.T) {
	s := &Service{}
	for _, d := range []time.Duration{0, 50 * time.Millisecond, 200 * time.Millisecond, 2 * time.Second} {
		s.SetElectionTimeout(d)
		if s.leaseServe() >= s.leaderWait() || s.leaseServe() <= 0 || s.leaderWait() >= s.election() {
			t.Errorf("election %v: lease %v, leader wait %v; want 0 < lease < wait < election", d, s.leaseServe(), s.leaderWait())
		}
	}
}

package readlease

import (
	"testing"
	"time"
)

func woken(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestLeaseNeverShortensOrOutlivesItsTerm: a lease only grows within a
// term, a later term's lease replaces it whatever its end, an older term's
// never does; the waiters are woken only when a lease starts, not when a
// valid one is renewed.
func TestLeaseNeverShortensOrOutlivesItsTerm(t *testing.T) {
	var l Lease
	ch := l.Changed()
	if !l.Extend(3, 100, 10) || !woken(ch) {
		t.Fatal("the first lease of term 3 is new and wakes the waiters")
	}
	ch = l.Changed()
	if l.Extend(3, 90, 20) || l.Until(3) != 100 {
		t.Fatalf("a shorter extension shortened the lease to %d", l.Until(3))
	}
	if l.Extend(3, 150, 50) || woken(ch) || l.Until(3) != 150 {
		t.Fatalf("renewing a valid lease: until %d, woken %v; want 150, not woken", l.Until(3), woken(ch))
	}
	if !l.Extend(3, 300, 200) || !woken(ch) {
		t.Fatal("extending an expired lease starts a new one and wakes the waiters")
	}
	if !l.Extend(4, 250, 210) || l.Until(4) != 250 || l.Until(3) != 0 {
		t.Fatalf("term 4's lease did not replace term 3's: until %d, term 3's %d", l.Until(4), l.Until(3))
	}
	if l.Extend(3, 1000, 220) || l.Until(4) != 250 {
		t.Fatal("an older term's confirmation replaced the lease")
	}
}

// TestLeadingRecordsTheFirstSighting: the start of a term's leadership is
// the first time it was seen; an older term gets the latest start, later
// than its own, so waiting from it is never too short.
func TestLeadingRecordsTheFirstSighting(t *testing.T) {
	var l Lease
	for _, c := range []struct {
		term      uint64
		now, want int64
	}{{5, 100, 100}, {5, 200, 100}, {7, 300, 300}, {5, 400, 300}} {
		if at := l.Leading(c.term, c.now); at != c.want {
			t.Fatalf("Leading(%d) at %d = %d, want %d", c.term, c.now, at, c.want)
		}
	}
}

// TestReadable walks a new leader through its wait, its first lease, the
// renewal half and the expiry.
func TestReadable(t *testing.T) {
	const election = 200 * time.Millisecond
	ms := int64(time.Millisecond)
	var l Lease
	if ok, _, startIn := l.Readable(2, 0, 0, election); ok || startIn != Wait(election) {
		t.Fatalf("just elected: ok %v, start in %v; want false, %v", ok, startIn, Wait(election))
	}
	l.Extend(2, 5*ms+int64(Serve(election)), 6*ms) // confirmed 5 ms in: until 95 ms
	if ok, _, startIn := l.Readable(2, 60*ms, 60*ms, election); ok || startIn != 40*time.Millisecond {
		t.Fatalf("60 ms in, leased: ok %v, start in %v; want false, 40ms (the wait is not over)", ok, startIn)
	}
	if ok, renew, _ := l.Readable(2, 100*ms, 100*ms, election); ok || renew {
		t.Fatalf("100 ms in, the lease ended at 95: ok %v, renew %v", ok, renew)
	}
	l.Extend(2, 100*ms+int64(Serve(election)), 101*ms) // until 190 ms
	if ok, renew, _ := l.Readable(2, 120*ms, 120*ms, election); !ok || renew {
		t.Fatalf("120 ms in: ok %v, renew %v; want true, false", ok, renew)
	}
	if ok, renew, _ := l.Readable(2, 150*ms, 150*ms, election); !ok || !renew {
		t.Fatalf("150 ms in, second half: ok %v, renew %v; want true, true", ok, renew)
	}
	if ok, _, _ := l.Readable(3, 150*ms, 150*ms, election); ok {
		t.Fatal("term 2's lease let term 3 read")
	}
}

// TestReadIndexServesWhatArrivedBefore: a ReadIndex that completes after
// the lease it extends has ended (slower than the lease, on a busy
// machine) still serves the reads that arrived before it began, and wakes
// them; not later reads, nor another term's, nor any before the new
// leader's wait is over.
func TestReadIndexServesWhatArrivedBefore(t *testing.T) {
	const election = 200 * time.Millisecond
	ms := int64(time.Millisecond)
	var l Lease
	l.Leading(2, 0)
	ch := l.Changed()
	l.Confirmed(2, 10*ms, 60*ms, election) // a lease until 100 ms
	if !woken(ch) {
		t.Fatal("a completed ReadIndex did not wake the waiting reads")
	}
	if ok, _, startIn := l.Readable(2, 5*ms, 60*ms, election); ok || startIn != 40*time.Millisecond {
		t.Fatalf("before the new leader's wait is over: ok %v, start in %v", ok, startIn)
	}
	ch = l.Changed()
	l.Confirmed(2, 150*ms, 400*ms, election) // took 250 ms: its lease ended at 240
	if !woken(ch) {
		t.Fatal("a ReadIndex slower than its lease did not wake the waiting reads")
	}
	if l.Until(2) != 150*ms+int64(Serve(election)) {
		t.Fatalf("lease until %d", l.Until(2))
	}
	if ok, renew, _ := l.Readable(2, 140*ms, 400*ms, election); !ok || renew {
		t.Fatalf("a read that arrived before the ReadIndex began: ok %v, renew %v; want true, false", ok, renew)
	}
	if ok, _, _ := l.Readable(2, 160*ms, 400*ms, election); ok {
		t.Fatal("a read that arrived after the ReadIndex began was served without a lease")
	}
	if !l.Served(2, 150*ms, 900*ms) || l.Served(2, 151*ms, 900*ms) {
		t.Fatal("Served: the ReadIndex covers reads that arrived by its start, whenever they are read, and no others")
	}
	l.Confirmed(1, 300*ms, 410*ms, election) // an older term's changes nothing
	if l.Served(3, 100*ms, 400*ms) {
		t.Fatal("term 2's ReadIndex let term 3 read")
	}
	if !l.Served(2, 150*ms, 900*ms) {
		t.Fatal("an older term's ReadIndex replaced term 2's")
	}
}

// TestAcknowledged: a commit extends the lease only while the replica
// still leads in the term and by more than an eighth of a lease, and an
// acknowledgement waits out the new leader's wait.
func TestAcknowledged(t *testing.T) {
	const election = 200 * time.Millisecond
	ms := int64(time.Millisecond)
	var l Lease
	l.Leading(1, 0)
	asked := 0
	still := func(v bool) func() bool { return func() bool { asked++; return v } }
	if d := l.Acknowledged(1, 10*ms, 30*ms, election, still(true)); d != 70*time.Millisecond || l.Until(1) != 10*ms+int64(Serve(election)) {
		t.Fatalf("wait %v, lease until %d", d, l.Until(1))
	}
	if d := l.Acknowledged(1, 15*ms, 120*ms, election, still(true)); d > 0 || asked != 1 {
		t.Fatalf("a commit 5 ms later: wait %v (want none), asked Raft %d times (want 1: not worth extending)", d, asked)
	}
	l.Acknowledged(1, 50*ms, 120*ms, election, still(false))
	if l.Until(1) != 10*ms+int64(Serve(election)) {
		t.Fatal("a commit applied after the replica lost the term extended its lease")
	}
}

// TestLeaseShorterThanANewLeadersWait: the lease a leader serves reads on
// must end before any successor acknowledges anything, which waits Wait
// from its election, after the lease began.
func TestLeaseShorterThanANewLeadersWait(t *testing.T) {
	for _, d := range []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, 2 * time.Second} {
		if Serve(d) >= Wait(d) || Serve(d) <= 0 || Wait(d) >= d {
			t.Errorf("election %v: lease %v, wait %v; want 0 < lease < wait < election", d, Serve(d), Wait(d))
		}
	}
}

// TestOneConfirmationAtATime: a confirmation of a term starts once until
// it is done; a later term's may start meanwhile, an earlier one's not.
func TestOneConfirmationAtATime(t *testing.T) {
	var l Lease
	if !l.StartConfirming(2) || l.StartConfirming(2) || l.StartConfirming(1) {
		t.Fatal("a second confirmation of term 2 (or one of term 1) started while term 2's runs")
	}
	if !l.StartConfirming(3) {
		t.Fatal("term 3's confirmation did not start while term 2's runs")
	}
	l.DoneConfirming(2) // term 3's still runs
	if l.StartConfirming(3) {
		t.Fatal("the end of term 2's confirmation let a second one of term 3 start")
	}
	l.DoneConfirming(3)
	if !l.StartConfirming(3) {
		t.Fatal("term 3's confirmation did not start again after the last ended")
	}
}

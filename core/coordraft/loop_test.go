package coordraft

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/core/readlease"
	"github.com/chronik-go/chronik/raftsm"
)

// recordingOwner records the loop's calls.
type recordingOwner struct {
	mu     sync.Mutex
	terms  map[int]uint64
	events []string
	ticks  int
}

func (o *recordingOwner) LoadedTerm(i int) uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.terms[i]
}

func (o *recordingOwner) Load(i int, term uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.terms[i] = term
	o.events = append(o.events, "load")
}

func (o *recordingOwner) Unload(i int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.terms[i] = 0
	o.events = append(o.events, "unload")
}

func (o *recordingOwner) Tick() {
	o.mu.Lock()
	o.ticks++
	o.mu.Unlock()
}

func (o *recordingOwner) seen() ([]string, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.events...), o.ticks
}

// newTestLoop returns a loop, not started, as broker 1 over one shard of
// a fake that broker 1 leads in term 1, and its recording owner.
func newTestLoop(t *testing.T) (*Loop, *Fake, *recordingOwner) {
	t.Helper()
	return newTestLoopOf(t, 1)
}

// newTestLoopOf is newTestLoop over n shards.
func newTestLoopOf(t *testing.T, n int) (*Loop, *Fake, *recordingOwner) {
	t.Helper()
	st, err := raftsm.OpenMemStore()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var (
		sms []*raftsm.Coordinator
		ids []uint64
	)
	for i := range n {
		id := raftsm.FirstCoordinatorShardID + uint64(i)
		sms, ids = append(sms, raftsm.NewCoordinator(st, id)), append(ids, id)
	}
	f := NewFake(sms...)
	o := &recordingOwner{terms: map[int]uint64{}}
	return NewLoop(f, 1, ids, o, time.Millisecond, time.Second, "test", slog.New(slog.DiscardHandler)), f, o
}

// TestLoop: a shard is loaded when this broker leads it, reloaded in a new
// term, unloaded when another broker leads it; Leads follows; Close stops
// the loop and the work started with Go.
func TestLoop(t *testing.T) {
	l, f, o := newTestLoop(t)
	l.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.WaitLoaded(ctx); err != nil || !l.Leads(0) || o.LoadedTerm(0) != 1 || l.Route(0) != Here {
		t.Fatalf("WaitLoaded: %v, leads %v, term %d, route %d", err, l.Leads(0), o.LoadedTerm(0), l.Route(0))
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if ctx.Err() != nil {
				ev, _ := o.seen()
				t.Fatalf("%s: events %v", what, ev)
			}
			time.Sleep(time.Millisecond)
		}
	}
	f.SetLeader(1, 2)
	waitFor("reload in term 2", func() bool { return o.LoadedTerm(0) == 2 })
	f.SetLeader(2, 3)
	waitFor("unload", func() bool { return o.LoadedTerm(0) == 0 })
	if l.Leads(0) || l.Route(0) != Elsewhere {
		t.Fatalf("another broker leads: Leads %v, route %d", l.Leads(0), l.Route(0))
	}
	f.SetLeader(0, 4)
	if r := l.Route(0); r != NoLeader {
		t.Fatalf("route without a leader: %d", r)
	}
	ev, ticks := o.seen()
	if want := []string{"load", "unload", "load", "unload"}; len(ev) != len(want) || ev[1] != "unload" || ev[3] != "unload" || ticks == 0 {
		t.Fatalf("events %v, ticks %d; want %v and ticks", ev, ticks, want)
	}
	stopped := make(chan struct{})
	l.Go(func() {
		<-l.Context().Done()
		close(stopped)
	})
	l.Close()
	select {
	case <-stopped:
	default:
		t.Fatal("Close returned before the work started with Go")
	}
	select {
	case <-l.Done():
	default:
		t.Fatal("Done not closed")
	}
	if r := l.Route(0); r != Closed {
		t.Fatalf("route after Close: %d", r)
	}
}

// TestReadLeasedWaitsForTheLease: with read leases on, a shard loaded in a
// new term answers reads and acknowledges proposals only readlease.Wait
// after the loop saw it lead; later reads renew the lease by barriers; a
// read that outlasts its lease runs again.
func TestReadLeasedWaitsForTheLease(t *testing.T) {
	l, f, o := newTestLoop(t)
	const election = 100 * time.Millisecond
	wait := readlease.Wait(election)
	l.SetElectionTimeout(election)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// serve retries while the shard loads, as a client does on
	// COORDINATOR_LOAD_IN_PROGRESS.
	serve := func() Routing {
		for {
			if r := l.ReadLeased(ctx, 0, func() {}); r != Loading || ctx.Err() != nil {
				return r
			}
			time.Sleep(time.Millisecond)
		}
	}
	for term := uint64(1); term <= 2; term++ {
		changed := time.Now()
		if term == 1 {
			l.Start()
			defer l.Close()
		} else {
			f.SetLeader(1, term)
		}
		proposedAt := l.Now()
		if r := serve(); r != Here {
			t.Fatalf("term %d: ReadLeased %d, want Here", term, r)
		}
		if took := time.Since(changed); took < wait {
			t.Fatalf("term %d: a read was served %v after leadership began, before the new leader's wait of %v", term, took, wait)
		}
		if o.LoadedTerm(0) != term {
			t.Fatalf("served in term %d, loaded %d", term, o.LoadedTerm(0))
		}
		if err := l.Acknowledge(ctx, 0, term, proposedAt); err != nil {
			t.Fatal(err)
		}
	}
	// Past the lease a read confirms again (the fake's barrier is at once).
	time.Sleep(readlease.Serve(election)) // let the lease run out, not synchronisation
	if r := serve(); r != Here {
		t.Fatalf("ReadLeased after the lease ran out: %d", r)
	}
	// A read that outlasts the lease (a paused process) runs again.
	calls := 0
	if r := l.ReadLeased(ctx, 0, func() {
		calls++
		if calls == 1 {
			time.Sleep(readlease.Serve(election)) // outlast the lease, not synchronisation
		}
	}); r != Here || calls != 2 {
		t.Fatalf("a read outlasting the lease: routing %d after %d runs; want Here after 2", r, calls)
	}
	// A new term, and a caller that does not wait: not served.
	f.SetLeader(1, 3)
	done, stop := context.WithCancel(ctx)
	stop()
	if r := l.ReadLeased(done, 0, func() { t.Error("read in a new term at once") }); r == Here {
		t.Fatal("a read was served at once in a new term")
	}
}

// TestReadLeasedServesAfterASlowBarrier: a read barrier that takes longer
// than the lease it starts (a busy machine) still serves the reads that
// arrived before it began: each is answered after one barrier, never
// refused.
func TestReadLeasedServesAfterASlowBarrier(t *testing.T) {
	l, f, _ := newTestLoop(t)
	const election = 100 * time.Millisecond
	slow := readlease.Serve(election) + 10*time.Millisecond
	l.SetElectionTimeout(election)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f.SetBarrierDelay(slow)
	l.Start()
	defer l.Close()
	for r := l.ReadLeased(ctx, 0, func() {}); r != Here; r = l.ReadLeased(ctx, 0, func() {}) {
		if r != Loading || ctx.Err() != nil {
			t.Fatalf("first read: routing %d", r)
		}
		time.Sleep(time.Millisecond)
	}
	for i := range 3 {
		time.Sleep(readlease.Serve(election)) // let the lease run out, not synchronisation
		began := time.Now()
		if r := l.ReadLeased(ctx, 0, func() {}); r != Here {
			t.Fatalf("read %d after the lease ran out, with barriers of %v: routing %d, want Here", i, slow, r)
		}
		if took := time.Since(began); took < slow {
			t.Fatalf("read %d served in %v without a lease, before a barrier of %v", i, took, slow)
		}
	}
}

// TestReadLeasedEachReadsAllShardsAtOnce: a listing's reads of its shards
// run side by side (each shard's read waits here until all have started),
// so it waits for about one confirmation, not one per shard.
func TestReadLeasedEachReadsAllShardsAtOnce(t *testing.T) {
	const n = 4
	l, _, _ := newTestLoopOf(t, n)
	l.SetElectionTimeout(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l.Start()
	defer l.Close()
	if err := l.WaitLoaded(ctx); err != nil {
		t.Fatal(err)
	}
	started, release := make(chan int, n), make(chan struct{})
	go func() {
		defer close(release)
		for range n {
			select {
			case <-started:
			case <-time.After(3 * time.Second):
				t.Error("the shards' reads ran one after the other")
				return
			}
		}
	}()
	var read [n]bool
	for i, rt := range l.ReadLeasedEach(ctx, func(i int) {
		started <- i
		<-release
		read[i] = true
	}) {
		if rt != Here || !read[i] {
			t.Fatalf("shard %d: routing %d, read %v", i, rt, read[i])
		}
	}
}

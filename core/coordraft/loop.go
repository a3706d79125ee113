package coordraft

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/chronik-go/chronik/core/readlease"
)

// Owner is a coordinator's side of a Loop: its per-shard state, loaded and
// unloaded as this broker comes to lead a shard and stops leading it.
// Load, Unload and Tick run on the loop's goroutine; LoadedTerm may be
// called from any.
type Owner interface {
	// LoadedTerm is the Raft term shard i was loaded in, 0 when it is not
	// loaded.
	LoadedTerm(i int) uint64
	// Load brings shard i's state up for term; the shard's state machine
	// has applied everything committed before (a read barrier), and this
	// broker led the shard in term just before the call.
	Load(i int, term uint64)
	// Unload drops shard i's state: this broker no longer leads it, or
	// leads it in a newer term.
	Unload(i int)
	// Tick does the owner's periodic work after every pass over the shards.
	Tick()
}

// Loop follows which coordinator shards this broker leads: every interval
// (or when poked) it loads each shard it has come to lead, in each new term,
// after a read barrier, and unloads each it no longer leads; then it calls
// the owner's Tick. It also carries the owner's background work: a context
// and a wait group that Close cancels and waits for.
type Loop struct {
	raft     Node
	self     uint64
	shards   []uint64
	owner    Owner
	interval time.Duration
	barrier  time.Duration
	name     string
	log      *slog.Logger

	// election is the shards' Raft election timeout, which sizes the
	// read leases (ReadLeased, Acknowledge); 0 leaves them out.
	election time.Duration
	clock    readlease.Clock
	leases   []readlease.Lease

	wakeC    chan struct{}
	stopC    chan struct{}
	goMu     sync.Mutex
	goClosed bool // Close has begun waiting for bg
	bg       sync.WaitGroup
	ctx      context.Context
	cancel   context.CancelFunc
	started  sync.Once
	closed   sync.Once
}

// NewLoop returns the loop of a coordinator named name (for errors and
// logs) over the shards (their IDs, in the owner's order), as broker self.
// barrier bounds each load's read barrier. Call Start.
func NewLoop(raft Node, self uint64, shards []uint64, owner Owner, interval, barrier time.Duration, name string, log *slog.Logger) *Loop {
	l := &Loop{
		raft: raft, self: self, shards: shards, owner: owner, interval: interval, barrier: barrier, name: name, log: log,
		wakeC: make(chan struct{}, 1), stopC: make(chan struct{}),
		clock: readlease.NewClock(), leases: make([]readlease.Lease, len(shards)),
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l
}

// Start runs the loop.
func (l *Loop) Start() {
	l.started.Do(func() {
		l.Go(l.run)
	})
}

// Close stops the loop, cancels Context and waits for the loop and every
// function started with Go. The owner's shards stay as they are: the
// owner unloads them afterwards if it needs to.
func (l *Loop) Close() {
	l.closed.Do(func() {
		close(l.stopC)
		l.cancel()
		l.goMu.Lock()
		l.goClosed = true // no Add may race with the Wait
		l.goMu.Unlock()
		l.bg.Wait()
	})
}

// Context is cancelled by Close: the owner's background work uses it.
func (l *Loop) Context() context.Context { return l.ctx }

// Done is closed by Close.
func (l *Loop) Done() <-chan struct{} { return l.stopC }

// Go runs fn in the background; Close waits for it. After Close it does
// nothing.
func (l *Loop) Go(fn func()) {
	l.goMu.Lock()
	defer l.goMu.Unlock()
	if l.goClosed {
		return
	}
	l.bg.Add(1)
	go func() {
		defer l.bg.Done()
		fn()
	}()
}

// Poke makes the loop pass over the shards now.
func (l *Loop) Poke() {
	select {
	case l.wakeC <- struct{}{}:
	default:
	}
}

// WaitLoaded blocks until every shard has a leader and those this broker
// leads are loaded, so a starting single node never answers
// COORDINATOR_NOT_AVAILABLE or COORDINATOR_LOAD_IN_PROGRESS to its first
// clients. (A cluster member does not call it: its peers may be down.)
func (l *Loop) WaitLoaded(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		pending := 0
		for i, id := range l.shards {
			broker, term, ok := l.raft.Leader(id)
			switch {
			case !ok:
				pending++
			case broker == l.self && l.owner.LoadedTerm(i) != term:
				pending++
			}
		}
		if pending == 0 {
			return nil
		}
		l.Poke()
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %d coordinator shards without a leader or still loading: %w", l.name, pending, ctx.Err())
		case <-tick.C:
		}
	}
}

// Routing is where a request for a shard must go (Route).
type Routing int

// Routings.
const (
	Here      Routing = iota // this broker leads the shard and has loaded it
	Closed                   // the loop is closed
	NoLeader                 // the shard has no leader
	Elsewhere                // another broker leads the shard
	Loading                  // this broker leads the shard but has not loaded it yet
)

// Errors are a coordinator's own errors for the routings other than Here
// (its clients map them to NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE and
// COORDINATOR_LOAD_IN_PROGRESS).
type Errors struct {
	NotCoordinator, NotAvailable, Loading error
}

// Of returns the error for r: nil for Here.
func (e Errors) Of(r Routing) error {
	switch r {
	case Here:
		return nil
	case NoLeader:
		return e.NotAvailable
	case Loading:
		return e.Loading
	default: // Closed, Elsewhere
		return e.NotCoordinator
	}
}

// Route tells whether this broker serves shard i now; Loading also pokes
// the loop, so the load happens at once.
func (l *Loop) Route(i int) Routing {
	select {
	case <-l.stopC:
		return Closed
	default:
	}
	broker, term, ok := l.raft.Leader(l.shards[i])
	switch {
	case !ok:
		return NoLeader
	case broker != l.self:
		return Elsewhere
	case term == 0 || l.owner.LoadedTerm(i) != term:
		l.Poke()
		return Loading
	}
	return Here
}

// Leads reports whether this broker leads shard i in the term it was
// loaded in (what a coordinator checks before acting on a loaded shard).
func (l *Loop) Leads(i int) bool {
	broker, term, ok := l.raft.Leader(l.shards[i])
	return ok && broker == l.self && term != 0 && term == l.owner.LoadedTerm(i)
}

func (l *Loop) run() {
	tick := time.NewTicker(l.interval)
	defer tick.Stop()
	for {
		for i := range l.shards {
			l.reconcile(i)
		}
		l.owner.Tick()
		select {
		case <-l.stopC:
			return
		case <-tick.C:
		case <-l.wakeC:
		}
	}
}

// reconcile loads shard i when this broker leads it in a term it has not
// loaded, and unloads it when it no longer leads.
func (l *Loop) reconcile(i int) {
	id := l.shards[i]
	broker, term, ok := l.raft.Leader(id)
	lead := ok && broker == l.self
	loaded := l.owner.LoadedTerm(i)
	switch {
	case lead && loaded != term:
		if loaded != 0 {
			l.owner.Unload(i)
		}
		l.load(i, term)
	case !lead && loaded != 0:
		l.owner.Unload(i)
		l.log.Info(l.name+" coordinator shard unloaded: no longer its leader", "shard", id)
	}
}

// load makes the shard's state machine current (a read barrier: everything
// committed by earlier leaders is applied) and, if this broker still leads
// it in term, has the owner load it.
func (l *Loop) load(i int, term uint64) {
	id := l.shards[i]
	ctx, cancel := context.WithTimeout(l.ctx, l.barrier)
	defer cancel()
	start := l.clock.Now()
	l.leases[i].Leading(term, start)
	if err := l.raft.Barrier(ctx, id); err != nil {
		l.log.Debug(l.name+" coordinator shard not loaded yet", "shard", id, "err", err)
		return
	}
	if broker, t, ok := l.raft.Leader(id); !ok || broker != l.self || t != term {
		return
	}
	l.leases[i].Confirmed(term, start, l.clock.Now(), l.election)
	l.owner.Load(i, term)
}

// Read leases. A coordinator cut off from its peers believes it leads its
// shard until its quorum check fails, while a successor may take offset
// commits; answered from its state, an OffsetFetch would miss them. With
// SetElectionTimeout, reads of a loaded shard are served under a read
// lease (core/readlease has the argument): the load's read barrier starts
// one, later barriers and commits renew it, and a new coordinator answers
// reads and acknowledges commits only readlease.Wait after it learned it
// leads.

// SetElectionTimeout turns the read leases on (before Start): d is the
// shards' Raft election timeout.
func (l *Loop) SetElectionTimeout(d time.Duration) { l.election = d }

// Now is the loop's clock (for Acknowledge's proposedAt).
func (l *Loop) Now() int64 { return l.clock.Now() }

// ReadLeased is Route for a read answered from shard i's state: when this
// broker leads and has loaded the shard, it also waits, at most an
// election timeout, until it holds a read lease (NoLeader when it cannot
// confirm its leadership in that time: cut off, the clients look for the
// coordinator again), then runs read, and runs it again if the lease ran
// out before read returned: a process paused or starved between the check
// and the read may have taken its values after the lease's end (NoLeader
// after three such tries). A read barrier begun after the read arrived
// that completed serves it too, lease or not (readlease.Lease.Confirmed).
func (l *Loop) ReadLeased(ctx context.Context, i int, read func()) Routing {
	arrival := l.clock.Now()
	for range 3 {
		rt, term := l.serveRead(ctx, i, arrival)
		if rt != Here {
			return rt
		}
		read()
		if l.election <= 0 || l.leases[i].Served(term, arrival, l.clock.Now()) {
			return Here
		}
	}
	return NoLeader
}

// ReadLeasedEach is ReadLeased on every shard at once (a listing of all
// the shards this broker leads): read(i) runs for each shard i it serves,
// each in its own goroutine, so a listing waits for about one confirmation,
// not one per shard. It returns each shard's routing.
func (l *Loop) ReadLeasedEach(ctx context.Context, read func(i int)) []Routing {
	out := make([]Routing, len(l.shards))
	var wg sync.WaitGroup
	for i := range l.shards {
		wg.Go(func() { out[i] = l.ReadLeased(ctx, i, func() { read(i) }) })
	}
	wg.Wait()
	return out
}

// serveRead is ReadLeased's wait for a read that arrived at arrival: the
// routing, and the term served in when Here.
func (l *Loop) serveRead(ctx context.Context, i int, arrival int64) (Routing, uint64) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		rt := l.Route(i)
		if rt != Here || l.election <= 0 {
			return rt, 0
		}
		term := l.owner.LoadedTerm(i)
		ls := &l.leases[i]
		changed := ls.Changed()
		ok, renew, startIn := ls.Readable(term, arrival, l.clock.Now(), l.election)
		if ok {
			if renew {
				l.confirm(i, term)
			}
			return Here, term
		}
		var started <-chan time.Time
		if startIn > 0 {
			started = time.After(startIn)
		} else {
			l.confirm(i, term)
		}
		if timer == nil {
			timer = time.NewTimer(l.election)
		}
		select {
		case <-changed:
		case <-started:
		case <-timer.C:
			return NoLeader, 0
		case <-ctx.Done():
			return NoLeader, 0
		case <-l.stopC:
			return Closed, 0
		}
	}
}

// confirm starts read barriers on shard i in term, unless they run
// already, until one completes while this broker still leads in term,
// which extends the lease from when it was issued
// (readlease.Lease.Confirmed), or this broker no longer leads in term.
func (l *Loop) confirm(i int, term uint64) {
	ls := &l.leases[i]
	if !ls.StartConfirming(term) {
		return
	}
	l.Go(func() {
		defer ls.DoneConfirming(term)
		for backoff := time.Millisecond; l.leadsIn(i, term); backoff = min(2*backoff, 20*time.Millisecond) {
			start := l.clock.Now()
			ctx, cancel := context.WithTimeout(l.ctx, l.election)
			err := l.raft.Barrier(ctx, l.shards[i])
			cancel()
			if err == nil && l.leadsIn(i, term) {
				ls.Confirmed(term, start, l.clock.Now(), l.election)
				return
			}
			// Cut off, or not ready yet: the readers waiting may still be
			// served by the next barrier.
			select {
			case <-time.After(backoff):
			case <-l.stopC:
				return
			}
		}
	})
}

func (l *Loop) leadsIn(i int, term uint64) bool {
	broker, t, ok := l.raft.Leader(l.shards[i])
	return ok && broker == l.self && t == term
}

// Acknowledge is called when a proposal to shard i, made at proposedAt
// (Now) while the shard was loaded in term, has been applied: the commit
// extends the lease, and the caller's answer waits, unless ctx ends first
// (ctx's error), until readlease.Wait after this broker learned it led in
// term.
func (l *Loop) Acknowledge(ctx context.Context, i int, term uint64, proposedAt int64) error {
	if l.election <= 0 {
		return nil
	}
	if !readlease.Sleep(ctx.Done(), l.leases[i].Acknowledged(term, proposedAt, l.clock.Now(), l.election, func() bool { return l.leadsIn(i, term) })) {
		return ctx.Err()
	}
	return nil
}

// AwaitLed waits, unless ctx ends first (ctx's error), until
// readlease.Wait after this broker learned it led shard i in term: what a
// new coordinator does outside its shard (transaction markers) then comes
// after every lease of its predecessors has ended.
func (l *Loop) AwaitLed(ctx context.Context, i int, term uint64) error {
	if l.election <= 0 {
		return nil
	}
	if !readlease.Sleep(ctx.Done(), l.leases[i].StartIn(term, l.clock.Now(), l.election)) {
		return ctx.Err()
	}
	return nil
}

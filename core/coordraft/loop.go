package coordraft

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
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

	wakeC   chan struct{}
	stopC   chan struct{}
	bg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
	started sync.Once
	closed  sync.Once
}

// NewLoop returns the loop of a coordinator named name (for errors and
// logs) over the shards (their IDs, in the owner's order), as broker self.
// barrier bounds each load's read barrier. Call Start.
func NewLoop(raft Node, self uint64, shards []uint64, owner Owner, interval, barrier time.Duration, name string, log *slog.Logger) *Loop {
	l := &Loop{
		raft: raft, self: self, shards: shards, owner: owner, interval: interval, barrier: barrier, name: name, log: log,
		wakeC: make(chan struct{}, 1), stopC: make(chan struct{}),
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
		l.bg.Wait()
	})
}

// Context is cancelled by Close: the owner's background work uses it.
func (l *Loop) Context() context.Context { return l.ctx }

// Done is closed by Close.
func (l *Loop) Done() <-chan struct{} { return l.stopC }

// Go runs fn in the background; Close waits for it.
func (l *Loop) Go(fn func()) {
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
	if err := l.raft.Barrier(ctx, id); err != nil {
		l.log.Debug(l.name+" coordinator shard not loaded yet", "shard", id, "err", err)
		return
	}
	if broker, t, ok := l.raft.Leader(id); !ok || broker != l.self || t != term {
		return
	}
	l.owner.Load(i, term)
}

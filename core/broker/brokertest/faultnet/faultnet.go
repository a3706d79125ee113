// Package faultnet is an in-process Dragonboat transport that injects
// network faults for tests: per directed link it drops messages with a
// probability, delays them by a random duration, or cuts the link one way.
//
// It wraps Dragonboat's channel transport (plugin/chan), which connects
// NodeHosts of one process by their RaftAddress, so every broker of a test
// must run in the same process and use the factory of the same Network:
//
//	net := faultnet.New(seed)
//	b, err := broker.StartWithOptions(ctx, cfg, log, broker.Options{TransportFactory: net.Factory()})
//	net.SetAll(faultnet.Rule{Drop: 0.2, MaxDelay: 20 * time.Millisecond})
//	net.Cut(leaderRaftAddr, followerRaftAddr) // leader → follower only
//	net.Heal()
//
// Every random decision comes from one math/rand source seeded by the
// caller, so a failing run's fault pattern can be replayed with the same
// seed. Goroutine scheduling still decides which message meets which
// decision, so replays are statistically, not bit-for-bit, identical.
//
// Rules apply when Dragonboat hands a message batch to a connection, so a
// new rule takes effect immediately on existing connections. Dropped and
// cut batches are swallowed silently (SendMessageBatch returns nil), as a
// lossy network would; Raft retransmits. Delayed batches stay in order per
// connection, like a TCP stream. A snapshot chunk that meets a drop or a
// cut fails its stream with an error instead, so Dragonboat aborts and
// retries the snapshot rather than assembling a corrupt one.
package faultnet

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	dbconfig "github.com/lni/dragonboat/v4/config"
	chantransport "github.com/lni/dragonboat/v4/plugin/chan"
	"github.com/lni/dragonboat/v4/raftio"
	pb "github.com/lni/dragonboat/v4/raftpb"
)

// Errors returned to Dragonboat.
var (
	// ErrClosed is returned by a connection that was closed.
	ErrClosed = errors.New("faultnet: connection closed")
	// ErrFault is returned for a snapshot chunk that was dropped or cut.
	ErrFault = errors.New("faultnet: snapshot chunk lost to an injected fault")
)

// Rule is the fault behaviour of one directed link.
type Rule struct {
	// Cut drops everything sent over the link.
	Cut bool
	// Drop is the probability in [0, 1] that a message batch is lost.
	Drop float64
	// MinDelay and MaxDelay bound a uniformly random delivery delay.
	MinDelay, MaxDelay time.Duration
}

// Stats counts message batches by what happened to them.
type Stats struct {
	Delivered, Dropped, Cut, Delayed uint64
}

type link struct{ from, to string }

// Network holds the fault rules shared by every transport its Factory
// creates. The zero value is not usable; call New.
type Network struct {
	mu    sync.Mutex
	rng   *rand.Rand
	all   Rule
	links map[link]Rule

	delivered, dropped, cut, delayed atomic.Uint64
}

// New returns a healthy network whose random decisions derive from seed.
func New(seed uint64) *Network {
	return &Network{rng: rand.New(rand.NewPCG(seed, 0x6661756c746e6574)), links: map[link]Rule{}}
}

// SetAll sets the rule of every link that has no rule of its own.
func (n *Network) SetAll(r Rule) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.all = r
}

// SetLink sets the rule of the directed link from → to (Raft addresses); it
// replaces the SetAll rule on that link.
func (n *Network) SetLink(from, to string, r Rule) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.links[link{from, to}] = r
}

// Cut drops everything sent from → to; the reverse direction is untouched.
func (n *Network) Cut(from, to string) { n.SetLink(from, to, Rule{Cut: true}) }

// Heal removes every rule: all links deliver everything at once.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.all = Rule{}
	clear(n.links)
}

// Stats returns the counts so far.
func (n *Network) Stats() Stats {
	return Stats{Delivered: n.delivered.Load(), Dropped: n.dropped.Load(), Cut: n.cut.Load(), Delayed: n.delayed.Load()}
}

// decide draws the fate of one batch on from → to: lost, or delivered
// after delay.
func (n *Network) decide(from, to string) (lost bool, delay time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r, ok := n.links[link{from, to}]
	if !ok {
		r = n.all
	}
	switch {
	case r.Cut:
		n.cut.Add(1)
		return true, 0
	case r.Drop > 0 && n.rng.Float64() < r.Drop:
		n.dropped.Add(1)
		return true, 0
	}
	delay = r.MinDelay
	if r.MaxDelay > r.MinDelay {
		delay += time.Duration(n.rng.Int64N(int64(r.MaxDelay - r.MinDelay + 1)))
	}
	if delay > 0 {
		n.delayed.Add(1)
	}
	n.delivered.Add(1)
	return false, delay
}

// Factory returns a Dragonboat transport factory for
// NodeHostConfig.Expert.TransportFactory (broker.Options.TransportFactory).
func (n *Network) Factory() dbconfig.TransportFactory { return factory{n} }

type factory struct{ n *Network }

func (f factory) Create(nhc dbconfig.NodeHostConfig, h raftio.MessageHandler, ch raftio.ChunkHandler) raftio.ITransport {
	return &transport{n: f.n, from: nhc.RaftAddress, inner: chantransport.NewChanTransport(nhc, h, ch)}
}

// Validate accepts any host:port; the channel transport's own Validate
// panics.
func (factory) Validate(addr string) bool {
	_, _, err := net.SplitHostPort(addr)
	return err == nil
}

type transport struct {
	n     *Network
	from  string
	inner raftio.ITransport
}

func (t *transport) Name() string { return "faultnet" }
func (t *transport) Start() error { return t.inner.Start() }
func (t *transport) Close() error { return t.inner.Close() }

func (t *transport) GetConnection(ctx context.Context, target string) (raftio.IConnection, error) {
	inner, err := t.inner.GetConnection(ctx, target)
	if err != nil {
		return nil, err
	}
	c := &conn{n: t.n, from: t.from, to: target, inner: inner, queue: make(chan pending, 256), done: make(chan struct{}), stopped: make(chan struct{})}
	go c.deliver()
	return c, nil
}

func (t *transport) GetSnapshotConnection(ctx context.Context, target string) (raftio.ISnapshotConnection, error) {
	inner, err := t.inner.GetSnapshotConnection(ctx, target)
	if err != nil {
		return nil, err
	}
	return &snapshotConn{n: t.n, from: t.from, to: target, inner: inner}, nil
}

type pending struct {
	at   time.Time
	data []byte // encoded pb.MessageBatch
}

// conn queues batches and delivers each at its due time, in order.
type conn struct {
	n        *Network
	from, to string
	inner    raftio.IConnection
	queue    chan pending
	done     chan struct{} // closed by Close
	stopped  chan struct{} // closed when deliver returns
	once     sync.Once
	failed   atomic.Pointer[error] // first delivery error, reported on the next send
}

func (c *conn) Close() {
	c.once.Do(func() {
		close(c.done)
		c.inner.Close()
	})
}

func (c *conn) SendMessageBatch(b pb.MessageBatch) error {
	if err := c.failed.Load(); err != nil {
		return *err
	}
	lost, delay := c.n.decide(c.from, c.to)
	if lost {
		return nil
	}
	// Dragonboat reuses the batch's slices once this returns, so the
	// queue holds an encoded copy, as a socket buffer would.
	data, err := b.Marshal()
	if err != nil {
		return err
	}
	select {
	case c.queue <- pending{at: time.Now().Add(delay), data: data}:
		return nil
	case <-c.stopped:
		if err := c.failed.Load(); err != nil {
			return *err
		}
		return ErrClosed
	case <-c.done:
		return ErrClosed
	}
}

func (c *conn) deliver() {
	defer close(c.stopped)
	var timer *time.Timer
	for {
		var p pending
		select {
		case p = <-c.queue:
		case <-c.done:
			return
		}
		if wait := time.Until(p.at); wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case <-timer.C:
			case <-c.done:
				timer.Stop()
				return
			}
		}
		var b pb.MessageBatch
		if err := b.Unmarshal(p.data); err != nil {
			c.failed.CompareAndSwap(nil, &err)
			return
		}
		if err := c.inner.SendMessageBatch(b); err != nil {
			c.failed.CompareAndSwap(nil, &err)
			return
		}
	}
}

type snapshotConn struct {
	n        *Network
	from, to string
	inner    raftio.ISnapshotConnection
}

func (c *snapshotConn) Close() { c.inner.Close() }

func (c *snapshotConn) SendChunk(chunk pb.Chunk) error {
	lost, delay := c.n.decide(c.from, c.to)
	if lost {
		return ErrFault
	}
	if delay > 0 {
		time.Sleep(delay) // chunks of one stream go one at a time anyway
	}
	return c.inner.SendChunk(chunk)
}

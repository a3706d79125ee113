// Package coordraft is what the coordinators that live on the coordinator
// shards (core/group, core/txn) share: what they need of the shards' Raft
// groups (Node), Dragonboat's NodeHost providing it, an in-process Fake for
// their tests that applies commands directly to the state machines, and
// the Loop that loads and unloads their shards as this broker comes to
// lead them and stops.
package coordraft

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lni/dragonboat/v4"
	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/chronik-go/chronik/core/readlease"
	"github.com/chronik-go/chronik/raftsm"
)

// Node is what a coordinator needs from the coordinator shards.
type Node interface {
	// Leader reports the broker leading the shard and the term; ok is
	// false when no leader is known.
	Leader(shardID uint64) (broker, term uint64, ok bool)
	// Propose commits cmd and returns the state machine's result.
	Propose(ctx context.Context, shardID uint64, cmd []byte) (sm.Result, error)
	// Barrier returns once the local replica has applied everything
	// committed before the call (a ReadIndex).
	Barrier(ctx context.Context, shardID uint64) error
}

// NodeHost adapts a Dragonboat NodeHost. A proposal to a shard that is not
// running here fails with notCoordinator, one that cannot commit before ctx
// ends with unavailable (each wrapping the cause): the caller's own error
// values, which its clients map to NOT_COORDINATOR and
// COORDINATOR_NOT_AVAILABLE.
func NodeHost(nh *dragonboat.NodeHost, notCoordinator, unavailable error) Node {
	return nodeHost{nh: nh, notCoordinator: notCoordinator, unavailable: unavailable}
}

type nodeHost struct {
	nh                          *dragonboat.NodeHost
	notCoordinator, unavailable error
}

func (n nodeHost) Leader(shardID uint64) (uint64, uint64, bool) {
	id, term, valid, err := n.nh.GetLeaderID(shardID)
	// System-shard replica IDs carry the broker ID in their low 32 bits
	// (raftsm.SystemReplicaID: a wiped broker rejoins under a new ID).
	return uint64(raftsm.BrokerOfReplica(id)), term, valid && err == nil
}

// Propose retries Dragonboat's temporary errors (no leader yet, busy) until
// ctx ends.
func (n nodeHost) Propose(ctx context.Context, shardID uint64, cmd []byte) (sm.Result, error) {
	for {
		r, err := n.nh.SyncPropose(ctx, n.nh.GetNoOPSession(shardID), cmd)
		if err == nil {
			return r, nil
		}
		switch {
		case errors.Is(err, dragonboat.ErrClosed), errors.Is(err, dragonboat.ErrShardNotFound):
			return sm.Result{}, fmt.Errorf("%w: %w", n.notCoordinator, err)
		case !dragonboat.IsTempError(err) || ctx.Err() != nil:
			return sm.Result{}, fmt.Errorf("%w: proposal to shard %d: %w", n.unavailable, shardID, err)
		}
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return sm.Result{}, fmt.Errorf("%w: %w", n.unavailable, ctx.Err())
		case <-t.C:
		}
	}
}

func (n nodeHost) Barrier(ctx context.Context, shardID uint64) error {
	_, err := n.nh.SyncRead(ctx, shardID, nil)
	return err
}

// Fake is a Node for tests: it applies each proposal at once to the state
// machine of its shard, one at a time, and lets tests move leadership and
// make proposals fail.
type Fake struct {
	mu    sync.Mutex
	sms   map[uint64]*raftsm.Coordinator
	index uint64
	lead  uint64
	term  uint64
	fail  error
	slow  time.Duration // Barrier's delay
}

// NewFake returns a Fake over sms, led by broker 1 in term 1.
func NewFake(sms ...*raftsm.Coordinator) *Fake {
	f := &Fake{sms: map[uint64]*raftsm.Coordinator{}, lead: 1, term: 1}
	for _, c := range sms {
		f.sms[c.ShardID()] = c
	}
	return f
}

// Leader reports the leader every shard has.
func (f *Fake) Leader(uint64) (uint64, uint64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lead, f.term, f.lead != 0
}

// Propose applies cmd, or fails with the error SetFail set.
func (f *Fake) Propose(_ context.Context, shardID uint64, cmd []byte) (sm.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return sm.Result{}, f.fail
	}
	f.index++
	out, err := f.sms[shardID].Update([]sm.Entry{{Index: f.index, Cmd: cmd}})
	if err != nil {
		return sm.Result{}, err
	}
	return out[0].Result, nil
}

// Barrier has nothing to wait for (proposals apply at once) but the delay
// SetBarrierDelay set, or ctx's end.
func (f *Fake) Barrier(ctx context.Context, _ uint64) error {
	f.mu.Lock()
	d := f.slow
	f.mu.Unlock()
	if !readlease.Sleep(ctx.Done(), d) {
		return ctx.Err()
	}
	return nil
}

// SetBarrierDelay makes Barrier take d, as a ReadIndex on a busy machine.
func (f *Fake) SetBarrierDelay(d time.Duration) {
	f.mu.Lock()
	f.slow = d
	f.mu.Unlock()
}

// SetLeader makes broker lead every shard in term (0: no leader).
func (f *Fake) SetLeader(broker, term uint64) {
	f.mu.Lock()
	f.lead, f.term = broker, term
	f.mu.Unlock()
}

// SetFail makes proposals fail with err (nil: succeed again).
func (f *Fake) SetFail(err error) {
	f.mu.Lock()
	f.fail = err
	f.mu.Unlock()
}

// Machine returns the state machine of a shard.
func (f *Fake) Machine(shardID uint64) *raftsm.Coordinator {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sms[shardID]
}

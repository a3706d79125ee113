package txn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lni/dragonboat/v4"
	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/chronik-go/chronik/raftsm"
)

// raftNode is what the coordinator needs from the coordinator shards' Raft
// groups: the same seam as core/group's. The broker's NodeHost provides it;
// tests use an in-process fake that applies commands directly to the state
// machines.
type raftNode interface {
	// leader reports the shard's leader replica and term; ok is false
	// when no leader is known.
	leader(shardID uint64) (replicaID, term uint64, ok bool)
	// propose commits cmd and returns the state machine's result.
	propose(ctx context.Context, shardID uint64, cmd []byte) (sm.Result, error)
	// barrier returns once the local replica has applied everything
	// committed before the call (a ReadIndex).
	barrier(ctx context.Context, shardID uint64) error
}

// nodeHost adapts a Dragonboat NodeHost.
type nodeHost struct{ nh *dragonboat.NodeHost }

func (n nodeHost) leader(shardID uint64) (uint64, uint64, bool) {
	id, term, valid, err := n.nh.GetLeaderID(shardID)
	// System-shard replica IDs carry the broker ID in their low 32 bits.
	return uint64(raftsm.BrokerOfReplica(id)), term, valid && err == nil
}

// propose retries Dragonboat's temporary errors (no leader yet, busy) until
// ctx ends, then reports the coordinator as unavailable.
func (n nodeHost) propose(ctx context.Context, shardID uint64, cmd []byte) (sm.Result, error) {
	for {
		r, err := n.nh.SyncPropose(ctx, n.nh.GetNoOPSession(shardID), cmd)
		if err == nil {
			return r, nil
		}
		switch {
		case errors.Is(err, dragonboat.ErrClosed), errors.Is(err, dragonboat.ErrShardNotFound):
			return sm.Result{}, fmt.Errorf("%w: %w", ErrNotCoordinator, err)
		case !dragonboat.IsTempError(err) || ctx.Err() != nil:
			return sm.Result{}, fmt.Errorf("%w: proposal to shard %d: %w", ErrCoordinatorNotAvailable, shardID, err)
		}
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return sm.Result{}, fmt.Errorf("%w: %w", ErrCoordinatorNotAvailable, ctx.Err())
		case <-t.C:
		}
	}
}

func (n nodeHost) barrier(ctx context.Context, shardID uint64) error {
	_, err := n.nh.SyncRead(ctx, shardID, nil)
	return err
}

var _ raftNode = nodeHost{}

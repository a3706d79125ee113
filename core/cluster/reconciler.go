package cluster

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/config"
	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/raftsm"
)

// ShardConfigFunc returns the Dragonboat config of a partition replica.
type ShardConfigFunc func(shardID, replicaID uint64) config.Config

// Reconciler starts the local replicas the meta state assigns to this
// broker and stops and removes the ones it no longer does. It runs on its
// own goroutine, woken after every meta change.
type Reconciler struct {
	nh       *dragonboat.NodeHost
	store    *raftsm.Store
	meta     *raftsm.Meta
	parts    *partition.Service
	nodeID   int32
	raftAddr func(node int32) string
	shardCfg ShardConfigFunc
	log      *slog.Logger

	wakeC chan struct{}
	done  chan struct{}
	once  sync.Once

	running map[uint64]running // owned by the loop goroutine
	ready   chan struct{}      // closed after the first pass
}

type running struct {
	replicaID uint64
	tp        partition.TP
}

// NewReconciler returns a reconciler; call Notify from the meta shard's
// change hook and Run on its own goroutine.
func NewReconciler(nh *dragonboat.NodeHost, store *raftsm.Store, meta *raftsm.Meta, parts *partition.Service,
	nodeID int32, raftAddr func(int32) string, shardCfg ShardConfigFunc, log *slog.Logger,
) *Reconciler {
	return &Reconciler{
		nh: nh, store: store, meta: meta, parts: parts, nodeID: nodeID, raftAddr: raftAddr, shardCfg: shardCfg, log: log,
		wakeC: make(chan struct{}, 1), done: make(chan struct{}), running: map[uint64]running{}, ready: make(chan struct{}),
	}
}

// Notify asks for a reconcile pass; it never blocks.
func (rc *Reconciler) Notify() {
	select {
	case rc.wakeC <- struct{}{}:
	default:
	}
}

// Ready is closed once the first pass has started every assigned replica.
func (rc *Reconciler) Ready() <-chan struct{} { return rc.ready }

// Run reconciles until ctx ends.
func (rc *Reconciler) Run(ctx context.Context) {
	defer close(rc.done)
	first := true
	for {
		rc.pass(ctx, first)
		if first {
			close(rc.ready)
			first = false
		}
		select {
		case <-ctx.Done():
			return
		case <-rc.wakeC:
		}
	}
}

// Wait blocks until Run has returned.
func (rc *Reconciler) Wait() { <-rc.done }

func (rc *Reconciler) pass(ctx context.Context, first bool) {
	view := rc.meta.View()
	want := map[uint64]bool{}
	changed := false
	for _, t := range view.Topics {
		for i, p := range t.Partitions {
			idx := -1
			for j, n := range p.Nodes {
				if n == rc.nodeID {
					idx = j
				}
			}
			if idx < 0 {
				continue
			}
			want[p.ShardID] = true
			if _, ok := rc.running[p.ShardID]; ok {
				continue
			}
			tp := partition.TP{Topic: t.Name, Partition: int32(i)}
			if err := rc.start(tp, p, p.Replicas[idx]); err != nil {
				rc.log.Error("cannot start partition replica", "topic", tp.Topic, "partition", tp.Partition, "shard", p.ShardID, "err", err)
				continue
			}
			changed = true
		}
	}
	for shard, r := range rc.running {
		if !want[shard] {
			rc.remove(ctx, shard, r.replicaID)
			delete(rc.running, shard)
			changed = true
		}
	}
	if first {
		// Replicas of topics deleted while this broker was down.
		local, err := rc.store.LocalReplicas()
		if err != nil {
			rc.log.Error("cannot list local replicas", "err", err)
		}
		for shard, replica := range local {
			if !want[shard] {
				rc.remove(ctx, shard, replica)
				changed = true
			}
		}
	}
	if changed {
		if err := rc.store.Sync(); err != nil {
			rc.log.Error("cannot sync replica records", "err", err)
		}
	}
}

func (rc *Reconciler) start(tp partition.TP, p raftsm.PartitionRecord, replicaID uint64) error {
	var members map[uint64]dragonboat.Target
	if !rc.nh.HasNodeInfo(p.ShardID, replicaID) {
		members = make(map[uint64]dragonboat.Target, len(p.Nodes))
		for i, n := range p.Nodes {
			members[p.Replicas[i]] = rc.raftAddr(n)
		}
	}
	nodes := make(map[uint64]int32, len(p.Nodes))
	for i, n := range p.Nodes {
		nodes[p.Replicas[i]] = n
	}
	if err := rc.store.AddLocalReplica(p.ShardID, replicaID); err != nil {
		return err
	}
	psm := rc.parts.NewStateMachine(rc.store, p.ShardID)
	create := func(uint64, uint64) sm.IOnDiskStateMachine { return psm }
	if err := rc.nh.StartOnDiskReplica(members, false, create, rc.shardCfg(p.ShardID, replicaID)); err != nil {
		return err
	}
	rc.parts.Register(tp, p.ShardID, replicaID, nodes, psm)
	rc.running[p.ShardID] = running{replicaID: replicaID, tp: tp}
	rc.log.Debug("started partition replica", "topic", tp.Topic, "partition", tp.Partition, "shard", p.ShardID, "replica", replicaID)
	return nil
}

// remove stops a replica and deletes its Raft log and state.
func (rc *Reconciler) remove(ctx context.Context, shard, replica uint64) {
	rc.parts.Unregister(shard)
	if err := rc.nh.StopReplica(shard, replica); err != nil && !errors.Is(err, dragonboat.ErrShardNotFound) {
		rc.log.Warn("stop replica", "shard", shard, "err", err)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		err := rc.nh.SyncRemoveData(rctx, shard, replica)
		if err == nil || rctx.Err() != nil {
			if err != nil {
				rc.log.Warn("remove replica data", "shard", shard, "err", err)
			}
			break
		}
		if !errors.Is(err, dragonboat.ErrShardNotStopped) {
			rc.log.Warn("remove replica data", "shard", shard, "err", err)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := rc.store.DeleteShard(shard); err != nil {
		rc.log.Error("delete partition state", "shard", shard, "err", err)
	}
	if err := rc.store.RemoveLocalReplica(shard); err != nil {
		rc.log.Error("forget local replica", "shard", shard, "err", err)
	}
	rc.log.Info("removed partition replica", "shard", shard, "replica", replica)
}

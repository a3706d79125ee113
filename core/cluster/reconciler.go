package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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

	running   map[uint64]running // owned by the loop goroutine
	requested map[uint64]uint64  // shard → lost replica ID a replacement was asked for
	replace   func(ctx context.Context, topic string, p, node int32) error
	ready     chan struct{} // closed after the first pass
}

type running struct {
	replicaID uint64
	tp        partition.TP
	sig       string // placement the replica was registered with
}

// NewReconciler returns a reconciler; call Notify from the meta shard's
// change hook and Run on its own goroutine.
func NewReconciler(nh *dragonboat.NodeHost, store *raftsm.Store, meta *raftsm.Meta, parts *partition.Service,
	nodeID int32, raftAddr func(int32) string, shardCfg ShardConfigFunc, log *slog.Logger,
) *Reconciler {
	return &Reconciler{
		nh: nh, store: store, meta: meta, parts: parts, nodeID: nodeID, raftAddr: raftAddr, shardCfg: shardCfg, log: log,
		wakeC: make(chan struct{}, 1), done: make(chan struct{}), running: map[uint64]running{}, requested: map[uint64]uint64{}, ready: make(chan struct{}),
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
	// Periodic passes retry what failed (a start, a replacement request).
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
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
		case <-tick.C:
		}
	}
}

// Wait blocks until Run has returned.
func (rc *Reconciler) Wait() { <-rc.done }

func (rc *Reconciler) pass(ctx context.Context, first bool) {
	view := rc.meta.View()
	// Whether a shard has run before (so that a replica ID of ours without
	// local Raft state was lost, not new) is read from the meta view, which
	// may lag: a wiped broker's new meta replica replays the log, and a
	// topic's creation applies before its leader's report. Only a view read
	// after a ReadIndex barrier may decide to start an ID empty.
	current := true
	floor, floorKnown := rc.rejoinFloor()
	if rc.startsEmpty(view) || !floorKnown {
		if err := rc.metaBarrier(ctx); err != nil {
			rc.log.Warn("cannot confirm the meta state is current; new partition replicas start at a later pass", "err", err)
			current = false
		} else {
			view = rc.meta.View()
			if !floorKnown {
				floor, floorKnown = rc.recordRejoinFloor(view)
			}
		}
	}
	want := map[uint64]bool{}
	changed := false
	for _, t := range view.Topics {
		for i, p := range t.Partitions {
			replicaID, joining, ok := localReplica(p, rc.nodeID)
			if !ok {
				continue
			}
			want[p.ShardID] = true
			tp := partition.TP{Topic: t.Name, Partition: int32(i)}
			sig := placementSig(p)
			if r, ok := rc.running[p.ShardID]; ok {
				if r.replicaID == replicaID {
					if r.sig != sig {
						rc.parts.SetNodes(p.ShardID, replicaNodes(p))
						r.sig = sig
						rc.running[p.ShardID] = r
					}
					continue
				}
				// Our replica of this shard was replaced by a new ID.
				rc.remove(ctx, p.ShardID, r.replicaID)
				delete(rc.running, p.ShardID)
				changed = true
			}
			if !joining && !rc.nh.HasNodeInfo(p.ShardID, replicaID) {
				if !current || !floorKnown {
					continue // decided at a later pass, on a current view
				}
				if _, led := view.Leaders[p.ShardID]; led || p.ShardID < floor {
					// The shard has run before (a leader reported itself,
					// or it existed when this broker came back wiped) but
					// we hold no Raft state for our replica: our data was
					// lost. The ID can never rejoin empty (it could vote
					// twice in a term); ask for a new one.
					rc.requestReplacement(ctx, tp, p.ShardID, replicaID)
					continue
				}
			}
			if err := rc.start(tp, p, replicaID, joining); err != nil {
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

// startsEmpty reports whether view assigns this broker a replica it does
// not run, holds no Raft state for, and would start as a member of the
// shard's initial group.
func (rc *Reconciler) startsEmpty(view *raftsm.MetaView) bool {
	for _, t := range view.Topics {
		for _, p := range t.Partitions {
			replicaID, joining, ok := localReplica(p, rc.nodeID)
			if !ok || joining {
				continue
			}
			if r, ok := rc.running[p.ShardID]; ok && r.replicaID == replicaID {
				continue
			}
			if !rc.nh.HasNodeInfo(p.ShardID, replicaID) {
				return true
			}
		}
	}
	return false
}

// rejoinFloor returns the shard ID below which every partition shard
// existed when this broker came back wiped (raftsm.Store.SetRejoinFloor):
// 0 for a broker that never did. known is false when this broker came back
// wiped and the floor is not recorded yet: recordRejoinFloor takes it from
// a current view.
func (rc *Reconciler) rejoinFloor() (floor uint64, known bool) {
	gen := rc.store.Generation()
	if gen == 0 {
		return 0, true
	}
	g, f, ok := rc.store.RejoinFloor()
	if !ok || g != gen {
		return 0, false
	}
	return f, true
}

// recordRejoinFloor records, for this broker's generation, the shard ID
// after every partition shard of view, read after a barrier: each of them
// was created before this pass, so before this broker's replicas of them
// could start (one created since the wipe only loses its replica ID).
func (rc *Reconciler) recordRejoinFloor(view *raftsm.MetaView) (uint64, bool) {
	var floor uint64
	for _, t := range view.Topics {
		for _, p := range t.Partitions {
			floor = max(floor, p.ShardID+1)
		}
	}
	if err := rc.store.SetRejoinFloor(rc.store.Generation(), floor); err != nil {
		rc.log.Error("cannot record which partitions existed before this broker's data dir was wiped", "err", err)
		return 0, false
	}
	rc.log.Info("data dir was wiped: partition replicas of shards below this one get new replica IDs", "shard_floor", floor)
	return floor, true
}

// metaBarrier waits until the local meta replica has applied everything
// the meta shard committed before the call (a ReadIndex).
func (rc *Reconciler) metaBarrier(ctx context.Context) error {
	bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := rc.nh.SyncRead(bctx, raftsm.MetaShardID, nil)
	return err
}

// localReplica returns the replica ID node should run for p and whether it
// is joining (a target replica not yet in the placement: started as a
// non-voting member that the partition leader adds, then promotes).
func localReplica(p raftsm.PartitionRecord, node int32) (replicaID uint64, joining, ok bool) {
	if i := slices.Index(p.Target, node); i >= 0 {
		id := p.TargetReplicas[i]
		return id, !slices.Contains(p.Replicas, id), true
	}
	if i := slices.Index(p.Nodes, node); i >= 0 {
		return p.Replicas[i], false, true
	}
	return 0, false, false
}

// replicaNodes maps every replica ID of p (current and target) to its broker.
func replicaNodes(p raftsm.PartitionRecord) map[uint64]int32 {
	nodes := make(map[uint64]int32, len(p.Nodes)+len(p.Target))
	for i, n := range p.Nodes {
		nodes[p.Replicas[i]] = n
	}
	for i, n := range p.Target {
		nodes[p.TargetReplicas[i]] = n
	}
	return nodes
}

func placementSig(p raftsm.PartitionRecord) string {
	return fmt.Sprint(p.Nodes, p.Replicas, p.Target, p.TargetReplicas)
}

// requestReplacement asks the meta shard, once per lost replica ID, for a
// new replica ID of ours in the shard.
func (rc *Reconciler) requestReplacement(ctx context.Context, tp partition.TP, shard, lost uint64) {
	if rc.replace == nil || rc.requested[shard] == lost {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rc.replace(rctx, tp.Topic, tp.Partition, rc.nodeID); err != nil {
		rc.log.Warn("cannot request a new replica ID for a replica whose data was lost; retrying", "topic", tp.Topic, "partition", tp.Partition, "replica", lost, "err", err)
		return
	}
	rc.requested[shard] = lost
	rc.log.Info("local Raft state of a partition replica is missing (data dir wiped?): requested a new replica ID",
		"topic", tp.Topic, "partition", tp.Partition, "shard", shard, "lost_replica", lost)
}

// SetReplacer sets how the reconciler asks for a new replica ID of a
// replica whose local data was lost.
func (rc *Reconciler) SetReplacer(fn func(ctx context.Context, topic string, p, node int32) error) {
	rc.replace = fn
}

func (rc *Reconciler) start(tp partition.TP, p raftsm.PartitionRecord, replicaID uint64, joining bool) error {
	known := rc.nh.HasNodeInfo(p.ShardID, replicaID)
	var members map[uint64]dragonboat.Target
	if !known && !joining {
		members = make(map[uint64]dragonboat.Target, len(p.Nodes))
		for i, n := range p.Nodes {
			members[p.Replicas[i]] = rc.raftAddr(n)
		}
	}
	if err := rc.store.AddLocalReplica(p.ShardID, replicaID); err != nil {
		return err
	}
	psm := rc.parts.NewStateMachine(rc.store, p.ShardID)
	create := func(uint64, uint64) sm.IOnDiskStateMachine { return psm }
	cfg := rc.shardCfg(p.ShardID, replicaID)
	cfg.IsNonVoting = joining
	if err := rc.nh.StartOnDiskReplica(members, joining && !known, create, cfg); err != nil {
		return err
	}
	rc.parts.Register(tp, p.ShardID, replicaID, replicaNodes(p), psm)
	rc.running[p.ShardID] = running{replicaID: replicaID, tp: tp, sig: placementSig(p)}
	rc.log.Debug("started partition replica", "topic", tp.Topic, "partition", tp.Partition, "shard", p.ShardID, "replica", replicaID, "joining", joining)
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
		// The record of the replica stays, so the next start retries.
		rc.log.Error("delete partition state", "shard", shard, "err", err)
		return
	}
	if err := rc.store.RemoveLocalReplica(shard); err != nil {
		rc.log.Error("forget local replica", "shard", shard, "err", err)
	}
	rc.log.Info("removed partition replica", "shard", shard, "replica", replica)
}

package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/core/tier"
	"github.com/chronik-go/chronik/kafka"
)

// backend joins the cluster and partition services into kafka.Backend.
// Partition calls go to the local replica; for a partition this broker
// holds no replica of, the answer comes from the cluster view: its
// reported leader, or NOT_LEADER_OR_FOLLOWER so the client reroutes.
type backend struct {
	*clusterService
	*partitionService
	tier *tier.Manager
}

// Aliases give the embedded services distinct field names.
type (
	clusterService   = cluster.Service
	partitionService = partition.Service
)

var _ kafka.Backend = (*backend)(nil)

// remote reports whether tp exists in the cluster but has no local replica.
func (b *backend) remote(tp partition.TP) (shard uint64, ok bool) {
	if b.Has(tp) {
		return 0, false
	}
	return b.Knows(tp.Topic, tp.Partition)
}

// notLocal turns "unknown partition" into "not the leader" for partitions
// that exist elsewhere in the cluster.
func (b *backend) notLocal(tp partition.TP, err error) error {
	if errors.Is(err, partition.ErrUnknownPartition) {
		if _, ok := b.remote(tp); ok {
			return partition.ErrNotLeader
		}
	}
	return err
}

func (b *backend) PartitionState(tp partition.TP) (partition.State, error) {
	if shard, ok := b.remote(tp); ok {
		node, epoch, _ := b.LeaderOf(shard)
		return partition.State{Leader: node, LeaderEpoch: epoch, LogStartOffset: -1, HighWatermark: -1}, nil
	}
	return b.partitionService.PartitionState(tp)
}

func (b *backend) ReadState(ctx context.Context, tp partition.TP) (partition.State, error) {
	if _, ok := b.remote(tp); ok {
		return b.PartitionState(tp)
	}
	return b.partitionService.ReadState(ctx, tp)
}

func (b *backend) Append(tp partition.TP, records []byte) *partition.Pending {
	if _, ok := b.remote(tp); ok {
		return partition.Failed(partition.ErrNotLeader)
	}
	return b.partitionService.Append(tp, records)
}

func (b *backend) AppendTransactional(tp partition.TP, txn partition.TxnProduce, records []byte) *partition.Pending {
	if _, ok := b.remote(tp); ok {
		return partition.Failed(partition.ErrNotLeader)
	}
	return b.partitionService.AppendTransactional(tp, txn, records)
}

func (b *backend) AddTxnPartitions(txn partition.TxnProduce, pid int64, epoch int16, tps []partition.TP) partition.TxnProduce {
	return b.partitionService.AddTxnPartitions(txn, pid, epoch, tps)
}

func (b *backend) Read(ctx context.Context, tp partition.TP, offset int64, maxBytes int32) (partition.ReadResult, error) {
	r, err := b.partitionService.Read(ctx, tp, offset, maxBytes)
	if errors.Is(err, partition.ErrOffsetTiered) {
		return b.readTiered(ctx, tp, r, offset, maxBytes)
	}
	return r, b.notLocal(tp, err)
}

// remoteReadTimeout bounds a fetch's read from tiered storage.
const remoteReadTimeout = 30 * time.Second

// readTiered serves a read below the local start from the object store.
func (b *backend) readTiered(ctx context.Context, tp partition.TP, r partition.ReadResult, offset int64, maxBytes int32) (partition.ReadResult, error) {
	lg, ok := b.Log(tp)
	if !ok || b.tier == nil {
		return r, partition.ErrOffsetOutOfRange
	}
	ctx, cancel := context.WithTimeout(ctx, remoteReadTimeout)
	defer cancel()
	recs, err := b.tier.Read(ctx, lg, offset, maxBytes)
	r.Records = recs
	if r.Records == nil {
		r.Records = []byte{}
	}
	return r, err
}

func (b *backend) OffsetForTimestamp(ctx context.Context, tp partition.TP, ts int64) (int64, int64, error) {
	if lg, ok := b.Log(tp); ok && b.tier != nil && lg.LocalStartOffset() > lg.LogStartOffset() {
		o, t, found, err := b.tier.OffsetForTimestamp(ctx, lg, ts)
		if err != nil || found {
			return o, t, err
		}
	}
	o, t, err := b.partitionService.OffsetForTimestamp(ctx, tp, ts)
	return o, t, b.notLocal(tp, err)
}

func (b *backend) EndOffsetForEpoch(tp partition.TP, epoch int32) (partition.EpochEnd, error) {
	e, err := b.partitionService.EndOffsetForEpoch(tp, epoch)
	return e, b.notLocal(tp, err)
}

func (b *backend) Producers(tp partition.TP) ([]partition.Producer, error) {
	ps, err := b.partitionService.Producers(tp)
	return ps, b.notLocal(tp, err)
}

func (b *backend) WriteTxnMarker(ctx context.Context, tp partition.TP, m partition.TxnMarker) error {
	if _, ok := b.remote(tp); ok {
		return partition.ErrNotLeader
	}
	return b.notLocal(tp, b.partitionService.WriteTxnMarker(ctx, tp, m))
}

func (b *backend) AbortedTxns(tp partition.TP, from, to int64) ([]partition.AbortedTxn, error) {
	a, err := b.partitionService.AbortedTxns(tp, from, to)
	return a, b.notLocal(tp, err)
}

func (b *backend) PreferredReadReplica(tp partition.TP, rack string) int32 {
	if rack == "" {
		return -1
	}
	t, ok := b.Topic(tp.Topic)
	if !ok || tp.Partition < 0 || int(tp.Partition) >= len(t.Partitions) {
		return -1
	}
	racks := map[int32]string{}
	for _, br := range b.Brokers() {
		racks[br.ID] = br.Rack
	}
	if st, err := b.PartitionState(tp); err == nil && st.Leader >= 0 && racks[st.Leader] == rack {
		return st.Leader
	}
	for _, n := range t.Partitions[tp.Partition].Nodes {
		if racks[n] == rack {
			return n
		}
	}
	return -1
}

func (b *backend) ReadFollower(ctx context.Context, tp partition.TP, offset int64, maxBytes int32) (partition.ReadResult, error) {
	r, err := b.partitionService.ReadFollower(ctx, tp, offset, maxBytes)
	if errors.Is(err, partition.ErrOffsetTiered) {
		return b.readTiered(ctx, tp, r, offset, maxBytes)
	}
	return r, b.notLocal(tp, err)
}

// ElectPreferredLeader moves tp's leadership to its preferred replica (the
// first in its placement) through the local replica's Raft group.
func (b *backend) ElectPreferredLeader(_ context.Context, tp partition.TP) error {
	t, ok := b.Topic(tp.Topic)
	if !ok || tp.Partition < 0 || int(tp.Partition) >= len(t.Partitions) {
		return partition.ErrUnknownPartition
	}
	p := t.Partitions[tp.Partition]
	st, err := b.PartitionState(tp)
	if err == nil && st.Leader == p.Nodes[0] {
		return partition.ErrElectionNotNeeded
	}
	if !b.Has(tp) {
		return fmt.Errorf("%w: this broker holds no replica of %s/%d; send the request to one of brokers %v", partition.ErrPreferredNotAvailable, tp.Topic, tp.Partition, p.Nodes)
	}
	if err := b.TransferLeadership(tp, p.Replicas[0]); err != nil {
		return fmt.Errorf("%w: %w", partition.ErrPreferredNotAvailable, err)
	}
	return nil
}

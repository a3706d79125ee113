package broker

import (
	"context"

	"github.com/chronik-go/chronik/core/partition"
)

// Admin operations on partitions held elsewhere answer NOT_LEADER_OR_FOLLOWER
// (see backend.notLocal), so the client routes them to the leader.

func (b *backend) DeleteRecords(ctx context.Context, tp partition.TP, offset int64) (int64, error) {
	low, err := b.partitionService.DeleteRecords(ctx, tp, offset)
	return low, b.notLocal(tp, err)
}

func (b *backend) MaxTimestampOffset(ctx context.Context, tp partition.TP) (int64, int64, error) {
	o, t, err := b.partitionService.MaxTimestampOffset(ctx, tp)
	return o, t, b.notLocal(tp, err)
}

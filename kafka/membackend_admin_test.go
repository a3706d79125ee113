package kafka

import (
	"context"
	"fmt"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/partition"
)

// memBackend's admin operations (Backend methods of 21_delete_records.go,
// 33_alter_configs.go …), kept apart from membackend_test.go.

func (b *memBackend) CreatePartitions(_ context.Context, topic string, count int32, validateOnly bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.mu.topics[topic]
	if !ok {
		return fmt.Errorf("%w: %q", cluster.ErrUnknownTopic, topic)
	}
	if int(count) <= len(t.logs) {
		return fmt.Errorf("%w: partition count decrease or no change: %d to %d", cluster.ErrInvalidPartitions, len(t.logs), count)
	}
	if validateOnly {
		return nil
	}
	parts := append([]cluster.Partition(nil), t.t.Partitions...)
	for i := int32(len(t.logs)); i < count; i++ {
		parts = append(parts, cluster.Partition{Index: i, ShardID: uint64(100 + i), Nodes: []int32{b.nodeID}, Replicas: []uint64{1}})
		t.logs = append(t.logs, &memLog{})
	}
	t.t.Partitions = parts
	return nil
}

func (b *memBackend) AlterTopicConfigs(_ context.Context, topic string, configs map[string]string, validateOnly bool) error {
	return b.alterConfigs(topic, validateOnly, func(map[string]string) (map[string]string, error) { return configs, nil })
}

func (b *memBackend) IncrementalAlterTopicConfigs(_ context.Context, topic string, ops []cluster.ConfigOp, validateOnly bool) error {
	return b.alterConfigs(topic, validateOnly, func(cur map[string]string) (map[string]string, error) {
		return cluster.ApplyConfigOps(cur, ops)
	})
}

func (b *memBackend) alterConfigs(topic string, validateOnly bool, next func(map[string]string) (map[string]string, error)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.mu.topics[topic]
	if !ok {
		return fmt.Errorf("%w: %q", cluster.ErrUnknownTopic, topic)
	}
	cfgs, err := next(t.t.Configs)
	if err != nil {
		return err
	}
	if err := cluster.ValidateTopicConfigs(cfgs); err != nil {
		return err
	}
	if !validateOnly {
		t.t.Configs = cfgs
	}
	return nil
}

func (b *memBackend) LogDir() cluster.LogDir {
	return cluster.LogDir{Path: "/var/lib/chronik", TotalBytes: 1 << 30, UsableBytes: 1 << 29}
}

func (b *memBackend) DeleteRecords(_ context.Context, tp partition.TP, offset int64) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, err := b.logLocked(tp)
	if err != nil {
		return -1, err
	}
	if offset == -1 {
		offset = l.next
	}
	if offset < 0 || offset > l.next {
		return -1, fmt.Errorf("%w: %d beyond %d", partition.ErrOffsetOutOfRange, offset, l.next)
	}
	if offset > l.start {
		l.start = offset
		for len(l.batches) > 0 && l.batches[0].last < offset {
			l.batches = l.batches[1:]
		}
	}
	return l.start, nil
}

func (b *memBackend) MaxTimestampOffset(_ context.Context, tp partition.TP) (int64, int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, err := b.logLocked(tp)
	if err != nil {
		return -1, -1, err
	}
	offset, ts := int64(-1), int64(-1)
	for _, mb := range l.batches {
		if offset < 0 || mb.maxTS > ts {
			// makeBatch's records have consecutive timestamps: the last holds the max.
			offset, ts = mb.last, mb.maxTS
		}
	}
	return offset, ts, nil
}

//go:build e2e

package compat

import (
	"context"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kgoDriver is franz-go: kgo produces (idempotent by default) and consumes,
// kadm creates the topic.
type kgoDriver struct{ conf clientConf }

func newKgo(c clientConf) driver { return kgoDriver{c} }

func (d kgoDriver) available() error { return nil }

func (d kgoDriver) version(context.Context) (string, error) {
	return modVersion("github.com/twmb/franz-go"), nil
}

func (d kgoDriver) client(opts ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(d.conf.addr), kgo.ClientID(d.conf.clientID)}, opts...)...)
}

func (d kgoDriver) createTopic(ctx context.Context, topic string, partitions int32) error {
	cl, err := d.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	if err != nil {
		return err
	}
	if resp.Err != nil {
		return fmt.Errorf("%w (%s)", resp.Err, resp.ErrMessage)
	}
	return nil
}

var kgoCodecs = map[string]kgo.CompressionCodec{
	"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
	"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
}

func (d kgoDriver) produce(ctx context.Context, topic string, first, n int, codec string) error {
	cl, err := d.client(kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgoCodecs[codec]))
	if err != nil {
		return err
	}
	defer cl.Close()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		j := first + i
		recs[i] = &kgo.Record{
			Key:   []byte(recKey(j)),
			Value: []byte(recValue(j)),
			Headers: []kgo.RecordHeader{
				{Key: hdrClient, Value: []byte(d.conf.id)},
				{Key: hdrSeq, Value: []byte(strconv.Itoa(j))},
			},
		}
	}
	return cl.ProduceSync(ctx, recs...).FirstErr()
}

func (d kgoDriver) produceKeyed(ctx context.Context, topic string, recs []keyed, codec string) error {
	cl, err := d.client(kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgoCodecs[codec]))
	if err != nil {
		return err
	}
	defer cl.Close()
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		krs[i] = &kgo.Record{
			Key: r.keyBytes(), Value: r.valueBytes(),
			Headers: []kgo.RecordHeader{{Key: hdrClient, Value: []byte(d.conf.id)}},
		}
	}
	return cl.ProduceSync(ctx, krs...).FirstErr()
}

func (d kgoDriver) readAll(ctx context.Context, topic string, end map[int32]int64) ([]rec, error) {
	return d.read(ctx, topic, end)
}

func (d kgoDriver) read(ctx context.Context, topic string, end map[int32]int64, opts ...kgo.Opt) ([]rec, error) {
	parts := make(map[int32]kgo.Offset)
	for p, e := range end {
		if e > 0 {
			parts[p] = kgo.NewOffset().At(0)
		}
	}
	cl, err := d.client(append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []rec
	for len(parts) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("partitions %v not read to the end: %w", parts, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, fromKgo(r))
			if r.Offset >= end[r.Partition]-1 {
				delete(parts, r.Partition)
			}
		})
	}
	return out, nil
}

// consume commits after every poll with CommitRecords (autocommit off) and
// leaves the group on Close.
func (d kgoDriver) consume(ctx context.Context, topic, group string, n int) ([]rec, error) {
	return d.consumeWith(ctx, topic, group, n)
}

// consumeKIP848 is consume in a KIP-848 consumer group (ServerSideBalancer).
func (d kgoDriver) consumeKIP848(ctx context.Context, topic, group string, n int) ([]rec, error) {
	return d.consumeWith(ctx, topic, group, n, kgo.ServerSideBalancer())
}

func (d kgoDriver) consumeWith(ctx context.Context, topic, group string, n int, opts ...kgo.Opt) ([]rec, error) {
	cl, err := d.client(append([]kgo.Opt{
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	}, opts...)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []rec
	for len(out) < n {
		fs := cl.PollRecords(ctx, n-len(out))
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("%d of %d records read: %w", len(out), n, err)
		}
		var firstErr error
		fs.EachError(func(_ string, _ int32, err error) {
			if firstErr == nil {
				firstErr = err
			}
		})
		if firstErr != nil {
			return out, firstErr
		}
		recs := fs.Records()
		for _, r := range recs {
			out = append(out, fromKgo(r))
		}
		if err := cl.CommitRecords(ctx, recs...); err != nil {
			return out, fmt.Errorf("commit: %w", err)
		}
	}
	return out, nil
}

// transact runs the rounds with a transactional client (ManualPartitioner):
// BeginTransaction, ProduceSync, EndTransaction. franz-go commits offsets in
// a transaction only through GroupTransactSession, as a live group member,
// so no offsets here (core/broker's TestTransactionsRF3 covers that).
func (d kgoDriver) transact(ctx context.Context, topic, txnID, _ string, rounds []txnRound) (bool, error) {
	cl, err := d.client(kgo.TransactionalID(txnID), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return false, err
	}
	defer cl.Close()
	for _, r := range rounds {
		if err := cl.BeginTransaction(); err != nil {
			return false, fmt.Errorf("begin %s: %w", r.Prefix, err)
		}
		recs := make([]*kgo.Record, r.N)
		for i := range recs {
			recs[i] = &kgo.Record{
				Partition: int32(i % partitions), Key: []byte(txnKey(r.Prefix, i)), Value: []byte(txnValue(r.Prefix, i)),
				Headers: []kgo.RecordHeader{{Key: hdrClient, Value: []byte(d.conf.id)}},
			}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return false, fmt.Errorf("produce %s: %w", r.Prefix, err)
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(r.Commit)); err != nil {
			return false, fmt.Errorf("end %s (commit %t): %w", r.Prefix, r.Commit, err)
		}
	}
	return false, nil
}

// readCommitted is readAll with FetchIsolationLevel(ReadCommitted()).
func (d kgoDriver) readCommitted(ctx context.Context, topic string, end map[int32]int64, _ int) ([]rec, error) {
	return d.read(ctx, topic, end, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
}

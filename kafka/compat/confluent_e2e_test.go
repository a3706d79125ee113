//go:build e2e && cgo

package compat

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// confluentDriver is confluent-kafka-go with its bundled librdkafka (cgo).
type confluentDriver struct{ conf clientConf }

func newConfluent(c clientConf) driver { return confluentDriver{c} }

func (d confluentDriver) available() error { return nil }

func (d confluentDriver) version(context.Context) (string, error) {
	_, lib := kafka.LibraryVersion()
	return modVersion("github.com/confluentinc/confluent-kafka-go/v2") + " (librdkafka " + lib + ")", nil
}

func (d confluentDriver) configMap(extra kafka.ConfigMap) *kafka.ConfigMap {
	cm := kafka.ConfigMap{
		"bootstrap.servers": d.conf.addr,
		"client.id":         d.conf.clientID,
	}
	for k, v := range extra {
		cm[k] = v
	}
	return &cm
}

func (d confluentDriver) createTopic(ctx context.Context, topic string, partitions int32) error {
	a, err := kafka.NewAdminClient(d.configMap(nil))
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := a.CreateTopics(ctx, []kafka.TopicSpecification{{Topic: topic, NumPartitions: int(partitions), ReplicationFactor: 1}})
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Error.Code() != kafka.ErrNoError {
			return r.Error
		}
	}
	return nil
}

func (d confluentDriver) produce(ctx context.Context, topic string, first, n int, codec string) error {
	msgs := make([]*kafka.Message, n)
	for i := range msgs {
		j := first + i
		msgs[i] = &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
			Key:            []byte(recKey(j)),
			Value:          []byte(recValue(j)),
			Headers: []kafka.Header{
				{Key: hdrClient, Value: []byte(d.conf.id)},
				{Key: hdrSeq, Value: []byte(strconv.Itoa(j))},
			},
		}
	}
	return d.send(ctx, msgs, codec)
}

// produceKeyed leaves Key or Value nil (a null) where recs say so.
func (d confluentDriver) produceKeyed(ctx context.Context, topic string, recs []keyed, codec string) error {
	msgs := make([]*kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
			Key:            r.keyBytes(),
			Value:          r.valueBytes(),
			Headers:        []kafka.Header{{Key: hdrClient, Value: []byte(d.conf.id)}},
		}
	}
	return d.send(ctx, msgs, codec)
}

// send produces msgs with a Producer (idempotent per the row) and waits for
// every delivery report.
func (d confluentDriver) send(ctx context.Context, msgs []*kafka.Message, codec string) error {
	p, err := kafka.NewProducer(d.configMap(kafka.ConfigMap{
		"enable.idempotence": d.conf.idempotent,
		"compression.type":   codec,
		"linger.ms":          5,
	}))
	if err != nil {
		return err
	}
	defer p.Close()
	n := len(msgs)
	delivered := make(chan kafka.Event, n)
	for i, m := range msgs {
		if err := p.Produce(m, delivered); err != nil {
			return fmt.Errorf("produce message %d: %w", i, err)
		}
	}
	for acked := 0; acked < n; acked++ {
		select {
		case ev := <-delivered:
			m, ok := ev.(*kafka.Message)
			if !ok {
				return fmt.Errorf("unexpected delivery event %v", ev)
			}
			if m.TopicPartition.Error != nil {
				return fmt.Errorf("delivery of %s: %w", m.Key, m.TopicPartition.Error)
			}
		case <-ctx.Done():
			return fmt.Errorf("%d of %d deliveries reported: %w", acked, n, ctx.Err())
		}
	}
	return nil
}

func fromConfluent(m *kafka.Message) rec {
	h := make(map[string]string, len(m.Headers))
	for _, kh := range m.Headers {
		h[kh.Key] = string(kh.Value)
	}
	return rec{Partition: m.TopicPartition.Partition, Offset: int64(m.TopicPartition.Offset), Key: string(m.Key), Value: string(m.Value), Headers: h}
}

// read polls c until done says stop, ctx ends or librdkafka reports a fatal
// error; transient errors are logged into the timeout error.
func confluentRead(ctx context.Context, c *kafka.Consumer, each func(*kafka.Message) (done bool, err error)) error {
	var last error
	for {
		if ctx.Err() != nil {
			if last == nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w (last client error: %w)", ctx.Err(), last)
		}
		m, err := c.ReadMessage(100 * time.Millisecond)
		if err != nil {
			var kerr kafka.Error
			if errors.As(err, &kerr) && kerr.IsTimeout() {
				continue
			}
			if errors.As(err, &kerr) && kerr.IsFatal() {
				return err
			}
			last = err
			continue
		}
		done, err := each(m)
		if err != nil || done {
			return err
		}
	}
}

// readAll assigns every partition at the beginning. librdkafka's consumer
// wants a group.id even so; with assign() and no commits it joins nothing.
func (d confluentDriver) readAll(ctx context.Context, topic string, end map[int32]int64) ([]rec, error) {
	return d.read(ctx, topic, end, nil)
}

func (d confluentDriver) read(ctx context.Context, topic string, end map[int32]int64, extra kafka.ConfigMap) ([]rec, error) {
	cm := kafka.ConfigMap{
		"group.id":           d.conf.clientID + "-assign",
		"enable.auto.commit": false,
	}
	maps.Copy(cm, extra)
	c, err := kafka.NewConsumer(d.configMap(cm))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var tps []kafka.TopicPartition
	pending := make(map[int32]bool)
	for p, e := range end {
		if e > 0 {
			tps = append(tps, kafka.TopicPartition{Topic: &topic, Partition: p, Offset: kafka.OffsetBeginning})
			pending[p] = true
		}
	}
	if err := c.Assign(tps); err != nil {
		return nil, err
	}
	var out []rec
	err = confluentRead(ctx, c, func(m *kafka.Message) (bool, error) {
		out = append(out, fromConfluent(m))
		if int64(m.TopicPartition.Offset) >= end[m.TopicPartition.Partition]-1 {
			delete(pending, m.TopicPartition.Partition)
		}
		return len(pending) == 0, nil
	})
	return out, err
}

// consumeCommitEveryRdk is how many messages the group consumer reads
// between synchronous commits (auto-commit off).
const consumeCommitEveryRdk = 1000

func (d confluentDriver) consume(ctx context.Context, topic, group string, n int) ([]rec, error) {
	return d.consumeWith(ctx, topic, group, n, nil)
}

// consumeKIP848 is consume in a KIP-848 consumer group
// (group.protocol=consumer).
func (d confluentDriver) consumeKIP848(ctx context.Context, topic, group string, n int) ([]rec, error) {
	return d.consumeWith(ctx, topic, group, n, kafka.ConfigMap{"group.protocol": "consumer"})
}

func (d confluentDriver) consumeWith(ctx context.Context, topic, group string, n int, extra kafka.ConfigMap) ([]rec, error) {
	cm := kafka.ConfigMap{
		"group.id":           group,
		"auto.offset.reset":  "earliest",
		"enable.auto.commit": false,
	}
	for k, v := range extra {
		cm[k] = v
	}
	c, err := kafka.NewConsumer(d.configMap(cm))
	if err != nil {
		return nil, err
	}
	if err := c.SubscribeTopics([]string{topic}, nil); err != nil {
		c.Close()
		return nil, err
	}
	var out []rec
	err = confluentRead(ctx, c, func(m *kafka.Message) (bool, error) {
		out = append(out, fromConfluent(m))
		if len(out)%consumeCommitEveryRdk == 0 || len(out) == n {
			if _, err := c.Commit(); err != nil {
				return true, fmt.Errorf("commit: %w", err)
			}
		}
		return len(out) >= n, nil
	})
	if err != nil {
		err = fmt.Errorf("%d of %d records read: %w", len(out), n, err)
	}
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return out, err
}

// transact runs the rounds with one transactional Producer
// (transactional.id): InitTransactions, then per round BeginTransaction,
// Produce (waiting for every delivery report), SendOffsetsToTransaction for
// a round's offsets with the group metadata of a consumer of group that
// joins nothing, CommitTransaction or AbortTransaction.
func (d confluentDriver) transact(ctx context.Context, topic, txnID, group string, rounds []txnRound) (bool, error) {
	p, err := kafka.NewProducer(d.configMap(kafka.ConfigMap{"transactional.id": txnID, "linger.ms": 5}))
	if err != nil {
		return false, err
	}
	defer p.Close()
	if err := p.InitTransactions(ctx); err != nil {
		return false, fmt.Errorf("init transactions: %w", err)
	}
	c, err := kafka.NewConsumer(d.configMap(kafka.ConfigMap{"group.id": group, "enable.auto.commit": false}))
	if err != nil {
		return false, err
	}
	defer c.Close()
	meta, err := c.GetConsumerGroupMetadata()
	if err != nil {
		return false, fmt.Errorf("consumer group metadata: %w", err)
	}
	for _, r := range rounds {
		if err := p.BeginTransaction(); err != nil {
			return false, fmt.Errorf("begin %s: %w", r.Prefix, err)
		}
		delivered := make(chan kafka.Event, r.N)
		for i := range r.N {
			m := &kafka.Message{
				TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: int32(i % partitions)},
				Key:            []byte(txnKey(r.Prefix, i)),
				Value:          []byte(txnValue(r.Prefix, i)),
				Headers:        []kafka.Header{{Key: hdrClient, Value: []byte(d.conf.id)}},
			}
			if err := p.Produce(m, delivered); err != nil {
				return false, fmt.Errorf("produce %s: %w", m.Key, err)
			}
		}
		for acked := 0; acked < r.N; acked++ {
			select {
			case ev := <-delivered:
				if m, ok := ev.(*kafka.Message); !ok {
					return false, fmt.Errorf("unexpected delivery event %v", ev)
				} else if m.TopicPartition.Error != nil {
					return false, fmt.Errorf("delivery of %s: %w", m.Key, m.TopicPartition.Error)
				}
			case <-ctx.Done():
				return false, fmt.Errorf("%s: %d of %d deliveries reported: %w", r.Prefix, acked, r.N, ctx.Err())
			}
		}
		if r.Offsets != nil {
			var tps []kafka.TopicPartition
			for _, pt := range slices.Sorted(maps.Keys(r.Offsets)) {
				tps = append(tps, kafka.TopicPartition{Topic: &topic, Partition: pt, Offset: kafka.Offset(r.Offsets[pt])})
			}
			if err := p.SendOffsetsToTransaction(ctx, tps, meta); err != nil {
				return false, fmt.Errorf("offsets in %s: %w", r.Prefix, err)
			}
		}
		end := p.AbortTransaction
		if r.Commit {
			end = p.CommitTransaction
		}
		if err := end(ctx); err != nil {
			return false, fmt.Errorf("end %s (commit %t): %w", r.Prefix, r.Commit, err)
		}
	}
	return true, nil
}

// readCommitted is readAll with isolation.level=read_committed (librdkafka's
// default, set all the same).
func (d confluentDriver) readCommitted(ctx context.Context, topic string, end map[int32]int64, _ int) ([]rec, error) {
	return d.read(ctx, topic, end, kafka.ConfigMap{"isolation.level": "read_committed"})
}

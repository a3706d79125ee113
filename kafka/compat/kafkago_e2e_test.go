//go:build e2e

package compat

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// kafkaGoDriver is segmentio/kafka-go: Client for admin, Writer to produce
// (it has no idempotent producer), Reader to consume.
type kafkaGoDriver struct{ conf clientConf }

func newKafkaGo(c clientConf) driver { return kafkaGoDriver{c} }

func (d kafkaGoDriver) available() error { return nil }

func (d kafkaGoDriver) version(context.Context) (string, error) {
	return modVersion("github.com/segmentio/kafka-go"), nil
}

func (d kafkaGoDriver) transport() *kafka.Transport {
	return &kafka.Transport{ClientID: d.conf.clientID}
}

func (d kafkaGoDriver) createTopic(ctx context.Context, topic string, partitions int32) error {
	tr := d.transport()
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(d.conf.addr), Transport: tr}
	resp, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: int(partitions), ReplicationFactor: 1}},
	})
	if err != nil {
		return err
	}
	return resp.Errors[topic]
}

var kafkaGoCodecs = map[string]kafka.Compression{
	"gzip": kafka.Gzip, "snappy": kafka.Snappy, "lz4": kafka.Lz4, "zstd": kafka.Zstd,
}

func (d kafkaGoDriver) produce(ctx context.Context, topic string, first, n int, codec string) error {
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		j := first + i
		msgs[i] = kafka.Message{
			Key:   []byte(recKey(j)),
			Value: []byte(recValue(j)),
			Headers: []kafka.Header{
				{Key: hdrClient, Value: []byte(d.conf.id)},
				{Key: hdrSeq, Value: []byte(strconv.Itoa(j))},
			},
		}
	}
	return d.write(ctx, topic, msgs, codec)
}

// produceKeyed leaves Key or Value nil (a null) where recs say so; the Hash
// balancer sends keyless messages round-robin.
func (d kafkaGoDriver) produceKeyed(ctx context.Context, topic string, recs []keyed, codec string) error {
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{
			Key: r.keyBytes(), Value: r.valueBytes(),
			Headers: []kafka.Header{{Key: hdrClient, Value: []byte(d.conf.id)}},
		}
	}
	return d.write(ctx, topic, msgs, codec)
}

// write produces msgs with a Writer (acks=all, key hash balancer) and
// closes it.
func (d kafkaGoDriver) write(ctx context.Context, topic string, msgs []kafka.Message, codec string) error {
	tr := d.transport()
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{
		Addr:         kafka.TCP(d.conf.addr),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		Compression:  kafkaGoCodecs[codec], // zero: none
		BatchSize:    1000,
		BatchTimeout: 10 * time.Millisecond,
		Transport:    tr,
	}
	err := w.WriteMessages(ctx, msgs...)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	// WriteErrors holds one error per message and wraps none of them.
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) {
		for _, e := range werrs {
			if e != nil {
				return fmt.Errorf("%d of %d messages failed, first: %w", werrs.Count(), len(msgs), e)
			}
		}
	}
	return err
}

func fromKafkaGo(m kafka.Message) rec {
	h := make(map[string]string, len(m.Headers))
	for _, kh := range m.Headers {
		h[kh.Key] = string(kh.Value)
	}
	return rec{Partition: int32(m.Partition), Offset: m.Offset, Key: string(m.Key), Value: string(m.Value), Headers: h}
}

func (d kafkaGoDriver) readerConfig(topic string) kafka.ReaderConfig {
	return kafka.ReaderConfig{
		Brokers:     []string{d.conf.addr},
		Topic:       topic,
		Dialer:      &kafka.Dialer{ClientID: d.conf.clientID, Timeout: 10 * time.Second},
		MinBytes:    1,
		MaxBytes:    10 << 20,
		MaxWait:     500 * time.Millisecond,
		StartOffset: kafka.FirstOffset,
	}
}

// readAll uses one partition Reader (no GroupID) per partition.
func (d kafkaGoDriver) readAll(ctx context.Context, topic string, end map[int32]int64) ([]rec, error) {
	var out []rec
	for p, e := range end {
		if e == 0 {
			continue
		}
		cfg := d.readerConfig(topic)
		cfg.Partition = int(p)
		r := kafka.NewReader(cfg)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				return out, fmt.Errorf("partition %d: %w", p, err)
			}
			out = append(out, fromKafkaGo(m))
			if m.Offset >= e-1 {
				break
			}
		}
		if err := r.Close(); err != nil {
			return out, err
		}
	}
	return out, nil
}

// consumeCommitEvery is how many fetched messages the group Reader commits
// at once (synchronously: CommitInterval is 0).
const consumeCommitEvery = 500

func (d kafkaGoDriver) consume(ctx context.Context, topic, group string, n int) ([]rec, error) {
	cfg := d.readerConfig(topic)
	cfg.GroupID = group
	r := kafka.NewReader(cfg)
	var (
		out      []rec
		unacked  []kafka.Message
		firstErr error
	)
	for len(out) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			firstErr = fmt.Errorf("%d of %d records read: %w", len(out), n, err)
			break
		}
		out = append(out, fromKafkaGo(m))
		unacked = append(unacked, m)
		if len(unacked) >= consumeCommitEvery || len(out) == n {
			if err := r.CommitMessages(ctx, unacked...); err != nil {
				firstErr = fmt.Errorf("commit: %w", err)
				break
			}
			unacked = unacked[:0]
		}
	}
	if err := r.Close(); firstErr == nil {
		firstErr = err
	}
	return out, firstErr
}

// transact: kafka-go has no transactional producer. Its Client sends the
// raw transaction requests (InitProducerID, AddPartitionsToTxn, EndTxn, …)
// but writes no batch with a producer ID and epoch, and Writer has no
// transactions.
func (d kafkaGoDriver) transact(context.Context, string, string, string, []txnRound) (bool, error) {
	return false, errUnsupported
}

func (d kafkaGoDriver) readCommitted(context.Context, string, map[int32]int64, int) ([]rec, error) {
	return nil, errUnsupported
}

//go:build e2e

package compat

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/IBM/sarama"
)

// saramaDriver is IBM/sarama at one protocol Version (the zero value: its
// default).
type saramaDriver struct {
	conf clientConf
	kv   sarama.KafkaVersion
}

func newSarama(v sarama.KafkaVersion) func(clientConf) driver {
	return func(c clientConf) driver {
		if v == (sarama.KafkaVersion{}) {
			v = sarama.NewConfig().Version
		}
		return saramaDriver{conf: c, kv: v}
	}
}

func (d saramaDriver) available() error { return nil }

func (d saramaDriver) version(context.Context) (string, error) {
	return modVersion("github.com/IBM/sarama"), nil
}

func (d saramaDriver) config() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = d.conf.clientID
	cfg.Version = d.kv
	return cfg
}

func (d saramaDriver) createTopic(_ context.Context, topic string, partitions int32) error {
	adm, err := sarama.NewClusterAdmin([]string{d.conf.addr}, d.config())
	if err != nil {
		return err
	}
	defer adm.Close()
	return adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false)
}

var saramaCodecs = map[string]sarama.CompressionCodec{
	"none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy,
	"lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD,
}

func (d saramaDriver) produce(_ context.Context, topic string, first, n int, codec string) error {
	msgs := make([]*sarama.ProducerMessage, n)
	for i := range msgs {
		j := first + i
		msgs[i] = &sarama.ProducerMessage{
			Topic: topic,
			Key:   sarama.StringEncoder(recKey(j)),
			Value: sarama.StringEncoder(recValue(j)),
			Headers: []sarama.RecordHeader{
				{Key: []byte(hdrClient), Value: []byte(d.conf.id)},
				{Key: []byte(hdrSeq), Value: []byte(strconv.Itoa(j))},
			},
		}
	}
	return d.send(msgs, codec)
}

// produceKeyed leaves Key or Value nil (a null) where recs say so.
func (d saramaDriver) produceKeyed(_ context.Context, topic string, recs []keyed, codec string) error {
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		m := &sarama.ProducerMessage{
			Topic:   topic,
			Headers: []sarama.RecordHeader{{Key: []byte(hdrClient), Value: []byte(d.conf.id)}},
		}
		if !r.noKey {
			m.Key = sarama.StringEncoder(r.key)
		}
		if !r.tombstone {
			m.Value = sarama.StringEncoder(r.value)
		}
		msgs[i] = m
	}
	return d.send(msgs, codec)
}

// send produces msgs with a SyncProducer (acks=all, idempotent per the
// row) and closes it.
func (d saramaDriver) send(msgs []*sarama.ProducerMessage, codec string) error {
	cfg := d.config()
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Compression = saramaCodecs[codec]
	if d.conf.idempotent {
		cfg.Producer.Idempotent = true
		cfg.Net.MaxOpenRequests = 1
	}
	p, err := sarama.NewSyncProducer([]string{d.conf.addr}, cfg)
	if err != nil {
		return err
	}
	err = p.SendMessages(msgs)
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	var perrs sarama.ProducerErrors
	if errors.As(err, &perrs) && len(perrs) > 0 {
		return fmt.Errorf("%d of %d messages failed, first: %w", len(perrs), len(msgs), perrs[0].Err)
	}
	return err
}

func fromSarama(m *sarama.ConsumerMessage) rec {
	h := make(map[string]string, len(m.Headers))
	for _, rh := range m.Headers {
		h[string(rh.Key)] = string(rh.Value)
	}
	return rec{Partition: m.Partition, Offset: m.Offset, Key: string(m.Key), Value: string(m.Value), Headers: h}
}

// readAll uses the partition consumer, one per partition, from the oldest
// offset.
func (d saramaDriver) readAll(ctx context.Context, topic string, end map[int32]int64) ([]rec, error) {
	return d.read(ctx, d.config(), topic, end)
}

func (d saramaDriver) read(ctx context.Context, cfg *sarama.Config, topic string, end map[int32]int64) ([]rec, error) {
	c, err := sarama.NewConsumer([]string{d.conf.addr}, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var out []rec
	for p, e := range end {
		if e == 0 {
			continue
		}
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			return out, fmt.Errorf("partition %d: %w", p, err)
		}
		for done := false; !done; {
			select {
			case m := <-pc.Messages():
				out = append(out, fromSarama(m))
				done = m.Offset >= e-1
			case cerr := <-pc.Errors():
				pc.Close()
				return out, fmt.Errorf("partition %d: %w", p, cerr)
			case <-ctx.Done():
				pc.Close()
				return out, fmt.Errorf("partition %d not read to offset %d: %w", p, e-1, ctx.Err())
			}
		}
		if err := pc.Close(); err != nil {
			return out, err
		}
	}
	return out, nil
}

// consume marks every message it reads (sarama's auto-commit on, the
// default) and commits in the session's Cleanup; Close leaves the group.
func (d saramaDriver) consume(ctx context.Context, topic, group string, n int) ([]rec, error) {
	cfg := d.config()
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Return.Errors = true
	cg, err := sarama.NewConsumerGroup([]string{d.conf.addr}, group, cfg)
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	h := &saramaHandler{n: n, done: stop}
	var consumeErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		for runCtx.Err() == nil {
			if err := cg.Consume(runCtx, []string{topic}, h); err != nil {
				consumeErr = err
				stop()
				return
			}
		}
	})
	var groupErr error
	for runCtx.Err() == nil && groupErr == nil {
		select {
		case err := <-cg.Errors():
			groupErr = err
		case <-runCtx.Done():
		}
	}
	stop()
	wg.Wait()
	closeErr := cg.Close()
	out := h.records()
	switch {
	case consumeErr != nil:
		return out, consumeErr
	case groupErr != nil:
		return out, groupErr
	case len(out) < n:
		return out, fmt.Errorf("%d of %d records read: %w", len(out), n, ctx.Err())
	}
	return out, closeErr
}

type saramaHandler struct {
	n    int
	done func()
	mu   sync.Mutex
	out  []rec
}

func (h *saramaHandler) records() []rec {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.out
}

func (h *saramaHandler) Setup(sarama.ConsumerGroupSession) error { return nil }

func (h *saramaHandler) Cleanup(s sarama.ConsumerGroupSession) error {
	s.Commit()
	return nil
}

func (h *saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				return nil
			}
			h.mu.Lock()
			full := len(h.out) >= h.n
			if !full {
				h.out = append(h.out, fromSarama(m))
				s.MarkMessage(m, "")
				full = len(h.out) >= h.n
			}
			h.mu.Unlock()
			if full {
				h.done()
				return nil
			}
		case <-s.Context().Done():
			return nil
		}
	}
}

// transact runs the rounds with one transactional SyncProducer
// (Producer.Transaction.ID, idempotent, ManualPartitioner): BeginTxn,
// SendMessages, AddOffsetsToTxn for a round's offsets, CommitTxn or
// AbortTxn.
func (d saramaDriver) transact(_ context.Context, topic, txnID, group string, rounds []txnRound) (bool, error) {
	cfg := d.config()
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = true
	cfg.Producer.Transaction.ID = txnID
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Net.MaxOpenRequests = 1
	p, err := sarama.NewSyncProducer([]string{d.conf.addr}, cfg)
	if err != nil {
		return false, err
	}
	defer p.Close()
	for _, r := range rounds {
		if err := p.BeginTxn(); err != nil {
			return false, fmt.Errorf("begin %s: %w", r.Prefix, err)
		}
		msgs := make([]*sarama.ProducerMessage, r.N)
		for i := range msgs {
			msgs[i] = &sarama.ProducerMessage{
				Topic: topic, Partition: int32(i % partitions),
				Key: sarama.StringEncoder(txnKey(r.Prefix, i)), Value: sarama.StringEncoder(txnValue(r.Prefix, i)),
				Headers: []sarama.RecordHeader{{Key: []byte(hdrClient), Value: []byte(d.conf.id)}},
			}
		}
		if err := p.SendMessages(msgs); err != nil {
			var perrs sarama.ProducerErrors
			if errors.As(err, &perrs) && len(perrs) > 0 {
				err = fmt.Errorf("%d of %d messages failed, first: %w", len(perrs), len(msgs), perrs[0].Err)
			}
			return false, fmt.Errorf("produce %s: %w", r.Prefix, err)
		}
		if r.Offsets != nil {
			var pos []*sarama.PartitionOffsetMetadata
			for _, pt := range slices.Sorted(maps.Keys(r.Offsets)) {
				pos = append(pos, &sarama.PartitionOffsetMetadata{Partition: pt, Offset: r.Offsets[pt]})
			}
			if err := p.AddOffsetsToTxn(map[string][]*sarama.PartitionOffsetMetadata{topic: pos}, group); err != nil {
				return false, fmt.Errorf("offsets in %s: %w", r.Prefix, err)
			}
		}
		end := p.AbortTxn
		if r.Commit {
			end = p.CommitTxn
		}
		if err := end(); err != nil {
			return false, fmt.Errorf("end %s (commit %t): %w", r.Prefix, r.Commit, err)
		}
	}
	return true, nil
}

// readCommitted is readAll with Consumer.IsolationLevel = ReadCommitted.
func (d saramaDriver) readCommitted(ctx context.Context, topic string, end map[int32]int64, _ int) ([]rec, error) {
	cfg := d.config()
	cfg.Consumer.IsolationLevel = sarama.ReadCommitted
	return d.read(ctx, cfg, topic, end)
}

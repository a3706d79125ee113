//go:build integration

package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/chronik-go/chronik/core/broker/brokertest"
)

// idempotentBatch builds a one-record batch from producer pid/epoch at seq.
func idempotentBatch(pid int64, epoch int16, seq int32, value string) []byte {
	return brokertest.ProducerBatch(pid, epoch, seq, value, false)
}

// TestProducerStateSurvivesRestart: sequence state lives in the partition's
// Raft state, so a retried batch is still recognised as a duplicate after
// the broker restarts, a gap is still refused, and a bumped transactional
// epoch fences the older producer.
func TestProducerStateSurvivesRestart(t *testing.T) {
	cfg := brokertest.Config(t)
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	produce := func(addr string, batch []byte) kmsg.ProduceResponseTopicPartition {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.MaxVersions(kversion.V3_7_0()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 10000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "idem"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = batch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0]
	}
	initTxn := func(addr string) (int64, int16) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = kmsg.StringPtr("orders-writer")
		req.TransactionTimeoutMillis = 60000
		// Straight to the broker: kgo would route a transactional
		// InitProducerId through FindCoordinator, and the transaction
		// coordinator is not served yet.
		raw, err := cl.Broker(1).Request(ctx, req)
		if err != nil {
			t.Fatalf("InitProducerId: %v", err)
		}
		resp := raw.(*kmsg.InitProducerIDResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("InitProducerId: %v", kerr.ErrorForCode(resp.ErrorCode))
		}
		return resp.ProducerID, resp.ProducerEpoch
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "idem", Value: []byte("create")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	pid, epoch := initTxn(b.KafkaAddr())
	first := produce(b.KafkaAddr(), idempotentBatch(pid, epoch, 0, "a"))
	second := produce(b.KafkaAddr(), idempotentBatch(pid, epoch, 1, "b"))
	if first.ErrorCode != 0 || second.ErrorCode != 0 || second.BaseOffset != first.BaseOffset+1 {
		t.Fatalf("produce: %+v %+v", first, second)
	}

	ctxStop, cancelStop := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelStop()
	if err := b.Stop(ctxStop); err != nil {
		t.Fatal(err)
	}
	b = brokertest.Start(t, cfg)

	if dup := produce(b.KafkaAddr(), idempotentBatch(pid, epoch, 1, "b")); dup.ErrorCode != 0 || dup.BaseOffset != second.BaseOffset {
		t.Fatalf("retried batch after restart = %+v; want the original offset %d", dup, second.BaseOffset)
	}
	if gap := produce(b.KafkaAddr(), idempotentBatch(pid, epoch, 5, "gap")); gap.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("sequence gap = %v, want OUT_OF_ORDER_SEQUENCE_NUMBER", kerr.ErrorForCode(gap.ErrorCode))
	}
	pid2, epoch2 := initTxn(b.KafkaAddr())
	if pid2 != pid || epoch2 != epoch+1 {
		t.Fatalf("re-init of the transactional id = %d/%d, want %d/%d", pid2, epoch2, pid, epoch+1)
	}
	if ok := produce(b.KafkaAddr(), idempotentBatch(pid2, epoch2, 0, "c")); ok.ErrorCode != 0 {
		t.Fatalf("new epoch: %v", kerr.ErrorForCode(ok.ErrorCode))
	}
	if fenced := produce(b.KafkaAddr(), idempotentBatch(pid, epoch, 2, "d")); fenced.ErrorCode != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("old epoch = %v, want INVALID_PRODUCER_EPOCH", kerr.ErrorForCode(fenced.ErrorCode))
	}
}

// TestDescribeProducersOnBroker: after an idempotent franz-go producer
// wrote 20 records one at a time, DescribeProducers at the partition's
// leader lists its producer ID, epoch and last sequence (19).
func TestDescribeProducersOnBroker(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()), kgo.DefaultProduceTopic("described"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if r, err := adm.CreateTopic(ctx, 1, 1, nil, "described"); err != nil || r.Err != nil {
		t.Fatalf("create: %v %v", err, r.Err)
	}
	before := time.Now().UnixMilli()
	for i := range 20 {
		if err := cl.ProduceSync(ctx, kgo.StringRecord(string(rune('a'+i)))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	id, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := adm.DescribeProducers(ctx, kadm.TopicsSet{"described": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	p := got["described"].Partitions[0]
	if p.Err != nil || len(p.ActiveProducers) != 1 {
		t.Fatalf("partition 0: %+v", p)
	}
	d := p.ActiveProducers.Sorted()[0]
	if d.ProducerID != id || d.ProducerEpoch != epoch || d.LastSequence != 19 || d.LastTimestamp < before {
		t.Fatalf("described %+v; the producer is %d/%d, 20 records from %d", d, id, epoch, before)
	}
}

package brokertest

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// ProducerBatch encodes a record batch of one record holding value, as
// producer pid writes it at epoch with sequence number seq; transactional
// marks it part of the producer's transaction.
func ProducerBatch(pid int64, epoch int16, seq int32, value string, transactional bool) []byte {
	rb := kmsg.RecordBatch{Magic: 2, ProducerID: pid, ProducerEpoch: epoch, FirstSequence: seq, NumRecords: 1, FirstTimestamp: 1, MaxTimestamp: 1}
	if transactional {
		rb.Attributes = 0x10
	}
	rec := kmsg.Record{Value: []byte(value)}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1) // the body after a 1-byte zero length
	rb.Records = rec.AppendTo(nil)
	raw := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// RawClient returns a client for hand-built requests, closed when the test
// ends: its Produce requests name topics (v13 addresses them by ID, so it
// stays below).
func RawClient(t testing.TB, seeds []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.MaxVersions(kversion.V3_7_0()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// InitTxnProducer returns the producer ID and epoch that InitProducerId
// gives txnID.
func InitTxnProducer(ctx context.Context, t testing.TB, r kmsg.Requestor, txnID string) (int64, int16) {
	t.Helper()
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID, init.TransactionTimeoutMillis = kmsg.StringPtr(txnID), 60000
	ir, err := init.RequestWith(ctx, r)
	if err != nil || ir.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v %v", err, kerr.ErrorForCode(ir.ErrorCode))
	}
	return ir.ProducerID, ir.ProducerEpoch
}

// TxnProduce sends one transactional record of producer pid, at epoch and
// sequence number seq, to partition p of topic through r (a RawClient, or
// one of its brokers), in a request naming txnID (none when empty), and
// returns the partition's error code.
func TxnProduce(ctx context.Context, t testing.TB, r kmsg.Requestor, txnID, topic string, p int32, pid int64, epoch int16, seq int32) int16 {
	t.Helper()
	produce := kmsg.NewPtrProduceRequest()
	produce.Acks, produce.TimeoutMillis = -1, 10000
	if txnID != "" {
		produce.TransactionID = kmsg.StringPtr(txnID)
	}
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = p, ProducerBatch(pid, epoch, seq, "r", true)
	rt.Partitions = append(rt.Partitions, rp)
	produce.Topics = append(produce.Topics, rt)
	pr, err := produce.RequestWith(ctx, r)
	if err != nil {
		t.Fatalf("transactional produce: %v", err)
	}
	return pr.Topics[0].Partitions[0].ErrorCode
}

// HangingTransaction opens a transaction on partition p of topic that no
// coordinator will end: the producer of txnID (a new epoch from
// InitProducerId) writes one transactional record there without adding
// the partition to a transaction. Only a broker running with
// kafka.transaction-partition-verification off lets it through. It
// returns the producer ID and epoch.
func HangingTransaction(ctx context.Context, t testing.TB, seeds []string, topic string, p int32, txnID string) (int64, int16) {
	t.Helper()
	cl := RawClient(t, seeds)
	pid, epoch := InitTxnProducer(ctx, t, cl, txnID)
	if code := TxnProduce(ctx, t, cl, txnID, topic, p, pid, epoch, 0); code != 0 {
		t.Fatalf("transactional produce of %s to %s/%d: %v", txnID, topic, p, kerr.ErrorForCode(code))
	}
	return pid, epoch
}

package kafka

// Produce, key 0: versions 0–13 advertised.
//
//   - v0–v2 (message format v0/v1) are advertised only because librdkafka turns
//     compression off when Produce v0 is missing (KAFKA_COMPAT trap 2); every
//     partition of such a request gets UNSUPPORTED_FOR_MESSAGE_FORMAT.
//   - v3–v12 address topics by name, v13 by topic ID (UNKNOWN_TOPIC_ID when the
//     ID is not ours). From v12 a transactional produce adds its partitions
//     to the transaction itself (KIP-890 part 2; the client sends no
//     AddPartitionsToTxn): the leader has the coordinator add the partition
//     where the batches would open the transaction, once every broker runs
//     a release that can (before that, v12 is verified as v11); the
//     partitions of one request are added in one call (addTxnPartitions)
//     when their batches name one producer. Without transactions v12 is
//     v11.
//   - acks must be -1, 0 or 1 (else INVALID_REQUIRED_ACKS). acks=1 and acks=-1
//     both answer after the Raft commit; acks=0 answers nothing.
//   - Transactional produce (non-null TransactionalID): the batches open
//     (or continue) their producer's transaction in each partition, which
//     its coordinator ends with a marker (raftsm/txn.go). With ACLs it needs
//     WRITE on the transactional ID (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
//     A batch that would open the transaction in a partition is first
//     verified with the transaction's coordinator (KIP-890 part 1,
//     kafka.transaction-partition-verification), or from v12 added to the
//     transaction (see above): INVALID_TXN_STATE when the
//     transaction did not add the partition or has ended, INVALID_PRODUCER_EPOCH
//     when fenced, NOT_ENOUGH_REPLICAS (retriable) when the coordinator
//     cannot be asked or a marker for the producer landed meanwhile (the
//     retry asks again). Transactional batches in a request without a
//     TransactionalID get INVALID_RECORD (they would escape verification). That round trip blocks the connection's reader, once
//     per partition per transaction, as Kafka handles a connection's
//     requests one at a time.
//   - Topics are not auto-created on produce: unknown topics and partition
//     indexes get UNKNOWN_TOPIC_OR_PARTITION. Empty records get INVALID_RECORD.
//   - The batches are validated and proposed (Backend.Append) on the
//     connection's reader goroutine, in request order; the response waits for
//     the commits in its own goroutine, bounded by TimeoutMillis (at least
//     produceMinTimeout, at most maxTimeout) and by the connection.
//   - The request frame goes back to the pool as soon as every partition is
//     proposed: Backend.Append copies the records into the proposal before it
//     returns (core/partition Service.Append encodes them into a new command).
//   - With ACLs (authz.go), a topic needs WRITE: TOPIC_AUTHORIZATION_FAILED
//     otherwise, before its existence is told (v13: after its ID is found).
//   - Quotas (quotas.go): the request's bytes count against the client's
//     producer_byte_rate; over it, ThrottleMillis says for how long the
//     connection is not read (with acks=0 it is muted all the same).
//   - v10+: a partition answered NOT_LEADER_OR_FOLLOWER carries the KIP-951
//     leader hint (CurrentLeader, Brokers; leaderhints.go).
//   - Not done yet: per-record errors (ErrorRecords).

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/batch"
	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/core/quota"
)

// addTxnPartitions has the transaction's coordinator add, in one call, the
// partitions of a Produce v12+ that its batches would open the
// transaction in (Backend.AddTxnPartitions), when every partition's first
// batch names the same producer; else each append asks on its own.
func (s *Server) addTxnPartitions(txn partition.TxnProduce, pending []producePending, records [][]byte) partition.TxnProduce {
	tps := make([]partition.TP, len(pending))
	var pid int64
	var epoch int16
	for i, pp := range pending {
		h, err := batch.ParseHeader(records[i])
		if err != nil || (i > 0 && (h.ProducerID != pid || h.ProducerEpoch != epoch)) {
			return txn
		}
		pid, epoch, tps[i] = h.ProducerID, h.ProducerEpoch, pp.tp
	}
	return s.backend.AddTxnPartitions(txn, pid, epoch, tps)
}

// produceMinTimeout is the shortest wait for a commit: a Raft round trip
// cannot finish in the 0 ms some clients send with acks=1.
const produceMinTimeout = time.Second

// appendWaiter is the outcome of Backend.Append (*partition.Pending).
type appendWaiter interface {
	Wait(ctx context.Context) (partition.AppendResult, error)
}

// producePending is one proposed partition awaiting its commit.
type producePending struct {
	tp  partition.TP
	p   appendWaiter
	out *kmsg.ProduceResponseTopicPartition
}

func beginProduce(s *Server, r *request) func(context.Context) kmsg.Response {
	req := r.msg.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)

	var reject int16
	switch {
	case req.Version < 3:
		reject = kerr.UnsupportedForMessageFormat.Code
	case req.Acks != -1 && req.Acks != 0 && req.Acks != 1:
		reject = kerr.InvalidRequiredAcks.Code
	case req.TransactionID != nil && !s.authorized(r, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTransactionalId, *req.TransactionID):
		reject = kerr.TransactionalIDAuthorizationFailed.Code
	}

	var txn partition.TxnProduce
	if req.TransactionID != nil {
		// v12+ clients send no AddPartitionsToTxn (KIP-890 part 2).
		txn = partition.TxnProduce{ID: *req.TransactionID, AddPartition: req.Version >= 12}
	}
	var pending []producePending
	var deferred [][]byte // Produce v12+ transactional: pending[i]'s records, proposed once added
	resp.Topics = make([]kmsg.ProduceResponseTopic, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := &resp.Topics[i]
		*st = kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID

		var (
			topic     cluster.Topic
			topicCode = reject
		)
		if topicCode == 0 {
			var ok bool
			if req.Version >= 13 {
				topic, ok = s.backend.TopicByID(rt.TopicID)
				if !ok {
					topicCode = kerr.UnknownTopicID.Code
				}
				if ok && !s.authorized(r, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic, topic.Name) {
					topicCode = kerr.TopicAuthorizationFailed.Code
				}
			} else {
				switch topic, ok = s.backend.Topic(rt.Topic); {
				case !s.authorized(r, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic, rt.Topic):
					topicCode = kerr.TopicAuthorizationFailed.Code
				case !ok:
					topicCode = kerr.UnknownTopicOrPartition.Code
				}
			}
		}

		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case topicCode != 0:
				sp.ErrorCode = topicCode
			case rp.Partition < 0 || int(rp.Partition) >= len(topic.Partitions):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case len(rp.Records) == 0:
				sp.ErrorCode = kerr.InvalidRecord.Code
			default:
				tp := partition.TP{Topic: topic.Name, Partition: rp.Partition}
				if txn.AddPartition {
					pending = append(pending, producePending{tp: tp, out: sp})
					deferred = append(deferred, rp.Records)
				} else {
					pending = append(pending, producePending{tp: tp, p: s.appendTo(tp, txn, rp.Records), out: sp})
				}
			}
		}
	}
	if txn.AddPartition {
		if len(pending) > 1 {
			txn = s.addTxnPartitions(txn, pending, deferred)
		}
		for i := range pending {
			pending[i].p = s.appendTo(pending[i].tp, txn, deferred[i])
		}
	}

	if s.cfg.Tracer != nil {
		r.proposed = time.Now().UnixNano()
	}
	resp.ThrottleMillis = s.throttle(r, quota.ProducerByteRate, r.size)
	if req.Acks == 0 {
		return nil
	}
	if len(pending) == 0 {
		return func(context.Context) kmsg.Response { return resp }
	}
	timeout := min(max(time.Duration(req.TimeoutMillis)*time.Millisecond, produceMinTimeout), maxTimeout)
	conn := r.conn
	hints := req.Version >= 10
	// The frame may go back to the pool once this returns
	// (api.reuseFrame): the closure must not touch req's records.
	return func(context.Context) kmsg.Response {
		// Ends at the timeout or when the connection fails, like a
		// context.WithTimeout of the connection's context, without its
		// allocations; Pending.Wait keeps nothing of it.
		ctx := conn.startWait(timeout)
		defer ctx.release()
		for _, pp := range pending {
			res, err := pp.p.Wait(ctx)
			if err != nil {
				pp.out.ErrorCode = s.errCode("Produce", err)
				pp.out.ErrorMessage = errMessage(err)
				continue
			}
			pp.out.BaseOffset = res.BaseOffset
			pp.out.LogAppendTime = res.LogAppendTime
			pp.out.LogStartOffset = res.LogStartOffset
		}
		if s.cfg.Tracer != nil {
			r.committed = time.Now().UnixNano()
		}
		if hints {
			s.addProduceHints(resp, pending)
		}
		return resp
	}
}

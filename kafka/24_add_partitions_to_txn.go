package kafka

// AddPartitionsToTxn, key 24: versions 0–3.
//
//   - Adds the partitions to the producer's transaction on the
//     transactional ID's coordinator (Txns.AddPartitions; NOT_COORDINATOR
//     elsewhere), starting the transaction when none is open. Every
//     partition gets the coordinator's answer: CONCURRENT_TRANSACTIONS
//     while the previous transaction's markers are being written (clients
//     retry), INVALID_PRODUCER_ID_MAPPING for another producer ID,
//     PRODUCER_FENCED for another epoch (INVALID_PRODUCER_EPOCH before v2).
//   - Unknown topics or partitions get UNKNOWN_TOPIC_OR_PARTITION; then
//     nothing is added and the other partitions get
//     OPERATION_NOT_ATTEMPTED, as in Kafka.
//   - With ACLs (authz.go): WRITE on the transactional ID (every partition
//     gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED otherwise) and WRITE on
//     each topic (TOPIC_AUTHORIZATION_FAILED, the others
//     OPERATION_NOT_ATTEMPTED).
//   - v4+ (KIP-890: batched transactions, broker-side verification) is not
//     served.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/txn"
)

// Transaction API keys (24_add_partitions_to_txn.go …, txns.go).
const (
	keyAddPartitionsToTxn   int16 = 24
	keyAddOffsetsToTxn      int16 = 25
	keyEndTxn               int16 = 26
	keyTxnOffsetCommit      int16 = 28
	keyDescribeTransactions int16 = 65
	keyListTransactions     int16 = 66
)

func handleAddPartitionsToTxn(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.AddPartitionsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	txnAllowed := s.authorized(r, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTransactionalId, req.TransactionalID)
	var (
		tps    []txn.TopicPartition
		failed bool
	)
	resp.Topics = make([]kmsg.AddPartitionsToTxnResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		st := &resp.Topics[i]
		*st = kmsg.NewAddPartitionsToTxnResponseTopic()
		st.Topic = rt.Topic
		topic, known := s.backend.Topic(rt.Topic)
		var code int16
		switch {
		case !txnAllowed:
			code = kerr.TransactionalIDAuthorizationFailed.Code
		case !s.authorized(r, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic, rt.Topic):
			code = kerr.TopicAuthorizationFailed.Code
		}
		st.Partitions = make([]kmsg.AddPartitionsToTxnResponseTopicPartition, len(rt.Partitions))
		for j, p := range rt.Partitions {
			sp := &st.Partitions[j]
			*sp = kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			sp.Partition, sp.ErrorCode = p, code
			if code == 0 && (!known || p < 0 || int(p) >= len(topic.Partitions)) {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
			if sp.ErrorCode != 0 {
				failed = true
				continue
			}
			tps = append(tps, txn.TopicPartition{Topic: rt.Topic, Partition: p})
		}
	}
	answer := func(code int16) {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if resp.Topics[i].Partitions[j].ErrorCode == 0 {
					resp.Topics[i].Partitions[j].ErrorCode = code
				}
			}
		}
	}
	if failed {
		answer(kerr.OperationNotAttempted.Code)
		return resp
	}
	ctx, cancel := context.WithTimeout(ctx, defaultGroupTimeout)
	defer cancel()
	err := s.cfg.Txns.AddPartitions(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, tps)
	answer(s.txnErrCode("AddPartitionsToTxn", err, req.Version, 2))
	return resp
}

package kafka

// DescribeTransactions, key 65: version 0 (KIP-664; kafka-transactions.sh
// describe, kadm's DescribeTransactions).
//
//   - Per transactional ID, from its coordinator (NOT_COORDINATOR
//     elsewhere; clients find it with FindCoordinator): state (Kafka's
//     names), producer ID and epoch, timeout, the start time of the
//     current or last transaction (-1 if none) and the partitions of the
//     open transaction. Consumer groups of the transaction are not
//     listed (Kafka lists them as __consumer_offsets partitions, which do
//     not exist here). An unknown ID is TRANSACTIONAL_ID_NOT_FOUND.
//   - With ACLs (authz.go), DESCRIBE on the transactional ID
//     (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleDescribeTransactions(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.DescribeTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range req.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID, st.ProducerID, st.ProducerEpoch, st.StartTimestamp = id, -1, -1, -1
		if !s.authorized(r, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTransactionalId, id) {
			st.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			resp.TransactionStates = append(resp.TransactionStates, st)
			continue
		}
		d, err := s.cfg.Txns.DescribeTransaction(ctx, id)
		if err != nil {
			st.ErrorCode = s.groupErrCode("DescribeTransactions", err)
			resp.TransactionStates = append(resp.TransactionStates, st)
			continue
		}
		st.State, st.ProducerID, st.ProducerEpoch = d.State, d.ProducerID, d.ProducerEpoch
		st.TimeoutMillis, st.StartTimestamp = d.TimeoutMs, d.StartMs
		idx := map[string]int{}
		for _, tp := range d.Partitions {
			i, ok := idx[tp.Topic]
			if !ok {
				i = len(st.Topics)
				idx[tp.Topic] = i
				t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
				t.Topic = tp.Topic
				st.Topics = append(st.Topics, t)
			}
			st.Topics[i].Partitions = append(st.Topics[i].Partitions, tp.Partition)
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return resp
}

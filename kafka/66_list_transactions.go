package kafka

// ListTransactions, key 66: version 0 (KIP-664; kafka-transactions.sh
// list, kadm's ListTransactions).
//
//   - Lists the transactional IDs this broker coordinates (clients ask
//     every broker and merge), filtered by state (Kafka's names; unknown
//     ones are echoed in UnknownStateFilters) and producer ID.
//   - A shard this broker leads that is still loading makes the answer
//     COORDINATOR_LOAD_IN_PROGRESS, with what could be listed.
//   - With ACLs (authz.go), only transactional IDs the principal may
//     DESCRIBE are listed, as in Kafka.
//   - v1's DurationFilterMillis and v2's pattern are not served.

import (
	"context"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/txn"
)

// txnStates are Kafka's transaction state names that can be listed.
var txnStates = []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort"}

func handleListTransactions(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	f := txn.ListFilter{ProducerIDs: req.ProducerIDFilters}
	for _, st := range req.StateFilters {
		if slices.ContainsFunc(txnStates, func(v string) bool { return strings.EqualFold(v, st) }) {
			f.States = append(f.States, st)
		} else {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, st)
		}
	}
	if len(req.StateFilters) > 0 && len(f.States) == 0 {
		return resp // only unknown states: nothing matches
	}
	list, err := s.cfg.Txns.ListTransactions(ctx, f)
	resp.ErrorCode = s.groupErrCode("ListTransactions", err)
	for _, l := range list {
		if !s.authorized(r, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTransactionalId, l.TransactionalID) {
			continue
		}
		ts := kmsg.NewListTransactionsResponseTransactionState()
		ts.TransactionalID, ts.ProducerID, ts.TransactionState = l.TransactionalID, l.ProducerID, l.State
		resp.TransactionStates = append(resp.TransactionStates, ts)
	}
	return resp
}

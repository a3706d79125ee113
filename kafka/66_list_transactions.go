package kafka

// ListTransactions, key 66: versions 0–2 (KIP-664; kafka-transactions.sh
// list, kadm's ListTransactions).
//
//   - Lists the transactional IDs this broker coordinates (clients ask
//     every broker and merge), filtered by state (Kafka's names; unknown
//     ones are echoed in UnknownStateFilters) and producer ID.
//   - v1 (KIP-994): DurationFilterMillis > 0 lists only transactions that
//     began more than that long ago (an ID without an open transaction
//     counts as begun long ago, as in Kafka); 0 and -1 filter nothing.
//   - v2 (KIP-1152): TransactionalIDPattern, when not empty, lists only
//     the IDs it matches whole (Go's RE2 syntax, which Kafka's RE2/J
//     follows); a pattern that does not compile is
//     INVALID_REGULAR_EXPRESSION.
//   - A shard this broker leads that is still loading makes the answer
//     COORDINATOR_LOAD_IN_PROGRESS, with what could be listed.
//   - With ACLs (authz.go), only transactional IDs the principal may
//     DESCRIBE are listed, as in Kafka.

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/txn"
)

// txnStates are Kafka's transaction state names that can be listed.
var txnStates = []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort"}

func handleListTransactions(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	f := txn.ListFilter{ProducerIDs: req.ProducerIDFilters}
	if req.DurationFilterMillis > 0 {
		f.RunningLongerThan = time.Duration(req.DurationFilterMillis) * time.Millisecond
	}
	if p := req.TransactionalIDPattern; p != nil && *p != "" {
		re, err := regexp.Compile("^(?:" + *p + ")$")
		if err != nil {
			resp.ErrorCode = kerr.InvalidRegularExpression.Code
			return resp
		}
		f.IDPattern = re
	}
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

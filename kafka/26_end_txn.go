package kafka

// EndTxn, key 26: versions 0–3.
//
//   - Commits or aborts the producer's transaction on the transactional
//     ID's coordinator (Txns.EndTxn): the outcome is made durable, the
//     markers are written to every partition and group of the
//     transaction, and the answer comes once they are (or, if writing them
//     fails, once the outcome is durable: the coordinator finishes in the
//     background and the producer's next requests get
//     CONCURRENT_TRANSACTIONS until then, as in Kafka).
//   - A retry of an end that completed with the same outcome succeeds;
//     the other outcome, or no open transaction, is INVALID_TXN_STATE;
//     CONCURRENT_TRANSACTIONS while the end is still being written;
//     INVALID_PRODUCER_ID_MAPPING for another producer ID; PRODUCER_FENCED
//     for another epoch (INVALID_PRODUCER_EPOCH before v2), e.g. after the
//     transaction was aborted on timeout.
//   - With ACLs (authz.go): WRITE on the transactional ID
//     (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
//   - v4+ (KIP-890) is not served.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleEndTxn(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.EndTxnRequest)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	if !s.authorized(r, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTransactionalId, req.TransactionalID) {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp
	}
	ctx, cancel := context.WithTimeout(ctx, defaultGroupTimeout)
	defer cancel()
	err := s.cfg.Txns.EndTxn(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit)
	resp.ErrorCode = s.txnErrCode("EndTxn", err, req.Version, 2)
	return resp
}

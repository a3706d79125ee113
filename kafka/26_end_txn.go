package kafka

// EndTxn, key 26: versions 0–5.
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
//   - v4 is v3 (flexible; TRANSACTION_ABORTABLE is never answered).
//   - v5+ (KIP-890 part 2, sent by clients once ApiVersions finalizes
//     transaction.version 2): the end also bumps the producer's epoch,
//     the markers carry the bumped epoch (fencing the ended transaction's
//     late produces), and ProducerID/ProducerEpoch answer what the
//     producer goes on with (a new producer ID at epoch 0 once the epoch
//     is exhausted). An abort with no transaction open bumps the epoch
//     too; a commit then is INVALID_TXN_STATE. The retry of an end with
//     the epoch it was sent with gets the same answer. Until every broker
//     runs a release that can (raftsm.LevelTxnV2), v5 ends as v4 and
//     answers ProducerID/ProducerEpoch -1 (keep the current ones).

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
	pid, epoch, err := s.cfg.Txns.EndTxn(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit, req.Version >= 5)
	resp.ErrorCode = s.txnErrCode("EndTxn", err, req.Version, 2)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if err == nil {
		resp.ProducerID, resp.ProducerEpoch = pid, epoch
	}
	return resp
}

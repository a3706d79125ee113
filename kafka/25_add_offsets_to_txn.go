package kafka

// AddOffsetsToTxn, key 25: versions 0–4.
//
//   - Adds the consumer group to the producer's transaction on the
//     transactional ID's coordinator (Txns.AddOffsets), starting the
//     transaction when none is open; the client then sends its offsets with
//     TxnOffsetCommit to the group's coordinator, and they become visible
//     when the transaction commits. Errors as AddPartitionsToTxn's
//     (PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2).
//   - With ACLs (authz.go): WRITE on the transactional ID
//     (TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and READ on the group
//     (GROUP_AUTHORIZATION_FAILED).
//   - v4 (KIP-890: the client knows TRANSACTION_ABORTABLE) is v3;
//     TRANSACTION_ABORTABLE is never answered.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleAddOffsetsToTxn(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.AddOffsetsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	switch {
	case !s.authorized(r, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTransactionalId, req.TransactionalID):
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp
	case !s.authorized(r, kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, req.Group):
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp
	case req.Group == "":
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	ctx, cancel := context.WithTimeout(ctx, defaultGroupTimeout)
	defer cancel()
	err := s.cfg.Txns.AddOffsets(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group)
	resp.ErrorCode = s.txnErrCode("AddOffsetsToTxn", err, req.Version, 2)
	return resp
}

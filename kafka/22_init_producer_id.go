package kafka

// InitProducerId, key 22: versions 0–5.
//
//   - Idempotent producers (null TransactionalID) get a fresh producer ID with
//     epoch 0 from Backend.InitProducerID (allocated by the meta shard).
//   - A request carrying its current ProducerID/ProducerEpoch (v3+: an
//     idempotent producer recovering from OUT_OF_ORDER_SEQUENCE_NUMBER or
//     similar) also gets a fresh ID: Kafka bumps the epoch instead, but a new
//     ID is equally valid for a non-transactional producer and needs no
//     per-producer state here.
//   - A transactional ID is answered by its transaction coordinator
//     (Config.Txns, core/txn; NOT_COORDINATOR elsewhere): the first init
//     allocates its producer ID, every later one bumps the epoch, fencing
//     the previous producer with that ID; an exhausted epoch rotates to a
//     new producer ID. An open transaction is aborted first (its epoch
//     bumped) and the call answers CONCURRENT_TRANSACTIONS, which clients
//     retry. v3+ ProducerID/ProducerEpoch follow KIP-360 (a mismatch is
//     PRODUCER_FENCED, INVALID_PRODUCER_EPOCH before v4; only one of the
//     two set is INVALID_REQUEST).
//   - Without a transaction coordinator (Config.Txns nil) a transactional
//     ID gets COORDINATOR_NOT_AVAILABLE.
//   - TransactionTimeoutMillis must be in (0, transaction.max.timeout.ms]
//     for a transactional ID (INVALID_TRANSACTION_TIMEOUT); ignored
//     otherwise.
//   - With ACLs (authz.go): a transactional ID needs WRITE on it
//     (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); an idempotent producer needs
//     IDEMPOTENT_WRITE on the cluster or WRITE on some topic
//     (CLUSTER_AUTHORIZATION_FAILED), as in Kafka 2.8+.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleInitProducerID(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	ctx, cancel := requestContext(ctx, 0, defaultAdminTimeout)
	defer cancel()
	var (
		id    int64
		epoch int16
		err   error
	)
	switch {
	case req.TransactionalID != nil && !s.authorized(r, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTransactionalId, *req.TransactionalID):
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp
	case req.TransactionalID == nil && !s.authorizedCluster(r, kmsg.ACLOperationIdempotentWrite) &&
		!s.authorizedAny(r, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic):
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	switch {
	case req.TransactionalID != nil:
		pid, pepoch := req.ProducerID, req.ProducerEpoch
		if req.Version < 3 {
			pid, pepoch = -1, -1
		}
		if (pid < 0) != (pepoch < 0) {
			resp.ErrorCode = kerr.InvalidRequest.Code
			return resp
		}
		id, epoch, err = s.cfg.Txns.InitProducerID(ctx, *req.TransactionalID, req.TransactionTimeoutMillis, pid, pepoch)
		if err != nil {
			resp.ErrorCode = s.txnErrCode("InitProducerID", err, req.Version, 4)
			return resp
		}
	default:
		if id, epoch, err = s.backend.InitProducerID(ctx); err != nil {
			resp.ErrorCode = s.errCode("InitProducerID", err)
			return resp
		}
	}
	resp.ProducerID, resp.ProducerEpoch = id, epoch
	return resp
}

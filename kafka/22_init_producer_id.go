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
//   - A transactional ID keeps one producer ID (kept by the meta shard) and
//     every init bumps its epoch, fencing the previous producer with that
//     ID. The transaction APIs themselves (AddPartitionsToTxn, EndTxn, …)
//     are not served yet, and Produce refuses transactional batches.
//   - TransactionTimeoutMillis is ignored.
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
	if req.TransactionalID != nil {
		id, epoch, err = s.backend.InitTransactionalID(ctx, *req.TransactionalID)
	} else {
		id, epoch, err = s.backend.InitProducerID(ctx)
	}
	if err != nil {
		resp.ErrorCode = s.errCode("InitProducerID", err)
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = id, epoch
	return resp
}

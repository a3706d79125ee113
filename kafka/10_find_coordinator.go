package kafka

// FindCoordinator, key 10: versions 0–6.
//
//   - Group keys (CoordinatorType 0, the only type before v1) are answered
//     with the broker leading the group's coordinator shard
//     (Groups.Coordinator) and its advertised host and port from
//     Backend.Brokers(): the real coordinator, not the broker asked
//     (KAFKA_COMPAT trap 7). No leader yet, or a leader missing from the
//     broker list, is COORDINATOR_NOT_AVAILABLE, which clients retry.
//   - v4+ batches keys (CoordinatorKeys) and answers one entry per key;
//     v0–v3 carry one key and answer in the top-level fields.
//   - Transaction keys (type 1) are answered the same way with the leader
//     of the transactional ID's coordinator shard (Txns.Coordinator); an
//     empty key is INVALID_REQUEST. Any other type is INVALID_REQUEST.
//   - With ACLs (authz.go), a group needs DESCRIBE
//     (GROUP_AUTHORIZATION_FAILED otherwise) and a transactional ID
//     DESCRIBE (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	coordinatorGroup       int8 = 0
	coordinatorTransaction int8 = 1
)

func handleFindCoordinator(_ context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	if req.Version < 4 {
		c := s.findCoordinator(r, req.CoordinatorType, req.CoordinatorKey)
		resp.ErrorCode, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.NodeID, c.Host, c.Port
		if req.Version >= 1 {
			resp.ErrorMessage = c.ErrorMessage
		}
		return resp
	}
	resp.Coordinators = make([]kmsg.FindCoordinatorResponseCoordinator, len(req.CoordinatorKeys))
	for i, key := range req.CoordinatorKeys {
		resp.Coordinators[i] = s.findCoordinator(r, req.CoordinatorType, key)
	}
	return resp
}

func (s *Server) findCoordinator(r *request, typ int8, key string) kmsg.FindCoordinatorResponseCoordinator {
	c := kmsg.NewFindCoordinatorResponseCoordinator()
	c.Key, c.NodeID, c.Port = key, -1, -1
	fail := func(code int16, msg string) kmsg.FindCoordinatorResponseCoordinator {
		c.ErrorCode = code
		if msg != "" {
			c.ErrorMessage = &msg
		}
		return c
	}
	var (
		node int32
		err  error
	)
	switch typ {
	case coordinatorGroup:
		if !s.authorized(r, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeGroup, key) {
			return fail(kerr.GroupAuthorizationFailed.Code, "")
		}
		node, err = s.cfg.Groups.Coordinator(key)
	case coordinatorTransaction:
		switch {
		case key == "":
			return fail(kerr.InvalidRequest.Code, "empty transactional ID")
		case !s.authorized(r, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTransactionalId, key):
			return fail(kerr.TransactionalIDAuthorizationFailed.Code, "")
		}
		node, err = s.cfg.Txns.Coordinator(key)
	default:
		return fail(kerr.InvalidRequest.Code, "unknown coordinator type")
	}
	if err != nil {
		return fail(s.groupErrCode("FindCoordinator", err), err.Error())
	}
	for _, b := range s.backend.Brokers() {
		if b.ID == node {
			c.NodeID, c.Host, c.Port = b.ID, b.Host, b.Port
			return c
		}
	}
	return fail(kerr.CoordinatorNotAvailable.Code, "the coordinator is not a live broker")
}

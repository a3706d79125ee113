package kafka

// SyncGroup, key 14: versions 0–5.
//
//   - The leader's call carries every member's assignment; the group's new
//     generation (protocol, leader, members, assignments) is committed
//     through the coordinator shard, then every waiting member gets its own
//     assignment. Followers' calls block until then. Like JoinGroup, the
//     call runs as a concurrent handler and ends with NOT_COORDINATOR when
//     the server begins to close.
//   - Errors as in Kafka: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
//     REBALANCE_IN_PROGRESS (the group went back to its join phase),
//     FENCED_INSTANCE_ID (v3+), and on v5+ INCONSISTENT_GROUP_PROTOCOL when
//     ProtocolType or ProtocolName does not match the group's.
//   - Members missing from the leader's assignment get an empty one.
//   - A classic member of a KIP-848 consumer group gets the partitions the
//     coordinator assigned it (encoded at its subscription's consumer
//     protocol version), REBALANCE_IN_PROGRESS when the group epoch moved
//     on since its join; its generation is its member epoch.
//   - With ACLs (authz.go), the group needs READ:
//     GROUP_AUTHORIZATION_FAILED otherwise.

import (
	"bytes"
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/group"
)

func handleSyncGroup(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.SyncGroupRequest)
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	if !s.authorized(r, kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, req.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp
	}
	sr := group.SyncRequest{
		Group: req.Group, MemberID: req.MemberID, InstanceID: derefString(req.InstanceID), Generation: req.Generation,
	}
	if req.Version >= 5 {
		sr.ProtocolType, sr.Protocol = req.ProtocolType, req.Protocol
	}
	if len(req.GroupAssignment) > 0 {
		sr.Assignments = make(map[string][]byte, len(req.GroupAssignment))
		for _, a := range req.GroupAssignment {
			// Copied: the group keeps assignments after this request.
			sr.Assignments[a.MemberID] = bytes.Clone(a.MemberAssignment)
		}
	}
	ctx, cancel := s.groupContext(ctx)
	defer cancel()
	res, err := s.cfg.Groups.SyncGroup(ctx, sr)
	if err != nil {
		resp.ErrorCode = s.groupErrCode("SyncGroup", err)
		return resp
	}
	resp.MemberAssignment = res.Assignment
	if req.Version >= 5 {
		resp.ProtocolType, resp.Protocol = kmsg.StringPtr(res.ProtocolType), kmsg.StringPtr(res.Protocol)
	}
	return resp
}

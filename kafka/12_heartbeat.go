package kafka

// Heartbeat, key 12: versions 0–4.
//
//   - Keeps a member's session alive. Errors as in Kafka:
//     REBALANCE_IN_PROGRESS while the group is in its join phase (the member
//     must rejoin), ILLEGAL_GENERATION for a stale generation,
//     UNKNOWN_MEMBER_ID for a member the group does not know (or an empty
//     group), FENCED_INSTANCE_ID (v3+) for a replaced static member.
//   - A classic member of a KIP-848 consumer group gets
//     REBALANCE_IN_PROGRESS when it must rejoin: the group epoch moved past
//     its epoch, it has partitions to revoke, or the partitions it waits
//     for were released.
//   - With ACLs (authz.go), the group needs READ:
//     GROUP_AUTHORIZATION_FAILED otherwise.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/group"
)

func handleHeartbeat(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.HeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	if !s.authorized(r, kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, req.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp
	}
	err := s.cfg.Groups.Heartbeat(ctx, group.HeartbeatRequest{
		Group: req.Group, MemberID: req.MemberID, InstanceID: derefString(req.InstanceID), Generation: req.Generation,
	})
	resp.ErrorCode = s.groupErrCode("Heartbeat", err)
	return resp
}

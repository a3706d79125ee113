package kafka

// LeaveGroup, key 13: versions 0–5.
//
//   - v0–v2: one member (MemberID); its error is the top-level ErrorCode.
//   - v3+: a batch of members, each named by member ID and/or group
//     instance ID (static members may leave by instance ID alone, KIP-345);
//     each gets its own error (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID) and
//     the top-level ErrorCode carries group-level errors (NOT_COORDINATOR
//     and the like). v5's Reason is ignored.
//   - The group rebalances without the members that left.
//   - With ACLs (authz.go), the group needs READ:
//     GROUP_AUTHORIZATION_FAILED otherwise.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/group"
)

func handleLeaveGroup(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.LeaveGroupRequest)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if !s.authorized(r, kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, req.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp
	}
	var members []group.LeaveMember
	if req.Version < 3 {
		members = []group.LeaveMember{{MemberID: req.MemberID}}
	} else {
		members = make([]group.LeaveMember, len(req.Members))
		for i, m := range req.Members {
			members[i] = group.LeaveMember{MemberID: m.MemberID, InstanceID: derefString(m.InstanceID)}
		}
	}
	errs, err := s.cfg.Groups.LeaveGroup(ctx, req.Group, members)
	if err != nil {
		resp.ErrorCode = s.groupErrCode("LeaveGroup", err)
		return resp
	}
	if req.Version < 3 {
		resp.ErrorCode = s.groupErrCode("LeaveGroup", errs[0])
		return resp
	}
	resp.Members = make([]kmsg.LeaveGroupResponseMember, len(req.Members))
	for i, m := range req.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = m.MemberID, m.InstanceID
		rm.ErrorCode = s.groupErrCode("LeaveGroup", errs[i])
		resp.Members[i] = rm
	}
	return resp
}

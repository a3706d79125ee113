package kafka

// DescribeGroups, key 15: versions 0–6.
//
//   - Each group's state (Empty, PreparingRebalance, CompletingRebalance,
//     Stable), protocol type and members with client ID, client host and
//     group instance ID (v4+); protocol, member metadata and assignments are
//     only reported while the group is Stable, as in Kafka.
//   - An unknown group is reported as Kafka reports it: state "Dead" with no
//     error before v6, GROUP_ID_NOT_FOUND with a message from v6 (KIP-1043).
//     So is a KIP-848 consumer group ("not a classic group"):
//     ConsumerGroupDescribe describes those.
//   - NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS per group when this
//     broker does not (yet) coordinate it.
//   - Authorized operations (v3+) are not computed (left at "not provided").
//   - With ACLs (authz.go), a group needs DESCRIBE:
//     GROUP_AUTHORIZATION_FAILED otherwise. AuthorizedOperations (v3+) are
//     the principal's, when asked for.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/group"
)

func handleDescribeGroups(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	resp.Groups = make([]kmsg.DescribeGroupsResponseGroup, len(req.Groups))
	for i, id := range req.Groups {
		g := &resp.Groups[i]
		*g = kmsg.NewDescribeGroupsResponseGroup()
		g.Group = id
		if !s.authorized(r, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeGroup, id) {
			g.ErrorCode = kerr.GroupAuthorizationFailed.Code
			continue
		}
		if req.Version >= 3 && req.IncludeAuthorizedOperations {
			g.AuthorizedOperations = s.authorizedOperations(r, kmsg.ACLResourceTypeGroup, id)
		}
		d, err := s.cfg.Groups.DescribeGroup(ctx, id)
		if err != nil {
			g.State = group.Dead.String()
			if errors.Is(err, group.ErrGroupNotFound) && req.Version < 6 {
				continue
			}
			g.ErrorCode = s.groupErrCode("DescribeGroups", err)
			if req.Version >= 6 {
				g.ErrorMessage = errMessage(err)
			}
			continue
		}
		g.State, g.ProtocolType, g.Protocol = d.State.String(), d.ProtocolType, d.Protocol
		g.Members = make([]kmsg.DescribeGroupsResponseGroupMember, len(d.Members))
		for j, m := range d.Members {
			rm := kmsg.NewDescribeGroupsResponseGroupMember()
			rm.MemberID, rm.ClientID, rm.ClientHost = m.MemberID, m.ClientID, m.ClientHost
			rm.ProtocolMetadata, rm.MemberAssignment = m.Metadata, m.Assignment
			if m.InstanceID != "" {
				rm.InstanceID = kmsg.StringPtr(m.InstanceID)
			}
			g.Members[j] = rm
		}
	}
	return resp
}

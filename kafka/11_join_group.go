package kafka

// JoinGroup, key 11: versions 0–9.
//
//   - The classic group protocol (core/group): the call blocks until the
//     group's join phase ends (all known members rejoined, or the rebalance
//     timeout; an empty group's first rebalance also waits
//     group.initial.rebalance.delay.ms for more members). It runs as an
//     ordinary concurrent handler and ends early, with NOT_COORDINATOR,
//     when the server begins to close.
//   - v4+: a join without member ID gets MEMBER_ID_REQUIRED and a generated
//     member ID to rejoin with (KIP-394); before v4 the member is added at
//     once.
//   - v5+: static membership (GroupInstanceID, KIP-345): a known instance
//     replaces its old member ID without a rebalance when its protocols
//     keep the selected one; the old ID is fenced (FENCED_INSTANCE_ID).
//   - Protocols pass through untouched: the coordinator only picks a
//     protocol every member supports (the most preferred), so client-side
//     assignors (range, roundrobin, sticky, cooperative-sticky) work.
//     INCONSISTENT_GROUP_PROTOCOL when none is common or the protocol type
//     differs.
//   - A KIP-848 consumer group with members hosts the classic member
//     (KIP-848's mixed groups, core/group/mixed.go): the coordinator
//     assigns it, and the join is answered once the member is reconciled
//     and stored, as a follower (no leader, no member list), with its
//     member epoch as the generation and its first protocol; the
//     protocol type must be "consumer" with a protocol every classic member
//     of the group supports (INCONSISTENT_GROUP_PROTOCOL otherwise, and
//     while some broker cannot store mixed groups yet). An empty consumer
//     group becomes a classic group.
//   - A new member of a group at kafka.group-max-size (a consumer group:
//     kafka.group-consumer-max-size) gets GROUP_MAX_SIZE_REACHED.
//   - Session timeouts outside [6s, 30min] get INVALID_SESSION_TIMEOUT.
//     v0 has no rebalance timeout: the session timeout is used.
//   - v7+ returns the protocol type; v8's Reason is ignored; v9's
//     SkipAssignment is always false (no server-side assignors).
//   - With ACLs (authz.go), the group needs READ:
//     GROUP_AUTHORIZATION_FAILED otherwise.

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/group"
)

func handleJoinGroup(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.JoinGroupRequest)
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	if !s.authorized(r, kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, req.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		resp.Generation, resp.MemberID = -1, req.MemberID
		return resp
	}
	jr := group.JoinRequest{
		Group: req.Group, MemberID: req.MemberID, InstanceID: derefString(req.InstanceID),
		ClientID: clientID(r), ClientHost: clientHost(ctx),
		SessionTimeout:       time.Duration(req.SessionTimeoutMillis) * time.Millisecond,
		RebalanceTimeout:     time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond,
		ProtocolType:         req.ProtocolType,
		RequireKnownMemberID: req.Version >= 4,
	}
	if req.Version == 0 {
		jr.RebalanceTimeout = jr.SessionTimeout
	}
	jr.Protocols = make([]group.Protocol, len(req.Protocols))
	for i, p := range req.Protocols {
		// Copied: the group keeps protocols long after this request.
		jr.Protocols[i] = group.Protocol{Name: p.Name, Metadata: bytes.Clone(p.Metadata)}
	}
	ctx, cancel := s.groupContext(ctx)
	defer cancel()
	res, err := s.cfg.Groups.JoinGroup(ctx, jr)
	if err != nil {
		resp.ErrorCode = s.groupErrCode("JoinGroup", err)
		resp.Generation = -1
		resp.MemberID = req.MemberID
		if errors.Is(err, group.ErrMemberIDRequired) {
			resp.MemberID = res.MemberID
		}
		return resp
	}
	resp.Generation = res.Generation
	if req.Version >= 7 {
		resp.ProtocolType = kmsg.StringPtr(res.ProtocolType)
	}
	resp.Protocol = kmsg.StringPtr(res.Protocol)
	resp.LeaderID, resp.MemberID = res.LeaderID, res.MemberID
	resp.Members = make([]kmsg.JoinGroupResponseMember, len(res.Members))
	for i, m := range res.Members {
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID, rm.ProtocolMetadata = m.MemberID, m.Metadata
		if m.InstanceID != "" {
			rm.InstanceID = kmsg.StringPtr(m.InstanceID)
		}
		resp.Members[i] = rm
	}
	return resp
}

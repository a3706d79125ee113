package kafka

// ConsumerGroupHeartbeat, key 68: versions 0–1 (KIP-848 consumer groups).
//
//   - The whole membership of a consumer group runs on it: a member joins
//     (epoch 0), heartbeats at its epoch reporting the partitions it owns,
//     and leaves (-1; -2 for a static member leaving for now). The
//     coordinator assigns (group.ServerAssignor "uniform", the default, or
//     "range") and answers each member with its epoch and, when it changed
//     or the member sent its full state, its assignment; a member gets a
//     partition only after its previous owner revoked it (core/group).
//   - v0: a joining member may leave MemberId empty for the coordinator to
//     pick; v1 (KIP-1082): the member picks it, and subscribes by
//     SubscribedTopicRegex (RE2, matching whole topic names).
//   - Errors as Kafka's: INVALID_REQUEST for malformed heartbeats (with
//     Kafka's messages), UNSUPPORTED_ASSIGNOR, INVALID_REGULAR_EXPRESSION,
//     UNKNOWN_MEMBER_ID, FENCED_MEMBER_EPOCH, UNRELEASED_INSTANCE_ID,
//     FENCED_INSTANCE_ID, GROUP_MAX_SIZE_REACHED (kafka.group-consumer-max-size),
//     GROUP_ID_NOT_FOUND (no such group, or a classic group with members
//     that may not be upgraded: kafka.group-consumer-migration-policy, the
//     brokers' level, its size; otherwise the group is upgraded, as in
//     Kafka, core/group/mixed.go), NOT_COORDINATOR and the like.
//   - UNSUPPORTED_VERSION until every broker runs a release that stores
//     consumer groups (raftsm.LevelConsumerGroups) or when
//     kafka.group-rebalance-protocols leaves "consumer" out; ApiVersions
//     then does not list the API, so clients stay on the classic protocol.
//   - With ACLs (authz.go), the group needs READ (GROUP_AUTHORIZATION_FAILED)
//     and every topic named in SubscribedTopicNames DESCRIBE
//     (TOPIC_AUTHORIZATION_FAILED).

import (
	"context"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/group"
	"github.com/chronik-go/chronik/core/group/assign"
)

func handleConsumerGroupHeartbeat(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.ConsumerGroupHeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	switch {
	case !s.cfg.Groups.ConsumerProtocol():
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		return resp
	case !s.authorized(r, kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, req.Group):
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp
	}
	for _, t := range req.SubscribedTopicNames {
		if !s.authorized(r, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, t) {
			resp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.ErrorMessage = kmsg.StringPtr("not authorized to describe topic " + t)
			return resp
		}
	}
	hb := group.ConsumerHeartbeat{
		Group: req.Group, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch, GeneratedMemberID: req.Version == 0,
		InstanceID: req.InstanceID, RackID: req.RackID, RebalanceTimeout: -1,
		SubscribedTopicNames: req.SubscribedTopicNames, ServerAssignor: req.ServerAssignor,
		ClientID: clientID(r), ClientHost: clientHost(ctx),
	}
	if req.RebalanceTimeoutMillis >= 0 {
		hb.RebalanceTimeout = time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	}
	if req.Version >= 1 {
		hb.SubscribedTopicRegex = req.SubscribedTopicRegex
	}
	if req.Topics != nil {
		owned := assign.Partitions{}
		for _, t := range req.Topics {
			owned[t.TopicID] = append(owned[t.TopicID], t.Partitions...)
		}
		hb.Owned = assign.Normalize(owned)
	}
	res, err := s.cfg.Groups.ConsumerHeartbeat(ctx, hb)
	if err != nil {
		resp.ErrorCode = s.groupErrCode("ConsumerGroupHeartbeat", err)
		resp.ErrorMessage = errMessage(err)
		return resp
	}
	resp.MemberID = kmsg.StringPtr(res.MemberID)
	resp.MemberEpoch = res.MemberEpoch
	resp.HeartbeatIntervalMillis = int32(res.HeartbeatInterval / time.Millisecond)
	if res.Assignment != nil {
		a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
		a.Topics = []kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{}
		for _, id := range res.Assignment.Topics() {
			t := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			t.TopicID, t.Partitions = id, slices.Clone(res.Assignment[id])
			a.Topics = append(a.Topics, t)
		}
		resp.Assignment = &a
	}
	return resp
}

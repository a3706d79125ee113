package kafka

// ConsumerGroupDescribe, key 69: versions 0–1 (KIP-848 consumer groups).
//
//   - Each group's state (Empty, Assigning, Reconciling, Stable), group and
//     assignment epochs, assignor, and members with their epochs,
//     subscriptions, assignments and target assignments (topics by ID and
//     name; topics no longer known are left out, as in Kafka). v1 adds
//     MemberType: 1 for the consumer protocol, 0 for a classic member the
//     group hosts (KIP-848's mixed groups, core/group/mixed.go).
//   - GROUP_ID_NOT_FOUND for an unknown group and for a classic group
//     ("not a consumer group"), INVALID_GROUP_ID for an empty ID,
//     NOT_COORDINATOR and the like per group.
//   - UNSUPPORTED_VERSION for every group while consumer groups are not
//     served (68_consumer_group_heartbeat.go).
//   - With ACLs (authz.go), a group needs DESCRIBE
//     (GROUP_AUTHORIZATION_FAILED); AuthorizedOperations are the
//     principal's, when asked for.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/group/assign"
)

func handleConsumerGroupDescribe(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.ConsumerGroupDescribeRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	resp.Groups = make([]kmsg.ConsumerGroupDescribeResponseGroup, len(req.Groups))
	served := s.cfg.Groups.ConsumerProtocol()
	for i, id := range req.Groups {
		g := &resp.Groups[i]
		*g = kmsg.NewConsumerGroupDescribeResponseGroup()
		g.Group = id
		switch {
		case !served:
			g.ErrorCode = kerr.UnsupportedVersion.Code
			continue
		case !s.authorized(r, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeGroup, id):
			g.ErrorCode = kerr.GroupAuthorizationFailed.Code
			continue
		}
		if req.IncludeAuthorizedOperations {
			g.AuthorizedOperations = s.authorizedOperations(r, kmsg.ACLResourceTypeGroup, id)
		}
		d, err := s.cfg.Groups.DescribeConsumerGroup(ctx, id)
		if err != nil {
			g.ErrorCode = s.groupErrCode("ConsumerGroupDescribe", err)
			g.ErrorMessage = errMessage(err)
			continue
		}
		g.State, g.Epoch, g.AssignmentEpoch, g.AssignorName = d.State, d.GroupEpoch, d.AssignmentEpoch, d.Assignor
		g.Members = make([]kmsg.ConsumerGroupDescribeResponseGroupMember, 0, len(d.Members))
		for _, m := range d.Members {
			rm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
			rm.MemberID, rm.MemberEpoch, rm.ClientID, rm.ClientHost = m.MemberID, m.MemberEpoch, m.ClientID, m.ClientHost
			if m.InstanceID != "" {
				rm.InstanceID = kmsg.StringPtr(m.InstanceID)
			}
			if m.RackID != "" {
				rm.RackID = kmsg.StringPtr(m.RackID)
			}
			rm.SubscribedTopics = slices.Clone(m.SubscribedTopicNames)
			if rm.SubscribedTopics == nil {
				rm.SubscribedTopics = []string{}
			}
			if m.SubscribedTopicRegex != "" {
				rm.SubscribedTopicRegex = kmsg.StringPtr(m.SubscribedTopicRegex)
			}
			rm.Assignment, rm.TargetAssignment = s.describedAssignment(m.Assignment), s.describedAssignment(m.Target)
			rm.MemberType = 1
			if m.Classic {
				rm.MemberType = 0
			}
			g.Members = append(g.Members, rm)
		}
	}
	return resp
}

// describedAssignment names an assignment's topics; topics no longer known
// are left out.
func (s *Server) describedAssignment(p assign.Partitions) kmsg.Assignment {
	a := kmsg.NewAssignment()
	a.TopicPartitions = []kmsg.AssignmentTopicPartition{}
	for _, id := range p.Topics() {
		t, ok := s.backend.TopicByID(id)
		if !ok {
			continue
		}
		a.TopicPartitions = append(a.TopicPartitions, kmsg.AssignmentTopicPartition{TopicID: id, Topic: t.Name, Partitions: slices.Clone(p[id])})
	}
	return a
}

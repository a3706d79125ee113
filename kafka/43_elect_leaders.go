package kafka

// ElectLeaders, key 43: versions 0–2.
//
//   - Preferred elections (type 0; v0 has no type and means preferred): for
//     each partition whose current leader is not its preferred replica (the
//     first in its placement), the broker asks the partition's Raft group to
//     transfer leadership to it (Backend.ElectPreferredLeader) and answers
//     once the transfer is requested; the move itself takes a few Raft
//     round trips (watch Metadata or `chronik cluster status`). A partition
//     already led by its preferred replica gets ELECTION_NOT_NEEDED.
//   - Unclean elections (type 1) do not exist in Raft: a partition with no
//     majority cannot elect anyone without losing acknowledged data, so
//     they get ELECTION_NOT_NEEDED when the partition has a leader and
//     ELIGIBLE_LEADERS_NOT_AVAILABLE otherwise.
//   - A null topic list means every partition of every topic.
//   - Top-level ErrorCode (v1+) stays 0; errors are per partition.
//   - With ACLs (authz.go), ALTER on the cluster is needed:
//     CLUSTER_AUTHORIZATION_FAILED (top level from v1, and every partition)
//     otherwise.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/partition"
)

func handleElectLeaders(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.ElectLeadersRequest)
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	ctx, cancel := requestContext(ctx, req.TimeoutMillis, defaultAdminTimeout)
	defer cancel()

	if !s.authorizedCluster(r, kmsg.ACLOperationAlter) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code // v1+
		for _, rt := range req.Topics {
			st := kmsg.NewElectLeadersResponseTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewElectLeadersResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p, kerr.ClusterAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
	topics := req.Topics
	if topics == nil {
		for _, t := range s.backend.Topics() {
			rt := kmsg.NewElectLeadersRequestTopic()
			rt.Topic = t.Name
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, p.Index)
			}
			topics = append(topics, rt)
		}
	}
	unclean := req.Version >= 1 && req.ElectionType == 1
	for _, rt := range topics {
		st := kmsg.NewElectLeadersResponseTopic()
		st.Topic = rt.Topic
		topic, known := s.backend.Topic(rt.Topic)
		for _, p := range rt.Partitions {
			sp := kmsg.NewElectLeadersResponseTopicPartition()
			sp.Partition = p
			tp := partition.TP{Topic: rt.Topic, Partition: p}
			switch {
			case !known || p < 0 || int(p) >= len(topic.Partitions):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case unclean:
				sp.ErrorCode = kerr.ElectionNotNeeded.Code
				if st, err := s.backend.PartitionState(tp); err != nil || st.Leader < 0 {
					sp.ErrorCode = kerr.EligibleLeadersNotAvailable.Code
				}
			default:
				if err := s.backend.ElectPreferredLeader(ctx, tp); err != nil {
					sp.ErrorCode = s.errCode("ElectLeaders", err)
					msg := err.Error()
					sp.ErrorMessage = &msg
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

package kafka

// OffsetForLeaderEpoch, key 23: versions 0–4.
//
//   - For each partition, Backend.EndOffsetForEpoch answers the largest epoch
//     ≤ the requested one and its end offset (-1/-1 when the epoch is older
//     than the log). Clients use it to detect log truncation after a leader
//     change, which is why leader epochs are the real Raft terms.
//   - Only the leader answers, under a read lease (Backend.ReadState, as
//     ListOffsets); CurrentLeaderEpoch (v2+) is checked against the Raft
//     term (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH).
//   - ReplicaID (v3+) is ignored: Chronik replicas are Raft peers, never Kafka
//     followers.
//   - With ACLs (authz.go), a topic needs DESCRIBE:
//     TOPIC_AUTHORIZATION_FAILED otherwise.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/partition"
)

func handleOffsetForLeaderEpoch(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	self := s.backend.NodeID()

	resp.Topics = make([]kmsg.OffsetForLeaderEpochResponseTopic, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := &resp.Topics[i]
		*st = kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		_, known := s.backend.Topic(rt.Topic)
		code := int16(0)
		switch {
		case !s.authorized(r, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, rt.Topic):
			code = kerr.TopicAuthorizationFailed.Code
		case !known:
			code = kerr.UnknownTopicOrPartition.Code
		}

		st.Partitions = make([]kmsg.OffsetForLeaderEpochResponseTopicPartition, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			*sp = kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			if code != 0 {
				sp.ErrorCode = code
				continue
			}
			tp := partition.TP{Topic: rt.Topic, Partition: rp.Partition}
			state, err := s.backend.ReadState(ctx, tp)
			if err != nil {
				sp.ErrorCode = s.errCode("OffsetForLeaderEpoch", err)
				continue
			}
			currentEpoch := int32(-1)
			if req.Version >= 2 {
				currentEpoch = rp.CurrentLeaderEpoch
			}
			if sp.ErrorCode = leaderCheck(state, self, currentEpoch); sp.ErrorCode != 0 {
				continue
			}
			end, err := s.backend.EndOffsetForEpoch(tp, rp.LeaderEpoch)
			if err != nil {
				sp.ErrorCode = s.errCode("OffsetForLeaderEpoch", err)
				continue
			}
			sp.LeaderEpoch, sp.EndOffset = end.LeaderEpoch, end.EndOffset
		}
	}
	return resp
}

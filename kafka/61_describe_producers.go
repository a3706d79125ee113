package kafka

// DescribeProducers, key 61: version 0 (KIP-664; kafka-transactions.sh
// describe-producers, kadm's DescribeProducers).
//
//   - Per requested partition, the idempotent producers its leader knows,
//     by ID: those that appended within a day (a producer's state expires
//     then, raftsm), with their epoch, the sequence of their last record
//     and the time of their last append (ms; -1 for state kept before
//     times were, and LastSequence -1 when no sequence is kept).
//     CurrentTxnStartOffset is the first offset of the producer's open
//     transaction (-1 when none is open); CoordinatorEpoch is -1 (the
//     partition does not keep it).
//   - Only the leader answers (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE);
//     an unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION.
//   - With ACLs (authz.go), a topic needs READ: TOPIC_AUTHORIZATION_FAILED
//     otherwise, as in Kafka.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/partition"
)

const keyDescribeProducers int16 = 61

func handleDescribeProducers(_ context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.DescribeProducersRequest)
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	self := s.backend.NodeID()
	for _, rt := range req.Topics {
		st := kmsg.NewDescribeProducersResponseTopic()
		st.Topic = rt.Topic
		topic, known := s.backend.Topic(rt.Topic)
		readable := s.authorized(r, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, rt.Topic)
		for _, p := range rt.Partitions {
			sp := kmsg.NewDescribeProducersResponseTopicPartition()
			sp.Partition = p
			switch {
			case !readable:
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case !known || p < 0 || int(p) >= len(topic.Partitions):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				s.describeProducers(partition.TP{Topic: rt.Topic, Partition: p}, self, &sp)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// describeProducers answers one partition the leader is asked about.
func (s *Server) describeProducers(tp partition.TP, self int32, out *kmsg.DescribeProducersResponseTopicPartition) {
	state, err := s.backend.PartitionState(tp)
	if err != nil {
		out.ErrorCode, out.ErrorMessage = s.errCode("DescribeProducers", err), errMessage(err)
		return
	}
	if out.ErrorCode = leaderCheck(state, self, -1); out.ErrorCode != 0 {
		return
	}
	producers, err := s.backend.Producers(tp)
	if err != nil {
		out.ErrorCode, out.ErrorMessage = s.errCode("DescribeProducers", err), errMessage(err)
		return
	}
	for _, p := range producers {
		ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
		ap.ProducerID, ap.ProducerEpoch = p.ID, int32(p.Epoch)
		ap.LastSequence, ap.LastTimestamp = p.LastSequence, p.LastTimestamp
		ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = -1, p.TxnStartOffset
		out.ActiveProducers = append(out.ActiveProducers, ap)
	}
}

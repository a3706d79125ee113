package kafka

// DescribeTopicPartitions, key 75: version 0 (KIP-966; Kafka 3.8+
// kafka-topics.sh --describe and the Java admin client's describeTopics use
// it when the broker serves it, Metadata otherwise).
//
//   - Topics: the requested ones, or every topic the principal may DESCRIBE
//     when the list is empty; answered sorted by name. A requested topic
//     that does not exist gets UNKNOWN_TOPIC_OR_PARTITION (no creation),
//     one the principal may not describe TOPIC_AUTHORIZATION_FAILED (authz.go).
//   - Each partition as Metadata reports it (partitionLeader): the Raft
//     leader and term, replicas = ISR = the placement nodes, no eligible
//     leader replicas (ELR is a KRaft notion), no offline replicas;
//     LEADER_NOT_AVAILABLE without a leader.
//   - Paging: at most ResponsePartitionLimit partitions (capped at
//     maxDescribePartitions, Kafka's max.request.partition.size.limit) per
//     response, starting at Cursor; NextCursor names the first partition
//     left out (null when none is). A cursor on a topic that was not
//     requested is INVALID_REQUEST, as in Kafka (answered on every topic).
//   - AuthorizedOperations are the principal's on each topic.

import (
	"context"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/cluster"
)

// maxDescribePartitions caps the partitions of one DescribeTopicPartitions
// response (Kafka's max.request.partition.size.limit default).
const maxDescribePartitions = 2000

func handleDescribeTopicPartitions(_ context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.DescribeTopicPartitionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)

	type named struct {
		name  string
		topic cluster.Topic
		code  int16
	}
	var list []named
	if len(req.Topics) == 0 {
		for _, t := range s.backend.Topics() {
			if s.authorized(r, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, t.Name) {
				list = append(list, named{name: t.Name, topic: t})
			}
		}
	} else {
		for _, rt := range req.Topics {
			n := named{name: rt.Topic}
			switch t, ok := s.backend.Topic(rt.Topic); {
			case !s.authorized(r, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, rt.Topic):
				n.code = kerr.TopicAuthorizationFailed.Code
			case !ok:
				n.code = kerr.UnknownTopicOrPartition.Code
			default:
				n.topic = t
			}
			list = append(list, n)
		}
	}
	slices.SortFunc(list, func(a, b named) int { return strings.Compare(a.name, b.name) })
	list = slices.CompactFunc(list, func(a, b named) bool { return a.name == b.name })

	var from int32
	if c := req.Cursor; c != nil {
		i, found := slices.BinarySearchFunc(list, c.Topic, func(n named, name string) int { return strings.Compare(n.name, name) })
		if !found && len(req.Topics) > 0 || c.Partition < 0 {
			for _, n := range list {
				resp.Topics = append(resp.Topics, describedTopicError(n.name, kerr.InvalidRequest.Code))
			}
			return resp
		}
		list, from = list[i:], c.Partition
		if !found {
			from = 0 // listing every topic: the cursor's topic went meanwhile
		}
	}
	limit := int(req.ResponsePartitionLimit)
	if limit <= 0 || limit > maxDescribePartitions {
		limit = maxDescribePartitions
	}
	for i, n := range list {
		if n.code != 0 {
			resp.Topics = append(resp.Topics, describedTopicError(n.name, n.code))
			continue
		}
		if limit == 0 {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: n.name, Partition: 0}
			return resp
		}
		if i > 0 {
			from = 0
		}
		parts := n.topic.Partitions
		start := min(int(from), len(parts))
		end := min(start+limit, len(parts))
		rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
		rt.Topic, rt.TopicID = kmsg.StringPtr(n.name), n.topic.ID
		rt.AuthorizedOperations = s.authorizedOperations(r, kmsg.ACLResourceTypeTopic, n.name)
		rt.Partitions = make([]kmsg.DescribeTopicPartitionsResponseTopicPartition, 0, end-start)
		for _, p := range parts[start:end] {
			rp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
			rp.Partition, rp.Replicas, rp.ISR = p.Index, p.Nodes, p.Nodes
			rp.EligibleLeaderReplicas, rp.LastKnownELR, rp.OfflineReplicas = []int32{}, []int32{}, []int32{}
			rp.LeaderID, rp.LeaderEpoch, rp.ErrorCode = s.partitionLeader(n.name, p.Index)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
		limit -= end - start
		if end < len(parts) {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: n.name, Partition: int32(end)}
			return resp
		}
	}
	return resp
}

// describedTopicError answers a topic of DescribeTopicPartitions with an
// error alone.
func describedTopicError(name string, code int16) kmsg.DescribeTopicPartitionsResponseTopic {
	rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
	rt.Topic, rt.ErrorCode, rt.Partitions = kmsg.StringPtr(name), code, []kmsg.DescribeTopicPartitionsResponseTopicPartition{}
	return rt
}

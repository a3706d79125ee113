package kafka

// AlterPartitionReassignments, key 45: versions 0–1.
//
//   - Each partition's Replicas become its target placement, committed in
//     the meta shard (Backend.AlterReassignment); the partition's Raft
//     leader then adds the new replicas as non-voting members, promotes
//     them once caught up, removes the old ones and commits the target
//     (core/cluster/controller.go). The answer returns once the target is
//     committed, not when data has moved: ListPartitionReassignments shows
//     the moves in progress.
//   - Unknown brokers, duplicate or empty replica lists are
//     INVALID_REPLICA_ASSIGNMENT; unknown topics or partitions are
//     UNKNOWN_TOPIC_OR_PARTITION. Null Replicas (cancel) is
//     NO_REASSIGNMENT_IN_PROGRESS when nothing moves and
//     INVALID_REPLICA_ASSIGNMENT otherwise (cancelling is not supported:
//     reassign to the old replicas instead).
//   - AllowReplicationFactorChange false (v1+, KIP-860): a target whose
//     replica count differs from the partition's is
//     INVALID_REPLICATION_FACTOR, as Kafka answers.
//   - A partition named twice is processed twice, in request order.
//   - With ACLs (authz.go), ALTER on the cluster is needed:
//     CLUSTER_AUTHORIZATION_FAILED otherwise.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleAlterPartitionReassignments(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.AlterPartitionAssignmentsRequest)
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	ctx, cancel := requestContext(ctx, req.TimeoutMillis, defaultAdminTimeout)
	defer cancel()
	if !s.authorizedCluster(r, kmsg.ACLOperationAlter) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	keepRF := req.Version >= 1 && !req.AllowReplicationFactorChange
	resp.Topics = make([]kmsg.AlterPartitionAssignmentsResponseTopic, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		out := &resp.Topics[i]
		*out = kmsg.NewAlterPartitionAssignmentsResponseTopic()
		out.Topic = rt.Topic
		out.Partitions = make([]kmsg.AlterPartitionAssignmentsResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			op := &out.Partitions[j]
			*op = kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			op.Partition = rp.Partition
			if keepRF && rp.Replicas != nil {
				if rf := s.replicationFactor(rt.Topic, rp.Partition); rf > 0 && rf != len(rp.Replicas) {
					op.ErrorCode = kerr.InvalidReplicationFactor.Code
					op.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("the replication factor would change from %d to %d, and the request does not allow it", rf, len(rp.Replicas)))
					continue
				}
			}
			if err := s.backend.AlterReassignment(ctx, rt.Topic, rp.Partition, rp.Replicas); err != nil {
				op.ErrorCode, op.ErrorMessage = s.errCode("AlterPartitionReassignments", err), kmsg.StringPtr(err.Error())
			}
		}
	}
	return resp
}

// replicationFactor is the number of replicas of a topic's partition, 0
// when there is no such partition.
func (s *Server) replicationFactor(topic string, p int32) int {
	t, ok := s.backend.Topic(topic)
	if !ok {
		return 0
	}
	for _, tp := range t.Partitions {
		if tp.Index == p {
			return len(tp.Nodes)
		}
	}
	return 0
}

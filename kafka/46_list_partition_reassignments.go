package kafka

// ListPartitionReassignments, key 46: version 0.
//
//   - Lists the partitions with a target placement in the meta shard
//     (Backend.Reassignments): Replicas is the union of the current and
//     target replicas (target first), AddingReplicas the brokers that get
//     a new replica, RemovingReplicas those whose replica goes away. A
//     broker whose wiped replica is being replaced is in both.
//   - Null Topics lists every move; otherwise only the named partitions
//     that are moving (others are left out, as in Kafka).
//   - Byte and offset progress is not part of the protocol: see
//     `chronik cluster reassignments` (GET /v1/reassignments).
//   - With ACLs (authz.go), DESCRIBE on the cluster is needed:
//     CLUSTER_AUTHORIZATION_FAILED otherwise.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleListPartitionReassignments(_ context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.ListPartitionReassignmentsRequest)
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	if !s.authorizedCluster(r, kmsg.ACLOperationDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	want := map[string]map[int32]bool{}
	for _, rt := range req.Topics {
		if want[rt.Topic] == nil {
			want[rt.Topic] = map[int32]bool{}
		}
		for _, p := range rt.Partitions {
			want[rt.Topic][p] = true
		}
	}
	byTopic := map[string]int{}
	for _, ra := range s.backend.Reassignments() {
		if req.Topics != nil && !want[ra.Topic][ra.Partition] {
			continue
		}
		i, ok := byTopic[ra.Topic]
		if !ok {
			t := kmsg.NewListPartitionReassignmentsResponseTopic()
			t.Topic = ra.Topic
			resp.Topics = append(resp.Topics, t)
			i = len(resp.Topics) - 1
			byTopic[ra.Topic] = i
		}
		p := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		p.Partition = ra.Partition
		p.Replicas = slices.Clone(ra.Target)
		for _, n := range ra.Replicas {
			if !slices.Contains(p.Replicas, n) {
				p.Replicas = append(p.Replicas, n)
			}
		}
		p.AddingReplicas = append([]int32{}, ra.Adding...)
		p.RemovingReplicas = append([]int32{}, ra.Removing...)
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, p)
	}
	return resp
}

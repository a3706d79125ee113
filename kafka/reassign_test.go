package kafka

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestPartitionReassignments(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "r", 1)
	c := ts.dial(t)
	keepRF := false
	alter := func(topic string, p int32, replicas []int32) kmsg.AlterPartitionAssignmentsResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
		req.TimeoutMillis = 5000
		req.Version, req.AllowReplicationFactorChange = 1, !keepRF
		rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Partition, rp.Replicas = p, replicas
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return c.do(req).(*kmsg.AlterPartitionAssignmentsResponse).Topics[0].Partitions[0]
	}
	wantCode(t, "same placement", alter("r", 0, []int32{1}).ErrorCode, nil)
	wantCode(t, "unknown broker", alter("r", 0, []int32{1, 7}).ErrorCode, kerr.InvalidReplicaAssignment)
	wantCode(t, "cancel with nothing moving", alter("r", 0, nil).ErrorCode, kerr.NoReassignmentInProgress)
	wantCode(t, "unknown partition", alter("r", 4, []int32{1}).ErrorCode, kerr.UnknownTopicOrPartition)
	// v1 (KIP-860): a request that does not allow it cannot change the
	// replication factor; the same count of replicas passes on.
	keepRF = true
	if p := alter("r", 0, []int32{1, 7}); p.ErrorCode != kerr.InvalidReplicationFactor.Code || p.ErrorMessage == nil || !strings.Contains(*p.ErrorMessage, "from 1 to 2") {
		t.Fatalf("changing the replication factor when not allowed: %+v", p)
	}
	wantCode(t, "same replica count, replication factor kept", alter("r", 0, []int32{1}).ErrorCode, nil)
	wantCode(t, "unknown partition, replication factor kept", alter("r", 4, []int32{1, 2}).ErrorCode, kerr.UnknownTopicOrPartition)
	wantCode(t, "cancel, replication factor kept", alter("r", 0, nil).ErrorCode, kerr.NoReassignmentInProgress)

	list := kmsg.NewPtrListPartitionReassignmentsRequest()
	resp := c.do(list).(*kmsg.ListPartitionReassignmentsResponse)
	if resp.ErrorCode != 0 || len(resp.Topics) != 0 {
		t.Fatalf("list: %+v, want no moves", resp)
	}
}

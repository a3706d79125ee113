package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestPartitionReassignments(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "r", 1)
	c := ts.dial(t)
	alter := func(topic string, p int32, replicas []int32) kmsg.AlterPartitionAssignmentsResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
		req.TimeoutMillis = 5000
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

	list := kmsg.NewPtrListPartitionReassignmentsRequest()
	resp := c.do(list).(*kmsg.ListPartitionReassignmentsResponse)
	if resp.ErrorCode != 0 || len(resp.Topics) != 0 {
		t.Fatalf("list: %+v, want no moves", resp)
	}
}

package kafka

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/acl"
	"github.com/chronik-go/chronik/core/partition"
)

// DescribeProducers lists what the leader knows per partition, through
// kadm; unknown partitions and, with ACLs, topics the principal may not
// READ get their errors.
func TestDescribeProducers(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "p", 2)
	ts.b.mu.Lock()
	ts.b.mu.producers = map[partition.TP][]partition.Producer{
		tp("p", 1): {{ID: 1000, Epoch: 2, LastSequence: 41, LastTimestamp: 1700000000000, TxnStartOffset: -1}, {ID: 1001, LastSequence: -1, LastTimestamp: -1, TxnStartOffset: 17}},
	}
	ts.b.mu.Unlock()
	adm := kadm.NewClient(newKgoClient(t, ts))
	got, err := adm.DescribeProducers(context.Background(), kadm.TopicsSet{"p": {0: {}, 1: {}}})
	if err != nil {
		t.Fatal(err)
	}
	p0, p1 := got["p"].Partitions[0], got["p"].Partitions[1]
	if p0.Err != nil || len(p0.ActiveProducers) != 0 {
		t.Errorf("partition 0: %+v", p0)
	}
	if p1.Err != nil || len(p1.ActiveProducers) != 2 {
		t.Fatalf("partition 1: %+v", p1)
	}
	first := p1.ActiveProducers.Sorted()[0]
	if first.ProducerID != 1000 || first.ProducerEpoch != 2 || first.LastSequence != 41 || first.LastTimestamp != 1700000000000 ||
		first.CoordinatorEpoch != -1 || first.CurrentTxnStartOffset != -1 {
		t.Errorf("producer 1000: %+v", first)
	}
	if second := p1.ActiveProducers.Sorted()[1]; second.CurrentTxnStartOffset != 17 {
		t.Errorf("producer 1001 has a transaction open at 17: %+v", second)
	}
	req := kmsg.NewPtrDescribeProducersRequest()
	rt := kmsg.NewDescribeProducersRequestTopic()
	rt.Topic, rt.Partitions = "p", []int32{7}
	req.Topics = append(req.Topics, rt)
	resp := ts.dial(t).do(req).(*kmsg.DescribeProducersResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("partition 7: %s", codeName(code))
	}

	// With ACLs, READ on the topic.
	denied := startServer(t, Config{ACLs: newMemACLs(acl.Binding{
		ResourceType: kmsg.ACLResourceTypeTopic, ResourceName: "other", PatternType: kmsg.ACLResourcePatternTypeLiteral,
		Principal: anonymous, Host: acl.Wildcard, Operation: kmsg.ACLOperationRead, Permission: kmsg.ACLPermissionTypeAllow,
	})}, nil)
	denied.createTopic(t, "p", 1)
	req.Topics[0].Partitions = []int32{0}
	resp = denied.dial(t).do(req).(*kmsg.DescribeProducersResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("without READ: %s", codeName(code))
	}
}

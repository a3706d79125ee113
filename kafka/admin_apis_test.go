package kafka

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDeleteRecords(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "d", 1)
	ts.produce(t, "d", 0, "a", "b")
	ts.produce(t, "d", 0, "c")
	c := ts.dial(t)
	del := func(v int16, topic string, p int32, offset int64) kmsg.DeleteRecordsResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrDeleteRecordsRequest()
		req.Version, req.TimeoutMillis = v, 5000
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Partition, rp.Offset = p, offset
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return c.do(req).(*kmsg.DeleteRecordsResponse).Topics[0].Partitions[0]
	}
	if p := del(0, "d", 0, 1); p.ErrorCode != 0 || p.LowWatermark != 1 {
		t.Fatalf("v0 delete to 1: %+v", p)
	}
	if p := del(2, "d", 0, 0); p.ErrorCode != 0 || p.LowWatermark != 1 {
		t.Fatalf("v2 delete below the log start: %+v", p)
	}
	wantCode(t, "beyond HW", del(1, "d", 0, 4).ErrorCode, kerr.OffsetOutOfRange)
	wantCode(t, "below -1", del(1, "d", 0, -2).ErrorCode, kerr.OffsetOutOfRange)
	wantCode(t, "unknown partition", del(1, "d", 3, 0).ErrorCode, kerr.UnknownTopicOrPartition)
	wantCode(t, "unknown topic", del(1, "nope", 0, 0).ErrorCode, kerr.UnknownTopicOrPartition)
	if p := del(2, "d", 0, -1); p.ErrorCode != 0 || p.LowWatermark != 3 {
		t.Fatalf("delete to the high watermark: %+v", p)
	}
}

func TestAlterConfigs(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	if _, err := ts.b.CreateTopic(context.Background(), withConfigs(clusterSpec("c", 1), "cleanup.policy", "compact"), false); err != nil {
		t.Fatal(err)
	}
	c := ts.dial(t)
	alter := func(v int16, validateOnly bool, typ kmsg.ConfigResourceType, name string, kv ...string) kmsg.AlterConfigsResponseResource {
		t.Helper()
		req := kmsg.NewPtrAlterConfigsRequest()
		req.Version, req.ValidateOnly = v, validateOnly
		res := kmsg.NewAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = typ, name
		for i := 0; i+1 < len(kv); i += 2 {
			cf := kmsg.NewAlterConfigsRequestResourceConfig()
			cf.Name, cf.Value = kv[i], kmsg.StringPtr(kv[i+1])
			res.Configs = append(res.Configs, cf)
		}
		req.Resources = append(req.Resources, res)
		return c.do(req).(*kmsg.AlterConfigsResponse).Resources[0]
	}
	configs := func() map[string]string {
		tp, _ := ts.b.Topic("c")
		return tp.Configs
	}
	for v := int16(0); v <= 2; v++ {
		before := configs()["retention.ms"]
		if r := alter(v, true, kmsg.ConfigResourceTypeTopic, "c", "retention.ms", "8"); r.ErrorCode != 0 || configs()["retention.ms"] != before {
			t.Fatalf("v%d validate only: %+v, configs %v", v, r, configs())
		}
		if r := alter(v, false, kmsg.ConfigResourceTypeTopic, "c", "retention.ms", "9"); r.ErrorCode != 0 {
			t.Fatalf("v%d alter: %+v", v, r)
		}
		// Replace semantics: cleanup.policy, left out, is back to its default.
		if got := configs(); len(got) != 1 || got["retention.ms"] != "9" {
			t.Fatalf("v%d configs after alter: %v", v, got)
		}
	}
	r := alter(1, false, kmsg.ConfigResourceTypeTopic, "c", "retention.ms", "soon")
	wantCode(t, "invalid value", r.ErrorCode, kerr.InvalidConfig)
	if r.ErrorMessage == nil || *r.ErrorMessage == "" {
		t.Fatal("INVALID_CONFIG without a message")
	}
	wantCode(t, "unknown key", alter(1, false, kmsg.ConfigResourceTypeTopic, "c", "no.such", "1").ErrorCode, kerr.InvalidConfig)
	wantCode(t, "duplicate key", alter(1, false, kmsg.ConfigResourceTypeTopic, "c", "retention.ms", "1", "retention.ms", "2").ErrorCode, kerr.InvalidRequest)
	wantCode(t, "unknown topic", alter(1, false, kmsg.ConfigResourceTypeTopic, "nope", "retention.ms", "1").ErrorCode, kerr.UnknownTopicOrPartition)
	r = alter(2, false, kmsg.ConfigResourceTypeBroker, "1", "num.partitions", "3")
	wantCode(t, "broker", r.ErrorCode, kerr.InvalidRequest)
	if r.ErrorMessage == nil || *r.ErrorMessage == "" {
		t.Fatal("broker refusal without a message")
	}
	wantCode(t, "broker logger", alter(2, false, kmsg.ConfigResourceTypeBrokerLogger, "1").ErrorCode, kerr.InvalidRequest)
	if got := configs(); got["retention.ms"] != "9" {
		t.Fatalf("failed alters changed configs: %v", got)
	}

	// The same resource twice: both refused.
	req := kmsg.NewPtrAlterConfigsRequest()
	for range 2 {
		res := kmsg.NewAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "c"
		req.Resources = append(req.Resources, res)
	}
	for _, r := range c.do(req).(*kmsg.AlterConfigsResponse).Resources {
		wantCode(t, "duplicate resource", r.ErrorCode, kerr.InvalidRequest)
	}
}

func TestIncrementalAlterConfigs(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	if _, err := ts.b.CreateTopic(context.Background(), withConfigs(clusterSpec("c", 1), "retention.ms", "5"), false); err != nil {
		t.Fatal(err)
	}
	c := ts.dial(t)
	type op struct {
		name  string
		op    kmsg.IncrementalAlterConfigOp
		value *string
	}
	alter := func(v int16, typ kmsg.ConfigResourceType, name string, ops ...op) kmsg.IncrementalAlterConfigsResponseResource {
		t.Helper()
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		req.Version = v
		res := kmsg.NewIncrementalAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = typ, name
		for _, o := range ops {
			cf := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			cf.Name, cf.Op, cf.Value = o.name, o.op, o.value
			res.Configs = append(res.Configs, cf)
		}
		req.Resources = append(req.Resources, res)
		return c.do(req).(*kmsg.IncrementalAlterConfigsResponse).Resources[0]
	}
	configs := func() map[string]string {
		tp, _ := ts.b.Topic("c")
		return tp.Configs
	}
	s := kmsg.StringPtr
	for v := int16(0); v <= 1; v++ {
		r := alter(v, kmsg.ConfigResourceTypeTopic, "c",
			op{"segment.ms", kmsg.IncrementalAlterConfigOpSet, s("1000")},
			op{"cleanup.policy", kmsg.IncrementalAlterConfigOpAppend, s("compact")},
		)
		if r.ErrorCode != 0 {
			t.Fatalf("v%d: %+v", v, r)
		}
		got := configs()
		if got["retention.ms"] != "5" || got["segment.ms"] != "1000" || got["cleanup.policy"] != "delete,compact" {
			t.Fatalf("v%d configs %v: set and append (onto the default) must keep other keys", v, got)
		}
	}
	r := alter(1, kmsg.ConfigResourceTypeTopic, "c",
		op{"cleanup.policy", kmsg.IncrementalAlterConfigOpSubtract, s("delete")},
		op{"retention.ms", kmsg.IncrementalAlterConfigOpDelete, nil},
	)
	if got := configs(); r.ErrorCode != 0 || got["cleanup.policy"] != "compact" || got["retention.ms"] != "" {
		t.Fatalf("subtract and delete: %+v, configs %v", r, got)
	}
	wantCode(t, "subtract to empty", alter(1, kmsg.ConfigResourceTypeTopic, "c", op{"cleanup.policy", kmsg.IncrementalAlterConfigOpSubtract, s("compact")}).ErrorCode, kerr.InvalidConfig)
	wantCode(t, "append to a non-list", alter(1, kmsg.ConfigResourceTypeTopic, "c", op{"retention.ms", kmsg.IncrementalAlterConfigOpAppend, s("1")}).ErrorCode, kerr.InvalidConfig)
	wantCode(t, "invalid value", alter(1, kmsg.ConfigResourceTypeTopic, "c", op{"retention.ms", kmsg.IncrementalAlterConfigOpSet, s("-5")}).ErrorCode, kerr.InvalidConfig)
	wantCode(t, "unknown key", alter(1, kmsg.ConfigResourceTypeTopic, "c", op{"nope", kmsg.IncrementalAlterConfigOpDelete, nil}).ErrorCode, kerr.InvalidConfig)
	wantCode(t, "null set", alter(1, kmsg.ConfigResourceTypeTopic, "c", op{"retention.ms", kmsg.IncrementalAlterConfigOpSet, nil}).ErrorCode, kerr.InvalidRequest)
	wantCode(t, "unknown op", alter(1, kmsg.ConfigResourceTypeTopic, "c", op{"retention.ms", 9, s("1")}).ErrorCode, kerr.InvalidRequest)
	wantCode(t, "duplicate key", alter(1, kmsg.ConfigResourceTypeTopic, "c",
		op{"retention.ms", kmsg.IncrementalAlterConfigOpSet, s("1")}, op{"retention.ms", kmsg.IncrementalAlterConfigOpDelete, nil}).ErrorCode, kerr.InvalidRequest)
	wantCode(t, "broker", alter(1, kmsg.ConfigResourceTypeBroker, "", op{"num.partitions", kmsg.IncrementalAlterConfigOpSet, s("2")}).ErrorCode, kerr.InvalidRequest)
	if got := configs(); got["cleanup.policy"] != "compact" || len(got) != 2 {
		t.Fatalf("failed alters changed configs: %v", got)
	}
}

func TestCreatePartitions(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "p", 2)
	c := ts.dial(t)
	create := func(v int16, validateOnly bool, topic string, count int32, assign bool) kmsg.CreatePartitionsResponseTopic {
		t.Helper()
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.Version, req.ValidateOnly, req.TimeoutMillis = v, validateOnly, 5000
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = topic, count
		if assign {
			a := kmsg.NewCreatePartitionsRequestTopicAssignment()
			a.Replicas = []int32{1}
			rt.Assignment = append(rt.Assignment, a)
		}
		req.Topics = append(req.Topics, rt)
		return c.do(req).(*kmsg.CreatePartitionsResponse).Topics[0]
	}
	partitions := func() int {
		tp, _ := ts.b.Topic("p")
		return len(tp.Partitions)
	}
	if r := create(0, true, "p", 3, false); r.ErrorCode != 0 || partitions() != 2 {
		t.Fatalf("validate only: %+v, %d partitions", r, partitions())
	}
	for v, n := range []int32{3, 4, 5, 6} {
		if r := create(int16(v), false, "p", n, false); r.ErrorCode != 0 || partitions() != int(n) {
			t.Fatalf("v%d to %d: %+v, %d partitions", v, n, r, partitions())
		}
	}
	ts.produce(t, "p", 5, "new")
	r := create(3, false, "p", 2, false)
	wantCode(t, "decrease", r.ErrorCode, kerr.InvalidPartitions)
	if r.ErrorMessage == nil {
		t.Fatal("decrease without a message")
	}
	wantCode(t, "assignment", create(3, false, "p", 8, true).ErrorCode, kerr.InvalidRequest)
	wantCode(t, "unknown topic", create(3, false, "nope", 8, false).ErrorCode, kerr.UnknownTopicOrPartition)
	// Found by FuzzHandlers: the limit is the listener's to enforce, not
	// left to the backend (which would try to make them all).
	wantCode(t, "over the limit", create(0, false, "p", 1694498819, false).ErrorCode, kerr.InvalidPartitions)
}

func TestDescribeCluster(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	c := ts.dial(t)
	for v := int16(0); v <= 2; v++ {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.Version, req.EndpointType, req.IncludeFencedBrokers = v, 1, v == 2
		resp := c.do(req).(*kmsg.DescribeClusterResponse)
		if resp.ErrorCode != 0 || resp.ClusterID != "chronik-test" || resp.ControllerID != 1 || len(resp.Brokers) != 1 ||
			resp.Brokers[0].NodeID != 1 || resp.Brokers[0].Port == 0 || resp.Brokers[0].IsFenced || resp.ClusterAuthorizedOperations != -2147483648 {
			t.Fatalf("v%d: %+v", v, resp)
		}
	}
	req := kmsg.NewPtrDescribeClusterRequest()
	req.Version, req.EndpointType = 1, 2
	wantCode(t, "controller endpoint", c.do(req).(*kmsg.DescribeClusterResponse).ErrorCode, kerr.MismatchedEndpointType)
}

func TestDescribeLogDirs(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "a", 2)
	ts.createTopic(t, "b", 1)
	c := ts.dial(t)
	for v := int16(0); v <= 5; v++ {
		req := kmsg.NewPtrDescribeLogDirsRequest()
		req.Version = v
		if v%2 == 1 {
			rt := kmsg.NewDescribeLogDirsRequestTopic()
			rt.Topic, rt.Partitions = "a", []int32{1, 7}
			req.Topics = append(req.Topics, rt, kmsg.DescribeLogDirsRequestTopic{Topic: "nope", Partitions: []int32{0}})
		}
		resp := c.do(req).(*kmsg.DescribeLogDirsResponse)
		if len(resp.Dirs) != 1 || resp.Dirs[0].Dir != "/var/lib/chronik" || resp.Dirs[0].ErrorCode != 0 {
			t.Fatalf("v%d dirs %+v", v, resp.Dirs)
		}
		if v >= 4 && resp.Dirs[0].TotalBytes != 1<<30 {
			t.Fatalf("v%d total bytes %d", v, resp.Dirs[0].TotalBytes)
		}
		n := 0
		for _, dt := range resp.Dirs[0].Topics {
			n += len(dt.Partitions)
		}
		want := 3
		if v%2 == 1 {
			want = 1 // a/1 only: a/7 and topic nope do not exist
		}
		if n != want {
			t.Fatalf("v%d: %d partitions listed, want %d: %+v", v, n, want, resp.Dirs[0].Topics)
		}
	}
}

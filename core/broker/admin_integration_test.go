//go:build integration

package broker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/broker/brokertest"
)

func ptr[T any](v T) *T { return &v }

// TestAdminAPIs covers CreateTopics (validate_only, configs), DescribeConfigs
// for topics and the broker, Metadata leader epochs, OffsetForLeaderEpoch and
// DeleteTopics removing the data.
func TestAdminAPIs(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	// validate_only creates nothing; a bad config value is INVALID_CONFIG.
	validate := func(configs map[string]*string) error {
		rs, err := adm.ValidateCreateTopics(ctx, 2, 1, configs, "dry")
		if err != nil {
			return err
		}
		r, err := rs.On("dry", nil)
		if err != nil {
			return err
		}
		return r.Err
	}
	if err := validate(map[string]*string{"retention.ms": ptr("1000")}); err != nil {
		t.Fatalf("validate-only create: %v", err)
	}
	if err := validate(map[string]*string{"retention.ms": ptr("soon")}); !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("bad config value: %v, want INVALID_CONFIG", err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"no.such.config": ptr("1")}, "dry"); !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("unknown config: %v, want INVALID_CONFIG", err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 3, nil, "dry"); !errors.Is(err, kerr.InvalidReplicationFactor) {
		t.Fatalf("RF 3 on one broker: %v, want INVALID_REPLICATION_FACTOR", err)
	}
	if topics, err := adm.ListTopics(ctx); err != nil || topics.Has("dry") {
		t.Fatalf("validate-only or failed creates left a topic behind: %v", err)
	}

	res, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{"retention.ms": ptr("3600000"), "cleanup.policy": ptr("delete")}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "admin"); !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("second create: %v, want TOPIC_ALREADY_EXISTS", err)
	}

	// DescribeConfigs: set values, defaults, and the broker resource.
	rcs, err := adm.DescribeTopicConfigs(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On("admin", nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe topic configs: %v %v", err, rc.Err)
	}
	got := map[string]kadm.Config{}
	for _, c := range rc.Configs {
		got[c.Key] = c
	}
	if c := got["retention.ms"]; c.MaybeValue() != "3600000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Errorf("retention.ms = %q source %v, want the set value", c.MaybeValue(), c.Source)
	}
	if c := got["segment.bytes"]; c.MaybeValue() != "1073741824" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("segment.bytes = %q source %v, want the default", c.MaybeValue(), c.Source)
	}
	brcs, err := adm.DescribeBrokerConfigs(ctx, 1)
	if err != nil || len(brcs) != 1 || len(brcs[0].Configs) == 0 {
		t.Fatalf("describe broker configs: %v %+v", err, brcs)
	}

	// Metadata reports the topic ID and a real (Raft term) leader epoch.
	md, err := adm.Metadata(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	td := md.Topics["admin"]
	if td.ID != res.ID || td.ID == (kadm.TopicID{}) {
		t.Fatalf("metadata topic ID %v, create returned %v", td.ID, res.ID)
	}
	for _, p := range td.Partitions {
		if p.Leader != 1 || p.LeaderEpoch < 1 {
			t.Fatalf("partition %d: leader %d epoch %d; want leader 1 and a Raft term ≥ 1", p.Partition, p.Leader, p.LeaderEpoch)
		}
	}

	// OffsetForLeaderEpoch: the current epoch ends at the high watermark.
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()), kgo.DefaultProduceTopic("admin"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for i := 0; i < 3; i++ {
		if err := prod.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	epoch := td.Partitions[0].LeaderEpoch
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = "admin"
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.LeaderEpoch, rp.CurrentLeaderEpoch = epoch, epoch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.LeaderEpoch != epoch || p.EndOffset != 3 {
		t.Fatalf("OffsetForLeaderEpoch = err %d epoch %d end %d; want epoch %d end 3", p.ErrorCode, p.LeaderEpoch, p.EndOffset, epoch)
	}

	// DeleteTopics removes the data: a topic re-created under the same name starts empty.
	if _, err := adm.DeleteTopic(ctx, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.DeleteTopic(ctx, "admin"); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("second delete: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
	again, err := adm.CreateTopic(ctx, 2, 1, nil, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID == res.ID {
		t.Fatal("re-created topic reused the old topic ID")
	}
	// CreateTopics answers before the new partitions have elected leaders:
	// until then ListOffsets answers a retriable error (offset -1).
	var end kadm.ListedOffset
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ends, err := adm.ListEndOffsets(ctx, "admin")
		if err != nil {
			t.Fatal(err)
		}
		end, _ = ends.Lookup("admin", 0)
		if end.Err == nil || time.Now().After(deadline) {
			break
		}
	}
	if end.Err != nil || end.Offset != 0 {
		t.Fatalf("re-created topic has end offset %d (%v), want 0 (old data not removed)", end.Offset, end.Err)
	}
}

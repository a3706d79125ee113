//go:build integration

package broker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/tier"
)

// TestRetentionWithoutRemoteStorage checks retention.ms and retention.bytes
// on topics without remote storage: the log start rises to the first batch
// that is not expired (ListOffsets earliest follows, a fetch below it is
// OFFSET_OUT_OF_RANGE, everything above reads back byte-identical), at
// least retention.bytes stay, a topic with the default 7 days keeps
// records from now, and one with cleanup.policy=compact keeps old records.
func TestRetentionWithoutRemoteStorage(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Tier.CheckInterval = 50 * time.Millisecond
	cfg.Kafka.LogRetentionCheckInterval = 100 * time.Millisecond
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seeds := []string{b.KafkaAddr()}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	create := func(name string, configs map[string]*string) {
		t.Helper()
		resp, err := adm.CreateTopic(ctx, 1, 1, configs, name)
		if err != nil || resp.Err != nil {
			t.Fatalf("create %s: %v %v", name, err, resp.Err)
		}
	}

	// retention.ms: 1,000 records from two hours ago, then 500 from now.
	create("aged", map[string]*string{"retention.ms": kadm.StringPtr(fmt.Sprint(time.Hour.Milliseconds()))})
	old := brokertest.Produce(ctx, t, seeds, "aged", 1, 1000, 100, time.Now().Add(-2*time.Hour))
	fresh := brokertest.Produce(ctx, t, seeds, "aged", 1, 500, 100, time.Now())
	if fresh[0].Offset != int64(len(old)) {
		t.Fatalf("fresh records start at %d, want %d", fresh[0].Offset, len(old))
	}
	// Untouched by default retention: records from now, 7 days.
	create("kept", nil)
	kept := brokertest.Produce(ctx, t, seeds, "kept", 1, 1000, 100, time.Now())
	// Untouched too: cleanup.policy=compact alone applies no retention.
	create("compacted", map[string]*string{"cleanup.policy": kadm.StringPtr("compact"), "retention.ms": kadm.StringPtr(fmt.Sprint(time.Hour.Milliseconds()))})
	compacted := brokertest.Produce(ctx, t, seeds, "compacted", 1, 1000, 100, time.Now().Add(-2*time.Hour))

	ps := waitTier(t, b.HTTPAddr(), "aged", 0, "retention.ms applied", func(ps tier.PartitionStatus) bool { return ps.LogStart > 0 })
	if ps.LogStart != int64(len(old)) || ps.LastError != "" {
		t.Fatalf("after retention.ms: log start %d, want %d (the first record from now); status %+v", ps.LogStart, len(old), ps)
	}
	if got := listOffset(ctx, t, cl, "aged", -2); got != int64(len(old)) {
		t.Fatalf("ListOffsets earliest = %d, want %d", got, len(old))
	}
	if code := fetchError(ctx, t, cl, "aged", 0); code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch at 0 below the log start: error %d, want OFFSET_OUT_OF_RANGE", code)
	}
	brokertest.CheckPartition(ctx, t, seeds, "aged", 0, fresh)
	if m := metricsText(t, b.HTTPAddr()); !strings.Contains(m, "\nchronik_retention_deleted_records_total{") {
		t.Fatal("chronik_retention_deleted_records_total missing from /metrics")
	}

	// retention.bytes: 3 MB in 1,000-byte records, keep 1 MiB.
	const keep = 1 << 20
	create("sized", map[string]*string{"retention.bytes": kadm.StringPtr(fmt.Sprint(keep)), "retention.ms": kadm.StringPtr("-1")})
	sized := brokertest.Produce(ctx, t, seeds, "sized", 1, 3000, 1000, time.Unix(1, 0)) // timestamps from 1970: retention.ms -1 keeps them
	// A check that ran while the records were still arriving raised the
	// log start only part of the way; wait for the one after them.
	ps = waitTier(t, b.HTTPAddr(), "sized", 0, "retention.bytes applied", func(ps tier.PartitionStatus) bool {
		return ps.LogStart > 0 && ps.LocalBytes <= 2*keep+16<<10
	})
	// At least keep bytes stay, and no more than the 1 MiB granularity of
	// the position index (plus a batch) above it.
	if ps.LocalBytes < keep || ps.LocalBytes > 2*keep+16<<10 || ps.LastError != "" {
		t.Fatalf("after retention.bytes %d: %d bytes kept from log start %d; status %+v", keep, ps.LocalBytes, ps.LogStart, ps)
	}
	brokertest.CheckPartition(ctx, t, seeds, "sized", 0, sized[ps.LogStart:])

	// The default (7 days) never touched the records from now, nor
	// retention.ms the compacted topic's old records (checked as often).
	if ps := tierStatus(t, b.HTTPAddr(), "kept", 0); ps.LogStart != 0 || ps.HighWatermark != int64(len(kept)) {
		t.Fatalf("topic with default retention: %+v", ps)
	}
	if ps := tierStatus(t, b.HTTPAddr(), "compacted", 0); ps.LogStart != 0 || ps.HighWatermark != int64(len(compacted)) {
		t.Fatalf("topic with cleanup.policy=compact: %+v", ps)
	}
}

// listOffset returns ListOffsets' answer for partition 0 of topic at ts.
func listOffset(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, ts int64) int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = ts
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	got := resp.Topics[0].Partitions[0]
	if got.ErrorCode != 0 {
		t.Fatalf("ListOffsets(%s, %d): error %d", topic, ts, got.ErrorCode)
	}
	return got.Offset
}

// fetchError fetches partition 0 of topic at offset and returns the
// partition's error code.
func fetchError(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, offset int64) int16 {
	t.Helper()
	md, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.Version = 13
	req.MaxWaitMillis = 10
	req.MaxBytes = 1 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.TopicID = md[topic].ID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.FetchOffset = offset
	fp.PartitionMaxBytes = 1 << 20
	fp.CurrentLeaderEpoch = -1
	fp.LogStartOffset = -1
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch %s at %d: %+v", topic, offset, resp)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

package brokertest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Produce sends n records of size incompressible bytes to topic, record i
// to partition i mod partitions, with key and header "i" = i and timestamp
// base + i ms, in rounds of 5,000 (three brokers on two cores keep their
// Raft ticks), and returns them with their offsets.
func Produce(ctx context.Context, t testing.TB, seeds []string, topic string, partitions int32, n, size int, base time.Time) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(16<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rng := rand.New(rand.NewPCG(uint64(n), uint64(len(topic))))
	recs := make([]*kgo.Record, n)
	for i := range recs {
		v := make([]byte, size)
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		recs[i] = &kgo.Record{
			Key: []byte(strconv.Itoa(i)), Value: v, Timestamp: base.Add(time.Duration(i) * time.Millisecond),
			Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(strconv.Itoa(i))}}, Partition: int32(i) % partitions,
		}
	}
	for i := 0; i < n; i += 5000 {
		if err := cl.ProduceSync(ctx, recs[i:min(i+5000, n)]...).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
	return recs
}

// ConsumeAndCommit reads n records of topic in group from the start,
// commits them, leaves the group and returns the committed offsets.
func ConsumeAndCommit(ctx context.Context, t testing.TB, seeds []string, group, topic string, n int) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for got := 0; got < n; {
		fs := cl.PollRecords(ctx, n-got)
		if err := ctx.Err(); err != nil {
			t.Fatalf("group %s consumed %d of %d: %v", group, got, n, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("group %s fetch: %v", group, err) })
		got += fs.NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for _, ps := range cl.CommittedOffsets() {
		for p, o := range ps {
			out[p] = o.Offset
		}
	}
	cl.LeaveGroup()
	if len(out) == 0 {
		t.Fatalf("group %s committed nothing", group)
	}
	return out
}

// CheckPartition reads partition p of topic from the offset of want's
// first record and checks that every record in want (consecutive offsets,
// in order) comes back byte-identical at its offset: key, value, timestamp
// and headers.
func CheckPartition(ctx context.Context, t testing.TB, seeds []string, topic string, p int32, want []*kgo.Record) {
	t.Helper()
	if len(want) == 0 {
		return
	}
	first := want[0].Offset
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(first)}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := 0; i < len(want); {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("%s/%d: read %d of %d from %d: %v", topic, p, i, len(want), first, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("%s/%d: fetch at %d: %v", topic, p, first+int64(i), err) })
		fs.EachRecord(func(r *kgo.Record) {
			if i >= len(want) {
				return
			}
			w, at := want[i], first+int64(i)
			if r.Offset != at || w.Offset != at || !bytes.Equal(r.Value, w.Value) || !bytes.Equal(r.Key, w.Key) ||
				!r.Timestamp.Equal(w.Timestamp) || !reflect.DeepEqual(r.Headers, w.Headers) {
				t.Fatalf("%s/%d: record at %d (offset %d) does not match what was produced", topic, p, at, r.Offset)
			}
			i++
		})
	}
}

// DescribeTopics returns each topic's UUID, partition count and explicitly
// set configs, for comparing a cluster before and after a restore.
func DescribeTopics(ctx context.Context, t testing.TB, adm *kadm.Client) map[string]string {
	t.Helper()
	td, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var names []string
	for name, d := range td {
		out[name] = fmt.Sprintf("id=%s partitions=%d", d.ID, len(d.Partitions))
		names = append(names, name)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcs {
		var set []string
		for _, c := range rc.Configs {
			if c.Source == 1 { // DYNAMIC_TOPIC_CONFIG: set on the topic
				set = append(set, c.Key+"="+c.MaybeValue())
			}
		}
		out[rc.Name] += " configs=" + strings.Join(set, ",")
	}
	return out
}

//go:build integration

package broker_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/broker/brokertest"
)

// adminClient returns a kgo client and its kadm wrapper, closed at cleanup.
func adminClient(t *testing.T, addr string, opts ...kgo.Opt) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

// produceTo produces values to one partition, each in its own batch.
func produceTo(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, p int32, values ...string) []*kgo.Record {
	t.Helper()
	var out []*kgo.Record
	for _, v := range values {
		r := &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce to %s/%d: %v", topic, p, err)
		}
		out = append(out, r)
	}
	return out
}

// rawBatch encodes one uncompressed v2 batch with one record per timestamp.
func rawBatch(timestamps ...int64) []byte {
	var records []byte
	maxTS := timestamps[0]
	for i, ts := range timestamps {
		r := kmsg.NewRecord()
		r.OffsetDelta = int32(i)
		r.TimestampDelta64 = ts - timestamps[0]
		r.Value = []byte("r" + strconv.Itoa(i))
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		records = r.AppendTo(records)
		maxTS = max(maxTS, ts)
	}
	b := kmsg.NewRecordBatch()
	b.Magic = 2
	b.LastOffsetDelta = int32(len(timestamps) - 1)
	b.FirstTimestamp, b.MaxTimestamp = timestamps[0], maxTS
	b.ProducerID, b.ProducerEpoch, b.FirstSequence = -1, -1, -1
	b.NumRecords = int32(len(timestamps))
	b.Records = records
	b.Length = int32(61 - 12 + len(records))
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

// rawProduce sends one batch with a plain Produce request and returns the
// partition's response.
func rawProduce(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, p int32, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	topics, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, topics[topic].ID // v13 names topics by ID
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = p, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0]
}

// topicConfig describes one topic and returns its configs by key.
func topicConfig(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) map[string]kadm.Config {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe %s: %v %v", topic, err, rc.Err)
	}
	out := map[string]kadm.Config{}
	for _, c := range rc.Configs {
		out[c.Key] = c
	}
	return out
}

// alterErr returns the first error of an alter-configs call.
func alterErr(rs kadm.AlterConfigsResponses, err error) error {
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// TestAdminPartitionsRecordsAndCluster covers CreatePartitions, DeleteRecords,
// ListOffsets max-timestamp, DescribeCluster and DescribeLogDirs through kadm
// against a real broker.
func TestAdminPartitionsRecordsAndCluster(t *testing.T) {
	cfg := brokertest.Config(t)
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, adm := adminClient(t, b.KafkaAddr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))

	t.Run("CreatePartitions", func(t *testing.T) {
		if _, err := adm.CreateTopic(ctx, 2, 1, nil, "grow"); err != nil {
			t.Fatal(err)
		}
		rs, err := adm.UpdatePartitions(ctx, 5, "grow")
		if err != nil {
			t.Fatal(err)
		}
		if r, err := rs.On("grow", nil); err != nil || r.Err != nil {
			t.Fatalf("grow to 5: %v %v", err, r.Err)
		}
		md, err := adm.Metadata(ctx, "grow")
		if err != nil || len(md.Topics["grow"].Partitions) != 5 {
			t.Fatalf("metadata after growing: %v, %d partitions", err, len(md.Topics["grow"].Partitions))
		}
		r := produceTo(ctx, t, cl, "grow", 4, "on the new partition")[0]
		if r.Partition != 4 || r.Offset != 0 {
			t.Fatalf("produced to %d@%d, want 4@0", r.Partition, r.Offset)
		}
		rs, err = adm.UpdatePartitions(ctx, 3, "grow")
		if err == nil {
			r, _ := rs.On("grow", nil)
			err = r.Err
		}
		if !errors.Is(err, kerr.InvalidPartitions) {
			t.Fatalf("decrease: %v, want INVALID_PARTITIONS", err)
		}
	})

	t.Run("DeleteRecords", func(t *testing.T) {
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, "del"); err != nil {
			t.Fatal(err)
		}
		produceTo(ctx, t, cl, "del", 0, "0", "1", "2", "3", "4")
		if p := rawProduce(ctx, t, cl, "del", 0, rawBatch(1, 2, 3, 4, 5)); p.ErrorCode != 0 || p.BaseOffset != 5 {
			t.Fatalf("batch of 5: %+v", p)
		}
		// 7 is inside the batch 5-9: that batch stays, offsets below 7 go.
		rs, err := adm.DeleteRecords(ctx, kadm.Offsets{"del": {0: {At: 7}}})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := rs.On("del", 0, nil); err != nil || r.Err != nil || r.LowWatermark != 7 {
			t.Fatalf("delete to 7: low watermark %d, %v %v", r.LowWatermark, err, r.Err)
		}
		starts, err := adm.ListStartOffsets(ctx, "del")
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := starts.Lookup("del", 0); o.Offset != 7 {
			t.Fatalf("start offset %d after DeleteRecords, want 7", o.Offset)
		}
		cons, _ := adminClient(t, b.KafkaAddr(), kgo.ConsumeTopics("del"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		var first *kgo.Record
		for first == nil {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatal("no record consumed")
			}
			fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
			if rs := fs.Records(); len(rs) > 0 {
				first = rs[0]
			}
		}
		if first.Offset != 7 || string(first.Value) != "r2" {
			t.Fatalf("consumer from the start began at %d (%q), want 7 (r2)", first.Offset, first.Value)
		}

		rs, err = adm.DeleteRecords(ctx, kadm.Offsets{"del": {0: {At: 100}}})
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := rs.On("del", 0, nil); !errors.Is(r.Err, kerr.OffsetOutOfRange) {
			t.Fatalf("delete beyond the high watermark: %v, want OFFSET_OUT_OF_RANGE", r.Err)
		}
	})

	t.Run("ListOffsetsMaxTimestamp", func(t *testing.T) {
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, "maxts"); err != nil {
			t.Fatal(err)
		}
		base := time.Now().Add(-time.Hour).UnixMilli()
		for _, b := range [][]byte{rawBatch(base + 5), rawBatch(base+10, base+60, base+30), rawBatch(base + 20)} {
			if p := rawProduce(ctx, t, cl, "maxts", 0, b); p.ErrorCode != 0 {
				t.Fatalf("produce: %v", kerr.ErrorForCode(p.ErrorCode))
			}
		}
		offs, err := adm.ListMaxTimestampOffsets(ctx, "maxts")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := offs.Lookup("maxts", 0)
		if o.Err != nil || o.Offset != 2 || o.Timestamp != base+60 {
			t.Fatalf("max timestamp = offset %d ts %d (%v); want offset 2 ts %d", o.Offset, o.Timestamp, o.Err, base+60)
		}
	})

	t.Run("DescribeCluster", func(t *testing.T) {
		resp, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ErrorCode != 0 || resp.ClusterID == "" || resp.ControllerID != cfg.NodeID || len(resp.Brokers) != 1 ||
			resp.Brokers[0].NodeID != cfg.NodeID || resp.Brokers[0].Port == 0 {
			t.Fatalf("DescribeCluster = %+v", resp)
		}
	})

	t.Run("DescribeLogDirs", func(t *testing.T) {
		dirs, err := adm.DescribeAllLogDirs(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		ds := dirs[cfg.NodeID]
		if len(ds) != 1 {
			t.Fatalf("%d log dirs, want 1: %+v", len(ds), dirs)
		}
		want, _ := filepath.Abs(cfg.DataDir)
		d, ok := ds[want]
		if !ok || d.Err != nil {
			t.Fatalf("log dir %q missing or failed: %+v", want, ds)
		}
		if d.Size() <= 0 || d.TotalBytes <= 0 || d.UsableBytes < 0 || d.UsableBytes > d.TotalBytes {
			t.Fatalf("log dir size %d, volume %d bytes, %d usable", d.Size(), d.TotalBytes, d.UsableBytes)
		}
		p, ok := d.Topics.Lookup("grow", 4)
		if !ok || p.Size <= 0 {
			t.Fatalf("grow/4 in log dir: %v, size %d", ok, p.Size)
		}
		if p, ok := d.Topics.Lookup("grow", 3); !ok || p.Size != 0 {
			t.Fatalf("empty grow/3: %v, size %d", ok, p.Size)
		}
	})
}

// TestAdminTopicConfigs covers AlterConfigs and IncrementalAlterConfigs,
// their validation, the enforcement of max.message.bytes and
// message.timestamp.type, and that altered configs survive a restart.
func TestAdminTopicConfigs(t *testing.T) {
	cfg := brokertest.Config(t)
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, adm := adminClient(t, b.KafkaAddr())
	for _, topic := range []string{"cfg", "lat"} {
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}

	// AlterConfigs replaces the topic's configs.
	err := alterErr(adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: ptr("3600000")}}, "cfg"))
	if err != nil {
		t.Fatal(err)
	}
	if c := topicConfig(ctx, t, adm, "cfg")["retention.ms"]; c.MaybeValue() != "3600000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("after AlterConfigs retention.ms = %q source %v", c.MaybeValue(), c.Source)
	}
	// IncrementalAlterConfigs changes some keys and keeps the others.
	err = alterErr(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: ptr("7200000")},
		{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: ptr("compact")},
		{Op: kadm.SetConfig, Name: "max.message.bytes", Value: ptr("1000")},
	}, "cfg"))
	if err != nil {
		t.Fatal(err)
	}
	checkConfigs := func(when string) {
		t.Helper()
		got := topicConfig(ctx, t, adm, "cfg")
		for k, v := range map[string]string{"retention.ms": "7200000", "cleanup.policy": "delete,compact", "max.message.bytes": "1000"} {
			if c := got[k]; c.MaybeValue() != v || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
				t.Errorf("%s: %s = %q source %v, want %q", when, k, c.MaybeValue(), c.Source, v)
			}
		}
	}
	checkConfigs("after IncrementalAlterConfigs")

	// Invalid values and unknown keys change nothing.
	for name, err := range map[string]error{
		"invalid value, incremental": alterErr(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: ptr("soon")}}, "cfg")),
		"invalid value":              alterErr(adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "message.timestamp.type", Value: ptr("Yesterday")}}, "cfg")),
		"unknown key, incremental":   alterErr(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "no.such.config", Value: ptr("1")}}, "cfg")),
		"unknown key":                alterErr(adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "no.such.config", Value: ptr("1")}}, "cfg")),
	} {
		if !errors.Is(err, kerr.InvalidConfig) {
			t.Errorf("%s: %v, want INVALID_CONFIG", name, err)
		}
	}
	checkConfigs("after refused alters")

	// max.message.bytes=1000: a 5 KiB record is refused, a small one is not.
	tooLarge := func() {
		t.Helper()
		value := make([]byte, 5<<10)
		_, _ = rand.Read(value) // incompressible: the batch stays over 1000 bytes
		// Keyed: cleanup.policy includes compact, which refuses records without one.
		err := cl.ProduceSync(ctx, &kgo.Record{Topic: "cfg", Key: []byte("k"), Value: value}).FirstErr()
		if !errors.Is(err, kerr.MessageTooLarge) {
			t.Fatalf("5 KiB record with max.message.bytes=1000: %v, want MESSAGE_TOO_LARGE", err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "cfg", Key: []byte("k"), Value: []byte("small")}).FirstErr(); err != nil {
			t.Fatalf("small record: %v", err)
		}
	}
	tooLarge()
	ends, err := adm.ListEndOffsets(ctx, "cfg")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("cfg", 0); o.Offset != 1 {
		t.Fatalf("end offset %d: the refused record was stored", o.Offset)
	}

	// LogAppendTime: the broker's clock replaces the producer's timestamps.
	err = alterErr(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "message.timestamp.type", Value: ptr("LogAppendTime")}}, "lat"))
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-24 * time.Hour)
	before := time.Now().Truncate(time.Millisecond)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "lat", Value: []byte("a"), Timestamp: old}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p := rawProduce(ctx, t, cl, "lat", 0, rawBatch(old.UnixMilli(), old.UnixMilli()+1))
	after := time.Now()
	if p.ErrorCode != 0 || p.LogAppendTime < before.UnixMilli() || p.LogAppendTime > after.UnixMilli() {
		t.Fatalf("produce response LogAppendTime %d (error %d), want between %d and %d", p.LogAppendTime, p.ErrorCode, before.UnixMilli(), after.UnixMilli())
	}
	consumeAll := func(addr string) []*kgo.Record {
		t.Helper()
		cons, _ := adminClient(t, addr, kgo.ConsumeTopics("lat"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		var recs []*kgo.Record
		for len(recs) < 3 {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("consumed %d of 3 records", len(recs))
			}
			fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
			recs = append(recs, fs.Records()...)
		}
		return recs
	}
	checkAppendTimes := func(recs []*kgo.Record) {
		t.Helper()
		for _, r := range recs {
			if r.Timestamp.Before(before) || r.Timestamp.After(after) || r.Attrs.TimestampType() != 1 {
				t.Fatalf("record %d timestamp %v (type %d), want the append time between %v and %v, not the producer's %v",
					r.Offset, r.Timestamp, r.Attrs.TimestampType(), before, after, old)
			}
		}
		if recs[1].Timestamp.UnixMilli() != p.LogAppendTime {
			t.Fatalf("stored append time %d, the produce response said %d", recs[1].Timestamp.UnixMilli(), p.LogAppendTime)
		}
	}
	checkAppendTimes(consumeAll(b.KafkaAddr()))

	// Everything survives a restart on the same data dir.
	cl.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	if err := b.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	b = brokertest.Start(t, cfg)
	cl, adm = adminClient(t, b.KafkaAddr())
	checkConfigs("after restart")
	tooLarge()
	checkAppendTimes(consumeAll(b.KafkaAddr()))
}

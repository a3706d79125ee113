package kafka

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/partition"
)

func withConfigs(spec cluster.TopicSpec, kv ...string) cluster.TopicSpec {
	spec.Configs = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		spec.Configs[kv[i]] = kv[i+1]
	}
	return spec
}

func tp(topic string, p int32) partition.TP { return partition.TP{Topic: topic, Partition: p} }

func produceRequest(version int16, topic string, p int32, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = version
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = p
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func fetchRequest(version int16, topic string, p int32, offset int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = version
	req.MinBytes = 1
	req.MaxBytes = 50 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = p
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	var w int16
	if want != nil {
		w = want.Code
	}
	if got != w {
		t.Fatalf("%s: error %v, want %v", what, kerr.ErrorForCode(got), kerr.ErrorForCode(w))
	}
}

func TestMetadata(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "a", 3)
	ts.createTopic(t, "b", 1)
	a, _ := ts.b.Topic("a")
	c := ts.dial(t)

	for v := int16(0); v <= 13; v++ {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = v
		if v == 0 {
			req.Topics = []kmsg.MetadataRequestTopic{} // v0: empty means all
		}
		resp := c.do(req).(*kmsg.MetadataResponse)
		if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 1 || resp.Brokers[0].Port == 0 {
			t.Fatalf("v%d brokers %+v", v, resp.Brokers)
		}
		if v >= 1 && resp.ControllerID != 1 {
			t.Fatalf("v%d controller %d", v, resp.ControllerID)
		}
		if v >= 2 && (resp.ClusterID == nil || *resp.ClusterID != "chronik-test") {
			t.Fatalf("v%d cluster ID %v", v, resp.ClusterID)
		}
		if len(resp.Topics) != 2 || *resp.Topics[0].Topic != "a" || len(resp.Topics[0].Partitions) != 3 {
			t.Fatalf("v%d topics %+v", v, resp.Topics)
		}
		if v >= 10 && resp.Topics[0].TopicID != a.ID {
			t.Fatalf("v%d topic ID %x, want %x", v, resp.Topics[0].TopicID, a.ID)
		}
		for _, p := range resp.Topics[0].Partitions {
			if p.ErrorCode != 0 || p.Leader != 1 || !slices.Equal(p.Replicas, []int32{1}) || !slices.Equal(p.ISR, []int32{1}) {
				t.Fatalf("v%d partition %+v", v, p)
			}
			if v >= 7 && p.LeaderEpoch != 3 {
				t.Fatalf("v%d leader epoch %d, want the backend's 3", v, p.LeaderEpoch)
			}
		}
	}

	one := func(v int16, name *string, id [16]byte, allow bool) kmsg.MetadataResponseTopic {
		t.Helper()
		req := kmsg.NewPtrMetadataRequest()
		req.Version = v
		req.AllowAutoTopicCreation = allow
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic, rt.TopicID = name, id
		req.Topics = append(req.Topics, rt)
		resp := c.do(req).(*kmsg.MetadataResponse)
		if len(resp.Topics) != 1 {
			t.Fatalf("%d topics", len(resp.Topics))
		}
		return resp.Topics[0]
	}
	wantCode(t, "unknown topic", one(4, kmsg.StringPtr("nope"), [16]byte{}, true).ErrorCode, kerr.UnknownTopicOrPartition)
	wantCode(t, "invalid topic", one(4, kmsg.StringPtr("no/pe"), [16]byte{}, true).ErrorCode, kerr.InvalidTopicException)
	if got := one(12, nil, a.ID, false); got.ErrorCode != 0 || *got.Topic != "a" {
		t.Fatalf("by ID: %+v", got)
	}
	wantCode(t, "unknown ID", one(12, nil, [16]byte{1}, false).ErrorCode, kerr.UnknownTopicID)
	if _, ok := ts.b.Topic("nope"); ok {
		t.Fatal("topic created with auto-creation off")
	}
}

func TestMetadataAutoCreate(t *testing.T) {
	ts := startServer(t, Config{AutoCreateTopics: true}, nil)
	c := ts.dial(t)
	for _, tc := range []struct {
		version int16
		allow   bool
		topic   string
		want    *kerr.Error
	}{
		{4, false, "not-allowed", kerr.UnknownTopicOrPartition},
		{4, true, "allowed", nil},
		{3, false, "old-version", nil}, // before v4 creation is always allowed
		{12, true, "bad name", kerr.InvalidTopicException},
	} {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = tc.version
		req.AllowAutoTopicCreation = tc.allow
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(tc.topic)
		req.Topics = append(req.Topics, rt)
		got := c.do(req).(*kmsg.MetadataResponse).Topics[0]
		wantCode(t, tc.topic, got.ErrorCode, tc.want)
		_, exists := ts.b.Topic(tc.topic)
		if exists != (tc.want == nil) {
			t.Fatalf("%s: exists=%v", tc.topic, exists)
		}
		if tc.want == nil && (len(got.Partitions) != 1 || got.Partitions[0].Leader != 1) {
			t.Fatalf("%s: partitions %+v", tc.topic, got.Partitions)
		}
	}
}

func TestProduce(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "p", 2)
	topic, _ := ts.b.Topic("p")
	c := ts.dial(t)

	next := int64(0)
	for v := int16(3); v <= 13; v++ {
		req := produceRequest(v, "p", 1, makeBatch(1, "x", "y", "z"))
		req.Topics[0].TopicID = topic.ID
		resp := c.do(req).(*kmsg.ProduceResponse)
		rp := resp.Topics[0].Partitions[0]
		wantCode(t, fmt.Sprintf("v%d", v), rp.ErrorCode, nil)
		if rp.BaseOffset != next || rp.Partition != 1 {
			t.Fatalf("v%d: %+v, want base offset %d", v, rp, next)
		}
		if v >= 13 && resp.Topics[0].TopicID != topic.ID {
			t.Fatalf("v13 response topic ID %x", resp.Topics[0].TopicID)
		}
		next += 3
	}

	for _, tc := range []struct {
		name string
		req  func() *kmsg.ProduceRequest
		want *kerr.Error
	}{
		{"v2", func() *kmsg.ProduceRequest { return produceRequest(2, "p", 0, makeBatch(1, "a")) }, kerr.UnsupportedForMessageFormat},
		{"v0", func() *kmsg.ProduceRequest { return produceRequest(0, "p", 0, makeBatch(1, "a")) }, kerr.UnsupportedForMessageFormat},
		{"acks 2", func() *kmsg.ProduceRequest {
			r := produceRequest(9, "p", 0, makeBatch(1, "a"))
			r.Acks = 2
			return r
		}, kerr.InvalidRequiredAcks},
		{"unknown topic", func() *kmsg.ProduceRequest { return produceRequest(9, "nope", 0, makeBatch(1, "a")) }, kerr.UnknownTopicOrPartition},
		{"unknown partition", func() *kmsg.ProduceRequest { return produceRequest(9, "p", 2, makeBatch(1, "a")) }, kerr.UnknownTopicOrPartition},
		{"negative partition", func() *kmsg.ProduceRequest { return produceRequest(9, "p", -1, makeBatch(1, "a")) }, kerr.UnknownTopicOrPartition},
		{"unknown topic ID", func() *kmsg.ProduceRequest { return produceRequest(13, "", 0, makeBatch(1, "a")) }, kerr.UnknownTopicID},
		{"no records", func() *kmsg.ProduceRequest { return produceRequest(9, "p", 0, nil) }, kerr.InvalidRecord},
		{"magic 1", func() *kmsg.ProduceRequest {
			b := makeBatch(1, "a")
			b[batchMagicOffset] = 1
			return produceRequest(9, "p", 0, b)
		}, kerr.UnsupportedForMessageFormat},
		{"short batch", func() *kmsg.ProduceRequest { return produceRequest(9, "p", 0, []byte{1, 2, 3}) }, kerr.InvalidRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := c.do(tc.req()).(*kmsg.ProduceResponse)
			rp := resp.Topics[0].Partitions[0]
			wantCode(t, tc.name, rp.ErrorCode, tc.want)
			if tc.req().Version >= 8 && tc.name == "magic 1" && rp.ErrorMessage == nil {
				t.Fatal("no error message for a backend error")
			}
		})
	}
	if st, _ := ts.b.PartitionState(tp("p", 0)); st.HighWatermark != 0 {
		t.Fatalf("rejected produces appended: high watermark %d", st.HighWatermark)
	}
}

func TestFetch(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "f", 3)
	topic, _ := ts.b.Topic("f")
	ts.produce(t, "f", 0, "a", "b")
	ts.produce(t, "f", 0, "c")
	c := ts.dial(t)

	for v := int16(4); v <= 18; v++ {
		req := fetchRequest(v, "f", 0, 1)
		req.Topics[0].TopicID = topic.ID
		resp := c.do(req).(*kmsg.FetchResponse)
		if resp.ErrorCode != 0 || resp.SessionID != 0 {
			t.Fatalf("v%d: top level error %d session %d", v, resp.ErrorCode, resp.SessionID)
		}
		if v >= 13 && resp.Topics[0].TopicID != topic.ID {
			t.Fatalf("v%d: topic ID %x", v, resp.Topics[0].TopicID)
		}
		p := resp.Topics[0].Partitions[0]
		wantCode(t, fmt.Sprintf("v%d", v), p.ErrorCode, nil)
		if p.HighWatermark != 3 || p.LastStableOffset != 3 || (v >= 5 && p.LogStartOffset != 0) {
			t.Fatalf("v%d: offsets %+v", v, p)
		}
		if got := recordValues(t, p.RecordBatches); !slices.Equal(got, []string{"a", "b", "c"}) {
			t.Fatalf("v%d: records %v", v, got)
		}
	}

	for _, tc := range []struct {
		name string
		mod  func(*kmsg.FetchRequest)
		want *kerr.Error
	}{
		{"out of range", func(r *kmsg.FetchRequest) { r.Topics[0].Partitions[0].FetchOffset = 10 }, kerr.OffsetOutOfRange},
		{"unknown topic", func(r *kmsg.FetchRequest) { r.Topics[0].Topic = "nope" }, kerr.UnknownTopicOrPartition},
		{"unknown partition", func(r *kmsg.FetchRequest) { r.Topics[0].Partitions[0].Partition = 7 }, kerr.UnknownTopicOrPartition},
		{"fenced epoch", func(r *kmsg.FetchRequest) { r.Topics[0].Partitions[0].CurrentLeaderEpoch = 2 }, kerr.FencedLeaderEpoch},
		{"unknown epoch", func(r *kmsg.FetchRequest) { r.Topics[0].Partitions[0].CurrentLeaderEpoch = 4 }, kerr.UnknownLeaderEpoch},
		{"matching epoch", func(r *kmsg.FetchRequest) { r.Topics[0].Partitions[0].CurrentLeaderEpoch = 3 }, nil},
	} {
		req := fetchRequest(12, "f", 0, 0)
		req.MaxWaitMillis = 10000 // errors answer at once
		tc.mod(req)
		p := c.do(req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
		wantCode(t, tc.name, p.ErrorCode, tc.want)
	}

	// Empty and failed partitions carry an empty record set, never null
	// (librdkafka cannot parse null).
	for _, offset := range []int64{3, 99} {
		buf := c.doRaw(fetchRequest(11, "f", 0, offset))
		if !bytes.HasSuffix(buf, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}) {
			t.Fatalf("offset %d: response does not end with preferred replica -1 and a zero-length record set: % x", offset, buf)
		}
	}

	req := fetchRequest(16, "", 0, 0)
	req.Topics[0].TopicID = [16]byte{9}
	wantCode(t, "unknown topic ID", c.do(req).(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode, kerr.UnknownTopicID)

	req = fetchRequest(12, "f", 0, 0)
	req.SessionID, req.SessionEpoch = 77, 3
	wantCode(t, "incremental session", c.do(req).(*kmsg.FetchResponse).ErrorCode, kerr.FetchSessionIDNotFound)
	req.SessionID, req.SessionEpoch = 0, 0
	if resp := c.do(req).(*kmsg.FetchResponse); resp.ErrorCode != 0 || resp.SessionID != 0 {
		t.Fatalf("new-session request: error %d, session %d", resp.ErrorCode, resp.SessionID)
	}
}

// recordValues decodes the values of every record in uncompressed batches.
func recordValues(t *testing.T, batches []byte) []string {
	t.Helper()
	var out []string
	for len(batches) > 0 {
		var b kmsg.RecordBatch
		if err := b.ReadFrom(batches); err != nil {
			t.Fatalf("batch: %v", err)
		}
		size := 12 + int(b.Length)
		batches = batches[size:]
		recs := b.Records
		for range b.NumRecords {
			var r kmsg.Record
			// Records are varint-length prefixed.
			l, n := varint(recs)
			if err := r.ReadFrom(recs[:n+int(l)]); err != nil {
				t.Fatalf("record: %v", err)
			}
			out = append(out, string(r.Value))
			recs = recs[n+int(l):]
		}
	}
	return out
}

func varint(b []byte) (int64, int) {
	var u uint64
	var shift uint
	for i, c := range b {
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), i + 1
		}
		shift += 7
	}
	return 0, 0
}

// KIP-74: the response and partition limits hold, except that the first
// partition with data returns at least one batch.
// TestFetchPreparesReads: each round of a Fetch's reads first starts the
// lease confirmations of all its partitions at once (Backend.PrepareReads),
// so that reads after a pause wait for one round trip, not one each.
func TestFetchPreparesReads(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "f", 3)
	ts.produce(t, "f", 2, "a")
	c := ts.dial(t)
	req := fetchRequest(12, "f", 0, 0)
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.PartitionMaxBytes = 2, 1<<20
	req.Topics[0].Partitions = append(req.Topics[0].Partitions, rp)
	resp := c.do(req).(*kmsg.FetchResponse)
	if got := recordValues(t, resp.Topics[0].Partitions[1].RecordBatches); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("records of f/2: %v", got)
	}
	ts.b.mu.Lock()
	defer ts.b.mu.Unlock()
	want := []partition.TP{{Topic: "f", Partition: 0}, {Topic: "f", Partition: 2}}
	if len(ts.b.mu.prepared) != 1 || !slices.Equal(ts.b.mu.prepared[0], want) {
		t.Fatalf("PrepareReads calls %v, want one with %v", ts.b.mu.prepared, want)
	}
}

func TestFetchLimits(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "l", 3)
	for p := range int32(3) {
		ts.produce(t, "l", p, "one")
		ts.produce(t, "l", p, "two")
	}
	batchSize := len(makeBatch(1, "one"))
	c := ts.dial(t)

	req := fetchRequest(11, "l", 0, 0)
	for p := int32(1); p < 3; p++ {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p
		rp.PartitionMaxBytes = 1 << 20
		req.Topics[0].Partitions = append(req.Topics[0].Partitions, rp)
	}
	req.MaxBytes = int32(batchSize + 10)
	ps := c.do(req).(*kmsg.FetchResponse).Topics[0].Partitions
	if len(ps[0].RecordBatches) != batchSize || len(ps[1].RecordBatches) != 0 || len(ps[2].RecordBatches) != 0 {
		t.Fatalf("MaxBytes %d: got %d/%d/%d bytes", req.MaxBytes, len(ps[0].RecordBatches), len(ps[1].RecordBatches), len(ps[2].RecordBatches))
	}
	if ps[2].HighWatermark != 2 {
		t.Fatalf("partition left out of a full response has high watermark %d", ps[2].HighWatermark)
	}

	req.MaxBytes = 1
	for i := range req.Topics[0].Partitions {
		req.Topics[0].Partitions[i].PartitionMaxBytes = 1
	}
	ps = c.do(req).(*kmsg.FetchResponse).Topics[0].Partitions
	if len(ps[0].RecordBatches) != batchSize || len(ps[1].RecordBatches) != 0 {
		t.Fatalf("tiny limits: got %d/%d bytes, want one batch first", len(ps[0].RecordBatches), len(ps[1].RecordBatches))
	}

	req.MaxBytes = 1 << 20
	for i := range req.Topics[0].Partitions {
		req.Topics[0].Partitions[i].PartitionMaxBytes = int32(batchSize)
	}
	ps = c.do(req).(*kmsg.FetchResponse).Topics[0].Partitions
	for i, p := range ps {
		if len(p.RecordBatches) != batchSize {
			t.Fatalf("partition %d: %d bytes, want one batch of %d", i, len(p.RecordBatches), batchSize)
		}
	}
}

func TestFetchLongPoll(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "w", 1)
	c := ts.dial(t)

	// Nothing arrives: answered empty after MaxWaitMillis.
	req := fetchRequest(12, "w", 0, 0)
	req.MaxWaitMillis = 50
	start := time.Now()
	p := c.do(req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	if d := time.Since(start); d < 50*time.Millisecond || len(p.RecordBatches) != 0 || p.ErrorCode != 0 {
		t.Fatalf("empty long poll: %v, %+v", d, p)
	}

	// Data arrives during the wait: answered at once with it.
	req.MaxWaitMillis = 20000
	id := c.send(req)
	waitFor(t, "the fetch to watch", func() bool { return ts.b.watcherCount() == 1 })
	start = time.Now()
	ts.produce(t, "w", 0, "wake")
	corr, resp := c.recv(req)
	if corr != id {
		t.Fatalf("correlation %d", corr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("woke after %v", d)
	}
	p = resp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
	if got := recordValues(t, p.RecordBatches); !slices.Equal(got, []string{"wake"}) {
		t.Fatalf("records %v", got)
	}
	waitFor(t, "the watch to stop", func() bool { return ts.b.watcherCount() == 0 })

	// MinBytes larger than what arrives: keeps waiting until the deadline.
	req.MinBytes = 1 << 20
	req.MaxWaitMillis = 200
	req.Topics[0].Partitions[0].FetchOffset = 1
	id = c.send(req)
	waitFor(t, "the fetch to watch", func() bool { return ts.b.watcherCount() == 1 })
	ts.produce(t, "w", 0, "small")
	corr, resp = c.recv(req)
	p = resp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
	if corr != id || !slices.Equal(recordValues(t, p.RecordBatches), []string{"small"}) {
		t.Fatalf("MinBytes wait: %d %v", corr, recordValues(t, p.RecordBatches))
	}
}

func TestListOffsets(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "o", 1)
	ts.produce(t, "o", 0, "a", "b") // timestamps 1700000000000, +1
	ts.produce(t, "o", 0, "c")
	c := ts.dial(t)

	list := func(v int16, topic string, ts int64, epoch int32) kmsg.ListOffsetsResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version = v
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = ts
		rp.CurrentLeaderEpoch = epoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return c.do(req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	}
	for v := int16(1); v <= 11; v++ {
		if p := list(v, "o", -2, -1); p.ErrorCode != 0 || p.Offset != 0 {
			t.Fatalf("v%d earliest: %+v", v, p)
		}
		p := list(v, "o", -1, -1)
		if p.ErrorCode != 0 || p.Offset != 3 || (v >= 4 && p.LeaderEpoch != 3) {
			t.Fatalf("v%d latest: %+v", v, p)
		}
		if p := list(v, "o", 1700000000001, -1); p.ErrorCode != 0 || p.Offset != 0 || p.Timestamp != 1700000000001 {
			t.Fatalf("v%d by time: %+v", v, p)
		}
		if p := list(v, "o", 1800000000000, -1); p.ErrorCode != 0 || p.Offset != -1 || p.Timestamp != -1 {
			t.Fatalf("v%d after the end: %+v", v, p)
		}
	}
	if p := list(7, "o", -3, -1); p.ErrorCode != 0 || p.Offset != 1 || p.Timestamp != 1700000000001 {
		t.Fatalf("max timestamp: %+v", p)
	}
	if p := list(8, "o", -4, -1); p.ErrorCode != 0 || p.Offset != 0 {
		t.Fatalf("earliest local: %+v", p)
	}
	if p := list(9, "o", -5, -1); p.ErrorCode != 0 || p.Offset != -1 {
		t.Fatalf("latest tiered: %+v", p)
	}
	if p := list(11, "o", -6, -1); p.ErrorCode != 0 || p.Offset != -1 || p.Timestamp != -1 {
		t.Fatalf("earliest pending upload of a topic that is not tiered: %+v", p)
	}
	// A special timestamp older than the version that brought it.
	for ts, since := range map[int64]int16{-3: 7, -4: 8, -5: 9, -6: 11} {
		wantCode(t, fmt.Sprintf("timestamp %d at v%d", ts, since-1), list(since-1, "o", ts, -1).ErrorCode, kerr.UnsupportedVersion)
	}
	wantCode(t, "fenced", list(4, "o", -1, 2).ErrorCode, kerr.FencedLeaderEpoch)
	wantCode(t, "unknown epoch", list(4, "o", -1, 9).ErrorCode, kerr.UnknownLeaderEpoch)
	wantCode(t, "unknown topic", list(4, "nope", -1, -1).ErrorCode, kerr.UnknownTopicOrPartition)
}

func TestCreateTopics(t *testing.T) {
	ts := startServer(t, Config{MaxPartitionsPerTopic: 100}, nil)
	ts.createTopic(t, "exists", 1)
	c := ts.dial(t)

	topic := func(name string, partitions int32, rf int16) kmsg.CreateTopicsRequestTopic {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
		return rt
	}
	withConfig := topic("configured", 2, -1)
	cfg := kmsg.NewCreateTopicsRequestTopicConfig()
	cfg.Name, cfg.Value = "retention.ms", kmsg.StringPtr("1000")
	withConfig.Configs = append(withConfig.Configs, cfg)
	assigned := topic("assigned", -1, -1)
	assigned.ReplicaAssignment = []kmsg.CreateTopicsRequestTopicReplicaAssignment{{Partition: 0, Replicas: []int32{1}}}
	badConfig := topic("badconfig", 1, 1)
	bc := kmsg.NewCreateTopicsRequestTopicConfig()
	bc.Name, bc.Value = "no.such.config", kmsg.StringPtr("1")
	badConfig.Configs = append(badConfig.Configs, bc)

	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.TimeoutMillis = 5000
	req.Topics = []kmsg.CreateTopicsRequestTopic{
		topic("new", 3, 1), withConfig, topic("defaults", -1, -1),
		topic("exists", 1, 1), topic("dup", 1, 1), topic("dup", 1, 1), assigned,
		topic("zero", 0, 1), topic("huge", 101, 1), topic("rf0", 1, 0), topic("rf3", 1, 3),
		topic("in/valid", 1, 1), badConfig,
	}
	resp := c.do(req).(*kmsg.CreateTopicsResponse)
	want := []*kerr.Error{
		nil, nil, nil,
		kerr.TopicAlreadyExists, kerr.InvalidRequest, kerr.InvalidRequest, kerr.InvalidRequest,
		kerr.InvalidPartitions, kerr.InvalidPartitions, kerr.InvalidReplicationFactor, kerr.InvalidReplicationFactor,
		kerr.InvalidTopicException, kerr.InvalidConfig,
	}
	for i, st := range resp.Topics {
		wantCode(t, st.Topic, st.ErrorCode, want[i])
		if want[i] != nil && st.ErrorMessage == nil {
			t.Errorf("%s: no error message", st.Topic)
		}
	}
	created, _ := ts.b.Topic("new")
	if st := resp.Topics[0]; st.TopicID != created.ID || st.NumPartitions != 3 || st.ReplicationFactor != 1 || len(st.Configs) != 2 {
		t.Fatalf("new: %+v", st)
	}
	for _, cf := range resp.Topics[1].Configs {
		if cf.Name == "retention.ms" && (*cf.Value != "1000" || cf.Source != int8(kmsg.ConfigSourceDynamicTopicConfig)) {
			t.Fatalf("configured retention.ms: %+v", cf)
		}
		if cf.Name == "cleanup.policy" && cf.Source != int8(kmsg.ConfigSourceDefaultConfig) {
			t.Fatalf("default cleanup.policy: %+v", cf)
		}
	}
	if st := resp.Topics[2]; st.NumPartitions != 1 || st.ReplicationFactor != 1 {
		t.Fatalf("defaults: %+v", st)
	}

	// Validate-only creates nothing; v2 has none of the v5 fields.
	req.Version, req.ValidateOnly = 2, true
	req.Topics = []kmsg.CreateTopicsRequestTopic{topic("dry", 2, 1)}
	if st := c.do(req).(*kmsg.CreateTopicsResponse).Topics[0]; st.ErrorCode != 0 {
		t.Fatalf("validate only: %+v", st)
	}
	if _, ok := ts.b.Topic("dry"); ok {
		t.Fatal("validate-only created the topic")
	}
}

func TestDeleteTopics(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	for _, n := range []string{"d1", "d2", "d3"} {
		ts.createTopic(t, n, 1)
	}
	d3, _ := ts.b.Topic("d3")
	c := ts.dial(t)

	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version = 1
	req.TopicNames = []string{"d1", "nope"}
	resp := c.do(req).(*kmsg.DeleteTopicsResponse)
	wantCode(t, "d1", resp.Topics[0].ErrorCode, nil)
	wantCode(t, "nope", resp.Topics[1].ErrorCode, kerr.UnknownTopicOrPartition)

	req = kmsg.NewPtrDeleteTopicsRequest()
	req.Version = 6
	byName := kmsg.NewDeleteTopicsRequestTopic()
	byName.Topic = kmsg.StringPtr("d2")
	byID := kmsg.NewDeleteTopicsRequestTopic()
	byID.TopicID = d3.ID
	unknownID := kmsg.NewDeleteTopicsRequestTopic()
	unknownID.TopicID = [16]byte{7}
	req.Topics = append(req.Topics, byName, byID, unknownID)
	resp = c.do(req).(*kmsg.DeleteTopicsResponse)
	wantCode(t, "d2", resp.Topics[0].ErrorCode, nil)
	wantCode(t, "d3 by ID", resp.Topics[1].ErrorCode, nil)
	if resp.Topics[1].Topic == nil || *resp.Topics[1].Topic != "d3" {
		t.Fatalf("by ID: name %v", resp.Topics[1].Topic)
	}
	wantCode(t, "unknown ID", resp.Topics[2].ErrorCode, kerr.UnknownTopicID)
	if len(ts.b.Topics()) != 0 {
		t.Fatalf("topics left: %v", ts.b.Topics())
	}
}

func TestInitProducerID(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	c := ts.dial(t)
	seen := map[int64]bool{}
	for v := int16(0); v <= 5; v++ {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = v
		req.ProducerID, req.ProducerEpoch = 1001, 0 // an epoch bump request at v3+
		resp := c.do(req).(*kmsg.InitProducerIDResponse)
		if resp.ErrorCode != 0 || resp.ProducerEpoch != 0 || seen[resp.ProducerID] {
			t.Fatalf("v%d: %+v", v, resp)
		}
		seen[resp.ProducerID] = true
	}
	// Without a transaction coordinator (txns_test.go tests one), a
	// transactional ID has nowhere to go.
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version = 4
	req.TransactionalID = kmsg.StringPtr("txn")
	req.TransactionTimeoutMillis = 60000
	if resp := c.do(req).(*kmsg.InitProducerIDResponse); resp.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("transactional init without a coordinator: %+v; want COORDINATOR_NOT_AVAILABLE", resp)
	}
}

func TestOffsetForLeaderEpoch(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "e", 1)
	ts.produce(t, "e", 0, "a", "b")
	c := ts.dial(t)
	ask := func(v int16, topic string, epoch, current int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.Version = v
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.LeaderEpoch, rp.CurrentLeaderEpoch = epoch, current
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return c.do(req).(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0]
	}
	for v := int16(0); v <= 4; v++ {
		p := ask(v, "e", 3, -1)
		if p.ErrorCode != 0 || p.EndOffset != 2 || (v >= 1 && p.LeaderEpoch != 3) {
			t.Fatalf("v%d current epoch: %+v", v, p)
		}
		if p := ask(v, "e", 1, -1); p.ErrorCode != 0 || p.EndOffset != -1 {
			t.Fatalf("v%d old epoch: %+v", v, p)
		}
	}
	wantCode(t, "fenced", ask(2, "e", 3, 1).ErrorCode, kerr.FencedLeaderEpoch)
	wantCode(t, "unknown topic", ask(2, "x", 3, -1).ErrorCode, kerr.UnknownTopicOrPartition)
}

func TestDescribeConfigs(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	if _, err := ts.b.CreateTopic(context.Background(), withConfigs(clusterSpec("c", 1), "retention.ms", "5"), false); err != nil {
		t.Fatal(err)
	}
	c := ts.dial(t)
	describe := func(v int16, typ kmsg.ConfigResourceType, name string, keys ...string) kmsg.DescribeConfigsResponseResource {
		t.Helper()
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.Version = v
		res := kmsg.NewDescribeConfigsRequestResource()
		res.ResourceType, res.ResourceName = typ, name
		if keys != nil {
			res.ConfigNames = keys
		}
		req.Resources = append(req.Resources, res)
		return c.do(req).(*kmsg.DescribeConfigsResponse).Resources[0]
	}
	for v := int16(0); v <= 4; v++ {
		r := describe(v, kmsg.ConfigResourceTypeTopic, "c")
		if r.ErrorCode != 0 || len(r.Configs) != 2 {
			t.Fatalf("v%d topic: %+v", v, r)
		}
		for _, cf := range r.Configs {
			switch cf.Name {
			case "retention.ms":
				if *cf.Value != "5" || cf.IsDefault || (v >= 1 && cf.Source != kmsg.ConfigSourceDynamicTopicConfig) {
					t.Fatalf("v%d retention.ms %+v", v, cf)
				}
			case "cleanup.policy":
				if (v == 0 && !cf.IsDefault) || (v >= 1 && cf.Source != kmsg.ConfigSourceDefaultConfig) {
					t.Fatalf("v%d cleanup.policy %+v", v, cf)
				}
			}
		}
	}
	if r := describe(1, kmsg.ConfigResourceTypeTopic, "c", "cleanup.policy"); len(r.Configs) != 1 || r.Configs[0].Name != "cleanup.policy" {
		t.Fatalf("filtered: %+v", r.Configs)
	}
	for _, name := range []string{"1", ""} {
		r := describe(3, kmsg.ConfigResourceTypeBroker, name)
		if r.ErrorCode != 0 || len(r.Configs) != 3 {
			t.Fatalf("broker %q: %+v", name, r)
		}
		for _, cf := range r.Configs {
			if cf.Name == "sasl.jaas.config" && (cf.Value != nil || !cf.IsSensitive) {
				t.Fatalf("sensitive value shown: %+v", cf)
			}
			if cf.Name == "auto.create.topics.enable" && cf.Source != kmsg.ConfigSourceStaticBrokerConfig {
				t.Fatalf("static broker config: %+v", cf)
			}
		}
	}
	wantCode(t, "other broker", describe(3, kmsg.ConfigResourceTypeBroker, "2").ErrorCode, kerr.InvalidRequest)
	wantCode(t, "broker logger", describe(3, kmsg.ConfigResourceTypeBrokerLogger, "1").ErrorCode, kerr.InvalidRequest)
	wantCode(t, "unknown topic", describe(3, kmsg.ConfigResourceTypeTopic, "nope").ErrorCode, kerr.UnknownTopicOrPartition)
}

// Produce proposals of one connection are submitted in request order even
// when responses are not read in between.
func TestProducePipelinedOrder(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "ord", 1)
	c := ts.dial(t)
	const n = 40
	var all []byte
	var reqs []kmsg.Request
	for i := range n {
		r := produceRequest(9, "ord", 0, makeBatch(1, fmt.Sprint(i)))
		reqs = append(reqs, r)
		all = append(all, c.fmt.AppendRequest(nil, r, int32(i))...) // AppendRequest frames from the start of dst
	}
	if _, err := c.nc.Write(all); err != nil {
		t.Fatal(err)
	}
	for i, r := range reqs {
		corr, resp := c.recv(r)
		p := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if corr != int32(i) || p.ErrorCode != 0 || p.BaseOffset != int64(i) {
			t.Fatalf("response %d: corr %d %+v", i, corr, p)
		}
	}
	res, err := ts.b.Read(context.Background(), tp("ord", 0), 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprint(i))
	}
	if got := recordValues(t, res.Records); !slices.Equal(got, want) {
		t.Fatalf("log order %v", got)
	}
}

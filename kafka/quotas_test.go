package kafka

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/quota"
)

// staticQuotas serves fixed quotas (the real store is the meta shard).
type staticQuotas struct{ set *quota.Set }

func (q staticQuotas) Quotas() *quota.Set { return q.set }

func (staticQuotas) AlterQuotas(context.Context, []quota.Alteration) error {
	panic("staticQuotas: AlterQuotas")
}

func clientQuota(clientID, key string, limit float64) staticQuotas {
	return staticQuotas{quota.NewSet(map[quota.Entity]map[string]float64{
		{ClientID: quota.Name(clientID)}: {key: limit},
	})}
}

// dialAs connects with the given client ID.
func dialAs(t *testing.T, ts *testServer, clientID string) *client {
	c := ts.dial(t)
	c.fmt = kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID))
	return c
}

// The sensor's arithmetic, on a clock of our own: a rate measured over the
// windows' span (at least quotaWindows-1 of them), throttled for the time
// that brings it back to the limit, windows forgotten once past.
func TestRateSensor(t *testing.T) {
	var s rateSensor
	sec := int64(time.Second)
	now := 1_000_000 * sec
	if d := s.record(now, 5000, 1000, time.Second); d != 0 {
		t.Fatalf("5000 B at 1000 B/s over a 10 s span throttled %v", d)
	}
	if d := s.record(now+sec/2, 5000, 1000, time.Second); d != 0 {
		t.Fatalf("10000 B at 1000 B/s over a 10 s span throttled %v", d)
	}
	// 11000 B: back to 1000 B/s after 11 s of span, 1 s from now.
	if d := s.record(now+sec/2, 1000, 1000, time.Second); d != time.Second {
		t.Fatalf("11000 B over 10 s at 1000 B/s: throttled %v, want 1s", d)
	}
	// A huge overshoot is capped.
	if d := s.record(now+sec/2, 1e9, 1000, time.Second); d != quotaWindows*time.Second {
		t.Fatalf("1 GB at 1000 B/s: throttled %v, want the cap of %d s", d, quotaWindows)
	}
	// quotaWindows later the old windows no longer count.
	if d := s.record(now+quotaWindows*sec, 100, 1000, time.Second); d != 0 {
		t.Fatalf("after the windows passed: throttled %v", d)
	}
}

// A client over its producer_byte_rate gets ThrottleMillis and its
// connection is not read for that long; another client on its own
// connection is not held back. consumer_byte_rate throttles fetches alike.
func TestQuotaThrottlesProduceAndFetch(t *testing.T) {
	// 100 KB/s: a span of 10 s lets 1 MB through, the second 600 KB
	// request goes 200 KB over, 2 s of throttle.
	quotas := staticQuotas{quota.NewSet(map[quota.Entity]map[string]float64{
		{ClientID: quota.Name("slow")}:   {quota.ProducerByteRate: 100_000},
		{ClientID: quota.Name("reader")}: {quota.ConsumerByteRate: 100_000},
	})}
	ts := startServer(t, Config{Quotas: quotas}, nil)
	ts.createTopic(t, "q", 1)
	value := strings.Repeat("x", 600_000)
	slow, fast := dialAs(t, ts, "slow"), dialAs(t, ts, "fast")
	produce := func(c *client) *kmsg.ProduceResponse {
		t.Helper()
		resp := c.do(produceRequest(9, "q", 0, makeBatch(1700000000000, value))).(*kmsg.ProduceResponse)
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("produce: %s", codeName(code))
		}
		return resp
	}
	if r := produce(slow); r.ThrottleMillis != 0 {
		t.Fatalf("first 600 KB throttled %d ms", r.ThrottleMillis)
	}
	r := produce(slow)
	if r.ThrottleMillis < 1900 || r.ThrottleMillis > 2100 {
		t.Fatalf("second 600 KB throttled %d ms, want about 2000", r.ThrottleMillis)
	}
	throttled := time.Now()
	for range 3 {
		if r := produce(fast); r.ThrottleMillis != 0 {
			t.Fatalf("a client without a quota throttled %d ms", r.ThrottleMillis)
		}
	}
	if held := time.Since(throttled); held > time.Second {
		t.Errorf("the unthrottled client waited %v", held)
	}
	produce(slow)
	if held := time.Since(throttled); held < 1900*time.Millisecond {
		t.Errorf("the throttled connection was read again after %v, want about 2 s", held)
	}

	reader := dialAs(t, ts, "reader")
	fetch := func(offset int64) *kmsg.FetchResponse {
		t.Helper()
		resp := reader.do(fetchRequest(12, "q", 0, offset)).(*kmsg.FetchResponse)
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("fetch: %s", codeName(code))
		}
		return resp
	}
	var throttle int32
	for offset := int64(0); offset < 6 && throttle == 0; offset++ {
		throttle = fetch(offset).ThrottleMillis
	}
	if throttle <= 0 {
		t.Fatal("fetching 3.6 MB at 100 KB/s was never throttled")
	}
}

// A real client under a quota: franz-go's producer is held to about the
// quota (it honours ThrottleMillis, and the broker does not read its
// connection meanwhile) and every record still arrives. Windows of 50 ms
// let it send only 0.5 s worth at once.
func TestQuotaKgoProducer(t *testing.T) {
	const limit = 1 << 20 // 1 MiB/s
	ts := startServer(t, Config{Quotas: clientQuota("bulk", quota.ProducerByteRate, limit), QuotaWindow: 50 * time.Millisecond}, nil)
	ts.createTopic(t, "bulk", 1)
	cl := newKgoClient(t, ts, kgo.ClientID("bulk"), kgo.DefaultProduceTopic("bulk"), kgo.ProducerBatchMaxBytes(128<<10),
		kgo.ProducerBatchCompression(kgo.NoCompression())) // the quota counts the bytes on the wire
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const records, size = 25, 100 << 10 // 2.5 MiB: 2 MiB over the allowance
	start := time.Now()
	value := []byte(strings.Repeat("v", size))
	for range records {
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 1200*time.Millisecond {
		t.Errorf("2.5 MiB at 1 MiB/s took %v, want about 2 s", took)
	}
	if st, err := ts.b.PartitionState(tp("bulk", 0)); err != nil || st.HighWatermark != records {
		t.Errorf("high watermark %d (%v), want %d", st.HighWatermark, err, records)
	}
}

// The token bucket's arithmetic, on a clock of our own: a new bucket holds
// the burst (limit × quotaWindows windows), the topic that finds tokens
// left goes through whole, a strict take is refused while it is below zero,
// and it refills at the limit, never above the burst.
func TestTokenBucket(t *testing.T) {
	var b tokenBucket
	sec := int64(time.Second)
	now := 1_000_000 * sec
	take := func(at int64, n float64, strict bool, wantOK bool, wantWait time.Duration) {
		t.Helper()
		ok, wait := b.take(at, n, 2, time.Second, strict)
		if ok != wantOK || wait != wantWait {
			t.Fatalf("take %v (strict %v) with %v tokens left: %v %v, want %v %v", n, strict, b.tokens, ok, wait, wantOK, wantWait)
		}
	}
	take(now, 20, true, true, 0) // 2/s × 11 × 1 s = 22 tokens: 2 left
	take(now, 6, true, true, 2*time.Second)
	if b.tokens != -4 {
		t.Fatalf("after 26 of 22 tokens: %v left, want -4", b.tokens)
	}
	take(now+sec, 0, true, false, time.Second)           // refilled to -2: refused, 1 s to go
	take(now+sec, 3, false, true, 2500*time.Millisecond) // not strict: taken anyway, -5
	take(now+int64(3500*time.Millisecond), 1, true, true, 500*time.Millisecond)
	take(now+100*sec, 0, true, true, 0)
	if b.tokens != 22 {
		t.Fatalf("a long idle bucket holds %v tokens, want the burst of 22", b.tokens)
	}
	if b.idleSince() != now+100*sec {
		t.Fatalf("a full bucket is idle since %v, want its last use %v", b.idleSince(), now+100*sec)
	}
}

// mutationServer limits each client ID to 1 partition created or deleted
// per second, with windows of 100 ms: a burst of 1.1 partitions, so the
// second partition of a request goes through and takes the bucket to -0.9
// (900 ms to wait), and the third is refused.
func mutationServer(t *testing.T) *testServer {
	quotas := staticQuotas{quota.NewSet(map[quota.Entity]map[string]float64{
		{ClientID: quota.DefaultPart}: {quota.ControllerMutationRate: 1},
	})}
	return startServer(t, Config{Quotas: quotas, QuotaWindow: 100 * time.Millisecond}, nil)
}

// topicCodes renders the topics' error codes for comparison.
func topicCodes(codes ...int16) string {
	names := make([]string, len(codes))
	for i, c := range codes {
		names[i] = codeName(c)
	}
	return strings.Join(names, " ")
}

// wantMutationThrottle checks a response's ThrottleMillis against the
// 900 ms the bucket of mutationServer needs after two partitions.
func wantMutationThrottle(t *testing.T, what string, ms int32) {
	t.Helper()
	if ms < 700 || ms > 900 {
		t.Errorf("%s: ThrottleMillis %d, want about 900", what, ms)
	}
}

var throttled = codeName(kerr.ThrottlingQuotaExceeded.Code)

// CreateTopics under controller_mutation_rate: from v6 the topics after
// the bucket is exhausted are refused with THROTTLING_QUOTA_EXCEEDED and
// not created; v5 creates them all and is only throttled; ValidateOnly
// takes nothing from the bucket.
func TestMutationQuotaCreateTopics(t *testing.T) {
	ts := mutationServer(t)
	create := func(clientID string, version int16, validateOnly bool, names ...string) *kmsg.CreateTopicsResponse {
		t.Helper()
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Version, req.ValidateOnly, req.TimeoutMillis = version, validateOnly, 5000
		for _, n := range names {
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = n, 1, 1
			req.Topics = append(req.Topics, rt)
		}
		return dialAs(t, ts, clientID).do(req).(*kmsg.CreateTopicsResponse)
	}
	codes := func(resp *kmsg.CreateTopicsResponse) string {
		var c []int16
		for _, tp := range resp.Topics {
			c = append(c, tp.ErrorCode)
		}
		return topicCodes(c...)
	}

	resp := create("strict", 7, false, "s1", "s2", "s3", "s4")
	if got, want := codes(resp), "none none "+throttled+" "+throttled; got != want {
		t.Fatalf("v7, 4 topics at 1.1 partitions of burst: %s, want %s", got, want)
	}
	if msg := resp.Topics[2].ErrorMessage; msg == nil || !strings.Contains(*msg, "controller_mutation_rate quota of client-id=strict") || !strings.Contains(*msg, "exhausted") {
		t.Errorf("refusal message %v", msg)
	}
	if _, ok := ts.b.Topic("s3"); ok {
		t.Error("a refused topic was created")
	}
	wantMutationThrottle(t, "v7", resp.ThrottleMillis)
	// With the bucket exhausted, a topic whose own fields are invalid is
	// told so, not throttled (Kafka validates first).
	bad := kmsg.NewPtrCreateTopicsRequest()
	bad.Version, bad.TimeoutMillis = 7, 5000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "bad", 0, 1
	bad.Topics = append(bad.Topics, rt)
	if got := codes(dialAs(t, ts, "strict").do(bad).(*kmsg.CreateTopicsResponse)); got != topicCodes(kerr.InvalidPartitions.Code) {
		t.Fatalf("invalid topic with the bucket exhausted: %s, want INVALID_PARTITIONS", got)
	}

	resp = create("old", 5, false, "o1", "o2", "o3")
	if got := codes(resp); got != "none none none" {
		t.Fatalf("v5 is never refused: %s", got)
	}
	if resp.ThrottleMillis < 1700 || resp.ThrottleMillis > 1900 {
		t.Errorf("v5, 3 partitions at 1.1 of burst: ThrottleMillis %d, want about 1900", resp.ThrottleMillis)
	}

	resp = create("check", 7, true, "v1", "v2", "v3")
	if got := codes(resp); got != "none none none" || resp.ThrottleMillis != 0 {
		t.Fatalf("ValidateOnly: %s, ThrottleMillis %d", got, resp.ThrottleMillis)
	}
	resp = create("check", 7, false, "c1", "c2")
	if got := codes(resp); got != "none none" {
		t.Fatalf("after ValidateOnly, the bucket is still full: %s", got)
	}
	wantMutationThrottle(t, "after ValidateOnly", resp.ThrottleMillis)
}

// DeleteTopics under controller_mutation_rate: v5 refuses the topics after
// the bucket is exhausted, v4 deletes them all and is throttled.
func TestMutationQuotaDeleteTopics(t *testing.T) {
	ts := mutationServer(t)
	names := []string{"d1", "d2", "d3", "o1", "o2", "o3"}
	for _, n := range names {
		ts.createTopic(t, n, 1)
	}
	del := func(clientID string, version int16, names ...string) *kmsg.DeleteTopicsResponse {
		t.Helper()
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.Version, req.TopicNames, req.TimeoutMillis = version, names, 5000
		return dialAs(t, ts, clientID).do(req).(*kmsg.DeleteTopicsResponse)
	}
	codes := func(resp *kmsg.DeleteTopicsResponse) string {
		var c []int16
		for _, tp := range resp.Topics {
			c = append(c, tp.ErrorCode)
		}
		return topicCodes(c...)
	}

	resp := del("strict", 5, names[:3]...)
	if got, want := codes(resp), "none none "+throttled; got != want {
		t.Fatalf("v5: %s, want %s", got, want)
	}
	if msg := resp.Topics[2].ErrorMessage; msg == nil || !strings.Contains(*msg, "exhausted") {
		t.Errorf("refusal message %v", msg)
	}
	if _, ok := ts.b.Topic("d3"); !ok {
		t.Error("a refused topic was deleted")
	}
	wantMutationThrottle(t, "v5", resp.ThrottleMillis)

	resp = del("old", 4, names[3:]...)
	if got := codes(resp); got != "none none none" {
		t.Fatalf("v4 is never refused: %s", got)
	}
	if resp.ThrottleMillis < 1700 || resp.ThrottleMillis > 1900 {
		t.Errorf("v4, 3 partitions at 1.1 of burst: ThrottleMillis %d, want about 1900", resp.ThrottleMillis)
	}
}

// CreatePartitions under controller_mutation_rate: the partitions added
// count; v3 refuses the topics after the bucket is exhausted, v2 adds them
// all and is throttled; ValidateOnly takes nothing.
func TestMutationQuotaCreatePartitions(t *testing.T) {
	ts := mutationServer(t)
	for _, n := range []string{"p1", "p2", "p3"} {
		ts.createTopic(t, n, 1)
	}
	add := func(clientID string, version int16, validateOnly bool, count int32) *kmsg.CreatePartitionsResponse {
		t.Helper()
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.Version, req.ValidateOnly, req.TimeoutMillis = version, validateOnly, 5000
		for _, n := range []string{"p1", "p2", "p3"} {
			rt := kmsg.NewCreatePartitionsRequestTopic()
			rt.Topic, rt.Count = n, count
			req.Topics = append(req.Topics, rt)
		}
		return dialAs(t, ts, clientID).do(req).(*kmsg.CreatePartitionsResponse)
	}
	codes := func(resp *kmsg.CreatePartitionsResponse) string {
		var c []int16
		for _, tp := range resp.Topics {
			c = append(c, tp.ErrorCode)
		}
		return topicCodes(c...)
	}

	resp := add("check", 3, true, 9)
	if got := codes(resp); got != "none none none" || resp.ThrottleMillis != 0 {
		t.Fatalf("ValidateOnly, 24 partitions: %s, ThrottleMillis %d", got, resp.ThrottleMillis)
	}
	resp = add("strict", 3, false, 2)
	if got, want := codes(resp), "none none "+throttled; got != want {
		t.Fatalf("v3: %s, want %s", got, want)
	}
	if tp, _ := ts.b.Topic("p3"); len(tp.Partitions) != 1 {
		t.Errorf("a refused topic has %d partitions, want 1", len(tp.Partitions))
	}
	wantMutationThrottle(t, "v3", resp.ThrottleMillis)

	resp = add("old", 2, false, 3) // 1 partition more for p1 and p2, 2 for p3
	if got := codes(resp); got != "none none none" {
		t.Fatalf("v2 is never refused: %s", got)
	}
	if resp.ThrottleMillis < 2700 || resp.ThrottleMillis > 2900 {
		t.Errorf("v2, 4 partitions at 1.1 of burst: ThrottleMillis %d, want about 2900", resp.ThrottleMillis)
	}
}

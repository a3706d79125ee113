package kafka

import (
	"context"
	"strings"
	"testing"
	"time"

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

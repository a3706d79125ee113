package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// These tests check the workload library against kfake with a few hundred
// records: fast, and they assert counts, never timings.

func testWorkload(t *testing.T, topic string) (context.Context, Workload) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	w := DefaultWorkload()
	w.Topic = topic
	w.Partitions = 3
	w.Brokers = []string{startKfake(t)}
	if _, err := EnsureTopic(ctx, w); err != nil {
		t.Fatal(err)
	}
	return ctx, w
}

func TestProduceThenConsume(t *testing.T) {
	ctx, w := testWorkload(t, "pc")
	w.Records, w.Producers, w.Keyed = 500, 3, true
	var progress bytes.Buffer
	w.Progress = &progress
	res, err := Produce(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 500 || res.Bytes != 500*256 || res.Latency == nil || res.Latency.Count != 500 {
		t.Fatalf("produce result %+v", res)
	}
	if res.Batches == 0 || res.Requests == 0 {
		t.Fatalf("hooks counted no batches or requests: %+v", res)
	}

	w.Records = 0 // read to the end offsets at start
	w.Consumers = 2
	cres, err := Consume(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if cres.Records != 500 || cres.Bytes != 500*256 {
		t.Fatalf("consume result %+v", cres)
	}
}

func TestEndToEndFixedRate(t *testing.T) {
	ctx, w := testWorkload(t, "e2e")
	w.Records, w.Rate, w.Linger = 200, 2000, 0
	res, err := EndToEnd(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 200 || res.Latency == nil || res.Latency.Count != 200 || res.AckLatency == nil {
		t.Fatalf("e2e result %+v", res)
	}
}

func TestSmallBatchShapeSendsSingleRecordBatches(t *testing.T) {
	ctx, w := testWorkload(t, "small")
	sb := SmallBatchWorkload()
	sb.Brokers, sb.Topic, sb.Records = w.Brokers, w.Topic, 256
	res, err := Produce(ctx, sb)
	if err != nil {
		t.Fatal(err)
	}
	// The batch count comes from asynchronous client hooks: allow a
	// straggler on a loaded machine.
	if res.Batches > res.Records || res.Batches < res.Records-2 {
		t.Fatalf("small-batch shape wrote %d batches for %d records, want one record per batch", res.Batches, res.Records)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Workload)
		want string
	}{
		{"ok", func(*Workload) {}, ""},
		{"no limit", func(w *Workload) { w.Records = 0 }, "record count or a duration"},
		{"acks1 idempotent", func(w *Workload) { w.Acks = 1 }, "needs acks=all"},
		{"inflight idempotent", func(w *Workload) { w.MaxInFlight = 3 }, "idempotence disabled"},
		{"codec", func(w *Workload) { w.Compression = "brotli" }, "compression"},
		{"no brokers", func(w *Workload) { w.Brokers = nil }, "no brokers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := DefaultWorkload()
			w.Records = 1
			tc.edit(&w)
			err := w.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestResultJSON(t *testing.T) {
	m := newMeter("produce")
	for i := 1; i <= 1000; i++ {
		m.record(100, time.Duration(i)*time.Microsecond)
	}
	r := m.result(time.Second)
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Records != 1000 || back.RecordsPerSec != 1000 || back.Latency.P50 < 0.49 || back.Latency.P50 > 0.51 || back.Latency.Max < 0.99 {
		t.Fatalf("round trip: %+v latency %+v", back, back.Latency)
	}
}

func TestStampedLatency(t *testing.T) {
	base := time.Now().Add(-time.Second)
	v := make([]byte, 16)
	sent := base.Add(500 * time.Millisecond)
	stampSince(base)(v, sent)
	d, ok := stampedLatency(base, v)
	if !ok || d < 500*time.Millisecond {
		t.Fatalf("latency %v %v, want ≥ 500ms since the intended send time", d, ok)
	}
}

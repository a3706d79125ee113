package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
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

func TestEndToEndTransactional(t *testing.T) {
	ctx, w := testWorkload(t, "e2etxn")
	w.Records, w.Rate, w.Linger = 200, 2000, 0
	w.TransactionRecords, w.Isolation = 20, ReadCommitted
	res, err := EndToEnd(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 200 || res.Transactions != 10 || res.CommitLatency == nil || res.Latency == nil || res.Latency.Count != 200 {
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
		{"txn ok", func(w *Workload) { w.TransactionRecords, w.AbortEvery = 100, 3 }, ""},
		{"txn negative", func(w *Workload) { w.TransactionRecords = -1 }, "may not be negative"},
		{"txn acks1", func(w *Workload) { w.TransactionRecords, w.Acks, w.Idempotent = 10, 1, false }, "transactions need acks=all"},
		{"txn not idempotent", func(w *Workload) { w.TransactionRecords, w.Idempotent = 10, false }, "transactions need the idempotent producer"},
		{"txn in-flight", func(w *Workload) { w.TransactionRecords, w.MaxInFlight = 10, 6 }, "idempotence disabled"},
		{"txn no id", func(w *Workload) { w.TransactionRecords, w.TransactionalID = 10, "" }, "transactional ID prefix"},
		{"abort without txn", func(w *Workload) { w.AbortEvery = 2 }, "needs transactions"},
		{"abort every txn", func(w *Workload) { w.TransactionRecords, w.AbortEvery = 10, 1 }, "abort every transaction"},
		{"isolation", func(w *Workload) { w.Isolation = "committed" }, `isolation "committed"`},
		{"read committed", func(w *Workload) { w.Isolation = ReadCommitted }, ""},
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

// TestTransactionalProduce runs transactional producers (some aborting)
// against kfake and reads the topic back: read_committed sees exactly the
// committed records, read_uncommitted the aborted ones too.
func TestTransactionalProduce(t *testing.T) {
	ctx, w := testWorkload(t, "txn")
	// 2 producers × 300 committed records in transactions of 50, every
	// 3rd transaction aborted.
	w.Records, w.Producers, w.Keyed = 600, 2, true
	w.TransactionRecords, w.AbortEvery = 50, 3
	var progress bytes.Buffer
	w.Progress = &progress
	res, err := Produce(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	// Per producer: transactions 1, 2, 4, 5, 7, 8 commit (300 records), 3
	// and 6 abort; the run stops once 300 records are committed.
	if res.Records != 600 || res.Bytes != 600*256 || res.RecordsPerSec <= 0 {
		t.Fatalf("produce result %+v", res)
	}
	if res.Transactions != 12 || res.TransactionsPerSec <= 0 || res.AbortedTransactions != 4 || res.AbortedRecords != 200 {
		t.Fatalf("transactions: %d committed (%.1f/s), %d aborted with %d records; want 12, 4, 200",
			res.Transactions, res.TransactionsPerSec, res.AbortedTransactions, res.AbortedRecords)
	}
	if res.Latency == nil || res.Latency.Count != 600 || res.CommitLatency == nil || res.CommitLatency.Count != 12 {
		t.Fatalf("latencies %+v, commit %+v", res.Latency, res.CommitLatency)
	}
	var text bytes.Buffer
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"transactions/s (12 committed, 4 aborted with 200 records)", "  commit latency ms: p50 "} {
		if !strings.Contains(text.String(), want) {
			t.Fatalf("summary lacks %q:\n%s", want, &text)
		}
	}

	for _, tc := range []struct {
		isolation string
		want      int64
	}{{ReadCommitted, 600}, {ReadUncommitted, 800}} {
		cw := w
		cw.Records, cw.Isolation = 0, tc.isolation
		cres, err := Consume(ctx, cw)
		if err != nil {
			t.Fatalf("%s: %v", tc.isolation, err)
		}
		if cres.Records != tc.want {
			t.Fatalf("%s consumer read %d records, want %d", tc.isolation, cres.Records, tc.want)
		}
	}
}

// TestTransactionalDuration checks that a run bounded by time commits its
// open transaction at the end: every record counted is readable committed.
func TestTransactionalDuration(t *testing.T) {
	ctx, w := testWorkload(t, "txndur")
	w.Duration, w.Rate, w.Linger = 300*time.Millisecond, 2000, 0
	w.TransactionRecords = 64 // ~600 records: the last transaction is partial
	res, err := Produce(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records == 0 || res.Transactions == 0 || res.AbortedTransactions != 0 {
		t.Fatalf("produce result %+v", res)
	}
	w.Duration, w.Isolation = 0, ReadCommitted
	cres, err := Consume(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if cres.Records != res.Records {
		t.Fatalf("read_committed consumer read %d records, the run committed %d", cres.Records, res.Records)
	}
}

func TestProgressLineTransactions(t *testing.T) {
	m := newMeter("produce")
	m.recSize = 100
	m.start = time.Now()
	var buf syncBuffer
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { m.progress(&buf, stop); close(done) }()
	m.committed(100, []time.Time{time.Now(), time.Now()}, time.Millisecond)
	for !strings.Contains(buf.String(), "\n") {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	<-done
	if line := buf.String(); !strings.Contains(line, "produce 2 records") || !strings.Contains(line, "transactions/s") {
		t.Fatalf("progress line %q", line)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
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

package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds from 1 µs to 10 minutes with three
// significant digits.
const (
	histMinMicros = 1
	histMaxMicros = int64(10 * time.Minute / time.Microsecond)
	histSigFigs   = 3
)

// Result is what one workload measured.
type Result struct {
	Kind          string  `json:"kind"` // produce, consume or e2e
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"` // value bytes
	Errors        int64   `json:"errors"`
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"` // value bytes, 10^6 per MB
	// Latency is the produce ack latency (produce) or the send-to-consume
	// latency (e2e); nil for consume.
	Latency *Latency `json:"latency_ms,omitempty"`
	// AckLatency is the produce ack latency of an e2e run.
	AckLatency *Latency `json:"ack_latency_ms,omitempty"`
	// Batches and Requests count what the producers wrote (from client
	// hooks): they show the batching a workload really got.
	Batches    int64   `json:"batches,omitempty"`
	BatchBytes int64   `json:"batch_bytes,omitempty"` // bytes of those batches as sent (compressed)
	Requests   int64   `json:"produce_requests,omitempty"`
	FirstError string  `json:"first_error,omitempty"`
	TargetRate float64 `json:"target_rate,omitempty"`
	// Transactions counts the committed transactions of a transactional
	// run (Records are theirs: Latency runs from a record's send to its
	// transaction's commit), CommitLatency their EndTransaction calls.
	Transactions       int64    `json:"transactions,omitempty"`
	TransactionsPerSec float64  `json:"transactions_per_sec,omitempty"`
	CommitLatency      *Latency `json:"commit_latency_ms,omitempty"`
	// AbortedTransactions and AbortedRecords are the transactions aborted
	// on purpose (Workload.AbortEvery) or because the run was interrupted;
	// their records are not in Records.
	AbortedTransactions int64 `json:"aborted_transactions,omitempty"`
	AbortedRecords      int64 `json:"aborted_records,omitempty"`
}

// Latency summarises a latency histogram, in milliseconds.
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

// RecordsPerBatch is the mean number of records per produced batch.
func (r Result) RecordsPerBatch() float64 {
	if r.Batches == 0 {
		return 0
	}
	return float64(r.Records) / float64(r.Batches)
}

// MeanBatchBytes is the mean size of a produced batch as sent.
func (r Result) MeanBatchBytes() float64 {
	if r.Batches == 0 {
		return 0
	}
	return float64(r.BatchBytes) / float64(r.Batches)
}

func summarize(h *hdrhistogram.Histogram) *Latency {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return &Latency{
		Count: h.TotalCount(),
		Mean:  h.Mean() / 1000,
		P50:   ms(h.ValueAtQuantile(50)),
		P90:   ms(h.ValueAtQuantile(90)),
		P99:   ms(h.ValueAtQuantile(99)),
		P999:  ms(h.ValueAtQuantile(99.9)),
		Max:   ms(h.Max()),
	}
}

// WriteText writes the human summary of r.
func (r Result) WriteText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "%s: %d records in %.2fs: %.0f records/s, %.2f MB/s", r.Kind, r.Records, r.Seconds, r.RecordsPerSec, r.MBPerSec)
	if err != nil {
		return err
	}
	if r.Transactions > 0 || r.AbortedTransactions > 0 {
		fmt.Fprintf(w, ", %.1f transactions/s (%d committed", r.TransactionsPerSec, r.Transactions)
		if r.AbortedTransactions > 0 {
			fmt.Fprintf(w, ", %d aborted with %d records", r.AbortedTransactions, r.AbortedRecords)
		}
		fmt.Fprint(w, ")")
	}
	if r.Batches > 0 {
		fmt.Fprintf(w, ", %.1f records/batch", r.RecordsPerBatch())
	}
	if r.Errors > 0 {
		fmt.Fprintf(w, ", %d errors (first: %s)", r.Errors, r.FirstError)
	}
	fmt.Fprintln(w)
	for _, l := range []struct {
		name string
		l    *Latency
	}{{"latency", r.Latency}, {"ack latency", r.AckLatency}, {"commit latency", r.CommitLatency}} {
		if l.l == nil || l.l.Count == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  (mean %.2f)\n",
			l.name, l.l.P50, l.l.P90, l.l.P99, l.l.P999, l.l.Max, l.l.Mean)
	}
	return nil
}

// WriteJSON writes r as one JSON object.
func (r Result) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}

// meter counts records and latencies for a run, from any goroutine, and
// prints a progress line every second.
type meter struct {
	kind      string
	recSize   int64
	records   atomic.Int64
	bytes     atomic.Int64
	errors    atomic.Int64
	batches   atomic.Int64
	batchB    atomic.Int64
	requests  atomic.Int64
	firstErr  atomic.Pointer[error]
	start     time.Time
	lastCount int64
	// Transactions: committed, and aborted with their records.
	txns        atomic.Int64
	abortedTxns atomic.Int64
	abortedRecs atomic.Int64
	lastTxns    int64

	mu struct {
		sync.Mutex
		total    *hdrhistogram.Histogram
		interval *hdrhistogram.Histogram
		commits  *hdrhistogram.Histogram // EndTransaction(commit) calls
	}
}

func newMeter(kind string) *meter {
	m := &meter{kind: kind}
	m.mu.total = hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)
	m.mu.interval = hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)
	m.mu.commits = hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)
	return m
}

func micros(d time.Duration) int64 {
	return min(max(int64(d/time.Microsecond), histMinMicros), histMaxMicros)
}

// record counts one record of n value bytes that took lat (lat < 0: none).
func (m *meter) record(n int, lat time.Duration) {
	m.records.Add(1)
	m.bytes.Add(int64(n))
	if lat < 0 {
		return
	}
	us := micros(lat)
	m.mu.Lock()
	_ = m.mu.total.RecordValue(us)
	_ = m.mu.interval.RecordValue(us)
	m.mu.Unlock()
}

// committed counts a committed transaction whose records of n value bytes
// each were sent at sent and whose EndTransaction took commit: each record's
// latency runs from its send to now, when a read_committed reader can see it.
func (m *meter) committed(n int, sent []time.Time, commit time.Duration) {
	now := time.Now()
	m.records.Add(int64(len(sent)))
	m.bytes.Add(int64(n * len(sent)))
	m.txns.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	_ = m.mu.commits.RecordValue(micros(commit))
	for _, s := range sent {
		us := micros(now.Sub(s))
		_ = m.mu.total.RecordValue(us)
		_ = m.mu.interval.RecordValue(us)
	}
}

// aborted counts an aborted transaction of n records.
func (m *meter) aborted(n int64) {
	m.abortedTxns.Add(1)
	m.abortedRecs.Add(n)
}

func (m *meter) fail(err error) { m.failN(1, err) }

// failN counts n failed records.
func (m *meter) failN(n int64, err error) {
	m.errors.Add(n)
	m.firstErr.CompareAndSwap(nil, &err)
}

// progress prints a line every second to w until stop is closed.
func (m *meter) progress(w io.Writer, stop <-chan struct{}) {
	if w == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			n := m.records.Load()
			dt := now.Sub(last).Seconds()
			rate := float64(n-m.lastCount) / dt
			m.lastCount, last = n, now
			m.mu.Lock()
			h := m.mu.interval
			line := fmt.Sprintf("%6.0fs %s %d records, %.0f records/s, %.2f MB/s", now.Sub(m.start).Seconds(), m.kind, n, rate, rate*float64(m.recSize)/1e6)
			if h.TotalCount() > 0 {
				line += fmt.Sprintf(", latency ms p50 %.2f p99 %.2f max %.2f",
					float64(h.ValueAtQuantile(50))/1000, float64(h.ValueAtQuantile(99))/1000, float64(h.Max())/1000)
			}
			h.Reset()
			m.mu.Unlock()
			if txns := m.txns.Load(); txns > 0 || m.abortedTxns.Load() > 0 {
				line += fmt.Sprintf(", %.1f transactions/s", float64(txns-m.lastTxns)/dt)
				m.lastTxns = txns
			}
			if e := m.errors.Load(); e > 0 {
				line += fmt.Sprintf(", %d errors", e)
			}
			fmt.Fprintln(w, line)
		}
	}
}

// settleHooks waits (briefly, bounded) for franz-go's produce hooks, which
// run on their own goroutines after the acks, to finish counting.
func (m *meter) settleHooks() {
	last := m.batches.Load()
	for range 20 {
		time.Sleep(10 * time.Millisecond)
		n := m.batches.Load()
		if n == last {
			return
		}
		last = n
	}
}

// result freezes m into a Result covering elapsed.
func (m *meter) result(elapsed time.Duration) Result {
	r := Result{
		Kind:       m.kind,
		Records:    m.records.Load(),
		Bytes:      m.bytes.Load(),
		Errors:     m.errors.Load(),
		Seconds:    elapsed.Seconds(),
		Batches:    m.batches.Load(),
		BatchBytes: m.batchB.Load(),
		Requests:   m.requests.Load(),

		Transactions:        m.txns.Load(),
		AbortedTransactions: m.abortedTxns.Load(),
		AbortedRecords:      m.abortedRecs.Load(),
	}
	if elapsed > 0 {
		r.RecordsPerSec = float64(r.Records) / elapsed.Seconds()
		r.MBPerSec = float64(r.Bytes) / 1e6 / elapsed.Seconds()
		r.TransactionsPerSec = float64(r.Transactions) / elapsed.Seconds()
	}
	if p := m.firstErr.Load(); p != nil {
		r.FirstError = (*p).Error()
	}
	m.mu.Lock()
	if m.mu.total.TotalCount() > 0 {
		r.Latency = summarize(m.mu.total)
	}
	if m.mu.commits.TotalCount() > 0 {
		r.CommitLatency = summarize(m.mu.commits)
	}
	m.mu.Unlock()
	return r
}

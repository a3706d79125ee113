package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Produce runs w's producers until w.Records were acknowledged or
// w.Duration passed, and returns the acknowledged rate and the ack latency.
// With w.TransactionRecords, records count once their transaction has
// committed, their latency runs to the commit, and the Result adds the
// transactions/s and the commit latency. A run with failed records returns
// its Result and an error.
func Produce(ctx context.Context, w Workload) (Result, error) {
	if err := w.Validate(); err != nil {
		return Result{}, err
	}
	m := newMeter("produce")
	m.recSize = int64(w.RecordSize)
	ps, err := newProducers(w, m, nil)
	if err != nil {
		return Result{}, err
	}
	defer ps.close()
	stop := make(chan struct{})
	m.start = time.Now()
	go m.progress(w.Progress, stop)
	elapsed := ps.run(ctx)
	close(stop)
	m.settleHooks()
	res := m.result(elapsed)
	res.TargetRate = w.Rate
	return res, runError(ctx, res)
}

// runError turns a result with failed records into an error.
func runError(ctx context.Context, r Result) error {
	if r.Errors > 0 {
		return fmt.Errorf("%d of %d records failed; first error: %s", r.Errors, r.Errors+r.Records, r.FirstError)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("run interrupted: %w", err)
	}
	return nil
}

// producers are the clients of one run.
type producers struct {
	w       Workload
	m       *meter
	clients []*kgo.Client
	// stamp, when set, writes a record's intended send time into its
	// value (EndToEnd).
	stamp func(value []byte, sent time.Time)
}

func newProducers(w Workload, m *meter, stamp func([]byte, time.Time)) (*producers, error) {
	valuePool() // generate the record data now, not in the timed run
	ps := &producers{w: w, m: m, stamp: stamp}
	hooks := kgo.WithHooks(produceHooks{m})
	for i := range w.Producers {
		cl, err := kgo.NewClient(append(w.producerOpts(i), hooks)...)
		if err != nil {
			ps.close()
			return nil, err
		}
		ps.clients = append(ps.clients, cl)
	}
	return ps, nil
}

func (ps *producers) close() {
	for _, cl := range ps.clients {
		cl.Close()
	}
}

// run produces until the record count or the duration is reached, waits for
// every ack, and returns the elapsed time.
func (ps *producers) run(ctx context.Context) time.Duration {
	w := ps.w
	start := time.Now()
	var deadline time.Time
	if w.Duration > 0 {
		deadline = start.Add(w.Duration)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(time.Minute))
		defer cancel()
	}
	var wg sync.WaitGroup
	for i, cl := range ps.clients {
		n := int64(-1)
		if w.Records > 0 {
			n = w.Records / int64(len(ps.clients))
			if int64(i) < w.Records%int64(len(ps.clients)) {
				n++
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps.produce(ctx, cl, i, n, start, deadline)
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// produce is producer i's loop: n records (n < 0: until the deadline). In
// a transactional run, n counts the records of transactions meant to
// commit (not those --abort-every aborts), and the open transaction is
// committed when the run ends.
func (ps *producers) produce(ctx context.Context, cl *kgo.Client, i int, n int64, start, deadline time.Time) {
	w := ps.w
	pool := valuePool()
	span := len(pool) - w.RecordSize
	off := (i * len(pool) / len(ps.clients)) % max(span, 1)
	var sem chan struct{}
	if w.Outstanding > 0 {
		sem = make(chan struct{}, w.Outstanding)
	}
	var tx *txn
	if w.TransactionRecords > 0 {
		tx = &txn{m: ps.m, size: w.RecordSize, abortEvery: w.AbortEvery}
	}
	p := int64(len(ps.clients))
	var interval time.Duration // between the sends of one producer
	if w.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(p) / w.Rate)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var key []byte
	counted := int64(0) // records sent that count towards n
	for k := int64(0); n < 0 || counted < n; k++ {
		var sent time.Time
		if interval > 0 {
			// Producer i sends its k-th record at start + (k·P + i)/Rate
			// whether or not earlier records were acknowledged.
			sent = start.Add(time.Duration(k)*interval + time.Duration(i)*interval/time.Duration(p))
			if d := time.Until(sent); d > 0 {
				timer.Reset(d)
				select {
				case <-timer.C:
				case <-ctx.Done():
					ps.finish(ctx, cl, tx)
					return
				}
			}
		} else {
			sent = time.Now()
		}
		if !deadline.IsZero() && !sent.Before(deadline) {
			break
		}
		if sem != nil {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				ps.finish(ctx, cl, tx)
				return
			}
		}
		if tx != nil && len(tx.sent) == 0 {
			if err := tx.begin(cl); err != nil {
				ps.m.fail(err)
				if sem != nil {
					<-sem
				}
				break
			}
		}
		// Consecutive records take consecutive slices of the pool, so a
		// batch holds no repeated bytes for the codec to find.
		if off+w.RecordSize > len(pool) {
			off = 0
		}
		value := pool[off : off+w.RecordSize : off+w.RecordSize]
		off += w.RecordSize
		r := &kgo.Record{Value: value}
		if ps.stamp != nil {
			r.Value = make([]byte, len(value))
			copy(r.Value, value)
			ps.stamp(r.Value, sent)
		}
		if w.Keyed {
			key = strconv.AppendInt(key[:0], k*p+int64(i), 10)
			r.Key = append([]byte(nil), key...)
		}
		size := len(value)
		if tx == nil || !tx.aborting() {
			counted++
		}
		if tx != nil {
			tx.sent = append(tx.sent, sent)
		}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			switch {
			case tx != nil && err != nil:
				tx.failed.CompareAndSwap(nil, &err)
			case tx != nil: // counted when the transaction commits
			case err != nil:
				ps.m.fail(err)
			default:
				ps.m.record(size, time.Since(sent))
			}
			if sem != nil {
				<-sem
			}
		})
		if ctx.Err() != nil {
			break
		}
		if tx != nil && len(tx.sent) == w.TransactionRecords && !tx.end(ctx, cl, !tx.aborting()) {
			return
		}
	}
	ps.finish(ctx, cl, tx)
}

// finish flushes what producer cl sent and, in a transactional run,
// commits its open transaction (aborts it when ctx ended).
func (ps *producers) finish(ctx context.Context, cl *kgo.Client, tx *txn) {
	if tx == nil {
		ps.flush(ctx, cl)
		return
	}
	if len(tx.sent) > 0 {
		tx.end(ctx, cl, true)
	}
}

func (ps *producers) flush(ctx context.Context, cl *kgo.Client) {
	if err := cl.Flush(ctx); err != nil && !errors.Is(err, context.Canceled) {
		ps.m.fail(fmt.Errorf("flush: %w", err))
	}
}

// txn is the open transaction of one producer and its count. Only the
// producer's goroutine uses it, but for failed, which produce callbacks set.
type txn struct {
	m          *meter
	size       int
	abortEvery int
	n          int         // transactions begun
	sent       []time.Time // (intended) send times of the open transaction's records
	failed     atomic.Pointer[error]
}

// aborting reports whether --abort-every has the open transaction abort.
func (t *txn) aborting() bool { return t.abortEvery > 0 && t.n%t.abortEvery == 0 }

func (t *txn) begin(cl *kgo.Client) error {
	if err := cl.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	t.n++
	return nil
}

// end flushes the open transaction and commits it (or aborts it, when
// commit is false), counting its records. A transaction with failed
// records, or whose commit failed, is aborted and its records count as
// failed. It reports false when the producer cannot go on: ctx ended, or
// the transaction could not even be aborted.
func (t *txn) end(ctx context.Context, cl *kgo.Client, commit bool) bool {
	recs := int64(len(t.sent))
	defer func() {
		t.sent = t.sent[:0]
		t.failed.Store(nil)
	}()
	if ctx.Err() != nil {
		t.abandon(ctx, cl)
		return false
	}
	if err := cl.Flush(ctx); err != nil {
		t.abandon(ctx, cl)
		return false
	}
	if p := t.failed.Load(); p != nil {
		t.m.failN(recs, *p)
	} else if commit {
		begin := time.Now()
		err := cl.EndTransaction(ctx, kgo.TryCommit)
		if err == nil {
			t.m.committed(t.size, t.sent, time.Since(begin))
			return true
		}
		t.m.failN(recs, fmt.Errorf("commit: %w", err))
	}
	if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.m.fail(fmt.Errorf("abort transaction: %w", err))
		return false
	}
	if commit {
		return true // failed, counted above
	}
	t.m.aborted(recs)
	return true
}

// abandon aborts the open transaction once ctx has ended (the run was
// interrupted), so that it does not hold back read_committed readers until
// it times out. Its records count as aborted.
func (t *txn) abandon(ctx context.Context, cl *kgo.Client) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := cl.AbortBufferedRecords(actx); err != nil {
		return
	}
	if err := cl.EndTransaction(actx, kgo.TryAbort); err == nil {
		t.m.aborted(int64(len(t.sent)))
	}
}

// stampSince returns a stamp function that writes the send time into a
// value's first 8 bytes as nanoseconds since base (monotonic: producer and
// consumer share the process clock).
func stampSince(base time.Time) func([]byte, time.Time) {
	return func(v []byte, sent time.Time) { binary.BigEndian.PutUint64(v, uint64(sent.Sub(base))) }
}

// stampedLatency reads a stamp written by stampSince.
func stampedLatency(base time.Time, v []byte) (time.Duration, bool) {
	if len(v) < 8 {
		return 0, false
	}
	return time.Since(base) - time.Duration(binary.BigEndian.Uint64(v)), true
}

// produceHooks counts the batches and requests the producers write.
type produceHooks struct{ m *meter }

func (h produceHooks) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, bm kgo.ProduceBatchMetrics) {
	h.m.batches.Add(1)
	h.m.batchB.Add(int64(bm.CompressedBytes))
}

func (h produceHooks) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 0 && err == nil {
		h.m.requests.Add(1)
	}
}

var (
	_ kgo.HookProduceBatchWritten = produceHooks{}
	_ kgo.HookBrokerWrite         = produceHooks{}
)

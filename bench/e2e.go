package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// EndToEnd produces w (usually at a fixed w.Rate) while w.Consumers clients
// read the same topic from its current end, and returns the send-to-consume
// latency of every record, measured from its intended send time (each value
// carries that time in its first 8 bytes), plus the produce ack latency
// (send to commit in a transactional run; read it back with Isolation
// read_committed to see what such a reader waits for).
func EndToEnd(ctx context.Context, w Workload) (Result, error) {
	if err := w.Validate(); err != nil {
		return Result{}, err
	}
	if w.RecordSize < 8 {
		return Result{}, fmt.Errorf("record size %d: end-to-end runs need at least 8 bytes for the send time", w.RecordSize)
	}
	_, ends, err := offsets(ctx, w)
	if err != nil {
		return Result{}, err
	}
	from := make(map[int32]kgo.Offset, len(ends))
	for p, end := range ends {
		from[p] = kgo.NewOffset().At(end)
	}
	var seen []*firstFetch
	consumers, err := newConsumers(w, from, func() kgo.Hook {
		f := &firstFetch{ch: make(chan struct{})}
		seen = append(seen, f)
		return f
	})
	if err != nil {
		return Result{}, err
	}
	defer closeAll(consumers)

	e2e := newMeter("e2e")
	e2e.recSize = int64(w.RecordSize)
	acks := newMeter("produce")
	base := time.Now()
	lat := func(r *kgo.Record) time.Duration {
		d, ok := stampedLatency(base, r.Value)
		if !ok {
			return -1
		}
		return d
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, cl := range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			poll(cctx, cl, e2e, lat, func(kgo.Fetches) {})
		}()
	}
	// Start producing once every consumer has asked for data, so the first
	// records do not carry the consumers' start-up time.
	for _, f := range seen {
		select {
		case <-f.ch:
		case <-time.After(10 * time.Second):
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}

	ps, err := newProducers(w, acks, stampSince(base))
	if err != nil {
		return Result{}, err
	}
	defer ps.close()
	stop := make(chan struct{})
	e2e.start = time.Now()
	go e2e.progress(w.Progress, stop)
	elapsed := ps.run(ctx)

	// Wait until the consumers saw every acknowledged record.
	drain := time.NewTimer(drainTimeout)
	defer drain.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var drainErr error
	for e2e.records.Load() < acks.records.Load() && drainErr == nil {
		select {
		case <-tick.C:
		case <-drain.C:
			drainErr = fmt.Errorf("consumers saw %d of %d acknowledged records within %s", e2e.records.Load(), acks.records.Load(), drainTimeout)
		case <-ctx.Done():
			drainErr = ctx.Err()
		}
	}
	cancel()
	wg.Wait()
	close(stop)

	acks.settleHooks()
	res := e2e.result(elapsed)
	ack := acks.result(elapsed)
	res.AckLatency = ack.Latency
	res.Errors += ack.Errors
	if res.FirstError == "" {
		res.FirstError = ack.FirstError
	}
	res.Batches, res.BatchBytes, res.Requests = ack.Batches, ack.BatchBytes, ack.Requests
	res.Transactions, res.TransactionsPerSec, res.CommitLatency = ack.Transactions, ack.TransactionsPerSec, ack.CommitLatency
	res.AbortedTransactions, res.AbortedRecords = ack.AbortedTransactions, ack.AbortedRecords
	res.TargetRate = w.Rate
	if drainErr != nil {
		return res, drainErr
	}
	return res, runError(ctx, res)
}

// firstFetch closes ch when its client writes its first fetch request.
type firstFetch struct {
	once sync.Once
	ch   chan struct{}
}

func (f *firstFetch) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 1 && err == nil {
		f.once.Do(func() { close(f.ch) })
	}
}

var _ kgo.HookBrokerWrite = (*firstFetch)(nil)

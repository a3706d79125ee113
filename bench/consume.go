package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// drainTimeout bounds how long EndToEnd waits for the consumers to see the
// last acknowledged records.
const drainTimeout = 30 * time.Second

// Consume reads w.Topic from the start of every partition with w.Consumers
// clients (partitions split between them, no consumer group) at
// w.Isolation and returns the catch-up rate. It stops after w.Records
// records, or, when w.Records is 0, once every partition was read up to
// where it ended when the run started (its last stable offset for
// read_committed, so an open transaction is not waited for); w.Duration,
// when set, bounds the run. Transaction markers, and with read_committed
// aborted records, are not counted.
func Consume(ctx context.Context, w Workload) (Result, error) {
	if err := w.Validate(); err != nil && !onlyMissingLimit(w) {
		return Result{}, err
	}
	starts, ends, err := offsets(ctx, w)
	if err != nil {
		return Result{}, err
	}
	m := newMeter("consume")
	m.recSize = int64(w.RecordSize)
	left := newPartitionEnds(starts, ends)
	if w.Records == 0 && left.done() {
		return m.result(0), nil
	}
	from := make(map[int32]kgo.Offset, len(starts))
	for p := range starts {
		from[p] = kgo.NewOffset().AtStart()
	}
	clients, err := newConsumers(w, from, nil)
	if err != nil {
		return Result{}, err
	}
	defer closeAll(clients)
	if w.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.Duration)
		defer cancel()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	stop := make(chan struct{})
	m.start = time.Now()
	go m.progress(w.Progress, stop)
	var (
		wg   sync.WaitGroup
		done atomic.Int64 // nanoseconds since start when the target was reached
	)
	after := func(fs kgo.Fetches) {
		reached := w.Records > 0 && m.records.Load() >= w.Records
		if w.Records == 0 {
			reached = left.read(fs)
		}
		if reached && done.CompareAndSwap(0, int64(time.Since(m.start))) {
			cancel()
		}
	}
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			poll(ctx, cl, m, func(*kgo.Record) time.Duration { return -1 }, after)
		}()
	}
	wg.Wait()
	close(stop)
	elapsed := time.Duration(done.Load())
	if elapsed == 0 {
		elapsed = time.Since(m.start)
	}
	res := m.result(elapsed)
	if done.Load() == 0 && w.Duration == 0 {
		if w.Records > 0 {
			return res, fmt.Errorf("read %d of %d records: %w", res.Records, w.Records, context.Cause(ctx))
		}
		return res, fmt.Errorf("read %d records, %d partitions not to their end: %w", res.Records, left.partitionsLeft(), context.Cause(ctx))
	}
	return res, nil
}

// partitionEnds tracks which partitions a Consume run has read to their end
// offset. It follows offsets, not record counts: transaction markers take
// an offset each and aborted records are skipped under read_committed, so
// the records of a partition can be fewer than its offsets.
type partitionEnds struct {
	mu struct {
		sync.Mutex
		end map[int32]int64 // partitions not yet read to here
	}
}

func newPartitionEnds(starts, ends map[int32]int64) *partitionEnds {
	c := &partitionEnds{}
	c.mu.end = map[int32]int64{}
	for p, end := range ends {
		if end > starts[p] {
			c.mu.end[p] = end
		}
	}
	return c
}

// read notes the offsets of fs (control records included) and reports
// whether every partition has been read to its end.
func (c *partitionEnds) read(fs kgo.Fetches) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	fs.EachRecord(func(r *kgo.Record) {
		if end, ok := c.mu.end[r.Partition]; ok && r.Offset+1 >= end {
			delete(c.mu.end, r.Partition)
		}
	})
	return len(c.mu.end) == 0
}

func (c *partitionEnds) done() bool { return c.partitionsLeft() == 0 }

func (c *partitionEnds) partitionsLeft() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.mu.end)
}

// onlyMissingLimit reports whether w is valid except that it has neither a
// record count nor a duration (fine for Consume: it reads to the end).
func onlyMissingLimit(w Workload) bool {
	w.Records = 1
	return w.Validate() == nil
}

// poll consumes with cl until ctx ends, recording every record but
// transaction markers with the latency lat returns (negative: none) and
// calling after once per fetch.
func poll(ctx context.Context, cl *kgo.Client, m *meter, lat func(*kgo.Record) time.Duration, after func(kgo.Fetches)) {
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				m.fail(err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				m.record(len(r.Value), lat(r))
			}
		})
		after(fs)
	}
}

// offsets lists the start and end offset of every partition of w.Topic.
func offsets(ctx context.Context, w Workload) (starts, ends map[int32]int64, err error) {
	cl, err := kgo.NewClient(w.clientOpts()...)
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	so, err := adm.ListStartOffsets(ctx, w.Topic)
	if err == nil {
		err = so.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list start offsets of %s: %w", w.Topic, err)
	}
	list := adm.ListEndOffsets
	if w.Isolation == ReadCommitted {
		list = adm.ListCommittedOffsets // the last stable offsets
	}
	eo, err := list(ctx, w.Topic)
	if err == nil {
		err = eo.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list end offsets of %s: %w", w.Topic, err)
	}
	starts, ends = map[int32]int64{}, map[int32]int64{}
	so.Each(func(o kadm.ListedOffset) { starts[o.Partition] = o.Offset })
	eo.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	if len(starts) == 0 {
		return nil, nil, fmt.Errorf("topic %s has no partitions", w.Topic)
	}
	return starts, ends, nil
}

// newConsumers returns w.Consumers clients that together consume the
// partitions of from, each from its offset. hook, if non-nil, makes the hook
// of each client.
func newConsumers(w Workload, from map[int32]kgo.Offset, hook func() kgo.Hook) ([]*kgo.Client, error) {
	n := min(w.Consumers, len(from))
	assign := make([]map[int32]kgo.Offset, n)
	for i := range assign {
		assign[i] = map[int32]kgo.Offset{}
	}
	i := 0
	for p, o := range from {
		assign[i%n][p] = o
		i++
	}
	iso, err := isolation(w.Isolation)
	if err != nil {
		return nil, err
	}
	var clients []*kgo.Client
	for _, a := range assign {
		// Control records (transaction markers) are kept so that a reader
		// sees the offsets they take; poll does not count them.
		opts := append(w.clientOpts(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.Topic: a}),
			kgo.FetchIsolationLevel(iso), kgo.KeepControlRecords())
		if hook != nil {
			opts = append(opts, kgo.WithHooks(hook()))
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			closeAll(clients)
			return nil, err
		}
		clients = append(clients, cl)
	}
	return clients, nil
}

func closeAll(clients []*kgo.Client) {
	for _, cl := range clients {
		cl.Close()
	}
}

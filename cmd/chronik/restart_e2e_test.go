//go:build e2e

package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// minAcked is how many records a producer must have acknowledged before the
// node is killed or stopped under it.
const minAcked = 5000

// TestKill9KeepsAcknowledgedRecords kills the broker with SIGKILL while an
// idempotent acks=all producer streams into a 3-partition topic, restarts it
// on the same data dir and checks that every acknowledged record survived at
// its acknowledged offset, with no gaps and no duplicates, and that the next
// produce continues at the end offset. Three kill/restart cycles.
func TestE2EKill9KeepsAcknowledgedRecords(t *testing.T) {
	crashRestartCycles(t, "kill9", 3, kill9)
}

// TestCleanRestart is the same with a SIGTERM (clean exit asserted), once.
func TestE2ECleanRestart(t *testing.T) {
	crashRestartCycles(t, "clean-restart", 1, stop)
}

func crashRestartCycles(t *testing.T, topic string, cycles int, down func(*node)) {
	const partitions = 3
	a := freeAddrs(t)
	dataDir := t.TempDir()
	n := startNode(t, dataDir, a)
	createTopic(t, a.kafka, topic, partitions)

	ledger := newLedger()
	for cycle := 1; cycle <= cycles; cycle++ {
		start := time.Now()
		p := startProducer(t, a.kafka, topic, partitions, fmt.Sprintf("c%d", cycle))
		waitFor(t, e2eTimeout, fmt.Sprintf("%d acknowledged records (cycle %d)", minAcked, cycle), func() bool {
			return p.ackedCount() >= minAcked
		})
		tAcked := time.Now()
		down(n) // mid-stream: the producer is still producing
		tDown := time.Now()
		acks, failed, firstErr := p.stop(t)
		t.Logf("cycle %d: %d records acknowledged, %d failed after the node went down (first error: %v); %s to %d acks, %s down, %s producer stop",
			cycle, len(acks), failed, firstErr, tAcked.Sub(start).Round(time.Millisecond), minAcked,
			tDown.Sub(tAcked).Round(time.Millisecond), time.Since(tDown).Round(time.Millisecond))
		tRestart := time.Now()
		for _, r := range acks {
			ledger.add(t, r)
		}

		n = startNode(t, dataDir, a)
		t.Logf("cycle %d: restarted in %s", cycle, time.Since(tRestart).Round(time.Millisecond))
		end := verifyLog(t, a.kafka, topic, partitions, ledger)
		produceAtEnd(t, a.kafka, topic, end, ledger, fmt.Sprintf("c%d-after-restart", cycle))
		t.Logf("cycle %d: end offsets %v, took %s", cycle, end, time.Since(start).Round(time.Millisecond))
	}
}

// ackedRecord is a record the broker acknowledged.
type ackedRecord struct {
	partition int32
	offset    int64
	value     string
}

// ledger holds every acknowledged record of a test, by partition and offset.
type ledger struct {
	acked map[int32]map[int64]string
}

func newLedger() *ledger { return &ledger{acked: make(map[int32]map[int64]string)} }

func (l *ledger) add(t *testing.T, r ackedRecord) {
	t.Helper()
	m := l.acked[r.partition]
	if m == nil {
		m = make(map[int64]string)
		l.acked[r.partition] = m
	}
	if prev, ok := m[r.offset]; ok && prev != r.value {
		t.Errorf("partition %d offset %d acknowledged twice: for %q and for %q", r.partition, r.offset, prev, r.value)
	}
	m[r.offset] = r.value
}

// producer streams records from a goroutine and records every ack.
type producer struct {
	cl        *kgo.Client
	closeOnce sync.Once
	cancel    context.CancelFunc
	loopDone  chan struct{}
	inflight  sync.WaitGroup

	mu       sync.Mutex
	acks     []ackedRecord
	failed   int
	firstErr error
}

func startProducer(t *testing.T, kafkaAddr, topic string, partitions int32, prefix string) *producer {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(kafkaAddr),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), // the default, stated
		kgo.RecordRetries(5),
		kgo.RecordDeliveryTimeout(5*time.Second),
		kgo.MaxBufferedRecords(4096),
	)
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &producer{cl: cl, cancel: cancel, loopDone: make(chan struct{})}
	t.Cleanup(func() { cancel(); p.closeOnce.Do(cl.Close) })
	go func() {
		defer close(p.loopDone)
		for i := 0; ctx.Err() == nil; i++ {
			r := &kgo.Record{Partition: int32(i) % partitions, Value: fmt.Appendf(nil, "%s-%08d", prefix, i)}
			p.inflight.Add(1)
			cl.Produce(ctx, r, func(r *kgo.Record, err error) {
				defer p.inflight.Done()
				p.mu.Lock()
				defer p.mu.Unlock()
				if err != nil {
					p.failed++
					if p.firstErr == nil {
						p.firstErr = err
					}
					return
				}
				p.acks = append(p.acks, ackedRecord{partition: r.Partition, offset: r.Offset, value: string(r.Value)})
			})
		}
	}()
	return p
}

func (p *producer) ackedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acks)
}

// stop ends the produce loop, closes the client (failing whatever is still
// buffered) and waits for every callback, so the acks are final.
func (p *producer) stop(t *testing.T) (acks []ackedRecord, failed int, firstErr error) {
	t.Helper()
	p.cancel()
	select {
	case <-p.loopDone:
	case <-time.After(e2eTimeout):
		t.Fatalf("produce loop did not stop within %s", e2eTimeout)
	}
	closed := make(chan struct{})
	go func() {
		p.closeOnce.Do(p.cl.Close)
		p.inflight.Wait()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(e2eTimeout):
		t.Fatalf("producer callbacks still pending %s after Close", e2eTimeout)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acks, p.failed, p.firstErr
}

// verifyLog consumes every partition up to its high watermark and checks it
// against the ledger; it returns the end offsets.
func verifyLog(t *testing.T, kafkaAddr, topic string, partitions int32, l *ledger) map[int32]int64 {
	t.Helper()
	end := endOffsets(t, kafkaAddr, topic, partitions)
	recs := consumeAll(t, kafkaAddr, topic, end)

	const maxReports = 20
	problems := 0
	report := func(format string, args ...any) {
		problems++
		if problems <= maxReports {
			t.Errorf(format, args...)
		}
	}
	seen := make(map[string]string) // value → "partition/offset"
	unacked := 0
	for p := range partitions {
		got := recs[p]
		if int64(len(got)) != end[p] {
			report("partition %d: consumed %d records, high watermark is %d", p, len(got), end[p])
		}
		for i, r := range got {
			if r.Offset != int64(i) {
				report("partition %d: record #%d has offset %d, want %d (offsets must be contiguous from 0)", p, i, r.Offset, i)
			}
			v := string(r.Value)
			where := fmt.Sprintf("%d/%d", p, r.Offset)
			if prev, dup := seen[v]; dup {
				report("value %q appears twice: at %s and at %s", v, prev, where)
			}
			seen[v] = where
			if _, ok := l.acked[p][r.Offset]; !ok {
				unacked++
			}
		}
		offs := make([]int64, 0, len(l.acked[p]))
		for o := range l.acked[p] {
			offs = append(offs, o)
		}
		sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
		for _, o := range offs {
			want := l.acked[p][o]
			switch {
			case o >= end[p]:
				report("partition %d: acknowledged record %q at offset %d is lost: the high watermark is %d", p, want, o, end[p])
			case o >= int64(len(got)):
				report("partition %d: acknowledged record %q at offset %d was not consumed", p, want, o)
			case string(got[o].Value) != want:
				report("partition %d offset %d: got %q, acknowledged %q", p, o, got[o].Value, want)
			}
		}
	}
	if problems > maxReports {
		t.Errorf("... and %d more problems", problems-maxReports)
	}
	if problems > 0 {
		t.FailNow()
	}
	t.Logf("verified %d records in %d partitions (%d present but never acknowledged)", len(seen), partitions, unacked)
	return end
}

// produceAtEnd produces one record to every partition and checks it lands at
// the end offset read before.
func produceAtEnd(t *testing.T, kafkaAddr, topic string, end map[int32]int64, l *ledger, prefix string) {
	t.Helper()
	cl := newClient(t, kafkaAddr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	var recs []*kgo.Record
	for p := range int32(len(end)) {
		recs = append(recs, &kgo.Record{Partition: p, Value: fmt.Appendf(nil, "%s-p%d", prefix, p)})
	}
	for _, res := range cl.ProduceSync(ctx, recs...) {
		r := res.Record
		if res.Err != nil {
			t.Fatalf("produce to partition %d after restart: %v", r.Partition, res.Err)
		}
		if r.Offset != end[r.Partition] {
			t.Errorf("partition %d: produce after restart landed at offset %d, want the end offset %d", r.Partition, r.Offset, end[r.Partition])
		}
		l.add(t, ackedRecord{partition: r.Partition, offset: r.Offset, value: string(r.Value)})
	}
}

//go:build e2e

package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// txnOutcome is what a transaction's producer was told.
type txnOutcome int

const (
	txnCommitted txnOutcome = iota // EndTransaction(commit) returned nil
	txnAborted                     // it aborted (its records must never be read committed)
	txnUnknown                     // an error left the outcome open: all or nothing
)

// txnWriter runs transactions of txnSize records, one after another,
// committing three of every four and aborting the fourth, and records what
// it was told about each.
type txnWriter struct {
	seeds []string
	stop  context.CancelFunc
	done  chan struct{}

	mu       sync.Mutex
	outcomes []txnOutcome
	errs     []string
}

const txnSize = 10

func startTxnWriter(t *testing.T, seeds []string, topic string) *txnWriter {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &txnWriter{seeds: seeds, stop: cancel, done: make(chan struct{})}
	t.Cleanup(cancel)
	newClient := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.TransactionalID("e2e-writer"), kgo.DefaultProduceTopic(topic),
			kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.TransactionTimeout(10*time.Second),
			kgo.RecordDeliveryTimeout(deliveryTimeout), kgo.MetadataMinAge(250*time.Millisecond))
		if err != nil {
			t.Error(err)
		}
		return cl
	}
	go func() {
		defer close(w.done)
		cl := newClient()
		defer func() { cl.Close() }()
		for i := 0; ctx.Err() == nil; i++ {
			commit := i%4 != 3
			out, err := w.one(ctx, cl, i, commit)
			w.mu.Lock()
			w.outcomes = append(w.outcomes, out)
			if err != nil {
				w.errs = append(w.errs, fmt.Sprintf("txn %d: %v", i, err))
			}
			w.mu.Unlock()
			if err != nil {
				// Start over with a new producer: its init aborts whatever
				// this one left open and fences it.
				cl.Close()
				time.Sleep(200 * time.Millisecond)
				cl = newClient()
			}
		}
	}()
	return w
}

// one runs transaction i.
func (w *txnWriter) one(ctx context.Context, cl *kgo.Client, i int, commit bool) (txnOutcome, error) {
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		return txnAborted, err // nothing produced
	}
	recs := make([]*kgo.Record, txnSize)
	for j := range recs {
		recs[j] = kgo.StringRecord(fmt.Sprintf("t%05d-%02d", i, j))
	}
	if err := cl.ProduceSync(rctx, recs...).FirstErr(); err != nil {
		// Abort what was sent; the outcome stays open if that fails too.
		if aerr := cl.EndTransaction(rctx, kgo.TryAbort); aerr == nil {
			return txnAborted, nil
		}
		return txnUnknown, err
	}
	err := cl.EndTransaction(rctx, kgo.TransactionEndTry(commit))
	switch {
	case err != nil:
		return txnUnknown, err
	case commit:
		return txnCommitted, nil
	default:
		return txnAborted, nil
	}
}

func (w *txnWriter) finish() {
	w.stop()
	<-w.done
}

// TestE2ETransactionsUnderFaults: a transactional producer writes to a
// 3-partition RF3 topic on three processes while a follower, then the
// leader of the transaction's coordinator shard, are killed with -9 and
// restarted. Afterwards a read_committed consumer must read every record of
// every transaction whose commit was acknowledged, none of any aborted one,
// and of each transaction whose outcome the producer never learned, all of
// its records or none.
func TestE2ETransactionsUnderFaults(t *testing.T) {
	const topic = "ledger"
	c := startClusterWith(t, 3, "")
	cl := newClient(t, c.addrs[0].kafka)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	adm := kadm.NewClient(cl)
	if resp, err := adm.CreateTopic(ctx, 3, 3, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("create %s: %v %v", topic, err, resp.Err)
	}
	waitUntil(t, metadataTimeout, "leaders", func() (bool, string) {
		parts, s := c.leaders(topic, -1)
		return len(parts) == 3, s
	})
	w := startTxnWriter(t, c.seeds(), topic)
	time.Sleep(3 * time.Second)

	coord := -1
	for _, d := range adm.FindTxnCoordinators(ctx, "e2e-writer") {
		if d.Err == nil {
			coord = int(d.NodeID) - 1
		}
	}
	cl.Close()
	if coord < 0 {
		t.Fatal("no coordinator for e2e-writer")
	}
	c.killThenRestart((coord+1)%3, "", 3*time.Second, 3*time.Second)
	c.killThenRestart(coord, " (the coordinator)", 3*time.Second, 3*time.Second)
	w.finish()

	counts := map[txnOutcome]int{}
	for _, o := range w.outcomes {
		counts[o]++
	}
	t.Logf("%d transactions: %d committed, %d aborted, %d with an unknown outcome; errors: %s",
		len(w.outcomes), counts[txnCommitted], counts[txnAborted], counts[txnUnknown], strings.Join(w.errs, "; "))
	if counts[txnCommitted] < 20 {
		t.Fatalf("only %d transactions committed", counts[txnCommitted])
	}

	// Read everything committed, from a fresh client.
	rc := newClient(t, c.addrs[(coord+2)%3].kafka, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	seen := map[string]int{}
	perTxn := map[int]int{}
	idle := time.Now()
	for time.Since(idle) < 3*time.Second {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		fs := rc.PollFetches(pctx)
		pcancel()
		fs.EachRecord(func(r *kgo.Record) {
			idle = time.Now()
			v := string(r.Value)
			seen[v]++
			var i, j int
			if _, err := fmt.Sscanf(v, "t%05d-%02d", &i, &j); err == nil {
				perTxn[i]++
			}
		})
	}
	for v, n := range seen {
		if n != 1 {
			t.Errorf("%s read %d times", v, n)
		}
	}
	for i, o := range w.outcomes {
		n := perTxn[i]
		switch {
		case o == txnCommitted && n != txnSize:
			t.Errorf("committed transaction %d: %d of its %d records read", i, n, txnSize)
		case o == txnAborted && n != 0:
			t.Errorf("aborted transaction %d: %d of its records read committed", i, n)
		case o == txnUnknown && n != 0 && n != txnSize:
			t.Errorf("transaction %d (outcome unknown): %d of its %d records read: not atomic", i, n, txnSize)
		}
	}
	t.Logf("read_committed read %d records of %d transactions", len(seen), len(perTxn))
}

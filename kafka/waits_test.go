package kafka

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/partition"
)

// newWaitConn is a conn with only what startWait needs.
func newWaitConn(t *testing.T) *conn {
	t.Helper()
	c := &conn{}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	context.AfterFunc(c.ctx, c.closeWaits)
	t.Cleanup(c.cancel)
	return c
}

func waitEnded(t *testing.T, w *waitCtx, want error) {
	t.Helper()
	select {
	case <-w.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not end")
	}
	if err := w.Err(); !errors.Is(err, want) {
		t.Fatalf("Err() = %v, want %v", err, want)
	}
}

func TestWaitCtx(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		c := newWaitConn(t)
		start := time.Now()
		w := c.startWait(20 * time.Millisecond)
		if dl, ok := w.Deadline(); !ok || dl.Before(start.Add(20*time.Millisecond)) {
			t.Fatalf("Deadline() = %v, %v", dl, ok)
		}
		waitEnded(t, w, context.DeadlineExceeded)
		if time.Since(start) < 20*time.Millisecond {
			t.Fatal("ended before its deadline")
		}
		w.release()
		if len(c.waits.free) != 0 || len(c.waits.all) != 0 {
			t.Fatalf("an ended wait was kept: %d free, %d in all", len(c.waits.free), len(c.waits.all))
		}
	})
	t.Run("reused after release", func(t *testing.T) {
		c := newWaitConn(t)
		w := c.startWait(time.Minute)
		w.release()
		w2 := c.startWait(time.Minute)
		if w2 != w {
			t.Fatal("a released wait was not reused")
		}
		if w2.Err() != nil {
			t.Fatalf("reused wait already ended: %v", w2.Err())
		}
		w2.release()
		if n := testing.AllocsPerRun(100, func() { c.startWait(time.Minute).release() }); n != 0 {
			t.Fatalf("%v allocations per wait, want 0", n)
		}
	})
	t.Run("reused wait still expires", func(t *testing.T) {
		c := newWaitConn(t)
		c.startWait(time.Minute).release()
		waitEnded(t, c.startWait(10*time.Millisecond), context.DeadlineExceeded)
	})
	t.Run("connection close ends waits", func(t *testing.T) {
		c := newWaitConn(t)
		idle := c.startWait(time.Minute)
		idle.release()
		w := c.startWait(time.Minute)
		c.cancel()
		waitEnded(t, w, context.Canceled)
		w.release()
		waitEnded(t, c.startWait(time.Minute), context.Canceled)
	})
	t.Run("no connection", func(t *testing.T) {
		var c *conn
		w := c.startWait(10 * time.Millisecond)
		if w.Value(remoteAddrKey{}) != nil {
			t.Fatal("value without a connection")
		}
		waitEnded(t, w, context.DeadlineExceeded)
		w.release()
	})
}

// blockingAppend is a proposal whose commit never comes; Wait returns when
// its context ends.
type blockingAppend struct{}

func (blockingAppend) Wait(ctx context.Context) (partition.AppendResult, error) {
	<-ctx.Done()
	return partition.AppendResult{}, partition.ErrTimeout
}

// A produce waits for its commits at most its timeout (at least
// produceMinTimeout), then answers REQUEST_TIMED_OUT; the connection keeps
// serving.
func TestProduceWaitTimeout(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "t", 1)
	ts.appendTo = func(partition.TP, partition.TxnProduce, []byte) appendWaiter { return blockingAppend{} }
	c := ts.dial(t)
	for range 2 { // the second wait reuses the first one's context
		req := produceRequest(9, "t", 0, makeBatch(1, "a"))
		req.TimeoutMillis = 10 // raised to produceMinTimeout
		start := time.Now()
		resp := c.do(req).(*kmsg.ProduceResponse)
		elapsed := time.Since(start)
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.RequestTimedOut.Code {
			t.Fatalf("error code %d, want REQUEST_TIMED_OUT", code)
		}
		if elapsed < produceMinTimeout || elapsed > produceMinTimeout+5*time.Second {
			t.Fatalf("answered after %v, want about %v", elapsed, produceMinTimeout)
		}
	}
}

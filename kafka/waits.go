package kafka

import (
	"context"
	"slices"
	"sync"
	"time"
)

// waitCtx is the context of one bounded wait of a request: it ends at its
// deadline or when its connection's context ends. Produce passes one to
// Pending.Wait for the commit, Fetch long-polls on one. A connection keeps
// the waitCtxs whose wait ended before the deadline and hands them out
// again, so a wait allocates nothing; context.WithTimeout per request cost
// four allocations and a lock on the connection's context (profile finding
// 6 in bench/README.md).
//
// Because it is reused, a waitCtx must not outlive its wait: pass it only to
// calls that stop using it when they return (Pending.Wait selects on Done
// and keeps nothing), never to one that may start work in the background
// (context.AfterFunc, a goroutine), and call release when the wait is over.
//
// Lock order: conn.waits.mu, then waitCtx.mu.
type waitCtx struct {
	c        *conn // nil when the request has no connection (handler tests)
	done     chan struct{}
	timer    *time.Timer // calls expire; nil until first armed
	deadline time.Time

	mu  sync.Mutex
	err error // set, and done closed, once the context ends

	inUse bool // guarded by c.waits.mu
}

// startWait returns a waitCtx that ends after d or when the connection fails.
// c may be nil (a request that did not come from a connection): the context
// then ends only at its deadline and is not reused.
func (c *conn) startWait(d time.Duration) *waitCtx {
	if c == nil {
		w := &waitCtx{done: make(chan struct{})}
		w.arm(d)
		return w
	}
	c.waits.Lock()
	defer c.waits.Unlock()
	var w *waitCtx
	if n := len(c.waits.free); n > 0 {
		w = c.waits.free[n-1]
		c.waits.free = c.waits.free[:n-1]
	} else {
		w = &waitCtx{c: c, done: make(chan struct{})}
		c.waits.all = append(c.waits.all, w)
	}
	w.inUse = true
	if c.waits.closed {
		w.deadline = time.Now()
		w.end(context.Canceled)
		return w
	}
	w.arm(d)
	return w
}

func (w *waitCtx) arm(d time.Duration) {
	w.deadline = time.Now().Add(d)
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.expire)
	} else {
		w.timer.Reset(d)
	}
}

// release ends the wait. The waitCtx is reused if it never ended, so the
// caller must not touch it afterwards.
func (w *waitCtx) release() {
	stopped := w.timer != nil && w.timer.Stop()
	c := w.c
	if c == nil {
		return
	}
	c.waits.Lock()
	defer c.waits.Unlock()
	w.inUse = false
	w.mu.Lock()
	ended := w.err != nil
	w.mu.Unlock()
	if stopped && !ended && !c.waits.closed {
		c.waits.free = append(c.waits.free, w)
		return
	}
	// Its done channel is closed (or about to be, by a timer that
	// already fired): it cannot be reused.
	if i := slices.Index(c.waits.all, w); i >= 0 {
		c.waits.all = slices.Delete(c.waits.all, i, i+1)
	}
}

// closeWaits ends every wait of the connection and any later one. It runs
// once, when the connection's context ends.
func (c *conn) closeWaits() {
	c.waits.Lock()
	defer c.waits.Unlock()
	c.waits.closed = true
	for _, w := range c.waits.all {
		if w.inUse {
			w.end(context.Canceled)
		}
	}
	c.waits.free = nil
}

func (w *waitCtx) expire() { w.end(context.DeadlineExceeded) }

func (w *waitCtx) end(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
		close(w.done)
	}
}

// Deadline implements context.Context.
func (w *waitCtx) Deadline() (time.Time, bool) { return w.deadline, true }

// Done implements context.Context.
func (w *waitCtx) Done() <-chan struct{} { return w.done }

// Err implements context.Context.
func (w *waitCtx) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Value implements context.Context with the connection's values.
func (w *waitCtx) Value(key any) any {
	if w.c == nil {
		return nil
	}
	return w.c.ctx.Value(key)
}

var _ context.Context = (*waitCtx)(nil)

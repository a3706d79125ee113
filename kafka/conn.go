package kafka

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// conn is one client connection. Its reader goroutine (serve → readLoop)
// reads and dispatches requests; its writer goroutine writes the responses in
// request order from queue; each request with a response runs in its own
// handler goroutine. serve returns only when all three kinds have exited.
type conn struct {
	s         *Server
	nc        net.Conn
	br        *bufio.Reader
	log       *slog.Logger
	principal string
	sasl      saslState // reader-only
	// host is the peer's IP address (ACLs' host); authz caches the
	// connection's authorization decisions (authz.go).
	host  string
	authz authzCache
	// lastActive (unix ns) is when a request was last read or answered;
	// inflight counts the requests queued for an answer not yet written
	// (connlimits.go).
	lastActive atomic.Int64
	inflight   atomic.Int64
	// mutedUntil (unix ns) holds the reader back while a quota throttles
	// the connection (quotas.go).
	mutedUntil atomic.Int64

	// ctx ends when the connection fails (client gone, protocol error,
	// write error) or the server aborts; handlers run under it.
	ctx    context.Context
	cancel context.CancelFunc

	// queue holds one slot per request awaiting its response, in request
	// order. Only the reader sends and closes it.
	queue chan *slot
	// free holds the slots the writer is done with. There are at most
	// maxInFlightPerConn slots (nslots so far, reader-only), so a reader
	// that finds none waits: that bounds the requests in flight.
	free   chan *slot
	nslots int
	// ready gets a token whenever a handler completes its slot, for the
	// writer waiting on the head of queue.
	ready    chan struct{}
	handlers sync.WaitGroup
	failOnce sync.Once

	// lastClientID is the previous request's client ID (reader-only).
	lastClientID *string
	// lastInOrder is the finished channel of the last api.inOrder request
	// dispatched (reader-only); the next one waits for it.
	lastInOrder chan struct{}

	// Writer-only: the responses of one write and their buffers, kept to
	// reuse their backing arrays.
	batch []*slot
	bufs  net.Buffers
	wv    net.Buffers

	// waits are the reusable deadline contexts of requests (waits.go).
	waits struct {
		sync.Mutex
		all    []*waitCtx // made and not discarded: free ones and those in use
		free   []*waitCtx
		closed bool // the connection's context ended
	}
}

// slot is the place of one response in a connection's ordered queue. The
// reader fills r and one of handle and finish, the handler goroutine buf,
// then sets done; the writer writes buf and recycles the slot.
type slot struct {
	r      *request
	handle handleFunc
	finish func(context.Context) kmsg.Response
	buf    *[]byte     // the framed response, from bufPool
	done   atomic.Bool // buf is set
}

const readBufferSize = 16 << 10

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		s:         s,
		nc:        nc,
		br:        bufio.NewReaderSize(nc, readBufferSize),
		log:       s.log.With("remote", nc.RemoteAddr().String()),
		principal: anonymous,
		host:      hostOf(nc.RemoteAddr()),
		queue:     make(chan *slot, maxInFlightPerConn),
		free:      make(chan *slot, maxInFlightPerConn),
		ready:     make(chan struct{}, 1),
	}
	c.active()
	c.ctx, c.cancel = context.WithCancel(context.WithValue(s.baseCtx, remoteAddrKey{}, nc.RemoteAddr()))
	context.AfterFunc(c.ctx, c.closeWaits)
	return c
}

// handshake completes the TLS handshake and takes the principal from the
// client's certificate, if it sent one.
func (c *conn) handshake(tc *tls.Conn) bool {
	ctx, cancel := context.WithTimeout(c.ctx, tlsHandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.s.warn("kafka: TLS handshake failed, closing connection", "remote", c.nc.RemoteAddr().String(), "err", err)
		return false
	}
	if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
		c.principal = "User:" + certs[0].Subject.String()
		c.log = c.log.With("principal", c.principal)
	}
	return true
}

// fail ends the connection now: handlers are cancelled, the socket is closed
// (which unblocks the reader and the writer).
func (c *conn) fail() {
	c.failOnce.Do(func() {
		c.cancel()
		_ = c.nc.Close()
	})
}

// stopReading makes the reader stop at its next read without failing the
// connection: requests already read are still answered.
func (c *conn) stopReading() {
	_ = c.nc.SetReadDeadline(time.Now())
}

// tlsHandshakeTimeout bounds a TLS client's handshake, so that a connection
// that never sends one does not hold its goroutine.
const tlsHandshakeTimeout = 10 * time.Second

func (c *conn) serve() {
	if tc, ok := c.nc.(*tls.Conn); ok && !c.handshake(tc) {
		c.fail()
		return
	}
	c.log.Debug("kafka connection opened")
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	c.readLoop()
	close(c.queue)
	<-writerDone
	c.fail()
	c.handlers.Wait()
	c.log.Debug("kafka connection closed")
}

func (c *conn) readLoop() {
	defer func() {
		if p := recover(); p != nil {
			c.s.log.Error("kafka: panic while reading a request", "remote", c.nc.RemoteAddr().String(), "panic", p, "stack", string(debug.Stack()))
			c.fail()
		}
	}()
	for {
		select {
		case <-c.s.stopping:
			// Graceful shutdown: requests already buffered but not yet
			// read are dropped like those still in the socket.
			return
		default:
		}
		if !c.waitMuted() {
			return
		}
		r, err := readRequest(c.br, c.s.cfg.MaxRequestBytes, c.lastClientID)
		if r != nil {
			c.lastActive.Store(r.start.UnixNano()) // the read's own clock, not another
			r.conn = c
			if r.clientID != nil {
				c.lastClientID = r.clientID
			}
		}
		if err != nil {
			switch {
			case c.s.isClosing():
				// Graceful shutdown: stop reading, answer what was read.
				return
			case r != nil && r.key == keyAPIVersions && errors.Is(err, errUnsupportedVersion):
				if !c.answerUnsupportedAPIVersions(r) {
					return
				}
				continue
			case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET):
				// The client hung up between requests (or we closed the
				// socket): nobody will read what is still pending.
				c.fail()
				return
			default:
				args := []any{"remote", c.nc.RemoteAddr().String(), "err", err}
				if r != nil {
					args = append(args, "api_key", r.key, "version", r.version, "correlation_id", r.corrID)
				}
				c.s.warn("kafka: closing connection", args...)
				c.fail()
				return
			}
		}
		if !c.dispatch(r) {
			return
		}
	}
}

// dispatch authorizes r and starts its handler. It returns false when the
// connection must stop reading.
func (c *conn) dispatch(r *request) bool {
	if c.s.cfg.SASL != nil && !c.sasl.authenticated && !saslExempt(r.key) {
		c.s.warn("kafka: request before SASL authentication, closing connection", "remote", c.nc.RemoteAddr().String(),
			"api", kmsg.NameForKey(r.key))
		c.fail()
		return false
	}
	if c.sasl.expired() && !saslExempt(r.key) {
		c.s.warn("kafka: SASL session expired without re-authentication, closing connection", "remote", c.nc.RemoteAddr().String(),
			"principal", c.principal, "api", kmsg.NameForKey(r.key))
		c.fail()
		return false
	}
	r.principal = c.principal
	if err := c.s.cfg.Authorizer.Authorize(c.ctx, c.principal, r.key, r.msg); err != nil {
		c.s.warn("kafka: request denied, closing connection", "remote", c.nc.RemoteAddr().String(),
			"principal", c.principal, "api", kmsg.NameForKey(r.key), "err", err)
		c.fail()
		return false
	}
	a := lookupAPI(r.key)
	if a.inOrder {
		r.after, r.finished = c.lastInOrder, make(chan struct{})
		c.lastInOrder = r.finished
	}
	if a.begin == nil {
		return c.spawn(r, a.handle, nil)
	}
	finish := a.begin(c.s, r)
	if a.reuseFrame {
		// Produce: Backend.Append has copied the records into the
		// proposal before returning (core/partition Service.Append
		// encodes them into a new command buffer), and finish only
		// waits for the commits.
		r.releaseFrame()
	}
	if finish == nil {
		c.s.observe(r, 0, 0)
		return true
	}
	// A failed SASL exchange: its answer goes out, then the connection
	// closes (serve drains the queue before it fails the connection).
	return c.spawn(r, nil, finish) && !c.sasl.closeAfter
}

// slot returns a free slot, waiting while maxInFlightPerConn requests are
// in flight. It returns nil when the connection fails.
func (c *conn) slot() *slot {
	select {
	case sl := <-c.free:
		return sl
	default:
	}
	if c.nslots < maxInFlightPerConn {
		c.nslots++
		return &slot{}
	}
	select {
	case sl := <-c.free:
		return sl
	case <-c.ctx.Done():
		return nil
	}
}

// spawn reserves r's slot in the response order and runs handle or finish
// for it in a new goroutine. It blocks while too many requests are in
// flight.
func (c *conn) spawn(r *request, handle handleFunc, finish func(context.Context) kmsg.Response) bool {
	sl := c.slot()
	if sl == nil {
		return false
	}
	sl.r, sl.handle, sl.finish = r, handle, finish
	c.inflight.Add(1)
	c.queue <- sl // never blocks: there are no more slots than its capacity
	c.handlers.Add(1)
	go c.run(sl)
	return true
}

func (c *conn) run(sl *slot) {
	defer c.handlers.Done()
	r := sl.r
	defer func() {
		if p := recover(); p != nil {
			// The slot is never completed: the writer stops at it and the
			// connection closes. The process must not die on client input.
			c.s.log.Error("kafka: panic in handler, closing connection", "api", kmsg.NameForKey(r.key),
				"version", r.version, "remote", c.nc.RemoteAddr().String(), "panic", p, "stack", string(debug.Stack()))
			c.fail()
		}
	}()
	if r.finished != nil {
		defer close(r.finished)
		if r.after != nil {
			select {
			case <-r.after:
			case <-c.ctx.Done():
				// The connection failed, so the response would not be
				// written; running now could overtake the previous
				// request.
				return
			}
		}
	}
	var resp kmsg.Response
	if sl.finish != nil {
		resp = sl.finish(c.ctx)
	} else {
		resp = sl.handle(c.ctx, c.s, r)
		if lookupAPI(r.key).reuseFrame {
			r.releaseFrame()
		}
	}
	buf := bufPool.Get(responseSizeHint(resp))
	*buf = appendResponse((*buf)[:0], r, resp)
	// Counted before the response can reach the client, so that a client
	// (or a test) that has its answer sees it in the metrics.
	c.s.observe(r, firstErrorCode(resp), len(*buf))
	c.complete(sl, buf)
}

// complete hands a slot's response to the writer; the slot is the writer's
// from then on.
func (c *conn) complete(sl *slot, buf *[]byte) {
	sl.buf = buf
	sl.done.Store(true)
	select {
	case c.ready <- struct{}{}:
	default: // a token is pending already; the writer rechecks every slot
	}
}

// responseSizeHint is what a response's buffer is first allocated with:
// enough for a fetch response's records, so they are not copied twice.
func responseSizeHint(resp kmsg.Response) int {
	n := 256
	if f, ok := resp.(*kmsg.FetchResponse); ok {
		for i := range f.Topics {
			for j := range f.Topics[i].Partitions {
				n += 64 + len(f.Topics[i].Partitions[j].RecordBatches)
			}
		}
	}
	return n
}

// answerUnsupportedAPIVersions answers an ApiVersions request at a version we
// do not serve with a v0 response carrying UNSUPPORTED_VERSION and our whole
// table, as Kafka does, so the client can pick a version (KIP-511).
func (c *conn) answerUnsupportedAPIVersions(r *request) bool {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = c.s.apiTable()
	// The response header is v0 whatever the request version (r.msg is
	// nil, so flexibleResponseHeader is false).
	sl := c.slot()
	if sl == nil {
		return false
	}
	sl.r = r
	buf := bufPool.Get(256 + 8*len(advertised))
	*buf = appendResponse((*buf)[:0], r, resp)
	c.s.observe(r, resp.ErrorCode, len(*buf)) // before the client can have its answer
	c.complete(sl, buf)
	c.inflight.Add(1)
	c.queue <- sl
	return true
}

// writeLoop writes the responses in request order. When several are ready
// it writes them with one writev (net.Buffers), so pipelined requests cost
// one syscall per burst instead of one each; it never waits for more.
func (c *conn) writeLoop() {
	var next *slot // taken from queue, not yet done
	for {
		sl := next
		next = nil
		if sl == nil {
			var ok bool
			if sl, ok = <-c.queue; !ok {
				return
			}
		}
		if !c.waitDone(sl) {
			return
		}
		c.batch = append(c.batch[:0], sl)
		c.bufs = append(c.bufs[:0], *sl.buf)
	gather:
		for {
			select {
			case more, ok := <-c.queue:
				if !ok {
					break gather // the next receive returns !ok too
				}
				if !more.done.Load() {
					next = more
					break gather
				}
				c.batch = append(c.batch, more)
				c.bufs = append(c.bufs, *more.buf)
			default:
				break gather
			}
		}
		c.wv = c.bufs // WriteTo consumes wv; bufs keeps the backing array
		_, err := c.wv.WriteTo(c.nc)
		c.active()
		clear(c.bufs)
		for _, sl := range c.batch {
			bufPool.Put(sl.buf)
			sl.r, sl.handle, sl.finish, sl.buf = nil, nil, nil, nil
			sl.done.Store(false)
			c.inflight.Add(-1)
			c.free <- sl // never blocks: free holds every slot
		}
		clear(c.batch)
		if err != nil {
			c.log.Debug("kafka: write failed, closing connection", "err", err)
			c.fail()
			return
		}
	}
}

// waitDone waits until sl's response is set; false if the connection failed
// first.
func (c *conn) waitDone(sl *slot) bool {
	for !sl.done.Load() {
		select {
		case <-c.ready:
		case <-c.ctx.Done():
			return false
		}
	}
	return true
}

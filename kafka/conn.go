package kafka

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
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

	// ctx ends when the connection fails (client gone, protocol error,
	// write error) or the server aborts; handlers run under it.
	ctx    context.Context
	cancel context.CancelFunc

	// queue holds one slot per request awaiting its response, in request
	// order. Only the reader sends and closes it.
	queue    chan *slot
	handlers sync.WaitGroup
	failOnce sync.Once
}

// slot is the place of one response in a connection's ordered queue.
type slot struct {
	done chan struct{} // closed once buf is set
	buf  []byte        // the framed response
}

const readBufferSize = 16 << 10

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		s:         s,
		nc:        nc,
		br:        bufio.NewReaderSize(nc, readBufferSize),
		log:       s.log.With("remote", nc.RemoteAddr().String()),
		principal: anonymous,
		queue:     make(chan *slot, maxInFlightPerConn),
	}
	c.ctx, c.cancel = context.WithCancel(context.WithValue(s.baseCtx, remoteAddrKey{}, nc.RemoteAddr()))
	return c
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

func (c *conn) serve() {
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
		r, err := readRequest(c.br, c.s.cfg.MaxRequestBytes)
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
	if err := c.s.cfg.Authorizer.Authorize(c.ctx, c.principal, r.key, r.msg); err != nil {
		c.s.warn("kafka: request denied, closing connection", "remote", c.nc.RemoteAddr().String(),
			"principal", c.principal, "api", kmsg.NameForKey(r.key), "err", err)
		c.fail()
		return false
	}
	a := lookupAPI(r.key)
	if a.begin == nil {
		return c.spawn(r, func(ctx context.Context) kmsg.Response { return a.handle(ctx, c.s, r) })
	}
	finish := a.begin(c.s, r)
	if finish == nil {
		c.s.observe(r, 0, 0)
		return true
	}
	return c.spawn(r, finish)
}

// spawn reserves r's slot in the response order and runs fn for it in a new
// goroutine. It blocks while the queue is full.
func (c *conn) spawn(r *request, fn func(context.Context) kmsg.Response) bool {
	sl := &slot{done: make(chan struct{})}
	select {
	case c.queue <- sl:
	case <-c.ctx.Done():
		return false
	}
	c.handlers.Add(1)
	go c.run(r, sl, fn)
	return true
}

func (c *conn) run(r *request, sl *slot, fn func(context.Context) kmsg.Response) {
	defer c.handlers.Done()
	defer func() {
		if p := recover(); p != nil {
			// The slot is never completed: the writer stops at it and the
			// connection closes. The process must not die on client input.
			c.s.log.Error("kafka: panic in handler, closing connection", "api", kmsg.NameForKey(r.key),
				"version", r.version, "remote", c.nc.RemoteAddr().String(), "panic", p, "stack", string(debug.Stack()))
			c.fail()
		}
	}()
	resp := fn(c.ctx)
	sl.buf = appendResponse(make([]byte, 0, 256), r, resp)
	n := len(sl.buf)
	close(sl.done)
	c.s.observe(r, firstErrorCode(resp), n)
}

// answerUnsupportedAPIVersions answers an ApiVersions request at a version we
// do not serve with a v0 response carrying UNSUPPORTED_VERSION and our whole
// table, as Kafka does, so the client can pick a version (KIP-511).
func (c *conn) answerUnsupportedAPIVersions(r *request) bool {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = advertised
	// The response header is v0 whatever the request version (r.msg is
	// nil, so flexibleResponseHeader is false).
	sl := &slot{done: make(chan struct{}), buf: appendResponse(nil, r, resp)}
	n := len(sl.buf) // the writer owns sl once it is queued
	close(sl.done)
	select {
	case c.queue <- sl:
	case <-c.ctx.Done():
		return false
	}
	c.s.observe(r, resp.ErrorCode, n)
	return true
}

func (c *conn) writeLoop() {
	for sl := range c.queue {
		select {
		case <-sl.done:
		case <-c.ctx.Done():
			return
		}
		if _, err := c.nc.Write(sl.buf); err != nil {
			c.log.Debug("kafka: write failed, closing connection", "err", err)
			c.fail()
			return
		}
		sl.buf = nil
	}
}

package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/core/telemetry"
)

// Config is the Kafka listener's behaviour. core/broker fills it from
// config.Config: Addr from KafkaAddr, the rest from the [kafka] section.
// Zero values get the defaults below, so tests can set only what they need.
type Config struct {
	// Addr is the listen address (host:port; port 0 picks a free one).
	Addr string
	// Listener, when set, is used instead of listening on Addr (the broker
	// binds early when Addr's port is 0, so that it can advertise the port
	// it got); Close closes it.
	Listener net.Listener
	// MaxRequestBytes is the largest request frame accepted (default
	// 100 MiB, Kafka's socket.request.max.bytes).
	MaxRequestBytes int32
	// AutoCreateTopics creates unknown topics requested through Metadata
	// (not through Produce).
	AutoCreateTopics bool
	// DefaultPartitions and DefaultReplicationFactor resolve -1 in
	// CreateTopics responses for validate-only requests (default 1); the
	// backend applies the same defaults when it creates a topic.
	DefaultPartitions        int32
	DefaultReplicationFactor int16
	// MaxPartitionsPerTopic bounds CreateTopics (default 10000).
	MaxPartitionsPerTopic int32
	// Authorizer is asked about every request before its handler runs; nil
	// allows everything.
	Authorizer Authorizer
	// Groups is the consumer-group coordinator (groups.go); nil answers
	// the group APIs with COORDINATOR_NOT_AVAILABLE.
	Groups Groups
	// Txns is the transaction coordinator (txns.go); nil answers the
	// transaction APIs with COORDINATOR_NOT_AVAILABLE.
	Txns Txns
	// TLS, when set, makes the listener speak TLS only. With client
	// certificates required, a connection's principal is "User:" and the
	// certificate's subject (Kafka's default SSL principal).
	TLS *tls.Config
	// SASL, when set, requires every connection to authenticate first
	// (sasl.go).
	SASL *SASL
	// Tracer, when set, records a span per request (tracing.go); nil
	// traces nothing and costs nothing.
	Tracer trace.Tracer
	// Credentials keeps the users' SCRAM credentials for
	// Describe/AlterUserScramCredentials (credentials.go); nil answers
	// them with an error.
	Credentials CredentialStore
	// SuperUsers are the principals ("User:alice") allowed everything
	// (Kafka's super.users); without ACLs, they alone may describe and
	// alter SCRAM credentials.
	SuperUsers []string
	// ACLs, when set, authorizes every request against the cluster's
	// access control lists (authz.go) and serves the ACL APIs; nil allows
	// everything and answers the ACL APIs with SECURITY_DISABLED.
	ACLs ACLStore
	// Quotas keeps the client quotas this listener enforces
	// (quotas.go) and DescribeClientQuotas/AlterClientQuotas serve; nil
	// enforces none and answers those APIs with an error.
	Quotas QuotaStore
	// MaxConnections and MaxConnectionsPerIP bound the connections served
	// at once, in all and from one address (Kafka's max.connections and
	// max.connections.per.ip); one more is closed as soon as it is
	// accepted. 0: no limit.
	MaxConnections      int
	MaxConnectionsPerIP int
	// ConnectionsMaxIdle closes a connection that has had no request in
	// progress and sent none for this long (Kafka's
	// connections.max.idle.ms); 0: never.
	ConnectionsMaxIdle time.Duration
	// QuotaWindow is the length of one of the windows quotas measure
	// rates in (default 1 s, Kafka's quota.window.size.seconds).
	QuotaWindow time.Duration
	// AllowIfNoACL allows an operation on a resource no ACL applies to
	// (Kafka's allow.everyone.if.no.acl.found); by default it is denied.
	AllowIfNoACL bool
}

// Defaults applied by New to zero fields of Config.
const (
	DefaultMaxRequestBytes       = 100 << 20
	DefaultMaxPartitionsPerTopic = 10000
)

// maxInFlightPerConn bounds the requests of one connection that have been
// read but not yet answered. When it is reached the connection stops reading.
const maxInFlightPerConn = 64

// anonymous is the principal of a connection that neither authenticated
// with SASL nor presented a client certificate.
const anonymous = "User:ANONYMOUS"

// Authorizer decides whether principal may issue req. A non-nil error denies
// the request; the connection is then closed (see the package doc). It is
// called on the connection's reader goroutine, in request order, and must be
// fast and safe for concurrent use by many connections. It must not keep byte
// slices of req: record batches alias a pooled frame buffer.
type Authorizer interface {
	Authorize(ctx context.Context, principal string, key int16, req kmsg.Request) error
}

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(ctx context.Context, principal string, key int16, req kmsg.Request) error

// Authorize calls f.
func (f AuthorizerFunc) Authorize(ctx context.Context, principal string, key int16, req kmsg.Request) error {
	return f(ctx, principal, key, req)
}

// allowAll is the default Authorizer.
var allowAll = AuthorizerFunc(func(context.Context, string, int16, kmsg.Request) error { return nil })

// Server is the Kafka listener of one broker.
type Server struct {
	// sensors measure the traffic under quotas (quotas.go).
	sensors quotaSensors
	cfg     Config
	backend Backend
	metrics *telemetry.Metrics
	log     *slog.Logger
	limiter logLimiter

	// appendTo is Backend.Append seen through the one method Produce uses.
	// It is a seam for this package's tests, whose in-memory backend cannot
	// build a *partition.Pending (its fields are private to core/partition).
	// txnID is the request's transactional ID, "" for none.
	appendTo func(tp partition.TP, txn partition.TxnProduce, records []byte) appendWaiter

	// baseCtx is the parent of every connection's context; cancelling it
	// is the hard stop.
	baseCtx    context.Context
	cancelBase context.CancelFunc
	// stopping is closed when Close begins: long-poll fetches answer early.
	stopping chan struct{}
	stopOnce sync.Once

	// conns counts connection goroutines (each waits for its handlers).
	conns sync.WaitGroup

	mu struct {
		sync.Mutex
		ln      net.Listener
		serving bool
		closing bool
		conns   map[*conn]struct{}
		perIP   map[string]int // live connections by peer address (connlimits.go)
	}
}

// New returns a Server that serves the Kafka protocol on cfg.Addr for b,
// recording into m and logging to log (nil for either means none). Call
// Listen, then Serve; Close stops it.
func New(cfg Config, b Backend, m *telemetry.Metrics, log *slog.Logger) *Server {
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.DefaultPartitions <= 0 {
		cfg.DefaultPartitions = 1
	}
	if cfg.DefaultReplicationFactor <= 0 {
		cfg.DefaultReplicationFactor = 1
	}
	if cfg.MaxPartitionsPerTopic <= 0 {
		cfg.MaxPartitionsPerTopic = DefaultMaxPartitionsPerTopic
	}
	if cfg.Authorizer == nil {
		cfg.Authorizer = allowAll
	}
	if cfg.QuotaWindow <= 0 {
		cfg.QuotaWindow = time.Second
	}
	if cfg.Groups == nil {
		cfg.Groups = noGroups{}
	}
	if cfg.Txns == nil {
		cfg.Txns = noTxns{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		// The broker always passes its instruments; a nil here must not
		// turn every request into a panic.
		m, _ = telemetry.NewMetrics(noop.NewMeterProvider().Meter("kafka"))
	}
	s := &Server{
		cfg:      cfg,
		backend:  b,
		metrics:  m,
		log:      log,
		stopping: make(chan struct{}),
	}
	s.appendTo = func(tp partition.TP, txn partition.TxnProduce, records []byte) appendWaiter {
		if txn.ID != "" {
			return b.AppendTransactional(tp, txn, records)
		}
		return b.Append(tp, records)
	}
	s.baseCtx, s.cancelBase = context.WithCancel(context.Background())
	s.mu.conns = make(map[*conn]struct{})
	s.mu.perIP = make(map[string]int)
	return s
}

// Listen binds the listen address. It fails if the address is in use.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.ln != nil {
		return errors.New("kafka: Listen called twice")
	}
	if s.mu.closing {
		return errors.New("kafka: server is closed")
	}
	ln := s.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.Addr); err != nil {
			return fmt.Errorf("kafka: listen on %s: %w", s.cfg.Addr, err)
		}
	}
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	s.mu.ln = ln
	return nil
}

// Addr is the bound address, nil before Listen.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.ln == nil {
		return nil
	}
	return s.mu.ln.Addr()
}

// Serve accepts connections until Close is called (it then returns nil) or
// ctx ends. Cancelling ctx is a hard stop: the listener and every connection
// are closed at once and Serve returns ctx.Err(); call Close afterwards to
// wait for the connection goroutines.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	ln := s.mu.ln
	switch {
	case ln == nil:
		s.mu.Unlock()
		return errors.New("kafka: Serve called before Listen")
	case s.mu.serving:
		s.mu.Unlock()
		return errors.New("kafka: Serve called twice")
	}
	s.mu.serving = true
	s.mu.Unlock()

	stop := context.AfterFunc(ctx, s.abort)
	defer stop()
	reapCtx, stopReaping := context.WithCancel(ctx)
	defer stopReaping()
	go s.reapIdle(reapCtx)
	s.log.Info("kafka listener serving", "addr", ln.Addr().String())

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if s.isClosing() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: back off instead
			// of spinning, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.warn("accept failed, retrying", "err", err, "backoff", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.stopping:
				t.Stop()
			}
			continue
		}
		backoff = 0
		s.startConn(nc)
	}
}

func (s *Server) startConn(nc net.Conn) {
	s.mu.Lock()
	if s.mu.closing {
		s.mu.Unlock()
		_ = nc.Close()
		return
	}
	host := hostOf(nc.RemoteAddr())
	if ok, limit := s.admit(host); !ok {
		s.mu.Unlock()
		_ = nc.Close()
		s.warn("kafka: connection refused: "+limit+" reached", "remote", nc.RemoteAddr().String())
		s.metrics.ConnectionsRefused.Add(context.Background(), 1)
		return
	}
	c := newConn(s, nc)
	s.mu.conns[c] = struct{}{}
	s.conns.Add(1)
	s.mu.Unlock()

	go func() {
		defer s.conns.Done()
		c.serve()
		s.mu.Lock()
		delete(s.mu.conns, c)
		s.release(host)
		s.mu.Unlock()
	}()
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.closing
}

// beginClose stops accepting and reading. It returns the live connections.
func (s *Server) beginClose() []*conn {
	s.stopOnce.Do(func() { close(s.stopping) })
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.closing = true
	if s.mu.ln != nil {
		_ = s.mu.ln.Close()
	}
	conns := make([]*conn, 0, len(s.mu.conns))
	for c := range s.mu.conns {
		conns = append(conns, c)
	}
	return conns
}

// abort is the hard stop: everything is cancelled and closed now.
func (s *Server) abort() {
	for _, c := range s.beginClose() {
		c.fail()
	}
	s.cancelBase()
}

// Close shuts the server down gracefully: it stops accepting and reading,
// lets the requests already read finish and their responses be written, then
// closes the connections. If ctx ends first, the remaining requests are
// cancelled and the connections closed; Close then still waits for every
// goroutine to exit and returns ctx.Err(). Close may be called more than once
// and concurrently with Serve.
func (s *Server) Close(ctx context.Context) error {
	for _, c := range s.beginClose() {
		c.stopReading()
	}
	done := make(chan struct{})
	go func() {
		s.conns.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancelBase()
		return nil
	case <-ctx.Done():
		s.abort()
		<-done
		return ctx.Err()
	}
}

// warn logs a protocol-level warning, rate-limited across the server so that
// a misbehaving client cannot flood the log.
func (s *Server) warn(msg string, args ...any) {
	ok, dropped := s.limiter.allow(time.Now())
	if !ok {
		return
	}
	if dropped > 0 {
		args = append(args, "suppressed", dropped)
	}
	s.log.Warn(msg, args...)
}

// logLimiter is a token bucket for log lines: a burst of logBurst, then one
// per logEvery. It counts what it drops so the next line can say so.
type logLimiter struct {
	mu      sync.Mutex
	tokens  float64
	last    time.Time
	dropped int
}

const (
	logBurst = 10
	logEvery = time.Second
)

func (l *logLimiter) allow(now time.Time) (ok bool, dropped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last.IsZero() {
		l.tokens = logBurst
	} else {
		l.tokens = min(logBurst, l.tokens+float64(now.Sub(l.last))/float64(logEvery))
	}
	l.last = now
	if l.tokens < 1 {
		l.dropped++
		return false, 0
	}
	l.tokens--
	dropped, l.dropped = l.dropped, 0
	return true, dropped
}

var _ Authorizer = AuthorizerFunc(nil)

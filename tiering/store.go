package tiering

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/chronik-go/chronik/tiering/driver"
)

// Store is the portable object store the broker uses. It wraps a backend's
// driver.Bucket and adds the key prefix, key checks, retries of Throttled and
// Transient failures with exponential backoff and jitter, classified errors
// (*Error, matching this package's sentinels) and metrics. A Store is safe
// for concurrent use.
type Store struct {
	shared *shared
	prefix string // "" or ending in "/"
}

// shared is what a Store and its Sub views have in common.
type shared struct {
	bucket   driver.Bucket
	provider string
	desc     string
	retry    RetryPolicy
	metrics  *metrics
	logger   *slog.Logger
	closed   atomic.Bool
}

// New wraps a driver's bucket. Most callers use Registry.OpenURL or
// Registry.Open instead, which call New.
func New(b driver.Bucket, opts ...Option) (*Store, error) {
	o := options{provider: "custom", retry: DefaultRetryPolicy()}
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.retry.Validate(); err != nil {
		return nil, fmt.Errorf("tiering: %w", err)
	}
	prefix, err := cleanPrefix(o.prefix)
	if err != nil {
		return nil, fmt.Errorf("tiering: %w", err)
	}
	m, err := newMetrics(o.meter, o.provider)
	if err != nil {
		return nil, err
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.desc == "" {
		o.desc = o.provider
	}
	return &Store{
		shared: &shared{bucket: b, provider: o.provider, desc: o.desc, retry: o.retry, metrics: m, logger: o.logger},
		prefix: prefix,
	}, nil
}

// Provider returns the name of the backend behind the store.
func (s *Store) Provider() string { return s.shared.provider }

// Prefix returns the key prefix the store adds ("" or ending in "/").
func (s *Store) Prefix() string { return s.prefix }

// String describes the store for logs, without secrets.
func (s *Store) String() string {
	if s.prefix == "" {
		return s.shared.desc
	}
	return s.shared.desc + " (prefix " + s.prefix + ")"
}

// Sub returns a view of the store whose keys live under prefix inside this
// store's prefix ("segments", "snapshots"). It shares the bucket, so closing
// either one closes both.
func (s *Store) Sub(prefix string) (*Store, error) {
	p, err := cleanPrefix(prefix)
	if err != nil {
		return nil, fmt.Errorf("tiering: %w", err)
	}
	if len(s.prefix)+len(p) > MaxKeyLen {
		return nil, fmt.Errorf("tiering: prefix %q%q is longer than %d bytes", s.prefix, p, MaxKeyLen)
	}
	return &Store{shared: s.shared, prefix: s.prefix + p}, nil
}

// Bucket returns the driver's bucket, for tests and diagnostics.
func (s *Store) Bucket() driver.Bucket { return s.shared.bucket }

// Close closes the bucket. Operations after Close fail with ErrClosed. A
// view returned by Sub closes the bucket it shares too.
func (s *Store) Close() error {
	if s.shared.closed.Swap(true) {
		return nil
	}
	if err := s.shared.bucket.Close(); err != nil {
		return fmt.Errorf("tiering: close %s: %w", s.shared.desc, err)
	}
	return nil
}

// Put writes the object key with the bytes of r; size is their exact number,
// or -1 if unknown. If r yields a different number of bytes than size, the
// put fails with ErrInvalidArgument and stores nothing. A put is retried
// only if r is an io.Seeker (a file, a bytes.Reader): it is rewound to where
// it was first.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	full, err := s.key(opPut, key)
	if err != nil {
		return err
	}
	if size < -1 {
		return s.invalid(opPut, full, fmt.Errorf("size %d: want the byte count, or -1 if unknown", size))
	}
	start := time.Now()
	seeker, canRewind := r.(io.Seeker)
	var pos int64
	if canRewind {
		if pos, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			canRewind = false
		}
	}
	var written int64
	canRetry := func() bool { return canRewind || written == 0 }
	err = s.do(ctx, opPut, full, canRetry, func(attempt int) error {
		if attempt > 1 && canRewind {
			if _, err := seeker.Seek(pos, io.SeekStart); err != nil {
				return fmt.Errorf("rewinding the data for a retry: %w", err)
			}
		}
		cr := &countingReader{r: r}
		var body io.Reader = cr
		if size >= 0 {
			body = &exactReader{r: cr, left: size}
		}
		err := s.shared.bucket.Put(ctx, full, body, size)
		written = cr.n
		return err
	})
	s.finish(ctx, opPut, start, err)
	if err == nil {
		s.shared.metrics.addBytes(ctx, opPut, "ok", written)
	}
	return err
}

// Open reads the whole object key. The caller closes the reader.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	return s.OpenRange(ctx, key, 0, -1)
}

// OpenRange reads length bytes of the object key from byte offset (-1: to
// the end). A range past the end is cut at the end. Only the opening is
// retried; an error while reading the body is returned as it is.
func (s *Store) OpenRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	full, err := s.key(opGet, key)
	if err != nil {
		return nil, err
	}
	if offset < 0 || length < -1 {
		return nil, s.invalid(opGet, full, fmt.Errorf("range offset %d length %d: want offset >= 0 and length >= 0 or -1", offset, length))
	}
	start := time.Now()
	var rc io.ReadCloser
	err = s.do(ctx, opGet, full, nil, func(int) error {
		if length == 0 {
			// Drivers never see an empty range (S3 cannot express one):
			// an existing object reads as nothing.
			if _, err := s.shared.bucket.Stat(ctx, full); err != nil {
				return err
			}
			rc = io.NopCloser(bytes.NewReader(nil))
			return nil
		}
		var err error
		rc, err = s.shared.bucket.Open(ctx, full, offset, length)
		return err
	})
	s.finish(ctx, opGet, start, err)
	if err != nil {
		return nil, err
	}
	return &readCloser{s: s, ctx: ctx, key: full, rc: rc}, nil
}

// ReadAll reads the whole object key into memory.
func (s *Store) ReadAll(ctx context.Context, key string) ([]byte, error) {
	rc, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Stat returns the object's attributes.
func (s *Store) Stat(ctx context.Context, key string) (driver.Attributes, error) {
	full, err := s.key(opStat, key)
	if err != nil {
		return driver.Attributes{}, err
	}
	start := time.Now()
	var a driver.Attributes
	err = s.do(ctx, opStat, full, nil, func(int) error {
		var err error
		a, err = s.shared.bucket.Stat(ctx, full)
		return err
	})
	s.finish(ctx, opStat, start, err)
	return a, err
}

// Delete removes the object key; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	full, err := s.key(opDelete, key)
	if err != nil {
		return err
	}
	start := time.Now()
	err = s.do(ctx, opDelete, full, nil, func(int) error {
		return s.shared.bucket.Delete(ctx, full)
	})
	s.finish(ctx, opDelete, start, err)
	return err
}

// List calls fn for every object whose key (without the store's prefix)
// starts with prefix, in ascending key order; Object.Key is relative to the
// store's prefix. If fn returns SkipAll, List stops and returns nil; any
// other error from fn stops List and is returned as it is. A listing that
// fails part way is retried from after the last key fn saw, so fn sees each
// key at most once.
func (s *Store) List(ctx context.Context, prefix string, fn func(driver.Object) error) error {
	full := s.prefix + prefix
	if err := checkChars(prefix); prefix != "" && err != nil {
		return s.invalid(opList, full, err)
	}
	if err := s.open(opList, full); err != nil {
		return err
	}
	start := time.Now()
	var (
		last    string
		started bool
		fnErr   error
	)
	err := s.do(ctx, opList, full, nil, func(int) error {
		return s.shared.bucket.List(ctx, full, func(o driver.Object) error {
			if started && o.Key <= last {
				return nil // already seen before a retry
			}
			if len(o.Key) < len(s.prefix) || o.Key[:len(s.prefix)] != s.prefix {
				return fmt.Errorf("backend listed key %q outside prefix %q", o.Key, full)
			}
			last, started = o.Key, true
			o.Key = o.Key[len(s.prefix):]
			if err := fn(o); err != nil {
				fnErr = err
				return errStopList
			}
			return nil
		})
	})
	if fnErr != nil && errors.Is(err, errStopList) {
		err = nil
		if !errors.Is(fnErr, SkipAll) {
			err = fnErr
		}
		s.finish(ctx, opList, start, nil)
		return err
	}
	s.finish(ctx, opList, start, err)
	return err
}

// errStopList is what the Store's own List callback returns to a driver to
// stop a listing on the caller's behalf.
var errStopList = errors.New("tiering: listing stopped by the caller")

func (s *Store) key(op int, key string) (string, error) {
	full := s.prefix + key
	if err := CheckKey(key); err != nil {
		return full, s.invalid(op, full, err)
	}
	if len(full) > MaxKeyLen {
		return full, s.invalid(op, full, fmt.Errorf("key with prefix is %d bytes long, more than %d", len(full), MaxKeyLen))
	}
	return full, s.open(op, full)
}

func (s *Store) open(op int, full string) error {
	if s.shared.closed.Load() {
		return &Error{Provider: s.shared.provider, Op: opNames[op], Key: full, Kind: driver.Unknown, Err: ErrClosed}
	}
	return nil
}

func (s *Store) invalid(op int, full string, err error) error {
	s.shared.metrics.record(context.Background(), op, driver.InvalidArgument.String(), 0)
	return &Error{Provider: s.shared.provider, Op: opNames[op], Key: full, Kind: driver.InvalidArgument, Err: err}
}

func (s *Store) finish(ctx context.Context, op int, start time.Time, err error) {
	s.shared.metrics.record(ctx, op, outcome(ctx, err), time.Since(start).Seconds())
}

// do runs attempt until it succeeds, fails with an error that is not
// retryable, runs out of attempts or ctx ends; it returns nil or an *Error.
// canRetry, if not nil, vetoes a retry (a put whose reader cannot rewind).
func (s *Store) do(ctx context.Context, op int, full string, canRetry func() bool, attempt func(n int) error) error {
	p := s.shared.retry
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return s.wrap(ctx, op, full, err)
		}
		err := attempt(n)
		if err == nil {
			return nil
		}
		if errors.Is(err, errStopList) {
			return err
		}
		e := s.wrap(ctx, op, full, err)
		if (canRetry != nil && !canRetry()) || n >= p.MaxAttempts || e.ctxErr != nil || !e.Kind.Retryable() {
			return e
		}
		wait := backoff(p, n)
		s.shared.metrics.retried(ctx, op, e.Kind)
		s.shared.logger.DebugContext(ctx, "tiering: retrying", "store", s.shared.desc, "op", opNames[op],
			"key", full, "attempt", n, "backoff", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return s.wrap(ctx, op, full, err)
		case <-t.C:
		}
	}
}

// backoff is the wait after failed attempt n (1-based): the capped
// exponential delay, jittered into its upper half so waits still grow.
func backoff(p RetryPolicy, n int) time.Duration {
	d := p.InitialBackoff
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

func (s *Store) wrap(ctx context.Context, op int, full string, err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	e := &Error{Provider: s.shared.provider, Op: opNames[op], Key: full, Err: err, ctxErr: ctx.Err()}
	switch {
	case errors.Is(err, errSizeMismatch):
		e.Kind = driver.InvalidArgument
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		if e.ctxErr == nil {
			// A driver's internal timeout: worth another attempt.
			e.Kind = driver.Transient
		}
	default:
		e.Kind = s.shared.bucket.ErrorKind(err)
	}
	return e
}

// errSizeMismatch marks a Put whose reader did not yield the promised size.
var errSizeMismatch = errors.New("the data does not match the given size")

// exactReader passes through exactly left bytes of r and fails if r has
// fewer or more, so that a driver aborts the write instead of storing a
// truncated or overlong object.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		// Everything promised was read: r must be at its end.
		var probe [1]byte
		for range 100 {
			n, err := e.r.Read(probe[:])
			switch {
			case n > 0:
				return 0, fmt.Errorf("%w: the reader has more bytes", errSizeMismatch)
			case errors.Is(err, io.EOF):
				return 0, io.EOF
			case err != nil:
				return 0, err
			}
		}
		return 0, io.ErrNoProgress
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if errors.Is(err, io.EOF) {
		if e.left > 0 {
			return n, fmt.Errorf("%w: the reader ended %d bytes early", errSizeMismatch, e.left)
		}
		// Hand the EOF on only after the probe above has run.
		err = nil
		if n == 0 {
			return e.Read(p)
		}
	}
	return n, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readCloser counts the bytes read from an opened object and records them
// when closed.
type readCloser struct {
	s      *Store
	ctx    context.Context // the metrics of one read, recorded at Close
	key    string
	rc     io.ReadCloser
	n      int64
	err    error
	closed bool
}

func (r *readCloser) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		w := r.s.wrap(r.ctx, opGet, r.key, err)
		r.err = w
		return n, w
	}
	return n, err
}

func (r *readCloser) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.s.shared.metrics.addBytes(r.ctx, opGet, outcome(r.ctx, r.err), r.n)
	if err := r.rc.Close(); err != nil {
		return r.s.wrap(r.ctx, opGet, r.key, err)
	}
	return nil
}

package tiering_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/chronik-go/chronik/plugins/memstore"
	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
)

// flaky wraps a bucket and fails the next calls of an operation with
// errors of the given kinds.
type flaky struct {
	driver.Bucket
	mu       sync.Mutex
	failures map[string][]driver.Kind
	calls    map[string]int
	// listFailAfter makes a failing List deliver this many objects first.
	listFailAfter int
}

type kindError struct{ kind driver.Kind }

func (e *kindError) Error() string { return "injected " + e.kind.String() + " error" }

func newFlaky() *flaky {
	return &flaky{
		Bucket:   memstore.Open(memstore.NewConfig()),
		failures: map[string][]driver.Kind{},
		calls:    map[string]int{},
	}
}

func (f *flaky) fail(op string, kinds ...driver.Kind) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[op] = append(f.failures[op], kinds...)
}

func (f *flaky) next(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if len(f.failures[op]) == 0 {
		return nil
	}
	k := f.failures[op][0]
	f.failures[op] = f.failures[op][1:]
	return &kindError{k}
}

func (f *flaky) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *flaky) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := f.next("put"); err != nil {
		// Consume some data first, as a real upload would.
		_, _ = io.CopyN(io.Discard, r, 1)
		return err
	}
	return f.Bucket.Put(ctx, key, r, size)
}

func (f *flaky) Open(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if err := f.next("get"); err != nil {
		return nil, err
	}
	return f.Bucket.Open(ctx, key, off, n)
}

func (f *flaky) Stat(ctx context.Context, key string) (driver.Attributes, error) {
	if err := f.next("stat"); err != nil {
		return driver.Attributes{}, err
	}
	return f.Bucket.Stat(ctx, key)
}

func (f *flaky) List(ctx context.Context, prefix string, fn func(driver.Object) error) error {
	err := f.next("list")
	n := 0
	lerr := f.Bucket.List(ctx, prefix, func(o driver.Object) error {
		if err != nil && n == f.listFailAfter {
			return err
		}
		n++
		return fn(o)
	})
	if lerr != nil {
		return lerr
	}
	return err
}

func (f *flaky) ErrorKind(err error) driver.Kind {
	if ke, ok := errors.AsType[*kindError](err); ok {
		return ke.kind
	}
	return f.Bucket.ErrorKind(err)
}

var fastRetry = tiering.RetryPolicy{MaxAttempts: 4, InitialBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}

func newStore(t *testing.T, b driver.Bucket, opts ...tiering.Option) *tiering.Store {
	t.Helper()
	s, err := tiering.New(b, append([]tiering.Option{tiering.WithRetry(fastRetry), tiering.WithProviderName("fake")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestRetries(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := newFlaky()
	s := newStore(t, f)

	// Throttled and Transient are retried; the seekable reader is rewound.
	f.fail("put", driver.Throttled, driver.Transient)
	if err := s.Put(ctx, "k", bytes.NewReader([]byte("data")), 4); err != nil {
		t.Fatalf("Put after two retryable failures: %v", err)
	}
	if got, err := s.ReadAll(ctx, "k"); err != nil || string(got) != "data" {
		t.Fatalf("ReadAll = %q, %v (the reader was not rewound?)", got, err)
	}
	if n := f.count("put"); n != 3 {
		t.Errorf("Put made %d attempts, want 3", n)
	}

	// Other kinds are not retried.
	f.fail("stat", driver.PermissionDenied)
	_, err := s.Stat(ctx, "k")
	if !errors.Is(err, tiering.ErrPermissionDenied) || tiering.KindOf(err) != driver.PermissionDenied {
		t.Fatalf("Stat = %v, want ErrPermissionDenied", err)
	}
	if n := f.count("stat"); n != 1 {
		t.Errorf("a PermissionDenied Stat was tried %d times", n)
	}

	// Attempts run out.
	f.fail("get", driver.Transient, driver.Transient, driver.Transient, driver.Transient, driver.Transient)
	_, err = s.Open(ctx, "k")
	if !errors.Is(err, tiering.ErrTransient) {
		t.Fatalf("Open after MaxAttempts transient failures = %v, want ErrTransient", err)
	}
	if n := f.count("get"); n != 1+fastRetry.MaxAttempts {
		t.Errorf("Open made %d attempts in all, want ReadAll's one and %d", n, fastRetry.MaxAttempts)
	}

	// A reader that cannot rewind is not retried once it was read from.
	before := f.count("put")
	f.fail("put", driver.Transient)
	err = s.Put(ctx, "k2", io.MultiReader(strings.NewReader("abc")), 3)
	if !errors.Is(err, tiering.ErrTransient) || f.count("put")-before != 1 {
		t.Fatalf("Put of a one-shot reader: %v after %d attempts, want one ErrTransient attempt", err, f.count("put")-before)
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	t.Parallel()
	f := newFlaky()
	s, err := tiering.New(f, tiering.WithRetry(tiering.RetryPolicy{MaxAttempts: 10, InitialBackoff: time.Hour, MaxBackoff: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	f.fail("stat", driver.Throttled)
	start := time.Now()
	_, err = s.Stat(ctx, "k")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, tiering.ErrThrottled) {
		t.Fatalf("Stat whose context ended in the backoff = %v, want DeadlineExceeded and ErrThrottled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the backoff outlived the context by %v", d)
	}
}

func TestListRetryResumes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := newFlaky()
	s := newStore(t, f)
	for _, k := range []string{"a", "b", "c", "d"} {
		if err := s.Put(ctx, k, strings.NewReader(k), 1); err != nil {
			t.Fatal(err)
		}
	}
	f.listFailAfter = 2
	f.fail("list", driver.Transient)
	var got []string
	if err := s.List(ctx, "", func(o driver.Object) error {
		got = append(got, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("List retried after two keys delivered %q, want each key once", got)
	}
	// SkipAll stops without an error; another error comes back as it is.
	got = nil
	if err := s.List(ctx, "", func(o driver.Object) error {
		got = append(got, o.Key)
		return tiering.SkipAll
	}); err != nil || len(got) != 1 {
		t.Fatalf("List with SkipAll: %v after %q", err, got)
	}
	mine := errors.New("mine")
	if err := s.List(ctx, "", func(driver.Object) error { return mine }); err != mine { //nolint:errorlint // must be unchanged
		t.Fatalf("List returned %v, want the callback's error unchanged", err)
	}
}

func TestKeysAndPrefix(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := newFlaky()
	s := newStore(t, f, tiering.WithPrefix("/base/"))
	if s.Prefix() != "base/" {
		t.Fatalf("Prefix = %q", s.Prefix())
	}
	for _, k := range []string{"", "/a", "a/", "a//b", "a/../b", ".", "a\\b", "a\x00b", "ctl\x01", strings.Repeat("x", 1020), "\xff"} {
		err := s.Put(ctx, k, strings.NewReader("x"), 1)
		if !errors.Is(err, tiering.ErrInvalidArgument) {
			t.Errorf("Put(%q) = %v, want ErrInvalidArgument", k, err)
		}
	}
	if n := f.count("put"); n != 0 {
		t.Errorf("invalid keys reached the driver %d times", n)
	}
	sub, err := s.Sub("segments")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Put(ctx, "t/0/1.seg", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Bucket.Stat(ctx, "base/segments/t/0/1.seg"); err != nil {
		t.Fatalf("Sub store wrote elsewhere: %v", err)
	}
	var keys []string
	_ = s.List(ctx, "seg", func(o driver.Object) error { keys = append(keys, o.Key); return nil })
	if !slices.Equal(keys, []string{"segments/t/0/1.seg"}) {
		t.Errorf("List(seg) = %q", keys)
	}
	if _, err := s.OpenRange(ctx, "segments/t/0/1.seg", -1, 2); !errors.Is(err, tiering.ErrInvalidArgument) {
		t.Errorf("negative offset: %v", err)
	}
	if err := s.Put(ctx, "k", strings.NewReader("x"), -2); !errors.Is(err, tiering.ErrInvalidArgument) {
		t.Errorf("size -2: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Stat(ctx, "t/0/1.seg"); !errors.Is(err, tiering.ErrClosed) {
		t.Errorf("Stat after Close = %v, want ErrClosed", err)
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	s := newStore(t, newFlaky(), tiering.WithPrefix("p"))
	_, err := s.Stat(t.Context(), "missing")
	want := `tiering: fake stat "p/missing": object not found: memstore: object not found: "p/missing"`
	if err == nil || err.Error() != want {
		t.Fatalf("error text:\n got %v\nwant %s", err, want)
	}
	if !errors.Is(err, tiering.ErrNotFound) || tiering.KindOf(err) != driver.NotFound || tiering.KindOf(errors.New("x")) != driver.Unknown {
		t.Fatal("classification lost")
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	f := newFlaky()
	s := newStore(t, f, tiering.WithMeter(mp.Meter("test")))
	f.fail("put", driver.Throttled)
	if err := s.Put(ctx, "k", bytes.NewReader(make([]byte, 100)), 100); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadAll(ctx, "k")
	if err != nil || len(got) != 100 {
		t.Fatal(err)
	}
	_, _ = s.Stat(ctx, "missing")

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	sums := map[string]int64{}
	var histCount uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					op, _ := p.Attributes.Value("op")
					oc, _ := p.Attributes.Value("outcome")
					pr, _ := p.Attributes.Value("provider")
					if pr.AsString() != "fake" {
						t.Errorf("%s has provider %q", m.Name, pr.AsString())
					}
					sums[m.Name+"/"+op.AsString()+"/"+oc.AsString()] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					histCount += p.Count
				}
			}
		}
	}
	for key, want := range map[string]int64{
		"tier_operations/put/ok":         1,
		"tier_operations/get/ok":         1,
		"tier_operations/stat/not_found": 1,
		"tier_retries/put/throttled":     1,
		"tier_bytes/put/ok":              100,
		"tier_bytes/get/ok":              100,
	} {
		if sums[key] != want {
			t.Errorf("%s = %d, want %d (all: %v)", key, sums[key], want, sums)
		}
	}
	if histCount != 3 {
		t.Errorf("tier_operation_duration has %d observations, want 3", histCount)
	}
}

func TestQuery(t *testing.T) {
	t.Parallel()
	u, _ := url.Parse("x://h?s=v&b&n=3&size=8MiB&d=1.5s&dup=1&dup=2&typo=1")
	q := tiering.NewQuery(u)
	var (
		s    string
		b    bool
		n    int
		size int64
		d    time.Duration
		dup  string
		none = "default"
	)
	q.String("s", &s)
	q.Bool("b", &b)
	q.Int("n", &n)
	q.Bytes("size", &size)
	q.Duration("d", &d)
	q.String("dup", &dup)
	q.String("absent", &none)
	if s != "v" || !b || n != 3 || size != 8<<20 || d != 1500*time.Millisecond || none != "default" {
		t.Errorf("parsed s=%q b=%v n=%d size=%d d=%v absent=%q", s, b, n, size, d, none)
	}
	err := q.Err()
	if err == nil || !strings.Contains(err.Error(), "unknown query parameter typo") || !strings.Contains(err.Error(), `"dup" is given 2 times`) {
		t.Errorf("Err = %v", err)
	}
	for in, want := range map[string]int64{"0": 0, "512": 512, "4KiB": 4096, "2GiB": 2 << 30} {
		if got, err := tiering.ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "-1", "1MB", "x"} {
		if _, err := tiering.ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) succeeded", bad)
		}
	}
}

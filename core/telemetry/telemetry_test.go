package telemetry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

func TestNewLogger(t *testing.T) {
	for _, level := range []string{"debug", "info", "warn", "error", "WARN", " Info "} {
		if _, err := NewLogger(level, io.Discard); err != nil {
			t.Errorf("NewLogger(%q) = %v", level, err)
		}
	}
	_, err := NewLogger("verbose", io.Discard)
	if err == nil || !strings.Contains(err.Error(), `log level "verbose" is not one of debug, info, warn, error`) {
		t.Fatalf("NewLogger(verbose) error = %v", err)
	}

	var buf bytes.Buffer
	log, err := NewLogger("warn", &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "partition", 3)
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, "level=WARN msg=shown partition=3") {
		t.Fatalf("output %q", out)
	}
}

// startServer starts an HTTPServer on a free port and closes it at cleanup.
func startServer(t *testing.T, p *Provider, ready func() error) *HTTPServer {
	t.Helper()
	s, err := StartHTTP("127.0.0.1:0", p, ready, nil, HTTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// get returns the status and body of GET http://addr/path.
func get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestHTTPServer(t *testing.T) {
	p, err := NewProvider()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })

	c, err := p.Meter("test").Int64Counter("test_events", metric.WithDescription("events in a test"))
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), 3, metric.WithAttributes(attribute.String("kind", "a")))
	m, err := NewMetrics(p.Meter("github.com/chronik-go/chronik/kafka"))
	if err != nil {
		t.Fatal(err)
	}
	m.BytesIn.Add(context.Background(), 100)
	m.Throttle.Add(context.Background(), 1.5)

	var notReady atomic.Pointer[error]
	starting := errors.New("starting: meta shard has no leader yet")
	notReady.Store(&starting)
	s := startServer(t, p, func() error {
		if e := notReady.Load(); e != nil {
			return *e
		}
		return nil
	})
	if _, port, _ := net.SplitHostPort(s.Addr()); port == "0" {
		t.Fatalf("Addr() = %q, want the bound port", s.Addr())
	}

	t.Run("healthz", func(t *testing.T) {
		if code, body := get(t, s.Addr(), "/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
			t.Fatalf("/healthz = %d %q", code, body)
		}
	})
	t.Run("readyz flips", func(t *testing.T) {
		if code, body := get(t, s.Addr(), "/readyz"); code != 503 || !strings.Contains(body, "meta shard has no leader yet") {
			t.Fatalf("/readyz before ready = %d %q", code, body)
		}
		notReady.Store(nil)
		if code, body := get(t, s.Addr(), "/readyz"); code != 200 || strings.TrimSpace(body) != "ready" {
			t.Fatalf("/readyz when ready = %d %q", code, body)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		code, body := get(t, s.Addr(), "/metrics")
		if code != 200 {
			t.Fatalf("/metrics = %d", code)
		}
		for _, want := range []string{
			`chronik_test_events_total{kind="a"} 3`,
			`chronik_kafka_bytes_in_total 100`,
			`chronik_kafka_throttle_seconds_total 1.5`,
			"go_goroutines ",
			"process_cpu_seconds_total ",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics has no %q\n%s", want, body)
			}
		}
		if strings.Contains(body, "otel_scope_name") {
			t.Error("/metrics carries otel_scope_* labels")
		}
	})
	t.Run("pprof", func(t *testing.T) {
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/goroutine?debug=1"} {
			if code, _ := get(t, s.Addr(), path); code != 200 {
				t.Errorf("%s = %d", path, code)
			}
		}
	})
	t.Run("added route", func(t *testing.T) {
		s.Mux().HandleFunc("GET /v1/cluster", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "cluster")
		})
		if code, body := get(t, s.Addr(), "/v1/cluster"); code != 200 || body != "cluster" {
			t.Fatalf("/v1/cluster = %d %q", code, body)
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		resp, err := http.Post("http://"+s.Addr()+"/healthz", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("POST /healthz = %d", resp.StatusCode)
		}
	})
}

func TestStartHTTPBusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = StartHTTP(ln.Addr().String(), nil, nil, nil, HTTPOptions{})
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("StartHTTP on a busy address = %v, want an error naming it", err)
	}
	if _, err := StartHTTP("127.0.0.1:notaport", nil, nil, nil, HTTPOptions{}); err == nil {
		t.Fatal("StartHTTP on a bad address succeeded")
	}
}

func TestHTTPServerClose(t *testing.T) {
	s, err := StartHTTP("127.0.0.1:0", nil, nil, nil, HTTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	if code, _ := get(t, addr, "/readyz"); code != 200 {
		t.Fatalf("/readyz with nil ready = %d", code)
	}
	if code, _ := get(t, addr, "/metrics"); code != 404 {
		t.Fatalf("/metrics without a Provider = %d, want 404", code)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("listener still accepts after Close")
	}
}

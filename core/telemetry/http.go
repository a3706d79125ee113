package telemetry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/chronik-go/chronik/core/adminhttp"
)

// HTTPServer serves the operational endpoints on one listener:
//
//	/metrics        Prometheus exposition of the Provider's registry
//	/healthz        200 "ok" while the process runs (liveness)
//	/readyz         200 "ready" when ready() returns nil, else 503 and the error (readiness)
//	/debug/pprof/   net/http/pprof, on this mux only (never http.DefaultServeMux)
//
// More routes (the admin API) are added on Mux. HTTPOptions can put the
// listener under TLS and every path but /metrics, /healthz and /readyz
// behind a bearer token (core/adminhttp).
type HTTPServer struct {
	srv  *http.Server
	ln   net.Listener
	mux  *http.ServeMux
	log  *slog.Logger
	done chan struct{} // closed when Serve returns
}

// HTTPOptions secures an HTTPServer; the zero value serves plain HTTP to
// anyone.
type HTTPOptions struct {
	// TLS, if set, makes the listener speak TLS only (https).
	TLS *tls.Config
	// Token, if set, returns the bearer token every request but those of
	// the open paths must carry (adminhttp.Guard).
	Token func() string
}

// StartHTTP listens on addr at once, so that a bad or busy address fails
// here rather than in a background goroutine, and serves in the background
// until Close. p may be nil (no /metrics); ready may be nil (always ready).
func StartHTTP(addr string, p *Provider, ready func() error, log *slog.Logger, opts HTTPOptions) (*HTTPServer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("telemetry: HTTP listener on %q: %w (choose a free host:port for http-addr)", addr, err)
	}

	mux := http.NewServeMux()
	if p != nil {
		mux.Handle("GET /metrics", p.Handler())
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready != nil {
			if err := ready(); err != nil {
				writeText(w, http.StatusServiceUnavailable, err.Error())
				return
			}
		}
		writeText(w, http.StatusOK, "ready")
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index) // also serves the named profiles
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)

	var h http.Handler = mux
	if opts.Token != nil {
		h = adminhttp.Guard(mux, opts.Token)
	}
	if opts.TLS != nil {
		ln = tls.NewListener(ln, opts.TLS)
	}
	s := &HTTPServer{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			// No WriteTimeout: /debug/pprof/profile and /trace stream for
			// as long as the caller asks (?seconds=N).
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		ln:   ln,
		mux:  mux,
		log:  log,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP server stopped", "addr", s.Addr(), "err", err)
		}
	}()
	log.Info("HTTP server listening", "addr", s.Addr())
	return s, nil
}

// Addr is the bound address (with the real port when addr had port 0).
func (s *HTTPServer) Addr() string { return s.ln.Addr().String() }

// Mux is the server's router, for adding routes (safe while serving).
func (s *HTTPServer) Mux() *http.ServeMux { return s.mux }

// Close stops accepting, lets in-flight requests finish until ctx is done,
// then closes what is left.
func (s *HTTPServer) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(fmt.Errorf("telemetry: HTTP shutdown: %w", err), s.srv.Close())
	}
	<-s.done
	return err
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body+"\n")
}

// Package adminhttp is what a broker's HTTP address and its callers (the
// CLI, and brokers calling each other) agree on: the scheme (https once
// http.tls-cert-file is set), the CAs trusted for the brokers' HTTP
// certificates, and the bearer token of http.token-file that every request
// must carry except those of the open paths (/metrics, /healthz, /readyz).
package adminhttp

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// MinTokenBytes is the shortest token a token file may hold.
const MinTokenBytes = 16

// ReadToken reads a token file: its content without surrounding
// whitespace, which must be at least MinTokenBytes long.
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < MinTokenBytes {
		return "", fmt.Errorf("%s holds a token of %d bytes; use at least %d random ones, e.g. `openssl rand -hex 32 > %s`",
			path, len(tok), MinTokenBytes, path)
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("%s: the token is one line without spaces", path)
	}
	return tok, nil
}

// Open reports whether a path is served without the token: the metrics
// scrape and the probes.
func Open(path string) bool {
	return path == "/metrics" || path == "/healthz" || path == "/readyz"
}

// Guard wraps h so that a request to any path but the open ones must carry
// "Authorization: Bearer <token()>"; others get 401.
func Guard(h http.Handler, token func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if Open(r.URL.Path) || authorized(r, token()) {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="chronik"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(map[string]string{
			"error": "this broker's admin API needs the token of its http.token-file: send Authorization: Bearer <token>",
		})
	})
}

func authorized(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// Options says how to reach the brokers' HTTP addresses.
type Options struct {
	// TLS selects https, trusting the system's CAs unless CAFile is set.
	TLS bool
	// CAFile (PEM) holds the CAs that signed the brokers' HTTP
	// certificates; it implies TLS.
	CAFile string
	// Token returns the bearer token sent with every request; nil (or an
	// empty token) sends none.
	Token func() string
	// Timeout bounds each request; 0 leaves it to the context.
	Timeout time.Duration
}

// Client calls brokers' HTTP addresses. Its methods are safe for
// concurrent use.
type Client struct {
	http   *http.Client
	scheme string
	token  func() string
}

// NewClient returns a client for opts; it fails only on a CA file that
// does not load.
func NewClient(opts Options) (*Client, error) {
	c := &Client{http: &http.Client{Timeout: opts.Timeout}, scheme: "http", token: opts.Token}
	if opts.TLS || opts.CAFile != "" {
		c.scheme = "https"
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if opts.CAFile != "" {
			pem, err := os.ReadFile(opts.CAFile)
			if err != nil {
				return nil, err
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%s holds no PEM certificate", opts.CAFile)
			}
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		c.http.Transport = tr
	}
	return c, nil
}

// Plain returns a client for brokers serving plain HTTP without a token.
func Plain(timeout time.Duration) *Client {
	return &Client{http: &http.Client{Timeout: timeout}, scheme: "http"}
}

// URL is the address of path on the broker at addr (host:port).
func (c *Client) URL(addr, path string) string { return c.scheme + "://" + addr + path }

// Do sends one request to path on the broker at addr. A non-nil body is
// sent as JSON.
func (c *Client) Do(ctx context.Context, method, addr, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.URL(addr, path), body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != nil {
		if tok := c.token(); tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	return c.http.Do(req)
}

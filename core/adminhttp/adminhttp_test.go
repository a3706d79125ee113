package adminhttp_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chronik-go/chronik/core/adminhttp"
	"github.com/chronik-go/chronik/core/testtls"
)

const token = "0123456789abcdef0123456789abcdef"

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadToken(t *testing.T) {
	if got, err := adminhttp.ReadToken(writeFile(t, "\n "+token+"\n")); err != nil || got != token {
		t.Fatalf("ReadToken = %q, %v; want the token without the whitespace around it", got, err)
	}
	for name, content := range map[string]string{
		"short":  "0123456789",
		"empty":  "\n",
		"spaces": "0123456789abcdef 0123456789abcdef",
	} {
		if _, err := adminhttp.ReadToken(writeFile(t, content)); err == nil {
			t.Errorf("%s token accepted", name)
		}
	}
	if _, err := adminhttp.ReadToken(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file accepted")
	}
}

// guarded serves "ok" on every path behind Guard with the token, over TLS
// with a certificate of ca.
func guarded(t *testing.T, ca *testtls.CA) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(adminhttp.Guard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}), func() string { return token }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Certificate("broker")}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, c *adminhttp.Client, addr, path string) (int, error) {
	t.Helper()
	resp, err := c.Do(context.Background(), http.MethodGet, addr, path, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusUnauthorized && !strings.Contains(string(body), "http.token-file") {
		t.Errorf("401 body %q does not say which token is wanted", body)
	}
	return resp.StatusCode, nil
}

func TestGuardAndClient(t *testing.T) {
	ca := testtls.NewCA(t, "http")
	srv := guarded(t, ca)
	addr := strings.TrimPrefix(srv.URL, "https://")
	withToken, err := adminhttp.NewClient(adminhttp.Options{CAFile: ca.File, Token: func() string { return token }})
	if err != nil {
		t.Fatal(err)
	}
	anonymous, err := adminhttp.NewClient(adminhttp.Options{CAFile: ca.File})
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := adminhttp.NewClient(adminhttp.Options{CAFile: ca.File, Token: func() string { return token + "x" }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		client *adminhttp.Client
		path   string
		want   int
	}{
		{anonymous, "/metrics", http.StatusOK},
		{anonymous, "/healthz", http.StatusOK},
		{anonymous, "/readyz", http.StatusOK},
		{anonymous, "/v1/status", http.StatusUnauthorized},
		{anonymous, "/debug/pprof/", http.StatusUnauthorized},
		{anonymous, "/metrics/../v1/status", http.StatusUnauthorized},
		{wrong, "/v1/status", http.StatusUnauthorized},
		{withToken, "/v1/status", http.StatusOK},
		{withToken, "/debug/pprof/", http.StatusOK},
	} {
		if got, err := get(t, tt.client, addr, tt.path); err != nil || got != tt.want {
			t.Errorf("GET %s: %d, %v; want %d", tt.path, got, err, tt.want)
		}
	}
	// The server's certificate is from a private CA: a client that trusts
	// only the system's CAs refuses it, a plain one does not speak TLS.
	system, err := adminhttp.NewClient(adminhttp.Options{TLS: true, Token: func() string { return token }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, system, addr, "/v1/status"); err == nil {
		t.Error("a client without the CA accepted the broker's certificate")
	}
	if got, err := get(t, adminhttp.Plain(0), addr, "/healthz"); err == nil && got == http.StatusOK {
		t.Error("plain HTTP answered by the TLS listener")
	}
	if _, err := adminhttp.NewClient(adminhttp.Options{CAFile: writeFile(t, "not a certificate")}); err == nil {
		t.Error("a CA file without a certificate accepted")
	}
}

package broker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronik-go/chronik/core/adminhttp"
	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/config"
	"github.com/chronik-go/chronik/core/telemetry"
	"github.com/chronik-go/chronik/core/testtls"
)

// TestHTTPSecurityPeerCalls: a broker's HTTP server and the client it
// calls its peers with, both from the same http.* settings, talk over TLS
// with the token; a peer with another token gets errPeerUnauthorized; a
// new token in the file replaces the old one without a restart.
func TestHTTPSecurityPeerCalls(t *testing.T) {
	ca := testtls.NewCA(t, "http")
	cert, key := ca.Issue("broker")
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	writeToken := func(tok string) {
		t.Helper()
		// Replaced, as tools and Kubernetes do: a new file, noticed even
		// within the clock's granularity.
		if err := os.WriteFile(tokenFile+".new", []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tokenFile+".new", tokenFile); err != nil {
			t.Fatal(err)
		}
	}
	const oldToken, newToken = "old-token-0123456789abcdef", "new-token-0123456789abcdef"
	writeToken(oldToken)
	log := slog.New(slog.DiscardHandler)
	h := config.HTTPConfig{TLSCertFile: cert, TLSKeyFile: key, TLSCAFile: ca.File, TokenFile: tokenFile}
	opts, client, err := httpSecurity(h, log)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := telemetry.StartHTTP("127.0.0.1:0", nil, nil, log, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	srv.Mux().HandleFunc("GET /v1/brokers/{id}", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(registryRecord{Record: cluster.BrokerRecord{ID: 2, Kafka: "k:1"}})
	})
	ctx := context.Background()
	if rec, ok, err := peerRecord(ctx, client, srv.Addr(), 2); err != nil || !ok || rec.Kafka != "k:1" {
		t.Fatalf("peer call with the cluster's settings: %+v %v %v", rec, ok, err)
	}
	fixed := func(tok string) *adminhttp.Client {
		c, err := adminhttp.NewClient(adminhttp.Options{CAFile: ca.File, Token: func() string { return tok }})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, _, err := peerRecord(ctx, fixed("another-token-0123456789"), srv.Addr(), 2); !errors.Is(err, errPeerUnauthorized) {
		t.Fatalf("peer call with another token: %v, want errPeerUnauthorized", err)
	}

	writeToken(newToken)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, errOld := peerRecord(ctx, fixed(oldToken), srv.Addr(), 2)
		_, _, errNew := peerRecord(ctx, fixed(newToken), srv.Addr(), 2)
		if errors.Is(errOld, errPeerUnauthorized) && errNew == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the token file changed: old token %v, new token %v", errOld, errNew)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, _, err := peerRecord(ctx, client, srv.Addr(), 2); err != nil {
		t.Fatalf("the broker's own client after the change: %v", err)
	}
}

func TestHTTPSecurityBadFiles(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := testtls.NewCA(t, "http")
	cert, key := ca.Issue("broker")
	log := slog.New(slog.DiscardHandler)
	for _, tt := range []struct {
		h    config.HTTPConfig
		want string
	}{
		{config.HTTPConfig{TokenFile: short}, "http.token-file"},
		{config.HTTPConfig{TokenFile: filepath.Join(dir, "missing")}, "http.token-file"},
		{config.HTTPConfig{TLSCertFile: key, TLSKeyFile: cert}, "http.tls-cert-file"},
		{config.HTTPConfig{TLSCertFile: cert, TLSKeyFile: key, TLSCAFile: notPEM}, "http.tls-ca-file"},
	} {
		if _, _, err := httpSecurity(tt.h, log); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v; want an error naming %s", tt.h, err, tt.want)
		}
	}
}

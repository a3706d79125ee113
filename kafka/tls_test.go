package kafka

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/testtls"
)

// TestTLSClientCertificatePrincipal: on a listener that requires client
// certificates, requests carry "User:" and the certificate's subject as
// their principal (Kafka's default SSL principal); a client that never
// completes a handshake is dropped once the server closes, not leaked.
func TestTLSClientCertificatePrincipal(t *testing.T) {
	ca := testtls.NewCA(t, "kafka")
	var (
		mu         sync.Mutex
		principals = map[string]bool{}
	)
	ts := startServer(t, Config{
		TLS: &tls.Config{
			Certificates: []tls.Certificate{ca.Certificate("broker")},
			ClientCAs:    ca.Pool, ClientAuth: tls.RequireAndVerifyClientCert,
		},
		Authorizer: AuthorizerFunc(func(_ context.Context, principal string, _ int16, _ kmsg.Request) error {
			mu.Lock()
			principals[principal] = true
			mu.Unlock()
			return nil
		}),
	}, nil)

	// A client that connects and never sends a ClientHello.
	idle, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()

	cl := newKgoClient(t, ts, kgo.DialTLSConfig(&tls.Config{
		RootCAs: ca.Pool, Certificates: []tls.Certificate{ca.Certificate("app")}, MinVersion: tls.VersionTLS12,
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("ping over TLS with a client certificate: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	const want = "User:CN=app,O=chronik-test"
	if !principals[want] || len(principals) != 1 {
		t.Fatalf("principals %v, want only %s", principals, want)
	}
}

//go:build integration

package broker_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/adminhttp"
	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/config"
	"github.com/chronik-go/chronik/core/opsctl"
	"github.com/chronik-go/chronik/core/testtls"
)

// pingWith reports whether a client with tlsCfg (nil: plaintext) gets an
// answer from the broker at addr.
func pingWith(addr string, tlsCfg *tls.Config) error {
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.DialTimeout(2 * time.Second)}
	if tlsCfg != nil {
		opts = append(opts, kgo.DialTLSConfig(tlsCfg))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return cl.Ping(ctx)
}

// TestKafkaTLS: with kafka.tls-cert-file the listener speaks TLS only: a
// TLS client that trusts the CA produces and consumes, a plaintext one gets
// nothing; with kafka.tls-client-ca-file a client without a certificate,
// or with one from another CA, is refused and one with a certificate from
// the CA works; a renewed certificate file is served without a restart.
func TestKafkaTLS(t *testing.T) {
	ca := testtls.NewCA(t, "kafka")
	certFile, keyFile := ca.Issue("broker")
	clientCert, clientKey := ca.Issue("app")
	other := testtls.NewCA(t, "other")
	otherCert, otherKey := other.Issue("intruder")

	cfg := brokertest.Config(t)
	cfg.Kafka.TLSCertFile, cfg.Kafka.TLSKeyFile, cfg.Kafka.TLSClientCAFile = certFile, keyFile, ca.File
	b := brokertest.Start(t, cfg)
	addr := b.KafkaAddr()

	clientTLS := func(cert, key string) *tls.Config {
		c, err := opsctl.TLSFiles{CAFile: ca.File, CertFile: cert, KeyFile: key}.Config()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := pingWith(addr, nil); err == nil {
		t.Fatal("a plaintext client reached the TLS listener")
	}
	if err := pingWith(addr, clientTLS("", "")); err == nil {
		t.Fatal("a client without a certificate got in, though kafka.tls-client-ca-file requires one")
	}
	if err := pingWith(addr, clientTLS(otherCert, otherKey)); err == nil {
		t.Fatal("a client with another CA's certificate got in")
	}
	good := clientTLS(clientCert, clientKey)
	if err := pingWith(addr, good); err != nil {
		t.Fatalf("a client with the CA's certificate: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTLSConfig(good))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "secure"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "secure", Value: []byte("over tls")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTLSConfig(good),
		kgo.ConsumeTopics("secure"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	fs := cons.PollFetches(ctx)
	if errs := fs.Errors(); len(errs) > 0 || fs.NumRecords() != 1 || string(fs.Records()[0].Value) != "over tls" {
		t.Fatalf("consume over TLS: %d records, errors %v", fs.NumRecords(), errs)
	}

	// Renew: overwrite the broker's files with a new certificate; within
	// the reload check new handshakes get it.
	newCert, newKey := ca.Issue("broker-renewed")
	for _, mv := range [][2]string{{newKey, keyFile}, {newCert, certFile}} {
		if err := os.Rename(mv[0], mv[1]); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := tls.Dial("tcp", addr, good)
		if err == nil {
			cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName
			conn.Close()
			if cn == "broker-renewed" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the renewed certificate was not served: last %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

const adminToken = "admin-token-0123456789abcdef"

func writeTokenFile(t *testing.T, token string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func noEnv(string) string { return "" }

// TestAdminAPITLSAndToken: with http.tls-* and http.token-file the HTTP
// address speaks TLS only; /metrics and the probes answer anyone, the
// admin API and pprof only a caller with the token. The CLI takes all of
// it from the broker's config file, and says what is missing when the
// token or TLS is.
func TestAdminAPITLSAndToken(t *testing.T) {
	ca := testtls.NewCA(t, "http")
	cert, key := ca.Issue("broker")
	tokenFile := writeTokenFile(t, adminToken)
	cfg := brokertest.Config(t)
	cfg.HTTP = config.HTTPConfig{TLSCertFile: cert, TLSKeyFile: key, TLSCAFile: ca.File, TokenFile: tokenFile}
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	anonymous, err := adminhttp.NewClient(adminhttp.Options{CAFile: ca.File})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/metrics": 200, "/healthz": 200, "/readyz": 200, "/v1/status": 401, "/v1/brokers": 401, "/debug/pprof/": 401} {
		resp, err := anonymous.Do(ctx, http.MethodGet, b.HTTPAddr(), path, nil)
		if err != nil {
			t.Fatalf("GET %s over TLS: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s without the token: %d, want %d", path, resp.StatusCode, want)
		}
	}

	// The CLI's way: everything from the broker's config file.
	conf := filepath.Join(t.TempDir(), "chronik.toml")
	toml := fmt.Sprintf("http-addr = %q\n[http]\ntls-cert-file = %q\ntls-key-file = %q\ntls-ca-file = %q\ntoken-file = %q\n",
		b.HTTPAddr(), cert, key, ca.File, tokenFile)
	if err := os.WriteFile(conf, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	admin, err := opsctl.ResolveAdmin(opsctl.AdminFlags{}, conf, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := opsctl.FetchNodeStatus(ctx, admin.HTTP, b.HTTPAddr()); err != nil || st.Node != cfg.NodeID {
		t.Fatalf("status with the config file's settings: %+v, %v", st, err)
	}
	if _, err := opsctl.BackupList(ctx, admin); err != nil {
		t.Fatalf("backup list with the config file's settings: %v", err)
	}

	// Without the token, or without TLS: errors that say which flag.
	noToken, err := opsctl.ResolveAdmin(opsctl.AdminFlags{Addrs: b.HTTPAddr(), CAFile: ca.File}, "", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := opsctl.BackupList(ctx, noToken); !errors.Is(err, opsctl.ErrRejected) || !strings.Contains(err.Error(), "--http-token-file") {
		t.Fatalf("backup list without the token: %v; want a rejection naming --http-token-file", err)
	}
	plain, err := opsctl.ResolveAdmin(opsctl.AdminFlags{Addrs: b.HTTPAddr(), TokenFile: tokenFile}, "", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := opsctl.FetchNodeStatus(ctx, plain.HTTP, b.HTTPAddr()); err == nil || !strings.Contains(err.Error(), "--http-tls") {
		t.Fatalf("plain HTTP to the TLS address: %v; want an error naming --http-tls", err)
	}
}

// TestTLSBadFiles: a certificate or token file that does not load fails
// start-up with a message naming the setting.
func TestTLSBadFiles(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		setting string
		set     func(*config.Config)
	}{
		{"kafka.tls-cert-file", func(c *config.Config) { c.Kafka.TLSCertFile, c.Kafka.TLSKeyFile = bad, bad }},
		{"raft.tls-cert-file", func(c *config.Config) { c.Raft.TLSCAFile, c.Raft.TLSCertFile, c.Raft.TLSKeyFile = bad, bad, bad }},
		{"http.tls-cert-file", func(c *config.Config) { c.HTTP.TLSCertFile, c.HTTP.TLSKeyFile = bad, bad }},
		{"http.token-file", func(c *config.Config) { c.HTTP.TokenFile = bad }},
	} {
		cfg := brokertest.Config(t)
		c.set(&cfg)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		b, err := broker.Start(ctx, cfg, brokertest.Logger())
		if err == nil {
			_ = b.Stop(ctx)
			cancel()
			t.Fatalf("started with a %s that holds no certificate", c.setting)
		}
		cancel()
		if !strings.Contains(err.Error(), c.setting) {
			t.Fatalf("error does not name %s: %v", c.setting, err)
		}
	}
}

// TestRaftMutualTLS: three brokers whose Raft transports use mutual TLS
// (raft.tls-*) and whose HTTP addresses use TLS and a token (http.*) form
// a cluster, replicate an RF3 topic and serve it, and answer the admin
// API of each with the cluster's settings.
func TestRaftMutualTLS(t *testing.T) {
	ca := testtls.NewCA(t, "raft")
	tokenFile := writeTokenFile(t, adminToken)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, nodes := brokertest.StartCluster(t, 3, func(cfg *config.Config) {
		cert, key := ca.Issue(fmt.Sprintf("node%d", cfg.NodeID))
		cfg.Raft.TLSCAFile, cfg.Raft.TLSCertFile, cfg.Raft.TLSKeyFile = ca.File, cert, key
		cfg.HTTP = config.HTTPConfig{TLSCertFile: cert, TLSKeyFile: key, TLSCAFile: ca.File, TokenFile: tokenFile}
	})
	seeds := brokertest.KafkaAddrs(nodes)
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 3, nil, "replicated"); err != nil || resp.Err != nil {
		t.Fatalf("create RF3 topic: %v %v", err, resp.Err)
	}
	want := brokertest.Produce(ctx, t, seeds, "replicated", 1, 200, 100, time.Now())
	brokertest.CheckPartition(ctx, t, seeds, "replicated", 0, want)
	admin, err := opsctl.ResolveAdmin(opsctl.AdminFlags{Addrs: nodes[0].HTTP + "," + nodes[1].HTTP + "," + nodes[2].HTTP, CAFile: ca.File, TokenFile: tokenFile}, "", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range admin.Addrs {
		if st, err := opsctl.FetchNodeStatus(ctx, admin.HTTP, addr); err != nil || len(st.Replicas) == 0 {
			t.Fatalf("admin API of %s over TLS with the token: %+v, %v", addr, st, err)
		}
	}

	// The Raft port speaks TLS and wants a certificate from the CA.
	cert, key := ca.Issue("peer")
	peer, err := opsctl.TLSFiles{CAFile: ca.File, CertFile: cert, KeyFile: key}.Config()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", nodes[0].Raft, peer)
	if err != nil {
		t.Fatalf("TLS handshake with the Raft port: %v", err)
	}
	conn.Close()
	anon, err := opsctl.TLSFiles{CAFile: ca.File}.Config()
	if err != nil {
		t.Fatal(err)
	}
	if conn, err := tls.Dial("tcp", nodes[0].Raft, anon); err == nil {
		// TLS 1.3 reports a refused client certificate on the first read.
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the Raft port took a TLS client without a certificate (read: %v)", err)
		}
		conn.Close()
	}
}

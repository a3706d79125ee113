// Package brokertest starts real in-process brokers (real TCP, Dragonboat
// and Pebble on a temp dir) for integration tests in any package.
package brokertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/config"
)

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago. The port is picked at random below the ephemeral range (32768 and
// up on Linux), not by listening on port 0: the kernel hands ephemeral
// ports to outgoing connections and other port-0 listeners, which took one
// between this call and the broker's bind (CI: "address already in use").
// Each port handed out is claimed for portClaim by a file created with
// O_EXCL in a directory every test process shares, so FreeAddr in another
// test binary (go test runs packages side by side) does not hand it out
// again before the broker has bound it (CI: "address already in use" once,
// two packages having picked the same port).
func FreeAddr(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "chronik-test-ports")
	_ = os.MkdirAll(dir, 0o777)
	for range 200 {
		port := freePortLow + rand.IntN(freePortCount)
		if !claimPort(dir, port) {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // in use
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}
	t.Fatalf("no free port in %d-%d after 200 tries", freePortLow, freePortLow+freePortCount-1)
	return ""
}

// claimPort claims a port for this process for portClaim: false when
// another FreeAddr claimed it less than portClaim ago. A claim file that
// cannot be created (an unwritable temp dir) claims nothing but does not
// stop the port being used.
func claimPort(dir string, port int) bool {
	path := filepath.Join(dir, strconv.Itoa(port))
	for range 2 {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
		if err == nil {
			f.Close()
			return true
		}
		if !errors.Is(err, os.ErrExist) {
			return true
		}
		st, err := os.Stat(path)
		if err != nil || time.Since(st.ModTime()) < portClaim {
			return false
		}
		// An old claim: take the port over.
		if os.Remove(path) != nil {
			return false
		}
	}
	return false
}

// FreeAddr's ports: [freePortLow, freePortLow+freePortCount), each claimed
// for portClaim once handed out.
const (
	freePortLow   = 20000
	freePortCount = 12000
	portClaim     = 10 * time.Minute
)

// Config returns a single-node config on a temp data dir and free loopback
// ports, with fast Raft timing for tests.
func Config(t testing.TB) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.KafkaAddr = FreeAddr(t)
	cfg.RaftAddr = FreeAddr(t)
	cfg.HTTPAddr = FreeAddr(t)
	cfg.Raft.RTT = 5 * time.Millisecond
	cfg.Raft.ElectionRTT = 10
	cfg.Kafka.GroupInitialRebalanceDelayMs = 0
	return cfg
}

// Logger logs to stderr when CHRONIK_TEST_LOG is set, else discards.
func Logger() *slog.Logger {
	if os.Getenv("CHRONIK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Start starts a broker with cfg and stops it when the test ends.
func Start(t testing.TB, cfg config.Config) *broker.Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := broker.Start(ctx, cfg, Logger())
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := b.Stop(ctx); err != nil {
			t.Errorf("stop broker: %v", err)
		}
	})
	return b
}

// StartCluster starts n brokers of one cluster at once, each with
// Config(t) given its node and addresses and then passed to configure
// (nil: nothing more), and stops them when the test ends. It returns the
// brokers and their nodes (addresses), in node ID order.
func StartCluster(t testing.TB, n int, configure func(*config.Config)) ([]*broker.Broker, []config.NodeConfig) {
	t.Helper()
	var nodes []config.NodeConfig
	for id := int32(1); id <= int32(n); id++ {
		nodes = append(nodes, config.NodeConfig{ID: id, Kafka: FreeAddr(t), Raft: FreeAddr(t), HTTP: FreeAddr(t)})
	}
	brokers := make([]*broker.Broker, n)
	errs := make([]error, n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for i, node := range nodes {
		cfg := Config(t)
		cfg.NodeID, cfg.Nodes = node.ID, nodes
		cfg.KafkaAddr, cfg.AdvertiseAddr, cfg.RaftAddr, cfg.HTTPAddr = node.Kafka, node.Kafka, node.Raft, node.HTTP
		if configure != nil {
			configure(&cfg)
		}
		wg.Go(func() { brokers[i], errs[i] = broker.Start(ctx, cfg, Logger()) })
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, b := range brokers {
			if b != nil {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				_ = b.Stop(ctx)
				cancel()
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("start a cluster of %d brokers: %v", n, err)
	}
	return brokers, nodes
}

// KafkaAddrs are the Kafka addresses of nodes.
func KafkaAddrs(nodes []config.NodeConfig) []string {
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.Kafka
	}
	return addrs
}

// SASLUsers makes cfg require SASL with mechanisms, for users whose
// passwords are "<user>-secret" (a users file in t's temporary directory).
func SASLUsers(t testing.TB, cfg *config.Config, mechanisms []string, users ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("[users]\n")
	for _, u := range users {
		fmt.Fprintf(&b, "%q = %q\n", u, u+"-secret")
	}
	file := filepath.Join(t.TempDir(), "users.toml")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Kafka.SASLMechanisms, cfg.Kafka.SASLUsersFile = mechanisms, file
}

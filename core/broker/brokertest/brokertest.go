// Package brokertest starts real in-process brokers (real TCP, Dragonboat
// and Pebble on a temp dir) for integration tests in any package.
package brokertest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/config"
)

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

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

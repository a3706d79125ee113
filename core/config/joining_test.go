package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// A node-id missing from [[nodes]] is a broker added at runtime when its own
// Kafka and Raft addresses are given; without them it is still an error.
func TestJoiningNode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cluster.toml")
	if err := os.WriteFile(path, []byte(clusterTOML), 0o644); err != nil {
		t.Fatal(err)
	}
	load := func(args ...string) (Config, error) {
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		BindFlags(fs)
		if err := fs.Parse(append([]string{"--config", path, "--node-id", "3"}, args...)); err != nil {
			t.Fatal(err)
		}
		return Load(fs, nil)
	}
	cfg, err := load("--kafka-addr", "127.0.0.1:39092", "--raft-addr", "127.0.0.1:39095", "--http-addr", "127.0.0.1:39644")
	if err != nil || !cfg.Joining || cfg.RaftAddr != "127.0.0.1:39095" {
		t.Fatalf("joining node: %+v, %v", cfg, err)
	}
	if _, err := load(); err == nil || !strings.Contains(err.Error(), "add-node") {
		t.Fatalf("node-id 3 without addresses: %v, want an error naming add-node", err)
	}
	if _, err := load("--kafka-addr", "127.0.0.1:39092", "--raft-addr", "127.0.0.1:19095"); err == nil || !strings.Contains(err.Error(), "needs its own") {
		t.Fatalf("joining node reusing node 1's raft address: %v", err)
	}
}

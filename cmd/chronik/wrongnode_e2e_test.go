//go:build e2e

package main

import (
	"strings"
	"testing"
	"time"
)

// TestWrongNodeIDRefused: a data dir written by node 1 must not be opened by
// node 2; the process exits non-zero and says whose dir it is.
func TestE2EWrongNodeIDRefused(t *testing.T) {
	const refuseTimeout = 30 * time.Second
	a := freeAddrs(t)
	dataDir := t.TempDir()
	stop(startNode(t, dataDir, a, "--node-id", "1"))

	n := launch(t, dataDir, a, "--node-id", "2")
	if !n.waitExit(refuseTimeout) {
		t.Fatalf("chronik --node-id 2 on node 1's data dir still running after %s, want a refusal", refuseTimeout)
	}
	if n.waitErr == nil || n.cmd.ProcessState.ExitCode() == 0 {
		t.Fatalf("chronik --node-id 2 on node 1's data dir exited with %v, want a non-zero exit code", n.waitErr)
	}
	out := readFile(t, n.logPath)
	if !strings.Contains(out, "belongs to node") {
		t.Fatalf("chronik --node-id 2 on node 1's data dir: output lacks %q:\n%s", "belongs to node", out)
	}
	t.Logf("refused with exit code %d: %s", n.cmd.ProcessState.ExitCode(), strings.TrimSpace(out))
}

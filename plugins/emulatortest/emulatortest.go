// Package emulatortest starts the object-store emulators that backend
// tests run as child processes (versitygw, Azurite): it finds the binary,
// picks a free loopback port, starts the process, waits until it answers
// and kills it by PID when the test ends. A missing binary skips the test
// with the install command locally and fails it under CI=true, where
// nothing may skip (TESTING.md).
package emulatortest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Missing skips t (or fails it under CI=true) because a tool is missing.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: tests may not skip)", msg)
	}
	t.Skip(msg)
}

// Find returns the path of the executable name, looked up in PATH, then in
// each of dirs (relative to the test's package directory), then in GOBIN
// and GOPATH/bin; "" if it is nowhere.
func Find(name string, dirs ...string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	for _, gp := range filepath.SplitList(build.Default.GOPATH) {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	for _, d := range dirs {
		p, err := filepath.Abs(filepath.Join(d, name))
		if err != nil {
			continue
		}
		if info, err := os.Stat(p); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. The
// emulator binds it itself, so Start retries on another port if it lost
// the race.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port // a TCP listener
}

// Process describes an emulator to start.
type Process struct {
	// Name is for messages ("versitygw").
	Name string
	// Path is the executable.
	Path string
	// Args builds the command line for a port.
	Args func(port int) []string
	// Env is added to the test's environment.
	Env []string
	// Ready reports whether the emulator on port answers; Start polls it.
	Ready func(ctx context.Context, port int) error
	// Timeout bounds the wait for Ready (default 60s: Node starts slowly
	// on a busy machine).
	Timeout time.Duration
}

// Running is a started emulator.
type Running struct {
	Port int
	// Addr is 127.0.0.1:Port.
	Addr string
}

// lockedBuffer collects a child's output for failure messages.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Start runs p on a free port and waits until it is ready. The process is
// killed (by PID) and reaped when t ends.
func Start(t testing.TB, p Process) Running {
	t.Helper()
	if p.Timeout == 0 {
		p.Timeout = 60 * time.Second
	}
	var lastErr error
	for range 3 {
		r, err := start(t, p)
		if err == nil {
			return r
		}
		lastErr = err
		if !errors.Is(err, errExited) {
			break
		}
	}
	t.Fatalf("%s: %v", p.Name, lastErr)
	return Running{}
}

var errExited = errors.New("exited before it was ready")

func start(t testing.TB, p Process) (Running, error) {
	port := FreePort(t)
	out := &lockedBuffer{}
	cmd := exec.Command(p.Path, p.Args(port)...) // a test's own emulator
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return Running{}, fmt.Errorf("start %s: %w", p.Path, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // this PID only
		<-exited
	})

	started := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), p.Timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var readyErr error
	for {
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		readyErr = p.Ready(rctx, port)
		rcancel()
		if readyErr == nil {
			t.Logf("%s ready on 127.0.0.1:%d (pid %d) after %v", p.Name, port, cmd.Process.Pid, time.Since(started).Round(time.Millisecond))
			return Running{Port: port, Addr: "127.0.0.1:" + strconv.Itoa(port)}, nil
		}
		select {
		case <-exited:
			return Running{}, fmt.Errorf("%w (%v); output:\n%s", errExited, cmd.ProcessState, out)
		case <-ctx.Done():
			return Running{}, fmt.Errorf("not ready after %v (last check: %w); output:\n%s", p.Timeout, readyErr, out)
		case <-tick.C:
		}
	}
}

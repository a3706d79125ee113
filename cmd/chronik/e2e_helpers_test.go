//go:build e2e

package main

// Helpers for the e2e tier: the chronik binary built once by TestMain and run
// as separate processes on 127.0.0.1. See /work/shared/TESTING.md.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	readyTimeout = 60 * time.Second       // startNode: until /readyz answers 200
	readyPoll    = 20 * time.Millisecond  // startNode: /readyz polling interval
	stopTimeout  = 45 * time.Second       // stop: SIGTERM until exit (the broker allows itself 30s)
	killTimeout  = 10 * time.Second       // kill9: SIGKILL until the process is reaped
	pollInterval = 10 * time.Millisecond  // waitFor
	logTailLines = 50                     // lines of a node's log printed when a test fails
	e2eTimeout   = 60 * time.Second       // default bound for client operations
	httpTimeout  = 500 * time.Millisecond // one /readyz request
)

// chronikBin is the binary TestMain built.
var chronikBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "chronik-e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot create a temp dir for the binary: %v\n", err)
		return 2
	}
	defer os.RemoveAll(dir)
	chronikBin = filepath.Join(dir, "chronik")
	goTool, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot build the chronik binary: no go tool in PATH: %v\n", err)
		return 2
	}
	// The test runs in cmd/chronik, so "." is this command.
	build := exec.Command(goTool, "build", "-o", chronikBin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAILED to build the chronik binary (go build -o %s .): %v\n%s\n", chronikBin, err, out)
		return 2
	}
	return m.Run()
}

// addrs are the listen addresses of one node, reserved once per test and
// reused across restarts (the Raft address of a data dir must not change).
type addrs struct {
	kafka, raft, http string
}

// freeAddrs reserves three free ports on 127.0.0.1.
func freeAddrs(t *testing.T) addrs {
	t.Helper()
	ports := make([]string, 3)
	ls := make([]net.Listener, 3)
	for i := range ls {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("reserve a port: %v", err)
		}
		ls[i] = l
		ports[i] = l.Addr().String()
	}
	// Held until all three are chosen so they are distinct, then released
	// for the broker to bind.
	for _, l := range ls {
		l.Close()
	}
	return addrs{kafka: ports[0], raft: ports[1], http: ports[2]}
}

// node is one chronik process.
type node struct {
	t       *testing.T
	cmd     *exec.Cmd
	dataDir string
	addrs   addrs
	logPath string
	done    chan struct{} // closed once the process has been reaped
	waitErr error         // cmd.Wait's result, valid after done
}

var logSeq atomic.Int64

// launch starts chronik serve on dataDir with a log file in t.TempDir. It
// registers a cleanup that kills the process by PID if it is still alive and
// waits for it, and one that prints the log's tail if the test failed.
func launch(t *testing.T, dataDir string, a addrs, extra ...string) *node {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), fmt.Sprintf("chronik-%d.log", logSeq.Add(1)))
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("create log file: %v", err)
	}
	args := append([]string{
		"serve",
		"--data-dir", dataDir,
		"--kafka-addr", a.kafka,
		"--raft-addr", a.raft,
		"--http-addr", a.http,
	}, extra...)
	cmd := exec.Command(chronikBin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), "CHRONIK_CONFIG=") // no stray config file
	n := &node{t: t, cmd: cmd, dataDir: dataDir, addrs: a, logPath: logPath, done: make(chan struct{})}

	// Cleanups run last-in first-out: the log is printed after the kill.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last %d lines of %s (chronik %s):\n%s", logTailLines, logPath, strings.Join(args, " "), tail(logPath, logTailLines))
		}
	})
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", chronikBin, err)
	}
	go func() {
		n.waitErr = cmd.Wait()
		logFile.Close()
		close(n.done)
	}()
	t.Cleanup(func() {
		if !n.exited() {
			_ = syscall.Kill(n.cmd.Process.Pid, syscall.SIGKILL)
		}
		select {
		case <-n.done:
		case <-time.After(killTimeout):
			t.Errorf("chronik pid %d not reaped %s after SIGKILL", n.cmd.Process.Pid, killTimeout)
		}
	})
	return n
}

// startNode starts chronik serve and waits until /readyz returns 200.
func startNode(t *testing.T, dataDir string, a addrs, extra ...string) *node {
	t.Helper()
	n := launch(t, dataDir, a, extra...)
	client := &http.Client{Timeout: httpTimeout}
	url := "http://" + a.http + "/readyz"
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("chronik pid %d not ready within %s (last GET %s: %v)", n.cmd.Process.Pid, readyTimeout, url, describe(resp, err))
		}
		select {
		case <-n.done:
			t.Fatalf("chronik exited before it was ready: %v", n.waitErr)
		case <-tick.C:
		}
	}
}

func describe(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}

func (n *node) exited() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// waitExit waits up to d for the process to exit.
func (n *node) waitExit(d time.Duration) bool {
	select {
	case <-n.done:
		return true
	case <-time.After(d):
		return false
	}
}

// kill9 kills the node with SIGKILL and waits until it is reaped.
func kill9(n *node) {
	t := n.t
	t.Helper()
	if err := syscall.Kill(n.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", n.cmd.Process.Pid, err)
	}
	if !n.waitExit(killTimeout) {
		t.Fatalf("chronik pid %d still running %s after SIGKILL", n.cmd.Process.Pid, killTimeout)
	}
	var ee *exec.ExitError
	if !errors.As(n.waitErr, &ee) {
		t.Fatalf("chronik pid %d after SIGKILL: wait returned %v, want a signal exit", n.cmd.Process.Pid, n.waitErr)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("chronik pid %d exited with %v before the SIGKILL landed", n.cmd.Process.Pid, n.waitErr)
	}
}

// stop sends SIGTERM, waits for the exit and asserts a clean shutdown:
// exit code 0 and "broker stopped" in the log.
func stop(n *node) {
	t := n.t
	t.Helper()
	if err := syscall.Kill(n.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatalf("kill -TERM %d: %v", n.cmd.Process.Pid, err)
	}
	if !n.waitExit(stopTimeout) {
		t.Fatalf("chronik pid %d did not exit within %s of SIGTERM", n.cmd.Process.Pid, stopTimeout)
	}
	if n.waitErr != nil {
		t.Fatalf("chronik pid %d after SIGTERM: %v, want exit code 0", n.cmd.Process.Pid, n.waitErr)
	}
	if code := n.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("chronik exit code %d after SIGTERM, want 0", code)
	}
	if log := readFile(t, n.logPath); !strings.Contains(log, `msg="broker stopped"`) {
		t.Fatalf(`chronik exited 0 after SIGTERM but its log has no msg="broker stopped"`)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot open: %v)", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// waitFor polls cond every pollInterval until it returns true or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(pollInterval)
	}
}

// newClient returns a kgo client for the node; the caller closes it.
func newClient(t *testing.T, kafkaAddr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(kafkaAddr)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	return cl
}

// createTopic creates topic with the given partitions (replication 1).
func createTopic(t *testing.T, kafkaAddr, topic string, partitions int32) {
	t.Helper()
	cl := newClient(t, kafkaAddr)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if resp.Err != nil {
		t.Fatalf("create topic %s: %v (%s)", topic, resp.Err, resp.ErrMessage)
	}
}

// endOffsets returns the high watermark of every partition of topic,
// retrying while partitions report errors (leaders still being elected
// after a restart) until e2eTimeout.
func endOffsets(t *testing.T, kafkaAddr, topic string, partitions int32) map[int32]int64 {
	t.Helper()
	cl := newClient(t, kafkaAddr)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(e2eTimeout)
	var first, last error
	attempts := 0
	start := time.Now()
	for time.Now().Before(deadline) {
		attempts++
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		offs, err := adm.ListEndOffsets(ctx, topic)
		cancel()
		if err == nil {
			err = offs.Error()
		}
		if err == nil {
			got := make(map[int32]int64)
			offs.Each(func(o kadm.ListedOffset) { got[o.Partition] = o.Offset })
			if int32(len(got)) == partitions {
				if first != nil {
					t.Logf("end offsets of %s listed after %d attempts in %s; first error: %v", topic, attempts, time.Since(start).Round(time.Millisecond), first)
				}
				return got
			}
			err = fmt.Errorf("%d partitions listed, want %d", len(got), partitions)
		}
		last = err
		if first == nil {
			first = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("list end offsets of %s: %v", topic, last)
	return nil
}

// consumeAll reads every partition of topic from offset 0 up to end (the
// high watermarks) and returns the records per partition in the order they
// were fetched. A partition is done once a record at end-1 or later arrived,
// so a gap in the offsets shows up in the result rather than as a hang.
func consumeAll(t *testing.T, kafkaAddr, topic string, end map[int32]int64) map[int32][]*kgo.Record {
	t.Helper()
	parts := make(map[int32]kgo.Offset)
	pending := make(map[int32]bool)
	for p, e := range end {
		if e > 0 {
			parts[p] = kgo.NewOffset().At(0)
			pending[p] = true
		}
	}
	got := make(map[int32][]*kgo.Record)
	if len(pending) == 0 {
		return got
	}
	cl := newClient(t, kafkaAddr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	for len(pending) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume %s: partitions %v not read up to %v within %s", topic, pending, end, e2eTimeout)
		}
		fs.EachError(func(tp string, p int32, err error) {
			t.Logf("consume %s/%d: %v (retrying)", tp, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			e := end[r.Partition]
			if r.Offset < e {
				got[r.Partition] = append(got[r.Partition], r)
			}
			if r.Offset >= e-1 {
				delete(pending, r.Partition)
			}
		})
	}
	return got
}

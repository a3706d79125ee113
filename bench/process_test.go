package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lni/dragonboat/v4"
	sm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/config"
)

// Benchmarks in this file run the built chronik binary as a child process,
// so that RSS and start-up are those of the real program. They ignore b.N
// (one measurement per run): use -benchtime 1x.

// idlePartitions is the partition count of BenchmarkIdleRSS.
const idlePartitions = 1000

// childEnv selects a child mode of this test binary (see TestMain).
const childEnv = "CHRONIK_BENCH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "raft-idle" {
		os.Exit(raftIdleChild())
	}
	code := m.Run()
	if chronikBin.dir != "" {
		os.RemoveAll(chronikBin.dir)
	}
	os.Exit(code)
}

// chronikBin is the binary built once per test process.
var chronikBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func buildChronik(b testing.TB) string {
	b.Helper()
	chronikBin.once.Do(func() {
		chronikBin.dir, chronikBin.err = os.MkdirTemp("", "chronik-bench-bin-")
		if chronikBin.err != nil {
			return
		}
		chronikBin.path = filepath.Join(chronikBin.dir, "chronik")
		out, err := exec.Command("go", "build", "-o", chronikBin.path, "github.com/chronik-go/chronik/cmd/chronik").CombinedOutput()
		if err != nil {
			chronikBin.err = fmt.Errorf("go build ./cmd/chronik: %w\n%s", err, out)
		}
	})
	if chronikBin.err != nil {
		b.Fatal(chronikBin.err)
	}
	return chronikBin.path
}

// child is a running `chronik serve`.
type child struct {
	cmd       *exec.Cmd
	kafkaAddr string
	httpAddr  string
	raftAddr  string
	stderr    *tailBuffer
	done      chan struct{} // closed when the process has exited
	waitErr   error
}

// startServe starts `chronik serve` on dataDir (with prev's addresses when
// restarting) and returns without waiting for readiness.
func startServe(b testing.TB, bin string, prev *child, dataDir string) *child {
	b.Helper()
	c := &child{}
	if prev != nil {
		c.kafkaAddr, c.httpAddr, c.raftAddr = prev.kafkaAddr, prev.httpAddr, prev.raftAddr
	} else {
		c.kafkaAddr, c.httpAddr, c.raftAddr = brokertest.FreeAddr(b), brokertest.FreeAddr(b), brokertest.FreeAddr(b)
	}
	return spawn(b, bin, c, "serve", "--data-dir", dataDir, "--kafka-addr", c.kafkaAddr,
		"--http-addr", c.httpAddr, "--raft-addr", c.raftAddr, "--log-level", "warn")
}

// spawn starts bin with args as c (its addresses already set), keeping the
// tail of its stderr; cleanup kills it by PID.
func spawn(b testing.TB, bin string, c *child, args ...string) *child {
	b.Helper()
	c.stderr, c.done = &tailBuffer{}, make(chan struct{})
	c.cmd = exec.Command(bin, args...)
	c.cmd.Stderr = c.stderr
	if err := c.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.done)
	}()
	b.Cleanup(func() { c.stop(b, syscall.SIGKILL) })
	return c
}

// stop ends the child with sig and waits for it to exit.
func (c *child) stop(b testing.TB, sig syscall.Signal) {
	b.Helper()
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(time.Minute):
		_ = c.cmd.Process.Kill()
		<-c.done
		b.Errorf("chronik serve did not exit within a minute after %v; stderr:\n%s", sig, c.stderr)
	}
}

// waitReady polls /readyz until it answers 200 (meta shard and every local
// partition replica have a leader) and returns the time since since.
func (c *child) waitReady(ctx context.Context, b testing.TB, since time.Time) time.Duration {
	b.Helper()
	url := "http://" + c.httpAddr + "/readyz"
	for {
		resp, err := http.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(since)
			}
		}
		select {
		case <-c.done:
			b.Fatalf("chronik serve exited (%v); stderr:\n%s", c.waitErr, c.stderr)
		case <-ctx.Done():
			b.Fatalf("chronik serve not ready: %v; stderr:\n%s", ctx.Err(), c.stderr)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// vmRSS reads VmRSS of pid in bytes.
func vmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS line")
}

// settledRSS waits for RSS to stop growing (background work after start)
// and returns it.
func settledRSS(b testing.TB, pid int) int64 {
	b.Helper()
	var last int64
	for i := 0; i < 20; i++ {
		time.Sleep(500 * time.Millisecond)
		rss, err := vmRSS(pid)
		must(b, err)
		if i >= 4 && rss <= last+last/200 { // < 0.5% growth per half second
			return rss
		}
		last = rss
	}
	return last
}

// BenchmarkIdleRSS starts the built broker, reads its VmRSS, creates one
// 1,000-partition topic (RF1), waits until every replica has a leader and
// RSS settles, and reports the RSS per partition replica. Target ≤ 1 MiB.
// Then the broker's CPU over idleCPUWindow with nothing to do (the Raft
// ticks of 1,000 replicas; an RF1 replica has no followers to heartbeat):
// idle-cpu-us/s/replica and idle-cores.
// Peer in the same run: Dragonboat alone hosting 1,000 trivial on-disk
// shards with the broker's Raft settings, in a child of this test binary
// (x_raft).
func BenchmarkIdleRSS(b *testing.B) {
	if probeRound(b) {
		return
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		b.Skip("needs /proc (Linux) to read VmRSS")
	}
	ctx := benchContext(b)
	bin := buildChronik(b)
	b.ReportAllocs() // of this harness only: the broker is a child process
	c := startServe(b, bin, nil, b.TempDir())
	c.waitReady(ctx, b, time.Now())
	before := settledRSS(b, c.cmd.Process.Pid)

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaAddr))
	must(b, err)
	defer cl.Close()
	b.ResetTimer()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, idlePartitions, 1, nil, "idle"); err != nil {
		b.Fatal(err)
	}
	w := DefaultWorkload()
	w.Brokers, w.Topic = []string{c.kafkaAddr}, "idle"
	_, err = EnsureTopic(ctx, w)
	must(b, err)
	c.waitReady(ctx, b, time.Now())
	b.StopTimer()
	after := settledRSS(b, c.cmd.Process.Pid)
	per := float64(after-before) / idlePartitions
	b.ReportMetric(per/1024, "KiB/replica")
	b.ReportMetric(float64(before)/(1<<20), "base-MiB")
	reportRatio(b, "1MiB", per, 1<<20, "")
	cpu := processCPU(b, c.cmd.Process.Pid)
	time.Sleep(idleCPUWindow)
	idle := processCPU(b, c.cmd.Process.Pid) - cpu
	b.ReportMetric(idle.Seconds()/idleCPUWindow.Seconds(), "idle-cores")
	b.ReportMetric(float64(idle.Microseconds())/idleCPUWindow.Seconds()/idlePartitions, "idle-cpu-us/s/replica")

	rbefore, rafter := raftIdleRSS(ctx, b, idlePartitions)
	reportRatio(b, "raft", per, float64(rafter-rbefore)/idlePartitions, "")
	b.ReportMetric(float64(rafter-rbefore)/idlePartitions/1024, "raft-KiB/replica")
}

// idleCPUWindow is how long BenchmarkIdleRSS measures the idle broker's CPU.
const idleCPUWindow = 5 * time.Second

// processCPU returns the user plus system CPU time process pid has used,
// from /proc/<pid>/stat (in ticks of Linux's USER_HZ, 100 a second).
func processCPU(b testing.TB, pid int) time.Duration {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	must(b, err)
	// The command name (field 2) may hold spaces: count from after it.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 13 {
		b.Fatalf("/proc/%d/stat: %d fields after the command name", pid, len(f))
	}
	utime, err := strconv.ParseInt(f[11], 10, 64) // field 14
	must(b, err)
	stime, err := strconv.ParseInt(f[12], 10, 64) // field 15
	must(b, err)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// raftIdleRSS runs this test binary as a Dragonboat-alone child hosting n
// shards and returns its RSS before and after starting them.
func raftIdleRSS(ctx context.Context, b *testing.B, n int) (before, after int64) {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=raft-idle",
		"CHRONIK_BENCH_DIR="+b.TempDir(), "CHRONIK_BENCH_ADDR="+brokertest.FreeAddr(b),
		"CHRONIK_BENCH_SHARDS="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	must(b, err)
	stdout, err := cmd.StdoutPipe()
	must(b, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(b, cmd.Start())
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	expect := func(want string) {
		if !lines.Scan() || lines.Text() != want {
			b.Fatalf("raft-idle child: want %q, got %q (%v); stderr:\n%s", want, lines.Text(), lines.Err(), stderr.String())
		}
	}
	expect("started")
	before = settledRSS(b, cmd.Process.Pid)
	_, err = io.WriteString(stdin, "go\n")
	must(b, err)
	expect("ready")
	after = settledRSS(b, cmd.Process.Pid)
	return before, after
}

// raftIdleChild is the Dragonboat-alone side of BenchmarkIdleRSS: a NodeHost
// with the default broker config's Raft settings; on "go" it starts the
// shards and says "ready" once each has a leader; it exits when stdin closes.
func raftIdleChild() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	n, err := strconv.Atoi(os.Getenv("CHRONIK_BENCH_SHARDS"))
	if err != nil {
		return fail(err)
	}
	cfg := config.Default()
	cfg.DataDir, cfg.RaftAddr = os.Getenv("CHRONIK_BENCH_DIR"), os.Getenv("CHRONIK_BENCH_ADDR")
	nhc, shardCfg := broker.RaftSettings(cfg, brokertest.Logger())
	nh, err := dragonboat.NewNodeHost(nhc)
	if err != nil {
		return fail(err)
	}
	defer nh.Close()
	fmt.Println("started")
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() {
		return 0
	}
	members := map[uint64]dragonboat.Target{1: cfg.RaftAddr}
	create := func(uint64, uint64) sm.IOnDiskStateMachine { return &nullSM{} }
	for i := range n {
		if err := nh.StartOnDiskReplica(members, false, create, shardCfg(uint64(1000+i), 1)); err != nil {
			return fail(err)
		}
	}
	for i := 0; i < n; {
		if _, _, ok, err := nh.GetLeaderID(uint64(1000 + i)); err == nil && ok {
			i++
			continue
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Println("ready")
	for in.Scan() {
	}
	return 0
}

// restartBytes is how much BenchmarkRestart writes before restarting
// (CHRONIK_BENCH_RESTART_BYTES overrides the 1 GiB, e.g. for a smoke run).
func restartBytes() int64 {
	if v, err := strconv.ParseInt(os.Getenv("CHRONIK_BENCH_RESTART_BYTES"), 10, 64); err == nil && v > 0 {
		return v
	}
	return 1 << 30
}

// BenchmarkRestart writes 1 GiB (1 KiB records, 8 keyed partitions, default
// producer) into the built broker, stops it (clean: SIGTERM; kill: SIGKILL,
// so the Raft log since the last state flush is replayed) and times the
// restart until /readyz answers 200. Peer in the same run: the same
// binary's first start on an empty data dir (x_empty). It takes minutes,
// so it runs only when -bench names it: -bench BenchmarkRestart -benchtime 1x.
func BenchmarkRestart(b *testing.B) {
	if !selectedExplicitly("Restart") {
		b.Skip("slow (writes 1 GiB): run with -bench BenchmarkRestart -benchtime 1x")
	}
	for _, mode := range []struct {
		name string
		sig  syscall.Signal
	}{{"stop=clean", syscall.SIGTERM}, {"stop=kill", syscall.SIGKILL}} {
		b.Run(mode.name, func(b *testing.B) {
			if probeRound(b) {
				return
			}
			ctx := benchContext(b)
			bin := buildChronik(b)
			dir := b.TempDir()
			first := startServe(b, bin, nil, dir)
			empty := first.waitReady(ctx, b, time.Now())

			w := DefaultWorkload()
			w.Brokers, w.Topic, w.RecordSize, w.Partitions, w.Keyed = []string{first.kafkaAddr}, "restart", 1024, 8, true
			w.Records = restartBytes() / int64(w.RecordSize)
			_, err := EnsureTopic(ctx, w)
			must(b, err)
			prod, err := Produce(ctx, w)
			must(b, err)
			first.stop(b, mode.sig)

			b.SetBytes(prod.Bytes) // MB/s = data made ready per second
			b.ReportAllocs()       // of this harness only: the broker is a child process
			b.ResetTimer()
			start := time.Now()
			second := startServe(b, bin, first, dir)
			took := second.waitReady(ctx, b, start)
			b.StopTimer()
			b.ReportMetric(float64(took)/float64(time.Millisecond), "restart-ms")
			b.ReportMetric(float64(prod.Bytes)/(1<<30), "GiB")
			reportRatio(b, "empty", float64(took), float64(empty), "")
			b.ReportMetric(float64(empty)/float64(time.Millisecond), "empty-start-ms")
			b.ReportMetric(prod.MBPerSec, "load-MB/s")
		})
	}
}

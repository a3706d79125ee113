//go:build e2e

package compat

// The broker under test: the chronik binary, built once by TestMain and run
// as one process for the whole matrix, behind the recording proxy
// (proxy_e2e_test.go). The pattern follows cmd/chronik/e2e_helpers_test.go.

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	readyTimeout    = 60 * time.Second       // startBroker: until /readyz answers 200
	readyPoll       = 20 * time.Millisecond  // startBroker: /readyz polling interval
	killTimeout     = 10 * time.Second       // cleanup: SIGKILL until the process is reaped
	httpTimeout     = 500 * time.Millisecond // one /readyz request
	logTailLines    = 40                     // lines of the broker log printed when a test fails
	logProblemLines = 60                     // WARN and ERROR lines of the broker log printed when a test fails
)

var updateDoc = flag.Bool("update-clients-doc", false, "write docs/clients.md from this run instead of checking it (also CHRONIK_UPDATE_CLIENTS_DOC=1)")

// chronikBin is the binary TestMain built.
var chronikBin string

func TestMain(m *testing.M) {
	flag.Parse()
	// The rows spend most of their time waiting — for the coordinator's
	// initial rebalance delay, twice per client, and for processes to start
	// — not computing: run them all at once unless -parallel was given.
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		_ = flag.Set("test.parallel", strconv.Itoa(len(rows())))
	}
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "chronik-compat-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "compat: cannot create a temp dir for the binary: %v\n", err)
		return 2
	}
	defer os.RemoveAll(dir)
	chronikBin = filepath.Join(dir, "chronik")
	goTool, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintf(os.Stderr, "compat: cannot build the chronik binary: no go tool in PATH: %v\n", err)
		return 2
	}
	// The test runs in kafka/compat.
	if os.Getenv(externalBrokerEnv) == "" {
		build := exec.Command(goTool, "build", "-o", chronikBin, "../../cmd/chronik")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "compat: FAILED to build the chronik binary (go build -o %s ../../cmd/chronik): %v\n%s\n", chronikBin, err, out)
			return 2
		}
	}
	// Test binaries carry no module versions (debug.ReadBuildInfo has no
	// Deps), so docs/clients.md gets the Go clients' versions from go list.
	list := exec.Command(goTool, append([]string{"list", "-m", "-f", "{{.Path}} {{.Version}}"}, goClientModules...)...)
	out, err := list.Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "compat: go list -m %s: %v\n", strings.Join(goClientModules, " "), err)
		return 2
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if path, v, ok := strings.Cut(line, " "); ok {
			modVersions[path] = v
		}
	}
	return m.Run()
}

// goClientModules are the Go clients of the matrix; modVersions holds their
// versions from go.mod.
var (
	goClientModules = []string{
		"github.com/twmb/franz-go",
		"github.com/IBM/sarama",
		"github.com/segmentio/kafka-go",
		"github.com/confluentinc/confluent-kafka-go/v2",
	}
	modVersions = make(map[string]string)
)

// modVersion is the version of Go module path, "?" if unknown.
func modVersion(path string) string {
	if v, ok := modVersions[path]; ok {
		return v
	}
	return "?"
}

// broker is the chronik process and the proxy every client connects through.
type broker struct {
	addr    string // the proxy: what clients bootstrap from and what the broker advertises
	proxy   *proxy
	logPath string
	// external is set when the matrix runs against another broker (see
	// externalBrokerEnv).
	external bool
}

// externalBrokerEnv names an already-running Kafka-compatible broker to run
// the matrix against instead of chronik, to check the matrix itself (a real
// Kafka, or franz-go's kfake). The broker advertises its own address, so the
// proxy sees only the bootstrap connections and docs/clients.md is neither
// written nor checked.
const externalBrokerEnv = "CHRONIK_COMPAT_EXTERNAL_BROKER"

// brokerConfig is the broker's config file: ACLs on (Kafka's
// StandardAuthorizer rules) with allow.everyone.if.no.acl.found, as
// docs/clients.md says, and the log cleaner checking every
// logCleanerBackoff instead of every 15 s, for the compacted step
// (compacted_e2e_test.go).
const brokerConfig = `[kafka]
authorizer = "acl"
allow-everyone-if-no-acl-found = true
log-cleaner-backoff = "` + logCleanerBackoff + `"
`

// logCleanerBackoff is kafka.log-cleaner-backoff: the cleaner begins or
// ends at most one pass per check, and every client's compacted topic waits
// for its passes in one queue.
const logCleanerBackoff = "20ms"

// startBroker starts chronik serve on a temp dir with free 127.0.0.1 ports
// and brokerConfig, advertising the proxy's address, and waits until /readyz
// answers 200. The process is killed (by PID) and reaped in t's cleanup, and
// the tail of its log is printed if t failed.
func startBroker(t *testing.T) *broker {
	t.Helper()
	if ext := os.Getenv(externalBrokerEnv); ext != "" {
		t.Logf("%s=%s: running the matrix against that broker, not chronik", externalBrokerEnv, ext)
		p := startProxy(t, ext)
		return &broker{addr: p.addr(), proxy: p, external: true}
	}
	// The broker's ports are reserved and released for it to bind, as in
	// cmd/chronik's e2e helpers; the proxy keeps its listener.
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
	for _, l := range ls {
		l.Close()
	}
	kafkaAddr, raftAddr, httpAddr := ports[0], ports[1], ports[2]
	p := startProxy(t, kafkaAddr)

	// ACLs on, allowing what no ACL covers: every client is
	// User:ANONYMOUS and runs every step as without ACLs, and the harness,
	// ANONYMOUS too, may create the ACLs of the denied step (ALTER on the
	// cluster, which no ACL names).
	confPath := filepath.Join(t.TempDir(), "chronik.toml")
	if err := os.WriteFile(confPath, []byte(brokerConfig), 0o644); err != nil {
		t.Fatalf("write config: %v", err)
	}
	logPath := filepath.Join(t.TempDir(), "chronik.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("create log file: %v", err)
	}
	args := []string{
		"serve",
		"--config", confPath,
		"--data-dir", t.TempDir(),
		"--kafka-addr", kafkaAddr,
		"--advertise-addr", p.addr(),
		"--raft-addr", raftAddr,
		"--http-addr", httpAddr,
	}
	cmd := exec.Command(chronikBin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), "CHRONIK_CONFIG=") // no stray config file
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last %d lines of %s (chronik %s):\n%s", logTailLines, logPath, strings.Join(args, " "), tail(logPath, logTailLines))
		}
	})
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", chronikBin, err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		logFile.Close()
		close(done)
	}()
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		select {
		case <-done:
		case <-time.After(killTimeout):
			t.Errorf("chronik pid %d not reaped %s after SIGKILL", pid, killTimeout)
		}
	})

	client := &http.Client{Timeout: httpTimeout}
	url := "http://" + httpAddr + "/readyz"
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return &broker{addr: p.addr(), proxy: p, logPath: logPath}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("chronik pid %d not ready within %s (last GET %s: %v)", pid, readyTimeout, url, err)
		}
		select {
		case <-done:
			t.Fatalf("chronik exited before it was ready: %v", waitErr)
		case <-tick.C:
		}
	}
}

// problems returns the first n WARN and ERROR lines of the broker's log.
func (b *broker) problems(n int) string {
	f, err := os.Open(b.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot open: %v)", err)
	}
	defer f.Close()
	var lines []string
	skipped := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			if len(lines) < n {
				lines = append(lines, l)
			} else {
				skipped++
			}
		}
	}
	if skipped > 0 {
		lines = append(lines, fmt.Sprintf("… and %d more", skipped))
	}
	if len(lines) == 0 {
		return "(none)"
	}
	return strings.Join(lines, "\n")
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

// need reports a missing tool or install step: in CI (CI=true) the test
// fails, elsewhere it skips and says why.
func need(t *testing.T, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI (run kafka/compat/install.sh): %v", what, err)
	}
	t.Skipf("skipping: %s not installed (run kafka/compat/install.sh): %v", what, err)
}

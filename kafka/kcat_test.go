package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/testtls"
)

// librdkafka (through kcat) negotiates its own versions (ApiVersions v3,
// Metadata v4, Produce v7, Fetch v11, ListOffsets v2 for 2.0) and keeps
// compression on only when Produce v0 is advertised (KAFKA_COMPAT trap 2).
func TestKcatProduceConsume(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skipf("kcat not installed: %v", err)
	}
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "kcat", 1)

	run := func(stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, kcat, append([]string{"-b", ts.addr, "-t", "kcat"}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || strings.Contains(stderr.String(), "ERROR") {
			t.Fatalf("kcat %v: %v\n%s", args, err, stderr.String())
		}
		return string(out)
	}
	var input strings.Builder
	var want []string
	for i := range 100 {
		v := strings.Repeat("compressible-", 10) + string(rune('a'+i%26))
		want = append(want, v)
		input.WriteString(v + "\n")
	}
	// librdkafka sends a batch uncompressed when compression does not make
	// it smaller: the lines are repetitive so that it does.
	run(input.String(), "-P", "-z", "gzip", "-X", "linger.ms=100")

	res, err := ts.b.Read(context.Background(), tp("kcat", 0), 0, 1<<20)
	if err != nil || len(res.Records) == 0 {
		t.Fatalf("nothing stored: %v", err)
	}
	var b kmsg.RecordBatch
	if err := b.ReadFrom(res.Records); err != nil {
		t.Fatal(err)
	}
	if codec := b.Attributes & 7; codec != 1 {
		t.Fatalf("stored batch codec %d, want gzip (1): librdkafka turned compression off", codec)
	}

	out := run("", "-C", "-o", "beginning", "-e", "-q")
	if got := strings.Fields(out); !slices.Equal(got, want) {
		t.Fatalf("consumed %q", out)
	}
}

// runKcat runs kcat with args, stdin and env (nil: this process's) for at
// most 30 s; an error carries kcat's stderr, and one it wrote there fails
// the run even when it exits 0.
func runKcat(kcat string, env []string, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil && strings.Contains(stderr.String(), "ERROR") {
		err = errors.New("kcat reported an error")
	}
	if err != nil {
		err = fmt.Errorf("%w: %s", err, stderr.String())
	}
	return string(out), err
}

// librdkafka (through kcat) over SASL_SSL: TLS with the broker's CA, then
// SCRAM-SHA-512 or PLAIN; a wrong password gets nothing.
func TestKcatSASLSSL(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skipf("kcat not installed: %v", err)
	}
	ca := testtls.NewCA(t, "kcat")
	ts := startServer(t, Config{
		TLS: &tls.Config{Certificates: []tls.Certificate{ca.Certificate("broker")}, MinVersion: tls.VersionTLS12},
		SASL: &SASL{
			Mechanisms: []string{MechanismScramSHA512, MechanismPlain},
			Password:   func(u string) (string, bool) { return "kcat-secret", u == "kcat" },
		},
	}, nil)
	ts.createTopic(t, "secure", 1)
	run := func(mechanism, password, stdin string, args ...string) (string, error) {
		return runKcat(kcat, nil, stdin, append([]string{
			"-b", ts.addr, "-t", "secure",
			"-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location=" + ca.File,
			"-X", "sasl.mechanisms=" + mechanism, "-X", "sasl.username=kcat", "-X", "sasl.password=" + password,
		}, args...)...)
	}
	if _, err := run(MechanismScramSHA512, "kcat-secret", "one\ntwo\n", "-P"); err != nil {
		t.Fatalf("produce over SASL_SSL with SCRAM-SHA-512: %v", err)
	}
	out, err := run(MechanismPlain, "kcat-secret", "", "-C", "-o", "beginning", "-e", "-q")
	if err != nil || !slices.Equal(strings.Fields(out), []string{"one", "two"}) {
		t.Fatalf("consume over SASL_SSL with PLAIN: %q, %v", out, err)
	}
	if out, err := run(MechanismScramSHA512, "wrong", "", "-C", "-o", "beginning", "-e", "-q", "-m", "5"); err == nil || out != "" {
		t.Fatalf("a wrong password read %q (err %v)", out, err)
	}
}

package kafka

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
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

	res, err := ts.b.Read(tp("kcat", 0), 0, 1<<20)
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

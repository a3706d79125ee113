//go:build e2e

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	kcatLines   = 1000
	kcatTimeout = 60 * time.Second // one kcat run
)

// kcatPath returns the kcat binary: missing, the test fails in CI and skips
// (saying why) elsewhere.
func kcatPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("kcat is required in CI (apt-get install -y kcat): %v", err)
		}
		t.Skipf("skipping: kcat not installed (apt-get install -y kcat): %v", err)
	}
	return p
}

// runKcat runs kcat with stdin, bounded by kcatTimeout, and asserts it exited
// by itself with code 0. It returns stdout.
func runKcat(t *testing.T, kcat string, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kcatTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("kcat %s did not exit by itself within %s (killed)\nstderr:\n%s", strings.Join(args, " "), kcatTimeout, stderr.String())
	}
	if err != nil {
		t.Fatalf("kcat %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if strings.Contains(stderr.String(), "% ERROR") || strings.Contains(stderr.String(), "Delivery failed") {
		t.Fatalf("kcat %s exited 0 but reported errors:\n%s", strings.Join(args, " "), stderr.String())
	}
	return stdout.String()
}

// line is one produced message: key is nil for a message without a key.
type line struct {
	key   []byte
	value string
}

// kcatInput returns n lines for kcat -P -K: (every third line has a key)
// and the messages they stand for.
func kcatInput(prefix string, n int) (string, []line) {
	var b strings.Builder
	want := make([]line, n)
	for i := range n {
		v := fmt.Sprintf("%s-value-%04d", prefix, i)
		if i%3 == 0 {
			k := fmt.Sprintf("%s-key-%04d", prefix, i)
			fmt.Fprintf(&b, "%s:%s\n", k, v)
			want[i] = line{key: []byte(k), value: v}
		} else {
			// no ':' in the line: kcat sends it with a null key
			fmt.Fprintf(&b, "%s\n", v)
			want[i] = line{value: v}
		}
	}
	return b.String(), want
}

// kcatConsume reads topic from the beginning to the end of the partition
// with kcat -e and returns its '%k|%s' lines.
func kcatConsume(t *testing.T, kcat, kafkaAddr, topic string) []string {
	t.Helper()
	out := runKcat(t, kcat, "", "-b", kafkaAddr, "-t", topic, "-C", "-e", "-f", `%k|%s\n`)
	out = strings.TrimSuffix(out, "\n")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// checkKcatLines compares kcat's '%k|%s' output with what was produced, in
// order (kcat prints a null key as an empty string).
func checkKcatLines(t *testing.T, got []string, want []line) {
	t.Helper()
	bad := 0
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = string(want[i].key) + "|" + want[i].value
		}
		if g != w {
			bad++
			if bad <= 10 {
				t.Errorf("kcat line %d: got %q, want %q", i, g, w)
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("kcat printed %d messages, want %d", len(got), len(want))
	}
	if bad > 0 {
		t.FailNow()
	}
}

// checkKgoRecords compares records read with kgo (one partition) with what
// was produced, including null vs non-null keys.
func checkKgoRecords(t *testing.T, got []*kgo.Record, want []line) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("kgo read %d records, want %d", len(got), len(want))
	}
	for i, r := range got {
		w := want[i]
		switch {
		case r.Offset != int64(i):
			t.Fatalf("record #%d has offset %d", i, r.Offset)
		case string(r.Value) != w.value:
			t.Fatalf("offset %d: value %q, want %q", i, r.Value, w.value)
		case (r.Key == nil) != (w.key == nil) || !bytes.Equal(r.Key, w.key):
			t.Fatalf("offset %d: key %s, want %s", i, showKey(r.Key), showKey(w.key))
		}
	}
}

func showKey(k []byte) string {
	if k == nil {
		return "null"
	}
	return fmt.Sprintf("%q", k)
}

// TestKcat drives the broker with kcat (librdkafka 2.0.2): produce with and
// without gzip, consume to the end of the partition (-e), and interoperate
// with franz-go in both directions.
func TestE2EKcat(t *testing.T) {
	kcat := kcatPath(t)
	a := freeAddrs(t)
	startNode(t, t.TempDir(), a)

	for _, tc := range []struct {
		name  string
		codec []string
	}{
		{"plain", nil},
		{"gzip", []string{"-z", "gzip"}},
	} {
		t.Run("produce-"+tc.name, func(t *testing.T) {
			topic := "kcat-" + tc.name
			in, want := kcatInput(tc.name, kcatLines)
			args := append([]string{"-b", a.kafka, "-t", topic, "-P", "-K:"}, tc.codec...)
			runKcat(t, kcat, in, args...)

			checkKcatLines(t, kcatConsume(t, kcat, a.kafka, topic), want)

			// kcat-produced records read back with kgo: null keys stay null.
			end := endOffsets(t, a.kafka, topic, 1)
			if end[0] != kcatLines {
				t.Fatalf("high watermark %d, want %d", end[0], kcatLines)
			}
			recs := consumeAll(t, a.kafka, topic, end)[0]
			checkKgoRecords(t, recs, want)
			byCodec := make(map[uint8]int)
			for _, r := range recs {
				byCodec[r.Attrs.CompressionType()]++
			}
			t.Logf("%s: records by batch compression attribute: %v", topic, byCodec)
			// librdkafka sends a batch uncompressed when gzip would not
			// shrink it, but 1,000 similar lines compress: some batches must
			// have gone through gzip, or this did not test it.
			if tc.name == "gzip" && byCodec[1] == 0 {
				t.Errorf("no record of %s came back in a gzip batch (attributes %v)", topic, byCodec)
			}
		})
	}

	t.Run("kgo-to-kcat", func(t *testing.T) {
		const topic = "kgo-to-kcat"
		codecs := []struct {
			name  string
			codec kgo.CompressionCodec
		}{
			{"none", kgo.NoCompression()},
			{"gzip", kgo.GzipCompression()},
			{"snappy", kgo.SnappyCompression()},
			{"lz4", kgo.Lz4Compression()},
			{"zstd", kgo.ZstdCompression()},
		}
		const perCodec = 200
		var want []line
		for _, c := range codecs {
			// kgo asks for auto-creation only when told to (Metadata v4+ flag).
			cl := newClient(t, a.kafka, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(c.codec), kgo.AllowAutoTopicCreation())
			recs := make([]*kgo.Record, perCodec)
			for i := range recs {
				l := line{value: fmt.Sprintf("kgo-%s-value-%04d", c.name, i)}
				if i%2 == 0 {
					l.key = fmt.Appendf(nil, "kgo-%s-key-%04d", c.name, i)
				}
				want = append(want, l)
				recs[i] = &kgo.Record{Key: l.key, Value: []byte(l.value)}
			}
			ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
			err := cl.ProduceSync(ctx, recs...).FirstErr()
			cancel()
			cl.Close()
			if err != nil {
				t.Fatalf("kgo produce with %s: %v", c.name, err)
			}
		}
		checkKcatLines(t, kcatConsume(t, kcat, a.kafka, topic), want)
	})
}

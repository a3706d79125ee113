package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/chronik-go/chronik/bench"
)

func TestBenchRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"bench", "produce", "--acks", "2"}, `--acks "2"`},
		{[]string{"bench", "produce", "--format", "yaml"}, `--format "yaml"`},
		{[]string{"bench", "produce", "--acks", "1", "--idempotent"}, "needs acks=all"},
		{[]string{"bench", "e2e", "now"}, `unexpected argument "now"`},
	} {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			t.Setenv("CHRONIK_CONFIG", "")
			t.Setenv("CHRONIK_BROKERS", "")
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), tc.err) {
				t.Fatalf("exit %d, stderr %q; want 1 and %q", code, &stderr, tc.err)
			}
		})
	}
}

// TestBenchProduceConsumeJSON runs the load tool against kfake (no broker
// needed) and checks the JSON summaries' counts.
func TestBenchProduceConsumeJSON(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv("CHRONIK_CONFIG", "")
	addr := c.ListenAddrs()[0]
	for _, tc := range []struct {
		args []string
		kind string
	}{
		{[]string{"bench", "produce", "--brokers", addr, "--records", "300", "--partitions", "2", "--format", "json"}, "produce"},
		{[]string{"bench", "consume", "--brokers", addr, "--format", "json"}, "consume"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d\nstderr: %s", tc.args, code, &stderr)
		}
		var res bench.Result
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			t.Fatalf("%v: %v\n%s", tc.args, err, &stdout)
		}
		if res.Kind != tc.kind || res.Records != 300 || res.Bytes != 300*256 {
			t.Fatalf("%v: %+v", tc.args, res)
		}
	}
}

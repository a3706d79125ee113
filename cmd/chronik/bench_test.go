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
		{[]string{"bench", "produce", "--transaction-records", "10", "--acks", "1"}, "--transaction-records needs --acks all"},
		{[]string{"bench", "produce", "--transaction-records", "10", "--idempotent=false"}, "drop --idempotent=false"},
		{[]string{"bench", "produce", "--transaction-records", "10", "--in-flight", "6"}, "takes no --in-flight"},
		{[]string{"bench", "produce", "--transaction-records", "10", "--abort-every", "1"}, "abort every transaction"},
		{[]string{"bench", "produce", "--transaction-records", "-1"}, "may not be negative"},
		{[]string{"bench", "produce", "--abort-every", "3"}, "needs transactions"},
		{[]string{"bench", "produce", "--isolation", "committed"}, `isolation "committed"`},
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

// TestBenchTransactionsJSON runs a transactional produce with aborts
// against kfake and reads the topic back read_committed: exactly the
// committed records.
func TestBenchTransactionsJSON(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv("CHRONIK_CONFIG", "")
	addr := c.ListenAddrs()[0]
	results := map[string]bench.Result{}
	for _, args := range [][]string{
		{
			"bench", "produce", "--brokers", addr, "--records", "400", "--partitions", "2", "--producers", "2",
			"--transaction-records", "40", "--abort-every", "2", "--format", "json",
		},
		{"bench", "consume", "--brokers", addr, "--isolation", "read_committed", "--format", "json"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d\nstderr: %s", args, code, &stderr)
		}
		var res bench.Result
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, &stdout)
		}
		results[res.Kind] = res
	}
	// Per producer: 200 committed records in 5 transactions of 40; of its 9
	// transactions the 2nd, 4th, 6th and 8th aborted.
	p, cons := results["produce"], results["consume"]
	if p.Records != 400 || p.RecordsPerSec <= 0 || p.Transactions != 10 || p.AbortedTransactions != 8 || p.AbortedRecords != 320 || p.CommitLatency == nil {
		t.Fatalf("produce: %+v", p)
	}
	if cons.Records != 400 {
		t.Fatalf("read_committed consume read %d records, want the 400 committed", cons.Records)
	}
}

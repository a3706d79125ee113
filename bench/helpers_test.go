package bench

import (
	"context"
	"flag"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/config"
)

// benchTimeout bounds one benchmark function's work.
const benchTimeout = 15 * time.Minute

func benchContext(b testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
	b.Cleanup(cancel)
	return ctx
}

// probeRound reports whether this is the testing package's b.N = 1 probe
// that precedes a time-based run: starting a broker for one record is
// wasted, so benchmarks return at once. With -benchtime 1x the single round
// is real and runs.
func probeRound(b *testing.B) bool {
	if b.N != 1 {
		return false
	}
	f := flag.Lookup("test.benchtime")
	return f == nil || f.Value.String() != "1x"
}

// selectedExplicitly reports whether the -bench pattern names this
// benchmark literally (slow benchmarks skip under "-bench .").
func selectedExplicitly(name string) bool {
	f := flag.Lookup("test.bench")
	if f == nil {
		return false
	}
	return strings.Contains(f.Value.String(), name)
}

// startChronik starts an in-process single-node broker (real TCP,
// Dragonboat, Pebble on a temp dir) and returns its Kafka address and
// config.
func startChronik(b testing.TB, mutate func(*config.Config)) (addr string, cfg config.Config) {
	b.Helper()
	br, cfg := startBroker(b, mutate)
	return br.KafkaAddr(), cfg
}

// startBroker is startChronik returning the broker itself.
func startBroker(b testing.TB, mutate func(*config.Config)) (*broker.Broker, config.Config) {
	b.Helper()
	cfg := brokertest.Config(b)
	// Port 0: the broker binds its ports itself. A port picked free
	// beforehand was once taken by a client connection's local port
	// (same ephemeral range) before the broker bound it.
	cfg.KafkaAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	if mutate != nil {
		mutate(&cfg)
	}
	return brokertest.Start(b, cfg), cfg
}

// raftSaves reads the Raft log store's save metrics from a broker's
// /metrics: saves, their total seconds, and the entries they held.
type raftSaves struct{ count, seconds, entries float64 }

var raftSaveLine = regexp.MustCompile(`(?m)^chronik_raft_log_(save_duration_seconds_count|save_duration_seconds_sum|saved_entries_total) (\S+)$`)

// readMetrics returns a broker's /metrics page.
func readMetrics(b testing.TB, httpAddr string) string {
	b.Helper()
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	must(b, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(b, err)
	return string(body)
}

func readRaftSaves(b testing.TB, httpAddr string) raftSaves {
	b.Helper()
	var s raftSaves
	for _, m := range raftSaveLine.FindAllStringSubmatch(readMetrics(b, httpAddr), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		must(b, err)
		switch m[1] {
		case "save_duration_seconds_count":
			s.count = v
		case "save_duration_seconds_sum":
			s.seconds = v
		case "saved_entries_total":
			s.entries = v
		}
	}
	return s
}

// produceTimes is a reading of a broker's server-side Produce timing.
type produceTimes struct{ requests, within5ms float64 }

func (t produceTimes) add(o produceTimes) produceTimes {
	return produceTimes{t.requests + o.requests, t.within5ms + o.within5ms}
}

func (t produceTimes) sub(o produceTimes) produceTimes {
	return produceTimes{t.requests - o.requests, t.within5ms - o.within5ms}
}

var produceTimeLine = regexp.MustCompile(`(?m)^chronik_kafka_request_duration_seconds_(count|bucket)\{api="Produce"(?:,le="([^"]+)")?\} ([0-9.e+]+)$`)

// parseProduceTimes reads a broker's Produce requests and those answered
// within 5 ms from its /metrics page.
func parseProduceTimes(metrics string) produceTimes {
	var t produceTimes
	for _, m := range produceTimeLine.FindAllStringSubmatch(metrics, -1) {
		v, _ := strconv.ParseFloat(m[3], 64) // the pattern admits numbers only
		switch {
		case m[1] == "count":
			t.requests = v
		case m[2] == "0.005":
			t.within5ms = v
		}
	}
	return t
}

// reportSaves reports the mean Raft log save time (save-ms) and entries
// per save between two readings.
func reportSaves(b *testing.B, before, after raftSaves) {
	if n := after.count - before.count; n > 0 {
		b.ReportMetric((after.seconds-before.seconds)/n*1000, "save-ms")
		b.ReportMetric((after.entries-before.entries)/n, "entries/save")
	}
}

// startKfake starts franz-go's in-memory broker (one node) and returns
// its address.
func startKfake(b testing.TB) string {
	b.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(1))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// on returns w aimed at addr, creating its topic there.
func on(ctx context.Context, b testing.TB, addr string, w Workload) Workload {
	b.Helper()
	w.Brokers = []string{addr}
	if _, err := EnsureTopic(ctx, w); err != nil {
		b.Fatal(err)
	}
	return w
}

// reportRun reports a run's rates and latency percentiles.
func reportRun(b *testing.B, r Result) {
	b.ReportMetric(r.RecordsPerSec, "records/s")
	b.ReportMetric(r.MBPerSec, "MB/s")
	if r.Batches > 0 {
		b.ReportMetric(r.RecordsPerBatch(), "records/batch")
	}
	reportLatency(b, "", r.Latency)
	if r.AckLatency != nil {
		reportLatency(b, "ack-", r.AckLatency)
	}
}

func reportLatency(b *testing.B, prefix string, l *Latency) {
	if l == nil || l.Count == 0 {
		return
	}
	b.ReportMetric(l.P50, prefix+"p50-ms")
	b.ReportMetric(l.P90, prefix+"p90-ms")
	b.ReportMetric(l.P99, prefix+"p99-ms")
	b.ReportMetric(l.P999, prefix+"p99.9-ms")
	b.ReportMetric(l.Max, prefix+"max-ms")
}

// reportRatio reports ours/theirs as "x_<peer>" (and the peer's own figure
// when unit is not empty), so every line carries its comparison.
func reportRatio(b *testing.B, peer string, ours, theirs float64, unit string) {
	if unit != "" {
		b.ReportMetric(theirs, peer+"-"+unit)
	}
	if theirs > 0 {
		b.ReportMetric(ours/theirs, "x_"+peer)
	}
}

// must fails the benchmark on err.
func must(b testing.TB, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// benchName makes a name usable as a topic.
var nonTopic = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

func topicName(s string) string { return nonTopic.ReplaceAllString(s, "-") }

// logf prints a line that benchstat ignores (it is not a result line).
func logf(b *testing.B, format string, args ...any) {
	if testing.Verbose() || os.Getenv("CHRONIK_BENCH_LOG") != "" {
		b.Logf(format, args...)
	}
}

// diskWrites returns the bytes this process has caused to be written to
// storage (/proc/self/io write_bytes), or -1 where that is not available.
func diskWrites() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// reportWriteAmp reports the storage bytes written per payload byte
// between two diskWrites readings (the in-process broker is the only
// writer then; background flushes and compactions that run after the
// measured section are not counted, so this is a lower bound).
func reportWriteAmp(b *testing.B, before, after, payload int64) {
	if before < 0 || after < 0 || payload <= 0 {
		return
	}
	b.ReportMetric(float64(after-before)/float64(payload), "disk-B/payload-B")
}

// reportRaftLogSize reports, as unit, the bytes the Raft log directory
// holds per payload byte: what log retention (raft.snapshot-entries,
// raft.compaction-overhead, raft.snapshot-bytes) costs in disk space.
func reportRaftLogSize(b *testing.B, dir string, payload int64, unit string) {
	var size int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		size += info.Size()
		return nil
	})
	if err != nil || payload <= 0 {
		return
	}
	b.ReportMetric(float64(size)/float64(payload), unit)
}

// timedProduce is the timed part of a produce benchmark: w's records, one
// op each, reported with reportRun. Allocations are the harness's (and the
// in-process broker's, if any; child processes are not counted).
func timedProduce(ctx context.Context, b *testing.B, w Workload) Result {
	b.SetBytes(int64(w.RecordSize))
	b.ReportAllocs()
	b.ResetTimer()
	res, err := Produce(ctx, w)
	b.StopTimer()
	must(b, err)
	reportRun(b, res)
	return res
}

func TestParseProduceTimes(t *testing.T) {
	got := parseProduceTimes(`chronik_kafka_request_duration_seconds_bucket{api="Fetch",le="0.005"} 7
chronik_kafka_request_duration_seconds_bucket{api="Produce",le="0.0025"} 12697
chronik_kafka_request_duration_seconds_bucket{api="Produce",le="0.005"} 15693
chronik_kafka_request_duration_seconds_bucket{api="Produce",le="+Inf"} 15820
chronik_kafka_request_duration_seconds_count{api="Fetch"} 9
chronik_kafka_request_duration_seconds_count{api="Produce"} 15820
`)
	if got != (produceTimes{requests: 15820, within5ms: 15693}) {
		t.Fatalf("parsed %+v", got)
	}
}

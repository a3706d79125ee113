//go:build e2e

package main

// Helpers for the multi-node e2e tests (issue 4): a static cluster of chronik
// processes on 127.0.0.1 started from one [[nodes]] TOML file, a producer
// that records every acknowledgement and every error it meets, and a checker
// that reads every partition back. Built on e2e_helpers_test.go.
//
// Set CHRONIK_E2E_LOG_DIR to keep every node's log (copied there when the
// test ends); run with CHRONIK_LOG_LEVEL=debug for Raft detail.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	clusterReadyTimeout = 60 * time.Second // every node's /readyz after a (re)start
	progressTimeout     = 60 * time.Second // the producer's acks to move on every partition
	deliveryTimeout     = 60 * time.Second // kgo.RecordDeliveryTimeout: records retry across failovers
	flushTimeout        = 90 * time.Second // producer stop: every buffered record answered
	metadataTimeout     = 30 * time.Second // metadata to settle (leaders reported, spread)

	// defaultProduceRate is the producer's pace in records per second over
	// all partitions: steady load that leaves the 2-core machine room for
	// three brokers (unthrottled, kgo reaches ~50k/s here and starves
	// Raft's ticks). CHRONIK_E2E_PRODUCE_RATE overrides it; 0 = unthrottled.
	defaultProduceRate = 5000
	produceTick        = 10 * time.Millisecond
)

// produceRate is defaultProduceRate or $CHRONIK_E2E_PRODUCE_RATE.
func produceRate(t *testing.T) int {
	t.Helper()
	v := os.Getenv("CHRONIK_E2E_PRODUCE_RATE")
	if v == "" {
		return defaultProduceRate
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("CHRONIK_E2E_PRODUCE_RATE=%q: want records per second, 0 for unthrottled", v)
	}
	t.Logf("producer pace from CHRONIK_E2E_PRODUCE_RATE: %d records/s (0 = unthrottled)", n)
	return n
}

// testCluster is a static cluster of chronik processes; nodes[i] has node ID i+1.
type testCluster struct {
	t       *testing.T
	config  string
	addrs   []addrs
	racks   []string
	dirs    []string
	nodes   []*node
	allLogs []nodeLog // every log file of every incarnation, in start order
}

type nodeLog struct {
	id   int
	path string
}

// reserveAddrs reserves 3*n distinct free ports on 127.0.0.1, holding all of
// them until every one is chosen.
func reserveAddrs(t *testing.T, n int) []addrs {
	t.Helper()
	ls := make([]net.Listener, 0, 3*n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range 3 * n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("reserve a port: %v", err)
		}
		ls = append(ls, l)
	}
	out := make([]addrs, n)
	for i := range out {
		out[i] = addrs{kafka: ls[3*i].Addr().String(), raft: ls[3*i+1].Addr().String(), http: ls[3*i+2].Addr().String()}
	}
	return out
}

// startCluster writes a cluster.toml with size [[nodes]] (racks a, b, c, …),
// launches `chronik serve --config cluster.toml --node-id N` for every node
// and waits until every /readyz answers 200.
func startCluster(t *testing.T, size int) *testCluster {
	t.Helper()
	return startClusterWith(t, size, "")
}

// startClusterWith is startCluster with extra TOML (top-level keys and
// tables such as [tier]) written before the [[nodes]] tables.
func startClusterWith(t *testing.T, size int, extraTOML string) *testCluster {
	t.Helper()
	c := &testCluster{t: t, addrs: reserveAddrs(t, size)}
	var b strings.Builder
	b.WriteString(extraTOML)
	b.WriteString("\n")
	for i, a := range c.addrs {
		rack := string(rune('a' + i))
		c.racks = append(c.racks, rack)
		fmt.Fprintf(&b, "[[nodes]]\nid = %d\nkafka = %q\nraft = %q\nhttp = %q\nrack = %q\n\n", i+1, a.kafka, a.raft, a.http, rack)
		c.dirs = append(c.dirs, t.TempDir())
	}
	c.config = filepath.Join(t.TempDir(), "cluster.toml")
	if err := os.WriteFile(c.config, []byte(b.String()), 0o644); err != nil {
		t.Fatalf("write %s: %v", c.config, err)
	}
	t.Cleanup(c.keepLogs) // registered first, so it runs after every node's kill
	start := time.Now()
	c.nodes = make([]*node, size)
	for i := range c.nodes {
		c.nodes[i] = c.launch(i)
	}
	for i := range c.nodes {
		c.waitReady(i, start)
	}
	t.Logf("cluster of %d nodes ready in %s (config %s)", size, time.Since(start).Round(time.Millisecond), c.config)
	return c
}

func (c *testCluster) launch(i int) *node {
	n := launch(c.t, c.dirs[i], c.addrs[i], "--config", c.config, "--node-id", strconv.Itoa(i+1))
	c.allLogs = append(c.allLogs, nodeLog{id: i + 1, path: n.logPath})
	return n
}

// waitReady polls node i's /readyz until 200, failing if the process exits
// or clusterReadyTimeout passes. It returns the time since since.
func (c *testCluster) waitReady(i int, since time.Time) time.Duration {
	c.t.Helper()
	n := c.nodes[i]
	client := &http.Client{Timeout: httpTimeout}
	url := "http://" + c.addrs[i].http + "/readyz"
	deadline := time.Now().Add(clusterReadyTimeout)
	last := "no answer yet"
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(since)
			}
			last = fmt.Sprintf("%s %s", resp.Status, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("node %d (pid %d) not ready within %s; last GET %s: %s", i+1, n.cmd.Process.Pid, clusterReadyTimeout, url, last)
		}
		select {
		case <-n.done:
			c.t.Fatalf("node %d exited before it was ready: %v\n%s", i+1, n.waitErr, tail(n.logPath, logTailLines))
		case <-time.After(readyPoll):
		}
	}
}

// restart starts node i again on its data dir and waits for /readyz; it
// returns how long that took.
func (c *testCluster) restart(i int) time.Duration {
	c.t.Helper()
	start := time.Now()
	c.nodes[i] = c.launch(i)
	return c.waitReady(i, start)
}

// killThenRestart kills node i with -9 while a workload runs, leaves it
// down for down, restarts it (logging how long it took to be ready, with
// what names it) and lets the cluster run for settle.
func (c *testCluster) killThenRestart(i int, what string, down, settle time.Duration) {
	c.t.Helper()
	kill9(c.nodes[i])
	time.Sleep(down)
	c.t.Logf("node %d%s back after %s", i+1, what, c.restart(i).Round(time.Millisecond))
	time.Sleep(settle)
}

// seeds is every node's Kafka address.
func (c *testCluster) seeds() []string {
	s := make([]string, len(c.addrs))
	for i, a := range c.addrs {
		s[i] = a.kafka
	}
	return s
}

// live returns the index of a running node other than skip (-1: none).
func (c *testCluster) live(skip int) int {
	for i, n := range c.nodes {
		if i != skip && !n.exited() {
			return i
		}
	}
	return -1
}

// keepLogs copies every log to $CHRONIK_E2E_LOG_DIR/<test>/ when set.
func (c *testCluster) keepLogs() {
	dir := os.Getenv("CHRONIK_E2E_LOG_DIR")
	if dir == "" {
		if c.t.Failed() {
			c.t.Logf("set CHRONIK_E2E_LOG_DIR to keep the %d node logs of this test", len(c.allLogs))
		}
		return
	}
	dst := filepath.Join(dir, c.t.Name())
	if err := os.MkdirAll(dst, 0o755); err != nil {
		c.t.Logf("keep logs: %v", err)
		return
	}
	for seq, l := range c.allLogs {
		b, err := os.ReadFile(l.path)
		if err != nil {
			c.t.Logf("keep logs: %v", err)
			continue
		}
		name := fmt.Sprintf("%02d-node%d.log", seq+1, l.id)
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			c.t.Logf("keep logs: %v", err)
		}
	}
	c.t.Logf("node logs kept in %s", dst)
}

// partitionInfo is one partition as a broker's Metadata reports it.
type partitionInfo struct {
	leader   int32
	epoch    int32
	replicas []int32
	isr      []int32
	err      int16
}

// brokerInfo is one broker as Metadata reports it.
type brokerInfo struct {
	id   int32
	addr string
	rack string
}

// metadataFrom asks node i itself (not whichever broker kgo picks) for the
// brokers and topic's partitions.
func (c *testCluster) metadataFrom(ctx context.Context, i int, topic string) ([]brokerInfo, map[int32]partitionInfo, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs[i].kafka))
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	seeds := cl.SeedBrokers()
	if len(seeds) != 1 {
		return nil, nil, fmt.Errorf("%d seed brokers, want 1", len(seeds))
	}
	kresp, err := seeds[0].Request(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	resp := kresp.(*kmsg.MetadataResponse)
	var brokers []brokerInfo
	for _, b := range resp.Brokers {
		bi := brokerInfo{id: b.NodeID, addr: net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))}
		if b.Rack != nil {
			bi.rack = *b.Rack
		}
		brokers = append(brokers, bi)
	}
	sort.Slice(brokers, func(a, b int) bool { return brokers[a].id < brokers[b].id })
	parts := make(map[int32]partitionInfo)
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if t.ErrorCode != 0 {
			return brokers, nil, fmt.Errorf("topic %s: %w", topic, kerr.ErrorForCode(t.ErrorCode))
		}
		for _, p := range t.Partitions {
			parts[p.Partition] = partitionInfo{leader: p.Leader, epoch: p.LeaderEpoch, replicas: p.Replicas, isr: p.ISR, err: p.ErrorCode}
		}
	}
	return brokers, parts, nil
}

// leaders returns topic's partition → leader as a live node other than skip
// reports it ("" and nil on error, for logging only).
func (c *testCluster) leaders(topic string, skip int) (map[int32]partitionInfo, string) {
	i := c.live(skip)
	if i < 0 {
		return nil, "no live node"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, parts, err := c.metadataFrom(ctx, i, topic)
	if err != nil {
		return nil, fmt.Sprintf("metadata from node %d: %v", i+1, err)
	}
	return parts, fmt.Sprintf("node %d says %s", i+1, formatLeaders(parts))
}

func formatLeaders(parts map[int32]partitionInfo) string {
	ps := make([]int32, 0, len(parts))
	for p := range parts {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	var b strings.Builder
	for _, p := range ps {
		pi := parts[p]
		fmt.Fprintf(&b, "p%d:leader=%d,epoch=%d", p, pi.leader, pi.epoch)
		if pi.err != 0 {
			fmt.Fprintf(&b, ",err=%v", kerr.ErrorForCode(pi.err))
		}
		b.WriteByte(' ')
	}
	return strings.TrimSpace(b.String())
}

// ---------------------------------------------------------------------------
// Producer

// observedErr counts one kind of error the producer met.
type observedErr struct {
	where     string // kgo log message, or "callback"
	err       string
	retriable bool
	count     int
	first     time.Time
}

// clusterProducer is an idempotent acks=all kgo producer streaming into
// every partition of one topic from a goroutine. It records every
// acknowledgement, every record that finally failed, every error kgo logs
// on the way (retriable or not) and every data-loss notification.
type clusterProducer struct {
	t          *testing.T
	cl         *kgo.Client
	topic      string
	partitions int32
	prefix     string
	rate       int // records/s, 0 = unthrottled
	stopLoop   context.CancelFunc
	loopDone   chan struct{}
	inflight   sync.WaitGroup
	started    time.Time

	mu       sync.Mutex
	produced int64
	acks     []ackedRecord
	perPart  []int64     // acks per partition
	lastAck  []time.Time // last ack per partition
	failures []string    // records that finally failed
	failed   int
	errs     map[string]*observedErr
	dataLoss []string
}

// startClusterProducer starts producing prefix-NNNNNNNNN values round robin
// over the partitions as fast as the cluster takes them.
func startClusterProducer(t *testing.T, seeds []string, topic string, partitions int32, prefix string) *clusterProducer {
	t.Helper()
	p := &clusterProducer{
		t: t, topic: topic, partitions: partitions, prefix: prefix,
		loopDone: make(chan struct{}), started: time.Now(),
		perPart: make([]int64, partitions), lastAck: make([]time.Time, partitions),
		errs: make(map[string]*observedErr),
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(seeds...),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), // the default, stated; idempotence is on by default
		kgo.RecordDeliveryTimeout(deliveryTimeout),
		kgo.RetryTimeout(deliveryTimeout),
		kgo.MaxBufferedRecords(8192),
		// kgo waits at least MetadataMinAge (default 5s) between metadata
		// refreshes, also after a produce error; lowered so that the waits
		// measured here are the cluster's failover, not the client's backoff.
		kgo.MetadataMinAge(250*time.Millisecond),
		kgo.WithLogger(p),
		kgo.ProducerOnDataLossDetected(func(topic string, part int32) {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.dataLoss = append(p.dataLoss, fmt.Sprintf("%s/%d at %s", topic, part, time.Since(p.started).Round(time.Millisecond)))
		}),
	)
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	p.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	p.stopLoop = cancel
	t.Cleanup(func() { cancel(); cl.Close() })
	rate := produceRate(t)
	p.rate = rate
	go func() {
		defer close(p.loopDone)
		// Paced: perTick records every produceTick, or unthrottled (rate 0,
		// bounded only by MaxBufferedRecords).
		var tick <-chan time.Time
		perTick := 1 << 30
		if rate > 0 {
			tk := time.NewTicker(produceTick)
			defer tk.Stop()
			tick = tk.C
			perTick = max(1, rate*int(produceTick/time.Millisecond)/1000)
		}
		for i := 0; ctx.Err() == nil; {
			if tick != nil {
				select {
				case <-ctx.Done():
					return
				case <-tick:
				}
			}
			for end := i + perTick; i < end && ctx.Err() == nil; i++ {
				r := &kgo.Record{Partition: int32(i) % partitions, Value: fmt.Appendf(nil, "%s-%09d", prefix, i)}
				p.inflight.Add(1)
				p.mu.Lock()
				p.produced++
				p.mu.Unlock()
				// context.Background: the loop's context only stops the
				// loop; a record once handed to kgo must be delivered or
				// fail on its own delivery timeout.
				cl.Produce(context.Background(), r, p.callback)
			}
		}
	}()
	return p
}

func (p *clusterProducer) callback(r *kgo.Record, err error) {
	defer p.inflight.Done()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.failed++
		if len(p.failures) < 20 {
			p.failures = append(p.failures, fmt.Sprintf("%s to partition %d after %s: %v", r.Value, r.Partition, time.Since(r.Timestamp).Round(time.Millisecond), err))
		}
		p.noteLocked("record failed (callback)", err)
		return
	}
	p.acks = append(p.acks, ackedRecord{partition: r.Partition, offset: r.Offset, value: string(r.Value)})
	p.perPart[r.Partition]++
	p.lastAck[r.Partition] = time.Now()
}

// Level and Log make the producer kgo's logger: every message that carries
// an error is counted.
func (p *clusterProducer) Level() kgo.LogLevel { return kgo.LogLevelInfo }

func (p *clusterProducer) Log(_ kgo.LogLevel, msg string, keyvals ...any) {
	for i := 0; i+1 < len(keyvals); i += 2 {
		if k, _ := keyvals[i].(string); k == "err" {
			if err, ok := keyvals[i+1].(error); ok && err != nil {
				p.mu.Lock()
				p.noteLocked(msg, err)
				p.mu.Unlock()
			}
		}
	}
}

func (p *clusterProducer) noteLocked(where string, err error) {
	key := where + "|" + err.Error()
	o := p.errs[key]
	if o == nil {
		o = &observedErr{where: where, err: err.Error(), retriable: retriable(err), first: time.Now()}
		p.errs[key] = o
	}
	o.count++
}

// retriable: a kerr error says so itself; anything else kgo meets on the way
// (connection refused or reset, EOF, missing metadata) it retries.
func retriable(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable
	}
	return true
}

// progress returns the acks per partition so far.
func (p *clusterProducer) progress() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.perPart)
}

// waitProgress waits until every partition has at least min more acks than
// in base, and returns, per partition, how long after since it got there.
func (p *clusterProducer) waitProgress(t *testing.T, c *testCluster, base []int64, minAcks int64, since time.Time, what string) []time.Duration {
	t.Helper()
	reached := make([]time.Duration, p.partitions)
	deadline := time.Now().Add(progressTimeout)
	for {
		now := p.progress()
		done := true
		for i := range now {
			if reached[i] == 0 {
				if now[i]-base[i] >= minAcks {
					reached[i] = time.Since(since)
				} else {
					done = false
				}
			}
		}
		if done {
			return reached
		}
		if time.Now().After(deadline) {
			_, leaders := c.leaders(p.topic, -1)
			t.Fatalf("stuck producer: %s: acks per partition %v, at the start %v, want +%d each within %s; %s; errors so far:\n%s",
				what, now, base, minAcks, progressTimeout, leaders, p.errorSummary())
		}
		time.Sleep(pollInterval)
	}
}

// stop ends the produce loop, flushes (every buffered record is acknowledged
// or fails on its own delivery timeout), closes the client and returns.
func (p *clusterProducer) stop(t *testing.T) {
	t.Helper()
	p.stopLoop()
	select {
	case <-p.loopDone:
	case <-time.After(flushTimeout):
		t.Fatalf("stuck producer: the produce loop is still blocked on a full buffer %s after stop; acks per partition %v; errors:\n%s", flushTimeout, p.progress(), p.errorSummary())
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	if err := p.cl.Flush(ctx); err != nil {
		t.Fatalf("stuck producer: flush: %v; acks per partition %v; errors:\n%s", err, p.progress(), p.errorSummary())
	}
	p.cl.Close()
	done := make(chan struct{})
	go func() { p.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(e2eTimeout):
		t.Fatalf("producer callbacks still pending %s after flush and close", e2eTimeout)
	}
}

// errorSummary lists every error kind the producer met, most frequent first.
func (p *clusterProducer) errorSummary() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	kinds := make([]*observedErr, 0, len(p.errs))
	for _, o := range p.errs {
		kinds = append(kinds, o)
	}
	sort.Slice(kinds, func(a, b int) bool { return kinds[a].count > kinds[b].count })
	var b strings.Builder
	for _, o := range kinds {
		kind := "retriable"
		if !o.retriable {
			kind = "NOT RETRIABLE"
		}
		fmt.Fprintf(&b, "  %6d × [%s] %s: %s (first at +%s)\n", o.count, kind, o.where, o.err, o.first.Sub(p.started).Round(time.Millisecond))
	}
	if b.Len() == 0 {
		return "  (none)\n"
	}
	return b.String()
}

// checkErrors fails the test for records that finally failed, data-loss
// notifications (the broker forgot acknowledged idempotent-producer state:
// OUT_OF_ORDER_SEQUENCE_NUMBER / UNKNOWN_PRODUCER_ID) and, when
// onlyRetriable, any non-retriable error kgo met. It returns the summary.
func (p *clusterProducer) checkErrors(t *testing.T, onlyRetriable bool) string {
	t.Helper()
	summary := p.errorSummary()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed > 0 {
		t.Errorf("%d of %d produced records finally failed (delivery timeout %s); first ones:\n  %s", p.failed, p.produced, deliveryTimeout, strings.Join(p.failures, "\n  "))
	}
	if len(p.dataLoss) > 0 {
		t.Errorf("kgo detected data loss (the broker answered OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID and the producer reset its ID) %d times: %v", len(p.dataLoss), p.dataLoss)
	}
	if onlyRetriable {
		for _, o := range p.errs {
			if !o.retriable {
				t.Errorf("the producer met a non-retriable error %d times: %s: %s", o.count, o.where, o.err)
			}
		}
	}
	if int64(len(p.acks))+int64(p.failed) != p.produced {
		t.Errorf("%d records produced but %d acknowledged and %d failed", p.produced, len(p.acks), p.failed)
	}
	return summary
}

// ---------------------------------------------------------------------------
// Checker

// verifyAcked reads every partition of topic from offset 0 to its high
// watermark and checks: offsets contiguous from 0; every acknowledged record
// present exactly once, at its acknowledged offset; no value anywhere twice
// (idempotence across leader changes); per partition the producer's records
// in the order it produced them. It returns the end offsets.
func verifyAcked(t *testing.T, seed, topic string, partitions int32, prefix string, acks []ackedRecord) map[int32]int64 {
	t.Helper()
	start := time.Now()
	end := endOffsets(t, seed, topic, partitions)
	recs := consumeAll(t, seed, topic, end)

	const maxReports = 30
	problems := 0
	report := func(format string, args ...any) {
		problems++
		if problems <= maxReports {
			t.Errorf(format, args...)
		}
	}

	acked := make(map[int32]map[int64]string)
	ackedAt := make(map[string]string) // value → "p/offset"
	for _, a := range acks {
		m := acked[a.partition]
		if m == nil {
			m = make(map[int64]string)
			acked[a.partition] = m
		}
		where := fmt.Sprintf("%d/%d", a.partition, a.offset)
		if prev, ok := m[a.offset]; ok {
			report("partition %d offset %d acknowledged twice: for %q and for %q", a.partition, a.offset, prev, a.value)
		}
		m[a.offset] = a.value
		if prev, ok := ackedAt[a.value]; ok {
			report("value %q acknowledged twice: at %s and at %s", a.value, prev, where)
		}
		ackedAt[a.value] = where
	}

	seen := make(map[string]string) // value → "p/offset"
	unacked := 0
	for p := range partitions {
		got := recs[p]
		if int64(len(got)) != end[p] {
			report("partition %d: consumed %d records, high watermark is %d", p, len(got), end[p])
		}
		lastSeq, lastAt := int64(-1), int64(-1)
		for i, r := range got {
			if r.Offset != int64(i) {
				report("partition %d: record #%d has offset %d, want %d (offsets must be contiguous from 0)", p, i, r.Offset, i)
			}
			v := string(r.Value)
			where := fmt.Sprintf("%d/%d", p, r.Offset)
			if prev, dup := seen[v]; dup {
				report("value %q appears twice: at %s and at %s (acknowledged at %s)", v, prev, where, ackedAt[v])
			}
			seen[v] = where
			if _, ok := acked[p][r.Offset]; !ok {
				unacked++
			}
			if seq, ok := strings.CutPrefix(v, prefix+"-"); ok {
				n, err := strconv.ParseInt(seq, 10, 64)
				if err == nil {
					if n <= lastSeq {
						report("partition %d: %q at offset %d comes after %s-%09d at offset %d: out of produce order", p, v, r.Offset, prefix, lastSeq, lastAt)
					}
					lastSeq, lastAt = n, r.Offset
				}
			}
		}
		offs := make([]int64, 0, len(acked[p]))
		for o := range acked[p] {
			offs = append(offs, o)
		}
		slices.Sort(offs)
		for _, o := range offs {
			want := acked[p][o]
			switch {
			case o >= end[p]:
				report("partition %d: acknowledged record %q at offset %d is lost: the high watermark is %d", p, want, o, end[p])
			case o >= int64(len(got)):
				report("partition %d: acknowledged record %q at offset %d was not consumed", p, want, o)
			case string(got[o].Value) != want:
				at := seen[want]
				if at == "" {
					at = "nowhere"
				}
				report("partition %d offset %d: got %q, acknowledged %q (that value is at %s)", p, o, got[o].Value, want, at)
			}
		}
	}
	if problems > maxReports {
		t.Errorf("... and %d more problems", problems-maxReports)
	}
	if problems > 0 {
		t.FailNow()
	}
	t.Logf("verified %d records in %d partitions (end offsets %v), %d acknowledged, %d present but never acknowledged, in %s",
		len(seen), partitions, end, len(acks), unacked, time.Since(start).Round(time.Millisecond))
	return end
}

// durations formats a list of durations with its median and maximum.
func durations(ds []time.Duration) string {
	if len(ds) == 0 {
		return "(none)"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Round(time.Millisecond).String()
	}
	return fmt.Sprintf("[%s] p50 %s max %s", strings.Join(parts, " "), s[len(s)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}

// waitUntil polls cond until it reports true or d passes; on timeout the
// test fails with cond's last description of what is missing.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(d)
	for {
		ok, state := cond()
		if ok {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", d, what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// createClusterTopic creates topic with the given partitions and replication
// factor -1 (the broker's default: 3 on three brokers) through node 1, and
// waits until node 1's Metadata shows every partition with three replicas
// and a leader.
func createClusterTopic(t *testing.T, c *testCluster, topic string, partitions int32) {
	t.Helper()
	cl := newClient(t, c.addrs[0].kafka)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, -1, nil, topic)
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if resp.Err != nil {
		t.Fatalf("create topic %s: %v (%s)", topic, resp.Err, resp.ErrMessage)
	}
	took := waitUntil(t, metadataTimeout, fmt.Sprintf("topic %s to have %d partitions with 3 replicas and a leader", topic, partitions), func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, parts, err := c.metadataFrom(ctx, 0, topic)
		if err != nil {
			return false, err.Error()
		}
		if int32(len(parts)) != partitions {
			return false, fmt.Sprintf("%d partitions", len(parts))
		}
		for p, pi := range parts {
			if len(pi.replicas) != 3 {
				return false, fmt.Sprintf("partition %d has replicas %v", p, pi.replicas)
			}
			if pi.err != 0 || pi.leader < 1 {
				return false, formatLeaders(parts)
			}
		}
		return true, ""
	})
	t.Logf("topic %s: %d partitions, replication factor 3, leaders elected %s after creation", topic, partitions, took.Round(time.Millisecond))
}

//go:build integration

package broker_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/broker/brokertest/faultnet"
	"github.com/chronik-go/chronik/core/config"
)

// faultSeed reads CHRONIK_FAULT_SEED, or picks a new seed.
func faultSeed(t *testing.T) uint64 {
	if s := os.Getenv("CHRONIK_FAULT_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CHRONIK_FAULT_SEED=%q: %v", s, err)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

// faultCluster is three in-process brokers whose Raft traffic goes
// through one faultnet.Network.
type faultCluster struct {
	nodes   []config.NodeConfig
	brokers []*broker.Broker
}

// startFaultCluster starts the three brokers; each option changes every
// broker's config after the defaults below.
func startFaultCluster(t *testing.T, network *faultnet.Network, options ...func(*config.Config)) *faultCluster {
	t.Helper()
	fc := &faultCluster{}
	for id := int32(1); id <= 3; id++ {
		fc.nodes = append(fc.nodes, config.NodeConfig{
			ID:    id,
			Kafka: brokertest.FreeAddr(t),
			// Only the channel transport uses this address; nothing listens
			// on it over TCP, so the leadership balancer and controlled
			// shutdown, which dial it to see whether a peer is up, stay idle.
			Raft: brokertest.FreeAddr(t),
			HTTP: brokertest.FreeAddr(t),
		})
	}
	fc.brokers = make([]*broker.Broker, len(fc.nodes))
	errs := make([]error, len(fc.nodes))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for i, n := range fc.nodes {
		cfg := brokertest.Config(t) // temp data dir, RTT 5ms, election 10
		cfg.NodeID = n.ID
		cfg.KafkaAddr, cfg.AdvertiseAddr, cfg.RaftAddr, cfg.HTTPAddr = n.Kafka, n.Kafka, n.Raft, n.HTTP
		cfg.Nodes = fc.nodes
		// Snapshot and compact often, so that a follower left behind by a
		// cut catches up from a snapshot streamed through the same faults.
		cfg.Raft.SnapshotEntries, cfg.Raft.CompactionOverhead = 200, 50
		for _, o := range options {
			o(&cfg)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A cluster member waits for its peers' meta replicas, so all
			// three start at once.
			fc.brokers[i], errs[i] = broker.StartWithOptions(ctx, cfg, brokertest.Logger(),
				broker.Options{TransportFactory: network.Factory()})
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		network.Heal()
		var wg sync.WaitGroup
		for i, b := range fc.brokers {
			if b == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := b.Stop(ctx); err != nil {
					t.Errorf("stop broker %d: %v", fc.nodes[i].ID, err)
				}
			}()
		}
		wg.Wait()
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	return fc
}

// createTopic creates a topic of partitions with three replicas and
// returns an admin client of the cluster, closed when the test ends.
func (fc *faultCluster) createTopic(ctx context.Context, t *testing.T, topic string, partitions int32) (*kgo.Client, *kadm.Client) {
	t.Helper()
	admin, err := kgo.NewClient(kgo.SeedBrokers(fc.kafkaAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	adm := kadm.NewClient(admin)
	if _, err := adm.CreateTopic(ctx, partitions, 3, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	return admin, adm
}

func (fc *faultCluster) kafkaAddrs() []string {
	var out []string
	for _, n := range fc.nodes {
		out = append(out, n.Kafka)
	}
	return out
}

func (fc *faultCluster) raftAddr(id int32) string {
	n, _ := config.Config{Nodes: fc.nodes}.Node(id)
	return n.Raft
}

// leader returns the broker whose Raft replica of topic/p believes it
// leads, when exactly one does (two can believe so briefly around an
// election, the old one until it hears of the new term).
func (fc *faultCluster) leader(topic string, p int32) (int32, bool) {
	var leaders []int32
	for _, b := range fc.brokers {
		st := b.Status()
		for _, r := range st.Replicas {
			if r.Topic == topic && r.Partition == p && r.IsLeader {
				leaders = append(leaders, st.Node)
			}
		}
	}
	if len(leaders) != 1 {
		return -1, false
	}
	return leaders[0], true
}

// faultAck is one acknowledged record.
type faultAck struct {
	partition int32
	offset    int64
	value     string
}

// faultProducer produces continuously to every partition of a topic and
// records what was acknowledged.
type faultProducer struct {
	cl   *kgo.Client
	stop atomic.Bool
	done chan struct{}

	mu     sync.Mutex
	acks   []faultAck
	perP   []int64 // acks per partition
	lastAt []time.Time
	maxGap []time.Duration // longest wait between acks since the last gaps()
	failed map[string]int
	sent   int64
}

func startFaultProducer(ctx context.Context, t *testing.T, addrs []string, topic string, partitions int32) *faultProducer {
	t.Helper()
	opts := []kgo.Opt{
		kgo.SeedBrokers(addrs...),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotence is on by default
		kgo.RecordDeliveryTimeout(5 * time.Minute),
		kgo.MaxBufferedRecords(1000),
	}
	if v := os.Getenv("CHRONIK_TEST_LOG"); v != "" {
		level := kgo.LogLevelInfo
		if v == "debug" {
			level = kgo.LogLevelDebug
		}
		opts = append(opts, kgo.WithLogger(kgo.BasicLogger(os.Stderr, level, func() string {
			return time.Now().UTC().Format("15:04:05.000") + " kgo producer: "
		})))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	fp := &faultProducer{
		cl: cl, done: make(chan struct{}), perP: make([]int64, partitions),
		lastAt: make([]time.Time, partitions), maxGap: make([]time.Duration, partitions), failed: map[string]int{},
	}
	t.Cleanup(func() {
		fp.stop.Store(true)
		cl.Close()
	})
	go func() {
		defer close(fp.done)
		pace := time.NewTicker(10 * time.Millisecond)
		defer pace.Stop()
		for i := 0; !fp.stop.Load() && ctx.Err() == nil; i++ {
			if i%200 == 0 {
				<-pace.C // at most 20k records/s, to spare a shared machine
			}
			p := int32(i) % partitions
			rec := &kgo.Record{Partition: p, Value: fmt.Appendf(nil, "p%d-%09d", p, i)}
			// Produce blocks while 1000 records are unacknowledged, which
			// paces this loop to what the cluster takes.
			cl.Produce(ctx, rec, fp.ack)
			fp.mu.Lock()
			fp.sent++
			fp.mu.Unlock()
		}
	}()
	return fp
}

func (fp *faultProducer) ack(r *kgo.Record, err error) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if err != nil {
		fp.failed[err.Error()]++
		return
	}
	fp.acks = append(fp.acks, faultAck{partition: r.Partition, offset: r.Offset, value: string(r.Value)})
	fp.perP[r.Partition]++
	now := time.Now()
	fp.maxGap[r.Partition] = max(fp.maxGap[r.Partition], now.Sub(fp.lastAt[r.Partition]))
	fp.lastAt[r.Partition] = now
}

// gaps returns, per partition, the longest time without an ack since the
// last call (counting a wait still in progress), and starts over from now.
func (fp *faultProducer) gaps() []time.Duration {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	now := time.Now()
	out := make([]time.Duration, len(fp.maxGap))
	for p := range out {
		out[p] = max(fp.maxGap[p], now.Sub(fp.lastAt[p])).Round(time.Millisecond)
		fp.maxGap[p] = 0
		fp.lastAt[p] = now
	}
	return out
}

// progress returns the acknowledgement counts per partition.
func (fp *faultProducer) progress() []int64 {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return slices.Clone(fp.perP)
}

// waitAcks waits until every partition has at least n more
// acknowledgements than in since.
func (fp *faultProducer) waitAcks(ctx context.Context, since []int64, n int64) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		now := fp.progress()
		ok := true
		for p := range now {
			ok = ok && now[p]-since[p] >= n
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("acks per partition went from %v to %v: %w", since, now, ctx.Err())
		case <-tick.C:
		}
	}
}

// TestFaultInjectedNetworkLosesNothing runs three brokers whose Raft
// traffic crosses a fault-injecting transport: rounds of random loss and
// delay on every link, then a one-way cut of a partition leader's outgoing
// links (optionally under loss too), then a heal. An idempotent acks=all
// producer runs throughout; at the end every acknowledged record must be
// in the log exactly once at its acknowledged offset, with no duplicate
// values and no offset gaps. The fault schedule derives from a seed that
// is logged and can be replayed with CHRONIK_FAULT_SEED.
func TestFaultInjectedNetworkLosesNothing(t *testing.T) {
	seed := faultSeed(t)
	t.Logf("seed %d (rerun with CHRONIK_FAULT_SEED=%d)", seed, seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("failed with seed %d: rerun with CHRONIK_FAULT_SEED=%d (CHRONIK_TEST_LOG=1 for broker logs, =debug adds the client's)", seed, seed)
		}
	})
	sched := rand.New(rand.NewPCG(seed, 1))
	network := faultnet.New(seed)
	begin := time.Now()

	fc := startFaultCluster(t, network)
	t.Logf("cluster of %d brokers up in %s", len(fc.brokers), time.Since(begin).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	const topic = "faults"
	const partitions = 3
	_, adm := fc.createTopic(ctx, t, topic, partitions)

	fp := startFaultProducer(ctx, t, fc.kafkaAddrs(), topic, partitions)
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	err := fp.waitAcks(wctx, make([]int64, partitions), 50)
	wcancel()
	if err != nil {
		t.Fatalf("producer made no progress on the healthy cluster: %v", err)
	}
	t.Logf("producing on all partitions after %s", time.Since(begin).Round(time.Millisecond))

	// phase runs one fault for d and logs what the producer achieved.
	var duringFaults int64
	phase := func(name string, d time.Duration) {
		before := fp.progress()
		stats := network.Stats()
		fp.gaps()
		t.Logf("%6.1fs %s for %s", time.Since(begin).Seconds(), name, d.Round(time.Millisecond))
		select {
		case <-time.After(d): // the fault schedule, not synchronisation
		case <-ctx.Done():
			t.Fatalf("test deadline during %s", name)
		}
		after, s := fp.progress(), network.Stats()
		for p := range after {
			duringFaults += after[p] - before[p]
		}
		t.Logf("        acks during it %v, longest wait for an ack %v; Raft batches delivered %d (delayed %d), dropped %d, cut %d",
			sub(after, before), fp.gaps(), s.Delivered-stats.Delivered, s.Delayed-stats.Delayed, s.Dropped-stats.Dropped, s.Cut-stats.Cut)
	}
	heal := func(round int) {
		network.Heal()
		start := time.Now()
		fp.gaps()
		wctx, wcancel := context.WithTimeout(ctx, 90*time.Second)
		defer wcancel()
		if err := fp.waitAcks(wctx, fp.progress(), 50); err != nil {
			t.Fatalf("round %d: no progress after healing (cluster stuck?): %v", round, err)
		}
		t.Logf("%6.1fs healed; every partition took 50 more acks in %s (longest wait for an ack %v)",
			time.Since(begin).Seconds(), time.Since(start).Round(time.Millisecond), fp.gaps())
	}
	duration := func() time.Duration { return 3*time.Second + time.Duration(sched.Int64N(int64(3*time.Second))) }
	lossy := func() faultnet.Rule {
		return faultnet.Rule{Drop: 0.05 + 0.25*sched.Float64(), MaxDelay: time.Duration(5+sched.IntN(16)) * time.Millisecond}
	}

	const rounds = 4
	order := sched.Perm(partitions) // whose leader each round cuts
	for round := 1; round <= rounds; round++ {
		r := lossy()
		network.SetAll(r)
		phase(fmt.Sprintf("round %d: drop %.0f%%, delay 0-%s on every link", round, 100*r.Drop, r.MaxDelay), duration())

		// Cut the current leader of one partition: its outgoing messages
		// to every peer, or to one follower only, sometimes under loss.
		p := int32(order[(round-1)%partitions])
		network.Heal()
		var lead int32
		lctx, lcancel := context.WithTimeout(ctx, time.Minute)
		for ok := false; !ok; {
			if lead, ok = fc.leader(topic, p); !ok {
				select {
				case <-lctx.Done():
					t.Fatalf("round %d: partition %d has no single leader", round, p)
				case <-time.After(10 * time.Millisecond):
				}
			}
		}
		lcancel()
		var cut []int32
		for _, n := range fc.nodes {
			if n.ID != lead {
				cut = append(cut, n.ID)
			}
		}
		if sched.IntN(3) == 0 {
			cut = cut[sched.IntN(len(cut)):][:1]
		}
		desc := fmt.Sprintf("round %d: cut partition %d's leader %d → %v", round, p, lead, cut)
		if sched.IntN(2) == 0 {
			r := lossy()
			network.SetAll(r)
			desc += fmt.Sprintf(" with drop %.0f%%, delay 0-%s elsewhere", 100*r.Drop, r.MaxDelay)
		}
		for _, to := range cut {
			network.Cut(fc.raftAddr(lead), fc.raftAddr(to))
		}
		phase(desc, duration())
		heal(round)
	}

	if duringFaults == 0 {
		t.Errorf("no record was acknowledged during any fault phase")
	}

	// Stop producing and wait for every buffered record's outcome.
	fp.stop.Store(true)
	fctx, fcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer fcancel()
	select {
	case <-fp.done:
	case <-fctx.Done():
		t.Fatal("producer loop did not stop: Produce blocked on a full buffer (cluster stuck after healing?)")
	}
	if err := fp.cl.Flush(fctx); err != nil {
		t.Fatalf("flush: %v (cluster stuck after healing?)", err)
	}
	fp.mu.Lock()
	acks, failed, sent, perP := slices.Clone(fp.acks), fp.failed, fp.sent, slices.Clone(fp.perP)
	fp.mu.Unlock()
	t.Logf("%6.1fs produced %d records, %d acknowledged (per partition %v), %d failed",
		time.Since(begin).Seconds(), sent, len(acks), perP, sent-int64(len(acks)))
	for msg, n := range failed {
		// A failed record may or may not be in the log; the checks below
		// still hold. Acks=all with a five-minute delivery timeout should
		// not fail any, so say so.
		t.Errorf("%d records failed: %s", n, msg)
	}

	faultCheckLog(ctx, t, fc, adm, topic, partitions, acks, len(failed) == 0)
	t.Logf("%6.1fs done", time.Since(begin).Seconds())
}

func sub(a, b []int64) []int64 {
	out := make([]int64, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

// faultCheckLog consumes every partition from offset 0 to its high
// watermark and checks it against the acknowledgements.
func faultCheckLog(ctx context.Context, t *testing.T, fc *faultCluster, adm *kadm.Client, topic string, partitions int32, acks []faultAck, allAcked bool) {
	t.Helper()
	logs := faultReadLogs(ctx, t, fc, adm, topic, partitions)
	// No value twice anywhere; every value one this test produced.
	where := map[string]string{}
	var problems []string
	for p, vs := range logs {
		for off, v := range vs {
			if !strings.HasPrefix(v, fmt.Sprintf("p%d-", p)) {
				problems = append(problems, fmt.Sprintf("partition %d offset %d holds %q, produced to another partition or not by this test", p, off, v))
			}
			at := fmt.Sprintf("%d/%d", p, off)
			if prev, dup := where[v]; dup {
				problems = append(problems, fmt.Sprintf("value %q at %s and again at %s", v, prev, at))
			}
			where[v] = at
		}
	}
	// Every acknowledged record exactly at its acknowledged offset.
	missing := 0
	for _, a := range acks {
		at := fmt.Sprintf("%d/%d", a.partition, a.offset)
		if got, ok := where[a.value]; !ok {
			missing++
			if missing <= 20 {
				problems = append(problems, fmt.Sprintf("acknowledged %q at %s is not in the log", a.value, at))
			}
		} else if got != at {
			problems = append(problems, fmt.Sprintf("acknowledged %q at %s is at %s", a.value, at, got))
		}
	}
	if missing > 0 {
		problems = append(problems, fmt.Sprintf("%d acknowledged records missing in all", missing))
	}
	if allAcked && len(where) != len(acks) {
		problems = append(problems, fmt.Sprintf("log holds %d records but %d were acknowledged and none failed", len(where), len(acks)))
	}
	for i, pr := range problems {
		if i == 50 {
			t.Errorf("… %d more", len(problems)-i)
			break
		}
		t.Error(pr)
	}
	if len(problems) == 0 {
		t.Logf("log verified: %d records, every acknowledgement at its offset, no duplicates, no gaps", len(where))
	}
}

// faultReadLogs reads every partition from offset 0 to its high watermark:
// the value at each offset.
func faultReadLogs(ctx context.Context, t *testing.T, fc *faultCluster, adm *kadm.Client, topic string, partitions int32) [][]string {
	t.Helper()
	hwm := make([]int64, partitions)
	offsets := map[int32]kgo.Offset{}
	// A spurious election (5 ms ticks on a busy machine) can answer
	// LEADER_NOT_AVAILABLE for a moment; kadm does not retry that.
	lctx, lcancel := context.WithTimeout(ctx, time.Minute)
	defer lcancel()
	for p := int32(0); p < partitions; {
		ends, err := adm.ListEndOffsets(lctx, topic)
		o, ok := ends.Lookup(topic, p)
		switch {
		case err == nil && ok && o.Err == nil:
			hwm[p] = o.Offset
			offsets[p] = kgo.NewOffset().At(0)
			p++
			continue
		case lctx.Err() != nil:
			t.Fatalf("end offset of partition %d: %v / %v", p, err, o.Err)
		}
		select {
		case <-lctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Logf("high watermarks %v", hwm)

	cons, err := kgo.NewClient(kgo.SeedBrokers(fc.kafkaAddrs()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	logs := make([][]string, partitions) // value at each offset
	for done := false; !done; {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consuming: %v (have %v of %v)", ctx.Err(), lens(logs), hwm)
		}
		fs.EachError(func(_ string, p int32, err error) {
			if !kerr.IsRetriable(err) {
				t.Fatalf("fetch partition %d: %v", p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if want := int64(len(logs[r.Partition])); r.Offset != want {
				t.Fatalf("partition %d: offset %d follows %d (offsets must be contiguous from 0)", r.Partition, r.Offset, want-1)
			}
			logs[r.Partition] = append(logs[r.Partition], string(r.Value))
		})
		done = true
		for p := range partitions {
			done = done && int64(len(logs[p])) >= hwm[p]
		}
	}
	for p := range logs {
		logs[p] = logs[p][:hwm[p]]
	}
	return logs
}

func lens(ss [][]string) []int {
	out := make([]int, len(ss))
	for i, s := range ss {
		out[i] = len(s)
	}
	return out
}

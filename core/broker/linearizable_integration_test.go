//go:build integration

package broker_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/broker/brokertest/faultnet"
	"github.com/chronik-go/chronik/core/partition"
)

// linOp is one operation on a partition's log, as porcupine sees it: an
// append that took effect at offset, or a read of the high watermark.
type linOp struct {
	partition int32
	read      bool
	value     string // an append's
}

// linOut is an operation's outcome: the offset an append took, or the high
// watermark a read saw.
type linOut struct{ offset int64 }

// linLogModel is a partition's log reduced to what the history can check:
// its length. An append at offset o is possible only when the log holds o
// records; a read sees the high watermark, which is the length at the
// moment it happens. What sits at each offset is checked against the
// final log outside the model.
var linLogModel = porcupine.Model{
	Partition: partitionBy(func(in any) int32 { return in.(linOp).partition }),
	Init:      func() any { return int64(0) },
	Step: func(state, input, output any) (bool, any) {
		n, in, out := state.(int64), input.(linOp), output.(linOut)
		if in.read {
			return out.offset == n, n
		}
		return out.offset == n, n + 1
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linOp), output.(linOut)
		if in.read {
			return fmt.Sprintf("p%d read → hw %d", in.partition, out.offset)
		}
		return fmt.Sprintf("p%d append %s → %d", in.partition, in.value, out.offset)
	},
	DescribeState: func(state any) string { return fmt.Sprintf("%d records", state.(int64)) },
}

// partitionBy splits a history into the independent histories of each
// key of its operations' inputs (porcupine checks each on its own).
func partitionBy[K comparable](key func(input any) K) func([]porcupine.Operation) [][]porcupine.Operation {
	return func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[K][]porcupine.Operation{}
		for _, op := range history {
			k := key(op.Input)
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(byKey))
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	}
}

// linAppend is an append as the client saw it.
type linAppend struct {
	client       int
	partition    int32
	value        string
	call, ret    int64
	offset       int64 // -1 without an answer (error, timeout)
	errorMessage string
}

// linRead is a read as the client saw it: the high watermark and the
// records at offset.. in the answer.
type linRead struct {
	client    int
	partition int32
	call, ret int64
	hw        int64
	offset    int64
	values    []string
	api       string
}

// linHistory collects what every client saw.
type linHistory struct {
	begin time.Time
	mu    sync.Mutex
	adds  []linAppend
	reads []linRead
	errs  map[string]int
	// outOfRange lists fetches answered OFFSET_OUT_OF_RANGE at an offset
	// below a high watermark the client had seen: a stale read, which
	// makes a consumer reset its position.
	outOfRange []string
}

func (h *linHistory) now() int64 { return int64(time.Since(h.begin)) }

func (h *linHistory) failed(what string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errs[what+": "+err.Error()]++
}

// linClient is one client of the test: it finds the partition's leader
// with Metadata requests, as a Kafka client does, and sends it one request
// at a time, never retrying one.
type linClient struct {
	id      int // in the visualization
	cl      *kgo.Client
	topic   string
	topicID [16]byte
	p       int32
	leader  int32
}

func (c *linClient) refresh(ctx context.Context) error {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(c.topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.Partition == c.p && p.ErrorCode == 0 && p.Leader >= 0 {
				c.leader, c.topicID = p.Leader, t.TopicID
				return nil
			}
		}
	}
	return errors.New("no leader in metadata")
}

// produce appends value in a request of its own (no producer ID, so no
// retry could write it twice) and returns the offset it took.
func (c *linClient) produce(ctx context.Context, value string) (int64, error) {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 2000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = c.topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = c.p, brokertest.ProducerBatch(-1, -1, -1, value, false)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.cl.Broker(int(c.leader)))
	if err != nil {
		return -1, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return -1, errors.New("malformed produce answer")
	}
	rp2 := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(rp2.ErrorCode); err != nil {
		return -1, err
	}
	return rp2.BaseOffset, nil
}

// fetch reads from offset at the leader without waiting: the high
// watermark and the values from offset on.
func (c *linClient) fetch(ctx context.Context, offset int64) (int64, []string, error) {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes, req.SessionEpoch = -1, 0, 0, 1<<20, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = c.topic, c.topicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = c.p, offset, 1<<20, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.cl.Broker(int(c.leader)))
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		return -1, nil, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return -1, nil, errors.New("malformed fetch answer")
	}
	fp := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(fp.ErrorCode); err != nil {
		return -1, nil, err
	}
	var values []string
	for raw := fp.RecordBatches; len(raw) > 0; {
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(raw); err != nil {
			return -1, nil, fmt.Errorf("decode batch: %w", err)
		}
		if rb.NumRecords != 1 {
			return -1, nil, fmt.Errorf("batch at %d holds %d records, not the one produced", rb.FirstOffset, rb.NumRecords)
		}
		if rb.FirstOffset != offset+int64(len(values)) {
			return -1, nil, fmt.Errorf("batch at %d where %d was due", rb.FirstOffset, offset+int64(len(values)))
		}
		var rec kmsg.Record
		if err := rec.ReadFrom(rb.Records); err != nil {
			return -1, nil, fmt.Errorf("decode record: %w", err)
		}
		values = append(values, string(rec.Value))
		raw = raw[12+int(rb.Length):]
	}
	return fp.HighWatermark, values, nil
}

// listEnd asks the leader for the partition's end offset, the high
// watermark.
func (c *linClient) listEnd(ctx context.Context) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = c.topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = c.p, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.cl.Broker(int(c.leader)))
	if err != nil {
		return -1, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return -1, errors.New("malformed list offsets answer")
	}
	lp := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(lp.ErrorCode); err != nil {
		return -1, err
	}
	return lp.Offset, nil
}

// epochEnd asks the leader where its latest leader epoch ends, as a
// consumer validating its position after a leader change does (KIP-320):
// the high watermark.
func (c *linClient) epochEnd(ctx context.Context) (int64, error) {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.ReplicaID = -1
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = c.topic
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = c.p, -1, math.MaxInt32
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.cl.Broker(int(c.leader)))
	if err != nil {
		return -1, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return -1, errors.New("malformed offset for leader epoch answer")
	}
	p := resp.Topics[0].Partitions[0]
	return p.EndOffset, kerr.ErrorForCode(p.ErrorCode)
}

// TestLinearizableUnderFaults checks every partition's log for
// linearizability with porcupine while the Raft traffic of three brokers
// suffers loss, delay, one-way cuts, a leader or group coordinator cut
// off both ways, and leadership handed on over slow links.
// Writers append one record per request (acks=all, no producer ID, never
// retried); readers ask the leader for the high watermark, by Fetch,
// ListOffsets and OffsetForLeaderEpoch. The history is checked against a
// log: each acknowledged append took its offset in real-time order with
// the others, and each read saw every append acknowledged before it began
// and none that was not yet committed. An append without an answer took effect if its value
// is in the final log (at that offset), and did not otherwise; every
// value a read returned must be the final log's at that offset. Beside
// them, clients commit two groups' offsets (OffsetCommit outside any
// generation) and fetch them (OffsetFetch): each group's committed offset
// must behave as a linearizable register.
func TestLinearizableUnderFaults(t *testing.T) {
	seed := faultSeed(t)
	t.Logf("seed %d (rerun with CHRONIK_FAULT_SEED=%d)", seed, seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("failed with seed %d: rerun with CHRONIK_FAULT_SEED=%d", seed, seed)
		}
	})
	sched := rand.New(rand.NewPCG(seed, 2))
	network := faultnet.New(seed)
	fc := startFaultCluster(t, network)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	const topic = "linearizable"
	const partitions = 2
	admin, adm := fc.createTopic(ctx, t, topic, partitions)

	h := &linHistory{begin: time.Now(), errs: map[string]int{}}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	const writers, readers = 3, 2
	for p := range int32(partitions) {
		for w := range writers + readers {
			c := &linClient{id: int(p)*(writers+readers) + w, cl: brokertest.RawClient(t, fc.kafkaAddrs()), topic: topic, p: p, leader: -1}
			wg.Add(1)
			go func() {
				defer wg.Done()
				linWorker(wctx, h, c, w < writers, fmt.Sprintf("p%d-w%d", p, w))
			}()
		}
	}

	// Two groups' committed offsets for partition 0, each a register with
	// two clients committing and one fetching.
	oh := &offsetHistory{}
	groups := []string{"lin-g0", "lin-g1"}
	for i, group := range groups {
		for w := range 3 {
			c := &linClient{id: 100 + 3*i + w, cl: brokertest.RawClient(t, fc.kafkaAddrs()), topic: topic, leader: -1}
			wg.Add(1)
			go func() {
				defer wg.Done()
				offsetWorker(wctx, h, oh, c, group, w < 2, w)
			}()
		}
	}

	phase := func(name string) {
		d := 2*time.Second + time.Duration(sched.Int64N(int64(2*time.Second)))
		t.Logf("%6.1fs %s for %s", time.Since(h.begin).Seconds(), name, d.Round(time.Millisecond))
		select {
		case <-time.After(d): // the fault schedule, not synchronisation
		case <-ctx.Done():
			t.Fatalf("test deadline during %s", name)
		}
	}
	leaderOf := func(p int32) int32 {
		lctx, lcancel := context.WithTimeout(ctx, time.Minute)
		defer lcancel()
		for {
			if lead, ok := fc.leader(topic, p); ok {
				return lead
			}
			select {
			case <-lctx.Done():
				t.Fatalf("partition %d has no single leader", p)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	coordinatorOf := func(group string) int32 {
		c := &linClient{cl: admin}
		lctx, lcancel := context.WithTimeout(ctx, time.Minute)
		defer lcancel()
		for {
			err := c.coordinator(lctx, group)
			if err == nil {
				return c.leader
			}
			select {
			case <-lctx.Done():
				t.Fatalf("%s has no coordinator: %v", group, err)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	phase("healthy")
	for round := 1; round <= 4; round++ {
		r := faultnet.Rule{Drop: 0.05 + 0.2*sched.Float64(), MaxDelay: time.Duration(2+sched.IntN(10)) * time.Millisecond}
		network.SetAll(r)
		phase(fmt.Sprintf("round %d: drop %.0f%%, delay 0-%s on every link", round, 100*r.Drop, r.MaxDelay))
		network.Heal()

		// Cut a partition's leader or a group's coordinator off: both
		// ways (it goes on believing it leads until its quorum check), or
		// its outgoing links only. The other links are slow, so its
		// successor learns late what it had committed.
		slow := faultnet.Rule{MaxDelay: time.Duration(5+sched.IntN(20)) * time.Millisecond}
		network.SetAll(slow)
		p := int32(sched.IntN(partitions))
		lead, victim := leaderOf(p), fmt.Sprintf("partition %d's leader", p)
		if round%2 == 0 {
			group := groups[sched.IntN(len(groups))]
			lead, victim = coordinatorOf(group), group+"'s coordinator"
		}
		both := sched.IntN(2) == 0
		for _, n := range fc.nodes {
			if n.ID != lead {
				network.Cut(fc.raftAddr(lead), fc.raftAddr(n.ID))
				if both {
					network.Cut(fc.raftAddr(n.ID), fc.raftAddr(lead))
				}
			}
		}
		phase(fmt.Sprintf("round %d: %s %d cut off (both ways: %v), delay 0-%s elsewhere", round, victim, lead, both, slow.MaxDelay))
		network.Heal()
		phase(fmt.Sprintf("round %d: healed", round))

		// Hand every partition's leadership on, over slow links.
		network.SetAll(slow)
		for p := range int32(partitions) {
			lead := leaderOf(p)
			to := lead%3 + 1
			if err := fc.brokers[lead-1].TransferLeader(partition.TP{Topic: topic, Partition: p}, to); err != nil {
				t.Logf("transfer partition %d to %d: %v", p, to, err)
			}
		}
		phase(fmt.Sprintf("round %d: leaders handed on, delay 0-%s on every link", round, slow.MaxDelay))
		network.Heal()
	}
	stop()
	wg.Wait()
	network.Heal()

	logs := faultReadLogs(ctx, t, fc, adm, topic, partitions)
	end := h.now()
	linCheck(t, h, logs, end)
	offsetCheck(t, oh)

	// Every leader that served reads confirmed its term first; the
	// brokers time it.
	confirms := regexp.MustCompile(`\nchronik_partition_leader_confirm_seconds_count(?:\{[^}]*\})? (\d+)`)
	took := regexp.MustCompile(`\nchronik_partition_leader_confirm_seconds_sum(?:\{[^}]*\})? ([0-9.e+-]+)`)
	total, seconds := 0, 0.0
	for _, n := range fc.nodes {
		text := metricsText(t, n.HTTP)
		if m := confirms.FindStringSubmatch(text); m != nil {
			c, _ := strconv.Atoi(m[1])
			total += c
		}
		if m := took.FindStringSubmatch(text); m != nil {
			s, _ := strconv.ParseFloat(m[1], 64)
			seconds += s
		}
	}
	if total < partitions {
		t.Errorf("chronik_partition_leader_confirm_seconds counts %d confirmed leaderships over the brokers, want at least one per partition", total)
	}
	if total > 0 {
		t.Logf("leaderships confirmed: %d, in %.1f ms on average", total, 1000*seconds/float64(total))
	}
}

// linWorker appends (writer) or reads until ctx ends.
func linWorker(ctx context.Context, h *linHistory, c *linClient, writer bool, name string) {
	rng := rand.New(rand.NewPCG(uint64(c.p), uint64(len(name))))
	var lastHW int64
	for seq := 0; ctx.Err() == nil; seq++ {
		if c.leader < 0 {
			if err := c.refresh(ctx); err != nil {
				h.failed("metadata", err)
				select {
				case <-ctx.Done():
				case <-time.After(20 * time.Millisecond): // a client's metadata backoff
				}
				continue
			}
		}
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		call := h.now()
		var err error
		if writer {
			value := fmt.Sprintf("%s-%d", name, seq)
			var offset int64
			offset, err = c.produce(rctx, value)
			a := linAppend{client: c.id, partition: c.p, value: value, call: call, ret: h.now(), offset: offset}
			if err != nil {
				a.offset, a.errorMessage = -1, err.Error()
			}
			h.mu.Lock()
			h.adds = append(h.adds, a)
			h.mu.Unlock()
		} else {
			rd := linRead{client: c.id, partition: c.p, call: call}
			switch seq % 4 {
			case 0, 2:
				rd.api, rd.offset = "fetch", max(0, lastHW-int64(rng.IntN(3)))
				rd.hw, rd.values, err = c.fetch(rctx, rd.offset)
			case 1:
				rd.api = "list offsets"
				rd.hw, err = c.listEnd(rctx)
			default:
				rd.api = "offset for leader epoch"
				rd.hw, err = c.epochEnd(rctx)
			}
			rd.ret = h.now()
			if errors.Is(err, kerr.OffsetOutOfRange) && rd.api == "fetch" && rd.offset <= lastHW {
				h.mu.Lock()
				h.outOfRange = append(h.outOfRange, fmt.Sprintf("partition %d: fetch at offset %d (%.3fs–%.3fs) answered OFFSET_OUT_OF_RANGE, after the same client saw high watermark %d",
					c.p, rd.offset, sec(rd.call), sec(rd.ret), lastHW))
				h.mu.Unlock()
			}
			// Reads are cheap: pace them, or they outnumber the appends
			// ten to one.
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Millisecond):
			}
			if err == nil {
				lastHW = max(lastHW, rd.hw)
				h.mu.Lock()
				h.reads = append(h.reads, rd)
				h.mu.Unlock()
			}
		}
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				h.failed(map[bool]string{true: "produce", false: "read"}[writer], err)
			}
			c.leader = -1
		}
	}
}

// linCheck checks the history against the final logs, then for
// linearizability.
func linCheck(t *testing.T, h *linHistory, logs [][]string, end int64) {
	t.Helper()
	problems := slices.Clone(h.outOfRange)
	where := map[string]int64{}
	for p, vs := range logs {
		for off, v := range vs {
			if !strings.HasPrefix(v, fmt.Sprintf("p%d-", p)) {
				problems = append(problems, fmt.Sprintf("partition %d offset %d holds %q, not produced to it", p, off, v))
			}
			if _, dup := where[v]; dup {
				problems = append(problems, fmt.Sprintf("partition %d: %q twice", p, v))
			}
			where[v] = int64(off)
		}
	}
	// seenBy returns when an operation first showed that offset off of
	// partition p exists: an append at a later offset acknowledged, or a
	// read of a high watermark past it.
	seenBy := func(p int32, off, end int64) int64 {
		for _, a := range h.adds {
			if a.partition == p && a.offset > off {
				end = min(end, a.ret)
			}
		}
		for _, r := range h.reads {
			if r.partition == p && r.hw > off {
				end = min(end, r.ret)
			}
		}
		return end
	}
	var history []porcupine.Operation
	acked, unknownIn, unknownOut := 0, 0, 0
	for _, a := range h.adds {
		off, in := where[a.value]
		switch {
		case a.offset >= 0 && (!in || off != a.offset):
			problems = append(problems, fmt.Sprintf("partition %d: %q acknowledged at offset %d, final log has it at %d (-1: missing)", a.partition, a.value, a.offset, map[bool]int64{true: off, false: -1}[in]))
			continue
		case a.offset >= 0:
			acked++
		case in:
			// No answer, but it took effect: after its call, and before
			// anything that shows it (a later offset acknowledged, a
			// high watermark past it) or at the latest the final read.
			unknownIn++
			a.offset, a.ret = off, seenBy(a.partition, off, end)
		default:
			unknownOut++
			continue // it never took effect
		}
		history = append(history, porcupine.Operation{
			ClientId: a.client, Input: linOp{partition: a.partition, value: a.value}, Call: a.call,
			Output: linOut{offset: a.offset}, Return: a.ret,
		})
	}
	for _, r := range h.reads {
		final := logs[r.partition]
		if r.hw > int64(len(final)) {
			problems = append(problems, fmt.Sprintf("partition %d: a %s answered high watermark %d, past the final log's end %d", r.partition, r.api, r.hw, len(final)))
		}
		for i, v := range r.values {
			off := r.offset + int64(i)
			switch {
			case off >= r.hw:
				problems = append(problems, fmt.Sprintf("partition %d: fetch returned offset %d (%q) at or past its high watermark %d", r.partition, off, v, r.hw))
			case off >= int64(len(final)) || final[off] != v:
				problems = append(problems, fmt.Sprintf("partition %d: fetch returned %q at offset %d, the final log has another value or none", r.partition, v, off))
			}
		}
		history = append(history, porcupine.Operation{
			ClientId: r.client, Input: linOp{partition: r.partition, read: true}, Call: r.call, Output: linOut{offset: r.hw}, Return: r.ret,
		})
	}
	t.Logf("appends: %d acknowledged, %d unanswered but in the log, %d unanswered and not; reads: %d", acked, unknownIn, unknownOut, len(h.reads))
	for msg, n := range h.errs {
		t.Logf("  %5d × %s", n, msg)
	}
	for i, pr := range problems {
		if i == 30 {
			t.Errorf("… %d more", len(problems)-i)
			break
		}
		t.Error(pr)
	}
	if acked < 100 || len(h.reads) < 100 {
		t.Errorf("too little happened to check: %d acknowledged appends, %d reads", acked, len(h.reads))
	}
	problems = linStaleReads(h, where)
	for i, pr := range problems {
		if i == 20 {
			t.Logf("… %d more", len(problems)-i)
			break
		}
		t.Log(pr)
	}
	// The verbose check, which keeps what the visualization shows, costs
	// many times more: only a failed history gets it.
	start := time.Now()
	res := porcupine.CheckOperationsTimeout(linLogModel, history, 2*time.Minute)
	switch res {
	case porcupine.Ok:
		t.Logf("linearizable: %d operations, checked in %s", len(history), time.Since(start).Round(time.Millisecond))
		return
	case porcupine.Unknown:
		t.Errorf("linearizability check timed out on %d operations", len(history))
	default:
		t.Errorf("not linearizable (%d operations)", len(history))
	}
	_, info := porcupine.CheckOperationsVerbose(linLogModel, history, 2*time.Minute)
	path := filepath.Join(t.ArtifactDir(), "linearizability.html")
	if err := porcupine.VisualizePath(linLogModel, info, path); err != nil {
		t.Logf("visualization: %v", err)
	} else if _, err := os.Stat(path); err == nil {
		t.Logf("visualization in %s (kept with go test -artifacts)", path)
	}
}

// linStaleReads explains what makes a history not linearizable, in the
// two ways a read can break it: a high watermark below an append
// acknowledged before the read began (a stale read), or above one that
// was sent only after the read ended (a read from the future).
func linStaleReads(h *linHistory, where map[string]int64) []string {
	type ackedAt struct {
		ret    int64
		offset int64
		value  string
	}
	acked := map[int32][]ackedAt{} // by acknowledgement time
	sent := map[int32][]int64{}    // by offset: when its append was sent
	values := map[int32][]string{}
	for _, a := range h.adds {
		if a.offset >= 0 {
			acked[a.partition] = append(acked[a.partition], ackedAt{a.ret, a.offset, a.value})
		}
		if off, in := where[a.value]; in {
			for int64(len(sent[a.partition])) <= off {
				sent[a.partition] = append(sent[a.partition], 0)
				values[a.partition] = append(values[a.partition], "")
			}
			sent[a.partition][off], values[a.partition][off] = a.call, a.value
		}
	}
	// The highest offset acknowledged by each acknowledgement time.
	for p, as := range acked {
		slices.SortFunc(as, func(x, y ackedAt) int { return cmp.Compare(x.ret, y.ret) })
		for i := 1; i < len(as); i++ {
			if as[i].offset < as[i-1].offset {
				as[i].offset, as[i].value = as[i-1].offset, as[i-1].value
			}
		}
		acked[p] = as
	}
	latestSent := map[int32][]int64{} // by offset: the latest call at or below it
	for p, calls := range sent {
		latest := slices.Clone(calls)
		for i := 1; i < len(latest); i++ {
			latest[i] = max(latest[i], latest[i-1])
		}
		latestSent[p] = latest
	}
	var out []string
	for _, r := range h.reads {
		as := acked[r.partition]
		// The last acknowledgement before the read began.
		i, _ := slices.BinarySearchFunc(as, r.call, func(a ackedAt, t int64) int { return cmp.Compare(a.ret, t) })
		if i > 0 && r.hw <= as[i-1].offset {
			out = append(out, fmt.Sprintf("stale read: partition %d, %s at %.3fs–%.3fs saw high watermark %d, but offset %d (%q) was acknowledged at %.3fs",
				r.partition, r.api, sec(r.call), sec(r.ret), r.hw, as[i-1].offset, as[i-1].value, sec(as[i-1].ret)))
			continue
		}
		calls, latest := sent[r.partition], latestSent[r.partition]
		if n := min(r.hw, int64(len(latest))); n == 0 || latest[n-1] <= r.ret {
			continue
		}
		for off := int64(0); off < min(r.hw, int64(len(calls))); off++ {
			if calls[off] > r.ret {
				out = append(out, fmt.Sprintf("read from the future: partition %d, %s at %.3fs–%.3fs saw high watermark %d, but offset %d (%q) was only sent at %.3fs",
					r.partition, r.api, sec(r.call), sec(r.ret), r.hw, off, values[r.partition][off], sec(calls[off])))
				break
			}
		}
	}
	return out
}

func sec(ns int64) float64 { return float64(ns) / 1e9 }

// offsetOp is a committed-offset operation on one group's partition 0, as
// porcupine sees it: a commit of offset, or a fetch of the committed one.
type offsetOp struct {
	group  string
	fetch  bool
	offset int64 // a commit's
}

// offsetRegister is a group's committed offset for one partition: a
// register, -1 until the first commit. A commit always succeeds; a fetch
// must see the last commit.
var offsetRegister = porcupine.Model{
	Partition: partitionBy(func(in any) string { return in.(offsetOp).group }),
	Init:      func() any { return int64(-1) },
	Step: func(state, input, output any) (bool, any) {
		in := input.(offsetOp)
		if in.fetch {
			return output.(int64) == state.(int64), state
		}
		return true, in.offset
	},
	DescribeOperation: func(input, output any) string {
		in := input.(offsetOp)
		if in.fetch {
			return fmt.Sprintf("%s fetch → %d", in.group, output.(int64))
		}
		return fmt.Sprintf("%s commit %d", in.group, in.offset)
	},
	DescribeState: func(state any) string { return fmt.Sprintf("committed %d", state.(int64)) },
}

// offsetEvent is a commit or fetch as the client saw it.
type offsetEvent struct {
	op        offsetOp
	client    int
	call, ret int64
	fetched   int64
	answered  bool // a commit's: acknowledged
}

// offsetHistory collects what the group clients saw.
type offsetHistory struct {
	mu     sync.Mutex
	events []offsetEvent
}

// coordinator finds the group's coordinator, as a client does.
func (c *linClient) coordinator(ctx context.Context, group string) error {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = group
	resp, err := req.RequestWith(ctx, c.cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		return err
	}
	c.leader = resp.NodeID
	return nil
}

// commit commits offset for partition 0 outside any generation, as a
// simple consumer (or an offset reset) does.
func (c *linClient) commit(ctx context.Context, group string, offset int64) error {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = group, -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = c.topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch = 0, offset, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.cl.Broker(int(c.leader)))
	if err != nil {
		return err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return errors.New("malformed offset commit answer")
	}
	return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
}

// fetchCommitted returns the group's committed offset for partition 0.
func (c *linClient) fetchCommitted(ctx context.Context, group string) (int64, error) {
	// v8 and later ask for groups; the client picks the version.
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = c.topic, []int32{0}
	req.Topics = append(req.Topics, rt)
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	gt := kmsg.NewOffsetFetchRequestGroupTopic()
	gt.Topic, gt.Partitions = c.topic, []int32{0}
	rg.Topics = append(rg.Topics, gt)
	req.Groups = append(req.Groups, rg)
	resp, err := req.RequestWith(ctx, c.cl.Broker(int(c.leader)))
	if err != nil {
		return -1, err
	}
	if len(resp.Groups) == 0 {
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return -1, err
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return -1, errors.New("malformed offset fetch answer")
		}
		p := resp.Topics[0].Partitions[0]
		return p.Offset, kerr.ErrorForCode(p.ErrorCode)
	}
	g := resp.Groups[0]
	if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
		return -1, err
	}
	if len(resp.Groups) != 1 || len(g.Topics) != 1 || len(g.Topics[0].Partitions) != 1 {
		return -1, errors.New("malformed offset fetch answer")
	}
	p := g.Topics[0].Partitions[0]
	return p.Offset, kerr.ErrorForCode(p.ErrorCode)
}

// offsetWorker commits (writer: its own increasing offsets, distinct from
// every other writer's) or fetches the committed offset until ctx ends.
func offsetWorker(ctx context.Context, h *linHistory, oh *offsetHistory, c *linClient, group string, writer bool, w int) {
	for seq := int64(1); ctx.Err() == nil; seq++ {
		if c.leader < 0 {
			if err := c.coordinator(ctx, group); err != nil {
				h.failed("find coordinator", err)
				select {
				case <-ctx.Done():
				case <-time.After(20 * time.Millisecond): // a client's backoff
				}
				continue
			}
		}
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		ev := offsetEvent{client: c.id, op: offsetOp{group: group, fetch: !writer}, call: h.now()}
		var err error
		if writer {
			ev.op.offset = seq*10 + int64(w)
			err = c.commit(rctx, group, ev.op.offset)
			ev.answered = err == nil
		} else {
			ev.fetched, err = c.fetchCommitted(rctx, group)
		}
		ev.ret = h.now()
		cancel()
		if writer || err == nil {
			oh.mu.Lock()
			oh.events = append(oh.events, ev)
			oh.mu.Unlock()
		}
		if err != nil {
			if ctx.Err() == nil {
				h.failed(map[bool]string{true: "offset commit", false: "offset fetch"}[writer], err)
			}
			c.leader = -1
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Millisecond): // pace them, like the reads
		}
	}
}

// offsetCheck checks the commits and fetches for linearizability. A commit
// without an answer may have taken effect at any moment after its call;
// one that no fetch ever saw changes nothing a check could see and is
// left out, one that a fetch saw happened before that fetch ended.
func offsetCheck(t *testing.T, oh *offsetHistory) {
	t.Helper()
	firstSeen := map[offsetOp]int64{} // commit → end of the first fetch that saw it
	for _, ev := range oh.events {
		if ev.op.fetch && ev.fetched >= 0 {
			k := offsetOp{group: ev.op.group, offset: ev.fetched}
			if at, ok := firstSeen[k]; !ok || ev.ret < at {
				firstSeen[k] = ev.ret
			}
		}
	}
	var history []porcupine.Operation
	commits, unanswered, fetches := 0, 0, 0
	for _, ev := range oh.events {
		op := porcupine.Operation{ClientId: ev.client, Input: ev.op, Call: ev.call, Output: ev.fetched, Return: ev.ret}
		switch {
		case ev.op.fetch:
			fetches++
			if _, ok := firstSeen[offsetOp{group: ev.op.group, offset: ev.fetched}]; !ok && ev.fetched >= 0 {
				t.Errorf("%s: a fetch returned offset %d, which no one committed", ev.op.group, ev.fetched)
			}
		case ev.answered:
			commits++
		default:
			at, seen := firstSeen[ev.op]
			if !seen {
				continue
			}
			unanswered++
			op.Return = at
		}
		history = append(history, op)
	}
	t.Logf("offsets: %d commits acknowledged, %d unanswered but seen; fetches: %d", commits, unanswered, fetches)
	if commits < 50 || fetches < 50 {
		t.Errorf("too few offset operations to check: %d commits, %d fetches", commits, fetches)
	}
	start := time.Now()
	switch porcupine.CheckOperationsTimeout(offsetRegister, history, 2*time.Minute) {
	case porcupine.Ok:
		t.Logf("committed offsets linearizable: %d operations, checked in %s", len(history), time.Since(start).Round(time.Millisecond))
		return
	case porcupine.Unknown:
		t.Errorf("committed offsets: linearizability check timed out on %d operations", len(history))
	default:
		t.Errorf("committed offsets not linearizable (%d operations)", len(history))
	}
	_, info := porcupine.CheckOperationsVerbose(offsetRegister, history, 2*time.Minute)
	path := filepath.Join(t.ArtifactDir(), "offsets.html")
	if err := porcupine.VisualizePath(offsetRegister, info, path); err != nil {
		t.Logf("visualization: %v", err)
	} else {
		t.Logf("visualization in %s (kept with go test -artifacts)", path)
	}
}

//go:build e2e

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/opsctl"
)

// keyedProducer writes value "v-<i>" under key "k<i mod keys>" to partition
// 0 of a topic, idempotent with acks=all, and keeps, per key, the latest
// acknowledged write and the last one attempted.
type keyedProducer struct {
	cl   *kgo.Client
	keys int
	stop context.CancelFunc
	done chan struct{}
	wg   sync.WaitGroup

	mu        sync.Mutex
	acked     map[string]ackedRecord // key → latest acknowledged (by offset)
	attempted map[string]int         // key → i of its last write handed to the client
	acks      int
	failed    int
}

func startKeyedProducer(t *testing.T, seeds []string, topic string, keys int) *keyedProducer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RecordDeliveryTimeout(deliveryTimeout),
		kgo.MetadataMinAge(250*time.Millisecond), kgo.MaxBufferedRecords(4096))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &keyedProducer{
		cl: cl, keys: keys, stop: cancel, done: make(chan struct{}),
		acked: map[string]ackedRecord{}, attempted: map[string]int{},
	}
	t.Cleanup(func() { cancel(); cl.Close() })
	go func() {
		defer close(p.done)
		tick := time.NewTicker(produceTick)
		defer tick.Stop()
		for i := 0; ctx.Err() == nil; {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for end := i + 20; i < end; i++ { // 2,000 records/s
				key := fmt.Sprintf("k%03d", i%keys)
				p.mu.Lock()
				p.attempted[key] = i
				p.mu.Unlock()
				p.wg.Add(1)
				cl.Produce(context.Background(), &kgo.Record{Key: []byte(key), Value: fmt.Appendf(nil, "v-%09d", i)}, p.callback)
			}
		}
	}()
	return p
}

func (p *keyedProducer) callback(r *kgo.Record, err error) {
	defer p.wg.Done()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.failed++
		return
	}
	p.acks++
	if prev, ok := p.acked[string(r.Key)]; !ok || r.Offset > prev.offset {
		p.acked[string(r.Key)] = ackedRecord{offset: r.Offset, value: string(r.Value)}
	}
}

// finish stops producing and waits for every write's outcome.
func (p *keyedProducer) finish() {
	p.stop()
	<-p.done
	p.wg.Wait()
}

// checkCompacted reads partition 0 of topic from the start, from the
// replica in rack (any, when ""), up to end, and returns what is wrong:
// each key must appear once, with its latest acknowledged value at that
// value's offset, or with a later write whose outcome the producer did not
// learn (a timed-out record may still have been stored).
func (p *keyedProducer) checkCompacted(t *testing.T, seeds []string, topic, rack string, end int64) string {
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}})}
	if rack != "" {
		opts = append(opts, kgo.Rack(rack))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[string]*kgo.Record{}
	last := int64(-1)
	for last < end-1 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return fmt.Sprintf("read up to %d of %d: %v", last, end, err)
		}
		var problem string
		fs.EachRecord(func(r *kgo.Record) {
			last = r.Offset
			if _, dup := seen[string(r.Key)]; dup && problem == "" {
				problem = fmt.Sprintf("key %s read twice (again at %d): not compacted yet", r.Key, r.Offset)
			}
			seen[string(r.Key)] = r
		})
		if problem != "" {
			return problem
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, a := range p.acked {
		r, ok := seen[key]
		if !ok {
			return fmt.Sprintf("key %s lost: its latest acknowledged write is %q at %d", key, a.value, a.offset)
		}
		switch got := string(r.Value); {
		case got == a.value && r.Offset != a.offset:
			return fmt.Sprintf("key %s: %q at offset %d, acknowledged at %d", key, got, r.Offset, a.offset)
		case got != a.value:
			gi, _ := strconv.Atoi(strings.TrimPrefix(got, "v-"))
			ai, _ := strconv.Atoi(strings.TrimPrefix(a.value, "v-"))
			if gi < ai || gi > p.attempted[key] || gi%p.keys != ai%p.keys {
				return fmt.Sprintf("key %s: %q, but %q at %d was acknowledged after it", key, got, a.value, a.offset)
			}
		}
	}
	return ""
}

// TestE2ECompactionUnderFaults: three processes and a compacted RF3 topic,
// written by an idempotent keyed producer while each leader's cleaner runs
// every 100 ms, with tiny Raft snapshot settings. A follower is killed -9
// and restarted (it catches up by a snapshot of a compacted partition,
// possibly mid-pass), then the leader. After the writes, every replica
// (read through KIP-392 follower fetching from its rack) serves each key
// once, with its latest acknowledged value at its offset.
func TestE2ECompactionUnderFaults(t *testing.T) {
	const topic, keys = "table", 300
	c := startClusterWith(t, 3, "[kafka]\nlog-cleaner-backoff = \"100ms\"\n[raft]\nsnapshot-entries = 50\ncompaction-overhead = 20\n")
	cl := newClient(t, c.addrs[0].kafka)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 3, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"), "min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
	}, topic)
	cl.Close()
	if err != nil || resp.Err != nil {
		t.Fatalf("create %s: %v %v", topic, err, resp.Err)
	}
	waitUntil(t, metadataTimeout, "a leader", func() (bool, string) {
		parts, s := c.leaders(topic, -1)
		return len(parts) == 1 && parts[0].leader > 0, s
	})
	prod := startKeyedProducer(t, c.seeds(), topic, keys)
	time.Sleep(3 * time.Second)

	parts, _ := c.leaders(topic, -1)
	leader := int(parts[0].leader - 1)
	c.killThenRestart((leader+1)%3, " (a follower)", 3*time.Second, 3*time.Second)
	c.killThenRestart(leader, " (the leader)", 3*time.Second, 2*time.Second)
	prod.finish()
	t.Logf("%d writes acknowledged, %d failed", prod.acks, prod.failed)
	if prod.acks < 10_000 {
		t.Fatalf("only %d writes acknowledged", prod.acks)
	}
	// The last batch waits for the next pass: end with a batch of its own.
	marker := &kgo.Record{Topic: topic, Key: []byte("~marker"), Value: []byte("end")}
	mc := newClient(t, c.addrs[0].kafka, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := mc.ProduceSync(ctx, marker).FirstErr(); err != nil {
		t.Fatalf("marker: %v", err)
	}
	mc.Close()
	end := marker.Offset + 1
	for i, rack := range c.racks {
		took := waitUntil(t, moveTimeout, fmt.Sprintf("node %d's replica to be compacted", i+1), func() (bool, string) {
			problem := prod.checkCompacted(t, c.seeds(), topic, rack, end)
			return problem == "", problem
		})
		st, err := c.nodeStatus(i)
		if err != nil || len(st.Replicas) != 1 {
			t.Fatalf("node %d status %+v: %v", i+1, st, err)
		}
		cs := st.Replicas[0].Compaction
		if cs == nil || cs.LastPass == nil || cs.LastPass.Error != "" || cs.LastPass.Kept >= cs.LastPass.Records {
			t.Fatalf("node %d's compaction status %+v", i+1, cs)
		}
		t.Logf("node %d (rack %s): every key once, latest acknowledged value at its offset (after %s); last pass %d kept %d of %d records, %d of %d bytes",
			i+1, rack, took.Round(time.Millisecond), cs.LastPass.Pass, cs.LastPass.Kept, cs.LastPass.Records, cs.LastPass.BytesAfter, cs.LastPass.BytesBefore)
	}
	// `chronik cluster status` shows the leader's compaction.
	var st opsctl.ClusterStatus
	out := chronikCLI(t, "cluster", "status", "--config", c.config, "--brokers", c.addrs[0].kafka, "--format", "json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("cluster status: %v\n%s", err, out)
	}
	if len(st.Compaction) != 1 || st.Compaction[0].Topic != topic || st.Compaction[0].LastPass == nil || st.Compaction[0].LastPass.Kept >= st.Compaction[0].LastPass.Records {
		t.Fatalf("cluster status compaction: %+v", st.Compaction)
	}
	table := chronikCLI(t, "cluster", "status", "--config", c.config, "--brokers", c.addrs[0].kafka)
	if !strings.Contains(table, "LAST-PASS") || !strings.Contains(table, fmt.Sprintf("#%d kept", st.Compaction[0].LastPass.Pass)) {
		t.Fatalf("cluster status table without the compaction section:\n%s", table)
	}
}

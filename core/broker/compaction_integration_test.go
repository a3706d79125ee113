//go:build integration

package broker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/config"
	"github.com/chronik-go/chronik/core/tier"
)

// compactedView is what a consumer reading a compacted partition from the
// start sees: the latest value per key (nil: a tombstone), with offsets.
type compactedView struct {
	records int
	latest  map[string]*kgo.Record
	count   map[string]int
}

func readCompacted(ctx context.Context, t *testing.T, seeds []string, topic string, hw int64) compactedView {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	v := compactedView{latest: map[string]*kgo.Record{}, count: map[string]int{}}
	last := int64(-1)
	for last < hw-1 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume %s: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset <= last {
				t.Fatalf("offset %d after %d", r.Offset, last)
			}
			last = r.Offset
			v.records++
			v.latest[string(r.Key)] = r
			v.count[string(r.Key)]++
		})
	}
	return v
}

// TestCompaction: a topic with cleanup.policy=compact, written by a real
// producer with zstd batches, keeps only the latest record per key at its
// original offset, drops tombstones past delete.retention.ms, shrinks on
// disk, compacts again what is written later, and reads the same after a
// restart; a topic without compact is never touched.
func TestCompaction(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Kafka.LogCleanerBackoff = 50 * time.Millisecond
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seeds := []string{b.KafkaAddr()}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.ProducerLinger(5*time.Millisecond), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for name, policy := range map[string]string{"table": "compact", "events": "delete"} {
		resp, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{
			"cleanup.policy":            kadm.StringPtr(policy),
			"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
			"delete.retention.ms":       kadm.StringPtr("0"),
		}, name)
		if err != nil || resp.Err != nil {
			t.Fatalf("create %s: %v %v", name, err, resp.Err)
		}
	}
	// 100 keys written 40 times each, then tombstones for ten of them.
	const keys, rounds = 100, 40
	produce := func(topic string, recs []*kgo.Record) {
		t.Helper()
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
	var recs []*kgo.Record
	value := strings.Repeat("v", 200)
	for r := range rounds {
		for k := range keys {
			recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%03d", k), Value: fmt.Appendf(nil, "%s-%d-%d", value, k, r)})
		}
	}
	for k := range 10 {
		recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%03d", k)}) // tombstone
	}
	for _, topic := range []string{"events", "table"} {
		for _, r := range recs {
			r.Topic, r.Partition = topic, 0
		}
		produce(topic, recs)
	}
	wantOffsets := map[string]int64{}
	for _, r := range recs {
		wantOffsets[string(r.Key)] = r.Offset
	}
	// A pass leaves its input's last batch for the next one (as Kafka
	// leaves the active segment): end the input with a batch of its own.
	marker := func() {
		produce("table", []*kgo.Record{{Topic: "table", Partition: 0, Key: []byte("~marker"), Value: []byte("end")}})
	}
	marker()
	hw := int64(len(recs)) + 1
	// The uncompacted size is that of "events", which got the same
	// batches and is never compacted: table's own size may already be
	// compacted by the time it is read (the cleaner checks every 50 ms).
	before := tierStatus(t, b.HTTPAddr(), "events", 0).LocalBytes
	ps := waitTier(t, b.HTTPAddr(), "table", 0, "compaction", func(ps tier.PartitionStatus) bool {
		return ps.LocalBytes < before/10
	})
	if ps.HighWatermark != hw || ps.LogStart != 0 || ps.LastError != "" {
		t.Fatalf("compaction moved offsets: %+v", ps)
	}
	check := func(when string) {
		t.Helper()
		v := readCompacted(ctx, t, seeds, "table", hw)
		delete(v.latest, "~marker")
		if len(v.latest) != keys-10 || v.records > keys-10+2 {
			t.Fatalf("%s: read %d records of %d keys, want %d keys", when, v.records, len(v.latest), keys-10)
		}
		for k, r := range v.latest {
			if v.count[k] != 1 || r.Offset != wantOffsets[k] || r.Value == nil || !strings.HasSuffix(string(r.Value), fmt.Sprintf("-%d", rounds-1)) && k != "k050" {
				t.Fatalf("%s: key %s at offset %d value %.20q…, want its latest at %d", when, k, r.Offset, r.Value, wantOffsets[k])
			}
		}
	}
	check("after compaction")
	t.Logf("table: %d → %d local bytes", before, ps.LocalBytes)
	// /v1/status shows what the pass did.
	for _, r := range b.Status().Replicas {
		c := r.Compaction
		switch {
		case r.Topic == "events" && c != nil:
			t.Fatalf("status of a topic without compact: %+v", c)
		case r.Topic == "table" && (c == nil || c.LastPass == nil || c.LastPass.Error != "" || c.LastPass.Kept >= c.LastPass.Records || c.LastPass.BytesAfter >= c.LastPass.BytesBefore):
			t.Fatalf("status of the compacted topic: %+v", c)
		}
	}

	// A later write is compacted by the next pass.
	upd := &kgo.Record{Topic: "table", Partition: 0, Key: []byte("k050"), Value: []byte("updated")}
	produce("table", []*kgo.Record{upd})
	marker()
	wantOffsets["k050"], hw = upd.Offset, hw+2
	waitFor(ctx, t, "the second pass", func() bool {
		return readCompacted(ctx, t, seeds, "table", hw).count["k050"] == 1
	})
	check("after the second pass")
	if v := readCompacted(ctx, t, seeds, "table", hw); string(v.latest["k050"].Value) != "updated" {
		t.Fatalf("k050 = %q", v.latest["k050"].Value)
	}
	// A record without a key cannot go to a compacted topic (as in Kafka).
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "table", Partition: 0, Value: []byte("no key")}).FirstErr(); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("keyless record to a compacted topic: %v, want INVALID_RECORD", err)
	}
	// The topic without compact keeps every record.
	if v := readCompacted(ctx, t, seeds, "events", int64(len(recs))); v.records != len(recs) {
		t.Fatalf("cleanup.policy=delete topic: %d records, want %d", v.records, len(recs))
	}
	if m := metricsText(t, b.HTTPAddr()); !strings.Contains(m, "\nchronik_compaction_passes_total") || !strings.Contains(m, "\nchronik_compaction_max_dirty_ratio") {
		t.Fatal("chronik_compaction_passes_total or chronik_compaction_max_dirty_ratio missing from /metrics")
	}

	// After a restart the compacted log reads the same.
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	brokertest.Start(t, cfg)
	check("after a restart")
}

// TestCompactionRF3: every replica compacts (each with its own worker), so
// the broker that leads after the first one stops serves the compacted log
// at the same offsets.
func TestCompactionRF3(t *testing.T) {
	brokers, nodes := brokertest.StartCluster(t, 3, func(cfg *config.Config) {
		cfg.Kafka.LogCleanerBackoff = 50 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seeds := brokertest.KafkaAddrs(nodes)
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopic(ctx, 1, 3, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"), "min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
	}, "table")
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	const keys, rounds = 50, 20
	var recs []*kgo.Record
	for r := range rounds {
		for k := range keys {
			recs = append(recs, &kgo.Record{Topic: "table", Key: fmt.Appendf(nil, "k%02d", k), Value: fmt.Appendf(nil, "%d", r)})
		}
	}
	recs = append(recs, &kgo.Record{Topic: "table", Key: []byte("~marker")})
	for i := range recs { // one batch each, so the last is the marker
		if err := cl.ProduceSync(ctx, recs[i]).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	hw := int64(len(recs))
	compacted := func(seeds []string) bool {
		v := readCompacted(ctx, t, seeds, "table", hw)
		for k, r := range v.latest {
			if k != "~marker" && (v.count[k] != 1 || string(r.Value) != fmt.Sprint(rounds-1) || r.Offset != int64((rounds-1)*keys)+int64(k[1]-'0')*10+int64(k[2]-'0')) {
				return false
			}
		}
		return len(v.latest) == keys+1
	}
	waitFor(ctx, t, "compaction on the leader", func() bool { return compacted(seeds) })
	leaders, err := adm.ListTopics(ctx, "table")
	if err != nil {
		t.Fatal(err)
	}
	first := leaders["table"].Partitions[0].Leader
	if err := brokers[first-1].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for _, n := range nodes {
		if n.ID != first {
			rest = append(rest, n.Kafka)
		}
	}
	waitFor(ctx, t, "the compacted log on the next leader", func() bool { return compacted(rest) })
}

// TestCompactionChainsPasses: like Kafka's cleaner thread, a broker goes
// from one pass to the next without waiting kafka.log-cleaner-backoff in
// between, and waits it only when nothing is left: eight dirty partitions
// are all compacted well before eight backoffs.
func TestCompactionChainsPasses(t *testing.T) {
	const partitions, backoff = 8, 5 * time.Second
	cfg := brokertest.Config(t)
	cfg.Kafka.LogCleanerBackoff = backoff
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seeds := []string{b.KafkaAddr()}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"), "min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
	}, "chained")
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	start := time.Now()
	for p := range int32(partitions) {
		var recs []*kgo.Record
		for i := range 200 {
			recs = append(recs, &kgo.Record{Topic: "chained", Partition: p, Key: fmt.Appendf(nil, "k%d", i%10), Value: []byte("v")})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "chained", Partition: p, Key: []byte("~marker")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(ctx, t, "every partition compacted", func() bool {
		done := 0
		for _, r := range b.Status().Replicas {
			if c := r.Compaction; c != nil && c.LastPass != nil && c.LastPass.Kept < c.LastPass.Records {
				done++
			}
		}
		return done == partitions
	})
	if took := time.Since(start); took > 4*backoff {
		t.Fatalf("%d partitions compacted in %s with a %s backoff: passes wait the backoff between them", partitions, took, backoff)
	}
}

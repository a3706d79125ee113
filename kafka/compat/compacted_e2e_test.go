//go:build e2e

package compat

// The "compacted read" and "keyless produce refused" steps: each client
// produces keyed records and tombstones to a topic with
// cleanup.policy=compact, the broker's log cleaner compacts it (brokerConfig
// runs it every logCleanerBackoff), and the client reads it back from the
// start. The compacted log has offset gaps, batches removed whole and
// batches that keep their offset range with fewer records (some without
// their last record): a client must deliver exactly the surviving records,
// at the offsets they were produced at, and reach the end of the log. The
// client then produces a record without a key there, which the broker
// refuses with INVALID_RECORD as Kafka does.

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	compactKeys   = 20 // keys the client writes …
	compactRounds = 5  // … each this many times: rounds 0..compactSplit-1 in one produce, the rest (and the tombstones) in another
	compactSplit  = 3
	compactWait   = 60 * time.Second       // until the harness sees the topic compacted
	compactPoll   = 200 * time.Millisecond // between its reads
	markerKey     = "~marker"              // the harness's last record of each partition
	markerValue   = "marker"
)

// compactTombstoned are the keys whose latest record is a tombstone (a null
// value): with delete.retention.ms=0 the cleaner removes them whole.
var compactTombstoned = []int{3, 8, 11, 14, 17}

// compactConfigs are the compacted topic's configs: the cleaner compacts as
// soon as 1% of a partition is new, and tombstones go at once.
var compactConfigs = map[string]string{
	"cleanup.policy":            "compact",
	"min.cleanable.dirty.ratio": "0.01",
	"delete.retention.ms":       "0",
}

func compactKey(k int) string { return fmt.Sprintf("ckey-%02d", k) }

func compactValue(k, round int) string {
	return fmt.Sprintf("ckey-%02d-round-%d-chronik-compat", k, round)
}

// keyed is one record of the compacted step, with the "client" header. Its
// value must not contain ':' (kcat's key delimiter).
type keyed struct {
	key, value string
	noKey      bool // a null key
	tombstone  bool // a null value
}

func (k keyed) keyBytes() []byte {
	if k.noKey {
		return nil
	}
	return []byte(k.key)
}

func (k keyed) valueBytes() []byte {
	if k.tombstone {
		return nil
	}
	return []byte(k.value)
}

// compactPlan is what the client produces: rounds 0..compactSplit-1 of every
// key with the row's first codec, then the other rounds and the tombstones
// with its second. The first produce's batches are removed whole, the
// second's keep only the last round (and lose their tombstones, often their
// last records).
func compactPlan() (first, second []keyed) {
	for round := range compactRounds {
		for k := range compactKeys {
			r := keyed{key: compactKey(k), value: compactValue(k, round)}
			if round < compactSplit {
				first = append(first, r)
			} else {
				second = append(second, r)
			}
		}
	}
	for _, k := range compactTombstoned {
		second = append(second, keyed{key: compactKey(k), tombstone: true})
	}
	return first, second
}

// compactLatest is the value each live key must keep.
func compactLatest() map[string]string {
	m := make(map[string]string, compactKeys)
	for k := range compactKeys {
		if !slices.Contains(compactTombstoned, k) {
			m[compactKey(k)] = compactValue(k, compactRounds-1)
		}
	}
	return m
}

// at is a record's place in the log.
type at struct {
	p int32
	o int64
}

// compactedStep runs the compacted read of row r with driver d on topic and
// returns its cell. Once the markers are written it stores topic's end
// offsets in endOut, for the keyless step.
func compactedStep(t *testing.T, adm *admin, d driver, r row, topic string, endOut *map[int32]int64) string {
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	if err := adm.createTopicWith(ctx, topic, partitions, compactConfigs); err != nil {
		t.Fatalf("create topic %s with kadm: %v", topic, err)
	}
	adm.waitPartitions(t, topic, partitions)

	first, second := compactPlan()
	if err := d.produceKeyed(ctx, topic, first, r.codecs[0]); err != nil {
		t.Fatalf("produce rounds 0..%d with %s: %v", compactSplit-1, r.codecs[0], err)
	}
	if err := d.produceKeyed(ctx, topic, second, r.codecs[1]); err != nil {
		t.Fatalf("produce rounds %d..%d and the tombstones with %s: %v", compactSplit, compactRounds-1, r.codecs[1], err)
	}
	produced := int64(len(first) + len(second))
	end0 := adm.endOffsets(t, topic, produced)

	// Where the latest record of each live key went. The cleaner may have
	// begun already, but it keeps those records, and their offsets.
	latest := compactLatest()
	want := make(map[at]rec, len(latest)+partitions)
	codecs := make(map[at]string)
	placed := make(map[string]at)
	for _, kr := range adm.read(t, topic, zeroOffsets(), end0) {
		key, pos := string(kr.Key), at{kr.Partition, kr.Offset}
		switch {
		case kr.Key == nil:
			t.Fatalf("p%d@%d: record without a key in the log", pos.p, pos.o)
		case kr.Value != nil && len(kr.Value) == 0:
			t.Fatalf("p%d@%d: key %s has an empty value: the client sent it instead of a tombstone (null)", pos.p, pos.o, key)
		case kr.Value == nil && latest[key] != "":
			t.Fatalf("p%d@%d: tombstone for key %s, which the client never deleted", pos.p, pos.o, key)
		case kr.Value == nil || string(kr.Value) != latest[key]:
			continue
		}
		if prev, ok := placed[key]; ok {
			t.Fatalf("key %s: its latest value %q twice in the log, at p%d@%d and p%d@%d", key, latest[key], prev.p, prev.o, pos.p, pos.o)
		}
		placed[key] = pos
		want[pos] = fromKgo(kr)
		codecs[pos] = codecByAttr[kr.Attrs.CompressionType()]
	}
	for key, v := range latest {
		if _, ok := placed[key]; !ok {
			t.Fatalf("key %s: its latest value %q is not in the log", key, v)
		}
	}

	// The cleaner leaves a partition's last batch for its next pass: the
	// harness's marker makes the client's last batch an earlier one.
	end := adm.writeMarkers(t, topic, r.id, end0)
	for p, e := range end {
		want[at{p, e - 1}] = rec{Partition: p, Offset: e - 1, Key: markerKey, Value: markerValue, Headers: map[string]string{hdrClient: r.id}}
	}
	*endOut = end

	// Compacted once franz-go reads each live key once, and the markers.
	deadline := time.Now().Add(compactWait)
	var final []*kgo.Record
	for {
		final = adm.read(t, topic, zeroOffsets(), end)
		got := make([]rec, len(final))
		for i, kr := range final {
			got[i] = fromKgo(kr)
		}
		problems := compareCompacted(got, want)
		if len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not compacted within %s: franz-go reads %d records, want %d:\n  %s",
				topic, compactWait, len(got), len(want), strings.Join(problems, "\n  "))
		}
		time.Sleep(compactPoll)
	}
	// A pass recompresses a batch with its own codec.
	for _, kr := range final {
		pos := at{kr.Partition, kr.Offset}
		if c, ok := codecs[pos]; ok && codecByAttr[kr.Attrs.CompressionType()] != c {
			t.Errorf("p%d@%d: in a %s batch after compaction, in a %s one before", pos.p, pos.o, codecByAttr[kr.Attrs.CompressionType()], c)
		}
	}
	shape := adm.batchShapes(t, topic, end, want)
	t.Logf("compacted: %d of %d records left (with the markers); %s", len(want), produced+partitions, shape)
	if t.Failed() {
		t.FailNow()
	}

	// The client reads from the start: without a group where it can,
	// else in a new group.
	ctx, cancel = context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	how := "without a group"
	got, err := d.readAll(ctx, topic, end)
	if errors.Is(err, errUnsupported) {
		how = "in group " + topic + "-group"
		got, err = d.consume(ctx, topic, topic+"-group", len(want))
	}
	problems := compareCompacted(got, want)
	if err != nil {
		t.Fatalf("read %s %s: %v\n%d records read; against the compacted log:\n  %s", topic, how, err, len(got), strings.Join(problems, "\n  "))
	}
	if len(problems) > 0 {
		t.Fatalf("read %s %s: %d records delivered, want %d:\n  %s", topic, how, len(got), len(want), strings.Join(problems, "\n  "))
	}
	t.Logf("the client read the %d records %s", len(got), how)
	return "yes"
}

// compareCompacted checks that got holds each record of want once, at its
// offset with its key, value and headers, and nothing else, in offset order
// per partition; it returns the problems (at most 10, then a count).
func compareCompacted(got []rec, want map[at]rec) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	seen := make(map[at]bool, len(got))
	last := make(map[int32]int64)
	for _, g := range got {
		pos := at{g.Partition, g.Offset}
		w, ok := want[pos]
		switch {
		case !ok:
			bad("p%d@%d: key %q value %q: not a record the compacted log keeps", pos.p, pos.o, g.Key, g.Value)
		case seen[pos]:
			bad("p%d@%d: delivered again", pos.p, pos.o)
		case g.Key != w.Key || g.Value != w.Value || !sameHeaders(g.Headers, w.Headers):
			bad("p%d@%d: key %q value %q headers %v, want %q %q %v", pos.p, pos.o, g.Key, g.Value, g.Headers, w.Key, w.Value, w.Headers)
		}
		if l, ok := last[pos.p]; ok && pos.o <= l {
			bad("p%d: offset %d after %d", pos.p, pos.o, l)
		}
		last[pos.p] = pos.o
		seen[pos] = true
	}
	for _, pos := range slices.SortedFunc(maps.Keys(want), func(a, b at) int {
		return cmp.Or(cmp.Compare(a.p, b.p), cmp.Compare(a.o, b.o))
	}) {
		if !seen[pos] {
			bad("p%d@%d: key %q value %q missing", pos.p, pos.o, want[pos].Key, want[pos].Value)
		}
	}
	if len(problems) > 10 {
		problems = append(problems[:10], fmt.Sprintf("… and %d more", len(problems)-10))
	}
	return problems
}

// keylessStep produces one record without a key to the compacted topic:
// the client must return an error that says the record is invalid, within
// deniedTimeout, and nothing may be written. It stores the client's error,
// shortened, in res.keylessErr.
func keylessStep(t *testing.T, adm *admin, d driver, r row, res *result, topic string, end map[int32]int64) string {
	ctx, cancel := context.WithTimeout(context.Background(), deniedTimeout)
	defer cancel()
	var total int64
	for _, e := range end {
		total += e
	}
	start := time.Now()
	err := d.produceKeyed(ctx, topic, []keyed{{noKey: true, value: "no-key"}}, r.codecs[0])
	took := time.Since(start)
	hung := ctx.Err() != nil || took >= deniedTimeout-nodeGrace
	switch {
	case err == nil:
		t.Errorf("produce of a record without a key to %s reported success after %s, want INVALID_RECORD", topic, took)
	case hung:
		t.Errorf("produce of a record without a key to %s did not fail within %s: %v", topic, deniedTimeout-nodeGrace, err)
	}
	adm.endOffsets(t, topic, total)
	if t.Failed() {
		t.FailNow()
	}
	msg, ok := clientError(err, mentionsInvalidRecord)
	if !ok {
		t.Fatalf("produce of a record without a key to %s failed after %s, but not with an invalid-record error: %v", topic, took, err)
	}
	t.Logf("refused after %s: %s", took.Round(time.Millisecond), msg)
	res.keylessErr = msg
	return "yes"
}

// invalidRecord matches the clients' words for INVALID_RECORD: its Kafka
// name, Kafka's message ("This record has failed the validation on broker
// and hence will be rejected"), librdkafka's ("Broker failed to validate
// record").
var invalidRecord = regexp.MustCompile(`(?i)invalid.?record|failed the validation|failed to validate`)

func mentionsInvalidRecord(s string) bool { return invalidRecord.MatchString(s) }

// createTopicWith creates topic with configs.
func (a *admin) createTopicWith(ctx context.Context, topic string, partitions int32, configs map[string]string) error {
	cs := make(map[string]*string, len(configs))
	for k, v := range configs {
		cs[k] = &v
	}
	resp, err := a.adm.CreateTopic(ctx, partitions, 1, cs, topic)
	if err != nil {
		return err
	}
	if resp.Err != nil {
		return fmt.Errorf("%w (%s)", resp.Err, resp.ErrMessage)
	}
	return nil
}

// writeMarkers writes one record (markerKey, with the row's "client"
// header) to each partition of topic, whose end offsets are end, and
// returns the end offsets after them.
func (a *admin) writeMarkers(t *testing.T, topic, id string, end map[int32]int64) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.addr), kgo.ClientID(adminClientID),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	var recs []*kgo.Record
	var total int64
	for p, e := range end {
		recs = append(recs, &kgo.Record{
			Partition: p, Key: []byte(markerKey), Value: []byte(markerValue),
			Headers: []kgo.RecordHeader{{Key: hdrClient, Value: []byte(id)}},
		})
		total += e + 1
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("write the markers to %s: %v", topic, err)
	}
	return a.endOffsets(t, topic, total)
}

// batchShapes fetches topic's batches below end with raw Fetch requests and
// describes them: what the client had to read through. want is the records
// the compacted log keeps. It fails the test if no batch holds fewer
// records than its offset range, as then the step did not test what it is
// for.
func (a *admin) batchShapes(t *testing.T, topic string, end map[int32]int64, want map[at]rec) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	td, err := a.adm.ListTopics(ctx, topic)
	if err == nil {
		err = td[topic].Err
	}
	if err != nil {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	var batches, partial, lastGone int
	var between int64
	for _, p := range slices.Sorted(maps.Keys(end)) {
		next := int64(0)
		for next < end[p] {
			req := kmsg.NewPtrFetchRequest()
			req.ReplicaID = -1
			req.MaxBytes = 1 << 20
			req.SessionEpoch = -1
			ft := kmsg.NewFetchRequestTopic()
			ft.Topic, ft.TopicID = topic, td[topic].ID
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes = p, next, 1<<20
			ft.Partitions = append(ft.Partitions, fp)
			req.Topics = append(req.Topics, ft)
			resp, err := req.RequestWith(ctx, a.cl)
			if err != nil {
				t.Fatalf("fetch %s/%d at %d: %v", topic, p, next, err)
			}
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("fetch %s/%d at %d: %d topics in the response", topic, p, next, len(resp.Topics))
			}
			rp := resp.Topics[0].Partitions[0]
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				t.Fatalf("fetch %s/%d at %d: %v", topic, p, next, err)
			}
			raw, before := rp.RecordBatches, next
			for len(raw) >= 12 {
				n := 12 + int(binary.BigEndian.Uint32(raw[8:12]))
				if n > len(raw) {
					break // cut short by the fetch's size limit
				}
				var b kmsg.RecordBatch
				if err := b.ReadFrom(raw[:n]); err != nil {
					t.Fatalf("fetch %s/%d at %d: batch: %v", topic, p, next, err)
				}
				raw = raw[n:]
				last := b.FirstOffset + int64(b.LastOffsetDelta)
				if last < next {
					continue
				}
				batches++
				between += max(b.FirstOffset-next, 0)
				if int(b.NumRecords) < int(b.LastOffsetDelta)+1 {
					partial++
					if _, ok := want[at{p, last}]; !ok {
						lastGone++
					}
				}
				next = last + 1
			}
			if next == before {
				t.Fatalf("fetch %s/%d at %d: no whole batch below the end offset %d", topic, p, next, end[p])
			}
		}
	}
	shape := fmt.Sprintf("%d batches, %d of them with fewer records than their offset range (%d without the record of their last offset), %d offsets between batches",
		batches, partial, lastGone, between)
	if partial == 0 {
		t.Fatalf("no batch of %s holds fewer records than its offset range (%s): the client did not read what this step is for", topic, shape)
	}
	return shape
}

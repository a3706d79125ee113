//go:build e2e

package compat

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	partitions  = 3      // of every client's topic
	perPhase    = 10_000 // records per produce phase, and per consumer-group run
	stepTimeout = 90 * time.Second
	docPath     = "../../docs/clients.md"
)

// errUnsupported is what a driver returns for a step its client has no API
// for (kcat has no admin API, KafkaJS no group-less consumer).
var errUnsupported = errors.New("compat: the client has no API for this")

// driver runs one client. Every method blocks until the client is done and
// closed; records come back in the order the client delivered them.
type driver interface {
	// available says why the client cannot run on this machine (nil: it can).
	available() error
	// version is the client's version for docs/clients.md.
	version(ctx context.Context) (string, error)
	// createTopic creates topic with the client's admin API.
	createTopic(ctx context.Context, topic string, partitions int32) error
	// produce sends records first..first+n-1 (see key, value, headers)
	// with the codec ("gzip", "snappy", "lz4", "zstd" or "none").
	produce(ctx context.Context, topic string, first, n int, codec string) error
	// produceKeyed sends recs in order, with the "client" header, to the
	// partitions the client's default partitioner picks, with the codec
	// (the compacted steps).
	produceKeyed(ctx context.Context, topic string, recs []keyed, codec string) error
	// readAll reads every partition from offset 0 up to end without a group.
	readAll(ctx context.Context, topic string, end map[int32]int64) ([]rec, error)
	// consume joins group on topic (resetting to the earliest offset when the
	// group has no commit), reads n records, commits them, and leaves.
	consume(ctx context.Context, topic, group string, n int) ([]rec, error)
	// transact runs rounds in order with one transactional producer
	// (transactional ID txnID), record i of a round to partition
	// i%partitions with the "client" header, committing or aborting each;
	// a round's Offsets go to group inside its transaction where the
	// client can, which the result says (txn_e2e_test.go). errUnsupported:
	// the client has no transactional producer.
	transact(ctx context.Context, topic, txnID, group string, rounds []txnRound) (offsets bool, err error)
	// readCommitted reads topic from offset 0 in read_committed mode: up to
	// end (as readAll, end[p]-1 being each partition's last committed
	// record) without a group where it can, else n records in a new group.
	readCommitted(ctx context.Context, topic string, end map[int32]int64, n int) ([]rec, error)
}

// kip848Driver is a driver whose client also joins KIP-848 consumer groups
// (the consumer group protocol, ConsumerGroupHeartbeat).
type kip848Driver interface {
	// consumeKIP848 is consume in such a group.
	consumeKIP848(ctx context.Context, topic, group string, n int) ([]rec, error)
}

// clientConf is what a driver is built from.
type clientConf struct {
	addr       string // bootstrap broker
	clientID   string // the client.id every connection of the row sends
	id         string // the row's ID, also the "client" header of its records
	idempotent bool
}

// row is one client configuration of the matrix.
type row struct {
	name       string    // in docs/clients.md
	id         string    // topic, group and client ID suffix
	codecs     [2]string // produce phase 1 and 2
	idempotent bool      // the producer is configured idempotent
	seqHeader  bool      // records carry a per-record "seq" header (kcat only sends fixed headers)
	newDriver  func(clientConf) driver
	// notes explain a "no" in docs/clients.md.
	notes string
}

func rows() []row {
	return []row{
		{name: "franz-go kgo", id: "kgo", codecs: [2]string{"gzip", "zstd"}, idempotent: true, seqHeader: true, newDriver: newKgo},
		{name: "sarama (Version 3.6.0)", id: "sarama-3.6", codecs: [2]string{"gzip", "zstd"}, idempotent: true, seqHeader: true, newDriver: newSarama(sarama.V3_6_0_0)},
		{name: "sarama (default Version, " + sarama.DefaultVersion.String() + ")", id: "sarama-default", codecs: [2]string{"gzip", "snappy"}, idempotent: true, seqHeader: true, newDriver: newSarama(sarama.KafkaVersion{})},
		{name: "sarama (Version 2.1.0)", id: "sarama-2.1", codecs: [2]string{"gzip", "lz4"}, idempotent: true, seqHeader: true, newDriver: newSarama(sarama.V2_1_0_0)},
		{name: "segmentio/kafka-go", id: "kafka-go", codecs: [2]string{"gzip", "lz4"}, seqHeader: true, newDriver: newKafkaGo, notes: "no idempotent producer"},
		{name: "confluent-kafka-go", id: "confluent-go", codecs: [2]string{"gzip", "lz4"}, idempotent: true, seqHeader: true, newDriver: newConfluent},
		{name: "kcat", id: "kcat", codecs: [2]string{"gzip", "snappy"}, idempotent: true, newDriver: newKcat, notes: "no admin API (topic created with kadm); -H headers are the same on every record"},
		{name: "KafkaJS", id: "kafkajs", codecs: [2]string{"gzip", "none"}, idempotent: true, seqHeader: true, newDriver: newNode("kafkajs"), notes: "gzip only without codec plugins; no group-less consumer"},
		{name: "@platformatic/kafka", id: "platformatic", codecs: [2]string{"gzip", "snappy"}, idempotent: true, seqHeader: true, newDriver: newNode("platformatic"), notes: "no group-less consumer"},
		{name: "@confluentinc/kafka-javascript", id: "confluent-js", codecs: [2]string{"gzip", "zstd"}, idempotent: true, seqHeader: true, newDriver: newNode("confluent"), notes: "KafkaJS-compatible API; no group-less consumer in it"},
	}
}

// rec is one record as a client delivered it (or as the log holds it).
type rec struct {
	Partition int32             `json:"p"`
	Offset    int64             `json:"o"`
	Key       string            `json:"k"`
	Value     string            `json:"v"`
	Headers   map[string]string `json:"h"`
}

// The records every client produces; node/common.mjs builds the same.
func recKey(i int) string { return fmt.Sprintf("key-%05d", i) }

func recValue(i int) string {
	return fmt.Sprintf("value-%05d-chronik-compat-chronik-compat-chronik-compat", i)
}

// recIndex parses i out of recValue(i).
func recIndex(v string) (int, bool) {
	s, ok := strings.CutPrefix(v, "value-")
	if !ok || len(s) < 5 {
		return 0, false
	}
	i, err := strconv.Atoi(s[:5])
	return i, err == nil
}

// Headers: "client" is the row ID, "seq" the record's index.
const (
	hdrClient = "client"
	hdrSeq    = "seq"
)

// result is one row of docs/clients.md. A cell is "FAIL" while its step
// runs, so a step that ends the test leaves it at that.
type result struct {
	row     row
	ran     bool
	version string
	apis    map[int16]string // API key → versions sent

	create, produce, idempotent, codecs, fetch, group, resume, kip848, denied, compacted, keyless, txn string

	deniedErr  string // the client's error in the denied step
	keylessErr string // the client's error in the keyless step
}

func newResult(r row) *result {
	res := &result{row: r, version: "?", apis: make(map[int16]string)}
	for _, c := range []*string{&res.create, &res.produce, &res.idempotent, &res.codecs, &res.fetch, &res.group, &res.resume, &res.kip848, &res.denied, &res.compacted, &res.keyless, &res.txn} {
		*c = "not run"
	}
	return res
}

// step runs f as subtest name and stores what it returns in cell; a step
// that fails leaves "FAIL". It reports whether the step passed.
func step(t *testing.T, name string, cell *string, f func(t *testing.T) string) bool {
	t.Helper()
	return t.Run(name, func(t *testing.T) {
		*cell = "FAIL"
		*cell = f(t)
	})
}

// TestE2EClients is the client matrix: one broker, one topic and group per
// client, every client in parallel. See doc.go and docs/clients.md.
func TestE2EClients(t *testing.T) {
	b := startBroker(t)
	adm := newAdmin(t, b.addr)
	defer adm.close()
	if !b.external {
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		err := adm.denyWrites(ctx)
		cancel()
		if err != nil {
			t.Fatalf("create the ACLs of the denied step: %v", err)
		}
	}

	var results []*result
	t.Run("client", func(t *testing.T) {
		for _, r := range rows() {
			res := newResult(r)
			results = append(results, res)
			t.Run(r.id, func(t *testing.T) {
				t.Parallel()
				runRow(t, b, adm, r, res)
			})
		}
	})
	if t.Failed() && !b.external {
		t.Logf("warnings and errors in the broker log:\n%s", b.problems(logProblemLines))
	}
	if b.external {
		t.Logf("not writing or checking %s: %s is set", docPath, externalBrokerEnv)
		return
	}
	checkDoc(t, results)
}

func runRow(t *testing.T, b *broker, adm *admin, r row, res *result) {
	conf := clientConf{addr: b.addr, clientID: "compat-" + r.id, id: r.id, idempotent: r.idempotent}
	d := r.newDriver(conf)
	if err := d.available(); err != nil {
		need(t, r.name, err)
	}
	res.ran = true
	defer func() {
		for _, k := range b.proxy.keys(conf.clientID) {
			res.apis[k] = joinVersions(b.proxy.versions(conf.clientID, k))
		}
		if u := b.proxy.unanswered(conf.clientID); len(u) > 0 {
			t.Logf("requests the broker closed the connection on without answering: %s", strings.Join(u, ", "))
		}
	}()
	topic, group := "compat-"+r.id, "compat-"+r.id+"-group"

	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	v, err := d.version(ctx)
	cancel()
	if err != nil {
		t.Fatalf("%s version: %v", r.name, err)
	}
	res.version = v

	// First, as it needs nothing the other steps make.
	step(t, "denied", &res.denied, func(t *testing.T) string {
		if b.external {
			res.denied = "–"
			t.Skipf("%s is set: the ACLs of this step are only made on chronik", externalBrokerEnv)
		}
		return deniedStep(t, adm, d, r, res)
	})

	// The compacted steps run beside the others, on a topic of their own:
	// they need nothing the other steps make and spend most of their time
	// waiting for the log cleaner. The keyless step needs the compacted
	// topic with its markers, which the compacted step leaves even when the
	// client's read fails.
	var sideSteps sync.WaitGroup
	defer sideSteps.Wait()
	sideSteps.Go(func() {
		compacted := "compat-" + r.id + "-compacted"
		var end map[int32]int64
		step(t, "compacted-read", &res.compacted, func(t *testing.T) string {
			if b.external {
				res.compacted, res.keyless = "–", "–"
				t.Skipf("%s is set: the step needs chronik's cleaner settings (brokerConfig)", externalBrokerEnv)
			}
			return compactedStep(t, adm, d, r, compacted, &end)
		})
		if end != nil {
			step(t, "compacted-keyless", &res.keyless, func(t *testing.T) string {
				return keylessStep(t, adm, d, r, res, compacted, end)
			})
		}
	})
	// The transactions step too, on a topic of its own.
	sideSteps.Go(func() {
		step(t, "transactions", &res.txn, func(t *testing.T) string {
			return txnStep(t, adm, d, r, "compat-"+r.id+"-txn")
		})
	})

	if !step(t, "create-topic", &res.create, func(t *testing.T) string {
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		cell := "yes"
		err := d.createTopic(ctx, topic, partitions)
		if errors.Is(err, errUnsupported) {
			cell = "no (kadm)"
			err = adm.createTopic(ctx, topic, partitions)
		}
		if err != nil {
			t.Fatalf("create topic %s: %v", topic, err)
		}
		// Auto-creation would give the broker's default partition count:
		// the count asked for shows the CreateTopics request was served.
		adm.waitPartitions(t, topic, partitions)
		return cell
	}) {
		return
	}

	// Phase 1: records 0..perPhase-1 with the first codec, read back with
	// kgo to check the batches' codec and producer IDs.
	var end1 map[int32]int64
	if !step(t, "produce-"+r.codecs[0], &res.produce, func(t *testing.T) string {
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		if err := d.produce(ctx, topic, 0, perPhase, r.codecs[0]); err != nil {
			t.Fatalf("produce: %v", err)
		}
		end1 = adm.endOffsets(t, topic, perPhase)
		res.idempotent = checkLog(t, adm, r, topic, zeroOffsets(), end1, 0, r.codecs[0])
		return "yes"
	}) {
		return
	}

	step(t, "fetch", &res.fetch, func(t *testing.T) string {
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		got, err := d.readAll(ctx, topic, end1)
		if errors.Is(err, errUnsupported) {
			return "–"
		}
		if err != nil {
			t.Fatalf("read without a group: %v", err)
		}
		checkRecs(t, "fetch", got, r, 0, zeroOffsets(), end1)
		return "yes"
	})

	// Group run 1 reads all of phase 1 and must commit exactly its end.
	okRun1 := step(t, "group-run-1", &res.group, func(t *testing.T) string {
		adm.requireGroupAPIs(t)
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		got, err := d.consume(ctx, topic, group, perPhase)
		if err != nil {
			t.Fatalf("consume in group %s: %v", group, err)
		}
		checkRecs(t, "group run 1", got, r, 0, zeroOffsets(), end1)
		adm.checkCommitted(t, group, topic, end1)
		return "yes"
	})

	// Phase 2 goes in while the group is stopped, with the second codec.
	var end2 map[int32]int64
	codecsCell := "FAIL"
	okProduce2 := step(t, "produce-"+r.codecs[1], &codecsCell, func(t *testing.T) string {
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		if err := d.produce(ctx, topic, perPhase, perPhase, r.codecs[1]); err != nil {
			t.Fatalf("produce: %v", err)
		}
		end2 = adm.endOffsets(t, topic, 2*perPhase)
		checkLog(t, adm, r, topic, end1, end2, perPhase, r.codecs[1])
		return r.codecs[0] + ", " + r.codecs[1]
	})
	res.codecs = codecsCell
	if !okRun1 || !okProduce2 {
		return
	}

	// Group run 2 must start at run 1's commit (end1) and read exactly
	// phase 2: a lost commit rereads phase 1 (earliest reset), a commit
	// past what was read loses records.
	step(t, "group-run-2", &res.resume, func(t *testing.T) string {
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		got, err := d.consume(ctx, topic, group, perPhase)
		if err != nil {
			t.Fatalf("consume in group %s again: %v", group, err)
		}
		checkRecs(t, "group run 2", got, r, perPhase, end1, end2)
		adm.checkCommitted(t, group, topic, end2)
		return "yes"
	})

	// A KIP-848 consumer group of its own reads both phases and commits
	// their end.
	step(t, "group-kip848", &res.kip848, func(t *testing.T) string {
		kd, ok := d.(kip848Driver)
		if !ok {
			return "–"
		}
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		group848 := group + "-kip848"
		got, err := kd.consumeKIP848(ctx, topic, group848, 2*perPhase)
		if errors.Is(err, errUnsupported) {
			return "–"
		}
		if err != nil {
			t.Fatalf("consume in KIP-848 group %s: %v", group848, err)
		}
		var first, second []rec
		for _, g := range got {
			if i, ok := recIndex(g.Value); ok && i < perPhase {
				first = append(first, g)
			} else {
				second = append(second, g)
			}
		}
		checkRecs(t, "KIP-848 group, phase 1", first, r, 0, zeroOffsets(), end1)
		checkRecs(t, "KIP-848 group, phase 2", second, r, perPhase, end1, end2)
		adm.checkCommitted(t, group848, topic, end2)
		adm.checkConsumerGroup(t, group848)
		return "yes"
	})
}

func zeroOffsets() map[int32]int64 {
	m := make(map[int32]int64, partitions)
	for p := range int32(partitions) {
		m[p] = 0
	}
	return m
}

// checkRecs checks that got holds records first..first+perPhase-1 of row r,
// each exactly once with its key and headers, and that each partition's
// records are the contiguous offsets from[p]..to[p]-1 in order.
func checkRecs(t *testing.T, what string, got []rec, r row, first int, from, to map[int32]int64) {
	t.Helper()
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	seen := make(map[int]int64, len(got))
	next := make(map[int32]int64, len(from))
	for p, o := range from {
		next[p] = o
	}
	dups := 0
	for _, g := range got {
		i, ok := recIndex(g.Value)
		switch {
		case !ok:
			bad("p%d@%d: value %q is not a record of this test", g.Partition, g.Offset, g.Value)
			continue
		case i < first || i >= first+perPhase:
			bad("p%d@%d: record %d is outside %d..%d (wrong start offset?)", g.Partition, g.Offset, i, first, first+perPhase-1)
		case seen[i] != 0:
			dups++
			bad("p%d@%d: record %d delivered again (first at offset %d)", g.Partition, g.Offset, i, seen[i]-1)
		}
		seen[i] = g.Offset + 1
		if g.Key != recKey(i) || g.Value != recValue(i) {
			bad("p%d@%d: key %q value %q, want %q %q", g.Partition, g.Offset, g.Key, g.Value, recKey(i), recValue(i))
		}
		want := map[string]string{hdrClient: r.id}
		if r.seqHeader {
			want[hdrSeq] = strconv.Itoa(i)
		}
		if !sameHeaders(g.Headers, want) {
			bad("p%d@%d: headers %v, want %v", g.Partition, g.Offset, g.Headers, want)
		}
		if n, ok := next[g.Partition]; !ok {
			bad("p%d@%d: unexpected partition", g.Partition, g.Offset)
		} else if g.Offset != n {
			bad("p%d: offset %d follows %d (want %d)", g.Partition, g.Offset, n-1, n)
		}
		next[g.Partition] = g.Offset + 1
	}
	for p, o := range to {
		if next[p] != o {
			bad("p%d: read up to offset %d, want up to %d (started at %d)", p, next[p]-1, o-1, from[p])
		}
	}
	missing := 0
	for i := first; i < first+perPhase; i++ {
		if seen[i] == 0 {
			missing++
		}
	}
	if len(got) != perPhase || missing > 0 || len(problems) > 0 {
		if len(problems) > 10 {
			problems = append(problems[:10], fmt.Sprintf("… and %d more", len(problems)-10))
		}
		t.Fatalf("%s: %d records delivered, want %d: %d of %d..%d missing, %d duplicates:\n  %s",
			what, len(got), perPhase, missing, first, first+perPhase-1, dups, strings.Join(problems, "\n  "))
	}
}

func sameHeaders(got, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}

var codecByAttr = map[uint8]string{0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}

// checkLog reads from..to with kgo and checks the records (as checkRecs),
// that every compressed batch used codec with at least one such batch, and
// that the batches carry a producer ID exactly when the row is idempotent.
// It returns the idempotence cell.
func checkLog(t *testing.T, adm *admin, r row, topic string, from, to map[int32]int64, first int, codec string) string {
	t.Helper()
	recs := adm.read(t, topic, from, to)
	got := make([]rec, len(recs))
	byCodec := make(map[string]int)
	withPID := 0
	for i, kr := range recs {
		got[i] = fromKgo(kr)
		byCodec[codecByAttr[kr.Attrs.CompressionType()]]++
		if kr.ProducerID >= 0 {
			withPID++
		}
	}
	checkRecs(t, "log (read with kgo)", got, r, first, from, to)
	t.Logf("records by batch codec: %v; with a producer ID: %d of %d", byCodec, withPID, len(recs))
	for c, n := range byCodec {
		if c != "none" && c != codec {
			t.Errorf("%d records in %s batches, want %s", n, c, codec)
		}
	}
	if codec != "none" && byCodec[codec] == 0 {
		t.Errorf("no record in a %s batch: the client did not compress", codec)
	}
	switch {
	case r.idempotent && withPID != len(recs):
		t.Errorf("idempotent producer, but %d of %d records have no producer ID", len(recs)-withPID, len(recs))
	case !r.idempotent && withPID != 0:
		t.Errorf("producer not configured idempotent, but %d records have a producer ID", withPID)
	}
	if t.Failed() {
		t.FailNow()
	}
	if r.idempotent {
		return "yes"
	}
	return "no"
}

func fromKgo(kr *kgo.Record) rec {
	h := make(map[string]string, len(kr.Headers))
	for _, kh := range kr.Headers {
		h[kh.Key] = string(kh.Value)
	}
	return rec{Partition: kr.Partition, Offset: kr.Offset, Key: string(kr.Key), Value: string(kr.Value), Headers: h}
}

func joinVersions(vs []int16) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.Itoa(int(v))
	}
	return strings.Join(s, ", ")
}

// Columns of the API-version table in docs/clients.md: the keys whose
// version a client picks deterministically (Heartbeat, for one, depends on
// timing and is left out).
var docKeys = []int16{
	int16(kmsg.ApiVersions), int16(kmsg.Metadata), int16(kmsg.CreateTopics), int16(kmsg.InitProducerID),
	int16(kmsg.Produce), int16(kmsg.ListOffsets), int16(kmsg.Fetch), int16(kmsg.FindCoordinator),
	int16(kmsg.JoinGroup), int16(kmsg.SyncGroup), int16(kmsg.OffsetFetch), int16(kmsg.OffsetCommit),
	int16(kmsg.LeaveGroup), int16(kmsg.AddPartitionsToTxn), int16(kmsg.AddOffsetsToTxn), int16(kmsg.EndTxn),
	int16(kmsg.TxnOffsetCommit), int16(kmsg.ConsumerGroupHeartbeat),
}

func renderDoc(results []*result) string {
	var b strings.Builder
	b.WriteString(`# Client compatibility

<!-- Generated by the client matrix (kafka/compat, build tag e2e); do not edit by hand.
     Regenerate: go test -tags e2e -run E2EClients ./kafka/compat -update-clients-doc -->

Each client ran against one chronik broker process (` + "`go test -tags e2e ./kafka/compat`" + `, run by CI): it
created a 3-partition topic through its own admin API where it has one (else kadm), produced 10,000
records with keys and headers with the first codec, read them back without a group where it can, consumed
them in a consumer group that committed and left, then — with 10,000 more records produced with the second
codec — a second run of the same group resumed from the committed offsets. Every step checks each record
exactly once, in offset order per partition, with its key and headers; the log is read back with franz-go
to check the batches' codec and producer IDs; the group's committed offsets are checked with kadm after
each run. For the column "KIP-848 consumer group", clients that speak Kafka 4.0's consumer group protocol
(franz-go with ` + "`ServerSideBalancer`" + `, librdkafka with ` + "`group.protocol=consumer`" + `; "–" for the others) then read
both phases in a group of their own on that protocol — the broker assigns the partitions — committed
and left; the test checked every record as above, the committed offsets, and with ConsumerGroupDescribe
that the group is a consumer group, now empty, whose epoch rose with the join and the leave.

The broker runs with ACLs on (` + "`kafka.authorizer = \"acl\"`" + ` and ` + "`kafka.allow-everyone-if-no-acl-found = true`" + `)
and no authentication, so every client is ` + "`User:ANONYMOUS`" + `: the steps above use topics and groups no
ACL names, which that setting leaves open, and so show that turning ACLs on breaks no client. For the
column "produce denied by an ACL", the test created with kadm an ACL denying ` + "`User:*`" + ` WRITE on the
topics prefixed ` + "`" + deniedPrefix + "`" + ` and one allowing them DESCRIBE (without it the client would be refused at
Metadata, before it produced); each client then produced one record to its own such topic and had to
return an error that mentions authorization within ` + fmt.Sprintf("%.0f s", deniedTimeout.Seconds()) + ` — not report success, not retry until
the deadline — with nothing written. The errors are listed below the API versions.

` + compactedProse() + `

` + txnProse() + `

| client | version | create topic | produce | idempotent | codecs | fetch (no group) | consumer group | commit & resume | KIP-848 consumer group | produce denied by an ACL | compacted read | keyless produce refused | transactions | notes |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
`)
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.row.name, r.version, r.create, r.produce, r.idempotent, r.codecs, r.fetch, r.group, r.resume, r.kip848, r.denied, r.compacted, r.keyless, r.txn, r.row.notes)
	}
	b.WriteString(`
## API versions negotiated

The versions each client sent, per API key, as recorded by a proxy between the clients and the broker
(every connection goes through it: the broker advertises the proxy's address). The broker finalizes
transaction.version 2, so franz-go runs KIP-890 part 2: no AddPartitionsToTxn (Produce adds the
partitions), EndTxn v5 (an epoch bump per transaction); the other clients do not know it and keep the
earlier protocol.

| client |`)
	for _, k := range docKeys {
		fmt.Fprintf(&b, " %s |", kmsg.NameForKey(k))
	}
	b.WriteString("\n|---|")
	for range docKeys {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s |", r.row.name)
		for _, k := range docKeys {
			v := r.apis[k]
			if v == "" {
				v = "–"
			}
			fmt.Fprintf(&b, " %s |", v)
		}
		b.WriteString("\n")
	}
	b.WriteString(`
## Produce denied by an ACL

The error each client returned for its one record in the step "produce denied by an ACL": the first line
of the client's error that mentions authorization, shortened.

| client | error |
|---|---|
`)
	for _, r := range results {
		e := r.deniedErr
		if e == "" {
			e = "–"
		}
		fmt.Fprintf(&b, "| %s | %s |\n", r.row.name, strings.ReplaceAll(e, "|", "\\|"))
	}
	b.WriteString(`
## Record without a key on a compacted topic

The error each client returned for its one record in the step "keyless produce refused": the first line
of the client's error that names an invalid record, shortened.

| client | error |
|---|---|
`)
	for _, r := range results {
		e := r.keylessErr
		if e == "" {
			e = "–"
		}
		fmt.Fprintf(&b, "| %s | %s |\n", r.row.name, strings.ReplaceAll(e, "|", "\\|"))
	}
	return b.String()
}

// compactedProse explains the columns of the compacted steps.
func compactedProse() string {
	return fmt.Sprintf(`For the column "compacted read", the test created with kadm a 3-partition topic with `+"`cleanup.policy=compact`"+`,
`+"`min.cleanable.dirty.ratio=0.01` and `delete.retention.ms=0`"+` (the broker's log cleaner checks every `+logCleanerBackoff+`:
`+"`kafka.log-cleaner-backoff`"+`). The client produced %d keys %d times each, the value naming the round —
rounds 0–%d with its first codec, then rounds %d–%d and a tombstone (null value) for %d of the keys with
its second — and the test wrote one more record to each partition with franz-go, as the cleaner leaves a
partition's last batch for its next pass. Once franz-go read each key once, the client read the topic
from the beginning (without a group where it can, else in a new consumer group) and had to deliver
exactly the latest value of each of the %d live keys, at the offset it was produced at, and the test's
last record of each partition, then stop at the end of the log: no tombstoned key, no removed record,
no duplicate. The compacted log has offset gaps: batches removed whole, and batches that keep their
offset range with fewer records, some without the record of their last offset. For the column "keyless
produce refused", the client then produced one record without a key to that topic and had to return an
error that names an invalid record (INVALID_RECORD: a compacted topic refuses records without a key, as
Kafka does) within %.0f s, with nothing written. The errors are listed at the end.`,
		compactKeys, compactRounds, compactSplit-1, compactSplit, compactRounds-1, len(compactTombstoned),
		compactKeys-len(compactTombstoned), deniedTimeout.Seconds())
}

// checkDoc writes docs/clients.md with -update-clients-doc (or
// CHRONIK_UPDATE_CLIENTS_DOC=1), else checks that it matches this run when
// every client ran.
func checkDoc(t *testing.T, results []*result) {
	t.Helper()
	doc := renderDoc(results)
	if *updateDoc || os.Getenv("CHRONIK_UPDATE_CLIENTS_DOC") == "1" {
		if err := os.WriteFile(docPath, []byte(doc), 0o644); err != nil {
			t.Fatalf("write %s: %v", docPath, err)
		}
		t.Logf("wrote %s", docPath)
		return
	}
	for _, r := range results {
		if !r.ran {
			t.Logf("not checking %s: %s did not run", docPath, r.row.name)
			return
		}
	}
	old, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("read %s: %v (generate it with -update-clients-doc)", docPath, err)
	}
	if string(old) == doc {
		return
	}
	oldLines, newLines := strings.Split(string(old), "\n"), strings.Split(doc, "\n")
	var diff []string
	for i := range max(len(oldLines), len(newLines)) {
		var o, n string
		if i < len(oldLines) {
			o = oldLines[i]
		}
		if i < len(newLines) {
			n = newLines[i]
		}
		if o != n {
			diff = append(diff, fmt.Sprintf("line %d:\n  committed: %s\n  this run:  %s", i+1, o, n))
		}
	}
	t.Errorf("%s does not match this run (regenerate with go test -tags e2e -run E2EClients ./kafka/compat -update-clients-doc):\n%s",
		docPath, strings.Join(diff, "\n"))
}

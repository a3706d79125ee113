//go:build integration

package broker_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/chronik-go/chronik/core/adminhttp"
	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/config"
	"github.com/chronik-go/chronik/core/opsctl"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/core/tier"
)

// txnProducer is a franz-go client with a transactional ID.
func txnProducer(t *testing.T, seeds []string, id string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(seeds...), kgo.TransactionalID(id), kgo.DefaultProduceTopic("txn"),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// runTxn produces values in one transaction and commits or aborts it.
func runTxn(ctx context.Context, t *testing.T, cl *kgo.Client, commit bool, values ...string) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if err := cl.ProduceSync(ctx, kgo.StringRecord(v)).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", v, err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("end transaction (commit %v): %v", commit, err)
	}
}

// readAll reads topic from the start with the isolation level until it has
// want records (or fails the test after a while), and returns the values
// sorted.
func readAll(ctx context.Context, t *testing.T, seeds []string, topic string, committed bool, want int) []string {
	t.Helper()
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(iso),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	// Nothing more arrives (an aborted record read late would show here).
	pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	cancel()
	sort.Strings(got)
	return got
}

func values(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	return out
}

// TestTransactions drives franz-go's transactional producer and
// read_committed consumer against one broker: committed transactions are
// read, aborted ones are not, an open one holds read_committed consumers at
// its first offset, a second producer with the same transactional ID
// fences the first, and all of it survives a restart. It runs with
// transaction.version 2 (franz-go then uses KIP-890 part 2: no
// AddPartitionsToTxn, an epoch bump per transaction) and 0 (the earlier
// protocol).
func TestTransactions(t *testing.T) {
	for _, tv := range []int16{2, 0} {
		t.Run(fmt.Sprintf("transaction.version=%d", tv), func(t *testing.T) { testTransactions(t, tv) })
	}
}

func testTransactions(t *testing.T, tv int16) {
	cfg := brokertest.Config(t)
	cfg.Kafka.TransactionVersion = tv
	b := brokertest.Start(t, cfg)
	seeds := []string{b.KafkaAddr()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adm := kadm.NewClient(txnProducer(t, seeds, "admin-unused"))
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "txn"); err != nil {
		t.Fatal(err)
	}

	p := txnProducer(t, seeds, "writer")
	runTxn(ctx, t, p, true, values("c1", 12)...)
	runTxn(ctx, t, p, false, values("a1", 9)...)
	runTxn(ctx, t, p, true, values("c2", 6)...)
	committed := append(values("c1", 12), values("c2", 6)...)
	sort.Strings(committed)
	if got := readAll(ctx, t, seeds, "txn", true, len(committed)); !slices.Equal(got, committed) {
		t.Fatalf("read_committed read %d records %v, want the %d committed", len(got), got, len(committed))
	}
	// Under KIP-890 part 2 every end bumped the epoch; before, only
	// InitProducerId does.
	dt, err := adm.DescribeTransactions(ctx, "writer")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int16]int16{2: 3, 0: 0}[tv]; dt["writer"].ProducerEpoch != want {
		t.Fatalf("the producer's epoch after three transactions: %d, want %d", dt["writer"].ProducerEpoch, want)
	}
	if got := readAll(ctx, t, seeds, "txn", false, 27); len(got) != 27 {
		t.Fatalf("read_uncommitted read %d records, want all 27 (control records hidden)", len(got))
	}
	m := metricsText(t, b.HTTPAddr())
	for _, want := range []string{
		"\nchronik_transactions_ended_total{outcome=\"commit\"} 2", "\nchronik_transactions_ended_total{outcome=\"abort\"} 1",
		"\nchronik_transactions_open 0",
	} {
		if !strings.Contains(m, want) {
			t.Fatalf("/metrics lacks %q:\n%s", want, grepLines(m, "transaction"))
		}
	}

	// An open transaction holds read_committed at its first offset.
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, v := range values("open", 3) {
		if err := p.ProduceSync(ctx, kgo.StringRecord(v)).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	ends, err := adm.ListEndOffsets(ctx, "txn")
	if err != nil {
		t.Fatal(err)
	}
	// ListEndOffsets lists with read_uncommitted, ListCommittedOffsets
	// with read_committed.
	stable, err := adm.ListCommittedOffsets(ctx, "txn")
	if err != nil {
		t.Fatal(err)
	}
	open := 0
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := stable.Lookup("txn", o.Partition)
		if s.Offset < o.Offset {
			open++
		}
	})
	if open != 3 {
		t.Fatalf("%d partitions have a last stable offset below their end, want 3 (the open transaction wrote to all)", open)
	}
	if got := readAll(ctx, t, seeds, "txn", true, len(committed)); len(got) != len(committed) {
		t.Fatalf("read_committed read %d records with a transaction open, want %d", len(got), len(committed))
	}

	// A second producer with the same ID aborts the open transaction and
	// fences the first.
	p2 := txnProducer(t, seeds, "writer")
	runTxn(ctx, t, p2, true, values("c3", 3)...)
	err = p.EndTransaction(ctx, kgo.TryCommit)
	fenced := errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.InvalidTxnState)
	if !fenced {
		t.Fatalf("the fenced producer's commit: %v, want fenced", err)
	}
	committed = append(committed, values("c3", 3)...)
	sort.Strings(committed)
	if got := readAll(ctx, t, seeds, "txn", true, len(committed)); !slices.Equal(got, committed) {
		t.Fatalf("after fencing, read_committed read %v, want %v", got, committed)
	}

	// Restarted, the broker keeps the aborted transactions' index.
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	if err := b.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	b = brokertest.Start(t, cfg)
	seeds = []string{b.KafkaAddr()}
	if got := readAll(ctx, t, seeds, "txn", true, len(committed)); !slices.Equal(got, committed) {
		t.Fatalf("after a restart, read_committed read %v, want %v", got, committed)
	}
}

// TestTransactionsRF3 runs consume-transform-produce with franz-go's
// GroupTransactSession on three brokers: the partitions, the group and the
// transaction are led by different brokers, so markers travel between
// them. The output holds each input record exactly once, and the group's
// offsets move only with committed transactions.
func TestTransactionsRF3(t *testing.T) {
	_, nodes := brokertest.StartCluster(t, 3, func(*config.Config) {})
	seeds := brokertest.KafkaAddrs(nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	for _, topic := range []string{"in", "out"} {
		if resp, err := adm.CreateTopic(ctx, 6, 3, nil, topic); err != nil || resp.Err != nil {
			t.Fatalf("create %s: %v %v", topic, err, resp.Err)
		}
	}
	in := values("in", 60)
	for _, v := range in {
		if err := admCl.ProduceSync(ctx, &kgo.Record{Topic: "in", Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(seeds...), kgo.TransactionalID("etl"), kgo.ConsumerGroup("etl-group"), kgo.ConsumeTopics("in"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DefaultProduceTopic("out"), // RequireStable is always on in franz-go's group consumers
	)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	done, round, aborted := 0, 0, 0
	for done < len(in) {
		fs := sess.PollRecords(ctx, 7)
		if err := fs.Err0(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
		if err := sess.Begin(); err != nil {
			t.Fatal(err)
		}
		// Every third round aborts: its records come again.
		commit := round%3 != 2
		round++
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			sess.Produce(ctx, kgo.StringRecord("out-of-"+string(r.Value)), func(_ *kgo.Record, err error) {
				if err != nil && commit { // an abort fails what is still buffered
					t.Errorf("produce: %v", err)
				}
			})
		})
		committed, err := sess.End(ctx, kgo.TransactionEndTry(commit))
		if err != nil {
			t.Fatal(err)
		}
		if committed {
			done += n
		} else {
			aborted += n
		}
	}
	if aborted == 0 {
		t.Fatal("no transaction with records was aborted: the test checks nothing about aborts")
	}
	want := make([]string, len(in))
	for i, v := range in {
		want[i] = "out-of-" + v
	}
	sort.Strings(want)
	if got := readAll(ctx, t, seeds, "out", true, len(want)); !slices.Equal(got, want) {
		t.Fatalf("out holds %d records %v, want each of the %d inputs once", len(got), got, len(want))
	}
	offs, err := adm.FetchOffsets(ctx, "etl-group")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	offs.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != int64(len(in)) {
		t.Fatalf("the group committed %d offsets in all, want %d", total, len(in))
	}
}

// TestTransactionsRestoredFromBackup: a tiered topic with committed and
// aborted transactions is backed up, more are written and tiered, its
// broker and disk are lost, and the restored cluster's read_committed
// consumers still skip the aborted records (the backup carries the aborted
// index of the tiered range, the segments uploaded after it list theirs),
// and read nothing of a transaction open at the loss.
func TestTransactionsRestoredFromBackup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	from := (&url.URL{Scheme: "file", Path: filepath.ToSlash(t.TempDir())}).String()
	cfg := drConfig(t, from)
	b := brokertest.Start(t, cfg)
	seeds := []string{b.KafkaAddr()}
	adm := kadm.NewClient(txnProducer(t, seeds, "admin-unused"))
	if resp, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{
		"remote.storage.enable": kadm.StringPtr("true"),
		"segment.ms":            kadm.StringPtr("300"), // the tail is uploaded too
		"retention.ms":          kadm.StringPtr("-1"),
	}, "txn"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	p := txnProducer(t, seeds, "writer")
	runTxn(ctx, t, p, true, values("c1", 5)...)
	runTxn(ctx, t, p, false, values("a1", 4)...)
	runTxn(ctx, t, p, true, values("c2", 3)...)
	oldID, _, err := p.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const end = 5 + 1 + 4 + 1 + 3 + 1 // records and a marker per transaction
	waitTier(t, b.HTTPAddr(), "txn", 0, "everything tiered", func(ps tier.PartitionStatus) bool {
		return ps.TieredEnd == end && ps.HighWatermark == end
	})
	m, err := opsctl.BackupNow(ctx, opsctl.Admin{Addrs: []string{b.HTTPAddr()}, HTTP: adminhttp.Plain(0)})
	if err != nil {
		t.Fatal(err)
	}
	// After the backup: an aborted transaction, in a segment the restore
	// finds in the store (which lists it), then one left open, which holds
	// tiering at its first offset, so its records are not restored (they
	// would read as committed: its coordinator's state is not restored).
	runTxn(ctx, t, p, false, values("a2", 3)...)
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, v := range values("open", 2) {
		if err := p.ProduceSync(ctx, kgo.StringRecord(v)).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	const stable = end + 3 + 1
	waitTier(t, b.HTTPAddr(), "txn", 0, "tiered up to the open transaction", func(ps tier.PartitionStatus) bool {
		return ps.TieredEnd == stable && ps.HighWatermark == stable+2
	})
	time.Sleep(time.Second) // a few segment.ms: nothing more is uploaded
	if ps := tierStatus(t, b.HTTPAddr(), "txn", 0); ps.TieredEnd != stable || ps.HeldAt == nil || *ps.HeldAt != stable {
		t.Fatalf("tiered to %d (held at %v) with a transaction open at %d", ps.TieredEnd, ps.HeldAt, stable)
	}
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := drConfig(t, from)
	if _, err := opsctl.PrepareRestore(ctx, opsctl.RestoreOptions{From: from, DataDir: fresh.DataDir}); err != nil {
		t.Fatalf("restore of backup %s: %v", m.ID, err)
	}
	b2 := brokertest.Start(t, fresh)
	seeds = []string{b2.KafkaAddr()}
	committed := append(values("c1", 5), values("c2", 3)...)
	if got := readAll(ctx, t, seeds, "txn", true, len(committed)); !slices.Equal(got, committed) {
		t.Fatalf("restored, read_committed read %v, want %v", got, committed)
	}
	if got := readAll(ctx, t, seeds, "txn", false, 15); len(got) != 15 {
		t.Fatalf("restored, read_uncommitted read %d records %v, want the 15 of the ended transactions", len(got), got)
	}
	// No new producer gets the ID of one whose records were restored.
	if m.NextProducerID <= oldID {
		t.Fatalf("backup keeps next producer ID %d, the writer had %d", m.NextProducerID, oldID)
	}
	newID, _, err := txnProducer(t, seeds, "writer").ProducerID(ctx)
	if err != nil || newID < m.NextProducerID {
		t.Fatalf("restored cluster's first producer ID %d (%v), want at least %d", newID, err, m.NextProducerID)
	}
}

// grepLines returns the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestHangingTransactionAborted: a producer writes a transactional batch to
// a partition its coordinator never added (a hanging transaction: no
// marker will come, and it holds read_committed consumers back), and
// WriteTxnMarkers — what kafka-transactions.sh abort sends — ends it.
func TestHangingTransactionAborted(t *testing.T) {
	// A broker without KIP-890's verification (a partition is not checked
	// with the coordinator) lets a stray produce open a transaction that
	// no coordinator will end.
	cfg := brokertest.Config(t)
	cfg.Kafka.TransactionPartitionVerification = false
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, pid, epoch := rawTxnClient(ctx, t, []string{b.KafkaAddr()}, "hang", 1, "hanger")
	if code := txnProduce(ctx, t, cl, "hanger", partition.TP{Topic: "hang"}, pid, epoch, 0); code != 0 {
		t.Fatalf("transactional produce: %v", kerr.ErrorForCode(code))
	}
	stable := func() int64 {
		t.Helper()
		offs, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, "hang") // read_committed
		if err != nil {
			t.Fatal(err)
		}
		o, _ := offs.Lookup("hang", 0)
		return o.Offset
	}
	if lso := stable(); lso != 0 {
		t.Fatalf("last stable offset %d with the transaction open at 0", lso)
	}
	// The broker sees the partition held back, and for how long.
	t0 := time.Now()
	if age, n := broker.StuckTransactions(b, t0); n != 1 || age != 0 {
		t.Fatalf("stuck partitions %d (held %v), want 1", n, age)
	}
	if age, n := broker.StuckTransactions(b, t0.Add(20*time.Minute)); n != 1 || age != 20*time.Minute {
		t.Fatalf("stuck partitions %d held %v, want 1 for 20m", n, age)
	}
	// kafka-transactions.sh abort: a marker at the producer's epoch.
	w := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed = pid, epoch, false
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = "hang", []int32{0, 7}
	m.Topics = append(m.Topics, mt)
	w.Markers = append(w.Markers, m)
	raw, err := cl.Broker(1).Request(ctx, w) // straight to the leader: kgo would refuse the unknown partition itself
	if err != nil {
		t.Fatal(err)
	}
	wr := raw.(*kmsg.WriteTxnMarkersResponse)
	if ps := wr.Markers[0].Topics[0].Partitions; ps[0].ErrorCode != 0 || ps[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("WriteTxnMarkers: %+v", ps)
	}
	if lso := stable(); lso != 2 {
		t.Fatalf("last stable offset %d after the abort, want 2 (the record and its marker)", lso)
	}
	if _, n := broker.StuckTransactions(b, time.Now()); n != 0 {
		t.Fatalf("%d partitions still held back after the abort", n)
	}
	if got := readAll(ctx, t, []string{b.KafkaAddr()}, "hang", true, 0); len(got) != 0 {
		t.Fatalf("read_committed read %v of an aborted transaction", got)
	}
}

// rawTxnClient returns a brokertest.RawClient, after creating topic with
// partitions partitions, and the producer ID and epoch that InitProducerId
// gives txnID.
func rawTxnClient(ctx context.Context, t *testing.T, seeds []string, topic string, partitions int32, txnID string) (*kgo.Client, int64, int16) {
	t.Helper()
	cl := brokertest.RawClient(t, seeds)
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("create %s: %v %v", topic, err, resp.Err)
	}
	pid, epoch := brokertest.InitTxnProducer(ctx, t, cl, txnID)
	return cl, pid, epoch
}

// addPartition adds tp to the producer's transaction (AddPartitionsToTxn).
func addPartition(ctx context.Context, t *testing.T, cl *kgo.Client, txnID string, pid int64, epoch int16, tp partition.TP) {
	t.Helper()
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = txnID, pid, epoch
	rt := kmsg.NewAddPartitionsToTxnRequestTopic()
	rt.Topic, rt.Partitions = tp.Topic, []int32{tp.Partition}
	add.Topics = append(add.Topics, rt)
	if ar, err := add.RequestWith(ctx, cl); err != nil || ar.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("AddPartitionsToTxn: %v %+v", err, ar)
	}
}

// txnProduce sends one transactional record of the producer to a partition
// through r (a client, or one of its brokers) and returns the partition's
// error code (brokertest.TxnProduce).
func txnProduce(ctx context.Context, t *testing.T, r kmsg.Requestor, txnID string, tp partition.TP, pid int64, epoch int16, seq int32) int16 {
	t.Helper()
	return brokertest.TxnProduce(ctx, t, r, txnID, tp.Topic, tp.Partition, pid, epoch, seq)
}

// TestTransactionVerification: with KIP-890's verification (the default),
// a transactional produce to a partition its transaction did not add, and
// a late one after the transaction ended, are refused with
// INVALID_TXN_STATE and leave no transaction open (as is one whose request
// lacks the transactional ID, INVALID_RECORD); once the transaction adds
// the partition the produce goes through.
func TestTransactionVerification(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, pid, epoch := rawTxnClient(ctx, t, []string{b.KafkaAddr()}, "v", 1, "verified")
	noneOpen := func(when string) {
		t.Helper()
		if _, n := broker.StuckTransactions(b, time.Now()); n != 0 {
			t.Fatalf("%s: %d partitions hold an open transaction", when, n)
		}
	}
	if code := txnProduce(ctx, t, cl, "verified", partition.TP{Topic: "v"}, pid, epoch, 0); code != kerr.InvalidTxnState.Code {
		t.Fatalf("produce to a partition the transaction did not add: %v, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
	}
	noneOpen("after the refused produce")
	if code := txnProduce(ctx, t, cl, "", partition.TP{Topic: "v"}, pid, epoch, 0); code != kerr.InvalidRecord.Code {
		t.Fatalf("transactional batch in a request without a transactional ID: %v, want INVALID_RECORD", kerr.ErrorForCode(code))
	}
	noneOpen("after the produce without a transactional ID")
	addPartition(ctx, t, cl, "verified", pid, epoch, partition.TP{Topic: "v"})
	if code := txnProduce(ctx, t, cl, "verified", partition.TP{Topic: "v"}, pid, epoch, 0); code != 0 {
		t.Fatalf("produce to an added partition: %v", kerr.ErrorForCode(code))
	}
	if _, n := broker.StuckTransactions(b, time.Now()); n != 1 {
		t.Fatalf("%d partitions hold an open transaction, want 1", n)
	}
	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = "verified", pid, epoch, true
	if er, err := end.RequestWith(ctx, cl); err != nil || er.ErrorCode != 0 {
		t.Fatalf("EndTxn: %v %+v", err, er)
	}
	noneOpen("after the commit")
	// A produce arriving after the end (a retry, a slow request) would
	// open a transaction no coordinator ends.
	if code := txnProduce(ctx, t, cl, "verified", partition.TP{Topic: "v"}, pid, epoch, 1); code != kerr.InvalidTxnState.Code {
		t.Fatalf("produce after the transaction ended: %v, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
	}
	noneOpen("after the late produce")
	m := metricsText(t, b.HTTPAddr())
	for _, want := range []string{`chronik_transaction_verifications_total{outcome="verified"} 1`, `chronik_transaction_verifications_total{outcome="refused"} 2`} {
		if !strings.Contains(m, want) {
			t.Fatalf("/metrics lacks %q:\n%s", want, grepLines(m, "verification"))
		}
	}
}

// afterVerify runs then after each verification of next.
type afterVerify struct {
	partition.TxnVerifier
	then func(ctx context.Context, pid int64, epoch int16, tp partition.TP)
}

func (a afterVerify) Verify(ctx context.Context, txnID string, pid int64, epoch int16, tp partition.TP, add bool) error {
	err := a.TxnVerifier.Verify(ctx, txnID, pid, epoch, tp, add)
	a.then(ctx, pid, epoch, tp)
	return err
}

// TestTransactionEndedWhileVerified: a marker for the producer lands
// between the coordinator's answer and the append (its transaction ended
// meanwhile, or the leader had not applied an older marker yet): the
// append is refused with NOT_ENOUGH_REPLICAS, which clients retry, and the
// retry, verified again, goes through.
func TestTransactionEndedWhileVerified(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, pid, epoch := rawTxnClient(ctx, t, []string{b.KafkaAddr()}, "race", 1, "racer")
	tp := partition.TP{Topic: "race"}
	addPartition(ctx, t, cl, "racer", pid, epoch, tp)
	var once sync.Once
	broker.WrapTxnVerifier(b, func(v partition.TxnVerifier) partition.TxnVerifier {
		return afterVerify{v, func(ctx context.Context, pid int64, epoch int16, tp partition.TP) {
			once.Do(func() {
				if err := broker.PartitionsOf(b).WriteTxnMarker(ctx, tp, partition.TxnMarker{ProducerID: pid, ProducerEpoch: epoch}); err != nil {
					t.Errorf("marker: %v", err)
				}
			})
		}}
	})
	if code := txnProduce(ctx, t, cl, "racer", tp, pid, epoch, 0); code != kerr.NotEnoughReplicas.Code {
		t.Fatalf("produce verified before a marker landed: %v, want NOT_ENOUGH_REPLICAS", kerr.ErrorForCode(code))
	}
	if _, n := broker.StuckTransactions(b, time.Now()); n != 0 {
		t.Fatalf("the refused produce left %d partitions with an open transaction", n)
	}
	if code := txnProduce(ctx, t, cl, "racer", tp, pid, epoch, 0); code != 0 {
		t.Fatalf("the retry: %v", kerr.ErrorForCode(code))
	}
	if _, n := broker.StuckTransactions(b, time.Now()); n != 1 {
		t.Fatalf("%d partitions with an open transaction after the retry, want 1", n)
	}
}

// TestTransactionVerificationRemote: the partition's leader is not the
// transaction's coordinator, so it asks the coordinator's admin API
// (POST /v1/txn-verify): refused before the transaction adds the
// partition, verified after.
func TestTransactionVerificationRemote(t *testing.T) {
	bs, nodes := brokertest.StartCluster(t, 3, func(*config.Config) {})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, pid, epoch := rawTxnClient(ctx, t, brokertest.KafkaAddrs(nodes), "rv", 6, "remote")
	adm := kadm.NewClient(cl)
	coords := adm.FindTxnCoordinators(ctx, "remote")
	if err := coords["remote"].Err; err != nil {
		t.Fatalf("FindCoordinator: %v", err)
	}
	coordinator := coords["remote"].NodeID
	var tp partition.TP
	leader := int32(-1)
	waitFor(ctx, t, "a partition of rv led by a broker other than the coordinator", func() bool {
		md, err := adm.Metadata(ctx, "rv")
		if err != nil {
			return false
		}
		for _, p := range md.Topics["rv"].Partitions {
			if p.Leader >= 0 && p.Leader != coordinator {
				tp, leader = partition.TP{Topic: "rv", Partition: p.Partition}, p.Leader
				return true
			}
		}
		return false
	})
	at := cl.Broker(int(leader))
	if code := txnProduce(ctx, t, at, "remote", tp, pid, epoch, 0); code != kerr.InvalidTxnState.Code {
		t.Fatalf("produce to a partition the transaction did not add: %v, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
	}
	addPartition(ctx, t, cl, "remote", pid, epoch, tp)
	if code := txnProduce(ctx, t, at, "remote", tp, pid, epoch, 0); code != 0 {
		t.Fatalf("produce to an added partition: %v", kerr.ErrorForCode(code))
	}
	m := metricsText(t, bs[leader-1].HTTPAddr())
	for _, want := range []string{`chronik_transaction_verifications_total{outcome="verified"} 1`, `chronik_transaction_verifications_total{outcome="refused"} 1`} {
		if !strings.Contains(m, want) {
			t.Fatalf("leader's /metrics lacks %q:\n%s", want, grepLines(m, "verification"))
		}
	}
}

// TestTransactionVersion2 drives KIP-890 part 2 with hand-built requests
// of a Kafka 4.0 client: a Produce v12 adds its partition and a
// TxnOffsetCommit v5 its group without AddPartitionsToTxn or
// AddOffsetsToTxn, EndTxn v5 bumps the epoch (and its retry gets the same
// answer), and the ended transaction's late produces are fenced, both in
// the partition it wrote to (the marker carried the bumped epoch) and in
// one it did not (the coordinator refuses the old epoch), so nothing stays
// open and read_committed reads exactly the committed records.
func TestTransactionVersion2(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t))
	seeds := []string{b.KafkaAddr()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.MaxVersions(kversion.V4_0_0()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, "v2"); err != nil || resp.Err != nil {
		t.Fatalf("create v2: %v %v", err, resp.Err)
	}
	pid, epoch := brokertest.InitTxnProducer(ctx, t, cl, "tv2")
	p0, p1 := partition.TP{Topic: "v2"}, partition.TP{Topic: "v2", Partition: 1}
	if code := txnProduce(ctx, t, cl, "tv2", p0, pid, epoch, 0); code != 0 {
		t.Fatalf("Produce v12 to a partition not added beforehand: %v", kerr.ErrorForCode(code))
	}
	dt, err := kadm.NewClient(cl).DescribeTransactions(ctx, "tv2")
	if err != nil {
		t.Fatal(err)
	}
	if d := dt["tv2"]; d.State != "Ongoing" || len(d.Topics["v2"]) != 1 {
		t.Fatalf("the transaction after a Produce v12: %+v", d)
	}
	toc := kmsg.NewPtrTxnOffsetCommitRequest()
	toc.TransactionalID, toc.Group, toc.ProducerID, toc.ProducerEpoch = "tv2", "tv2-group", pid, epoch
	tt := kmsg.NewTxnOffsetCommitRequestTopic()
	tt.Topic = "v2"
	tpart := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	tpart.Offset = 7
	tt.Partitions = append(tt.Partitions, tpart)
	toc.Topics = append(toc.Topics, tt)
	coords := kadm.NewClient(cl).FindGroupCoordinators(ctx, "tv2-group")
	tr, err := toc.RequestWith(ctx, cl.Broker(int(coords["tv2-group"].NodeID)))
	if err != nil || tr.Version < 5 || tr.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("TxnOffsetCommit v5 without AddOffsetsToTxn: %v %+v", err, tr)
	}
	end := func(e int16, commit bool) *kmsg.EndTxnResponse {
		t.Helper()
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = "tv2", pid, e, commit
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || resp.Version < 5 {
			t.Fatalf("EndTxn v5: %v %+v", err, resp)
		}
		return resp
	}
	if r := end(epoch, true); r.ErrorCode != 0 || r.ProducerID != pid || r.ProducerEpoch != epoch+1 {
		t.Fatalf("EndTxn v5 commit: %v, producer %d epoch %d; want %d/%d", kerr.ErrorForCode(r.ErrorCode), r.ProducerID, r.ProducerEpoch, pid, epoch+1)
	}
	fenced := func(code int16) bool {
		return code == kerr.InvalidProducerEpoch.Code || code == kerr.ProducerFenced.Code
	}
	if code := txnProduce(ctx, t, cl, "tv2", p0, pid, epoch, 1); !fenced(code) {
		t.Fatalf("late produce of the ended transaction, same partition: %v, want fenced", kerr.ErrorForCode(code))
	}
	if code := txnProduce(ctx, t, cl, "tv2", p1, pid, epoch, 0); !fenced(code) {
		t.Fatalf("late produce of the ended transaction, another partition: %v, want fenced", kerr.ErrorForCode(code))
	}
	if _, n := broker.StuckTransactions(b, time.Now()); n != 0 {
		t.Fatalf("%d partitions hold an open transaction after the late produces", n)
	}
	// The next transaction goes on at the bumped epoch from sequence 0.
	if code := txnProduce(ctx, t, cl, "tv2", p0, pid, epoch+1, 0); code != 0 {
		t.Fatalf("produce of the next transaction: %v", kerr.ErrorForCode(code))
	}
	if r := end(epoch+1, false); r.ErrorCode != 0 || r.ProducerEpoch != epoch+2 {
		t.Fatalf("EndTxn v5 abort: %v, epoch %d", kerr.ErrorForCode(r.ErrorCode), r.ProducerEpoch)
	}
	if r := end(epoch+1, false); r.ErrorCode != 0 || r.ProducerEpoch != epoch+2 {
		t.Fatalf("the retried EndTxn v5: %v, epoch %d", kerr.ErrorForCode(r.ErrorCode), r.ProducerEpoch)
	}
	// One Produce v12 to both partitions: the leader adds them in one
	// call to the coordinator.
	produce := kmsg.NewPtrProduceRequest()
	produce.Acks, produce.TimeoutMillis, produce.TransactionID = -1, 10000, kmsg.StringPtr("tv2")
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "v2"
	for _, tp := range []partition.TP{p0, p1} {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = tp.Partition, brokertest.ProducerBatch(pid, epoch+2, 0, "both", true)
		rt.Partitions = append(rt.Partitions, rp)
	}
	produce.Topics = append(produce.Topics, rt)
	pr, err := produce.RequestWith(ctx, cl)
	if err != nil || pr.Version < 12 || pr.Topics[0].Partitions[0].ErrorCode != 0 || pr.Topics[0].Partitions[1].ErrorCode != 0 {
		t.Fatalf("Produce v12 to two partitions: %v %+v", err, pr)
	}
	if dt, err = kadm.NewClient(cl).DescribeTransactions(ctx, "tv2"); err != nil || len(dt["tv2"].Topics["v2"]) != 2 {
		t.Fatalf("the transaction after a Produce v12 to two partitions: %v %+v", err, dt["tv2"])
	}
	if r := end(epoch+2, true); r.ErrorCode != 0 || r.ProducerEpoch != epoch+3 {
		t.Fatalf("EndTxn v5 commit: %v, epoch %d", kerr.ErrorForCode(r.ErrorCode), r.ProducerEpoch)
	}
	m := metricsText(t, b.HTTPAddr())
	for _, want := range []string{`chronik_transaction_verifications_total{outcome="added"} 4`, `chronik_transaction_verifications_total{outcome="refused"} 2`} {
		if !strings.Contains(m, want) {
			t.Fatalf("/metrics lacks %q:\n%s", want, grepLines(m, "verification"))
		}
	}
	// The same request again, late (its transaction ended): the one call
	// is refused, and each partition, asking on its own, is fenced.
	for i := range rt.Partitions {
		rt.Partitions[i].Records = brokertest.ProducerBatch(pid, epoch+2, 1, "late", true)
	}
	produce.Topics = []kmsg.ProduceRequestTopic{rt}
	if pr, err = produce.RequestWith(ctx, cl); err != nil || !fenced(pr.Topics[0].Partitions[0].ErrorCode) || !fenced(pr.Topics[0].Partitions[1].ErrorCode) {
		t.Fatalf("late Produce v12 to two partitions: %v %+v", err, pr)
	}
	if _, n := broker.StuckTransactions(b, time.Now()); n != 0 {
		t.Fatalf("%d partitions hold an open transaction after the late two-partition produce", n)
	}
	if got := readAll(ctx, t, seeds, "v2", true, 3); len(got) != 3 {
		t.Fatalf("read_committed read %d records, want the 3 committed", len(got))
	}
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, "tv2-group")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup("v2", 0); !ok || o.At != 7 {
		t.Fatalf("the group's offset committed by the transaction: %+v", o)
	}

	// Downgraded for the cluster with kadm (what kafka-features.sh does),
	// a new client no longer uses version 2: its transactions keep the
	// epoch; upgraded again, they bump it.
	for _, step := range []struct {
		level       int16
		upgradeType int8
		bumps       bool
	}{{0, 2, false}, {2, 1, true}} {
		res, err := kadm.NewClient(cl).UpdateFeatures(ctx, false, kadm.FeatureUpdate{Feature: "transaction.version", MaxVersionLevel: step.level, UpgradeType: step.upgradeType})
		if err != nil || res.Error() != nil {
			t.Fatalf("kadm UpdateFeatures transaction.version=%d: %v %v", step.level, err, res.Error())
		}
		id := fmt.Sprintf("tv-%d", step.level)
		p := txnProducer(t, seeds, id, kgo.DefaultProduceTopic("v2"))
		if _, _, err := p.ProducerID(ctx); err != nil {
			t.Fatal(err)
		}
		runTxn(ctx, t, p, true, "x")
		runTxn(ctx, t, p, true, "y")
		dt, err := kadm.NewClient(cl).DescribeTransactions(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if bumped := dt[id].ProducerEpoch > 0; bumped != step.bumps {
			t.Fatalf("transaction.version=%d: epoch %d after two transactions", step.level, dt[id].ProducerEpoch)
		}
	}
}

// TestCompactionWithTransactionsAlwaysOpen is Kafka Streams' changelog
// under exactly-once: two transactional producers take turns so that a
// transaction is open on the compacted partition at every moment, and the
// cleaner still compacts what precedes the last stable offset; a
// read_committed consumer then reads every key's latest committed value.
func TestCompactionWithTransactionsAlwaysOpen(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Kafka.LogCleanerBackoff = 20 * time.Millisecond
	b := brokertest.Start(t, cfg)
	seeds := []string{b.KafkaAddr()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adm := kadm.NewClient(txnProducer(t, seeds, "admin-unused"))
	if resp, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"), "min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
	}, "changelog"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	const keys = 20
	ps := []*kgo.Client{txnProducer(t, seeds, "streams-a"), txnProducer(t, seeds, "streams-b")}
	begin := func(p *kgo.Client, round int) {
		t.Helper()
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for k := range keys {
			r := &kgo.Record{Topic: "changelog", Key: fmt.Appendf(nil, "k%02d", k), Value: fmt.Appendf(nil, "r%03d", round)}
			if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	commit := func(p *kgo.Client) {
		t.Helper()
		if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	compacted := func() bool {
		for _, r := range b.Status().Replicas {
			if c := r.Compaction; r.Topic == "changelog" && c != nil && c.LastPass != nil && c.LastPass.Error == "" && c.LastPass.Kept < c.LastPass.Records {
				return true
			}
		}
		return false
	}
	// Round r opens in one producer before the other commits round r-1.
	begin(ps[0], 0)
	round := 1
	for ; round < 200 && (round < 20 || !compacted()); round++ {
		begin(ps[round%2], round)
		commit(ps[(round+1)%2])
	}
	if !compacted() {
		t.Fatalf("no compaction pass removed anything in %d rounds with a transaction always open", round)
	}
	last := round - 1
	commit(ps[last%2])
	want := make([]string, keys)
	for k := range want {
		want[k] = fmt.Sprintf("k%02d=r%03d", k, last)
	}
	rc, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics("changelog"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	latest := map[string]string{}
	deadline := time.Now().Add(10 * time.Second)
	for len(latest) < keys || latest["k00"] != fmt.Sprintf("r%03d", last) {
		if time.Now().After(deadline) {
			t.Fatalf("read_committed read %v, want each key at round %d", latest, last)
		}
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		rc.PollFetches(pctx).EachRecord(func(r *kgo.Record) { latest[string(r.Key)] = string(r.Value) })
		pcancel()
	}
	var got []string
	for k, v := range latest {
		got = append(got, k+"="+v)
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("latest committed values %v, want %v", got, want)
	}
	t.Logf("compacted after %d rounds with a transaction always open", round)
}

//go:build integration

package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/opsctl"
)

// TestTransactionCommands: one transactional producer leaves a
// transaction open on partitions 0 and 2 of a topic, another commits one
// on partition 1. `transaction list` shows both IDs (Ongoing,
// CompleteCommit), `transaction describe` the open one's partitions and
// start, `topic producers` its open transaction's first offset; an
// unknown ID is explained.
func TestTransactionCommands(t *testing.T) {
	cli := newOpsCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if out := cli.ok("transaction", "list"); out != "no transactions: the cluster's transaction coordinators know no transactional ID\n" {
		t.Fatalf("transaction list before any producer:\n%s", out)
	}
	cli.ok("topic", "create", "orders", "--partitions", "3")
	produce := func(cl *kgo.Client, partitions ...int32) {
		t.Helper()
		for _, p := range partitions {
			if err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: fmt.Appendf(nil, "v%d", p)}).FirstErr(); err != nil {
				t.Fatalf("produce to partition %d: %v", p, err)
			}
		}
	}
	txnClient := func(id string) *kgo.Client {
		cl := cli.client(kgo.TransactionalID(id), kgo.DefaultProduceTopic("orders"),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionTimeout(time.Minute))
		// Initialized before its first transaction, the client knows the
		// brokers' transaction.version when it begins one: otherwise it
		// runs the first under the earlier protocol and initializes again
		// after it (leaving the ID Empty rather than CompleteCommit).
		if _, _, err := cl.ProducerID(ctx); err != nil {
			t.Fatal(err)
		}
		return cl
	}

	started := time.Now().Add(-time.Second)
	open := txnClient("open-tx")
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(open, 0, 2)
	openID, openEpoch, err := open.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}

	done := txnClient("done-tx")
	if err := done.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(done, 1)
	if err := done.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit: %v", err)
	}
	doneID, _, err := done.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The commit completes once its markers are written, which may be
	// just after EndTransaction returns.
	var list opsctl.TransactionList
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		list = opsJSON[opsctl.TransactionList](cli, "transaction", "list")
		if len(list.Transactions) == 2 && list.Transactions[0].State == "CompleteCommit" || time.Now().After(deadline) {
			break
		}
	}
	want := []opsctl.TransactionSummary{
		{TransactionalID: "done-tx", State: "CompleteCommit", ProducerID: doneID, Coordinator: 1},
		{TransactionalID: "open-tx", State: "Ongoing", ProducerID: openID, Coordinator: 1},
	}
	if !slices.Equal(list.Transactions, want) || list.Error != "" {
		t.Fatalf("transaction list: %+v, want %+v", list, want)
	}
	table := cli.ok("txn", "list")
	wantTable := fmt.Sprintf("TRANSACTIONAL-ID  STATE           PRODUCER-ID  COORDINATOR\n"+
		"done-tx           CompleteCommit  %-11d  1\nopen-tx           Ongoing         %-11d  1\n", doneID, openID)
	if table != wantTable {
		t.Fatalf("transaction list table:\n%s\nwant:\n%s", table, wantTable)
	}
	ongoing := opsJSON[opsctl.TransactionList](cli, "transaction", "list", "--state", "ongoing")
	if len(ongoing.Transactions) != 1 || ongoing.Transactions[0].TransactionalID != "open-tx" {
		t.Fatalf("transaction list --state ongoing: %+v", ongoing)
	}
	byProducer := opsJSON[opsctl.TransactionList](cli, "transaction", "list", "--producer-id", fmt.Sprint(doneID))
	if len(byProducer.Transactions) != 1 || byProducer.Transactions[0].TransactionalID != "done-tx" {
		t.Fatalf("transaction list --producer-id %d: %+v", doneID, byProducer)
	}
	if out := cli.ok("transaction", "list", "--state", "PrepareAbort,Empty"); out != "no transactions: no transactional ID with state PrepareAbort,Empty\n" {
		t.Fatalf("transaction list with no match:\n%s", out)
	}
	byPattern := opsJSON[opsctl.TransactionList](cli, "transaction", "list", "--pattern", "open-.*")
	if len(byPattern.Transactions) != 1 || byPattern.Transactions[0].TransactionalID != "open-tx" {
		t.Fatalf("transaction list --pattern 'open-.*': %+v", byPattern)
	}
	if out := cli.ok("transaction", "list", "--pattern", "tx"); out != "no transactions: no transactional ID matching \"tx\"\n" {
		t.Fatalf("transaction list --pattern tx (matches no ID whole):\n%s", out)
	}

	d := opsJSON[opsctl.TransactionDescriptions](cli, "transaction", "describe", "open-tx", "done-tx")
	if len(d.Transactions) != 2 {
		t.Fatalf("transaction describe open-tx done-tx: %+v", d)
	}
	o, c := d.Transactions[0], d.Transactions[1]
	wantParts := []opsctl.TopicPartitions{{Topic: "orders", Partitions: []int32{0, 2}}}
	if o.TransactionalID != "open-tx" || o.State != "Ongoing" || o.ProducerID != openID || o.ProducerEpoch != openEpoch ||
		o.TimeoutMs != 60000 || o.Coordinator != 1 || !slices.EqualFunc(o.Partitions, wantParts, func(a, b opsctl.TopicPartitions) bool {
		return a.Topic == b.Topic && slices.Equal(a.Partitions, b.Partitions)
	}) {
		t.Fatalf("describe open-tx: %+v, want Ongoing on %v", o, wantParts)
	}
	if o.StartTime == nil || o.StartTime.Before(started) || o.StartTime.After(time.Now()) || o.OpenForMs == nil || *o.OpenForMs < 0 {
		t.Fatalf("describe open-tx: start %v, open for %v ms, want a start just now", o.StartTime, o.OpenForMs)
	}
	if c.TransactionalID != "done-tx" || c.State != "CompleteCommit" || c.ProducerID != doneID || len(c.Partitions) != 0 || c.OpenForMs != nil {
		t.Fatalf("describe done-tx: %+v", c)
	}
	table = cli.ok("transaction", "describe", "open-tx")
	for _, want := range [][]string{{"STATE", "Ongoing"}, {"PARTITIONS", "orders:0,2"}, {"TIMEOUT", "1m0s"}, {"PRODUCER-ID", fmt.Sprint(openID)}} {
		if !slices.ContainsFunc(strings.Split(table, "\n"), func(l string) bool { return slices.Equal(strings.Fields(l), want) }) {
			t.Fatalf("describe table has no line %q:\n%s", want, table)
		}
	}
	if !strings.Contains(table, "(open for ") {
		t.Fatalf("describe table does not say how long the transaction is open:\n%s", table)
	}

	prods := opsJSON[opsctl.TopicProducers](cli, "topic", "producers", "orders")
	for _, p := range prods.Partitions {
		if len(p.Producers) != 1 || p.Error != "" {
			t.Fatalf("topic producers orders, partition %d: %+v, want one producer", p.Partition, p)
		}
		s := p.Producers[0]
		switch p.Partition {
		case 0, 2:
			if s.ProducerID != openID || s.TxnStartOffset == nil || *s.TxnStartOffset != 0 {
				t.Fatalf("partition %d: %+v (txn start %v), want producer %d with its transaction open at offset 0", p.Partition, s, s.TxnStartOffset, openID)
			}
		case 1:
			if s.ProducerID != doneID || s.TxnStartOffset != nil {
				t.Fatalf("partition 1: %+v (txn start %v), want producer %d with no open transaction", s, s.TxnStartOffset, doneID)
			}
		}
	}
	table = cli.ok("topic", "producers", "orders", "--partitions", "0")
	if lines := strings.Split(table, "\n"); !strings.HasSuffix(lines[0], "TXN-START") || !strings.HasSuffix(lines[1], "  0") {
		t.Fatalf("topic producers table has no TXN-START 0:\n%s", table)
	}

	cli.fails(`transactional ID "nope" does not exist (TRANSACTIONAL_ID_NOT_FOUND)`, "transaction", "describe", "nope")
	cli.fails("cannot describe 2 of the 3 transactional IDs:\nchronik: transactional ID \"nope\" does not exist",
		"transaction", "describe", "open-tx", "nope", "nope-2")
}

// TestTransactionDescribeNeedsDescribe: with ACLs, describing a
// transactional ID is refused with the ACL to create; once granted, the
// ID is looked up (and is unknown). Listing shows only permitted IDs.
func TestTransactionDescribeNeedsDescribe(t *testing.T) {
	c, as := aclBrokerCLI(t)
	t.Setenv(opsctl.EnvSASLPassword, "alice-secret")
	c.fails(`the broker refused to describe transactional ID "tx-1" (TRANSACTIONAL_ID_AUTHORIZATION_FAILED): the principal you connect as needs DESCRIBE on the transactional ID — `+
		"grant it with `chronik acl create --operation describe --transactional-id tx-1 --principal User:NAME`",
		as("alice", "transaction", "describe", "tx-1")...)

	t.Setenv(opsctl.EnvSASLPassword, "admin-secret")
	c.ok(as("admin", "acl", "create", "--transactional-id", "tx-1", "--principal", "User:alice", "--operation", "describe")...)
	t.Setenv(opsctl.EnvSASLPassword, "alice-secret")
	c.fails(`transactional ID "tx-1" does not exist (TRANSACTIONAL_ID_NOT_FOUND)`, as("alice", "transaction", "describe", "tx-1")...)
	c.fails("cannot describe 2 of the 2 transactional IDs:\nchronik: transactional ID \"tx-1\" does not exist (TRANSACTIONAL_ID_NOT_FOUND)",
		as("alice", "transaction", "describe", "tx-1", "tx-2")...)
	c.fails(`the broker refused to describe transactional ID "tx-2" (TRANSACTIONAL_ID_AUTHORIZATION_FAILED)`, as("alice", "transaction", "describe", "tx-1", "tx-2")...)
}

// TestTransactionAbortCommand: on a broker without KIP-890's
// verification, after three plain records, two stray transactional
// produces leave transactions open on partition 0 at offsets 3 and 4 that
// no coordinator will end, so the last stable offset stays at 3.
// `transaction abort --start-offset 3` ends the first (the last stable
// offset moves to 4), `--producer-id` the second (it reaches the high
// watermark); asking for a transaction that is not open fails, naming
// those that are; --producer-epoch writes a marker with none open, which
// appends nothing.
func TestTransactionAbortCommand(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Kafka.TransactionPartitionVerification = false
	cli := opsCLIFor(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cli.ok("topic", "create", "hang", "--partitions", "2")
	cli.produce(ctx, "hang", 0, 3)
	seeds := []string{cli.brokers}
	pidA, epochA := brokertest.HangingTransaction(ctx, t, seeds, "hang", 0, "hanger-a")
	pidB, epochB := brokertest.HangingTransaction(ctx, t, seeds, "hang", 0, "hanger-b")
	adm := kadm.NewClient(cli.client())
	offsets := func(wantStable, wantEnd int64) {
		t.Helper()
		stable, err := adm.ListCommittedOffsets(ctx, "hang") // read_committed: the last stable offset
		if err != nil {
			t.Fatal(err)
		}
		end, err := adm.ListEndOffsets(ctx, "hang")
		if err != nil {
			t.Fatal(err)
		}
		s, _ := stable.Lookup("hang", 0)
		e, _ := end.Lookup("hang", 0)
		if s.Err != nil || e.Err != nil || s.Offset != wantStable || e.Offset != wantEnd {
			t.Fatalf("partition 0: last stable offset %d (%v), high watermark %d (%v); want %d and %d", s.Offset, s.Err, e.Offset, e.Err, wantStable, wantEnd)
		}
	}
	offsets(3, 5)

	abort := func(args ...string) []string {
		return append([]string{"transaction", "abort", "--topic", "hang"}, args...)
	}
	open := fmt.Sprintf("the transactions open there began at offsets 3 (producer %d), 4 (producer %d) — `chronik topic producers hang --partitions 0` shows them", pidA, pidB)
	cli.fails(`no transaction open on partition 0 of topic "hang" began at offset 2: `+open, abort("--partition", "0", "--start-offset", "2")...)
	cli.fails(`no transaction open on partition 1 of topic "hang" began at offset 0: no transaction is open there, so there is nothing to abort`,
		abort("--partition", "1", "--start-offset", "0")...)
	var plain int64 = -1 // the idempotent producer of the three records
	for _, s := range opsJSON[opsctl.TopicProducers](cli, "topic", "producers", "hang", "--partitions", "0").Partitions[0].Producers {
		if s.TxnStartOffset == nil {
			plain = s.ProducerID
		}
	}
	cli.fails(fmt.Sprintf(`producer %d has no transaction open on partition 0 of topic "hang": `, plain)+open, abort("--partition", "0", "--producer-id", fmt.Sprint(plain))...)
	cli.fails(`--partition 2: topic "hang" has partitions 0 to 1`, abort("--partition", "2", "--start-offset", "3")...)
	cli.fails(`topic "nope" does not exist`, "transaction", "abort", "--topic", "nope", "--partition", "0", "--start-offset", "3")
	offsets(3, 5) // the failures wrote nothing

	got := opsJSON[opsctl.AbortedTransaction](cli, abort("--partition", "0", "--start-offset", "3")...)
	if got.Topic != "hang" || got.Partition != 0 || got.ProducerID != pidA || got.ProducerEpoch != epochA ||
		got.TxnStartOffset == nil || *got.TxnStartOffset != 3 || got.Outcome != opsctl.OutcomeAborted {
		t.Fatalf("abort --start-offset 3: %+v (start %v), want producer %d epoch %d aborted at 3", got, got.TxnStartOffset, pidA, epochA)
	}
	offsets(4, 6) // B's transaction holds it now; A's marker is at 5

	table := cli.ok(abort("--partition", "0", "--producer-id", fmt.Sprint(pidB))...)
	lines := strings.Split(table, "\n")
	if want := []string{"hang", "0", fmt.Sprint(pidB), fmt.Sprint(epochB), "4", "aborted"}; len(lines) < 4 ||
		!slices.Equal(strings.Fields(lines[0]), []string{"TOPIC", "PARTITION", "PRODUCER-ID", "EPOCH", "TXN-START", "OUTCOME"}) ||
		!slices.Equal(strings.Fields(lines[1]), want) || !strings.HasPrefix(lines[3], "the partition's last stable offset is no longer held at 4") {
		t.Fatalf("abort --producer-id %d table:\n%s\nwant the row %q", pidB, table, want)
	}
	offsets(7, 7)
	if got := readCommitted(ctx, t, cli, "hang", 0, 3); !slices.Equal(got, []string{"v0", "v1", "v2"}) {
		t.Fatalf("read_committed read %q after the aborts, want the three plain records only", got)
	}
	for _, s := range opsJSON[opsctl.TopicProducers](cli, "topic", "producers", "hang").Partitions[0].Producers {
		if s.TxnStartOffset != nil {
			t.Fatalf("topic producers after the aborts: producer %d has a transaction open at %d", s.ProducerID, *s.TxnStartOffset)
		}
	}

	cli.fails(`no transaction open on partition 0 of topic "hang" began at offset 3: no transaction is open there`, abort("--partition", "0", "--start-offset", "3")...)
	cli.fails(fmt.Sprintf(`producer %d has no transaction open on partition 0 of topic "hang": no transaction is open there`, pidA),
		abort("--partition", "0", "--producer-id", fmt.Sprint(pidA))...)
	got = opsJSON[opsctl.AbortedTransaction](cli, abort("--partition", "0", "--producer-id", fmt.Sprint(pidA), "--producer-epoch", fmt.Sprint(epochA))...)
	if got.ProducerID != pidA || got.ProducerEpoch != epochA || got.TxnStartOffset != nil || got.Outcome != opsctl.OutcomeNoneOpen {
		t.Fatalf("abort --producer-id %d --producer-epoch %d with none open: %+v", pidA, epochA, got)
	}
	offsets(7, 7) // nothing appended
}

// TestTransactionAbortNeedsClusterAction: with ACLs, aborting needs READ
// on the topic (to find the transaction) and CLUSTER_ACTION on the cluster
// (to write the marker); each refusal names the ACL to create, and once
// both are granted the marker is written.
func TestTransactionAbortNeedsClusterAction(t *testing.T) {
	c, as := aclBrokerCLI(t)
	c.ok(as("admin", "topic", "create", "orders")...)
	abort := as("alice", "transaction", "abort", "--topic", "orders", "--partition", "0", "--producer-id", "5", "--producer-epoch", "0")

	t.Setenv(opsctl.EnvSASLPassword, "alice-secret")
	c.fails(`the broker refused to show the producers of topic "orders" (TOPIC_AUTHORIZATION_FAILED): the principal you connect as needs READ on the topic`, abort...)

	t.Setenv(opsctl.EnvSASLPassword, "admin-secret")
	c.ok(as("admin", "acl", "create", "--topic", "orders", "--principal", "User:alice", "--operation", "read")...)
	t.Setenv(opsctl.EnvSASLPassword, "alice-secret")
	c.fails(`the broker refused to write the abort marker of producer 5 (epoch 0) on partition 0 of topic "orders" (CLUSTER_AUTHORIZATION_FAILED): `+
		"writing transaction markers needs CLUSTER_ACTION on the cluster — grant it with `chronik acl create --cluster --operation cluster-action --principal User:NAME`", abort...)

	t.Setenv(opsctl.EnvSASLPassword, "admin-secret")
	c.ok(as("admin", "acl", "create", "--cluster", "--principal", "User:alice", "--operation", "cluster-action")...)
	t.Setenv(opsctl.EnvSASLPassword, "alice-secret")
	if got := opsJSON[opsctl.AbortedTransaction](c, abort...); got.ProducerID != 5 || got.Outcome != opsctl.OutcomeNoneOpen {
		t.Fatalf("abort with CLUSTER_ACTION: %+v", got)
	}
}

// readCommitted reads partition p of topic from the start with
// read_committed until it has want records (10s at most), then for half a
// second more to catch records that should not be there, and returns the
// values in offset order.
func readCommitted(ctx context.Context, t *testing.T, cli *opsCLI, topic string, p int32, want int) []string {
	t.Helper()
	cl := cli.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	var got []string
	poll := func(d time.Duration) {
		pctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	for deadline := time.Now().Add(10 * time.Second); len(got) < want && time.Now().Before(deadline); {
		poll(time.Second)
	}
	poll(500 * time.Millisecond)
	return got
}

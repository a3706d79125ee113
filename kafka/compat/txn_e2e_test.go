//go:build e2e

package compat

// The transactions step (KIP-98): each client with a transactional producer
// writes, with its own API, one committed transaction, one aborted and one
// more committed to a topic of its own, then reads the topic from the start
// with its own consumer in read_committed mode and must deliver exactly the
// committed records. franz-go, reading uncommitted, checks that the aborted
// records and the control batches are in the log: they were written and
// filtered, not lost. Clients whose API has a transactional offset commit
// (sendOffsetsToTransaction) also send a group's offsets in the first
// committed and in the aborted transaction; kadm must read the committed
// ones.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
)

// txnRound is one transaction of the step.
type txnRound struct {
	Prefix string `json:"prefix"` // record i has key txnKey(Prefix, i)
	N      int    `json:"n"`
	Commit bool   `json:"commit"` // else abort
	// Offsets, if any, are committed for the step's group on the topic
	// with the transaction (sendOffsetsToTransaction), by drivers that can.
	Offsets map[int32]int64 `json:"offsets,omitempty"`
}

// txnRounds are the transactions in order: record i of each goes to
// partition i%partitions, so every transaction writes a marker to every
// partition. The first committed and the aborted one carry offsets: the
// aborted ones, sent last, must not be committed.
func txnRounds() []txnRound {
	same := func(o int64) map[int32]int64 {
		m := make(map[int32]int64, partitions)
		for p := range int32(partitions) {
			m[p] = o + int64(p)
		}
		return m
	}
	return []txnRound{
		{Prefix: "c", N: 30, Commit: true, Offsets: same(5)},
		{Prefix: "a", N: 20, Commit: false, Offsets: same(15)},
		{Prefix: "d", N: 10, Commit: true},
	}
}

func txnKey(prefix string, i int) string { return fmt.Sprintf("%s-%02d", prefix, i) }

func txnValue(prefix string, i int) string {
	return fmt.Sprintf("%s-%02d-chronik-compat-txn", prefix, i)
}

// txnLayout is where each record of rounds lands in a fresh topic: each
// round's records of a partition in order, then its commit or abort marker
// there. It returns every record by position, whether it is committed, and
// the end offsets (records and markers).
func txnLayout(id string, rounds []txnRound) (all map[at]rec, committed map[at]bool, end map[int32]int64) {
	all, committed, end = make(map[at]rec), make(map[at]bool), zeroOffsets()
	for _, r := range rounds {
		for i := range r.N {
			p := int32(i % partitions)
			pos := at{p, end[p]}
			all[pos] = rec{
				Partition: p, Offset: end[p], Key: txnKey(r.Prefix, i), Value: txnValue(r.Prefix, i),
				Headers: map[string]string{hdrClient: id},
			}
			committed[pos] = r.Commit
			end[p]++
		}
		for p := range end {
			end[p]++ // the marker
		}
	}
	return all, committed, end
}

// txnStep runs the transactions of row r with driver d on topic and returns
// the cell: "n/a" for a client without a transactional producer, "yes" when
// its records passed, "yes, with offsets" when its transactional offset
// commit passed too.
func txnStep(t *testing.T, adm *admin, d driver, r row, topic string) string {
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	rounds := txnRounds()
	all, committed, end := txnLayout(r.id, rounds)
	if err := adm.createTopic(ctx, topic, partitions); err != nil {
		t.Fatalf("create topic %s with kadm: %v", topic, err)
	}
	adm.waitPartitions(t, topic, partitions)

	group := topic + "-group"
	offsets, err := d.transact(ctx, topic, topic+"-id", group, rounds)
	if errors.Is(err, errUnsupported) {
		return "n/a"
	}
	if err != nil {
		t.Fatalf("transactions: %v", err)
	}

	// The log, read uncommitted with franz-go: every record of every
	// transaction at its offset, in transactional batches, and a marker
	// after each transaction's records in each partition (the end offsets
	// count them).
	var total int64
	for _, e := range end {
		total += e
	}
	gotEnd := adm.endOffsets(t, topic, total)
	if !maps.Equal(gotEnd, end) {
		t.Fatalf("end offsets %v, want %v (%d records and a marker per transaction and partition)", gotEnd, end, len(all))
	}
	lastData := make(map[int32]int64)
	for pos := range all {
		lastData[pos.p] = max(lastData[pos.p], pos.o+1)
	}
	var log []rec
	for _, kr := range adm.read(t, topic, zeroOffsets(), lastData) {
		if !kr.Attrs.IsTransactional() || kr.ProducerID < 0 {
			t.Errorf("p%d@%d: %s not in a transactional batch (producer ID %d)", kr.Partition, kr.Offset, kr.Key, kr.ProducerID)
		}
		log = append(log, fromKgo(kr))
	}
	if problems := compareCompacted(log, all); len(problems) > 0 {
		t.Fatalf("the log read uncommitted with franz-go: %d records, want %d:\n  %s", len(log), len(all), strings.Join(problems, "\n  "))
	}
	if t.Failed() {
		t.FailNow()
	}

	// The client, read_committed: exactly the committed records.
	want := make(map[at]rec)
	stop := make(map[int32]int64)
	for pos, rc := range all {
		if committed[pos] {
			want[pos] = rc
			stop[pos.p] = max(stop[pos.p], pos.o+1)
		}
	}
	got, err := d.readCommitted(ctx, topic, stop, len(want))
	problems := compareCompacted(got, want)
	if err != nil {
		t.Fatalf("read %s read_committed: %v\n%d records read; against the committed records:\n  %s", topic, err, len(got), strings.Join(problems, "\n  "))
	}
	if len(problems) > 0 {
		t.Fatalf("read %s read_committed: %d records delivered, want the %d committed:\n  %s", topic, len(got), len(want), strings.Join(problems, "\n  "))
	}
	t.Logf("read_committed: the %d committed records of %d", len(got), len(all))
	if !offsets {
		return "yes"
	}
	// The committed transaction's offsets, not the aborted one's.
	var wantOffsets map[int32]int64
	for _, rd := range rounds {
		if rd.Commit && rd.Offsets != nil {
			wantOffsets = rd.Offsets
		}
	}
	adm.checkCommitted(t, group, topic, wantOffsets)
	return "yes, with offsets"
}

// txnProse explains the column of the transactions step.
func txnProse() string {
	rounds := txnRounds()
	var parts []string
	for _, r := range rounds {
		what := "aborted"
		if r.Commit {
			what = "committed"
		}
		parts = append(parts, fmt.Sprintf("%d records `%s-…` %s", r.N, r.Prefix, what))
	}
	all, committed, _ := txnLayout("", rounds)
	n := 0
	for pos := range all {
		if committed[pos] {
			n++
		}
	}
	return fmt.Sprintf(`For the column "transactions" (KIP-98), the client's transactional producer (with a transactional ID)
wrote to a new 3-partition topic three transactions in order, record i of each to partition i mod 3:
%s.
franz-go then read the topic uncommitted and had to find all %d records at the offsets they were written
at, in transactional batches, with the end offsets counting one control batch (the commit or abort
marker) per transaction and partition: the aborted records were written, not lost. Then the client's own consumer read the topic from the beginning in read_committed mode
(set explicitly; it is the documented default of librdkafka, KafkaJS and @platformatic/kafka) — without a
group where it can, else in a new consumer group — and had to deliver exactly the %d committed records,
each once, at their offsets: no aborted record. "yes, with offsets": the client also committed offsets of
a consumer group on that topic inside the first committed transaction and, different ones, inside the
aborted one (sendOffsetsToTransaction: AddOffsetsToTxn and TxnOffsetCommit), and kadm had to read the
committed transaction's offsets. "yes" alone: records only — franz-go commits offsets in a transaction
only through GroupTransactSession and @platformatic/kafka only for messages a live group member consumed
(franz-go's is tested in core/broker). "n/a": the client has no transactional producer (segmentio/kafka-go
sends the transaction requests but writes no batch with a producer ID; kcat never begins or commits a
transaction).`,
		strings.Join(parts, ", then "), len(all), n)
}

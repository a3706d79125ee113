package raftsm

import (
	"reflect"
	"testing"
)

func txnRec(id string, pid int64, epoch int16, state TxnState) *TxnRecord {
	return &TxnRecord{
		TransactionalID: id, ProducerID: pid, ProducerEpoch: epoch, LastProducerID: -1, LastProducerEpoch: -1,
		State: state, TimeoutMs: 60000, StartMs: -1, UpdateMs: 5,
	}
}

func TestTxnPutCompareAndSet(t *testing.T) {
	h := newCoordHarness(t)
	r := txnRec("t1", 7, 0, TxnEmpty)
	res := h.update(EncodePutTxn(r, 0))[0]
	if ResultStatus(res.Data) != StatusOK || res.Value != 1 {
		t.Fatalf("first put: %+v", res)
	}
	// A second creation (another leader that read no record) conflicts.
	if st := h.status(EncodePutTxn(txnRec("t1", 8, 0, TxnEmpty), 0)); st != StatusTxnConflict {
		t.Fatalf("second create: %s", st)
	}
	next := *r
	next.State, next.StartMs = TxnOngoing, 10
	next.Partitions = []TopicPartition{{"a", 0}, {"b", 3}}
	next.Groups = []string{"g"}
	next.Version = 99 // ignored: the state machine counts
	res = h.update(EncodePutTxn(&next, 1))[0]
	if ResultStatus(res.Data) != StatusOK || res.Value != 2 {
		t.Fatalf("put v1: %+v", res)
	}
	// A put that read version 1 after someone else moved on conflicts and
	// changes nothing.
	stale := *r
	stale.State = TxnPrepareAbort
	if st := h.status(EncodePutTxn(&stale, 1)); st != StatusTxnConflict {
		t.Fatalf("stale put: %s", st)
	}
	got, ok := h.c.Txn("t1")
	next.Version = 2
	if !ok || !reflect.DeepEqual(got, &next) {
		t.Fatalf("stored %+v, want %+v", got, &next)
	}
	if _, ok := h.c.Txn("nope"); ok {
		t.Fatal("unknown transactional ID found")
	}
	for name, cmd := range map[string][]byte{
		"no id":     EncodePutTxn(txnRec("", 1, 0, TxnEmpty), 0),
		"truncated": EncodePutTxn(r, 2)[:15],
		"bad state": EncodePutTxn(&TxnRecord{TransactionalID: "z", State: 9}, 0),
		"end bad":   append(EncodeEndTxnOffsets("g", 1, 0, true)[:len(EncodeEndTxnOffsets("g", 1, 0, true))-1], 7),
		"txn short": EncodeTxnCommitOffsets("g", 1, 0, []CommittedOffset{off("t", 0, 1)})[:20],
		"txn empty": EncodeTxnCommitOffsets("g", 1, 0, nil),
	} {
		if st := h.status(cmd); st != StatusMalformed {
			t.Errorf("%s: status %s", name, st)
		}
	}
}

func TestTxnPendingOffsets(t *testing.T) {
	h := newCoordHarness(t)
	h.update(commit("g", 1, off("t", 0, 5)))
	if st := h.status(EncodeTxnCommitOffsets("g", 7, 2, []CommittedOffset{off("t", 0, 10), off("t", 1, 11)})); st != StatusOK {
		t.Fatal(st)
	}
	if st := h.status(EncodeTxnCommitOffsets("g", 8, 0, []CommittedOffset{off("t", 2, 12)})); st != StatusOK {
		t.Fatal(st)
	}
	// Pending offsets are not committed offsets.
	if o, _ := h.c.Offset("g", TopicPartition{"t", 0}); o.Offset != 5 {
		t.Fatalf("committed offset moved before the commit: %+v", o)
	}
	if _, ok := h.c.Offset("g", TopicPartition{"t", 1}); ok {
		t.Fatal("pending offset visible")
	}
	if !h.c.HasPendingOffset("g", TopicPartition{"t", 1}) || h.c.HasPendingOffset("g", TopicPartition{"t", 3}) {
		t.Fatal("HasPendingOffset wrong")
	}
	// A lower epoch of the same producer is fenced.
	if st := h.status(EncodeTxnCommitOffsets("g", 7, 1, []CommittedOffset{off("t", 0, 1)})); st != StatusTxnFenced {
		t.Fatalf("older epoch: %s", st)
	}

	// Commit moves producer 7's offsets; producer 8's stay pending.
	res := h.update(EncodeEndTxnOffsets("g", 7, 2, true))[0]
	if ResultStatus(res.Data) != StatusOK || res.Value != 2 {
		t.Fatalf("commit: %+v", res)
	}
	if o, _ := h.c.Offset("g", TopicPartition{"t", 0}); o.Offset != 10 {
		t.Fatalf("committed t/0 = %+v", o)
	}
	if o, _ := h.c.Offset("g", TopicPartition{"t", 1}); o.Offset != 11 {
		t.Fatalf("committed t/1 = %+v", o)
	}
	// Idempotent: nothing pending is OK.
	if res := h.update(EncodeEndTxnOffsets("g", 7, 2, true))[0]; ResultStatus(res.Data) != StatusOK || res.Value != 0 {
		t.Fatalf("repeat: %+v", res)
	}
	// Abort with a bumped epoch drops producer 8's and fences epoch 0.
	if st := h.status(EncodeEndTxnOffsets("g", 8, 1, false)); st != StatusOK {
		t.Fatal(st)
	}
	if _, ok := h.c.Offset("g", TopicPartition{"t", 2}); ok || h.c.HasPendingOffset("g", TopicPartition{"t", 2}) {
		t.Fatal("aborted offset kept")
	}
	if st := h.status(EncodeTxnCommitOffsets("g", 8, 0, []CommittedOffset{off("t", 2, 13)})); st != StatusTxnFenced {
		t.Fatalf("zombie after abort: %s", st)
	}
	if st := h.status(EncodeTxnCommitOffsets("g", 8, 1, []CommittedOffset{off("t", 2, 13)})); st != StatusOK {
		t.Fatalf("current epoch after abort: %s", st)
	}
	// An end for an unknown group records only the fence.
	if st := h.status(EncodeEndTxnOffsets("other", 1, 0, true)); st != StatusOK || h.c.HasOffsets("other") {
		t.Fatalf("end for unknown group: %s", st)
	}
	// Deleting the group drops its transaction state too.
	if st := h.status(EncodeDeleteGroup("g")); st != StatusOK {
		t.Fatal(st)
	}
	if h.c.HasPendingOffset("g", TopicPartition{"t", 2}) {
		t.Fatal("pending offsets survive the group")
	}
	re := NewCoordinator(h.store, 3)
	if _, err := re.Open(nil); err != nil {
		t.Fatal(err)
	}
	if re.HasGroup("g") {
		t.Fatal("deleted group's transaction state is still stored")
	}
}

func TestTxnExpiryKeepsPending(t *testing.T) {
	h := newCoordHarness(t)
	h.update(EncodeTxnCommitOffsets("g", 7, 0, []CommittedOffset{off("t", 0, 10)}))
	h.update(EncodeExpireOffsets(1<<40, 1))
	if !h.c.HasPendingOffset("g", TopicPartition{"t", 0}) {
		t.Fatal("expiry dropped an open transaction's offsets")
	}
	h.update(EncodeEndTxnOffsets("g", 7, 0, false))
	h.update(EncodeExpireOffsets(1<<40, 1))
	if h.c.HasGroup("g") {
		t.Fatal("expiry kept a group with only a fence")
	}
}

func TestTxnReopenAndSnapshot(t *testing.T) {
	h := newCoordHarness(t)
	r := txnRec("t1", 7, 3, TxnOngoing)
	r.Partitions, r.Groups = []TopicPartition{{"a", 1}}, []string{"g"}
	ended := txnRec("t2", 9, 5, TxnCompleteCommit)
	ended.EndedV2, ended.LastProducerID, ended.LastProducerEpoch = true, 9, 4
	h.update(
		EncodePutTxn(r, 0), EncodePutTxn(ended, 0),
		EncodeTxnCommitOffsets("g", 7, 3, []CommittedOffset{off("t", 0, 10)}),
		EncodeEndTxnOffsets("g", 9, 4, false),
	)
	check := func(name string, c *Coordinator) {
		t.Helper()
		if !reflect.DeepEqual(c.Txns(), h.c.Txns()) || len(c.Txns()) != 2 {
			t.Fatalf("%s: txns %+v, want %+v", name, c.Txns(), h.c.Txns())
		}
		if !reflect.DeepEqual(c.PendingOffsets("g", 7), h.c.PendingOffsets("g", 7)) || len(c.PendingOffsets("g", 7)) != 1 {
			t.Fatalf("%s: pending %+v", name, c.PendingOffsets("g", 7))
		}
		// The fence came back: epoch 3 of producer 9 is refused.
		cmd := EncodeTxnCommitOffsets("g", 9, 3, []CommittedOffset{off("t", 0, 1)})
		b := c.store.db.NewBatch()
		defer b.Close()
		c.mu.Lock()
		res := c.applyLocked(b, cmd)
		c.mu.Unlock()
		if ResultStatus(res.Data) != StatusTxnFenced {
			t.Fatalf("%s: fence lost: %s", name, ResultStatus(res.Data))
		}
	}
	re := NewCoordinator(h.store, 3)
	if _, err := re.Open(nil); err != nil {
		t.Fatal(err)
	}
	check("reopened", re)

	buf := snapshotOf(t, h.c)
	other := newCoordHarness(t)
	other.update(EncodePutTxn(txnRec("stale", 1, 0, TxnEmpty), 0))
	if err := other.c.RecoverFromSnapshot(buf, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := other.c.Txn("stale"); ok {
		t.Fatal("recovery kept a record not in the snapshot")
	}
	check("recovered", other.c)
}

// TestTxnRecordEndedV2: the KIP-890 part 2 flag is a trailing byte only
// when set, so records without it keep the earlier format; its markers
// carry the producer that ended the transaction at the bumped epoch.
func TestTxnRecordEndedV2(t *testing.T) {
	plain := txnRec("t", 7, 3, TxnPrepareCommit)
	v1 := encodeTxnRecord(plain)
	v2rec := *plain
	v2rec.EndedV2, v2rec.ProducerID, v2rec.ProducerEpoch, v2rec.LastProducerID, v2rec.LastProducerEpoch = true, 8, 0, 7, 3
	v2 := encodeTxnRecord(&v2rec)
	if len(v2) != len(v1)+1 || v2[len(v2)-1] != txnFlagEndedV2 {
		t.Fatalf("flag not a trailing byte: %d vs %d bytes", len(v2), len(v1))
	}
	for name, raw := range map[string][]byte{"plain": v1, "ended v2": v2} {
		got, err := decodeTxnRecord(raw)
		want := plain
		if name == "ended v2" {
			want = &v2rec
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %+v, %v", name, got, err)
		}
	}
	for name, raw := range map[string][]byte{
		"unknown flag": append(append([]byte(nil), v1...), 2),
		"zero flags":   append(append([]byte(nil), v1...), 0),
		"two bytes":    append(append([]byte(nil), v2...), 1),
	} {
		if _, err := decodeTxnRecord(raw); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	if pid, epoch := plain.MarkerProducer(); pid != 7 || epoch != 3 {
		t.Fatalf("plain markers %d/%d", pid, epoch)
	}
	if pid, epoch := v2rec.MarkerProducer(); pid != 7 || epoch != 4 {
		t.Fatalf("v2 markers %d/%d, want 7/4 (the ending producer, bumped)", pid, epoch)
	}
}

// TestTxnExpireIdle: only idle records still at the given version go, and
// the deletion survives a reopen.
func TestTxnExpireIdle(t *testing.T) {
	h := newCoordHarness(t)
	h.update(
		EncodePutTxn(txnRec("done", 1, 0, TxnCompleteCommit), 0),
		EncodePutTxn(txnRec("empty", 2, 0, TxnEmpty), 0),
		EncodePutTxn(txnRec("open", 3, 0, TxnOngoing), 0),
		EncodePutTxn(txnRec("moved", 4, 0, TxnCompleteAbort), 0),
		EncodePutTxn(txnRec("moved", 4, 1, TxnEmpty), 1), // now at version 2
	)
	res := h.update(EncodeExpireTxns([]TxnVersion{{"done", 1}, {"empty", 1}, {"open", 1}, {"moved", 1}, {"unknown", 1}}))[0]
	if ResultStatus(res.Data) != StatusOK || res.Value != 2 {
		t.Fatalf("expire: %s, %d deleted; want done and empty", ResultStatus(res.Data), res.Value)
	}
	if st := h.status([]byte{commandVersion, cmdExpireTxns, 9}); st != StatusMalformed {
		t.Fatalf("truncated expiry: %s", st)
	}
	re := NewCoordinator(h.store, 3)
	if _, err := re.Open(nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Coordinator{h.c, re} {
		var left []string
		for _, r := range c.Txns() {
			left = append(left, r.TransactionalID)
		}
		if !reflect.DeepEqual(left, []string{"moved", "open"}) {
			t.Fatalf("records left %v, want moved and open", left)
		}
	}
	// A deleted ID starts over.
	if res := h.update(EncodePutTxn(txnRec("done", 5, 0, TxnEmpty), 0))[0]; ResultStatus(res.Data) != StatusOK || res.Value != 1 {
		t.Fatalf("re-create: %+v", res)
	}
}

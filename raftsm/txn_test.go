package raftsm

import (
	"encoding/binary"
	"hash/crc32"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/chronik-go/chronik/core/batch"
)

// txnBatch is a transactional producer's batch.
func txnBatch(pid int64, epoch int16, seq, records int32, payload string) AppendBatch {
	b := idem(pid, epoch, seq, records, payload)
	binary.BigEndian.PutUint16(b.Data[attributesOffset:], attrTransactional)
	return b
}

func marker(pid int64, epoch int16, commit bool) []byte {
	return EncodeTxnMarker(TxnMarker{ProducerID: pid, ProducerEpoch: epoch, Commit: commit, CoordinatorEpoch: 4, LeaderEpoch: 1, Timestamp: 50})
}

func TestTxnMarkersAndStableOffset(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	res := h.update(
		appendCmd(1, plain(1, 10, "a")),           // 0
		appendCmd(1, txnBatch(5, 0, 0, 2, "t5")),  // 1-2, opens 5's transaction
		appendCmd(1, txnBatch(6, 2, 0, 1, "t6")),  // 3, opens 6's
		appendCmd(1, plain(1, 10, "b")),           // 4
		appendCmd(1, txnBatch(5, 0, 2, 1, "t5'")), // 5, still 5's first transaction
	)
	for i, r := range res {
		if s := ResultStatus(r.Data); s != StatusOK {
			t.Fatalf("append %d: %s", i, s)
		}
	}
	if lso := h.p.LastStableOffset(); lso != 1 {
		t.Fatalf("LSO %d with 5's transaction open at 1, want 1", lso)
	}
	if r := h.update(marker(5, 0, true))[0]; ResultStatus(r.Data) != StatusOK || r.Value != 6 {
		t.Fatalf("commit marker: %s at %d, want OK at 6", ResultStatus(r.Data), r.Value)
	}
	if lso := h.p.LastStableOffset(); lso != 3 {
		t.Fatalf("LSO %d after 5 committed with 6 open at 3, want 3", lso)
	}
	if r := h.update(marker(6, 2, false))[0]; ResultStatus(r.Data) != StatusOK || r.Value != 7 {
		t.Fatalf("abort marker: %s at %d, want OK at 7", ResultStatus(r.Data), r.Value)
	}
	// Repeats and stale markers append nothing.
	for _, cmd := range [][]byte{marker(5, 0, true), marker(6, 2, false), marker(6, 1, true), marker(99, 0, true)} {
		if r := h.update(cmd)[0]; ResultStatus(r.Data) != StatusOK {
			t.Fatalf("repeated marker: %s", ResultStatus(r.Data))
		}
	}
	if hw := h.p.HighWatermark(); hw != 8 {
		t.Fatalf("HW %d, want 8: repeated markers appended", hw)
	}
	h.update(appendCmd(1, txnBatch(7, 0, 0, 1, "t7"))) // 8, left open
	h.checkDurable(func(name string, p *Partition) {
		if lso, hw := p.LastStableOffset(), p.HighWatermark(); lso != 8 || hw != 9 {
			t.Fatalf("%s: LSO %d HW %d, want 8 and 9", name, lso, hw)
		}
		for _, c := range []struct {
			from, to int64
			want     []AbortedTxn
		}{
			{0, 9, []AbortedTxn{{6, 3}}},
			{4, 5, []AbortedTxn{{6, 3}}}, // 6's records span 4
			{7, 9, []AbortedTxn{{6, 3}}}, // its marker is at 7
			{0, 3, nil},                  // ends before its first offset
			{8, 9, nil},                  // starts after its marker
		} {
			got, err := p.AbortedTxns(c.from, c.to)
			if err != nil || !slices.Equal(got, c.want) {
				t.Fatalf("%s: AbortedTxns(%d, %d) = %v %v, want %v", name, c.from, c.to, got, err, c.want)
			}
		}
		recs, err := p.Read(nil, 6, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []bool{true, false} {
			b := recs[i*batch.ControlSize : (i+1)*batch.ControlSize]
			h, err := batch.Validate(b, 1<<20)
			if err != nil {
				t.Fatalf("%s: marker %d: %v", name, i, err)
			}
			commit, ok := batch.ControlType(b)
			if !ok || commit != want || h.BaseOffset != int64(6+i) || h.ProducerID != int64(5+i) {
				t.Fatalf("%s: marker %d: commit %v ok %v header %+v", name, i, commit, ok, h)
			}
		}
	})
	// 7's transaction ends; the LSO reaches the HW.
	h.update(marker(7, 0, false))
	if lso, hw := h.p.LastStableOffset(), h.p.HighWatermark(); lso != hw || hw != 10 {
		t.Fatalf("LSO %d HW %d after every transaction ended", lso, hw)
	}
	// Retention past the aborted markers drops them from the index.
	if r := h.update(EncodeTrim(8, 8))[0]; ResultStatus(r.Data) != StatusOK {
		t.Fatalf("trim: %s", ResultStatus(r.Data))
	}
	got, err := h.p.AbortedTxns(0, 10)
	if err != nil || !slices.Equal(got, []AbortedTxn{{7, 8}}) {
		t.Fatalf("aborted after trim to 8: %v %v, want only 7's", got, err)
	}
}

func TestTxnMarkerFencesAndNeverExpiresOpen(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	h.update(appendCmd(1, txnBatch(5, 3, 0, 1, "a")))
	h.update(marker(5, 3, true))
	// A marker with a newer epoch for a producer without an open
	// transaction (an abort on timeout that never wrote here) still
	// fences the older epoch.
	h.update(marker(5, 4, false))
	if r := h.update(appendCmd(1, txnBatch(5, 3, 1, 1, "zombie")))[0]; ResultStatus(r.Data) != StatusFencedEpoch {
		t.Fatalf("old epoch after a fencing marker: %s, want fenced", ResultStatus(r.Data))
	}
	if r := h.update(appendCmd(1, txnBatch(5, 4, 0, 1, "new")))[0]; ResultStatus(r.Data) != StatusOK {
		t.Fatalf("new epoch: %s", ResultStatus(r.Data))
	}
	// An open transaction outlives producer expiry.
	const day = 24 * 60 * 60 * 1000
	h.update(EncodeAppend(nil, &AppendCommand{LeaderEpoch: 1, Timestamp: 3 * day, Batches: []AppendBatch{plain(1, 1, "later")}}))
	h.update(EncodeAppend(nil, &AppendCommand{LeaderEpoch: 1, Timestamp: 4 * day, Batches: []AppendBatch{plain(1, 1, "later")}}))
	if _, ok := h.p.producers[5]; !ok {
		t.Fatal("a producer with an open transaction expired")
	}
	if lso := h.p.LastStableOffset(); lso != 2 {
		t.Fatalf("LSO %d, want 2 (the open transaction)", lso)
	}
	// A transactional batch without a producer is malformed.
	bad := txnBatch(-1, 0, 0, 1, "x")
	bad.Meta.ProducerID = -1
	if r := h.update(appendCmd(1, bad))[0]; ResultStatus(r.Data) != StatusMalformed {
		t.Fatalf("transactional batch without a producer: %s", ResultStatus(r.Data))
	}
}

// keyedTxnAppend appends a transactional batch of recs from producer pid.
func keyedTxnAppend(pid int64, seq int32, recs ...kv) []byte {
	data := keyedBatch(recs...)
	binary.BigEndian.PutUint16(data[attributesOffset:], attrTransactional)
	binary.BigEndian.PutUint64(data[43:], uint64(pid))
	binary.BigEndian.PutUint16(data[51:], 0)
	binary.BigEndian.PutUint32(data[53:], uint32(seq))
	binary.BigEndian.PutUint32(data[17:], crc32.Checksum(data[21:], crc32.MakeTable(crc32.Castagnoli)))
	return appendCmd(1, AppendBatch{Data: data, Meta: BatchMeta{
		LastOffsetDelta: int32(len(recs) - 1), MaxTimestamp: recs[len(recs)-1].ts, ProducerID: pid, BaseSequence: seq,
	}})
}

// TestCompactionWithTransactions: a pass copies whole what follows the
// last stable offset (an open transaction may still abort: its records
// supersede nothing yet), and an aborted transaction's records supersede
// nothing (they stay, for read_committed consumers to skip, as the markers
// do).
func TestCompactionWithTransactions(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	h.update(
		keyedAppend(rec("a", "a1", 10)),          // 0
		keyedTxnAppend(5, 0, rec("a", "a2", 20)), // 1, 5's transaction, open during the first pass
		keyedAppend(rec("b", "b1", 21)),          // 2
		keyedAppend(rec("b", "b2", 22)),          // 3
	)
	runPass(t, h, 0, 1000)
	if got := readRecords(t, h.p); !slices.Equal(got, []string{"0:a=a1", "1:a=a2", "2:b=b1", "3:b=b2"}) {
		t.Fatalf("a pass with 5's transaction open at 1 judged what follows it: %q", got)
	}
	if st := h.p.Compaction(); st.DirtyFrom != 1 {
		t.Fatalf("the next pass starts at %d, want 1 (the last stable offset)", st.DirtyFrom)
	}
	h.update(
		marker(5, 0, true),                       // 4
		keyedTxnAppend(6, 0, rec("a", "a3", 30)), // 5, aborted below
		marker(6, 0, false),                      // 6
		mark(45),                                 // 7
	)
	runPass(t, h, 0, 1000)
	var offsets []string
	committed := false
	for _, r := range readRecords(t, h.p) {
		offsets = append(offsets, strings.SplitN(r, ":", 2)[0])
		committed = committed || r == "1:a=a2"
	}
	if !slices.Equal(offsets, []string{"1", "3", "4", "6", "7"}) || !committed {
		t.Fatalf("after the pass: %q; want a1 gone, a2 (committed) kept though the aborted a3 follows it, a3 gone, both markers kept", readRecords(t, h.p))
	}
	if got, err := h.p.AbortedTxns(0, 8); err != nil || !slices.Equal(got, []AbortedTxn{{6, 5}}) {
		t.Fatalf("aborted index after the pass: %v %v", got, err)
	}
	// Once delete.retention.ms has passed since it (tombstone cutoff past
	// its timestamp), the commit marker goes; the abort marker stays with
	// its aborted-index entry.
	runPass(t, h, 100, 1000)
	offsets = offsets[:0]
	for _, r := range readRecords(t, h.p) {
		offsets = append(offsets, strings.SplitN(r, ":", 2)[0])
	}
	if !slices.Equal(offsets, []string{"1", "3", "6", "7"}) {
		t.Fatalf("after a pass past the markers' delete horizon: %q; want the commit marker at 4 gone, the abort marker at 6 kept", readRecords(t, h.p))
	}
	if got, err := h.p.AbortedTxns(0, 8); err != nil || !slices.Equal(got, []AbortedTxn{{6, 5}}) {
		t.Fatalf("aborted index after the third pass: %v %v", got, err)
	}
}

// guarded is an append verified by the transaction coordinator after the
// leader had applied index guard.
func guarded(guard uint64, b AppendBatch) []byte {
	c := &AppendCommand{LeaderEpoch: 1, Timestamp: 10, Batches: []AppendBatch{b}}
	return EncodeAppendOptions(nil, c, AppendOptions{Guarded: true, TxnGuard: guard})
}

func TestTxnVerificationGuard(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	status := func(cmd []byte) Status { t.Helper(); return ResultStatus(h.update(cmd)[0].Data) }
	g := h.index
	if s := status(guarded(g, txnBatch(5, 0, 0, 1, "a"))); s != StatusOK {
		t.Fatalf("verified batch: %s", s)
	}
	if !h.p.TxnOpen(5, 0) || h.p.TxnOpen(5, 1) || h.p.TxnOpen(6, 0) {
		t.Fatal("TxnOpen does not report only producer 5's epoch 0")
	}
	g = h.index
	h.update(marker(5, 0, true))
	if h.p.TxnOpen(5, 0) {
		t.Fatal("TxnOpen after the marker")
	}
	// Verified before the marker, applied after it: it would open a
	// transaction the coordinator has ended.
	hw := h.p.HighWatermark()
	if s := status(guarded(g, txnBatch(5, 0, 1, 1, "late"))); s != StatusTxnNotVerified {
		t.Fatalf("batch verified before the marker: %s, want %s", s, StatusTxnNotVerified)
	}
	if h.p.HighWatermark() != hw || h.p.LastStableOffset() != hw {
		t.Fatalf("refused batch moved HW %d or LSO %d from %d", h.p.HighWatermark(), h.p.LastStableOffset(), hw)
	}
	// Verified after it: the next transaction opens.
	if s := status(guarded(h.index, txnBatch(5, 0, 1, 1, "next"))); s != StatusOK {
		t.Fatalf("batch verified after the marker: %s", s)
	}
	// An old guard does not matter to a batch continuing the open
	// transaction.
	if s := status(guarded(1, txnBatch(5, 0, 2, 1, "more"))); s != StatusOK {
		t.Fatalf("batch continuing the open transaction: %s", s)
	}
	// A marker for a producer the partition never saw (its transaction
	// added the partition, its batch was late) counts too.
	g = h.index
	h.update(marker(9, 0, false))
	if s := status(guarded(g, txnBatch(9, 0, 0, 1, "late"))); s != StatusTxnNotVerified {
		t.Fatalf("unknown producer's batch verified before its marker: %s", s)
	}
	if _, ok := h.p.producers[9]; ok {
		t.Fatal("a marker for an unknown producer created its producer state")
	}
	// A transactional batch behind a plain one of the same producer is
	// checked all the same.
	mixed := &AppendCommand{LeaderEpoch: 1, Timestamp: 10, Batches: []AppendBatch{idem(9, 0, 0, 1, "plain"), txnBatch(9, 0, 1, 1, "late")}}
	if s := status(EncodeAppendOptions(nil, mixed, AppendOptions{Guarded: true, TxnGuard: g})); s != StatusTxnNotVerified {
		t.Fatalf("transactional batch after a plain one, verified before the marker: %s", s)
	}
	// Without a guard (verification off, or a cluster being upgraded)
	// nothing is checked.
	if s := status(appendCmd(1, txnBatch(9, 0, 0, 1, "unguarded"))); s != StatusOK {
		t.Fatalf("unguarded batch: %s", s)
	}
	markerAt := g + 1
	h.checkDurable(func(name string, p *Partition) {
		if e := p.txnEnds[9]; e.index != markerAt {
			t.Fatalf("%s: producer 9's last marker at %d, want %d", name, e.index, markerAt)
		}
		if !p.TxnOpen(9, 0) || !p.TxnOpen(5, 0) {
			t.Fatalf("%s: open transactions lost", name)
		}
	})
	// Markers older than a producer's expiration are forgotten.
	const day = 24 * 60 * 60 * 1000
	h.update(marker(9, 0, true), marker(5, 0, true))
	h.update(EncodeAppend(nil, &AppendCommand{LeaderEpoch: 1, Timestamp: 3 * day, Batches: []AppendBatch{plain(1, 1, "later")}}))
	if len(h.p.txnEnds) != 0 {
		t.Fatalf("markers kept past expiry: %v", h.p.txnEnds)
	}
}

package raftsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// fakeBatch returns bytes shaped like a RecordBatch v2 header followed by
// payload; the state machine reads only lastOffsetDelta and rewrites
// baseOffset and partitionLeaderEpoch.
func fakeBatch(records int32, payload string) []byte {
	b := make([]byte, batchHeaderSize, batchHeaderSize+len(payload))
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(records-1))
	return append(b, payload...)
}

func appendCmd(epoch int32, batches ...AppendBatch) []byte {
	return EncodeAppend(nil, &AppendCommand{LeaderEpoch: epoch, Timestamp: 1, Batches: batches})
}

func plain(records int32, ts int64, payload string) AppendBatch {
	return AppendBatch{Data: fakeBatch(records, payload), Meta: BatchMeta{LastOffsetDelta: records - 1, MaxTimestamp: ts, ProducerID: -1}}
}

func idem(pid int64, epoch int16, seq, records int32, payload string) AppendBatch {
	return AppendBatch{Data: fakeBatch(records, payload), Meta: BatchMeta{
		LastOffsetDelta: records - 1, MaxTimestamp: 10, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq,
	}}
}

type harness struct {
	t     *testing.T
	store *Store
	p     *Partition
	index uint64
	wakes int
}

func newHarness(t *testing.T, fs vfs.FS) *harness {
	t.Helper()
	st, err := openStore("state", fs)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: st}
	h.p = NewPartition(st, 2000, func() { h.wakes++ })
	if _, err := h.p.Open(nil); err != nil {
		t.Fatal(err)
	}
	return h
}

// checkDurable runs check on the live partition, on one reopened from the
// store, and on one recovered from a snapshot of it.
func (h *harness) checkDurable(check func(name string, p *Partition)) {
	h.t.Helper()
	check("live", h.p)
	p2 := NewPartition(h.store, 2000, nil)
	if _, err := p2.Open(nil); err != nil {
		h.t.Fatal(err)
	}
	check("reopened", p2)
	ctx, _ := p2.PrepareSnapshot()
	var buf bytes.Buffer
	if err := p2.SaveSnapshot(ctx, &buf, nil); err != nil {
		h.t.Fatal(err)
	}
	other := NewPartition(h.store, 2001, nil)
	if err := other.RecoverFromSnapshot(&buf, nil); err != nil {
		h.t.Fatal(err)
	}
	check("snapshot", other)
}

// crash leaves h's store as a crash of the process would (what was not
// synced is lost) and returns its partition opened again from what fs
// kept, with the last applied index Open reports.
func (h *harness) crash(fs *vfs.MemFS) (*Partition, uint64) {
	h.t.Helper()
	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	_ = h.p.Close() // stops a compaction worker, writes nothing
	abandon(h.store)
	st, err := openStore("state", crashed)
	if err != nil {
		h.t.Fatal(err)
	}
	p := NewPartition(st, 2000, nil)
	applied, err := p.Open(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return p, applied
}

// update applies cmds as one Dragonboat batch and returns their results.
func (h *harness) update(cmds ...[]byte) []sm.Result {
	h.t.Helper()
	ents := make([]sm.Entry, len(cmds))
	for i, c := range cmds {
		h.index++
		ents[i] = sm.Entry{Index: h.index, Cmd: c}
	}
	out, err := h.p.Update(ents)
	if err != nil {
		h.t.Fatalf("Update: %v", err)
	}
	res := make([]sm.Result, len(out))
	for i := range out {
		res[i] = out[i].Result
	}
	return res
}

func TestPartitionAssignsOffsetsAndRewritesHeader(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	res := h.update(appendCmd(3, plain(5, 100, "a")), appendCmd(3, plain(1, 50, "b"), plain(2, 200, "c")))
	if res[0].Value != 0 || res[1].Value != 5 {
		t.Fatalf("base offsets = %d, %d; want 0, 5", res[0].Value, res[1].Value)
	}
	if got := h.p.HighWatermark(); got != 8 {
		t.Fatalf("HW = %d, want 8", got)
	}
	if h.wakes != 1 {
		t.Fatalf("onApply called %d times, want 1", h.wakes)
	}
	out, err := h.p.Read(nil, 6, 1<<20) // inside the second batch of the second command
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != batchHeaderSize+1 || out[len(out)-1] != 'c' {
		t.Fatalf("read from 6 returned %d bytes ending %q", len(out), out[len(out)-1:])
	}
	if base := binary.BigEndian.Uint64(out); base != 6 {
		t.Fatalf("stored baseOffset = %d, want 6", base)
	}
	if ep := binary.BigEndian.Uint32(out[offLeaderEpoch:]); ep != 3 {
		t.Fatalf("stored leader epoch = %d, want 3", ep)
	}
	all, _ := h.p.Read(nil, 0, 1)
	if !bytes.HasSuffix(all, []byte("a")) || len(all) != batchHeaderSize+1 {
		t.Fatalf("maxBytes=1 must still return exactly the first batch, got %d bytes", len(all))
	}
	if _, err := h.p.Read(nil, 9, 100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read past HW: err = %v", err)
	}
	if out, err := h.p.Read(nil, 8, 100); err != nil || len(out) != 0 {
		t.Fatalf("read at HW = %d bytes, %v; want empty", len(out), err)
	}
	// Time index: the first batch whose max timestamp reaches 150 is the one at offset 6.
	var bases []uint64
	err = h.p.BatchesFromTime(150, func(b []byte) bool { bases = append(bases, binary.BigEndian.Uint64(b)); return true })
	if err != nil || len(bases) != 1 || bases[0] != 6 {
		t.Fatalf("BatchesFromTime(150) = bases %v, %v; want [6]", bases, err)
	}
	bases = nil
	err = h.p.BatchesFromTime(60, func(b []byte) bool { bases = append(bases, binary.BigEndian.Uint64(b)); return true })
	if err != nil || len(bases) != 3 || bases[0] != 0 {
		t.Fatalf("BatchesFromTime(60) = bases %v, %v; want [0 5 6]", bases, err)
	}
	calls := 0
	_ = h.p.BatchesFromTime(201, func([]byte) bool { calls++; return true })
	if calls != 0 {
		t.Fatal("BatchesFromTime past every timestamp returned a batch")
	}
}

func TestPartitionIdempotentProducer(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	res := h.update(
		appendCmd(1, idem(7, 0, 0, 3, "x")), // ok, offsets 0-2, seqs 0-2
		appendCmd(1, idem(7, 0, 3, 2, "y")), // ok, offsets 3-4
		appendCmd(1, idem(7, 0, 0, 3, "x")), // duplicate of the first
		appendCmd(1, idem(7, 0, 9, 1, "z")), // gap
		appendCmd(1, idem(8, 0, 4, 1, "w")), // unknown producer, nonzero seq
		appendCmd(1, idem(7, 1, 0, 1, "v")), // epoch bump resets sequences: offset 5
		appendCmd(1, idem(7, 0, 5, 1, "u")), // old epoch: fenced
		appendCmd(1, idem(7, 2, 3, 1, "t")), // new epoch must start at 0
	)
	want := []struct {
		status Status
		value  uint64
	}{
		{StatusOK, 0},
		{StatusOK, 3},
		{StatusDuplicate, 0},
		{StatusOutOfOrder, 0},
		{StatusUnknownProducerID, 0},
		{StatusOK, 5},
		{StatusFencedEpoch, 0},
		{StatusOutOfOrder, 0},
	}
	for i, w := range want {
		if got := ResultStatus(res[i].Data); got != w.status || (w.status == StatusOK || w.status == StatusDuplicate) && res[i].Value != w.value {
			t.Errorf("cmd %d: status %s value %d; want %s %d", i, got, res[i].Value, w.status, w.value)
		}
	}
	if hw := h.p.HighWatermark(); hw != 6 {
		t.Fatalf("HW = %d, want 6", hw)
	}
	// Producer state survives a reopen.
	p2 := NewPartition(h.store, 2000, nil)
	if _, err := p2.Open(nil); err != nil {
		t.Fatal(err)
	}
	h.p = p2
	if res := h.update(appendCmd(1, idem(7, 1, 0, 1, "v"))); ResultStatus(res[0].Data) != StatusDuplicate || res[0].Value != 5 {
		t.Fatalf("duplicate after reopen: %s %d", ResultStatus(res[0].Data), res[0].Value)
	}
}

// A producer's state expires a day (producerExpirationMs) of append clock
// after its last append: it is unknown again (UNKNOWN_PRODUCER_ID for a
// sequence that does not start over), its state is removed from memory and
// the store, and the clock never goes back with a leader whose clock is
// behind. State stored before the clock was kept never expires until its
// producer appends.
func TestPartitionProducerExpiry(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	const day = producerExpirationMs
	at := func(ts int64, b AppendBatch) []byte {
		return EncodeAppend(nil, &AppendCommand{LeaderEpoch: 1, Timestamp: ts, Batches: []AppendBatch{b}})
	}
	t0 := int64(1_700_000_000_000)
	res := h.update(
		at(t0, idem(7, 0, 0, 1, "a")),
		at(t0, idem(8, 0, 0, 1, "b")),
		at(t0+day/2, idem(8, 0, 1, 1, "c")), // 8 stays alive
		at(t0+day, idem(7, 0, 1, 1, "d")),   // 7 exactly a day on: still known
		at(t0+day-1000, plain(1, 1, "e")),   // a leader whose clock is behind
	)
	for i, r := range res {
		if st := ResultStatus(r.Data); st != StatusOK {
			t.Fatalf("cmd %d: %s", i, st)
		}
	}
	if got, err := h.p.Producers(); err != nil || len(got) != 2 ||
		got[0] != (ProducerInfo{ID: 7, LastSequence: 1, LastTimestamp: t0 + day, TxnStartOffset: -1}) ||
		got[1] != (ProducerInfo{ID: 8, LastSequence: 1, LastTimestamp: t0 + day/2, TxnStartOffset: -1}) {
		t.Fatalf("producers: %+v %v", got, err)
	}
	// 7 last appended at t0+day: at t0+2day+1 it has expired, 8 (t0+day/2) too.
	res = h.update(
		at(t0+2*day+1, idem(7, 0, 2, 1, "f")), // its next sequence: unknown now
		at(t0+2*day+1, idem(7, 0, 0, 1, "g")), // starting over is accepted
		at(t0+2*day+1, idem(8, 0, 2, 1, "h")),
	)
	for i, want := range []Status{StatusUnknownProducerID, StatusOK, StatusUnknownProducerID} {
		if got := ResultStatus(res[i].Data); got != want {
			t.Errorf("after a day: cmd %d %s, want %s", i, got, want)
		}
	}
	// DescribeProducers' view: 7 alone, with its new sequence and time.
	if got, err := h.p.Producers(); err != nil || len(got) != 1 ||
		got[0] != (ProducerInfo{ID: 7, Epoch: 0, LastSequence: 0, LastTimestamp: t0 + 2*day + 1, TxnStartOffset: -1}) {
		t.Fatalf("producers after a day: %+v %v", got, err)
	}
	// The sweep removed 8 (its append failed, so nothing brought it back).
	if _, ok := h.p.producers[8]; ok {
		t.Error("producer 8's expired state is still in memory")
	}
	if _, closer, err := h.store.db.Get(binary.BigEndian.AppendUint64(h.p.key(keyProducer, 8), 8)); err == nil {
		closer.Close()
		t.Error("producer 8's expired state is still stored")
	}
	// The clock survives a reopen, and so does 7's new state.
	p2 := NewPartition(h.store, 2000, nil)
	if _, err := p2.Open(nil); err != nil {
		t.Fatal(err)
	}
	h.p = p2
	if p2.clock != t0+2*day+1 {
		t.Fatalf("clock after reopen %d, want %d", p2.clock, t0+2*day+1)
	}
	if res := h.update(at(t0+2*day+2, idem(7, 0, 1, 1, "i"))); ResultStatus(res[0].Data) != StatusOK {
		t.Fatalf("7's next sequence after reopen: %s", ResultStatus(res[0].Data))
	}

	// State stored before the clock was kept (no time at its end) never
	// expires until it appends again.
	old := &producerState{epoch: 0, seqs: []seqRange{{0, 0, 0}}, txnFirst: -1}
	v := old.encode()
	legacy, err := decodeProducer(v[:len(v)-16])
	if err != nil || legacy.expired(t0+100*day) {
		t.Fatalf("legacy state: %+v %v", legacy, err)
	}
}

func TestPartitionRejectsGarbageWithoutError(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	cmds := [][]byte{nil, {9}, {commandVersion, 99}, {commandVersion, cmdAppend, 1, 2}, appendCmd(1, AppendBatch{Data: []byte("short")})}
	for i, r := range h.update(cmds...) {
		if ResultStatus(r.Data) == StatusOK {
			t.Errorf("garbage command %d accepted", i)
		}
	}
	if h.p.HighWatermark() != 0 {
		t.Fatal("garbage advanced the high watermark")
	}
}

func TestPartitionLeaderEpochs(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	h.update(appendCmd(2, plain(3, 1, "a")))
	h.update(appendCmd(2, plain(1, 1, "b")), appendCmd(5, plain(2, 1, "c")))
	h.update(appendCmd(4, plain(1, 1, "d"))) // stale epoch: stays in epoch 5
	cases := []struct {
		ask       int32
		epoch     int32
		endOffset int64
	}{{1, -1, -1}, {2, 2, 4}, {3, 2, 4}, {5, 5, 7}, {9, 5, 7}}
	for _, c := range cases {
		if e, end := h.p.EndOffsetForEpoch(c.ask); e != c.epoch || end != c.endOffset {
			t.Errorf("EndOffsetForEpoch(%d) = %d, %d; want %d, %d", c.ask, e, end, c.epoch, c.endOffset)
		}
	}
}

func TestPartitionCrashLosesOnlyUnsyncedApplies(t *testing.T) {
	fs := vfs.NewCrashableMem()
	h := newHarness(t, fs)
	h.update(appendCmd(1, plain(2, 1, "a")))
	if err := h.p.Sync(); err != nil {
		t.Fatal(err)
	}
	h.update(appendCmd(1, plain(2, 1, "b"))) // applied, not synced
	p, applied := h.crash(fs)
	// Dragonboat replays entries after the returned index, so the state
	// must be exactly the synced prefix.
	if applied != 1 || p.HighWatermark() != 2 {
		t.Fatalf("after crash: applied %d HW %d; want 1, 2", applied, p.HighWatermark())
	}
}

func TestPartitionSnapshotRoundTrip(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	h.update(appendCmd(1, idem(3, 0, 0, 4, "a")), appendCmd(2, plain(1, 9, "b")))
	buf := snapshotOf(t, h.p)
	// Recover into a different replica holding stale data of its own.
	other := NewPartition(h.store, 2001, nil)
	if _, err := other.Open(nil); err != nil {
		t.Fatal(err)
	}
	wrap := &harness{t: t, store: h.store, p: other}
	wrap.update(appendCmd(1, plain(9, 1, "stale")))
	// Snapshot streams carry keys relative to the shard, so a stream from
	// shard 2000 loads into 2001.
	if err := other.RecoverFromSnapshot(bytes.NewReader(buf.Bytes()), nil); err != nil {
		t.Fatal(err)
	}
	if other.HighWatermark() != 5 {
		t.Fatalf("recovered HW = %d, want 5", other.HighWatermark())
	}
	a, _ := h.p.Read(nil, 0, 1<<20)
	b, _ := other.Read(nil, 0, 1<<20)
	if !bytes.Equal(a, b) {
		t.Fatal("recovered batches differ from the source")
	}
	// The recovered batches are in the receiver's own files, not in Pebble.
	if err := other.scan(keyBatch, func(_, v []byte) error {
		if len(v) != batchRefSize {
			return errors.New("a recovered batch is stored in Pebble")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wrap.index = 10
	if res := wrap.update(appendCmd(2, idem(3, 0, 0, 4, "a"))); ResultStatus(res[0].Data) != StatusDuplicate {
		t.Fatal("producer state not carried by the snapshot")
	}
	wrap.update(appendCmd(2, plain(1, 9, "after")))
	if got, _ := other.Read(nil, 0, 1<<20); !bytes.HasPrefix(got, a) || !bytes.HasSuffix(got, []byte("after")) {
		t.Fatal("an append after the recovery does not read back after the recovered batches")
	}
	if err := other.RecoverFromSnapshot(bytes.NewReader(buf.Bytes()[:buf.Len()/2]), nil); err == nil {
		t.Fatal("truncated snapshot accepted")
	}
}

func TestDeleteShardRemovesOnlyThatShard(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	h.update(appendCmd(1, plain(2, 1, "a")))
	other := &harness{t: t, store: h.store, p: NewPartition(h.store, 2001, nil)}
	if _, err := other.p.Open(nil); err != nil {
		t.Fatal(err)
	}
	other.update(appendCmd(1, plain(3, 1, "b")))
	if err := h.store.DeleteShard(2000); err != nil {
		t.Fatal(err)
	}
	lo, hi := shardBounds(2000)
	it, err := h.store.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	kept := 0
	for ok := it.First(); ok; ok = it.Next() {
		if bytes.Compare(it.Key(), lo) >= 0 && bytes.Compare(it.Key(), hi) < 0 {
			t.Fatalf("key %x of the deleted shard survived", it.Key())
		}
		kept++
	}
	if kept == 0 {
		t.Fatal("DeleteShard removed the other shard too")
	}
	reopened := NewPartition(h.store, 2001, nil)
	if _, err := reopened.Open(nil); err != nil || reopened.HighWatermark() != 3 {
		t.Fatalf("other shard after delete: HW %d, %v", reopened.HighWatermark(), err)
	}
	if got, err := reopened.Read(nil, 0, 1<<20); err != nil || !bytes.HasSuffix(got, []byte("b")) {
		t.Fatalf("other shard's batches after delete: %q, %v", got, err)
	}
	if _, err := h.store.fs.Stat(h.store.batchDir(2000)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the deleted shard's batch files: stat = %v, want not found", err)
	}
}

// TestDeleteShardKeepsFilesUntilSynced: a shard's batch files go only
// once the deletion of its state is durable; a crash before that brings
// the shard back whole, a crash after it brings back nothing.
func TestDeleteShardKeepsFilesUntilSynced(t *testing.T) {
	fs := vfs.NewCrashableMem()
	h := newHarness(t, fs)
	h.update(appendCmd(1, plain(2, 1, "a")), appendCmd(1, plain(1, 1, "b")))
	if err := h.p.Sync(); err != nil {
		t.Fatal(err)
	}
	// reopen opens shard 2000 on a crash clone that keeps every write
	// the FS got but none of the state store's unsynced WAL (a crash of
	// the process).
	reopen := func() *Partition {
		t.Helper()
		st, err := openStore("state", fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: rand.New(rand.NewPCG(1, 1))}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		p := NewPartition(st, 2000, nil)
		if _, err := p.Open(nil); err != nil {
			t.Fatal(err)
		}
		return p
	}
	h.store.syncingBatches.Lock() // hold the store's syncs off
	done := make(chan error, 1)
	go func() { done <- h.store.DeleteShard(2000) }()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("DeleteShard returned (%v) before the deletion was synced", err)
	default:
	}
	if _, err := fs.Stat(h.store.batchDir(2000)); err != nil {
		t.Fatalf("batch files removed before the deletion was synced: %v", err)
	}
	if p := reopen(); p.HighWatermark() != 3 {
		t.Fatalf("crash before the sync: HW %d, want 3", p.HighWatermark())
	} else if got := readAll(t, p); !bytes.HasSuffix(got, []byte("b")) {
		t.Fatalf("crash before the sync: the batches read %q", got)
	}
	h.store.syncingBatches.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(h.store.batchDir(2000)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("batch files after DeleteShard: stat = %v, want not found", err)
	}
	if p := reopen(); p.HighWatermark() != 0 {
		t.Fatalf("crash after DeleteShard: HW %d, want 0", p.HighWatermark())
	}
}

// TestUpdateSizesBatchUpFront: the Pebble batch of an Update is allocated
// once at its final size, and that size follows the keys it holds, not the
// record batches (those go to the batch files). A batch that outgrows its
// estimate copies everything into one twice as large.
func TestUpdateSizesBatchUpFront(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	// Many entries, as a follower catching up applies them, each with an
	// idempotent batch: the producer state is the largest per-entry extra.
	payload := strings.Repeat("x", 20_000)
	cmds := make([][]byte, 100)
	for i := range cmds {
		cmds[i] = appendCmd(1, idem(7, 0, int32(i), 1, payload))
	}
	// And commands of many small batches, each with its own timestamp (a
	// time-index entry each).
	many := make([]AppendBatch, 200)
	for i := range many {
		many[i] = plain(1, int64(1000+i), "y")
	}
	before := overgrownBatches.Load()
	h.update(cmds...)
	h.update(cmds[0]) // a duplicate: the smallest batch
	h.update(appendCmd(1, many...), appendCmd(1, many...))
	if n := overgrownBatches.Load() - before; n != 0 {
		t.Fatalf("%d Updates outgrew their batch", n)
	}

	// The size follows the record batches, not their bytes: 100 entries of
	// 20 kB get a batch of a few tens of kB, not the 2 MB they carry.
	ents := make([]sm.Entry, len(cmds))
	for i := range ents {
		ents[i].Cmd = appendCmd(1, plain(1, 5000, payload))
	}
	if size := updateBatchSize(ents); size > 64<<10 {
		t.Fatalf("100 one-batch entries of 20 kB: a %d-byte Pebble batch", size)
	}
}

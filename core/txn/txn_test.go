package txn

import (
	"context"
	"errors"
	"reflect"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/core/coordraft"
	"github.com/chronik-go/chronik/core/readlease"
	"github.com/chronik-go/chronik/raftsm"
)

// recordingMarkers records the markers written; fail makes writes fail.
type recordingMarkers struct {
	mu      sync.Mutex
	written []Markers
	fail    error
}

func (r *recordingMarkers) WriteMarkers(_ context.Context, m Markers) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.written = append(r.written, m)
	return nil
}

func (r *recordingMarkers) setFail(err error) {
	r.mu.Lock()
	r.fail = err
	r.mu.Unlock()
}

func (r *recordingMarkers) all() []Markers {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Markers(nil), r.written...)
}

// countingPIDs allocates 1000, 1001, …
type countingPIDs struct {
	mu   sync.Mutex
	next int64
}

func (p *countingPIDs) InitProducerID(context.Context) (int64, int16, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	return 999 + p.next, 0, nil
}

type harness struct {
	s       *Service
	raft    *coordraft.Fake
	sms     []*raftsm.Coordinator
	markers *recordingMarkers
	pids    *countingPIDs
}

func newHarness(t *testing.T, shards int, tweak func(*Config)) *harness {
	t.Helper()
	st, err := raftsm.OpenMemStore()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{markers: &recordingMarkers{}, pids: &countingPIDs{}}
	for i := range shards {
		c := raftsm.NewCoordinator(st, raftsm.FirstCoordinatorShardID+uint64(i))
		if _, err := c.Open(nil); err != nil {
			t.Fatal(err)
		}
		h.sms = append(h.sms, c)
	}
	h.raft = coordraft.NewFake(h.sms...)
	h.s = h.start(t, 1, h.markers, tweak)
	return h
}

// start runs a coordinator for node on the harness's shards.
func (h *harness) start(t *testing.T, node int32, markers MarkerWriter, tweak func(*Config)) *Service {
	t.Helper()
	cfg := Config{NodeID: node, LeaderCheckInterval: 2 * time.Millisecond, CheckInterval: 5 * time.Millisecond}
	if tweak != nil {
		tweak(&cfg)
	}
	s := newService(h.raft, h.sms, cfg, h.pids, markers, nil)
	s.Start()
	t.Cleanup(s.Close)
	if lead, _, _ := h.raft.Leader(0); lead == uint64(node) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.WaitLoaded(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (h *harness) record(t *testing.T, txnID string) *raftsm.TxnRecord {
	t.Helper()
	r, ok := h.sms[raftsm.CoordinatorShardID(txnID, len(h.sms))-raftsm.FirstCoordinatorShardID].Txn(txnID)
	if !ok {
		t.Fatalf("no record for %q", txnID)
	}
	return r
}

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func mustInit(t *testing.T, s *Service, txnID string, pid int64, epoch int16) (int64, int16) {
	t.Helper()
	id, e, err := s.InitProducerID(tctx(t), txnID, 60000, pid, epoch)
	if err != nil {
		t.Fatalf("InitProducerID(%q, %d, %d): %v", txnID, pid, epoch, err)
	}
	return id, e
}

var tp0, tp1 = TopicPartition{"t", 0}, TopicPartition{"t", 1}

func TestCommitAndAbortWriteMarkers(t *testing.T) {
	h := newHarness(t, 3, nil)
	s, ctx := h.s, tctx(t)
	pid, epoch := mustInit(t, s, "tx", -1, -1)
	if pid != 1000 || epoch != 0 {
		t.Fatalf("first init: %d/%d", pid, epoch)
	}
	if err := s.AddPartitions(ctx, "tx", pid, epoch, []TopicPartition{tp1, tp0}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddPartitions(ctx, "tx", pid, epoch, []TopicPartition{tp0}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddOffsets(ctx, "tx", pid, epoch, "g"); err != nil {
		t.Fatal(err)
	}
	if r := h.record(t, "tx"); r.State != raftsm.TxnOngoing || r.StartMs <= 0 || len(r.Partitions) != 2 {
		t.Fatalf("ongoing record %+v", r)
	}
	if _, _, err := s.EndTxn(ctx, "tx", pid, epoch, true, false); err != nil {
		t.Fatal(err)
	}
	want := []Markers{{TransactionalID: "tx", ProducerID: pid, ProducerEpoch: 0, Commit: true, Partitions: []TopicPartition{tp0, tp1}, Groups: []string{"g"}}}
	if got := h.markers.all(); !reflect.DeepEqual(got, want) {
		t.Fatalf("markers %+v, want %+v", got, want)
	}
	// EndTxn answered once the markers were in; Complete is stored after.
	eventually(t, "the record complete", func() bool {
		r := h.record(t, "tx")
		return r.State == raftsm.TxnCompleteCommit && len(r.Partitions) == 0
	})
	// A retried EndTxn with the same outcome succeeds; the other one is
	// refused; neither writes markers again.
	if _, _, err := s.EndTxn(ctx, "tx", pid, epoch, true, false); err != nil {
		t.Fatalf("retried commit: %v", err)
	}
	if _, _, err := s.EndTxn(ctx, "tx", pid, epoch, false, false); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("abort after commit: %v", err)
	}
	// The next transaction aborts.
	if err := s.AddPartitions(ctx, "tx", pid, epoch, []TopicPartition{tp1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.EndTxn(ctx, "tx", pid, epoch, false, false); err != nil {
		t.Fatal(err)
	}
	want = append(want, Markers{TransactionalID: "tx", ProducerID: pid, ProducerEpoch: 0, Partitions: []TopicPartition{tp1}})
	if got := h.markers.all(); !reflect.DeepEqual(got, want) {
		t.Fatalf("markers %+v, want %+v", got, want)
	}
	eventually(t, "the abort complete", func() bool { return h.record(t, "tx").State == raftsm.TxnCompleteAbort })
}

// TestNextTransactionBeginsBeforeComplete: once a transaction's markers
// are written, the producer's next transaction may begin from its prepared
// record (the Complete write then stands down), a retried EndTxn succeeds,
// and InitProducerId bumps the epoch instead of answering
// CONCURRENT_TRANSACTIONS.
func TestNextTransactionBeginsBeforeComplete(t *testing.T) {
	// No background check: it would finish the prepared records itself.
	h := newHarness(t, 1, func(c *Config) { c.CheckInterval = time.Hour })
	s, ctx := h.s, tctx(t)
	pid, epoch, err := s.InitProducerID(ctx, "tx", 60000, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	sh := s.shards[0]
	tp := TopicPartition{Topic: "t", Partition: 0}
	if err := s.AddPartitions(ctx, "tx", pid, epoch, []TopicPartition{tp}); err != nil {
		t.Fatal(err)
	}
	// Prepare by hand and note the markers written, as EndTxn does before
	// its Complete: the record stays prepared.
	cur := h.record(t, "tx")
	prep := clone(cur)
	prep.State = raftsm.TxnPrepareCommit
	prep, err = s.put(ctx, sh, prep, cur.Version)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.writeMarkers(ctx, sh, prep); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.EndTxn(ctx, "tx", pid, epoch, true, false); err != nil {
		t.Fatalf("retried commit with the markers written: %v", err)
	}
	if err := s.AddPartitions(ctx, "tx", pid, epoch, []TopicPartition{tp}); err != nil {
		t.Fatalf("next transaction: %v", err)
	}
	if r := h.record(t, "tx"); r.State != raftsm.TxnOngoing || r.Version != prep.Version+1 {
		t.Fatalf("next transaction's record %+v", r)
	}
	if err := s.complete(ctx, sh, prep); err != nil { // late: stands down
		t.Fatal(err)
	}
	if r := h.record(t, "tx"); r.State != raftsm.TxnOngoing {
		t.Fatalf("a late Complete overwrote the next transaction: %+v", r)
	}
	// Without the markers written, a prepared record still answers
	// CONCURRENT_TRANSACTIONS.
	cur = h.record(t, "tx")
	prep = clone(cur)
	prep.State = raftsm.TxnPrepareAbort
	if _, err := s.put(ctx, sh, prep, cur.Version); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.InitProducerID(ctx, "tx", 60000, -1, -1); !errors.Is(err, ErrConcurrentTransactions) {
		t.Fatalf("init while markers are pending: %v", err)
	}
}

func TestRequestValidation(t *testing.T) {
	h := newHarness(t, 1, nil)
	s, ctx := h.s, tctx(t)
	if _, _, err := s.InitProducerID(ctx, "tx", 0, -1, -1); !errors.Is(err, ErrInvalidTransactionTimeout) {
		t.Fatalf("zero timeout: %v", err)
	}
	if _, _, err := s.InitProducerID(ctx, "tx", int32((16 * time.Minute).Milliseconds()), -1, -1); !errors.Is(err, ErrInvalidTransactionTimeout) {
		t.Fatalf("timeout over the maximum: %v", err)
	}
	if _, _, err := s.InitProducerID(ctx, "", 1000, -1, -1); !errors.Is(err, ErrInvalidTransactionalID) {
		t.Fatalf("empty ID: %v", err)
	}
	if err := s.AddPartitions(ctx, "unknown", 1, 0, []TopicPartition{tp0}); !errors.Is(err, ErrInvalidProducerIDMapping) {
		t.Fatalf("unknown transactional ID: %v", err)
	}
	pid, epoch := mustInit(t, s, "tx", -1, -1)
	if _, _, err := s.EndTxn(ctx, "tx", pid, epoch, true, false); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("EndTxn without a transaction: %v", err)
	}
	if err := s.AddPartitions(ctx, "tx", pid+1, epoch, []TopicPartition{tp0}); !errors.Is(err, ErrInvalidProducerIDMapping) {
		t.Fatalf("wrong producer ID: %v", err)
	}
	if err := s.AddOffsets(ctx, "tx", pid, epoch+1, "g"); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("wrong epoch: %v", err)
	}
	if _, _, err := s.EndTxn(ctx, "tx", pid+1, epoch, true, false); !errors.Is(err, ErrInvalidProducerIDMapping) {
		t.Fatalf("EndTxn wrong producer ID: %v", err)
	}
	// Another broker leads the shard now.
	h.raft.SetLeader(2, 2)
	if _, _, err := s.EndTxn(ctx, "tx", pid, epoch, true, false); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("not the coordinator: %v", err)
	}
	if node, err := s.Coordinator("tx"); err != nil || node != 2 {
		t.Fatalf("Coordinator = %d, %v", node, err)
	}
	h.raft.SetLeader(0, 2)
	if _, err := s.Coordinator("tx"); !errors.Is(err, ErrCoordinatorNotAvailable) {
		t.Fatalf("no leader: %v", err)
	}
}

// InitProducerId during an Ongoing transaction aborts it under a bumped
// epoch (fencing the old producer) and asks the caller to retry.
func TestInitAbortsOngoingAndFences(t *testing.T) {
	h := newHarness(t, 1, nil)
	s, ctx := h.s, tctx(t)
	pid, epoch := mustInit(t, s, "tx", -1, -1)
	if err := s.AddPartitions(ctx, "tx", pid, epoch, []TopicPartition{tp0}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.InitProducerID(ctx, "tx", 60000, -1, -1); !errors.Is(err, ErrConcurrentTransactions) {
		t.Fatalf("init during a transaction: %v", err)
	}
	eventually(t, "the fencing abort to complete", func() bool { return h.record(t, "tx").State == raftsm.TxnCompleteAbort })
	want := []Markers{{TransactionalID: "tx", ProducerID: pid, ProducerEpoch: 1, Partitions: []TopicPartition{tp0}}}
	if got := h.markers.all(); !reflect.DeepEqual(got, want) {
		t.Fatalf("markers %+v, want %+v", got, want)
	}
	pid2, epoch2 := mustInit(t, s, "tx", -1, -1)
	if pid2 != pid || epoch2 != 2 {
		t.Fatalf("retried init: %d/%d, want %d/2", pid2, epoch2, pid)
	}
	// The old producer is fenced everywhere.
	if _, _, err := s.EndTxn(ctx, "tx", pid, epoch, true, false); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("old producer's EndTxn: %v", err)
	}
	if err := s.AddPartitions(ctx, "tx", pid, epoch, []TopicPartition{tp0}); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("old producer's AddPartitions: %v", err)
	}
	// KIP-360: an init naming the old epoch is fenced; one naming the
	// current epoch bumps it, and its retry gets the same answer.
	if _, _, err := s.InitProducerID(ctx, "tx", 60000, pid, epoch); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("init with a stale epoch: %v", err)
	}
	if _, _, err := s.InitProducerID(ctx, "tx", 60000, pid+5, epoch2); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("init with another producer ID: %v", err)
	}
	if id, e := mustInit(t, s, "tx", pid, epoch2); id != pid || e != 3 {
		t.Fatalf("bump: %d/%d", id, e)
	}
	if id, e := mustInit(t, s, "tx", pid, epoch2); id != pid || e != 3 {
		t.Fatalf("retried bump: %d/%d", id, e)
	}
}

func TestTimedOutTransactionIsAborted(t *testing.T) {
	h := newHarness(t, 1, nil)
	s, ctx := h.s, tctx(t)
	pid, epoch, err := s.InitProducerID(ctx, "tx", 30, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddOffsets(ctx, "tx", pid, epoch, "g"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the timeout abort", func() bool { return h.record(t, "tx").State == raftsm.TxnCompleteAbort })
	want := []Markers{{TransactionalID: "tx", ProducerID: pid, ProducerEpoch: 1, Groups: []string{"g"}}}
	if got := h.markers.all(); !reflect.DeepEqual(got, want) {
		t.Fatalf("markers %+v, want %+v", got, want)
	}
	if _, _, err := s.EndTxn(ctx, "tx", pid, epoch, true, false); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("zombie EndTxn: %v", err)
	}
}

// TestIdleTransactionalIDsExpire: a transactional ID without an open
// transaction goes after Expiration (transactional.id.expiration.ms) and
// starts over with a new producer ID; one with an open transaction stays.
func TestIdleTransactionalIDsExpire(t *testing.T) {
	h := newHarness(t, 1, func(c *Config) { c.Expiration = 50 * time.Millisecond })
	s, ctx := h.s, tctx(t)
	idle, _, err := s.InitProducerID(ctx, "idle", 60000, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	pid, epoch, err := s.InitProducerID(ctx, "open", 60000, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddOffsets(ctx, "open", pid, epoch, "g"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the idle ID's expiry", func() bool {
		_, ok := h.sms[0].Txn("idle")
		return !ok
	})
	if r := h.record(t, "open"); r.State != raftsm.TxnOngoing {
		t.Fatalf("the open transaction's record: %+v", r)
	}
	again, e, err := s.InitProducerID(ctx, "idle", 60000, -1, -1)
	if err != nil || again == idle || e != 0 {
		t.Fatalf("init after expiry: %d/%d %v; want a new producer ID (was %d) at epoch 0", again, e, err, idle)
	}
}

// A PrepareCommit whose markers the old leader could not write is
// finished by the next leader.
func TestPreparedEndFinishedAfterLeaderChange(t *testing.T) {
	h := newHarness(t, 2, nil)
	s, ctx := h.s, tctx(t)
	h.markers.setFail(errors.New("partition leader unreachable"))
	pid, epoch := mustInit(t, s, "tx", -1, -1)
	if err := s.AddPartitions(ctx, "tx", pid, epoch, []TopicPartition{tp0}); err != nil {
		t.Fatal(err)
	}
	// The outcome is durable, so the client hears OK.
	if _, _, err := s.EndTxn(ctx, "tx", pid, epoch, true, false); err != nil {
		t.Fatal(err)
	}
	if r := h.record(t, "tx"); r.State != raftsm.TxnPrepareCommit {
		t.Fatalf("state %s, want PrepareCommit", r.State)
	}
	if err := s.AddPartitions(ctx, "tx", pid, epoch, []TopicPartition{tp0}); !errors.Is(err, ErrConcurrentTransactions) {
		t.Fatalf("add while prepared: %v", err)
	}
	if _, _, err := s.EndTxn(ctx, "tx", pid, epoch, true, false); !errors.Is(err, ErrConcurrentTransactions) {
		t.Fatalf("retried EndTxn while prepared: %v", err)
	}
	if _, _, err := s.EndTxn(ctx, "tx", pid, epoch, false, false); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("abort while commit prepared: %v", err)
	}
	if _, _, err := s.InitProducerID(ctx, "tx", 60000, -1, -1); !errors.Is(err, ErrConcurrentTransactions) {
		t.Fatalf("init while prepared: %v", err)
	}

	other := &recordingMarkers{}
	s2 := h.start(t, 2, other, nil)
	h.raft.SetLeader(2, 2)
	eventually(t, "the new leader to finish the commit", func() bool { return h.record(t, "tx").State == raftsm.TxnCompleteCommit })
	want := []Markers{{TransactionalID: "tx", ProducerID: pid, Commit: true, Partitions: []TopicPartition{tp0}}}
	if got := other.all(); !reflect.DeepEqual(got, want) {
		t.Fatalf("markers %+v, want %+v", got, want)
	}
	if _, _, err := s2.EndTxn(ctx, "tx", pid, epoch, true, false); err != nil {
		t.Fatalf("retried EndTxn on the new coordinator: %v", err)
	}
}

// Markers that fail within EndTxn are retried in the background.
func TestMarkersRetriedInBackground(t *testing.T) {
	h := newHarness(t, 1, nil)
	s, ctx := h.s, tctx(t)
	pid, epoch := mustInit(t, s, "tx", -1, -1)
	if err := s.AddPartitions(ctx, "tx", pid, epoch, []TopicPartition{tp0}); err != nil {
		t.Fatal(err)
	}
	h.markers.setFail(errors.New("down"))
	if _, _, err := s.EndTxn(ctx, "tx", pid, epoch, false, false); err != nil {
		t.Fatal(err)
	}
	h.markers.setFail(nil)
	eventually(t, "the abort to complete", func() bool { return h.record(t, "tx").State == raftsm.TxnCompleteAbort })
	if got := h.markers.all(); len(got) != 1 || got[0].Commit {
		t.Fatalf("markers %+v", got)
	}
}

// An exhausted epoch rotates the producer ID; a retry of that init
// (KIP-360) gets the new ID again.
func TestEpochExhaustionRotatesProducerID(t *testing.T) {
	h := newHarness(t, 1, nil)
	s, ctx := h.s, tctx(t)
	pid, _ := mustInit(t, s, "tx", -1, -1)
	r := *h.record(t, "tx")
	r.ProducerEpoch = exhaustedEpoch - 1
	if res, _ := h.raft.Propose(ctx, h.sms[0].ShardID(), raftsm.EncodePutTxn(&r, r.Version)); raftsm.ResultStatus(res.Data) != raftsm.StatusOK {
		t.Fatal(raftsm.ResultStatus(res.Data))
	}
	if id, e := mustInit(t, s, "tx", -1, -1); id != pid || e != exhaustedEpoch {
		t.Fatalf("last epoch: %d/%d", id, e)
	}
	id, e := mustInit(t, s, "tx", pid, exhaustedEpoch)
	if id == pid || e != 0 {
		t.Fatalf("rotation: %d/%d", id, e)
	}
	if id2, e2 := mustInit(t, s, "tx", pid, exhaustedEpoch); id2 != id || e2 != 0 {
		t.Fatalf("retried rotation: %d/%d, want %d/0", id2, e2, id)
	}
	if id2, e2 := mustInit(t, s, "tx", -1, -1); id2 != id || e2 != 1 {
		t.Fatalf("after rotation: %d/%d", id2, e2)
	}
	// A fencing abort at the last epoch still has room (32767), and the
	// retried init then rotates.
	r = *h.record(t, "tx")
	r.ProducerEpoch, r.State, r.Partitions, r.StartMs = exhaustedEpoch, raftsm.TxnOngoing, []raftsm.TopicPartition{{Topic: "t"}}, time.Now().UnixMilli()
	if res, _ := h.raft.Propose(ctx, h.sms[0].ShardID(), raftsm.EncodePutTxn(&r, r.Version)); raftsm.ResultStatus(res.Data) != raftsm.StatusOK {
		t.Fatal(raftsm.ResultStatus(res.Data))
	}
	if _, _, err := s.InitProducerID(ctx, "tx", 60000, -1, -1); !errors.Is(err, ErrConcurrentTransactions) {
		t.Fatal(err)
	}
	eventually(t, "the fencing abort", func() bool { return h.record(t, "tx").State == raftsm.TxnCompleteAbort })
	if m := h.markers.all(); m[len(m)-1].ProducerEpoch != maxEpoch {
		t.Fatalf("fencing markers %+v", m[len(m)-1])
	}
	if id3, e3 := mustInit(t, s, "tx", -1, -1); id3 == id || e3 != 0 {
		t.Fatalf("init after the fence: %d/%d", id3, e3)
	}
}

func TestDescribeAndList(t *testing.T) {
	h := newHarness(t, 2, nil)
	s, ctx := h.s, tctx(t)
	pa, ea := mustInit(t, s, "a", -1, -1)
	pb, _ := mustInit(t, s, "b", -1, -1)
	if err := s.AddPartitions(ctx, "a", pa, ea, []TopicPartition{tp0}); err != nil {
		t.Fatal(err)
	}
	d, err := s.DescribeTransaction(ctx, "a")
	if err != nil || d.State != "Ongoing" || d.ProducerID != pa || d.TimeoutMs != 60000 || d.StartMs <= 0 || !reflect.DeepEqual(d.Partitions, []TopicPartition{tp0}) {
		t.Fatalf("describe: %+v %v", d, err)
	}
	if _, err := s.DescribeTransaction(ctx, "nope"); !errors.Is(err, ErrTransactionalIDNotFound) {
		t.Fatalf("describe unknown: %v", err)
	}
	all, err := s.ListTransactions(ctx, ListFilter{})
	if err != nil || len(all) != 2 || all[0].TransactionalID != "a" || all[1].State != "Empty" {
		t.Fatalf("list: %+v %v", all, err)
	}
	if got, _ := s.ListTransactions(ctx, ListFilter{States: []string{"ongoing"}}); len(got) != 1 || got[0].TransactionalID != "a" {
		t.Fatalf("list ongoing: %+v", got)
	}
	if got, _ := s.ListTransactions(ctx, ListFilter{ProducerIDs: []int64{pb}}); len(got) != 1 || got[0].TransactionalID != "b" {
		t.Fatalf("list by producer: %+v", got)
	}
	// "a" began its transaction just now; "b" has none open, which counts
	// as begun long ago (Kafka's rule).
	if got, _ := s.ListTransactions(ctx, ListFilter{RunningLongerThan: time.Hour}); len(got) != 1 || got[0].TransactionalID != "b" {
		t.Fatalf("list running longer than an hour: %+v", got)
	}
	if got, _ := s.ListTransactions(ctx, ListFilter{IDPattern: regexp.MustCompile("^(?:a)$")}); len(got) != 1 || got[0].TransactionalID != "a" {
		t.Fatalf("list by pattern: %+v", got)
	}
}

func TestVerifyPartition(t *testing.T) {
	h := newHarness(t, 3, nil)
	s, ctx := h.s, tctx(t)
	pid, epoch := mustInit(t, s, "tx", -1, -1)
	verify := func(txnID string, pid int64, epoch int16, tp TopicPartition, want error) {
		t.Helper()
		if err := s.VerifyPartition(ctx, txnID, pid, epoch, tp, false); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Fatalf("VerifyPartition(%q, %d, %d, %v) = %v, want %v", txnID, pid, epoch, tp, err, want)
		}
	}
	verify("tx", pid, epoch, tp0, ErrInvalidTxnState) // no transaction yet
	if err := s.AddPartitions(ctx, "tx", pid, epoch, []TopicPartition{tp0}); err != nil {
		t.Fatal(err)
	}
	verify("tx", pid, epoch, tp0, nil)
	verify("tx", pid, epoch, tp1, ErrInvalidTxnState) // never added
	verify("tx", pid, epoch+1, tp0, ErrProducerFenced)
	verify("tx", pid+1, epoch, tp0, ErrInvalidProducerIDMapping)
	verify("other", pid, epoch, tp0, ErrInvalidProducerIDMapping)
	verify("", pid, epoch, tp0, ErrInvalidTransactionalID)
	// While the end's markers are being written: retry.
	h.markers.setFail(errors.New("partition leader unreachable"))
	if _, _, err := s.EndTxn(ctx, "tx", pid, epoch, true, false); err != nil {
		t.Fatal(err)
	}
	verify("tx", pid, epoch, tp0, ErrConcurrentTransactions)
	h.markers.setFail(nil)
	eventually(t, "the commit complete", func() bool { return h.record(t, "tx").State == raftsm.TxnCompleteCommit })
	// Ended: a late produce must not open it again.
	verify("tx", pid, epoch, tp0, ErrInvalidTxnState)
}

// TestEndTxnBumpsEpoch: KIP-890 part 2. A produce adds its partition (no
// AddPartitionsToTxn), the end bumps the epoch, the markers carry the
// bumped epoch, a retry of the end gets the same answer, the old epoch is
// fenced, an abort with nothing open bumps again, and an exhausted epoch
// moves to a new producer ID whose markers still name the old one.
func TestEndTxnBumpsEpoch(t *testing.T) {
	h := newHarness(t, 3, nil)
	s, ctx := h.s, tctx(t)
	pid, epoch := mustInit(t, s, "tx", -1, -1)
	if err := s.VerifyPartition(ctx, "tx", pid, epoch, tp0, true); err != nil {
		t.Fatalf("implicit add: %v", err)
	}
	if r := h.record(t, "tx"); r.State != raftsm.TxnOngoing || !reflect.DeepEqual(r.Partitions, []raftsm.TopicPartition{{Topic: "t", Partition: 0}}) {
		t.Fatalf("after the implicit add: %+v", r)
	}
	if err := s.AddOffsets(ctx, "tx", pid, epoch, "g"); err != nil {
		t.Fatal(err)
	}
	np, ne, err := s.EndTxn(ctx, "tx", pid, epoch, true, true)
	if err != nil || np != pid || ne != epoch+1 {
		t.Fatalf("EndTxn v5 = %d/%d, %v; want %d/%d", np, ne, err, pid, epoch+1)
	}
	want := []Markers{{TransactionalID: "tx", ProducerID: pid, ProducerEpoch: epoch + 1, Commit: true, Partitions: []TopicPartition{tp0}, Groups: []string{"g"}}}
	if got := h.markers.all(); !reflect.DeepEqual(got, want) {
		t.Fatalf("markers %+v, want %+v", got, want)
	}
	// The retry (the answer lost) gets the same answer, before and after
	// the Complete is stored; the other outcome is refused.
	for range 2 {
		if p, e, err := s.EndTxn(ctx, "tx", pid, epoch, true, true); err != nil || p != pid || e != epoch+1 {
			t.Fatalf("retried EndTxn = %d/%d, %v", p, e, err)
		}
		eventually(t, "the record complete", func() bool { return h.record(t, "tx").State == raftsm.TxnCompleteCommit })
	}
	if _, _, err := s.EndTxn(ctx, "tx", pid, epoch, false, true); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("retry with the other outcome: %v", err)
	}
	// The ended epoch is fenced everywhere a late produce could go.
	if err := s.VerifyPartition(ctx, "tx", pid, epoch, tp1, true); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("late produce of the old epoch: %v", err)
	}
	// Committing with nothing open is refused; aborting bumps the epoch.
	if _, _, err := s.EndTxn(ctx, "tx", pid, ne, true, true); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("commit with nothing open: %v", err)
	}
	if p, e, err := s.EndTxn(ctx, "tx", pid, ne, false, true); err != nil || p != pid || e != ne+1 {
		t.Fatalf("abort with nothing open = %d/%d, %v", p, e, err)
	}
	if len(h.markers.all()) != 1 {
		t.Fatalf("an empty abort wrote markers: %+v", h.markers.all())
	}
	ne++
	// The next transaction, then the retry of the previous end: fenced.
	if err := s.VerifyPartition(ctx, "tx", pid, ne, tp1, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.EndTxn(ctx, "tx", pid, ne-1, false, true); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("retry of an end once the next transaction began: %v", err)
	}
	// InitProducerId after a bumping end bumps from the current epoch.
	if _, _, err := s.EndTxn(ctx, "tx", pid, ne, false, true); err != nil {
		t.Fatal(err)
	}
	if p, e := mustInit(t, s, "tx", pid, ne+1); p != pid || e != ne+2 {
		t.Fatalf("init after a bumping end: %d/%d", p, e)
	}

	// Exhaustion: the end at exhaustedEpoch-1 moves to a new producer ID.
	r := h.record(t, "tx")
	high := clone(r)
	high.ProducerEpoch = exhaustedEpoch - 1
	sh := s.shards[s.shardIndex("tx")]
	if _, err := s.put(ctx, sh, high, r.Version); err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyPartition(ctx, "tx", pid, exhaustedEpoch-1, tp0, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the previous end released", func() bool {
		np, ne, err = s.EndTxn(ctx, "tx", pid, exhaustedEpoch-1, false, true)
		return !errors.Is(err, ErrConcurrentTransactions)
	})
	if err != nil || np == pid || ne != 0 {
		t.Fatalf("EndTxn at an exhausted epoch = %d/%d, %v; want a new producer ID at 0", np, ne, err)
	}
	last := h.markers.all()[len(h.markers.all())-1]
	if last.ProducerID != pid || last.ProducerEpoch != exhaustedEpoch || last.Commit {
		t.Fatalf("markers of the rotating end: %+v", last)
	}
	if p, e, err := s.EndTxn(ctx, "tx", pid, exhaustedEpoch-1, false, true); err != nil || p != np || e != 0 {
		t.Fatalf("retry of the rotating end = %d/%d, %v", p, e, err)
	}
	if err := s.VerifyPartition(ctx, "tx", np, 0, tp0, true); err != nil {
		t.Fatalf("the new producer ID's first produce: %v", err)
	}
	if err := s.VerifyPartition(ctx, "tx", pid, exhaustedEpoch-1, tp1, true); !errors.Is(err, ErrInvalidProducerIDMapping) {
		t.Fatalf("the old producer ID after rotation: %v", err)
	}
}

// TestNewCoordinatorWaitsOutOldLeases: with read leases on, a coordinator
// that came to lead its shard answers verification and DescribeTransactions
// and writes markers only readlease.Wait after it saw itself lead, so a
// predecessor cut off from its peers can no longer answer from its lease.
func TestNewCoordinatorWaitsOutOldLeases(t *testing.T) {
	const election = 200 * time.Millisecond
	h := newHarness(t, 1, func(c *Config) { c.ElectionTimeout = election })
	s, ctx := h.s, tctx(t)
	pid, epoch := mustInit(t, s, "tx", -1, -1)
	if err := s.AddPartitions(ctx, "tx", pid, epoch, []TopicPartition{tp0}); err != nil {
		t.Fatal(err)
	}
	// A new term: this broker leads again, as after an election.
	began := time.Now()
	h.raft.SetLeader(1, 2)
	retry := func(what string, call func() error) {
		t.Helper()
		for {
			err := call()
			if !errors.Is(err, ErrLoadInProgress) {
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				return
			}
			time.Sleep(time.Millisecond) // a client's retry backoff
		}
	}
	retry("verify", func() error { return s.VerifyPartition(ctx, "tx", pid, epoch, tp0, false) })
	if took := time.Since(began); took < readlease.Wait(election) {
		t.Fatalf("verified %v into the new term, before the new coordinator's wait of %v", took, readlease.Wait(election))
	}
	retry("describe", func() error { _, err := s.DescribeTransaction(ctx, "tx"); return err })

	// Markers of a new term wait too.
	began = time.Now()
	h.raft.SetLeader(1, 3)
	retry("end", func() error { _, _, err := s.EndTxn(ctx, "tx", pid, epoch, true, false); return err })
	if took := time.Since(began); took < readlease.Wait(election) {
		t.Fatalf("markers written %v into the new term, before the new coordinator's wait of %v", took, readlease.Wait(election))
	}
	if n := len(h.markers.written); n != 1 {
		t.Fatalf("%d marker writes, want 1", n)
	}

	// ListTransactions of a new term waits too, and a coordinator that
	// cannot confirm it still leads (its barriers never come back in
	// time, as when cut off) does not list from its state.
	began = time.Now()
	h.raft.SetLeader(1, 4)
	retry("list", func() error { _, err := s.ListTransactions(ctx, ListFilter{}); return err })
	if took := time.Since(began); took < readlease.Wait(election) {
		t.Fatalf("listed %v into the new term, before the new coordinator's wait of %v", took, readlease.Wait(election))
	}
	h.raft.SetBarrierDelay(3 * election)
	time.Sleep(readlease.Serve(election)) // let the lease run out, not synchronisation
	if l, err := s.ListTransactions(ctx, ListFilter{}); !errors.Is(err, ErrCoordinatorNotAvailable) || len(l) != 0 {
		t.Fatalf("listing without a lease: %v, %v; want nothing and ErrCoordinatorNotAvailable", l, err)
	}
}

package kafka

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/chronik-go/chronik/core/group"
	"github.com/chronik-go/chronik/core/txn"
)

// txnCall is one call a fakeTxns received.
type txnCall struct {
	Op        string
	TxnID     string
	TimeoutMs int32
	PID       int64
	Epoch     int16
	TPs       []txn.TopicPartition
	Group     string
	Commit    bool
	Bump      bool
	Running   time.Duration // ListTransactions' RunningLongerThan
	Pattern   string        // and its IDPattern
}

// fakeTxns records calls and answers err (nil: success, producer 77
// epoch 3).
type fakeTxns struct {
	mu      sync.Mutex
	calls   []txnCall
	err     error
	tv      int16
	tvEpoch int64
}

func (f *fakeTxns) record(c txnCall) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	return f.err
}

func (f *fakeTxns) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

// take returns the calls so far and forgets them.
func (f *fakeTxns) take() []txnCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeTxns) Coordinator(string) (int32, error) { return 1, nil }

func (f *fakeTxns) InitProducerID(_ context.Context, id string, timeoutMs int32, pid int64, epoch int16) (int64, int16, error) {
	if err := f.record(txnCall{Op: "init", TxnID: id, TimeoutMs: timeoutMs, PID: pid, Epoch: epoch}); err != nil {
		return -1, -1, err
	}
	return 77, 3, nil
}

func (f *fakeTxns) AddPartitions(_ context.Context, id string, pid int64, epoch int16, tps []txn.TopicPartition) error {
	return f.record(txnCall{Op: "add", TxnID: id, PID: pid, Epoch: epoch, TPs: tps})
}

func (f *fakeTxns) AddOffsets(_ context.Context, id string, pid int64, epoch int16, g string) error {
	return f.record(txnCall{Op: "offsets", TxnID: id, PID: pid, Epoch: epoch, Group: g})
}

func (f *fakeTxns) AddGroup(_ context.Context, id string, pid int64, epoch int16, g string) error {
	return f.record(txnCall{Op: "group", TxnID: id, PID: pid, Epoch: epoch, Group: g})
}

// EndTxn with bump answers the next epoch, as a coordinator at
// transaction.version 2 does.
func (f *fakeTxns) EndTxn(_ context.Context, id string, pid int64, epoch int16, commit, bump bool) (int64, int16, error) {
	if err := f.record(txnCall{Op: "end", TxnID: id, PID: pid, Epoch: epoch, Commit: commit, Bump: bump}); err != nil || !bump {
		return -1, -1, err
	}
	return pid, epoch + 1, nil
}

// TransactionVersion is 2 (epoch 2), as a broker's config gives it, until
// SetTransactionVersion.
func (f *fakeTxns) TransactionVersion() (int16, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tvEpoch == 0 {
		return 2, 2
	}
	return f.tv, f.tvEpoch
}

func (f *fakeTxns) SetTransactionVersion(_ context.Context, level int16) error {
	if err := f.record(txnCall{Op: "feature", Epoch: level}); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tv, f.tvEpoch = level, max(f.tvEpoch, 2)+1
	return nil
}

func (f *fakeTxns) DescribeTransaction(_ context.Context, id string) (txn.Description, error) {
	if id == "unknown" {
		return txn.Description{}, txn.ErrTransactionalIDNotFound
	}
	return txn.Description{
		TransactionalID: id, State: "Ongoing", ProducerID: 77, ProducerEpoch: 3, TimeoutMs: 60000, StartMs: 123,
		Partitions: []txn.TopicPartition{{Topic: "a", Partition: 0}, {Topic: "a", Partition: 2}, {Topic: "b", Partition: 1}},
	}, nil
}

func (f *fakeTxns) ListTransactions(_ context.Context, lf txn.ListFilter) ([]txn.Listing, error) {
	c := txnCall{Op: "list", Group: joinStates(lf.States), Running: lf.RunningLongerThan}
	if lf.IDPattern != nil {
		c.Pattern = lf.IDPattern.String()
	}
	if err := f.record(c); err != nil {
		return nil, err
	}
	return []txn.Listing{{TransactionalID: "a", ProducerID: 1, State: "Ongoing"}, {TransactionalID: "b", ProducerID: 2, State: "Empty"}}, nil
}

func joinStates(s []string) string {
	out := ""
	for _, v := range s {
		out += v + ","
	}
	return out
}

// txnGroups records TxnCommitOffsets calls.
type txnGroups struct {
	noGroups
	mu   sync.Mutex
	reqs []group.TxnCommitRequest
	err  error
}

func (g *txnGroups) TxnCommitOffsets(_ context.Context, req group.TxnCommitRequest) []error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reqs = append(g.reqs, req)
	errs := make([]error, len(req.Offsets))
	for i := range errs {
		errs[i] = g.err
	}
	return errs
}

func addPartitionsReq(version int16, topics map[string][]int32) *kmsg.AddPartitionsToTxnRequest {
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version, req.TransactionalID, req.ProducerID, req.ProducerEpoch = version, "tx", 77, 3
	for _, name := range []string{"t", "u", "missing"} {
		if ps, ok := topics[name]; ok {
			rt := kmsg.NewAddPartitionsToTxnRequestTopic()
			rt.Topic, rt.Partitions = name, ps
			req.Topics = append(req.Topics, rt)
		}
	}
	return req
}

func addPartitionsCodes(resp *kmsg.AddPartitionsToTxnResponse) map[string][]int16 {
	out := map[string][]int16{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[t.Topic] = append(out[t.Topic], p.ErrorCode)
		}
	}
	return out
}

func TestTxnAPIs(t *testing.T) {
	txns, groups := &fakeTxns{}, &txnGroups{}
	ts := startServer(t, Config{Txns: txns, Groups: groups}, nil)
	ts.createTopic(t, "t", 2)
	ts.createTopic(t, "u", 1)
	c := ts.dial(t)

	// FindCoordinator for transactional IDs, one key and batched.
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorType, fc.CoordinatorKey = 3, 1, "tx"
	if r := c.do(fc).(*kmsg.FindCoordinatorResponse); r.ErrorCode != 0 || r.NodeID != 1 || r.Port <= 0 {
		t.Fatalf("FindCoordinator v3: %+v", r)
	}
	fc.Version, fc.CoordinatorKeys = 4, []string{"tx", ""}
	r := c.do(fc).(*kmsg.FindCoordinatorResponse)
	if len(r.Coordinators) != 2 || r.Coordinators[0].NodeID != 1 || r.Coordinators[1].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("FindCoordinator v4: %+v", r)
	}

	// InitProducerId: v0–v2 carry no producer; v3+ do; one of the two
	// alone is invalid.
	for _, tc := range []struct {
		v          int16
		pid        int64
		epoch      int16
		code       int16
		wantPID    int64
		wantCalled bool
	}{
		{v: 0, pid: 5, epoch: 5, wantPID: -1, wantCalled: true},
		{v: 3, pid: 5, epoch: 1, wantPID: 5, wantCalled: true},
		{v: 5, pid: -1, epoch: -1, wantPID: -1, wantCalled: true},
		{v: 4, pid: 5, epoch: -1, code: kerr.InvalidRequest.Code},
	} {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version, req.TransactionalID, req.TransactionTimeoutMillis = tc.v, kmsg.StringPtr("tx"), 1234
		req.ProducerID, req.ProducerEpoch = tc.pid, tc.epoch
		resp := c.do(req).(*kmsg.InitProducerIDResponse)
		calls := txns.take()
		if resp.ErrorCode != tc.code || (tc.code == 0 && (resp.ProducerID != 77 || resp.ProducerEpoch != 3)) {
			t.Fatalf("InitProducerId %+v: %+v", tc, resp)
		}
		if tc.wantCalled != (len(calls) == 1) || (tc.wantCalled && (calls[0].PID != tc.wantPID || calls[0].TimeoutMs != 1234 || calls[0].TxnID != "tx")) {
			t.Fatalf("InitProducerId %+v: calls %+v", tc, calls)
		}
	}
	// PRODUCER_FENCED is INVALID_PRODUCER_EPOCH for old versions.
	txns.setErr(txn.ErrProducerFenced)
	for v, want := range map[int16]int16{3: kerr.InvalidProducerEpoch.Code, 4: kerr.ProducerFenced.Code} {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version, req.TransactionalID, req.TransactionTimeoutMillis = v, kmsg.StringPtr("tx"), 1234
		if resp := c.do(req).(*kmsg.InitProducerIDResponse); resp.ErrorCode != want {
			t.Fatalf("fenced init v%d: %+v", v, resp)
		}
	}
	for v, want := range map[int16]int16{1: kerr.InvalidProducerEpoch.Code, 2: kerr.ProducerFenced.Code, 3: kerr.ProducerFenced.Code} {
		resp := c.do(addPartitionsReq(v, map[string][]int32{"t": {0}})).(*kmsg.AddPartitionsToTxnResponse)
		if got := addPartitionsCodes(resp); !reflect.DeepEqual(got, map[string][]int16{"t": {want}}) {
			t.Fatalf("fenced AddPartitionsToTxn v%d: %v", v, got)
		}
		end := kmsg.NewPtrEndTxnRequest()
		end.Version, end.TransactionalID = v, "tx"
		if resp := c.do(end).(*kmsg.EndTxnResponse); resp.ErrorCode != want {
			t.Fatalf("fenced EndTxn v%d: %+v", v, resp)
		}
	}
	txns.setErr(nil)
	txns.take()

	// AddPartitionsToTxn: an unknown partition fails the request before
	// the coordinator is asked.
	resp := c.do(addPartitionsReq(3, map[string][]int32{"t": {0, 5}, "missing": {0}})).(*kmsg.AddPartitionsToTxnResponse)
	want := map[string][]int16{
		"t":       {kerr.OperationNotAttempted.Code, kerr.UnknownTopicOrPartition.Code},
		"missing": {kerr.UnknownTopicOrPartition.Code},
	}
	if got := addPartitionsCodes(resp); !reflect.DeepEqual(got, want) {
		t.Fatalf("unknown partitions: %v", got)
	}
	if calls := txns.take(); len(calls) != 0 {
		t.Fatalf("coordinator asked despite unknown partitions: %+v", calls)
	}
	resp = c.do(addPartitionsReq(0, map[string][]int32{"t": {0, 1}, "u": {0}})).(*kmsg.AddPartitionsToTxnResponse)
	if got := addPartitionsCodes(resp); !reflect.DeepEqual(got, map[string][]int16{"t": {0, 0}, "u": {0}}) {
		t.Fatalf("AddPartitionsToTxn: %v", got)
	}
	wantTPs := []txn.TopicPartition{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 1}, {Topic: "u", Partition: 0}}
	if calls := txns.take(); len(calls) != 1 || !reflect.DeepEqual(calls[0].TPs, wantTPs) || calls[0].PID != 77 || calls[0].Epoch != 3 {
		t.Fatalf("AddPartitions calls %+v", calls)
	}

	// AddOffsetsToTxn and EndTxn pass through; coordinator errors map.
	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.Version, ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = 4, "tx", 77, 3, "g" // the newest: v4 is v3
	if r := c.do(ao).(*kmsg.AddOffsetsToTxnResponse); r.ErrorCode != 0 {
		t.Fatalf("AddOffsetsToTxn: %+v", r)
	}
	end := kmsg.NewPtrEndTxnRequest()
	end.Version, end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = 3, "tx", 77, 3, true
	if r := c.do(end).(*kmsg.EndTxnResponse); r.ErrorCode != 0 {
		t.Fatalf("EndTxn: %+v", r)
	}
	if calls := txns.take(); len(calls) != 2 || calls[0].Group != "g" || !calls[1].Commit {
		t.Fatalf("calls %+v", calls)
	}
	for err, code := range map[error]int16{
		txn.ErrConcurrentTransactions:    kerr.ConcurrentTransactions.Code,
		txn.ErrInvalidTxnState:           kerr.InvalidTxnState.Code,
		txn.ErrInvalidProducerIDMapping:  kerr.InvalidProducerIDMapping.Code,
		txn.ErrNotCoordinator:            kerr.NotCoordinator.Code,
		txn.ErrLoadInProgress:            kerr.CoordinatorLoadInProgress.Code,
		txn.ErrInvalidTransactionTimeout: kerr.InvalidTransactionTimeout.Code,
	} {
		txns.setErr(err)
		if r := c.do(end).(*kmsg.EndTxnResponse); r.ErrorCode != code {
			t.Fatalf("EndTxn with %v: %+v", err, r)
		}
	}
	txns.setErr(nil)
	txns.take()

	// TxnOffsetCommit goes to the group coordinator; v3 carries the member.
	toc := kmsg.NewPtrTxnOffsetCommitRequest()
	toc.Version, toc.TransactionalID, toc.Group, toc.ProducerID, toc.ProducerEpoch = 3, "tx", "g", 77, 3
	toc.Generation, toc.MemberID = 4, "m"
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = "t"
	for _, p := range []int32{0, 9} {
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = p, 42, 1
		rt.Partitions = append(rt.Partitions, rp)
	}
	toc.Topics = append(toc.Topics, rt)
	tr := c.do(toc).(*kmsg.TxnOffsetCommitResponse)
	if p := tr.Topics[0].Partitions; p[0].ErrorCode != 0 || p[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("TxnOffsetCommit: %+v", tr)
	}
	toc.Version = 0
	c.do(toc)
	groups.mu.Lock()
	got := groups.reqs
	groups.mu.Unlock()
	wantReq := group.TxnCommitRequest{
		Group: "g", ProducerID: 77, ProducerEpoch: 3, Generation: 4, MemberID: "m",
		Offsets: []group.CommitOffset{{TopicPartition: group.TopicPartition{Topic: "t", Partition: 0}, Offset: 42, LeaderEpoch: 1}},
	}
	if len(got) != 2 || !reflect.DeepEqual(got[0], wantReq) || got[1].Generation != -1 || got[1].MemberID != "" {
		t.Fatalf("TxnCommitOffsets requests %+v", got)
	}

	// KIP-890 part 2: TxnOffsetCommit v5 has the transaction's coordinator
	// add the group first, and its refusal answers every partition without
	// storing anything; EndTxn v5 answers the bumped epoch, v4 does not
	// ask for a bump.
	txns.take()
	toc.Version = 5
	if p := c.do(toc).(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions; p[0].ErrorCode != 0 {
		t.Fatalf("TxnOffsetCommit v5: %+v", p)
	}
	if calls := txns.take(); len(calls) != 1 || !reflect.DeepEqual(calls[0], txnCall{Op: "group", TxnID: "tx", PID: 77, Epoch: 3, Group: "g"}) {
		t.Fatalf("TxnOffsetCommit v5 calls %+v", calls)
	}
	for err, code := range map[error]int16{
		txn.ErrProducerFenced:           kerr.InvalidProducerEpoch.Code,
		txn.ErrConcurrentTransactions:   kerr.ConcurrentTransactions.Code,
		txn.ErrNotCoordinator:           kerr.CoordinatorNotAvailable.Code,
		txn.ErrInvalidProducerIDMapping: kerr.InvalidProducerIDMapping.Code,
	} {
		txns.setErr(err)
		p := c.do(toc).(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions
		if p[0].ErrorCode != code || p[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("TxnOffsetCommit v5 with %v: %+v", err, p)
		}
	}
	txns.setErr(nil)
	txns.take()
	groups.mu.Lock()
	stored := len(groups.reqs)
	groups.mu.Unlock()
	if stored != 3 {
		t.Fatalf("TxnCommitOffsets ran %d times; the refused v5 commits must store nothing", stored)
	}
	for v, want := range map[int16][2]int64{4: {-1, -1}, 5: {77, 4}} {
		end.Version = v
		r := c.do(end).(*kmsg.EndTxnResponse)
		if r.ErrorCode != 0 || (v >= 5 && (r.ProducerID != want[0] || int64(r.ProducerEpoch) != want[1])) {
			t.Fatalf("EndTxn v%d: %+v", v, r)
		}
		if calls := txns.take(); len(calls) != 1 || calls[0].Bump != (v >= 5) {
			t.Fatalf("EndTxn v%d calls %+v", v, calls)
		}
	}
	txns.setErr(txn.ErrProducerFenced)
	if r := c.do(end).(*kmsg.EndTxnResponse); r.ErrorCode != kerr.ProducerFenced.Code || r.ProducerID != -1 || r.ProducerEpoch != -1 {
		t.Fatalf("fenced EndTxn v5: %+v", r)
	}
	txns.setErr(nil)
	txns.take()

	// DescribeTransactions and ListTransactions.
	dt := kmsg.NewPtrDescribeTransactionsRequest()
	dt.TransactionalIDs = []string{"tx", "unknown"}
	dr := c.do(dt).(*kmsg.DescribeTransactionsResponse)
	if len(dr.TransactionStates) != 2 || dr.TransactionStates[1].ErrorCode != kerr.TransactionalIDNotFound.Code {
		t.Fatalf("DescribeTransactions: %+v", dr)
	}
	st := dr.TransactionStates[0]
	if st.ErrorCode != 0 || st.State != "Ongoing" || st.StartTimestamp != 123 || len(st.Topics) != 2 || !reflect.DeepEqual(st.Topics[0].Partitions, []int32{0, 2}) {
		t.Fatalf("DescribeTransactions tx: %+v", st)
	}
	lt := kmsg.NewPtrListTransactionsRequest()
	lt.StateFilters = []string{"ongoing", "Bogus"}
	lr := c.do(lt).(*kmsg.ListTransactionsResponse)
	if lr.ErrorCode != 0 || len(lr.TransactionStates) != 2 || !reflect.DeepEqual(lr.UnknownStateFilters, []string{"Bogus"}) {
		t.Fatalf("ListTransactions: %+v", lr)
	}
	if calls := txns.take(); len(calls) != 1 || calls[0].Group != "ongoing," || calls[0].Running != 0 || calls[0].Pattern != "" {
		t.Fatalf("list calls %+v", calls)
	}
	// v1's duration and v2's pattern reach the coordinator; a pattern
	// that does not compile is refused before.
	lt = kmsg.NewPtrListTransactionsRequest()
	lt.Version, lt.DurationFilterMillis, lt.TransactionalIDPattern = 2, 60000, kmsg.StringPtr("app-.*")
	if lr := c.do(lt).(*kmsg.ListTransactionsResponse); lr.ErrorCode != 0 {
		t.Fatalf("ListTransactions v2: %+v", lr)
	}
	if calls := txns.take(); len(calls) != 1 || calls[0].Running != time.Minute || calls[0].Pattern != "^(?:app-.*)$" {
		t.Fatalf("list calls %+v", calls)
	}
	lt.TransactionalIDPattern = kmsg.StringPtr("app-(")
	if lr := c.do(lt).(*kmsg.ListTransactionsResponse); lr.ErrorCode != kerr.InvalidRegularExpression.Code || len(txns.take()) != 0 {
		t.Fatalf("ListTransactions with a bad pattern: %+v", lr)
	}
}

// Without a transaction coordinator every transaction API answers
// COORDINATOR_NOT_AVAILABLE.
func TestTxnAPIsNil(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "t", 1)
	c := ts.dial(t)
	if got := addPartitionsCodes(c.do(addPartitionsReq(3, map[string][]int32{"t": {0}})).(*kmsg.AddPartitionsToTxnResponse)); got["t"][0] != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("AddPartitionsToTxn: %v", got)
	}
	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID = "tx"
	if r := c.do(end).(*kmsg.EndTxnResponse); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("EndTxn: %+v", r)
	}
	if r := c.do(kmsg.NewPtrListTransactionsRequest()).(*kmsg.ListTransactionsResponse); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("ListTransactions: %+v", r)
	}
}

// ACLs as Kafka: WRITE on the transactional ID, WRITE on topics for
// AddPartitionsToTxn, READ on the group for AddOffsetsToTxn and
// TxnOffsetCommit, DESCRIBE for FindCoordinator and the describe APIs.
func TestTxnACLs(t *testing.T) {
	txns := &fakeTxns{}
	acls := newMemACLs(
		allow("User:alice", kmsg.ACLResourceTypeTransactionalId, kmsg.ACLResourcePatternTypeLiteral, "tx", kmsg.ACLOperationWrite),
		allow("User:alice", kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeLiteral, "orders-1", kmsg.ACLOperationWrite),
		allow("User:bob", kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeLiteral, "orders-1", kmsg.ACLOperationWrite),
	)
	ts := aclServerWith(t, acls, false, func(c *Config) { c.Txns = txns; c.Groups = &txnGroups{} })
	newest := kgo.MaxVersions(kversion.Stable())
	aliceCl, bobCl := aclClient(t, ts, "alice", newest), aclClient(t, ts, "bob", newest)
	// Straight to the broker: kgo would first look the coordinator up.
	alice, bob := aliceCl.Broker(int(ts.b.nodeID)), bobCl.Broker(int(ts.b.nodeID))
	ctx := context.Background()

	ap := addPartitionsReq(3, nil)
	for _, topic := range []string{"orders-1", "payments"} {
		rt := kmsg.NewAddPartitionsToTxnRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{0}
		ap.Topics = append(ap.Topics, rt)
	}
	resp, err := ap.RequestWith(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if got := addPartitionsCodes(resp); !reflect.DeepEqual(got, map[string][]int16{"orders-1": {kerr.OperationNotAttempted.Code}, "payments": {kerr.TopicAuthorizationFailed.Code}}) {
		t.Fatalf("alice AddPartitionsToTxn: %v", got)
	}
	ap.Topics = ap.Topics[:1]
	if resp, _ := ap.RequestWith(ctx, alice); addPartitionsCodes(resp)["orders-1"][0] != 0 {
		t.Fatalf("alice allowed: %+v", resp)
	}
	if resp, _ := ap.RequestWith(ctx, bob); addPartitionsCodes(resp)["orders-1"][0] != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("bob: %+v", resp)
	}
	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.TransactionalID, ao.Group = "tx", "g"
	if r, _ := ao.RequestWith(ctx, alice); r == nil || r.ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("alice AddOffsetsToTxn without group READ: %+v", r)
	}
	toc := kmsg.NewPtrTxnOffsetCommitRequest()
	toc.TransactionalID, toc.Group = "tx", "g"
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic, rt.Partitions = "orders-1", []kmsg.TxnOffsetCommitRequestTopicPartition{kmsg.NewTxnOffsetCommitRequestTopicPartition()}
	toc.Topics = append(toc.Topics, rt)
	if r, _ := toc.RequestWith(ctx, bob); r == nil || r.Topics[0].Partitions[0].ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("bob TxnOffsetCommit: %+v", r)
	}
	if r, _ := toc.RequestWith(ctx, alice); r == nil || r.Topics[0].Partitions[0].ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("alice TxnOffsetCommit: %+v", r)
	}
	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID = "tx"
	if r, _ := end.RequestWith(ctx, bob); r == nil || r.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("bob EndTxn: %+v", r)
	}
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorType, fc.CoordinatorKeys = 4, 1, []string{"tx"}
	if r, _ := fc.RequestWith(ctx, bob); r == nil || r.Coordinators[0].ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("bob FindCoordinator: %+v", r)
	}
	if r, _ := fc.RequestWith(ctx, alice); r == nil || r.Coordinators[0].ErrorCode != 0 {
		t.Fatalf("alice FindCoordinator (WRITE implies DESCRIBE): %+v", r)
	}
	dt := kmsg.NewPtrDescribeTransactionsRequest()
	dt.TransactionalIDs = []string{"tx"}
	if r, _ := dt.RequestWith(ctx, bob); r == nil || r.TransactionStates[0].ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("bob DescribeTransactions: %+v", r)
	}
	if r, _ := kmsg.NewPtrListTransactionsRequest().RequestWith(ctx, bob); r == nil || len(r.TransactionStates) != 0 {
		t.Fatalf("bob ListTransactions: %+v", r)
	}
	if calls := txns.take(); len(calls) != 2 || calls[0].Op != "add" || calls[1].Op != "list" {
		t.Fatalf("coordinator calls %+v", calls)
	}
}

// stableGroups has one committed offset, of t/0, with a transaction's
// offset pending.
type stableGroups struct{ noGroups }

func (stableGroups) FetchOffsets(context.Context, string, []group.TopicPartition) ([]group.FetchedOffset, error) {
	return []group.FetchedOffset{
		{TopicPartition: group.TopicPartition{Topic: "t", Partition: 0}, Offset: 5, LeaderEpoch: 1, Unstable: true},
		{TopicPartition: group.TopicPartition{Topic: "t", Partition: 1}, Offset: 6, LeaderEpoch: 1},
	}, nil
}

// OffsetFetch with RequireStable answers UNSTABLE_OFFSET_COMMIT where a
// transaction has offsets pending; without it, the committed offset.
func TestOffsetFetchRequireStable(t *testing.T) {
	ts := startServer(t, Config{Groups: stableGroups{}}, nil)
	c := ts.dial(t)
	for _, v := range []int16{7, 8} {
		for _, stable := range []bool{false, true} {
			req := kmsg.NewPtrOffsetFetchRequest()
			req.Version, req.Group, req.RequireStable = v, "g", stable
			g := kmsg.NewOffsetFetchRequestGroup()
			g.Group = "g"
			req.Groups = append(req.Groups, g)
			resp := c.do(req).(*kmsg.OffsetFetchResponse)
			var codes []int16
			var offs []int64
			if v >= 8 {
				for _, p := range resp.Groups[0].Topics[0].Partitions {
					codes, offs = append(codes, p.ErrorCode), append(offs, p.Offset)
				}
			} else {
				for _, p := range resp.Topics[0].Partitions {
					codes, offs = append(codes, p.ErrorCode), append(offs, p.Offset)
				}
			}
			wantCodes, wantOffs := []int16{0, 0}, []int64{5, 6}
			if stable {
				wantCodes, wantOffs = []int16{kerr.UnstableOffsetCommit.Code, 0}, []int64{-1, 6}
			}
			if !reflect.DeepEqual(codes, wantCodes) || !reflect.DeepEqual(offs, wantOffs) {
				t.Fatalf("v%d stable=%v: codes %v offsets %v", v, stable, codes, offs)
			}
		}
	}
}

// TestTransactionVersionFeature: ApiVersions v3+ finalizes
// transaction.version 2 only when the coordinator says the cluster runs
// it (franz-go and the Java client then use KIP-890 part 2); older
// versions carry no features.
func TestTransactionVersionFeature(t *testing.T) {
	for _, tc := range []struct {
		name  string
		txns  Txns
		level int16
	}{{"version 2", &fakeTxns{}, 2}, {"no coordinator", nil, 0}} {
		ts := startServer(t, Config{Txns: tc.txns}, nil)
		c := ts.dial(t)
		for _, v := range []int16{2, 3} {
			req := kmsg.NewPtrApiVersionsRequest()
			req.Version, req.ClientSoftwareName, req.ClientSoftwareVersion = v, "test", "1"
			r := c.do(req).(*kmsg.ApiVersionsResponse)
			if v < 3 {
				if len(r.SupportedFeatures) != 0 || len(r.FinalizedFeatures) != 0 {
					t.Fatalf("%s v%d: features %+v", tc.name, v, r)
				}
				continue
			}
			if len(r.SupportedFeatures) != 2 || r.SupportedFeatures[1].Name != "transaction.version" || r.SupportedFeatures[1].MaxVersion != 2 ||
				r.SupportedFeatures[0].Name != "group.version" || r.SupportedFeatures[0].MaxVersion != 1 {
				t.Fatalf("%s: supported %+v", tc.name, r.SupportedFeatures)
			}
			switch {
			case tc.level == 0 && (r.FinalizedFeaturesEpoch != -1 || len(r.FinalizedFeatures) != 0):
				t.Fatalf("%s: finalized %d %+v", tc.name, r.FinalizedFeaturesEpoch, r.FinalizedFeatures)
			case tc.level > 0 && (r.FinalizedFeaturesEpoch < 0 || len(r.FinalizedFeatures) != 1 || r.FinalizedFeatures[0].MaxVersionLevel != tc.level):
				t.Fatalf("%s: finalized %d %+v", tc.name, r.FinalizedFeaturesEpoch, r.FinalizedFeatures)
			}
		}
	}
}

package kafka

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/group"
)

// blockingGroups is a coordinator whose JoinGroup waits for its context and
// which coordinates every group on a fixed node.
type blockingGroups struct {
	noGroups
	node int32

	mu     sync.Mutex
	joined []group.JoinRequest
}

func (g *blockingGroups) Coordinator(string) (int32, error) { return g.node, nil }

func (g *blockingGroups) JoinGroup(ctx context.Context, req group.JoinRequest) (group.JoinResult, error) {
	g.mu.Lock()
	g.joined = append(g.joined, req)
	g.mu.Unlock()
	<-ctx.Done()
	return group.JoinResult{}, ctx.Err()
}

func (g *blockingGroups) joins() []group.JoinRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]group.JoinRequest(nil), g.joined...)
}

func joinRequest(version int16) *kmsg.JoinGroupRequest {
	j := kmsg.NewPtrJoinGroupRequest()
	j.Version = version
	j.Group, j.ProtocolType = "g", "consumer"
	j.SessionTimeoutMillis, j.RebalanceTimeoutMillis = 10000, 20000
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", []byte{1, 2}
	j.Protocols = append(j.Protocols, p)
	return j
}

// Without a coordinator every group API answers COORDINATOR_NOT_AVAILABLE.
func TestGroupsNil(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "t", 1)
	c := ts.dial(t)

	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorKey = 3, "g"
	if r := c.do(fc).(*kmsg.FindCoordinatorResponse); r.ErrorCode != kerr.CoordinatorNotAvailable.Code || r.NodeID != -1 {
		t.Fatalf("FindCoordinator: %+v", r)
	}
	if r := c.do(joinRequest(9)).(*kmsg.JoinGroupResponse); r.ErrorCode != kerr.CoordinatorNotAvailable.Code || r.Generation != -1 {
		t.Fatalf("JoinGroup: %+v", r)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group = "g"
	if r := c.do(hb).(*kmsg.HeartbeatResponse); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("Heartbeat: %+v", r)
	}
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Version, oc.Group = 9, "g"
	ot := kmsg.NewOffsetCommitRequestTopic()
	ot.Topic = "t"
	ot.Partitions = []kmsg.OffsetCommitRequestTopicPartition{kmsg.NewOffsetCommitRequestTopicPartition(), kmsg.NewOffsetCommitRequestTopicPartition()}
	ot.Partitions[1].Partition = 5
	oc.Topics = append(oc.Topics, ot)
	r := c.do(oc).(*kmsg.OffsetCommitResponse)
	if p := r.Topics[0].Partitions; p[0].ErrorCode != kerr.CoordinatorNotAvailable.Code || p[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("OffsetCommit: %+v", p)
	}
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version, of.Group = 7, "g"
	if r := c.do(of).(*kmsg.OffsetFetchResponse); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("OffsetFetch: %+v", r)
	}
	if r := c.do(kmsg.NewPtrListGroupsRequest()).(*kmsg.ListGroupsResponse); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("ListGroups: %+v", r)
	}
}

// A JoinGroup waiting for other members ends with NOT_COORDINATOR when
// the server closes, so it never holds up shutdown.
func TestJoinGroupEndsOnClose(t *testing.T) {
	groups := &blockingGroups{node: 1}
	ts := startServer(t, Config{Groups: groups}, nil)
	c := ts.dial(t)

	for _, v := range []int16{0, 6} {
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.Version, fc.CoordinatorKey, fc.CoordinatorKeys = v, "g", []string{"g", "h"}
		r := c.do(fc).(*kmsg.FindCoordinatorResponse)
		if v == 0 && (r.ErrorCode != 0 || r.NodeID != 1 || r.Host == "" || r.Port <= 0) {
			t.Fatalf("FindCoordinator v0: %+v", r)
		}
		if v == 6 && (len(r.Coordinators) != 2 || r.Coordinators[1].Key != "h" || r.Coordinators[1].NodeID != 1) {
			t.Fatalf("FindCoordinator v6: %+v", r)
		}
	}
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorType, fc.CoordinatorKeys = 4, 1, []string{"txn"}
	if r := c.do(fc).(*kmsg.FindCoordinatorResponse); r.Coordinators[0].ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("transaction coordinator without Txns: %+v", r)
	}

	join := joinRequest(0)
	id := c.send(join)
	waitFor(t, "the JoinGroup to reach the coordinator", func() bool { return len(groups.joins()) == 1 })
	got := groups.joins()[0]
	if got.ClientID != "kafka-test" || got.ClientHost != "/127.0.0.1" || got.RequireKnownMemberID ||
		got.SessionTimeout != 10*time.Second || got.RebalanceTimeout != 10*time.Second || string(got.Protocols[0].Metadata) != "\x01\x02" {
		t.Fatalf("JoinGroup v0 as the coordinator saw it: %+v", got)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v: the JoinGroup did not end", d)
	}
	corr, resp := c.recv(join)
	if r := resp.(*kmsg.JoinGroupResponse); corr != id || r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("JoinGroup answered %d / %+v", corr, r)
	}
}

// reorderingGroups stores offsets like a coordinator whose proposals may
// commit in any order: a commit of offset hold waits until another commit
// has been stored (or, when none comes, a while), so two commits handled
// concurrently land in the reverse order.
type reorderingGroups struct {
	noGroups
	hold        int64
	otherStored chan struct{}

	mu        sync.Mutex
	committed map[group.TopicPartition]int64
}

func (g *reorderingGroups) CommitOffsets(_ context.Context, req group.CommitRequest) []error {
	held := req.Offsets[0].Offset == g.hold
	if held {
		select {
		case <-g.otherStored:
		case <-time.After(200 * time.Millisecond):
		}
	}
	g.mu.Lock()
	for _, o := range req.Offsets {
		g.committed[o.TopicPartition] = o.Offset
	}
	g.mu.Unlock()
	if !held {
		close(g.otherStored) // the test commits once more
	}
	return make([]error, len(req.Offsets))
}

func (g *reorderingGroups) FetchOffsets(_ context.Context, _ string, tps []group.TopicPartition) ([]group.FetchedOffset, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]group.FetchedOffset, len(tps))
	for i, tp := range tps {
		out[i] = group.FetchedOffset{TopicPartition: tp, Offset: -1, LeaderEpoch: -1}
		if o, ok := g.committed[tp]; ok {
			out[i].Offset = o
		}
	}
	return out, nil
}

func (g *reorderingGroups) offset(tp group.TopicPartition) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.committed[tp]
}

// Pipelined OffsetCommits take effect in request order, and an OffsetFetch
// behind them sees the last one, as in Kafka: sarama pipelines commits from
// one goroutine per partition, each with every offset marked so far, and
// an older one applied last moved the group's offset back
// (TestRebalanceSaramaRange in core/broker).
func TestOffsetRequestsInOrder(t *testing.T) {
	groups := &reorderingGroups{hold: 10, otherStored: make(chan struct{}), committed: map[group.TopicPartition]int64{}}
	ts := startServer(t, Config{Groups: groups}, nil)
	ts.createTopic(t, "t", 1)
	c := ts.dial(t)

	commit := func(offset int64) *kmsg.OffsetCommitRequest {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version, req.Group, req.Generation, req.MemberID = 6, "g", 1, "m"
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = 0, offset
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return req
	}
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Version, fetch.Group = 5, "g"
	ft := kmsg.NewOffsetFetchRequestTopic()
	ft.Topic, ft.Partitions = "t", []int32{0}
	fetch.Topics = append(fetch.Topics, ft)

	reqs := []kmsg.Request{commit(10), commit(20), fetch}
	for _, req := range reqs { // all written before any response is read
		c.send(req)
	}
	for i, req := range reqs {
		corr, resp := c.recv(req)
		if corr != int32(i) {
			t.Fatalf("response %d has correlation ID %d", i, corr)
		}
		switch r := resp.(type) {
		case *kmsg.OffsetCommitResponse:
			if code := r.Topics[0].Partitions[0].ErrorCode; code != 0 {
				t.Fatalf("commit %d: error code %d", i, code)
			}
		case *kmsg.OffsetFetchResponse:
			if got := r.Topics[0].Partitions[0].Offset; got != 20 {
				t.Errorf("OffsetFetch behind the commits returned %d, want 20", got)
			}
		}
	}
	if got := groups.offset(group.TopicPartition{Topic: "t", Partition: 0}); got != 20 {
		t.Fatalf("committed offset %d after commits of 10 then 20, want 20", got)
	}
}

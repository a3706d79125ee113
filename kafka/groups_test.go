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
	if r := c.do(fc).(*kmsg.FindCoordinatorResponse); r.Coordinators[0].ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("transaction coordinator: %+v", r)
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

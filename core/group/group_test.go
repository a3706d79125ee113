package group

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/coordraft"
	"github.com/chronik-go/chronik/raftsm"
)

// testService runs a coordinator with shards coordinator shards on a fake
// Raft where this node (1) leads, with timings scaled for tests.
func testService(t testing.TB, shards int, tweak func(*Config)) (*Service, *coordraft.Fake) {
	t.Helper()
	st, err := raftsm.OpenMemStore()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var sms []*raftsm.Coordinator
	for i := range shards {
		c := raftsm.NewCoordinator(st, raftsm.FirstCoordinatorShardID+uint64(i))
		if _, err := c.Open(nil); err != nil {
			t.Fatal(err)
		}
		sms = append(sms, c)
	}
	cfg := Config{
		NodeID: 1, InitialRebalanceDelay: 0, MinSessionTimeout: 10 * time.Millisecond,
		LeaderCheckInterval: 2 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	f := coordraft.NewFake(sms...)
	s := newService(f, sms, cfg, nil)
	s.Start()
	t.Cleanup(s.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitLoaded(ctx); err != nil {
		t.Fatal(err)
	}
	return s, f
}

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func consumerMeta(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = topics
	return m.AppendTo(nil)
}

func joinReq(group, member string) JoinRequest {
	return JoinRequest{
		Group: group, MemberID: member, ClientID: "c", ClientHost: "/127.0.0.1",
		SessionTimeout: time.Minute, RebalanceTimeout: time.Minute, ProtocolType: "consumer",
		Protocols:            []Protocol{{Name: "range", Metadata: consumerMeta("t")}, {Name: "roundrobin", Metadata: consumerMeta("t")}},
		RequireKnownMemberID: true,
	}
}

type joined struct {
	res JoinResult
	err error
}

// joinAsync starts a JoinGroup and returns its future.
func joinAsync(ctx context.Context, s *Service, req JoinRequest) <-chan joined {
	c := make(chan joined, 1)
	go func() {
		res, err := s.JoinGroup(ctx, req)
		c <- joined{res, err}
	}()
	return c
}

func await(t *testing.T, c <-chan joined) JoinResult {
	t.Helper()
	select {
	case j := <-c:
		if j.err != nil {
			t.Fatalf("join: %v", j.err)
		}
		return j.res
	case <-time.After(10 * time.Second):
		t.Fatal("join did not complete")
	}
	return JoinResult{}
}

// newMember joins a new member with the two-step (KIP-394) join and
// returns its first join response.
func newMember(t *testing.T, s *Service, req JoinRequest) <-chan joined {
	t.Helper()
	req.MemberID = ""
	res, err := s.JoinGroup(tctx(t), req)
	if !errors.Is(err, ErrMemberIDRequired) || res.MemberID == "" {
		t.Fatalf("first join: %v %+v, want MEMBER_ID_REQUIRED", err, res)
	}
	if !strings.HasPrefix(res.MemberID, req.ClientID+"-") {
		t.Fatalf("member ID %q does not start with the client ID", res.MemberID)
	}
	req.MemberID = res.MemberID
	return joinAsync(tctx(t), s, req)
}

func syncAsync(t *testing.T, s *Service, group, member string, gen int32, assign map[string][]byte) <-chan syncOutcome {
	t.Helper()
	c := make(chan syncOutcome, 1)
	go func() {
		res, err := s.SyncGroup(tctx(t), SyncRequest{Group: group, MemberID: member, Generation: gen, Assignments: assign})
		c <- syncOutcome{res, err}
	}()
	return c
}

func awaitSync(t *testing.T, c <-chan syncOutcome) SyncResult {
	t.Helper()
	select {
	case o := <-c:
		if o.err != nil {
			t.Fatalf("sync: %v", o.err)
		}
		return o.res
	case <-time.After(10 * time.Second):
		t.Fatal("sync did not complete")
	}
	return SyncResult{}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func heartbeat(s *Service, group, member string, gen int32) error {
	return s.Heartbeat(context.Background(), HeartbeatRequest{Group: group, MemberID: member, Generation: gen})
}

// stableOne brings up a group with one member and returns its ID.
func stableOne(t *testing.T, s *Service, group string) string {
	t.Helper()
	r := await(t, newMember(t, s, joinReq(group, "")))
	awaitSync(t, syncAsync(t, s, group, r.MemberID, r.Generation, map[string][]byte{r.MemberID: []byte("all")}))
	return r.MemberID
}

func TestJoinSyncHeartbeat(t *testing.T) {
	s, f := testService(t, 2, nil)
	ctx := tctx(t)
	r := await(t, newMember(t, s, joinReq("g", "")))
	if r.Generation != 1 || r.LeaderID != r.MemberID || r.Protocol != "range" || r.ProtocolType != "consumer" || len(r.Members) != 1 {
		t.Fatalf("join result %+v", r)
	}
	if err := heartbeat(s, "g", r.MemberID, 1); err != nil {
		t.Fatalf("heartbeat between join and sync: %v", err)
	}
	if errs := s.CommitOffsets(ctx, CommitRequest{Group: "g", Generation: 1, MemberID: r.MemberID, Offsets: []CommitOffset{{TopicPartition{"t", 0}, 1, -1, ""}}}); !errors.Is(errs[0], ErrRebalanceInProgress) {
		t.Fatalf("commit before sync: %v", errs[0])
	}
	res := awaitSync(t, syncAsync(t, s, "g", r.MemberID, 1, map[string][]byte{r.MemberID: []byte("p0"), "stranger": []byte("x")}))
	if string(res.Assignment) != "p0" || res.Protocol != "range" {
		t.Fatalf("sync result %+v", res)
	}
	for _, c := range []struct {
		member string
		gen    int32
		want   error
	}{
		{r.MemberID, 1, nil},
		{r.MemberID, 2, ErrIllegalGeneration},
		{"nobody", 1, ErrUnknownMember},
	} {
		if err := heartbeat(s, "g", c.member, c.gen); !errors.Is(err, c.want) {
			t.Errorf("heartbeat(%s, %d) = %v, want %v", c.member, c.gen, err, c.want)
		}
	}
	if err := heartbeat(s, "nope", r.MemberID, 1); !errors.Is(err, ErrUnknownMember) {
		t.Errorf("heartbeat of unknown group: %v", err)
	}
	d, err := s.DescribeGroup(ctx, "g")
	if err != nil || d.State != Stable || len(d.Members) != 1 || string(d.Members[0].Assignment) != "p0" || d.Members[0].ClientHost != "/127.0.0.1" {
		t.Fatalf("describe %+v %v", d, err)
	}
	rec, ok := f.Machine(raftsm.CoordinatorShardID("g", 2)).Group("g")
	if !ok || rec.Generation != 1 || len(rec.Members) != 1 || string(rec.Members[0].Assignment) != "p0" || rec.Protocol != "range" {
		t.Fatalf("stored record %+v", rec)
	}
	// A follower-less leader rejoining without changes still rebalances
	// (it is the leader), and gets the next generation.
	if r2 := await(t, joinAsync(ctx, s, joinReq("g", r.MemberID))); r2.Generation != 2 {
		t.Fatalf("rejoin: %+v", r2)
	}
	if errs := s.CommitOffsets(ctx, CommitRequest{Group: "g", Generation: 1, MemberID: r.MemberID, Offsets: []CommitOffset{{TopicPartition{"t", 0}, 1, -1, ""}}}); !errors.Is(errs[0], ErrIllegalGeneration) {
		t.Fatalf("commit with an old generation: %v", errs[0])
	}
}

func TestJoinValidation(t *testing.T) {
	s, _ := testService(t, 1, func(c *Config) { c.MinSessionTimeout = time.Second })
	ctx := tctx(t)
	bad := joinReq("g", "")
	bad.SessionTimeout = time.Millisecond
	if _, err := s.JoinGroup(ctx, bad); !errors.Is(err, ErrInvalidSessionTimeout) {
		t.Fatalf("short session: %v", err)
	}
	if _, err := s.JoinGroup(ctx, joinReq("", "")); !errors.Is(err, ErrInvalidGroupID) {
		t.Fatalf("empty group: %v", err)
	}
	noProto := joinReq("g", "")
	noProto.Protocols = nil
	if _, err := s.JoinGroup(ctx, noProto); !errors.Is(err, ErrInconsistentProtocol) {
		t.Fatalf("no protocols: %v", err)
	}
	if _, err := s.JoinGroup(ctx, joinReq("g", "ghost")); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("unknown member of unknown group: %v", err)
	}
	stableOne(t, s, "g")
	other := joinReq("g", "")
	other.ProtocolType = "connect"
	if _, err := s.JoinGroup(ctx, other); !errors.Is(err, ErrInconsistentProtocol) {
		t.Fatalf("other protocol type: %v", err)
	}
	other = joinReq("g", "")
	other.Protocols = []Protocol{{Name: "sticky"}}
	if _, err := s.JoinGroup(ctx, other); !errors.Is(err, ErrInconsistentProtocol) {
		t.Fatalf("no common protocol: %v", err)
	}
	// Before v4 a member is added without MEMBER_ID_REQUIRED.
	old := joinReq("h", "")
	old.RequireKnownMemberID = false
	if r := await(t, joinAsync(ctx, s, old)); r.MemberID == "" || r.Generation != 1 {
		t.Fatalf("v3 join: %+v", r)
	}
}

func TestRebalanceOnJoinAndLeave(t *testing.T) {
	s, _ := testService(t, 1, nil)
	ctx := tctx(t)
	a := stableOne(t, s, "g")

	bReq := joinReq("g", "")
	bReq.Protocols = []Protocol{{Name: "roundrobin", Metadata: []byte("b")}, {Name: "range", Metadata: []byte("b")}}
	bJoin := newMember(t, s, bReq)
	eventually(t, "A to see the rebalance", func() bool { return errors.Is(heartbeat(s, "g", a, 1), ErrRebalanceInProgress) })
	// Eager members commit what they processed before rejoining.
	if errs := s.CommitOffsets(ctx, CommitRequest{Group: "g", Generation: 1, MemberID: a, Offsets: []CommitOffset{{TopicPartition{"t", 0}, 10, -1, ""}}}); errs[0] != nil {
		t.Fatalf("commit during the join phase: %v", errs[0])
	}
	ra := await(t, joinAsync(ctx, s, joinReq("g", a)))
	rb := await(t, bJoin)
	if ra.Generation != 2 || rb.Generation != 2 || ra.LeaderID != a || rb.LeaderID != a || len(ra.Members) != 2 || len(rb.Members) != 0 {
		t.Fatalf("join results: %+v / %+v", ra, rb)
	}
	// Both prefer differently; range wins the tie in the leader's order.
	if ra.Protocol != "range" {
		t.Fatalf("selected %q", ra.Protocol)
	}
	for _, m := range ra.Members {
		if m.MemberID == rb.MemberID && string(m.Metadata) != "b" {
			t.Fatalf("leader sees B's metadata %q", m.Metadata)
		}
	}
	sb := syncAsync(t, s, "g", rb.MemberID, 2, nil)
	select {
	case o := <-sb:
		t.Fatalf("follower sync returned before the leader's: %+v", o)
	case <-time.After(20 * time.Millisecond):
	}
	if _, err := s.SyncGroup(ctx, SyncRequest{Group: "g", MemberID: a, Generation: 1}); !errors.Is(err, ErrIllegalGeneration) {
		t.Fatalf("sync with old generation: %v", err)
	}
	rt := "other"
	if _, err := s.SyncGroup(ctx, SyncRequest{Group: "g", MemberID: a, Generation: 2, ProtocolType: &rt}); !errors.Is(err, ErrInconsistentProtocol) {
		t.Fatalf("sync with another protocol type: %v", err)
	}
	sa := awaitSync(t, syncAsync(t, s, "g", a, 2, map[string][]byte{a: []byte("A"), rb.MemberID: []byte("B")}))
	if string(sa.Assignment) != "A" || string(awaitSync(t, sb).Assignment) != "B" {
		t.Fatal("wrong assignments")
	}

	errs, err := s.LeaveGroup(ctx, "g", []LeaveMember{{MemberID: a}, {MemberID: "ghost"}})
	if err != nil || errs[0] != nil || !errors.Is(errs[1], ErrUnknownMember) {
		t.Fatalf("leave: %v %v", errs, err)
	}
	if err := heartbeat(s, "g", rb.MemberID, 2); !errors.Is(err, ErrRebalanceInProgress) {
		t.Fatalf("heartbeat after a leave: %v", err)
	}
	if r := await(t, joinAsync(ctx, s, bReq2(bReq, rb.MemberID))); r.Generation != 3 || r.LeaderID != rb.MemberID || len(r.Members) != 1 || r.Protocol != "roundrobin" {
		t.Fatalf("after leave: %+v", r)
	}
	// The last member leaving empties the group, which is stored.
	if errs, err := s.LeaveGroup(ctx, "g", []LeaveMember{{MemberID: rb.MemberID}}); err != nil || errs[0] != nil {
		t.Fatalf("leave: %v %v", errs, err)
	}
	eventually(t, "the group to be empty", func() bool {
		d, err := s.DescribeGroup(ctx, "g")
		return err == nil && d.State == Empty && len(d.Members) == 0
	})
}

func bReq2(r JoinRequest, id string) JoinRequest {
	r.MemberID = id
	return r
}

func TestSessionTimeoutExpiresMember(t *testing.T) {
	s, _ := testService(t, 1, nil)
	ctx := tctx(t)
	short := joinReq("g", "")
	short.SessionTimeout, short.RebalanceTimeout = 150*time.Millisecond, 10*time.Second
	ra := await(t, newMember(t, s, short))
	awaitSync(t, syncAsync(t, s, "g", ra.MemberID, 1, nil))
	bJoin := newMember(t, s, short)
	// A must rejoin for B to get in; it does, then only B keeps its session.
	eventually(t, "rebalance", func() bool { return errors.Is(heartbeat(s, "g", ra.MemberID, 1), ErrRebalanceInProgress) })
	await(t, joinAsync(ctx, s, bReq2(short, ra.MemberID)))
	rb := await(t, bJoin)
	sa, sb := syncAsync(t, s, "g", ra.MemberID, 2, nil), syncAsync(t, s, "g", rb.MemberID, 2, nil)
	awaitSync(t, sa)
	awaitSync(t, sb)
	eventually(t, "A's session to expire", func() bool {
		err := heartbeat(s, "g", rb.MemberID, 2)
		return errors.Is(err, ErrRebalanceInProgress)
	})
	r := await(t, joinAsync(ctx, s, bReq2(short, rb.MemberID)))
	if r.Generation != 3 || len(r.Members) != 1 || r.Members[0].MemberID != rb.MemberID {
		t.Fatalf("after expiry: %+v", r)
	}
	if err := heartbeat(s, "g", ra.MemberID, 3); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("expired member's heartbeat: %v", err)
	}
}

func TestRebalanceTimeoutRemovesLaggards(t *testing.T) {
	s, _ := testService(t, 1, nil)
	ctx := tctx(t)
	req := joinReq("g", "")
	req.RebalanceTimeout = 200 * time.Millisecond
	ra := await(t, newMember(t, s, req))
	awaitSync(t, syncAsync(t, s, "g", ra.MemberID, 1, nil))
	bJoin := newMember(t, s, req) // A never rejoins
	start := time.Now()
	rb := await(t, bJoin)
	if time.Since(start) < 150*time.Millisecond || rb.Generation != 2 || rb.LeaderID != rb.MemberID || len(rb.Members) != 1 {
		t.Fatalf("join after rebalance timeout (%s): %+v", time.Since(start), rb)
	}
	awaitSync(t, syncAsync(t, s, "g", rb.MemberID, 2, nil))
	if err := heartbeat(s, "g", ra.MemberID, 1); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("laggard heartbeat: %v", err)
	}
	// A member that never syncs is removed after the rebalance timeout too.
	cJoin := newMember(t, s, req)
	if _, err := s.JoinGroup(ctx, bReq2(req, rb.MemberID)); err != nil {
		t.Fatal(err)
	}
	rc := await(t, cJoin)
	awaitSync(t, syncAsync(t, s, "g", rb.MemberID, rc.Generation, nil)) // C never syncs
	eventually(t, "C's removal", func() bool { return errors.Is(heartbeat(s, "g", rc.MemberID, rc.Generation), ErrUnknownMember) })
}

func TestStaticMembership(t *testing.T) {
	s, f := testService(t, 1, nil)
	ctx := tctx(t)
	req := joinReq("g", "")
	req.InstanceID = "i1"
	r1 := await(t, joinAsync(ctx, s, req)) // static members skip MEMBER_ID_REQUIRED
	awaitSync(t, syncAsync(t, s, "g", r1.MemberID, 1, map[string][]byte{r1.MemberID: []byte("mine")}))

	r2 := await(t, joinAsync(ctx, s, req)) // the same instance restarts
	if r2.MemberID == r1.MemberID || r2.Generation != 1 || r2.LeaderID != r1.MemberID || len(r2.Members) != 0 {
		t.Fatalf("static rejoin: %+v", r2)
	}
	d, _ := s.DescribeGroup(ctx, "g")
	if d.State != Stable || len(d.Members) != 1 || d.Members[0].MemberID != r2.MemberID || d.Members[0].InstanceID != "i1" {
		t.Fatalf("describe after static rejoin: %+v", d)
	}
	if res := awaitSync(t, syncAsync(t, s, "g", r2.MemberID, 1, nil)); string(res.Assignment) != "mine" {
		t.Fatalf("replaced member lost its assignment: %+v", res)
	}
	if err := s.Heartbeat(ctx, HeartbeatRequest{Group: "g", MemberID: r1.MemberID, InstanceID: "i1", Generation: 1}); !errors.Is(err, ErrFencedInstanceID) {
		t.Fatalf("old instance heartbeat: %v", err)
	}
	rec, _ := f.Machine(raftsm.FirstCoordinatorShardID).Group("g")
	if len(rec.Members) != 1 || rec.Members[0].MemberID != r2.MemberID {
		t.Fatalf("stored record not updated: %+v", rec)
	}
	errs, err := s.LeaveGroup(ctx, "g", []LeaveMember{{InstanceID: "i1"}})
	if err != nil || errs[0] != nil {
		t.Fatalf("leave by instance ID: %v %v", errs, err)
	}
}

func TestInitialRebalanceDelay(t *testing.T) {
	s, _ := testService(t, 1, func(c *Config) { c.InitialRebalanceDelay = 150 * time.Millisecond })
	a := newMember(t, s, joinReq("g", ""))
	b := newMember(t, s, joinReq("g", ""))
	ra, rb := await(t, a), await(t, b)
	if ra.Generation != 1 || rb.Generation != 1 || len(ra.Members)+len(rb.Members) != 2 {
		t.Fatalf("both members should be in the first generation: %+v %+v", ra, rb)
	}
}

func TestOffsets(t *testing.T) {
	s, _ := testService(t, 4, func(c *Config) { c.MaxMetadataBytes = 8 })
	ctx := tctx(t)
	commit := func(req CommitRequest) []error {
		t.Helper()
		return s.CommitOffsets(ctx, req)
	}
	errs := commit(CommitRequest{Group: "simple", Generation: -1, Offsets: []CommitOffset{
		{TopicPartition{"t", 0}, 5, 2, "meta"}, {TopicPartition{"t", 1}, 6, -1, "far too long"},
	}})
	if errs[0] != nil || !errors.Is(errs[1], ErrOffsetMetadataTooLarge) {
		t.Fatalf("simple commit: %v", errs)
	}
	got, err := s.FetchOffsets(ctx, "simple", []TopicPartition{{"t", 0}, {"t", 1}})
	if err != nil || got[0].Offset != 5 || got[0].LeaderEpoch != 2 || got[0].Metadata != "meta" || got[1].Offset != -1 || got[1].LeaderEpoch != -1 {
		t.Fatalf("fetch: %+v %v", got, err)
	}
	if all, _ := s.FetchOffsets(ctx, "simple", nil); len(all) != 1 {
		t.Fatalf("fetch all: %+v", all)
	}
	if none, err := s.FetchOffsets(ctx, "unknown", []TopicPartition{{"t", 0}}); err != nil || none[0].Offset != -1 {
		t.Fatalf("unknown group: %+v %v", none, err)
	}
	if errs := commit(CommitRequest{Group: "unknown", Generation: 3, MemberID: "m", Offsets: []CommitOffset{{TopicPartition{"t", 0}, 1, -1, ""}}}); !errors.Is(errs[0], ErrIllegalGeneration) {
		t.Fatalf("member commit to an unknown group: %v", errs[0])
	}
	a := stableOne(t, s, "g")
	if errs := commit(CommitRequest{Group: "g", Generation: -1, Offsets: []CommitOffset{{TopicPartition{"t", 0}, 1, -1, ""}}}); !errors.Is(errs[0], ErrUnknownMember) {
		t.Fatalf("simple commit to an active group: %v", errs[0])
	}
	if errs := commit(CommitRequest{Group: "g", Generation: 1, MemberID: a, Offsets: []CommitOffset{{TopicPartition{"t", 0}, 7, -1, ""}, {TopicPartition{"u", 0}, 8, -1, ""}}}); errs[0] != nil || errs[1] != nil {
		t.Fatalf("member commit: %v", errs)
	}
	if err := s.DeleteGroup(ctx, "g"); !errors.Is(err, ErrNonEmptyGroup) {
		t.Fatalf("delete active group: %v", err)
	}
	if err := s.DeleteGroup(ctx, "nope"); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("delete unknown group: %v", err)
	}
	// Members subscribe to "t" (joinReq's metadata): its offsets stay.
	errs, err = s.DeleteOffsets(ctx, "g", []TopicPartition{{"t", 0}, {"u", 0}})
	if err != nil || !errors.Is(errs[0], ErrGroupSubscribedToTopic) || errs[1] != nil {
		t.Fatalf("offset delete: %v %v", errs, err)
	}
	if all, _ := s.FetchOffsets(ctx, "g", nil); len(all) != 1 || all[0].Topic != "t" {
		t.Fatalf("after offset delete: %+v", all)
	}
	if _, err := s.DeleteOffsets(ctx, "nope", []TopicPartition{{"t", 0}}); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("offset delete of unknown group: %v", err)
	}
	list, err := s.ListGroups(ctx, ListFilter{})
	if err != nil || len(list) != 2 || list[0].Group != "g" || list[0].State != Stable.String() || list[1].Group != "simple" || list[1].State != Empty.String() {
		t.Fatalf("list: %+v %v", list, err)
	}
	if list, _ := s.ListGroups(ctx, ListFilter{States: []string{"empty"}}); len(list) != 1 || list[0].Group != "simple" {
		t.Fatalf("list empty: %+v", list)
	}
	if list, _ := s.ListGroups(ctx, ListFilter{Types: []string{"consumer"}}); len(list) != 0 {
		t.Fatalf("list consumer-type groups: %+v", list)
	}
	if _, err := s.LeaveGroup(ctx, "g", []LeaveMember{{MemberID: a}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "g to be empty", func() bool { d, _ := s.DescribeGroup(ctx, "g"); return d.State == Empty })
	if err := s.DeleteGroup(ctx, "g"); err != nil {
		t.Fatalf("delete empty group: %v", err)
	}
	if _, err := s.DescribeGroup(ctx, "g"); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("describe deleted group: %v", err)
	}
	if got, _ := s.FetchOffsets(ctx, "g", []TopicPartition{{"t", 0}}); got[0].Offset != -1 {
		t.Fatal("offsets survived group deletion")
	}
}

func TestOffsetExpiry(t *testing.T) {
	s, f := testService(t, 1, func(c *Config) {
		c.OffsetsRetention = 100 * time.Millisecond
		c.RetentionCheckInterval = 10 * time.Millisecond
	})
	ctx := tctx(t)
	if errs := s.CommitOffsets(ctx, CommitRequest{Group: "simple", Generation: -1, Offsets: []CommitOffset{{TopicPartition{"t", 0}, 1, -1, ""}}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	a := stableOne(t, s, "active")
	if errs := s.CommitOffsets(ctx, CommitRequest{Group: "active", Generation: 1, MemberID: a, Offsets: []CommitOffset{{TopicPartition{"t", 0}, 1, -1, ""}}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	sm := f.Machine(raftsm.FirstCoordinatorShardID)
	// The service forgets the in-memory group just after the expiry it
	// proposed is applied, so wait for both.
	var list []Listing
	eventually(t, "simple offsets to expire", func() bool {
		list, _ = s.ListGroups(ctx, ListFilter{})
		return !sm.HasGroup("simple") && !slices.ContainsFunc(list, func(l Listing) bool { return l.Group == "simple" })
	})
	if len(list) != 1 || list[0].Group != "active" || !sm.HasOffsets("active") {
		t.Fatalf("an active group's offsets expired: %+v", list)
	}
	// Keep the member alive past the retention: its offsets stay.
	for range 15 {
		if err := heartbeat(s, "active", a, 1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !sm.HasOffsets("active") {
		t.Fatal("offsets of a group with members expired")
	}
}

func TestLeadershipChange(t *testing.T) {
	s, f := testService(t, 1, nil)
	ctx := tctx(t)
	a := stableOne(t, s, "g")
	bJoin := newMember(t, s, joinReq("g", ""))
	eventually(t, "rebalance", func() bool { return errors.Is(heartbeat(s, "g", a, 1), ErrRebalanceInProgress) })

	f.SetLeader(2, 2) // another broker takes over
	select {
	case j := <-bJoin:
		if !errors.Is(j.err, ErrNotCoordinator) {
			t.Fatalf("waiting join ended with %v, want ErrNotCoordinator", j.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting join not failed on unload")
	}
	if err := heartbeat(s, "g", a, 1); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("heartbeat on a follower: %v", err)
	}
	if n, _ := s.Coordinator("g"); n != 2 {
		t.Fatalf("coordinator %d, want 2", n)
	}

	f.SetLeader(1, 3) // and we get it back: the stored generation returns
	eventually(t, "reload", func() bool { return heartbeat(s, "g", a, 1) == nil })
	d, err := s.DescribeGroup(ctx, "g")
	if err != nil || d.State != Stable || len(d.Members) != 1 || d.Members[0].MemberID != a || string(d.Members[0].Assignment) != "all" {
		t.Fatalf("after reload: %+v %v", d, err)
	}
	if r := await(t, joinAsync(ctx, s, joinReq("g", a))); r.Generation != 2 {
		t.Fatalf("generation after reload: %+v", r)
	}

	f.SetLeader(0, 3)
	if _, err := s.Coordinator("g"); !errors.Is(err, ErrCoordinatorNotAvailable) {
		t.Fatalf("no leader: %v", err)
	}
	if err := heartbeat(s, "g", a, 2); !errors.Is(err, ErrCoordinatorNotAvailable) {
		t.Fatalf("heartbeat without leader: %v", err)
	}
}

func TestStoreFailureRebalances(t *testing.T) {
	s, f := testService(t, 1, nil)
	ctx := tctx(t)
	r := await(t, newMember(t, s, joinReq("g", "")))
	f.SetFail(ErrCoordinatorNotAvailable)
	if _, err := s.SyncGroup(ctx, SyncRequest{Group: "g", MemberID: r.MemberID, Generation: 1}); !errors.Is(err, ErrCoordinatorNotAvailable) {
		t.Fatalf("sync with a failing store: %v", err)
	}
	f.SetFail(nil)
	if err := heartbeat(s, "g", r.MemberID, 1); !errors.Is(err, ErrRebalanceInProgress) {
		t.Fatalf("after a failed store: %v", err)
	}
	r2 := await(t, joinAsync(ctx, s, joinReq("g", r.MemberID)))
	awaitSync(t, syncAsync(t, s, "g", r.MemberID, r2.Generation, nil))
}

func TestCloseEndsWaiters(t *testing.T) {
	s, _ := testService(t, 1, func(c *Config) { c.InitialRebalanceDelay = time.Hour })
	j := newMember(t, s, joinReq("g", ""))
	s.Close()
	select {
	case r := <-j:
		if !errors.Is(r.err, ErrNotCoordinator) {
			t.Fatalf("join after Close: %v", r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close left a JoinGroup waiting")
	}
}

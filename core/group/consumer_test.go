package group

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/core/group/assign"
)

// testTopics is a mutable topic list for Config.Topics.
type testTopics struct {
	mu     sync.Mutex
	topics []TopicMeta
}

func (tt *testTopics) set(ts ...TopicMeta) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	tt.topics = ts
}

func (tt *testTopics) list() []TopicMeta {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return append([]TopicMeta(nil), tt.topics...)
}

var (
	topicA = TopicMeta{Name: "a", ID: [16]byte{0xa}, Partitions: 4}
	topicB = TopicMeta{Name: "b", ID: [16]byte{0xb}, Partitions: 2}
)

func consumerService(t *testing.T, tweak func(*Config)) (*Service, *testTopics) {
	t.Helper()
	tt := &testTopics{}
	tt.set(topicA, topicB)
	s, _ := testService(t, 1, func(c *Config) {
		c.Topics = tt.list
		if tweak != nil {
			tweak(c)
		}
	})
	return s, tt
}

func join(group, member string, topics ...string) ConsumerHeartbeat {
	return ConsumerHeartbeat{
		Group: group, MemberID: member, MemberEpoch: 0, RebalanceTimeout: time.Minute,
		SubscribedTopicNames: append([]string{}, topics...), Owned: assign.Partitions{}, ClientID: "c", ClientHost: "/127.0.0.1",
	}
}

func beat(group, member string, epoch int32, owned assign.Partitions) ConsumerHeartbeat {
	return ConsumerHeartbeat{Group: group, MemberID: member, MemberEpoch: epoch, RebalanceTimeout: -1, Owned: owned, ClientID: "c", ClientHost: "/127.0.0.1"}
}

func mustBeat(t *testing.T, s *Service, req ConsumerHeartbeat) ConsumerHeartbeatResult {
	t.Helper()
	res, err := s.ConsumerHeartbeat(tctx(t), req)
	if err != nil {
		t.Fatalf("heartbeat %+v: %v", req, err)
	}
	return res
}

// TestConsumerGroupHandOff: a second member gets its share only after the
// first has revoked it, and epochs and states move as in Kafka.
func TestConsumerGroupHandOff(t *testing.T) {
	s, _ := consumerService(t, nil)
	a := mustBeat(t, s, join("g", "A", "a"))
	if a.MemberEpoch != 1 || !a.Assignment.Equal(assign.Partitions{topicA.ID: {0, 1, 2, 3}}) || a.HeartbeatInterval != DefaultConsumerHeartbeatInterval {
		t.Fatalf("first member: %+v", a)
	}
	b := mustBeat(t, s, join("g", "B", "a"))
	if b.MemberEpoch != 2 || b.Assignment == nil || b.Assignment.Len() != 0 {
		t.Fatalf("second member: %+v", b)
	}
	d, err := s.DescribeConsumerGroup(tctx(t), "g")
	if err != nil || d.State != "Reconciling" || d.GroupEpoch != 2 || d.AssignmentEpoch != 2 || d.Assignor != "uniform" || len(d.Members) != 2 {
		t.Fatalf("describe while reconciling: %+v %v", d, err)
	}
	if d.Members[1].Target.Len() != 2 || d.Members[1].Assignment.Len() != 0 {
		t.Fatalf("B's target and assignment: %+v", d.Members[1])
	}
	// A still owns everything: it is told to keep two, at epoch 1.
	all := assign.Partitions{topicA.ID: {0, 1, 2, 3}}
	a = mustBeat(t, s, beat("g", "A", 1, all))
	if a.MemberEpoch != 1 || a.Assignment.Len() != 2 {
		t.Fatalf("A revoking: %+v", a)
	}
	kept := a.Assignment
	// B gets nothing while A holds them.
	if b = mustBeat(t, s, beat("g", "B", 2, assign.Partitions{})); b.Assignment.Len() != 0 {
		t.Fatalf("B got partitions A still owns: %+v", b)
	}
	// A revoked: epoch 2; B then gets the rest.
	if a = mustBeat(t, s, beat("g", "A", 1, kept)); a.MemberEpoch != 2 {
		t.Fatalf("A after revoking: %+v", a)
	}
	b = mustBeat(t, s, beat("g", "B", 2, assign.Partitions{}))
	if b.MemberEpoch != 2 || b.Assignment.Len() != 2 || b.Assignment.Intersects(kept) {
		t.Fatalf("B after A revoked: %+v (A kept %v)", b, kept)
	}
	// KIP-1251: A's commit at epoch 1, racing the heartbeat that moved it
	// to 2, is A's for the partitions it has held since epoch 1, not for
	// B's.
	commitAt := func(member string, epoch int32, p int32) error {
		return s.CommitOffsets(tctx(t), CommitRequest{
			Group: "g", MemberID: member, Generation: epoch, Version: 9,
			Offsets: []CommitOffset{{TopicPartition: TopicPartition{"a", p}, Offset: 1, LeaderEpoch: -1}},
		})[0]
	}
	keptP, bP := kept[topicA.ID][0], b.Assignment[topicA.ID][0]
	if err := commitAt("A", 1, keptP); err != nil {
		t.Fatalf("A's commit at its previous epoch for a partition it kept: %v", err)
	}
	if err := commitAt("A", 1, bP); !errors.Is(err, ErrStaleMemberEpoch) {
		t.Fatalf("A's commit at its previous epoch for B's partition: %v", err)
	}
	if err := commitAt("B", 1, bP); !errors.Is(err, ErrStaleMemberEpoch) {
		t.Fatalf("B's commit at an epoch before it got the partition: %v", err)
	}
	// A keepalive (nothing sent) that changes nothing carries no assignment.
	if r := mustBeat(t, s, beat("g", "B", 2, nil)); r.Assignment != nil {
		t.Fatalf("keepalive answered with an assignment: %+v", r)
	}
	if d, _ := s.DescribeConsumerGroup(tctx(t), "g"); d.State != "Stable" {
		t.Fatalf("state after reconciling: %s", d.State)
	}
	l, err := s.ListGroups(tctx(t), ListFilter{Types: []string{"CONSUMER"}})
	if err != nil || len(l) != 1 || l[0].Type != "consumer" || l[0].State != "Stable" || l[0].ProtocolType != "consumer" {
		t.Fatalf("list: %+v %v", l, err)
	}
	if l, _ := s.ListGroups(tctx(t), ListFilter{Types: []string{"classic"}}); len(l) != 0 {
		t.Fatalf("listed as classic: %+v", l)
	}

	// Epochs: ahead is fenced; the previous one is fine when the member
	// owns no more than it is assigned (a lost answer), else fenced.
	if _, err := s.ConsumerHeartbeat(tctx(t), beat("g", "A", 3, nil)); !errors.Is(err, ErrFencedMemberEpoch) {
		t.Fatalf("epoch ahead: %v", err)
	}
	if _, err := s.ConsumerHeartbeat(tctx(t), beat("g", "A", 1, kept)); err != nil {
		t.Fatalf("previous epoch owning its assignment: %v", err)
	}
	if _, err := s.ConsumerHeartbeat(tctx(t), beat("g", "A", 1, all)); !errors.Is(err, ErrFencedMemberEpoch) {
		t.Fatalf("previous epoch owning more: %v", err)
	}
	if _, err := s.ConsumerHeartbeat(tctx(t), beat("g", "X", 2, nil)); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("unknown member: %v", err)
	}
	if _, err := s.ConsumerHeartbeat(tctx(t), beat("nope", "A", 2, nil)); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("unknown group: %v", err)
	}

	// B leaves: A gets everything at the next epoch.
	if r := mustBeat(t, s, beat("g", "B", -1, nil)); r.MemberEpoch != -1 {
		t.Fatalf("leave: %+v", r)
	}
	a = mustBeat(t, s, beat("g", "A", 2, kept))
	if a.MemberEpoch != 3 || !a.Assignment.Equal(all) {
		t.Fatalf("A after B left: %+v", a)
	}
}

// TestConsumerGroupOffsets: commits are checked against member epochs.
func TestConsumerGroupOffsets(t *testing.T) {
	s, _ := consumerService(t, nil)
	mustBeat(t, s, join("g", "A", "a"))
	commit := func(member string, epoch int32, version int16) error {
		errs := s.CommitOffsets(tctx(t), CommitRequest{
			Group: "g", MemberID: member, Generation: epoch, Version: version,
			Offsets: []CommitOffset{{TopicPartition: TopicPartition{"a", 0}, Offset: 5, LeaderEpoch: -1}},
		})
		return errs[0]
	}
	for _, c := range []struct {
		member  string
		epoch   int32
		version int16
		want    error
	}{
		{"A", 1, 9, nil},
		{"A", 0, 9, ErrStaleMemberEpoch},
		{"A", 2, 9, ErrStaleMemberEpoch},
		{"A", 1, 8, ErrUnsupportedVersion},
		{"B", 1, 9, ErrUnknownMember},
		{"", -1, 9, ErrUnknownMember}, // an admin commit while the group has members
	} {
		if err := commit(c.member, c.epoch, c.version); !errors.Is(err, c.want) && (err != nil || c.want != nil) {
			t.Errorf("commit %+v: %v", c, err)
		}
	}
	if err := s.CheckFetchMember(tctx(t), "g", "A", 1); err != nil {
		t.Fatalf("fetch at the member's epoch: %v", err)
	}
	if err := s.CheckFetchMember(tctx(t), "g", "A", 0); !errors.Is(err, ErrStaleMemberEpoch) {
		t.Fatalf("fetch at a stale epoch: %v", err)
	}
	errs := s.TxnCommitOffsets(tctx(t), TxnCommitRequest{
		Group: "g", ProducerID: 1, MemberID: "A", Generation: 7,
		Offsets: []CommitOffset{{TopicPartition: TopicPartition{"a", 0}, Offset: 5, LeaderEpoch: -1}},
	})
	if !errors.Is(errs[0], ErrIllegalGeneration) {
		t.Fatalf("txn commit at a wrong epoch: %v", errs[0])
	}
	// Classic APIs meet a consumer group: a classic member may join it
	// (mixed_test.go), asked for its member ID first as everywhere.
	if _, err := s.JoinGroup(tctx(t), joinReq("g", "")); !errors.Is(err, ErrMemberIDRequired) {
		t.Fatalf("classic join into a consumer group: %v", err)
	}
	if _, err := s.DescribeGroup(tctx(t), "g"); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("DescribeGroups of a consumer group: %v", err)
	}
	if err := s.DeleteGroup(tctx(t), "g"); !errors.Is(err, ErrNonEmptyGroup) {
		t.Fatalf("delete with members: %v", err)
	}
	// Once empty, the group can be deleted, its offsets with it.
	mustBeat(t, s, beat("g", "A", -1, nil))
	if err := s.DeleteGroup(tctx(t), "g"); err != nil {
		t.Fatalf("delete after the last member left: %v", err)
	}
	offs, err := s.FetchOffsets(tctx(t), "g", nil)
	if err != nil || len(offs) != 0 {
		t.Fatalf("offsets after delete: %+v %v", offs, err)
	}
}

// TestConsumerGroupClassicInterplay: a classic group with members is not a
// consumer group; an empty one (offsets only) becomes one, and an empty
// consumer group becomes classic again.
func TestConsumerGroupClassicInterplay(t *testing.T) {
	s, _ := consumerService(t, nil)
	errs := s.CommitOffsets(tctx(t), CommitRequest{
		Group: "simple", Generation: -1, Version: 9,
		Offsets: []CommitOffset{{TopicPartition: TopicPartition{"a", 0}, Offset: 3, LeaderEpoch: -1}},
	})
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	if r := mustBeat(t, s, join("simple", "A", "a")); r.MemberEpoch != 1 {
		t.Fatalf("join of a group with offsets only: %+v", r)
	}
	offs, _ := s.FetchOffsets(tctx(t), "simple", []TopicPartition{{"a", 0}})
	if offs[0].Offset != 3 {
		t.Fatalf("offsets kept: %+v", offs)
	}
	mustBeat(t, s, beat("simple", "A", -1, nil))
	if l, _ := s.ListGroups(tctx(t), ListFilter{}); len(l) != 1 || l[0].State != "Empty" || l[0].Type != "consumer" {
		t.Fatalf("empty consumer group listed as %+v", l)
	}
	// A classic member takes the empty group.
	c := joinAsync(tctx(t), s, joinReq("simple", ""))
	if r := <-c; !errors.Is(r.err, ErrMemberIDRequired) {
		t.Fatalf("classic join: %+v", r)
	}
	// The group is classic now, with a member on its way in.
	if _, err := s.ConsumerHeartbeat(tctx(t), join("simple", "B", "a")); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("consumer join while a classic member is pending: %v", err)
	}
}

func TestConsumerGroupValidation(t *testing.T) {
	s, _ := consumerService(t, nil)
	str := func(v string) *string { return &v }
	for _, c := range []struct {
		name string
		edit func(*ConsumerHeartbeat)
		want error
	}{
		{"no group", func(r *ConsumerHeartbeat) { r.Group = "" }, ErrInvalidRequest},
		{"no member ID at v1", func(r *ConsumerHeartbeat) { r.MemberID = "" }, ErrInvalidRequest},
		{"empty instance ID", func(r *ConsumerHeartbeat) { r.InstanceID = str("") }, ErrInvalidRequest},
		{"empty rack", func(r *ConsumerHeartbeat) { r.RackID = str("") }, ErrInvalidRequest},
		{"epoch -3", func(r *ConsumerHeartbeat) { r.MemberEpoch = -3 }, ErrInvalidRequest},
		{"join without rebalance timeout", func(r *ConsumerHeartbeat) { r.RebalanceTimeout = -1 }, ErrInvalidRequest},
		{"join owning partitions", func(r *ConsumerHeartbeat) { r.Owned = assign.Partitions{topicA.ID: {0}} }, ErrInvalidRequest},
		{"join without owned partitions", func(r *ConsumerHeartbeat) { r.Owned = nil }, ErrInvalidRequest},
		{"join without subscription", func(r *ConsumerHeartbeat) { r.SubscribedTopicNames = nil }, ErrInvalidRequest},
		{"bad regex", func(r *ConsumerHeartbeat) { r.SubscribedTopicRegex = str("a(") }, ErrInvalidRegex},
		{"unknown assignor", func(r *ConsumerHeartbeat) { r.ServerAssignor = str("sticky") }, ErrUnsupportedAssignor},
		{"static leave without instance", func(r *ConsumerHeartbeat) { r.MemberEpoch = -2 }, ErrInvalidRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := join("v", "M", "a")
			c.edit(&req)
			if _, err := s.ConsumerHeartbeat(tctx(t), req); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// Version 0: the coordinator names the member.
	req := join("v", "", "a")
	req.GeneratedMemberID = true
	if r := mustBeat(t, s, req); r.MemberID == "" || r.MemberEpoch != 1 {
		t.Fatalf("v0 join: %+v", r)
	}
}

// TestConsumerGroupTopicsChange: new partitions of a subscribed topic, and
// a new topic matching a member's regex, raise the epoch and are assigned.
func TestConsumerGroupTopicsChange(t *testing.T) {
	s, tt := consumerService(t, nil)
	req := join("g", "A")
	req.SubscribedTopicNames = nil
	req.SubscribedTopicRegex = new(string)
	*req.SubscribedTopicRegex = "b|c.*"
	r := mustBeat(t, s, req)
	if !r.Assignment.Equal(assign.Partitions{topicB.ID: {0, 1}}) {
		t.Fatalf("regex b|c.*: %+v", r)
	}
	c := TopicMeta{Name: "cc", ID: [16]byte{0xc}, Partitions: 1}
	tt.set(topicA, TopicMeta{Name: "b", ID: topicB.ID, Partitions: 3}, c)
	r = mustBeat(t, s, beat("g", "A", r.MemberEpoch, assign.Partitions{topicB.ID: {0, 1}}))
	if r.MemberEpoch != 2 || !r.Assignment.Equal(assign.Partitions{topicB.ID: {0, 1, 2}, c.ID: {0}}) {
		t.Fatalf("after topic changes: %+v", r)
	}
	// The topic is deleted: its partitions are revoked.
	tt.set(topicA, TopicMeta{Name: "b", ID: topicB.ID, Partitions: 3})
	r = mustBeat(t, s, beat("g", "A", r.MemberEpoch, r.Assignment))
	if r.MemberEpoch != 2 || !r.Assignment.Equal(assign.Partitions{topicB.ID: {0, 1, 2}}) {
		t.Fatalf("after delete, revoking: %+v", r)
	}
	r = mustBeat(t, s, beat("g", "A", r.MemberEpoch, r.Assignment))
	if r.MemberEpoch != 3 {
		t.Fatalf("after revoking the deleted topic: %+v", r)
	}
}

// TestConsumerGroupTimeouts: a member that stops heartbeating, and one
// that does not revoke within its rebalance timeout, are removed.
func TestConsumerGroupTimeouts(t *testing.T) {
	s, _ := consumerService(t, func(c *Config) { c.ConsumerSessionTimeout = 300 * time.Millisecond })
	mustBeat(t, s, join("g", "A", "a"))
	b := join("g", "B", "a")
	mustBeat(t, s, b)
	// A keeps heartbeating but never revokes (rebalance timeout 100 ms).
	all := assign.Partitions{topicA.ID: {0, 1, 2, 3}}
	slow := beat("g", "A", 1, all)
	slow.RebalanceTimeout = 100 * time.Millisecond
	mustBeat(t, s, slow)
	eventually(t, "A fenced for not revoking", func() bool {
		_, err := s.ConsumerHeartbeat(tctx(t), beat("g", "A", 1, all))
		_, _ = s.ConsumerHeartbeat(tctx(t), beat("g", "B", 2, assign.Partitions{}))
		return errors.Is(err, ErrUnknownMember)
	})
	r := mustBeat(t, s, beat("g", "B", 3, assign.Partitions{}))
	if !r.Assignment.Equal(all) {
		t.Fatalf("B after A was fenced: %+v", r)
	}
	// B goes quiet: its session expires and the group is empty.
	eventually(t, "B's session expired", func() bool {
		d, err := s.DescribeConsumerGroup(tctx(t), "g")
		return err == nil && d.State == "Empty"
	})
}

// TestConsumerGroupStaticMembers: a static member leaving with epoch -2
// keeps its partitions for its instance's next member; its instance cannot
// be taken while held.
func TestConsumerGroupStaticMembers(t *testing.T) {
	s, _ := consumerService(t, nil)
	str := func(v string) *string { return &v }
	a := join("g", "A1", "a")
	a.InstanceID = str("i1")
	ra := mustBeat(t, s, a)
	other := join("g", "A2", "a")
	other.InstanceID = str("i1")
	if _, err := s.ConsumerHeartbeat(tctx(t), other); !errors.Is(err, ErrUnreleasedInstanceID) {
		t.Fatalf("instance held: %v", err)
	}
	leave := beat("g", "A1", -2, nil)
	leave.InstanceID = str("i1")
	if r := mustBeat(t, s, leave); r.MemberEpoch != -2 {
		t.Fatalf("static leave: %+v", r)
	}
	if d, _ := s.DescribeConsumerGroup(tctx(t), "g"); len(d.Members) != 1 || d.Members[0].MemberEpoch != -2 || d.Members[0].Assignment.Len() != 4 {
		t.Fatalf("after static leave: %+v", d)
	}
	r := mustBeat(t, s, other)
	if r.MemberEpoch != ra.MemberEpoch || !r.Assignment.Equal(ra.Assignment) {
		t.Fatalf("rejoin of the instance: %+v, first join %+v", r, ra)
	}
	stale := beat("g", "A1", 1, nil)
	stale.InstanceID = str("i1")
	if _, err := s.ConsumerHeartbeat(tctx(t), stale); !errors.Is(err, ErrFencedInstanceID) {
		t.Fatalf("old member of the instance: %v", err)
	}
}

// TestConsumerGroupReload: a new coordinator term carries on with the
// stored epochs and assignments.
func TestConsumerGroupReload(t *testing.T) {
	tt := &testTopics{}
	tt.set(topicA)
	s, f := testService(t, 1, func(c *Config) { c.Topics = tt.list })
	mustBeat(t, s, join("g", "A", "a"))
	mustBeat(t, s, join("g", "B", "a"))
	all := assign.Partitions{topicA.ID: {0, 1, 2, 3}}
	ra := mustBeat(t, s, beat("g", "A", 1, all)) // revoking, at epoch 1
	f.SetLeader(2, 2)
	eventually(t, "unload", func() bool {
		_, err := s.ConsumerHeartbeat(tctx(t), beat("g", "A", 1, all))
		return errors.Is(err, ErrNotCoordinator)
	})
	f.SetLeader(1, 3)
	var r ConsumerHeartbeatResult
	eventually(t, "reload", func() bool {
		var err error
		r, err = s.ConsumerHeartbeat(tctx(t), beat("g", "A", 1, ra.Assignment))
		return err == nil
	})
	if r.MemberEpoch != 2 || !r.Assignment.Equal(ra.Assignment) {
		t.Fatalf("A after reload: %+v (before %+v)", r, ra)
	}
	// The assignment epochs came back too (KIP-1251).
	if err := s.CommitOffsets(tctx(t), CommitRequest{
		Group: "g", MemberID: "A", Generation: 1, Version: 9,
		Offsets: []CommitOffset{{TopicPartition: TopicPartition{"a", r.Assignment[topicA.ID][0]}, Offset: 1, LeaderEpoch: -1}},
	})[0]; err != nil {
		t.Fatalf("commit at the previous epoch after reload: %v", err)
	}
	rb := mustBeat(t, s, beat("g", "B", 2, assign.Partitions{}))
	if rb.Assignment.Len() != 2 || rb.Assignment.Intersects(r.Assignment) {
		t.Fatalf("B after reload: %+v", rb)
	}
	// A regex subscription comes back too: C (in another group) reads
	// the topic b it matches, and its new partition after a reload.
	c := join("h", "C")
	c.SubscribedTopicNames, c.SubscribedTopicRegex = nil, new(string)
	*c.SubscribedTopicRegex = "b"
	tt.set(topicA, topicB)
	rc := mustBeat(t, s, c)
	f.SetLeader(2, 4)
	eventually(t, "unload", func() bool {
		_, err := s.ConsumerHeartbeat(tctx(t), beat("h", "C", rc.MemberEpoch, rc.Assignment))
		return errors.Is(err, ErrNotCoordinator)
	})
	tt.set(topicA, TopicMeta{Name: "b", ID: topicB.ID, Partitions: 3})
	f.SetLeader(1, 5)
	eventually(t, "reload", func() bool {
		r, err := s.ConsumerHeartbeat(tctx(t), beat("h", "C", rc.MemberEpoch, rc.Assignment))
		if err == nil {
			rc = r
		}
		return err == nil
	})
	if !rc.Assignment.Equal(assign.Partitions{topicB.ID: {0, 1, 2}}) {
		t.Fatalf("C after reload and a new partition: %+v", rc)
	}
}

// BenchmarkConsumerHeartbeat: keepalive heartbeats (nothing changes,
// nothing stored) of members of a stable 50-member group, with 100 topics
// in the cluster.
func BenchmarkConsumerHeartbeat(b *testing.B) {
	tt := &testTopics{}
	var topics []TopicMeta
	for i := range 100 {
		topics = append(topics, TopicMeta{Name: fmt.Sprintf("t%03d", i), ID: [16]byte{byte(i), 1}, Partitions: 10})
	}
	tt.set(topics...)
	s, _ := testService(b, 1, func(c *Config) { c.Topics = tt.list })
	ctx := context.Background()
	epochs := map[string]int32{}
	for i := range 50 {
		id := fmt.Sprint("m", i)
		r, err := s.ConsumerHeartbeat(ctx, join("g", id, "t000", "t001", "t002", "t003"))
		if err != nil {
			b.Fatal(err)
		}
		epochs[id] = r.MemberEpoch
	}
	// Settle: every member reports what it holds until nothing moves.
	for range 3 {
		for id, e := range epochs {
			d, _ := s.DescribeConsumerGroup(ctx, "g")
			var owned assign.Partitions
			for _, m := range d.Members {
				if m.MemberID == id {
					owned = m.Assignment
				}
			}
			r, err := s.ConsumerHeartbeat(ctx, beat("g", id, e, owned))
			if err != nil {
				b.Fatal(err)
			}
			epochs[id] = r.MemberEpoch
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := fmt.Sprint("m", i%50)
		if _, err := s.ConsumerHeartbeat(ctx, beat("g", id, epochs[id], nil)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

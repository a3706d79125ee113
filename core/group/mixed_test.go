package group

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/group/assign"
	"github.com/chronik-go/chronik/raftsm"
)

// coopMeta is a cooperative classic member's subscription to topic "a"
// (consumer protocol v1: with the partitions it owns).
func coopMeta(owned ...int32) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Version = 1
	m.Topics = []string{"a"}
	if len(owned) > 0 {
		o := kmsg.NewConsumerMemberMetadataOwnedPartition()
		o.Topic, o.Partitions = "a", owned
		m.OwnedPartitions = append(m.OwnedPartitions, o)
	}
	return m.AppendTo(nil)
}

// coopJoin is a classic cooperative-sticky member's JoinGroup.
func coopJoin(group, member string, owned ...int32) JoinRequest {
	return JoinRequest{
		Group: group, MemberID: member, ClientID: "c", ClientHost: "/127.0.0.1",
		SessionTimeout: time.Minute, RebalanceTimeout: time.Minute, ProtocolType: "consumer",
		Protocols: []Protocol{{Name: "cooperative-sticky", Metadata: coopMeta(owned...)}},
	}
}

// assignmentOf encodes a classic assignment of topic "a".
func assignmentOf(parts ...int32) []byte {
	a := kmsg.NewConsumerMemberAssignment()
	a.Version = 1
	at := kmsg.NewConsumerMemberAssignmentTopic()
	at.Topic, at.Partitions = "a", parts
	a.Topics = append(a.Topics, at)
	return a.AppendTo(nil)
}

// partitionsOf decodes a classic assignment's partitions of topic "a".
func partitionsOf(t *testing.T, b []byte) []int32 {
	t.Helper()
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(b); err != nil {
		t.Fatalf("assignment %x: %v", b, err)
	}
	var out []int32
	for _, at := range a.Topics {
		if at.Topic != "a" {
			t.Fatalf("assignment of topic %q", at.Topic)
		}
		out = append(out, at.Partitions...)
	}
	slices.Sort(out)
	return out
}

// classicPair forms a classic group of two cooperative members, A with
// partitions 0 and 1 of topic "a", B with 2 and 3, at generation 2.
func classicPair(t *testing.T, s *Service, group string) (a, b string) {
	t.Helper()
	ra := await(t, joinAsync(tctx(t), s, coopJoin(group, "")))
	awaitSync(t, syncAsync(t, s, group, ra.MemberID, ra.Generation, map[string][]byte{ra.MemberID: assignmentOf(0, 1, 2, 3)}))
	bJoin := joinAsync(tctx(t), s, coopJoin(group, ""))
	eventually(t, "A to see the rebalance", func() bool { return errors.Is(heartbeat(s, group, ra.MemberID, 1), ErrRebalanceInProgress) })
	ra = await(t, joinAsync(tctx(t), s, coopJoin(group, ra.MemberID, 0, 1, 2, 3)))
	rb := await(t, bJoin)
	if ra.Generation != 2 || ra.LeaderID != ra.MemberID {
		t.Fatalf("classic rebalance: %+v / %+v", ra, rb)
	}
	sb := syncAsync(t, s, group, rb.MemberID, 2, nil)
	awaitSync(t, syncAsync(t, s, group, ra.MemberID, 2, map[string][]byte{ra.MemberID: assignmentOf(0, 1), rb.MemberID: assignmentOf(2, 3)}))
	awaitSync(t, sb)
	return ra.MemberID, rb.MemberID
}

// checkNoSharedPartition fails when two members of a consumer group hold
// the same partition (assigned or being revoked).
func checkNoSharedPartition(t *testing.T, s *Service, group string) {
	t.Helper()
	g, err := s.lookup(s.shards[s.shardIndex(group)], group, false)
	if err != nil || g == nil {
		t.Fatalf("group %s: %v", group, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mu.consumer == nil {
		return
	}
	seen := map[topicPartitionID]string{}
	for id, m := range g.mu.consumer.members {
		for _, set := range []assign.Partitions{m.cur.Assigned, m.cur.Revoking} {
			for tid, ps := range set {
				for _, p := range ps {
					k := topicPartitionID{tid, p}
					if o, ok := seen[k]; ok {
						t.Fatalf("partition %d held by %s and %s", p, o, id)
					}
					seen[k] = id
				}
			}
		}
	}
}

// TestMixedGroupUpgradeAndDowngrade: a member on the consumer protocol
// joins a running classic group, which becomes a consumer group whose
// classic members rejoin and are assigned by the coordinator; the
// partitions move without ever being held twice. When the consumer member
// leaves, the group becomes classic again and rebalances.
func TestMixedGroupUpgradeAndDowngrade(t *testing.T) {
	s, _ := consumerService(t, nil)
	ctx := tctx(t)
	a, b := classicPair(t, s, "g")

	// C joins on the consumer protocol: the group is upgraded. C owns
	// nothing yet: A and B still hold every partition.
	rc := mustBeat(t, s, join("g", "C", "a"))
	if rc.MemberEpoch != 3 || rc.Assignment.Len() != 0 {
		t.Fatalf("C joining the classic group: %+v", rc)
	}
	d, err := s.DescribeConsumerGroup(ctx, "g")
	if err != nil || d.GroupEpoch != 3 || len(d.Members) != 3 {
		t.Fatalf("after the upgrade: %+v %v", d, err)
	}
	for _, m := range d.Members {
		if m.Classic != (m.MemberID != "C") {
			t.Fatalf("member %s classic=%v", m.MemberID, m.Classic)
		}
		if m.MemberID == a && !m.Assignment.Equal(assign.Partitions{topicA.ID: {0, 1}}) {
			t.Fatalf("A's assignment carried over as %v", m.Assignment)
		}
	}
	if l, _ := s.ListGroups(ctx, ListFilter{}); len(l) != 1 || l[0].Type != "consumer" {
		t.Fatalf("listed as %+v", l)
	}
	checkNoSharedPartition(t, s, "g")

	// The classic members are told to rejoin; each gives up what C is to
	// get, in the two steps of the cooperative protocol.
	revoked := 0
	for _, m := range []struct {
		id   string
		owns []int32
	}{{a, []int32{0, 1}}, {b, []int32{2, 3}}} {
		if err := heartbeat(s, "g", m.id, 2); !errors.Is(err, ErrRebalanceInProgress) {
			t.Fatalf("heartbeat of %s after the upgrade: %v", m.id, err)
		}
		r := await(t, joinAsync(ctx, s, coopJoin("g", m.id, m.owns...)))
		if r.LeaderID != "" || len(r.Members) != 0 || r.Protocol != "cooperative-sticky" || r.ProtocolType != "consumer" {
			t.Fatalf("join of classic member %s: %+v", m.id, r)
		}
		sr, err := s.SyncGroup(ctx, SyncRequest{Group: "g", MemberID: m.id, Generation: r.Generation})
		if err != nil {
			t.Fatalf("sync of %s: %v", m.id, err)
		}
		kept := partitionsOf(t, sr.Assignment)
		checkNoSharedPartition(t, s, "g")
		if r.Generation == 2 {
			// It has partitions to revoke: it keeps the rest, heartbeats
			// are told to rejoin, and the rejoin without them moves it on.
			revoked++
			if err := heartbeat(s, "g", m.id, 2); !errors.Is(err, ErrRebalanceInProgress) {
				t.Fatalf("heartbeat of %s while revoking: %v", m.id, err)
			}
			r = await(t, joinAsync(ctx, s, coopJoin("g", m.id, kept...)))
			if r.Generation != 3 {
				t.Fatalf("rejoin of %s after revoking: %+v", m.id, r)
			}
			sr, err = s.SyncGroup(ctx, SyncRequest{Group: "g", MemberID: m.id, Generation: 3})
			if err != nil || !slices.Equal(partitionsOf(t, sr.Assignment), kept) {
				t.Fatalf("sync of %s at the new epoch: %v %v (kept %v)", m.id, sr, err, kept)
			}
		}
		if err := heartbeat(s, "g", m.id, 3); err != nil {
			t.Fatalf("heartbeat of %s at the new epoch: %v", m.id, err)
		}
	}
	if revoked == 0 {
		t.Fatal("no classic member had a partition to give C")
	}
	rc = mustBeat(t, s, beat("g", "C", 3, assign.Partitions{}))
	d, _ = s.DescribeConsumerGroup(ctx, "g")
	total := 0
	for _, m := range d.Members {
		if m.Assignment.Len() == 0 || m.Assignment.Len() > 2 {
			t.Fatalf("unbalanced: %+v", d.Members)
		}
		total += m.Assignment.Len()
	}
	if total != 4 || rc.Assignment.Len() == 0 || d.State != "Stable" {
		t.Fatalf("after the hand-off: %+v, C %+v", d, rc)
	}
	checkNoSharedPartition(t, s, "g")

	// A classic member commits at its generation, any version.
	commit := func(member string, gen int32, version int16) error {
		return s.CommitOffsets(ctx, CommitRequest{
			Group: "g", MemberID: member, Generation: gen, Version: version,
			Offsets: []CommitOffset{{TopicPartition: TopicPartition{"a", 0}, Offset: 7, LeaderEpoch: -1}},
		})[0]
	}
	if err := commit(a, 3, 7); err != nil {
		t.Fatalf("classic commit: %v", err)
	}
	if err := commit(a, 2, 7); !errors.Is(err, ErrIllegalGeneration) {
		t.Fatalf("classic commit at an old generation: %v", err)
	}
	// The protocols do not mix per member.
	if _, err := s.ConsumerHeartbeat(ctx, beat("g", a, 3, assign.Partitions{})); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("consumer heartbeat of a classic member: %v", err)
	}
	if err := heartbeat(s, "g", "C", 3); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("classic heartbeat of a consumer member: %v", err)
	}
	if _, err := s.JoinGroup(ctx, JoinRequest{
		Group: "g", MemberID: "x", SessionTimeout: time.Minute, RebalanceTimeout: time.Minute, ProtocolType: "consumer",
		Protocols: []Protocol{{Name: "range", Metadata: coopMeta()}},
	}); !errors.Is(err, ErrInconsistentProtocol) {
		t.Fatalf("a classic member with no protocol in common: %v", err)
	}

	// C leaves: only classic members remain and the group is classic
	// again, at the same generation, each member with its assignment,
	// rebalancing.
	before := map[string][]int32{}
	d, _ = s.DescribeConsumerGroup(ctx, "g")
	for _, m := range d.Members {
		before[m.MemberID] = m.Assignment[topicA.ID]
	}
	mustBeat(t, s, beat("g", "C", 3, nil).leave())
	cd, err := s.DescribeGroup(ctx, "g")
	if err != nil || cd.State != PreparingRebalance || len(cd.Members) != 2 {
		t.Fatalf("after the downgrade: %+v %v", cd, err)
	}
	if l, _ := s.ListGroups(ctx, ListFilter{}); len(l) != 1 || l[0].Type != "classic" {
		t.Fatalf("listed as %+v", l)
	}
	if err := heartbeat(s, "g", a, 3); !errors.Is(err, ErrRebalanceInProgress) {
		t.Fatalf("classic heartbeat after the downgrade: %v", err)
	}
	ja := joinAsync(ctx, s, coopJoin("g", a, before[a]...))
	jb := joinAsync(ctx, s, coopJoin("g", b, before[b]...))
	ra, rb := await(t, ja), await(t, jb)
	if ra.Generation != 4 || rb.Generation != 4 || ra.LeaderID == "" || ra.LeaderID != rb.LeaderID {
		t.Fatalf("classic rebalance after the downgrade: %+v / %+v", ra, rb)
	}
	leader, follower := ra, rb
	if rb.MemberID == rb.LeaderID {
		leader, follower = rb, ra
	}
	if len(leader.Members) != 2 {
		t.Fatalf("leader's members: %+v", leader.Members)
	}
	sf := syncAsync(t, s, "g", follower.MemberID, 4, nil)
	awaitSync(t, syncAsync(t, s, "g", leader.MemberID, 4, map[string][]byte{a: assignmentOf(0, 1), b: assignmentOf(2, 3)}))
	awaitSync(t, sf)
	if err := heartbeat(s, "g", a, 4); err != nil {
		t.Fatalf("heartbeat in the classic group: %v", err)
	}
}

// leave turns a heartbeat into a leave (epoch -1).
func (r ConsumerHeartbeat) leave() ConsumerHeartbeat {
	r.MemberEpoch, r.Owned = -1, nil
	return r
}

// TestMixedGroupPolicy: the migration policy and the brokers' level gate
// the conversions.
func TestMixedGroupPolicy(t *testing.T) {
	for _, c := range []struct {
		name      string
		policy    MigrationPolicy
		mixed     bool
		upgrade   bool
		downgrade bool
	}{
		{"bidirectional", MigrateBidirectional, true, true, true},
		{"upgrade", MigrateUpgrade, true, true, false},
		{"downgrade", MigrateDowngrade, true, false, true},
		{"disabled", MigrateDisabled, true, false, false},
		{"old brokers", MigrateBidirectional, false, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _ := consumerService(t, func(cfg *Config) {
				cfg.Migration = c.policy
				cfg.MixedGroups = func() bool { return c.mixed }
			})
			classicPair(t, s, "up")
			_, err := s.ConsumerHeartbeat(tctx(t), join("up", "C", "a"))
			if c.upgrade != (err == nil) || (err != nil && !errors.Is(err, ErrGroupNotFound)) {
				t.Fatalf("consumer member joining a classic group: %v", err)
			}
			// A consumer group with a consumer member and a classic one.
			mustBeat(t, s, join("down", "C", "a"))
			_, err = s.JoinGroup(tctx(t), coopJoin("down", ""))
			if c.mixed != (err == nil) || (err != nil && !errors.Is(err, ErrInconsistentProtocol)) {
				t.Fatalf("classic member joining a consumer group: %v", err)
			}
			if !c.mixed {
				return
			}
			mustBeat(t, s, beat("down", "C", 1, nil).leave())
			l, _ := s.ListGroups(tctx(t), ListFilter{Types: []string{"classic"}})
			if downgraded := slices.ContainsFunc(l, func(l Listing) bool { return l.Group == "down" }); downgraded != c.downgrade {
				t.Fatalf("downgraded=%v after the consumer member left (%+v)", downgraded, l)
			}
		})
	}
}

// TestMixedGroupTimeoutsAndReload: a classic member of a consumer group
// comes back with a new coordinator, and is removed when it misses its
// SyncGroup or its session.
func TestMixedGroupTimeoutsAndReload(t *testing.T) {
	tt := &testTopics{}
	tt.set(topicA)
	s, f := testService(t, 1, func(c *Config) { c.Topics = tt.list })
	ctx := tctx(t)
	cEpoch, cOwned := mustBeat(t, s, join("g", "C", "a")).MemberEpoch, assign.Partitions{topicA.ID: {0, 1, 2, 3}}
	// keepC is C's heartbeat as a well-behaved client sends it: owning
	// what it was last assigned.
	keepC := func() {
		t.Helper()
		r := mustBeat(t, s, beat("g", "C", cEpoch, cOwned))
		cEpoch = r.MemberEpoch
		if r.Assignment != nil {
			cOwned = r.Assignment
		}
	}
	req := coopJoin("g", "")
	req.SessionTimeout = time.Second
	r := await(t, joinAsync(ctx, s, req))
	sr, err := s.SyncGroup(ctx, SyncRequest{Group: "g", MemberID: r.MemberID, Generation: r.Generation})
	if err != nil {
		t.Fatal(err)
	}
	f.SetLeader(2, 2)
	eventually(t, "unload", func() bool { return errors.Is(heartbeat(s, "g", r.MemberID, r.Generation), ErrNotCoordinator) })
	f.SetLeader(1, 3)
	eventually(t, "reload", func() bool { return heartbeat(s, "g", r.MemberID, r.Generation) == nil })
	d, _ := s.DescribeConsumerGroup(ctx, "g")
	var classic *ConsumerMemberDescription
	for i := range d.Members {
		if d.Members[i].Classic {
			classic = &d.Members[i]
		}
	}
	if classic == nil || classic.MemberID != r.MemberID || !slices.Equal(classic.Assignment[topicA.ID], partitionsOf(t, sr.Assignment)) {
		t.Fatalf("classic member after reload: %+v", d.Members)
	}
	// Its session (1 s, restored from the record: the group's is 45 s)
	// runs out; C keeps heartbeating and ends up with every partition.
	eventually(t, "the classic member's session to expire", func() bool {
		keepC()
		d2, _ := s.DescribeConsumerGroup(ctx, "g")
		return len(d2.Members) == 1
	})
	keepC()
	if !cOwned.Equal(assign.Partitions{topicA.ID: {0, 1, 2, 3}}) {
		t.Fatalf("C after the classic member expired: %v", cOwned)
	}

	// A classic member that joins and never syncs is removed after its
	// rebalance timeout.
	req = coopJoin("g", "")
	req.RebalanceTimeout = 100 * time.Millisecond
	r = await(t, joinAsync(ctx, s, req))
	eventually(t, "the member that did not sync to be removed", func() bool {
		return errors.Is(heartbeat(s, "g", r.MemberID, r.Generation), ErrUnknownMember)
	})
}

// TestGroupReloadedWhenStoredAhead: when the stored group moved past the
// loaded one (a record an earlier term's object proposed, applied after
// this term loaded the group), the change is refused with NOT_COORDINATOR
// and the group is loaded again from what is stored, instead of refusing
// every later change.
func TestGroupReloadedWhenStoredAhead(t *testing.T) {
	s, _ := consumerService(t, nil)
	ctx := tctx(t)
	mustBeat(t, s, join("g", "A", "a"))
	all := []raftsm.TopicIDPartitions{{TopicID: topicA.ID, Partitions: []int32{0, 1, 2, 3}, Epochs: []int32{5, 5, 5, 5}}}
	ahead := &raftsm.GroupRecord{
		Group: "g", ProtocolType: "consumer", Protocol: "uniform", Generation: 5,
		Consumer: &raftsm.ConsumerGroup{AssignmentEpoch: 5},
		Members: []raftsm.GroupMemberRecord{{
			MemberID: "A", SessionTimeoutMs: 45000, RebalanceTimeoutMs: 60000, Metadata: []byte{}, Assignment: []byte{},
			Consumer: &raftsm.ConsumerMember{Epoch: 5, PreviousEpoch: 4, SubscribedTopicNames: []string{"a"}, Assigned: all, Target: all},
		}},
	}
	sh, err := s.route("g")
	if err != nil {
		t.Fatal(err)
	}
	if st, _, err := s.propose(ctx, sh, raftsm.EncodeStoreGroup(ahead)); err != nil || st != raftsm.StatusOK {
		t.Fatalf("store ahead: %v %v", st, err)
	}
	// A change of the loaded group (at epoch 1) is refused...
	if _, err := s.ConsumerHeartbeat(ctx, join("g", "B", "a")); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("change of a group stored ahead: %v", err)
	}
	// ...and the group comes back as stored (the record's topics hash is
	// not this cluster's, so the epoch moves on once more).
	r := mustBeat(t, s, beat("g", "A", 5, assign.Partitions{topicA.ID: {0, 1, 2, 3}}))
	if r.MemberEpoch != 6 {
		t.Fatalf("A after the reload: %+v", r)
	}
	if rb := mustBeat(t, s, join("g", "B", "a")); rb.MemberEpoch != 7 {
		t.Fatalf("B joining after the reload: %+v", rb)
	}
}

// TestMixedGroupStaticMembers: a classic static member of a consumer group
// restarting under a new member ID takes over its instance's partitions
// (the old ID is fenced), and a member on the consumer protocol restarting
// with the instance of a classic one (a rolling switch of static members)
// takes it over at once: a classic member has no epoch -2 to release it.
func TestMixedGroupStaticMembers(t *testing.T) {
	s, _ := consumerService(t, nil)
	ctx := tctx(t)
	mustBeat(t, s, join("g", "C", "a"))
	req := coopJoin("g", "")
	req.InstanceID = "i1"
	r1 := await(t, joinAsync(ctx, s, req))
	if _, err := s.SyncGroup(ctx, SyncRequest{Group: "g", MemberID: r1.MemberID, InstanceID: "i1", Generation: r1.Generation}); err != nil {
		t.Fatal(err)
	}
	// C gives up what the classic member is to get; the classic member
	// rejoins to take it.
	mustBeat(t, s, beat("g", "C", 1, assign.Partitions{topicA.ID: {0, 1, 2, 3}}))
	rc := mustBeat(t, s, beat("g", "C", 1, assign.Partitions{topicA.ID: {0, 1}}))
	if err := heartbeat(s, "g", r1.MemberID, r1.Generation); !errors.Is(err, ErrRebalanceInProgress) {
		t.Fatalf("heartbeat of the classic member once its partitions are free: %v (C %+v)", err, rc)
	}
	r1 = await(t, joinAsync(ctx, s, bReq2(req, r1.MemberID)))
	sr, err := s.SyncGroup(ctx, SyncRequest{Group: "g", MemberID: r1.MemberID, InstanceID: "i1", Generation: r1.Generation})
	if err != nil || len(partitionsOf(t, sr.Assignment)) != 2 {
		t.Fatalf("classic static member's assignment: %v %v", sr, err)
	}
	held := partitionsOf(t, sr.Assignment)

	// It restarts: a join without member ID but with its instance.
	restart := coopJoin("g", "")
	restart.InstanceID = "i1"
	r2 := await(t, joinAsync(ctx, s, restart))
	if r2.MemberID == r1.MemberID {
		t.Fatalf("restarted member kept its ID: %+v", r2)
	}
	sr, err = s.SyncGroup(ctx, SyncRequest{Group: "g", MemberID: r2.MemberID, InstanceID: "i1", Generation: r2.Generation})
	if err != nil || !slices.Equal(partitionsOf(t, sr.Assignment), held) {
		t.Fatalf("restarted static member's assignment: %v %v, want %v", sr, err, held)
	}
	if err := s.Heartbeat(ctx, HeartbeatRequest{Group: "g", MemberID: r1.MemberID, InstanceID: "i1", Generation: r1.Generation}); !errors.Is(err, ErrFencedInstanceID) {
		t.Fatalf("heartbeat of the replaced member ID: %v", err)
	}
	checkNoSharedPartition(t, s, "g")

	// It restarts on the consumer protocol, same instance: it takes over
	// the instance and its partitions.
	str := "i1"
	j := join("g", "D", "a")
	j.InstanceID = &str
	rd := mustBeat(t, s, j)
	if got := rd.Assignment[topicA.ID]; !slices.Equal(got, held) {
		t.Fatalf("consumer-protocol member taking over a classic instance: %+v, want %v", rd, held)
	}
	d, _ := s.DescribeConsumerGroup(ctx, "g")
	if len(d.Members) != 2 || slices.ContainsFunc(d.Members, func(m ConsumerMemberDescription) bool { return m.Classic }) {
		t.Fatalf("after the switch: %+v", d.Members)
	}
	if err := heartbeat(s, "g", r2.MemberID, r2.Generation); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("heartbeat of the classic member replaced by a consumer-protocol one: %v", err)
	}
	checkNoSharedPartition(t, s, "g")
}

// TestGroupMaxSize: kafka.group-max-size and kafka.group-consumer-max-size
// refuse new members beyond them and the conversions that would exceed
// them.
func TestGroupMaxSize(t *testing.T) {
	ctx := tctx(t)
	t.Run("classic", func(t *testing.T) {
		s, _ := consumerService(t, func(c *Config) { c.MaxSize = 2 })
		a, b := classicPair(t, s, "g")
		if _, err := s.JoinGroup(ctx, coopJoin("g", "")); !errors.Is(err, ErrGroupMaxSizeReached) {
			t.Fatalf("third member of a group of at most 2: %v", err)
		}
		// Its members still rejoin.
		ja := joinAsync(ctx, s, coopJoin("g", a, 0, 1))
		jb := joinAsync(ctx, s, coopJoin("g", b, 2, 3))
		if ra, rb := await(t, ja), await(t, jb); ra.Generation != 3 || rb.Generation != 3 {
			t.Fatalf("rejoins: %+v %+v", ra, rb)
		}
	})
	t.Run("consumer", func(t *testing.T) {
		s, _ := consumerService(t, func(c *Config) { c.ConsumerMaxSize = 2 })
		mustBeat(t, s, join("g", "A", "a"))
		mustBeat(t, s, join("g", "B", "a"))
		if _, err := s.ConsumerHeartbeat(ctx, join("g", "C", "a")); !errors.Is(err, ErrGroupMaxSizeReached) {
			t.Fatalf("third member: %v", err)
		}
		if _, err := s.JoinGroup(ctx, coopJoin("g", "")); !errors.Is(err, ErrGroupMaxSizeReached) {
			t.Fatalf("third member, classic: %v", err)
		}
		mustBeat(t, s, beat("g", "B", 2, nil).leave())
		if r := mustBeat(t, s, join("g", "C", "a")); r.MemberEpoch == 0 {
			t.Fatalf("C once B left: %+v", r)
		}
	})
	t.Run("conversions", func(t *testing.T) {
		s, _ := consumerService(t, func(c *Config) { c.ConsumerMaxSize = 2 })
		classicPair(t, s, "up")
		if _, err := s.ConsumerHeartbeat(ctx, join("up", "C", "a")); !errors.Is(err, ErrGroupNotFound) {
			t.Fatalf("upgrade of a group as big as the consumer bound: %v", err)
		}
		// A consumer group of C and two classic members: when C leaves,
		// two classic members exceed MaxSize 1, so it stays a consumer
		// group.
		s, _ = consumerService(t, func(c *Config) { c.MaxSize, c.ConsumerMaxSize = 1, 3 })
		mustBeat(t, s, join("down", "C", "a"))
		for range 2 {
			if _, err := s.JoinGroup(ctx, coopJoin("down", "")); err != nil {
				t.Fatal(err)
			}
		}
		mustBeat(t, s, beat("down", "C", 1, nil).leave())
		if d, err := s.DescribeConsumerGroup(ctx, "down"); err != nil || len(d.Members) != 2 {
			t.Fatalf("after C left: %+v %v", d, err)
		}
	})
}

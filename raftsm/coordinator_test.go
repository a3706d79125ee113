package raftsm

import (
	"fmt"
	"hash/fnv"
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

type coordHarness struct {
	t     *testing.T
	store *Store
	c     *Coordinator
	index uint64
}

func newCoordHarness(t *testing.T) *coordHarness {
	t.Helper()
	st, err := openStore("state", vfs.NewMem())
	if err != nil {
		t.Fatal(err)
	}
	h := &coordHarness{t: t, store: st, c: NewCoordinator(st, 3)}
	if _, err := h.c.Open(nil); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *coordHarness) update(cmds ...[]byte) []sm.Result {
	h.t.Helper()
	ents := make([]sm.Entry, len(cmds))
	for i, c := range cmds {
		h.index++
		ents[i] = sm.Entry{Index: h.index, Cmd: c}
	}
	out, err := h.c.Update(ents)
	if err != nil {
		h.t.Fatalf("Update: %v", err)
	}
	res := make([]sm.Result, len(out))
	for i := range out {
		res[i] = out[i].Result
	}
	return res
}

func (h *coordHarness) status(cmd []byte) Status {
	h.t.Helper()
	return ResultStatus(h.update(cmd)[0].Data)
}

func commit(group string, ts int64, offs ...CommittedOffset) []byte {
	for i := range offs {
		offs[i].CommitTimestamp = ts
	}
	return EncodeCommitOffsets(group, offs)
}

func off(topic string, p int32, o int64) CommittedOffset {
	return CommittedOffset{TopicPartition{topic, p}, OffsetRecord{Offset: o, LeaderEpoch: 3, Metadata: "m", ExpireTimestamp: -1}}
}

func groupRec(group string, gen int32, ts int64, members ...string) *GroupRecord {
	r := &GroupRecord{Group: group, ProtocolType: "consumer", Protocol: "range", Generation: gen, Timestamp: ts}
	for _, m := range members {
		r.Leader = members[0]
		r.Members = append(r.Members, GroupMemberRecord{
			MemberID: m, InstanceID: "i-" + m, ClientID: "c", ClientHost: "/127.0.0.1",
			SessionTimeoutMs: 10000, RebalanceTimeoutMs: 60000, Metadata: []byte("meta-" + m), Assignment: []byte("asg-" + m),
		})
	}
	return r
}

func TestCoordinatorShardIDIsFNV1a(t *testing.T) {
	for _, n := range []int{1, 3, 8, MaxCoordinatorShards} {
		for i := range 200 {
			g := fmt.Sprintf("group-%d", i)
			h := fnv.New32a()
			h.Write([]byte(g))
			want := FirstCoordinatorShardID + uint64(h.Sum32()%uint32(n))
			if got := CoordinatorShardID(g, n); got != want {
				t.Fatalf("CoordinatorShardID(%q, %d) = %d, want %d", g, n, got, want)
			}
			if got := CoordinatorShardID(g, n); got < FirstCoordinatorShardID || got >= FirstCoordinatorShardID+uint64(n) {
				t.Fatalf("shard %d out of range for n=%d", got, n)
			}
		}
	}
	// Pinned values: the placement of groups is part of the on-disk format.
	for g, want := range map[string]uint64{"": 7, "my-group": 7, "orders-consumer": 5} {
		if got := CoordinatorShardID(g, 8); got != want {
			t.Errorf("CoordinatorShardID(%q, 8) = %d, want %d: the group hash must never change", g, got, want)
		}
	}
	if MaxCoordinatorShards+int(FirstCoordinatorShardID) != int(FirstPartitionShardID) {
		t.Fatal("coordinator shards overlap partition shards")
	}
}

func TestCoordinatorCommitAndRead(t *testing.T) {
	h := newCoordHarness(t)
	res := h.update(commit("g", 100, off("t", 0, 5), off("t", 1, 7)), commit("g", 200, off("t", 0, 9)))
	if ResultStatus(res[0].Data) != StatusOK || res[0].Value != 2 {
		t.Fatalf("commit: %+v", res[0])
	}
	o, ok := h.c.Offset("g", TopicPartition{"t", 0})
	if !ok || o.Offset != 9 || o.CommitTimestamp != 200 || o.LeaderEpoch != 3 || o.Metadata != "m" {
		t.Fatalf("offset t/0 = %+v %v", o, ok)
	}
	if all := h.c.Offsets("g"); len(all) != 2 || all[TopicPartition{"t", 1}].Offset != 7 {
		t.Fatalf("offsets = %+v", all)
	}
	if _, ok := h.c.Offset("other", TopicPartition{"t", 0}); ok {
		t.Fatal("offset of an unknown group")
	}
	if !h.c.HasGroup("g") || !h.c.HasOffsets("g") || h.c.HasGroup("other") {
		t.Fatal("HasGroup/HasOffsets wrong")
	}
	// Bad input is a result, never an error.
	for name, cmd := range map[string][]byte{
		"empty":        nil,
		"bad version":  {9, cmdCommitOffsets},
		"unknown type": {commandVersion, 31},
		"no offsets":   EncodeCommitOffsets("g", nil),
		"no group":     EncodeCommitOffsets("", []CommittedOffset{off("t", 0, 1)}),
		"truncated":    commit("g", 1, off("t", 0, 1))[:12],
		"huge count":   {commandVersion, cmdCommitOffsets, 1, 'g', 0xff, 0xff, 0xff, 0x7f},
		"bad record":   append([]byte{commandVersion, cmdStoreGroup}, 3, 9, 9, 9),
		"bad expire":   EncodeExpireOffsets(1, 0),
	} {
		if st := h.status(cmd); st != StatusMalformed && st != StatusUnsupportedCmd {
			t.Errorf("%s: status %s", name, st)
		}
	}
}

func TestCoordinatorGroupRecords(t *testing.T) {
	h := newCoordHarness(t)
	rec := groupRec("g", 3, 1000, "a", "b")
	if st := h.status(EncodeStoreGroup(rec)); st != StatusOK {
		t.Fatalf("store: %s", st)
	}
	got, ok := h.c.Group("g")
	if !ok || !reflect.DeepEqual(got, rec) {
		t.Fatalf("group = %+v, want %+v", got, rec)
	}
	if st := h.status(EncodeStoreGroup(groupRec("g", 2, 1000, "a"))); st != StatusStaleGeneration {
		t.Fatalf("older generation: %s", st)
	}
	if st := h.status(EncodeStoreGroup(groupRec("g", 3, 1100, "c", "b"))); st != StatusOK {
		t.Fatalf("same generation (static member replaced): %s", st)
	}
	if st := h.status(EncodeDeleteGroup("g")); st != StatusNonEmptyGroup {
		t.Fatalf("delete with members: %s", st)
	}
	if st := h.status(EncodeDeleteGroup("nope")); st != StatusGroupNotFound {
		t.Fatalf("delete unknown: %s", st)
	}
	h.update(EncodeStoreGroup(groupRec("g", 4, 2000)), commit("g", 2000, off("t", 0, 1)))
	if st := h.status(EncodeDeleteGroup("g")); st != StatusOK {
		t.Fatalf("delete empty: %s", st)
	}
	if h.c.HasGroup("g") || len(h.c.GroupIDs()) != 0 {
		t.Fatalf("group survived deletion: %v", h.c.GroupIDs())
	}
	// Deleted state is gone from Pebble too.
	if err := h.c.load(); err != nil || h.c.HasGroup("g") {
		t.Fatalf("after reload: %v %v", err, h.c.HasGroup("g"))
	}
}

func TestCoordinatorDeleteOffsets(t *testing.T) {
	h := newCoordHarness(t)
	h.update(commit("g", 1, off("t", 0, 1), off("t", 1, 2), off("u", 0, 3)))
	res := h.update(EncodeDeleteOffsets("g", []TopicPartition{{"t", 0}, {"t", 9}, {"u", 0}}))
	if ResultStatus(res[0].Data) != StatusOK || res[0].Value != 2 {
		t.Fatalf("delete offsets: %+v", res[0])
	}
	if all := h.c.Offsets("g"); len(all) != 1 {
		t.Fatalf("left %+v", all)
	}
	if st := h.status(EncodeDeleteOffsets("x", []TopicPartition{{"t", 0}})); st != StatusGroupNotFound {
		t.Fatalf("unknown group: %s", st)
	}
	h.update(EncodeDeleteOffsets("g", []TopicPartition{{"t", 1}}))
	if h.c.HasGroup("g") {
		t.Fatal("a group with no metadata and no offsets should be forgotten")
	}
}

func TestCoordinatorExpireOffsets(t *testing.T) {
	const retention = 1000
	h := newCoordHarness(t)
	explicit := off("t", 1, 1)
	explicit.ExpireTimestamp = 5000
	h.update(
		// Simple consumer: each offset by its own commit time.
		commit("simple", 100, off("t", 0, 1)),
		commit("simple", 900, off("t", 1, 1)),
		// Empty group: by the time it became empty (its record), not commits.
		EncodeStoreGroup(groupRec("empty", 5, 1500)),
		commit("empty", 100, off("t", 0, 1)),
		// Active group: never.
		EncodeStoreGroup(groupRec("active", 2, 0, "m1")),
		commit("active", 0, off("t", 0, 1)),
		// Explicit retention (OffsetCommit v2–v4).
		commit("explicit", 100, explicit),
		// Empty group without offsets: deleted at the next run.
		EncodeStoreGroup(groupRec("bare", 1, 1990)),
	)
	res := h.update(EncodeExpireOffsets(1500, retention))
	if res[0].Value != 1 {
		t.Fatalf("at 1500 expired %d, want 1 (simple t/0)", res[0].Value)
	}
	if _, ok := h.c.Offset("simple", TopicPartition{"t", 0}); ok {
		t.Fatal("simple t/0 should have expired")
	}
	if h.c.HasGroup("bare") {
		t.Fatal("empty group with no offsets should be deleted")
	}
	res = h.update(EncodeExpireOffsets(2499, retention))
	if res[0].Value != 1 || h.c.HasGroup("simple") || !h.c.HasGroup("empty") {
		t.Fatalf("at 2499 expired %d; groups %v", res[0].Value, h.c.GroupIDs())
	}
	res = h.update(EncodeExpireOffsets(2500, retention))
	if res[0].Value != 1 || h.c.HasGroup("empty") {
		t.Fatalf("at 2500 expired %d; groups %v", res[0].Value, h.c.GroupIDs())
	}
	if !h.c.HasOffsets("explicit") {
		t.Fatal("explicit expire timestamp ignored")
	}
	h.update(EncodeExpireOffsets(5000, retention))
	if h.c.HasGroup("explicit") {
		t.Fatal("explicit expire timestamp not honoured")
	}
	if !h.c.HasOffsets("active") {
		t.Fatal("an active group's offsets must not expire")
	}
	if got := h.c.GroupIDs(); !reflect.DeepEqual(got, []string{"active"}) {
		t.Fatalf("groups left %v", got)
	}
}

func TestCoordinatorReopenAndSnapshot(t *testing.T) {
	h := newCoordHarness(t)
	rec := groupRec("g", 7, 10, "a")
	h.update(EncodeStoreGroup(rec), commit("g", 10, off("t", 0, 42)), commit("h", 11, off("t", 2, 43)))

	re := NewCoordinator(h.store, 3)
	applied, err := re.Open(nil)
	if err != nil || applied != h.index {
		t.Fatalf("reopen: applied %d (want %d), %v", applied, h.index, err)
	}
	if got, _ := re.Group("g"); !reflect.DeepEqual(got, rec) {
		t.Fatalf("reopened record %+v", got)
	}
	if !reflect.DeepEqual(re.Offsets("h"), h.c.Offsets("h")) {
		t.Fatal("reopened offsets differ")
	}

	buf := snapshotOf(t, h.c)
	other := newCoordHarness(t)
	other.update(commit("stale", 1, off("x", 0, 1)))
	if err := other.c.RecoverFromSnapshot(buf, nil); err != nil {
		t.Fatal(err)
	}
	if other.c.HasGroup("stale") {
		t.Fatal("recovery kept state not in the snapshot")
	}
	if got, _ := other.c.Group("g"); !reflect.DeepEqual(got, rec) {
		t.Fatalf("recovered record %+v", got)
	}
	if !reflect.DeepEqual(other.c.Offsets("g"), h.c.Offsets("g")) || !reflect.DeepEqual(other.c.GroupIDs(), []string{"g", "h"}) {
		t.Fatal("recovered offsets differ")
	}
	if applied, _ := NewCoordinator(other.store, 3).Open(nil); applied != h.index {
		t.Fatalf("recovered applied index %d, want %d", applied, h.index)
	}
}

func TestCheckCoordinatorShards(t *testing.T) {
	st, err := OpenMemStore()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CheckCoordinatorShards(8); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckCoordinatorShards(8); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckCoordinatorShards(4); err == nil {
		t.Fatal("changing the coordinator shard count must fail")
	}
}

func TestCoordinatorStatusNames(t *testing.T) {
	for s, want := range map[Status]string{
		StatusGroupNotFound:   "group not found",
		StatusNonEmptyGroup:   "group has members",
		StatusStaleGeneration: "stale group generation",
	} {
		if got := s.String(); got != want {
			t.Errorf("status %d is %q, want %q", byte(s), got, want)
		}
	}
}

// consumerGroupRec is a KIP-848 consumer group's record with two members.
func consumerGroupRec(g string, epoch int32) *GroupRecord {
	t1, t2 := [16]byte{1}, [16]byte{2}
	return &GroupRecord{
		Group: g, ProtocolType: "consumer", Protocol: "uniform", Generation: epoch, Timestamp: 77,
		Consumer: &ConsumerGroup{AssignmentEpoch: epoch, TopicsHash: 0xfeedface},
		Members: []GroupMemberRecord{
			{
				MemberID: "a", InstanceID: "i", ClientID: "c", ClientHost: "/h", SessionTimeoutMs: 45000, RebalanceTimeoutMs: 60000,
				Metadata: []byte{}, Assignment: []byte{},
				Consumer: &ConsumerMember{
					Epoch: epoch, PreviousEpoch: epoch - 1, State: 1, RackID: "r1", ServerAssignor: "range",
					SubscribedTopicNames: []string{"x", "y"},
					Assigned:             []TopicIDPartitions{{TopicID: t1, Partitions: []int32{0, 2}, Epochs: []int32{3, 4}}},
					Revoking:             []TopicIDPartitions{{TopicID: t2, Partitions: []int32{1}, Epochs: []int32{2}}},
					Target:               []TopicIDPartitions{{TopicID: t1, Partitions: []int32{0, 2}}},
				},
			},
			{MemberID: "b", Metadata: []byte{}, Assignment: []byte{}, Consumer: &ConsumerMember{Epoch: -2, PreviousEpoch: 3, SubscribedTopicRegex: "x.*"}},
		},
	}
}

// TestCoordinatorConsumerGroupRecords: a consumer group's record (a
// trailing section after the classic fields) survives the log, a reopen
// and a snapshot; truncated or padded records are refused.
func TestCoordinatorConsumerGroupRecords(t *testing.T) {
	h := newCoordHarness(t)
	rec := consumerGroupRec("cg", 5)
	if st := h.status(EncodeStoreGroup(rec)); st != StatusOK {
		t.Fatalf("store: %s", st)
	}
	if got, ok := h.c.Group("cg"); !ok || !reflect.DeepEqual(got, rec) {
		t.Fatalf("group = %+v, want %+v", got, rec)
	}
	re := NewCoordinator(h.store, 3)
	if _, err := re.Open(nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := re.Group("cg"); !reflect.DeepEqual(got, rec) {
		t.Fatalf("reopened %+v", got)
	}
	other := newCoordHarness(t)
	if err := other.c.RecoverFromSnapshot(snapshotOf(t, h.c), nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := other.c.Group("cg"); !reflect.DeepEqual(got, rec) {
		t.Fatalf("recovered %+v", got)
	}
	raw := encodeGroupRecord(rec)
	classic := len(encodeGroupRecord(&GroupRecord{Group: "cg", ProtocolType: "consumer", Protocol: "uniform", Generation: 5, Timestamp: 77, Members: rec.Members}))
	for i := classic + 1; i < len(raw); i++ {
		if _, err := decodeGroupRecord(raw[:i]); err == nil {
			t.Fatalf("truncated at %d of %d: decoded", i, len(raw))
		}
	}
	if _, err := decodeGroupRecord(append(raw, 0)); err == nil {
		t.Fatal("a trailing byte decoded")
	}
	bad := append([]byte{}, raw...)
	bad[classic] = 9
	if _, err := decodeGroupRecord(bad); err == nil {
		t.Fatal("an unknown section decoded")
	}
}

// TestCoordinatorMixedGroupRecords: a consumer group hosting a classic
// member stores its protocols in a second trailing section, written only
// when some member is classic; the record survives the log and a
// snapshot, and a cut inside the section is refused.
func TestCoordinatorMixedGroupRecords(t *testing.T) {
	plain := consumerGroupRec("cg", 5)
	withoutSection := encodeGroupRecord(plain)
	rec := consumerGroupRec("cg", 5)
	rec.Members[1].SessionTimeoutMs = 10000
	rec.Members[1].Consumer.Classic = []ClassicProtocol{{Name: "cooperative-sticky", Metadata: []byte{0, 1, 2}}, {Name: "range", Metadata: []byte{}}}
	raw := encodeGroupRecord(rec)
	if len(raw) <= len(withoutSection) || raw[len(withoutSection)] != classicSection {
		t.Fatalf("no classic section after the consumer section: %d vs %d bytes", len(raw), len(withoutSection))
	}
	h := newCoordHarness(t)
	if st := h.status(EncodeStoreGroup(rec)); st != StatusOK {
		t.Fatalf("store: %s", st)
	}
	if got, ok := h.c.Group("cg"); !ok || !reflect.DeepEqual(got, rec) {
		t.Fatalf("group = %+v, want %+v", got, rec)
	}
	other := newCoordHarness(t)
	if err := other.c.RecoverFromSnapshot(snapshotOf(t, h.c), nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := other.c.Group("cg"); !reflect.DeepEqual(got, rec) {
		t.Fatalf("recovered %+v", got)
	}
	for i := len(withoutSection) + 1; i < len(raw); i++ {
		if _, err := decodeGroupRecord(raw[:i]); err == nil {
			t.Fatalf("truncated at %d of %d: decoded", i, len(raw))
		}
	}
	if _, err := decodeGroupRecord(append(raw, 0)); err == nil {
		t.Fatal("a trailing byte decoded")
	}
}

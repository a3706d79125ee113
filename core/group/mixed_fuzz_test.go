package group

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/group/assign"
)

// simClassic is a well-behaved classic consumer in a consumer group:
// cooperative (it keeps its partitions while it rejoins, gives up those
// its new assignment leaves out, and rejoins at once when it gave up
// some), or eager (it gives up everything before it rejoins).
type simClassic struct {
	id     string
	eager  bool
	joined bool
	gen    int32
	owned  assign.Partitions
	rejoin bool
}

// meta is its subscription to topic "a" with the partitions it owns.
func (c *simClassic) meta() []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Version = 1
	m.Topics = []string{"a"}
	if ps := c.owned[topicA.ID]; len(ps) > 0 {
		o := kmsg.NewConsumerMemberMetadataOwnedPartition()
		o.Topic, o.Partitions = "a", slices.Clone(ps)
		m.OwnedPartitions = append(m.OwnedPartitions, o)
	}
	return m.AppendTo(nil)
}

// FuzzMixedGroup drives a consumer group with two members on the consumer
// protocol and two classic members (one cooperative, one eager) —
// joins, heartbeats, rejoins, leaves, a lost answer, topic a growing, a
// new coordinator term — in the order the input says, and checks after
// every step that no two members own the same partition, and that a group
// that stops changing settles with every partition of topic a owned.
// Downgrades are off (MigrateUpgrade): a classic group's join phase would
// block this one-step-at-a-time driver.
func FuzzMixedGroup(f *testing.F) {
	f.Add([]byte{0x00, 0x02, 0x03, 0x10, 0x12, 0x13, 0x11, 0x12, 0x13, 0x20, 0x22, 0x60, 0x12, 0x13, 0x10})
	f.Add([]byte{0x00, 0x01, 0x02, 0x10, 0x11, 0x12, 0x50, 0x12, 0x30, 0x31, 0x12, 0x03, 0x13, 0x40, 0x12})
	f.Add([]byte{0x00, 0x02, 0x12, 0x03, 0x13, 0x32, 0x70, 0x13, 0x02, 0x12, 0x52, 0x12, 0x13, 0x21})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 64 {
			return
		}
		tt := &testTopics{}
		tt.set(TopicMeta{Name: "a", ID: topicA.ID, Partitions: 3})
		s, f := testService(t, 1, func(c *Config) { c.Topics = tt.list; c.Migration = MigrateUpgrade })
		ctx := context.Background()
		consumers := []*simMember{{id: "c0", topics: []string{"a"}}, {id: "c1", topics: []string{"a"}}}
		classics := []*simClassic{{id: "k2"}, {id: "k3", eager: true}}
		term, growA := uint64(1), int32(3)
		ids, counts := map[string]assign.TopicID{"a": topicA.ID}, map[assign.TopicID]int32{}

		beat := func(m *simMember, req ConsumerHeartbeat) { m.beat(t, s, req) }
		full := func(m *simMember) ConsumerHeartbeat {
			if !m.joined {
				m.epoch, m.owned = 0, nil
			}
			return m.full()
		}
		// classicError handles an error of a classic member's call: it
		// rejoins when told, starts over (losing its partitions) when the
		// group no longer knows it at that generation.
		classicError := func(c *simClassic, what string, err error) {
			switch {
			case err == nil:
			case errors.Is(err, ErrRebalanceInProgress):
				c.rejoin = true
			case errors.Is(err, ErrUnknownMember), errors.Is(err, ErrIllegalGeneration), errors.Is(err, ErrFencedInstanceID):
				c.joined, c.owned, c.rejoin = false, nil, false
			case errors.Is(err, ErrNotCoordinator), errors.Is(err, ErrLoadInProgress), errors.Is(err, ErrCoordinatorNotAvailable):
			default:
				t.Fatalf("%s %s: %v", c.id, what, err)
			}
		}
		hasConsumerMembers := func() bool {
			d, err := s.DescribeConsumerGroup(ctx, "g")
			return err == nil && slices.ContainsFunc(d.Members, func(m ConsumerMemberDescription) bool { return !m.Classic })
		}
		join := func(c *simClassic) {
			if !c.joined && !hasConsumerMembers() {
				return // it would start a classic group's join phase
			}
			if c.eager {
				c.owned = nil
			}
			req := JoinRequest{
				Group: "g", MemberID: c.id, SessionTimeout: time.Minute, RebalanceTimeout: time.Minute,
				ProtocolType: "consumer", Protocols: []Protocol{{Name: "cooperative-sticky", Metadata: c.meta()}},
			}
			res, err := s.JoinGroup(ctx, req)
			if err != nil {
				classicError(c, "join", err)
				return
			}
			c.joined, c.gen, c.rejoin = true, res.Generation, false
			sr, err := s.SyncGroup(ctx, SyncRequest{Group: "g", MemberID: c.id, Generation: c.gen})
			if err != nil {
				classicError(c, "sync", err)
				return
			}
			counts[topicA.ID] = growA
			got := assignedOf(sr.Assignment, ids, counts)
			for tid, ps := range c.owned {
				for _, p := range ps {
					if !got.Has(tid, p) {
						c.rejoin = true // gave some up: rejoin at once
					}
				}
			}
			c.owned = got
		}
		classicStep := func(c *simClassic) {
			switch {
			case !c.joined || c.rejoin:
				join(c)
			default:
				classicError(c, "heartbeat", s.Heartbeat(ctx, HeartbeatRequest{Group: "g", MemberID: c.id, Generation: c.gen}))
				if c.rejoin {
					join(c)
				}
			}
		}
		check := func() {
			t.Helper()
			var owned []assign.Partitions
			for _, m := range consumers {
				owned = append(owned, m.owned)
			}
			for _, c := range classics {
				owned = append(owned, c.owned)
			}
			for i, a := range owned {
				for j, b := range owned[i+1:] {
					if a.Intersects(b) {
						t.Fatalf("members %d and %d both own some of %v / %v", i, i+1+j, a, b)
					}
				}
			}
		}
		for _, op := range ops {
			i := int(op & 3)
			switch op >> 4 & 7 {
			case 0, 1: // join or heartbeat
				if i < 2 {
					m := consumers[i]
					if m.joined || op>>4&7 == 0 {
						beat(m, full(m))
					}
				} else {
					classicStep(classics[i-2])
				}
			case 2: // the answer is lost: the same call again
				if i < 2 && consumers[i].joined {
					req := full(consumers[i])
					if _, err := s.ConsumerHeartbeat(ctx, req); err == nil {
						beat(consumers[i], req)
					}
				} else if i >= 2 && classics[i-2].joined {
					c := classics[i-2]
					c.rejoin = true
					classicStep(c)
				}
			case 3: // leave
				if i < 2 && consumers[i].joined {
					beat(consumers[i], ConsumerHeartbeat{Group: "g", MemberID: consumers[i].id, MemberEpoch: -1, RebalanceTimeout: -1})
				} else if i >= 2 && classics[i-2].joined {
					c := classics[i-2]
					errs, err := s.LeaveGroup(ctx, "g", []LeaveMember{{MemberID: c.id}})
					if err == nil && errs[0] == nil {
						c.joined, c.owned = false, nil
					}
				}
			case 4, 6: // a new coordinator term: the group is reloaded
				term++
				f.SetLeader(2, term)
				term++
				f.SetLeader(1, term)
				waitLoaded(t, s)
			case 5: // topic a grows
				growA++
				tt.set(TopicMeta{Name: "a", ID: topicA.ID, Partitions: growA})
			case 7: // a classic member is told to rejoin out of turn
				if i >= 2 {
					classics[i-2].rejoin = classics[i-2].joined
				}
			}
			check()
		}
		// Settle: every joined member heartbeats (and classic ones rejoin
		// when told) until nothing changes.
		for range 12 {
			for _, m := range consumers {
				if m.joined {
					beat(m, full(m))
					check()
				}
			}
			for _, c := range classics {
				if c.joined {
					classicStep(c)
					check()
				}
			}
		}
		owned, joined := 0, ""
		for _, m := range consumers {
			owned += m.owned.Len()
			joined += fmt.Sprintf(" %s(joined=%v epoch=%d owns %v)", m.id, m.joined, m.epoch, m.owned)
		}
		for _, c := range classics {
			owned += c.owned.Len()
			joined += fmt.Sprintf(" %s(joined=%v gen=%d owns %v)", c.id, c.joined, c.gen, c.owned)
		}
		anyJoined := slices.ContainsFunc(consumers, func(m *simMember) bool { return m.joined }) ||
			slices.ContainsFunc(classics, func(c *simClassic) bool { return c.joined })
		if want := int(growA); anyJoined && owned != want {
			t.Fatalf("settled with %d partitions owned, want %d:%s", owned, want, joined)
		}
	})
}

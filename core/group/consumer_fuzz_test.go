package group

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chronik-go/chronik/core/group/assign"
)

// simMember is a well-behaved KIP-848 client: it owns exactly the last
// assignment it was given, and nothing once fenced or gone.
type simMember struct {
	id     string
	joined bool
	epoch  int32
	owned  assign.Partitions
	topics []string
}

// FuzzConsumerGroup drives a consumer group with up to four simulated
// members — joins, full heartbeats, keepalives, leaves, subscription
// changes, topics growing and appearing, a new coordinator term — in the
// order the input says, and checks after every step that no two members
// own the same partition, and that a group that stops changing settles
// with every subscribed partition owned.
func FuzzConsumerGroup(f *testing.F) {
	f.Add([]byte{0x00, 0x01, 0x10, 0x11, 0x01, 0x11, 0x30, 0x01, 0x11, 0x50, 0x21, 0x41, 0x02, 0x60, 0x12})
	f.Add([]byte{0x00, 0x01, 0x02, 0x03, 0x10, 0x11, 0x12, 0x13, 0x33, 0x10, 0x11, 0x12, 0x70, 0x10, 0x11})
	f.Add([]byte{0x00, 0x40, 0x10, 0x01, 0x41, 0x11, 0x50, 0x50, 0x10, 0x11, 0x20, 0x21, 0x31, 0x10})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 64 {
			return
		}
		tt := &testTopics{}
		tt.set(TopicMeta{Name: "a", ID: topicA.ID, Partitions: 3}, TopicMeta{Name: "b", ID: topicB.ID, Partitions: 2})
		s, f := testService(t, 1, func(c *Config) { c.Topics = tt.list })
		ctx := context.Background()
		members := make([]*simMember, 4)
		for i := range members {
			members[i] = &simMember{id: fmt.Sprint("m", i), topics: []string{"a"}}
		}
		term := uint64(1)
		growA := int32(3)
		beat := func(m *simMember, req ConsumerHeartbeat) { m.beat(t, s, req) }
		full := (*simMember).full
		step := func(op byte) {
			m := members[op&3]
			switch op >> 4 & 7 {
			case 0: // join, or a full heartbeat
				if !m.joined {
					m.epoch, m.owned = 0, assign.Partitions{}
				}
				beat(m, full(m))
			case 1: // full heartbeat (as a keepalive when not joined: ignored)
				if m.joined {
					beat(m, full(m))
				}
			case 2: // keepalive
				if m.joined {
					beat(m, ConsumerHeartbeat{Group: "g", MemberID: m.id, MemberEpoch: m.epoch, RebalanceTimeout: -1})
				}
			case 3: // leave
				if m.joined {
					beat(m, ConsumerHeartbeat{Group: "g", MemberID: m.id, MemberEpoch: -1, RebalanceTimeout: -1})
				}
			case 4: // subscribe to b as well, or drop it
				if len(m.topics) == 1 {
					m.topics = []string{"a", "b"}
				} else {
					m.topics = []string{"a"}
				}
				if m.joined {
					beat(m, full(m))
				}
			case 5: // topic a grows
				growA++
				tt.set(TopicMeta{Name: "a", ID: topicA.ID, Partitions: growA}, TopicMeta{Name: "b", ID: topicB.ID, Partitions: 2})
			case 6: // a new coordinator term (same broker): the group is reloaded
				term++
				f.SetLeader(2, term)
				term++
				f.SetLeader(1, term)
				waitLoaded(t, s)
			case 7: // the member's answer is lost: it heartbeats again at its epoch
				if m.joined {
					req := full(m)
					if _, err := s.ConsumerHeartbeat(ctx, req); err == nil {
						beat(m, req)
					}
				}
			}
			checkDisjoint(t, members)
		}
		for _, op := range ops {
			step(op)
		}
		// Settle: joined members heartbeat fully until nothing changes;
		// then every subscribed partition is owned by exactly one.
		for range 8 {
			for _, m := range members {
				if m.joined {
					beat(m, full(m))
					checkDisjoint(t, members)
				}
			}
		}
		want := map[assign.TopicID]int32{}
		for _, m := range members {
			if !m.joined {
				continue
			}
			want[topicA.ID] = growA
			for _, t := range m.topics {
				if t == "b" {
					want[topicB.ID] = 2
				}
			}
		}
		owned := 0
		for _, m := range members {
			owned += m.owned.Len()
		}
		total := 0
		for _, n := range want {
			total += int(n)
		}
		if owned != total {
			t.Fatalf("settled with %d partitions owned, want %d: %+v", owned, total, members)
		}
	})
}

// beat sends a heartbeat and takes its answer as the client would.
func (m *simMember) beat(t *testing.T, s *Service, req ConsumerHeartbeat) {
	t.Helper()
	res, err := s.ConsumerHeartbeat(context.Background(), req)
	switch {
	case err == nil && req.MemberEpoch < 0:
		m.joined, m.owned = false, nil
	case err == nil:
		m.joined, m.epoch = true, res.MemberEpoch
		if res.Assignment != nil {
			m.owned = res.Assignment // revoke what is gone, take what is new
		}
	case errors.Is(err, ErrFencedMemberEpoch), errors.Is(err, ErrUnknownMember), errors.Is(err, ErrGroupNotFound):
		m.joined, m.owned = false, nil // start over
	case errors.Is(err, ErrNotCoordinator), errors.Is(err, ErrLoadInProgress):
	default:
		t.Fatalf("%s: %+v: %v", m.id, req, err)
	}
}

// full is the member's full heartbeat (subscription, owned partitions) at
// its epoch, in group "g".
func (m *simMember) full() ConsumerHeartbeat {
	owned := m.owned
	if owned == nil {
		owned = assign.Partitions{}
	}
	return ConsumerHeartbeat{
		Group: "g", MemberID: m.id, MemberEpoch: m.epoch, RebalanceTimeout: time.Minute,
		SubscribedTopicNames: m.topics, Owned: owned.Clone(),
	}
}

// checkDisjoint fails when two members own a partition.
func checkDisjoint(t *testing.T, members []*simMember) {
	t.Helper()
	for i, a := range members {
		for _, b := range members[i+1:] {
			if a.owned.Intersects(b.owned) {
				t.Fatalf("%s owns %v and %s owns %v", a.id, a.owned, b.id, b.owned)
			}
		}
	}
}

// waitLoaded waits until the service leads its shard again.
func waitLoaded(t *testing.T, s *Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitLoaded(ctx); err != nil {
		t.Fatal(err)
	}
	for ctx.Err() == nil {
		if _, err := s.route("g"); err == nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("shard not loaded again")
}

package kafka

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/group"
	"github.com/chronik-go/chronik/core/group/assign"
)

// consumerGroups is a coordinator that serves KIP-848 consumer groups with
// scripted answers and records the heartbeats it gets.
type consumerGroups struct {
	noGroups

	mu     sync.Mutex
	served bool
	beats  []group.ConsumerHeartbeat
	res    group.ConsumerHeartbeatResult
	err    error
	desc   map[string]group.ConsumerGroupDescription
}

func (g *consumerGroups) ConsumerProtocol() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.served
}

// set changes the coordinator's answers.
func (g *consumerGroups) set(f func(g *consumerGroups)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f(g)
}

func (g *consumerGroups) ConsumerHeartbeat(_ context.Context, req group.ConsumerHeartbeat) (group.ConsumerHeartbeatResult, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.beats = append(g.beats, req)
	return g.res, g.err
}

func (g *consumerGroups) DescribeConsumerGroup(_ context.Context, id string) (group.ConsumerGroupDescription, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	d, ok := g.desc[id]
	if !ok {
		return d, fmt.Errorf("%w: group %s not found", group.ErrGroupNotFound, id)
	}
	return d, nil
}

func (g *consumerGroups) last() group.ConsumerHeartbeat {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.beats[len(g.beats)-1]
}

func TestConsumerGroupHeartbeatAPI(t *testing.T) {
	groups := &consumerGroups{served: true}
	ts := startServer(t, Config{Groups: groups}, nil)
	ts.createTopic(t, "t", 3)
	topic, _ := ts.b.Topic("t")
	c := ts.dial(t)

	// ApiVersions lists both APIs and finalizes group.version 1.
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version, av.ClientSoftwareName, av.ClientSoftwareVersion = 3, "test", "1"
	avr := c.do(av).(*kmsg.ApiVersionsResponse)
	if len(avr.ApiKeys) != len(apis) {
		t.Fatalf("%d keys advertised with consumer groups, want %d", len(avr.ApiKeys), len(apis))
	}
	if len(avr.FinalizedFeatures) != 1 || avr.FinalizedFeatures[0].Name != "group.version" || avr.FinalizedFeatures[0].MaxVersionLevel != 1 {
		t.Fatalf("finalized features %+v", avr.FinalizedFeatures)
	}

	// v1 join: every field reaches the coordinator; the answer's
	// assignment is encoded by topic ID.
	groups.set(func(g *consumerGroups) {
		g.res = group.ConsumerHeartbeatResult{
			MemberID: "m1", MemberEpoch: 4, HeartbeatInterval: 5 * time.Second,
			Assignment: assign.Partitions{topic.ID: {0, 2}},
		}
	})
	hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb.Version, hb.Group, hb.MemberID, hb.MemberEpoch = 1, "g", "m1", 0
	hb.RebalanceTimeoutMillis, hb.SubscribedTopicRegex, hb.ServerAssignor = 30000, kmsg.StringPtr("t.*"), kmsg.StringPtr("range")
	hb.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	r := c.do(hb).(*kmsg.ConsumerGroupHeartbeatResponse)
	if r.ErrorCode != 0 || r.MemberID == nil || *r.MemberID != "m1" || r.MemberEpoch != 4 || r.HeartbeatIntervalMillis != 5000 {
		t.Fatalf("join response %+v", r)
	}
	if r.Assignment == nil || len(r.Assignment.Topics) != 1 || r.Assignment.Topics[0].TopicID != topic.ID || len(r.Assignment.Topics[0].Partitions) != 2 {
		t.Fatalf("assignment %+v", r.Assignment)
	}
	got := groups.last()
	if got.GeneratedMemberID || got.RebalanceTimeout != 30*time.Second || got.SubscribedTopicRegex == nil || *got.SubscribedTopicRegex != "t.*" ||
		got.ServerAssignor == nil || got.Owned == nil || got.Owned.Len() != 0 || got.SubscribedTopicNames != nil || got.ClientHost == "" {
		t.Fatalf("coordinator got %+v", got)
	}

	// A keepalive: nothing but the epoch; no assignment in the answer.
	groups.set(func(g *consumerGroups) { g.res.Assignment = nil })
	ka := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	ka.Version, ka.Group, ka.MemberID, ka.MemberEpoch, ka.RebalanceTimeoutMillis = 1, "g", "m1", 4, -1
	if r := c.do(ka).(*kmsg.ConsumerGroupHeartbeatResponse); r.ErrorCode != 0 || r.Assignment != nil {
		t.Fatalf("keepalive response %+v", r)
	}
	if got := groups.last(); got.Owned != nil || got.RebalanceTimeout >= 0 || got.SubscribedTopicNames != nil {
		t.Fatalf("keepalive reached the coordinator as %+v", got)
	}

	// v0 lets the coordinator name the member, and has no regex.
	v0 := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	v0.Version, v0.Group, v0.RebalanceTimeoutMillis, v0.SubscribedTopicNames = 0, "g", 1000, []string{"t"}
	v0.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{{TopicID: topic.ID, Partitions: []int32{2, 1, 2}}}
	c.do(v0)
	if got := groups.last(); !got.GeneratedMemberID || !got.Owned.Equal(assign.Partitions{topic.ID: {1, 2}}) || len(got.SubscribedTopicNames) != 1 {
		t.Fatalf("v0 reached the coordinator as %+v", got)
	}

	// Errors carry their code and message.
	groups.set(func(g *consumerGroups) {
		g.err = fmt.Errorf("%w: member m1 sent epoch 9, it is at 4", group.ErrFencedMemberEpoch)
	})
	r = c.do(ka).(*kmsg.ConsumerGroupHeartbeatResponse)
	if r.ErrorCode != kerr.FencedMemberEpoch.Code || r.ErrorMessage == nil || *r.ErrorMessage == "" {
		t.Fatalf("fenced: %+v", r)
	}
	for err, code := range map[error]int16{
		group.ErrInvalidRequest:       kerr.InvalidRequest.Code,
		group.ErrInvalidRegex:         kerr.InvalidRegularExpression.Code,
		group.ErrUnsupportedAssignor:  kerr.UnsupportedAssignor.Code,
		group.ErrStaleMemberEpoch:     kerr.StaleMemberEpoch.Code,
		group.ErrUnreleasedInstanceID: kerr.UnreleasedInstanceID.Code,
		group.ErrGroupNotFound:        kerr.GroupIDNotFound.Code,
		group.ErrUnknownMember:        kerr.UnknownMemberID.Code,
		group.ErrGroupMaxSizeReached:  kerr.GroupMaxSizeReached.Code,
	} {
		groups.set(func(g *consumerGroups) { g.err = err })
		if r := c.do(ka).(*kmsg.ConsumerGroupHeartbeatResponse); r.ErrorCode != code {
			t.Errorf("%v: code %d, want %d", err, r.ErrorCode, code)
		}
	}
}

func TestConsumerGroupDescribeAPI(t *testing.T) {
	groups := &consumerGroups{served: true}
	ts := startServer(t, Config{Groups: groups}, nil)
	ts.createTopic(t, "t", 3)
	topic, _ := ts.b.Topic("t")
	gone := [16]byte{9}
	groups.set(func(g *consumerGroups) {
		g.desc = map[string]group.ConsumerGroupDescription{
			"g": {
				Group: "g", State: "Reconciling", GroupEpoch: 5, AssignmentEpoch: 5, Assignor: "uniform",
				Members: []group.ConsumerMemberDescription{{
					MemberID: "m1", InstanceID: "i", ClientID: "c", ClientHost: "/127.0.0.1", MemberEpoch: 4,
					SubscribedTopicNames: []string{"t"},
					Assignment:           assign.Partitions{topic.ID: {0}, gone: {1}},
					Target:               assign.Partitions{topic.ID: {0, 1}},
				}},
			},
		}
	})
	c := ts.dial(t)
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Version, req.Groups = 1, []string{"g", "nope"}
	r := c.do(req).(*kmsg.ConsumerGroupDescribeResponse)
	g := r.Groups[0]
	if g.ErrorCode != 0 || g.State != "Reconciling" || g.Epoch != 5 || g.AssignorName != "uniform" || len(g.Members) != 1 {
		t.Fatalf("group %+v", g)
	}
	m := g.Members[0]
	if m.MemberType != 1 || m.InstanceID == nil || m.RackID != nil || m.SubscribedTopicRegex != nil || len(m.SubscribedTopics) != 1 {
		t.Fatalf("member %+v", m)
	}
	// The deleted topic is left out; names come from the topic IDs.
	if a := m.Assignment.TopicPartitions; len(a) != 1 || a[0].Topic != "t" || len(a[0].Partitions) != 1 {
		t.Fatalf("assignment %+v", a)
	}
	if a := m.TargetAssignment.TopicPartitions; len(a) != 1 || len(a[0].Partitions) != 2 {
		t.Fatalf("target %+v", a)
	}
	if g := r.Groups[1]; g.ErrorCode != kerr.GroupIDNotFound.Code || g.ErrorMessage == nil {
		t.Fatalf("unknown group %+v", g)
	}

	// Not served: every group, and every heartbeat, is UNSUPPORTED_VERSION.
	groups.set(func(g *consumerGroups) { g.served = false })
	if r := c.do(req).(*kmsg.ConsumerGroupDescribeResponse); r.Groups[0].ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("describe while not served: %+v", r.Groups[0])
	}
	hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb.Version, hb.Group, hb.MemberID = 1, "g", "m"
	if r := c.do(hb).(*kmsg.ConsumerGroupHeartbeatResponse); r.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("heartbeat while not served: %+v", r)
	}
}

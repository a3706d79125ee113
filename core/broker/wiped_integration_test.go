//go:build integration

package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/cluster"
)

// TestWipedBrokerNeverReusesReplicaIDs: a broker whose data dir was wiped
// comes back before the partition's leader has reported itself to the meta
// shard (reports are held back here; under load they can lag). Its
// replica of that partition has run before, so it must ask for a new
// replica ID — starting the old one empty could vote twice in a term —
// and catch up under the new one.
func TestWipedBrokerNeverReusesReplicaIDs(t *testing.T) {
	bs, nodes := brokertest.StartCluster(t, 3, nil)
	for _, b := range bs {
		broker.HoldLeaderReports(b, true)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokertest.KafkaAddrs(nodes)[:2]...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 3, nil, "wiped"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	replicaOn := func(b *broker.Broker) (cluster.ReplicaStatus, bool) {
		for _, r := range b.Status().Replicas {
			if r.Topic == "wiped" {
				return r, true
			}
		}
		return cluster.ReplicaStatus{}, false
	}
	var first cluster.ReplicaStatus
	waitFor(ctx, t, "broker 1's replica of the new partition, with a leader", func() bool {
		var ok bool
		first, ok = replicaOn(bs[0])
		return ok && first.Leader > 0
	})
	v := int(first.Leader % 3) // a follower: node (leader mod 3)+1
	old, ok := replicaOn(bs[v])
	if !ok || old.IsLeader {
		t.Fatalf("broker %d's replica %+v (%v), want a follower", v+1, old, ok)
	}
	if err := bs[v].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	bs[v] = nil                 // stopped here; the cleanup skips it
	cfg := brokertest.Config(t) // a new, empty data dir: the broker wiped
	n := nodes[v]
	cfg.NodeID, cfg.Nodes = n.ID, nodes
	cfg.KafkaAddr, cfg.AdvertiseAddr, cfg.RaftAddr, cfg.HTTPAddr = n.Kafka, n.Kafka, n.Raft, n.HTTP
	wiped, err := broker.Start(ctx, cfg, brokertest.Logger())
	if err != nil {
		t.Fatalf("restart broker %d wiped: %v", n.ID, err)
	}
	t.Cleanup(func() { _ = wiped.Stop(context.Background()) })
	broker.HoldLeaderReports(wiped, true)
	// Give its reconciler time to decide on a current view while no
	// leader report is in the meta state.
	time.Sleep(3 * time.Second)
	if r, ok := replicaOn(wiped); ok && r.Replica == old.Replica {
		t.Fatalf("wiped broker %d started its old replica ID %d of a partition that ran before", n.ID, old.Replica)
	}
	for _, b := range append(bs[:v:v], append(bs[v+1:], wiped)...) {
		broker.HoldLeaderReports(b, false)
	}
	waitFor(ctx, t, "the wiped broker to rejoin the partition under a new replica ID", func() bool {
		r, ok := replicaOn(wiped)
		return ok && r.Replica != old.Replica && r.Leader > 0
	})
}

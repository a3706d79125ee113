//go:build e2e

package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupMember is a franz-go consumer in a KIP-848 consumer group
// (ServerSideBalancer) that commits every poll before it lets the group
// move its partitions, recording what it read.
type groupMember struct {
	cl   *kgo.Client
	stop context.CancelFunc
	done chan struct{}

	mu     sync.Mutex
	seen   map[string]int // record value → times read
	errors []string
}

func startGroupMember(t *testing.T, seeds []string, topic, group, name string) *groupMember {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ClientID(name),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ServerSideBalancer(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.MetadataMinAge(250*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &groupMember{cl: cl, stop: cancel, done: make(chan struct{}), seen: map[string]int{}}
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			fs := cl.PollRecords(ctx, 500)
			recs := fs.Records()
			m.mu.Lock()
			for _, r := range recs {
				m.seen[string(r.Value)]++
			}
			m.mu.Unlock()
			for len(recs) > 0 && ctx.Err() == nil {
				cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
				err := cl.CommitRecords(cctx, recs...)
				ccancel()
				if err == nil {
					break
				}
				m.mu.Lock()
				m.errors = append(m.errors, err.Error())
				m.mu.Unlock()
				time.Sleep(100 * time.Millisecond)
			}
			cl.AllowRebalance()
		}
	}()
	t.Cleanup(m.close)
	return m
}

func (m *groupMember) close() {
	m.stop()
	<-m.done
	m.cl.Close()
}

func (m *groupMember) read() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int, len(m.seen))
	for v, n := range m.seen {
		out[v] = n
	}
	return out
}

// TestE2EConsumerGroupCoordinatorKill: a KIP-848 consumer group of two
// franz-go members reads a 4-partition RF3 topic on three processes while
// records are produced, and the group's coordinator is killed with -9 and
// restarted. The new coordinator carries on from the stored group: both
// members keep their member IDs (a coordinator without the group would
// have fenced them, and franz-go rejoins under a new ID), every record is
// read exactly once, and the committed offsets reach the end of every
// partition.
func TestE2EConsumerGroupCoordinatorKill(t *testing.T) {
	const topic, group, batches = "cg848", "cg848-group", 30
	c := startClusterWith(t, 3, "[kafka]\ngroup-consumer-heartbeat-interval = \"250ms\"\ngroup-consumer-session-timeout = \"30s\"\n")
	ctx, cancel := context.WithTimeout(context.Background(), 3*e2eTimeout)
	defer cancel()
	admCl := newClient(t, c.addrs[0].kafka)
	adm := kadm.NewClient(admCl)
	if resp, err := adm.CreateTopic(ctx, 4, 3, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("create %s: %v %v", topic, err, resp.Err)
	}
	waitUntil(t, metadataTimeout, "leaders", func() (bool, string) {
		parts, s := c.leaders(topic, -1)
		return len(parts) == 4, s
	})
	prod := newClient(t, c.addrs[0].kafka, kgo.SeedBrokers(c.seeds()...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.RecordDeliveryTimeout(deliveryTimeout))
	produced := 0
	produce := func(n int) error {
		recs := make([]*kgo.Record, n)
		for i := range recs {
			recs[i] = kgo.StringRecord("r" + strconv.Itoa(produced+i))
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		produced += n
		return nil
	}
	if err := produce(1000); err != nil {
		t.Fatal(err)
	}

	a := startGroupMember(t, c.seeds(), topic, group, "a")
	b := startGroupMember(t, c.seeds(), topic, group, "b")
	readBy := func(ms ...*groupMember) map[string]int {
		all := map[string]int{}
		for _, m := range ms {
			for v, n := range m.read() {
				all[v] += n
			}
		}
		return all
	}
	// Both members hold partitions (a may have read everything before b
	// joined) and everything so far is read.
	waitUntil(t, e2eTimeout, "both members to hold partitions", func() (bool, string) {
		ds, err := adm.DescribeConsumerGroups(ctx, group)
		if err != nil {
			return false, err.Error()
		}
		d := ds[group]
		held := 0
		for _, m := range d.Members {
			if len(m.Assignment) > 0 {
				held++
			}
		}
		n := len(readBy(a, b))
		return d.State == "Stable" && held == 2 && n == produced, fmt.Sprintf("state %s, %d members holding partitions, %d of %d records read", d.State, held, n, produced)
	})
	idA, epochA := a.cl.GroupMetadata()
	idB, _ := b.cl.GroupMetadata()

	coord := -1
	for _, d := range adm.FindGroupCoordinators(ctx, group) {
		if d.Err == nil {
			coord = int(d.NodeID) - 1
		}
	}
	admCl.Close()
	if coord < 0 {
		t.Fatal("no coordinator for the group")
	}
	// Records keep coming while the coordinator is down and after.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range batches {
			if err := produce(100); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	c.killThenRestart(coord, " (the group coordinator)", 3*time.Second, time.Second)
	wg.Wait()
	waitUntil(t, e2eTimeout, "every record read", func() (bool, string) {
		n := len(readBy(a, b))
		return n == produced, fmt.Sprintf("%d of %d distinct records read", n, produced)
	})
	if id, epoch := a.cl.GroupMetadata(); id != idA || epoch < epochA {
		t.Errorf("member a: %s at epoch %d after the coordinator's restart, was %s at %d", id, epoch, idA, epochA)
	}
	if id, _ := b.cl.GroupMetadata(); id != idB {
		t.Errorf("member b: %s after the coordinator's restart, was %s", id, idB)
	}
	for v, n := range readBy(a, b) {
		if n != 1 {
			t.Errorf("%s read %d times", v, n)
		}
	}
	if len(a.read()) == 0 || len(b.read()) == 0 {
		t.Errorf("a member read nothing: a %d, b %d", len(a.read()), len(b.read()))
	}
	a.close()
	b.close()
	t.Logf("coordinator node %d killed; %d records read (a %d, b %d); commit errors: a %v, b %v",
		coord+1, produced, len(a.read()), len(b.read()), a.errors, b.errors)

	check := kadm.NewClient(newClient(t, c.addrs[(coord+1)%3].kafka, kgo.SeedBrokers(c.seeds()...)))
	// The restarted node's partitions may still be electing leaders.
	var ends kadm.ListedOffsets
	for {
		var err error
		if ends, err = check.ListEndOffsets(ctx, topic); err == nil {
			err = ends.Error()
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	committed, err := check.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if got, ok := committed.Lookup(topic, o.Partition); !ok || got.At != o.Offset {
			t.Errorf("partition %d committed at %d, want its end %d", o.Partition, got.At, o.Offset)
		}
	})
}

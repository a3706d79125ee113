//go:build e2e

package compat

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	adminClientID = "compat-admin" // left out of docs/clients.md
	adminTimeout  = 30 * time.Second
	adminPoll     = 50 * time.Millisecond
)

// admin is the test's own view of the broker, through franz-go and kadm:
// it checks what the clients did.
type admin struct {
	addr string
	cl   *kgo.Client
	adm  *kadm.Client
}

func newAdmin(t *testing.T, addr string) *admin {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID(adminClientID))
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	return &admin{addr: addr, cl: cl, adm: kadm.NewClient(cl)}
}

func (a *admin) close() { a.cl.Close() }

// createTopic creates topic for a client that has no admin API.
func (a *admin) createTopic(ctx context.Context, topic string, partitions int32) error {
	resp, err := a.adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err != nil {
		return err
	}
	if resp.Err != nil {
		return fmt.Errorf("%w (%s)", resp.Err, resp.ErrMessage)
	}
	return nil
}

// waitPartitions waits until topic exists with n partitions, each with a
// leader, and fails if it shows up with another count.
func (a *admin) waitPartitions(t *testing.T, topic string, n int) {
	t.Helper()
	deadline := time.Now().Add(adminTimeout)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		td, err := a.adm.ListTopics(ctx, topic)
		cancel()
		switch {
		case err != nil:
			last = err.Error()
		case td[topic].Err != nil:
			last = td[topic].Err.Error()
		case len(td[topic].Partitions) != n:
			t.Fatalf("topic %s has %d partitions, want %d (auto-created instead of created?)", topic, len(td[topic].Partitions), n)
		default:
			leaders := 0
			for _, p := range td[topic].Partitions {
				if p.Err == nil && p.Leader >= 0 {
					leaders++
				}
			}
			if leaders == n {
				return
			}
			last = fmt.Sprintf("%d of %d partitions have a leader", leaders, n)
		}
		time.Sleep(adminPoll)
	}
	t.Fatalf("topic %s not ready within %s: %s", topic, adminTimeout, last)
}

// endOffsets returns the high watermarks of topic once they add up to total.
func (a *admin) endOffsets(t *testing.T, topic string, total int64) map[int32]int64 {
	t.Helper()
	deadline := time.Now().Add(adminTimeout)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		offs, err := a.adm.ListEndOffsets(ctx, topic)
		cancel()
		if err == nil {
			err = offs.Error()
		}
		if err != nil {
			last = err.Error()
		} else {
			end := make(map[int32]int64)
			var sum int64
			offs.Each(func(o kadm.ListedOffset) {
				end[o.Partition] = o.Offset
				sum += o.Offset
			})
			if sum == total && len(end) == partitions {
				return end
			}
			last = fmt.Sprintf("high watermarks %v add up to %d", end, sum)
		}
		time.Sleep(adminPoll)
	}
	t.Fatalf("topic %s: want %d records in all within %s: %s", topic, total, adminTimeout, last)
	return nil
}

// read returns the records of topic from[p]..to[p]-1 of every partition,
// read with kgo without a group.
func (a *admin) read(t *testing.T, topic string, from, to map[int32]int64) []*kgo.Record {
	t.Helper()
	parts := make(map[int32]kgo.Offset)
	for p, o := range from {
		if to[p] > o {
			parts[p] = kgo.NewOffset().At(o)
		}
	}
	var out []*kgo.Record
	if len(parts) == 0 {
		return out
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.addr), kgo.ClientID(adminClientID),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	for len(parts) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: partitions %v not read up to %v within %s", topic, slices.Sorted(maps.Keys(parts)), to, adminTimeout)
		}
		fs.EachError(func(_ string, p int32, err error) {
			t.Logf("read %s/%d: %v (retrying)", topic, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < to[r.Partition] {
				out = append(out, r)
			}
			if r.Offset >= to[r.Partition]-1 {
				delete(parts, r.Partition)
			}
		})
	}
	return out
}

// groupKeys are the APIs a classic consumer group needs.
var groupKeys = []kmsg.Key{kmsg.FindCoordinator, kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat, kmsg.LeaveGroup, kmsg.OffsetCommit, kmsg.OffsetFetch}

// requireGroupAPIs fails the test at once, naming what is missing, when the
// broker does not advertise the consumer-group APIs (each client would only
// time out).
func (a *admin) requireGroupAPIs(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	vs, err := a.adm.ApiVersions(ctx)
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	var missing []string
	vs.Each(func(bv kadm.BrokerApiVersions) {
		for _, k := range groupKeys {
			if _, ok := bv.KeyMaxVersion(int16(k)); !ok {
				missing = append(missing, k.Name())
			}
		}
	})
	if len(missing) > 0 {
		t.Fatalf("the broker does not advertise %s: no consumer group can work", strings.Join(missing, ", "))
	}
}

// checkCommitted checks that group's committed offsets for topic are want.
// checkConsumerGroup checks with ConsumerGroupDescribe that group is a
// KIP-848 consumer group, empty now that its member left, whose epoch
// rose at least with the join and the leave.
func (a *admin) checkConsumerGroup(t *testing.T, group string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		t.Fatalf("ConsumerGroupDescribe %s: %v", group, err)
	}
	if g := resp.Groups[0]; g.ErrorCode != 0 || g.State != "Empty" || g.Epoch < 2 || len(g.Members) != 0 {
		t.Fatalf("ConsumerGroupDescribe %s: %+v (%v)", group, g, kerr.ErrorForCode(g.ErrorCode))
	}
}

func (a *admin) checkCommitted(t *testing.T, group, topic string, want map[int32]int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	resp, err := a.adm.FetchOffsets(ctx, group)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("fetch committed offsets of group %s: %v", group, err)
	}
	got := make(map[int32]int64)
	for p := range want {
		if o, ok := resp.Lookup(topic, p); ok {
			got[p] = o.At
		} else {
			got[p] = -1
		}
	}
	if !maps.Equal(got, want) {
		t.Fatalf("group %s committed %v for %s, want the end offsets %v", group, got, topic, want)
	}
}

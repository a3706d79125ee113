//go:build integration

package broker_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/broker/brokertest/faultnet"
	"github.com/chronik-go/chronik/core/config"
)

// TestCutOffLeaderServesNoStaleReads cuts a partition's leader off from
// its peers while a reader keeps asking it for the high watermark
// (ListOffsets, Fetch) and a writer finds the successor and appends there.
// The cut-off leader believes it leads until its quorum check fails, one
// to two election timeouts after the cut; its peers elect a successor
// after one to two. Whatever the order, no read it answers after an
// append was acknowledged elsewhere may miss that append (a stale read):
// it must refuse to answer instead.
func TestCutOffLeaderServesNoStaleReads(t *testing.T) {
	fc, network := startCutOffCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const topic = "cutoff"
	fc.createTopic(ctx, t, topic, 1)
	reader := &linClient{cl: brokertest.RawClient(t, fc.kafkaAddrs()), topic: topic}
	writer := &linClient{cl: brokertest.RawClient(t, fc.kafkaAddrs()), topic: topic}
	var hw int64
	runCutOffRounds(ctx, t, fc, network, cutOffCase{
		what: "partition leader",
		leader: func(ctx context.Context) (int32, bool) {
			lead, ok := fc.leader(topic, 0)
			if !ok {
				return -1, false
			}
			// The reader's metadata must name it too (it reads by topic ID).
			return lead, reader.refresh(ctx) == nil && reader.leader == lead
		},
		read: func(ctx context.Context, node int32, i int) (int64, string, error) {
			reader.leader = node
			if i%2 == 0 {
				end, err := reader.listEnd(ctx)
				return end, "list offsets", err
			}
			end, _, err := reader.fetch(ctx, hw)
			hw = max(hw, end)
			return end, "fetch", err
		},
		write: func(ctx context.Context, node int32, value string) (int64, error) {
			writer.leader = node
			off, err := writer.produce(ctx, value)
			return off + 1, err // the high watermark it guarantees
		},
		refused: func(err error) bool {
			return errors.Is(err, kerr.NotLeaderForPartition) || errors.Is(err, kerr.LeaderNotAvailable)
		},
	})
	// The leases' ReadIndex requests are counted: confirmed ones, and the
	// cut-off leaders' failed ones.
	counts := map[string]int{}
	line := regexp.MustCompile(`\nchronik_partition_read_lease_confirmations_total\{[^}]*outcome="(\w+)"[^}]*\} (\d+)`)
	for _, n := range fc.nodes {
		for _, m := range line.FindAllStringSubmatch(metricsText(t, n.HTTP), -1) {
			c, _ := strconv.Atoi(m[2])
			counts[m[1]] += c
		}
	}
	t.Logf("read lease confirmations over the brokers: %v", counts)
	if counts["confirmed"] == 0 || counts["failed"] == 0 {
		t.Errorf("chronik_partition_read_lease_confirmations_total over the brokers: %v; want confirmed and failed ones", counts)
	}
}

// TestCutOffCoordinatorServesNoStaleOffsets is the same for a group's
// coordinator: a reader keeps fetching the group's committed offset from
// the cut-off coordinator (OffsetFetch), a writer commits ever larger
// offsets at its successor; no offset fetched after a commit was
// acknowledged elsewhere may be older than that commit.
func TestCutOffCoordinatorServesNoStaleOffsets(t *testing.T) {
	fc, network := startCutOffCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const topic, group = "cutoff", "cutoff-group"
	fc.createTopic(ctx, t, topic, 1)
	reader := &linClient{cl: brokertest.RawClient(t, fc.kafkaAddrs()), topic: topic}
	writer := &linClient{cl: brokertest.RawClient(t, fc.kafkaAddrs()), topic: topic}
	committed := int64(0)
	runCutOffRounds(ctx, t, fc, network, cutOffCase{
		what: "group coordinator",
		leader: func(ctx context.Context) (int32, bool) {
			// Every broker names the same coordinator.
			named := int32(-1)
			for _, n := range fc.nodes {
				req := kmsg.NewPtrFindCoordinatorRequest()
				req.CoordinatorKey, req.CoordinatorKeys = group, []string{group} // v0–3, v4+
				resp, err := req.RequestWith(ctx, reader.cl.Broker(int(n.ID)))
				if err != nil {
					return -1, false
				}
				node, code := resp.NodeID, resp.ErrorCode
				if len(resp.Coordinators) == 1 {
					node, code = resp.Coordinators[0].NodeID, resp.Coordinators[0].ErrorCode
				}
				if code != 0 || (named >= 0 && node != named) {
					return -1, false
				}
				named = node
			}
			return named, true
		},
		read: func(ctx context.Context, node int32, _ int) (int64, string, error) {
			reader.leader = node
			off, err := reader.fetchCommitted(ctx, group)
			return off, "offset fetch", err
		},
		write: func(ctx context.Context, node int32, _ string) (int64, error) {
			writer.leader = node
			committed++
			return committed, writer.commit(ctx, group, committed)
		},
		refused: func(err error) bool {
			return errors.Is(err, kerr.NotCoordinator) || errors.Is(err, kerr.CoordinatorNotAvailable) || errors.Is(err, kerr.CoordinatorLoadInProgress)
		},
	})
}

// startCutOffCluster starts three brokers with an election timeout of
// 200 ms (the default) instead of the test brokers' 50 ms, which widens
// the windows in which a successor is elected before the cut-off leader
// steps down.
func startCutOffCluster(t *testing.T) (*faultCluster, *faultnet.Network) {
	network := faultnet.New(faultSeed(t))
	return startFaultCluster(t, network, func(c *config.Config) { c.Raft.ElectionRTT = 40 }), network
}

// cutOffCase is what a cut-off test reads and writes.
type cutOffCase struct {
	what string
	// leader returns the node that leads, once it is settled.
	leader func(ctx context.Context) (int32, bool)
	// read asks node for the value (i counts the reads); write has node
	// take a write and returns the value every read after it must reach.
	read    func(ctx context.Context, node int32, i int) (int64, string, error)
	write   func(ctx context.Context, node int32, value string) (int64, error)
	refused func(err error) bool // node refused a read: it no longer serves
}

// runCutOffRounds runs the rounds of a cut-off test: find the leader, let
// a reader read from it, cut it off both ways, write at its successor
// until the reader is refused, heal; then check no read the cut-off leader
// answered missed a write acknowledged before the read began.
func runCutOffRounds(ctx context.Context, t *testing.T, fc *faultCluster, network *faultnet.Network, c cutOffCase) {
	t.Helper()
	begin := time.Now()
	since := func() time.Duration { return time.Since(begin) }
	type ack struct {
		value int64
		at    time.Duration // answered
		node  int32
	}
	type read struct {
		value     int64
		call, ret time.Duration
		api       string
	}
	const rounds = 4
	var stale []string
	acksElsewhere := 0
	for round := range rounds {
		lead := int32(-1)
		for settle := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) { // a client's metadata backoff
			var ok bool
			if lead, ok = c.leader(ctx); ok {
				break
			}
			if time.Now().After(settle) {
				t.Fatalf("round %d: no settled %s", round, c.what)
			}
		}
		if _, _, err := writeUntil(ctx, c, []int32{lead}, fmt.Sprintf("r%d-first", round)); err != nil {
			t.Fatalf("round %d: write at %s %d: %v", round, c.what, lead, err)
		}

		// The reader sticks to lead, as a client does until it is refused.
		var (
			mu       sync.Mutex
			reads    []read
			refused  bool
			stopRead = make(chan struct{})
			readDone = make(chan struct{})
		)
		go func() {
			defer close(readDone)
			for i := 0; ; i++ {
				select {
				case <-stopRead:
					return
				default:
				}
				rctx, rcancel := context.WithTimeout(ctx, time.Second)
				rd := read{call: since()}
				var err error
				rd.value, rd.api, err = c.read(rctx, lead, i)
				rd.ret = since()
				rcancel()
				mu.Lock()
				if err == nil {
					reads = append(reads, rd)
				} else if c.refused(err) {
					refused = true
				}
				mu.Unlock()
				time.Sleep(time.Millisecond) // pace the reads, not synchronisation
			}
		}()

		// Let the reader see the leader healthy, then cut it off.
		time.Sleep(50 * time.Millisecond) // the fault schedule, not synchronisation
		cutAt := since()
		var others []int32
		for _, n := range fc.nodes {
			if n.ID != lead {
				network.Cut(fc.raftAddr(lead), fc.raftAddr(n.ID))
				network.Cut(fc.raftAddr(n.ID), fc.raftAddr(lead))
				others = append(others, n.ID)
			}
		}
		// Write at the successor until the reader is refused by the old
		// leader (or long after it should have been).
		var acks []ack
		deadline := time.Now().Add(5 * time.Second)
		for seq := 0; ; seq++ {
			mu.Lock()
			done := refused
			mu.Unlock()
			if (done && len(acks) >= 20) || time.Now().After(deadline) {
				break
			}
			v, node, err := writeUntil(ctx, c, others, fmt.Sprintf("r%d-%d", round, seq))
			if err != nil {
				t.Fatalf("round %d: no successor took a write: %v", round, err)
			}
			acks = append(acks, ack{value: v, at: since(), node: node})
		}
		close(stopRead)
		<-readDone
		network.Heal()

		mu.Lock()
		if !refused {
			t.Errorf("round %d: %s %d never refused a read after it was cut off", round, c.what, lead)
		}
		served := 0
		for _, rd := range reads {
			if rd.call < cutAt {
				continue
			}
			served++
			for _, a := range acks {
				if a.at < rd.call && rd.value < a.value {
					stale = append(stale, fmt.Sprintf("round %d: cut-off %s %d answered %s (%.3fs–%.3fs) with %d, after broker %d acknowledged %d at %.3fs",
						round, c.what, lead, rd.api, rd.call.Seconds(), rd.ret.Seconds(), rd.value, a.node, a.value, a.at.Seconds()))
					break
				}
			}
		}
		mu.Unlock()
		acksElsewhere += len(acks)
		t.Logf("round %d: %s %d cut off at %.3fs; %d writes acknowledged by its successor, %d reads answered by it since", round, c.what, lead, cutAt.Seconds(), len(acks), served)
	}
	for i, s := range stale {
		if i == 20 {
			t.Errorf("… %d more", len(stale)-i)
			break
		}
		t.Error(s)
	}
	if acksElsewhere < rounds*20 {
		t.Errorf("only %d writes were acknowledged by successors: too few to check", acksElsewhere)
	}
}

// writeUntil writes value at each of nodes in turn until one acknowledges
// it, and returns the write's value and the node. A write may take effect
// without an answer; the test counts only acknowledged ones.
func writeUntil(ctx context.Context, c cutOffCase, nodes []int32, value string) (int64, int32, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for i := 0; ; i++ {
		node := nodes[i%len(nodes)]
		wctx, wcancel := context.WithTimeout(ctx, 300*time.Millisecond)
		v, err := c.write(wctx, node, value)
		wcancel()
		if err == nil {
			return v, node, nil
		}
		if ctx.Err() != nil {
			return -1, -1, fmt.Errorf("%s: %w", value, err)
		}
		time.Sleep(2 * time.Millisecond) // a client's retry backoff
	}
}

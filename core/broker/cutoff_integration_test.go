//go:build integration

package broker_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/broker/brokertest/faultnet"
	"github.com/chronik-go/chronik/core/config"
)

// TestCutOffLeaderServesNoStaleReads cuts a partition's leader off from
// its peers while a reader keeps asking it for the high watermark and a
// writer finds the successor and appends there. The cut-off leader
// believes it leads until its quorum check fails, one to two election
// timeouts after the cut; its peers elect a successor after one to two.
// Whatever the order, no read it answers after an append was
// acknowledged elsewhere may miss that append (a stale read): it must
// refuse to answer instead.
func TestCutOffLeaderServesNoStaleReads(t *testing.T) {
	network := faultnet.New(faultSeed(t))
	// An election timeout of 200 ms (the default) instead of the test
	// brokers' 50 ms widens the windows in which a successor is elected
	// before the cut-off leader steps down.
	fc := startFaultCluster(t, network, func(c *config.Config) { c.Raft.ElectionRTT = 40 })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const topic = "cutoff"
	fc.createTopic(ctx, t, topic, 1)
	begin := time.Now()
	since := func() time.Duration { return time.Since(begin) }

	type ack struct {
		offset int64
		at     time.Duration // answered
		node   int32
	}
	type read struct {
		hw        int64
		call, ret time.Duration
		api       string
	}
	const rounds = 4
	var stale []string
	acksElsewhere := 0
	for round := range rounds {
		// The leader the brokers agree on and the metadata names.
		reader := &linClient{cl: brokertest.RawClient(t, fc.kafkaAddrs()), topic: topic}
		lead := fc.awaitLeader(ctx, t, topic, 0)
		for settle := time.Now().Add(30 * time.Second); reader.refresh(ctx) != nil || reader.leader != lead; lead = fc.awaitLeader(ctx, t, topic, 0) {
			if time.Now().After(settle) {
				t.Fatalf("round %d: the metadata names leader %d, the brokers %d", round, reader.leader, lead)
			}
			time.Sleep(10 * time.Millisecond) // a client's metadata backoff
		}
		writer := &linClient{cl: brokertest.RawClient(t, fc.kafkaAddrs()), topic: topic, leader: lead}
		if _, err := produceUntil(ctx, writer, []int32{lead}, fmt.Sprintf("r%d-first", round)); err != nil {
			t.Fatalf("round %d: produce at leader %d: %v", round, lead, err)
		}

		// The reader sticks to lead, as a consumer does until it is
		// refused.
		var (
			mu       sync.Mutex
			reads    []read
			deposed  bool // lead refused: NOT_LEADER_OR_FOLLOWER or LEADER_NOT_AVAILABLE
			cutAt    time.Duration
			stopRead = make(chan struct{})
			readDone = make(chan struct{})
		)
		go func() {
			defer close(readDone)
			var hw int64
			for i := 0; ; i++ {
				select {
				case <-stopRead:
					return
				default:
				}
				rctx, rcancel := context.WithTimeout(ctx, time.Second)
				rd := read{call: since()}
				var err error
				if i%2 == 0 {
					rd.api = "list offsets"
					rd.hw, err = reader.listEnd(rctx)
				} else {
					rd.api = "fetch"
					rd.hw, _, err = reader.fetch(rctx, hw)
				}
				rd.ret = since()
				rcancel()
				mu.Lock()
				if err == nil {
					hw = max(hw, rd.hw)
					reads = append(reads, rd)
				} else if errors.Is(err, kerr.NotLeaderForPartition) || errors.Is(err, kerr.LeaderNotAvailable) {
					deposed = true
				}
				mu.Unlock()
				time.Sleep(time.Millisecond) // pace the reads, not synchronisation
			}
		}()

		// Let the reader see the leader healthy, then cut it off.
		time.Sleep(50 * time.Millisecond) // the fault schedule, not synchronisation
		mu.Lock()
		cutAt = since()
		mu.Unlock()
		for _, n := range fc.nodes {
			if n.ID != lead {
				network.Cut(fc.raftAddr(lead), fc.raftAddr(n.ID))
				network.Cut(fc.raftAddr(n.ID), fc.raftAddr(lead))
			}
		}
		var others []int32
		for _, n := range fc.nodes {
			if n.ID != lead {
				others = append(others, n.ID)
			}
		}
		// Append at the successor until the reader is refused by the old
		// leader (or long after it should have been).
		var acks []ack
		deadline := time.Now().Add(5 * time.Second)
		for seq := 0; ; seq++ {
			mu.Lock()
			done := deposed
			mu.Unlock()
			if (done && len(acks) >= 20) || time.Now().After(deadline) {
				break
			}
			off, err := produceUntil(ctx, writer, others, fmt.Sprintf("r%d-%d", round, seq))
			if err != nil {
				t.Fatalf("round %d: no successor took an append: %v", round, err)
			}
			acks = append(acks, ack{offset: off, at: since(), node: writer.leader})
		}
		close(stopRead)
		<-readDone
		network.Heal()

		mu.Lock()
		servedAfterCut := 0
		if !deposed {
			t.Errorf("round %d: leader %d never refused a read after it was cut off", round, lead)
		}
		for _, rd := range reads {
			if rd.call < cutAt {
				continue
			}
			servedAfterCut++
			for _, a := range acks {
				if a.at < rd.call && rd.hw <= a.offset {
					stale = append(stale, fmt.Sprintf("round %d: cut-off leader %d answered %s (%.3fs–%.3fs) with high watermark %d, after offset %d was acknowledged by broker %d at %.3fs",
						round, lead, rd.api, rd.call.Seconds(), rd.ret.Seconds(), rd.hw, a.offset, a.node, a.at.Seconds()))
					break
				}
			}
		}
		mu.Unlock()
		acksElsewhere += len(acks)
		t.Logf("round %d: leader %d cut off at %.3fs; %d appends acknowledged by its successor, %d reads answered by it since", round, lead, cutAt.Seconds(), len(acks), servedAfterCut)
	}
	for i, s := range stale {
		if i == 20 {
			t.Errorf("… %d more", len(stale)-i)
			break
		}
		t.Error(s)
	}
	if acksElsewhere < rounds*20 {
		t.Errorf("only %d appends were acknowledged by successors: too few to check", acksElsewhere)
	}
}

// produceUntil appends value at each of nodes in turn until one
// acknowledges it, and leaves c pointed at that node. An append may take
// effect without an answer; the test counts only acknowledged ones.
func produceUntil(ctx context.Context, c *linClient, nodes []int32, value string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for i := 0; ; i++ {
		c.leader = nodes[i%len(nodes)]
		pctx, pcancel := context.WithTimeout(ctx, 300*time.Millisecond)
		off, err := c.produce(pctx, value)
		pcancel()
		if err == nil {
			return off, nil
		}
		if ctx.Err() != nil {
			return -1, fmt.Errorf("%s: %w", value, err)
		}
		time.Sleep(2 * time.Millisecond) // a client's retry backoff
	}
}

// awaitLeader waits until exactly one broker believes it leads topic/p.
func (fc *faultCluster) awaitLeader(ctx context.Context, t *testing.T, topic string, p int32) int32 {
	t.Helper()
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		if lead, ok := fc.leader(topic, p); ok {
			return lead
		}
		select {
		case <-lctx.Done():
			t.Fatalf("partition %d has no single leader", p)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

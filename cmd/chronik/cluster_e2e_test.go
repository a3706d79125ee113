//go:build e2e

package main

// Multi-node e2e tests (issue 4, Done-when (a) and (b)): three chronik
// processes on 127.0.0.1 started from one [[nodes]] file, an idempotent
// acks=all kgo producer streaming into a replication-factor-3 topic while
// nodes are killed or restarted, and every acknowledged record read back.

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	clusterSize       = 3
	clusterPartitions = 3
	// warmupAcks per partition before the first fault.
	warmupAcks = 500
	// progressAcks per partition: after a node goes down (its partitions
	// failed over) and again after it is back (before the next fault).
	progressAcks = 100
)

// TestE2EClusterMetadata: every node lists all three brokers with their
// addresses and racks; a replication-factor-3 topic (RF -1 = the default)
// has three replicas per partition, leaders on three different brokers,
// leader epochs >= 1, the same on every node; producing through any single
// seed broker works.
func TestE2EClusterMetadata(t *testing.T) {
	const topic = "meta"
	c := startCluster(t, clusterSize)
	createClusterTopic(t, c, topic, clusterPartitions)

	var want []brokerInfo
	for i, a := range c.addrs {
		want = append(want, brokerInfo{id: int32(i + 1), addr: a.kafka, rack: c.racks[i]})
	}
	var final map[int32]partitionInfo
	took := waitUntil(t, metadataTimeout, "every node to list the 3 brokers and the same 3 spread leaders with epochs >= 1", func() (bool, string) {
		var first map[int32]partitionInfo
		for i := range c.nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			brokers, parts, err := c.metadataFrom(ctx, i, topic)
			cancel()
			if err != nil {
				return false, fmt.Sprintf("node %d: %v", i+1, err)
			}
			if !slices.Equal(brokers, want) {
				return false, fmt.Sprintf("node %d lists brokers %+v, want %+v", i+1, brokers, want)
			}
			if len(parts) != clusterPartitions {
				return false, fmt.Sprintf("node %d: %d partitions", i+1, len(parts))
			}
			for p, pi := range parts {
				reps := slices.Sorted(slices.Values(pi.replicas))
				if !slices.Equal(reps, []int32{1, 2, 3}) {
					return false, fmt.Sprintf("node %d: partition %d replicas %v, want one on each of 1, 2, 3", i+1, p, pi.replicas)
				}
				if pi.err != 0 || !slices.Contains(pi.replicas, pi.leader) || pi.epoch < 1 {
					return false, fmt.Sprintf("node %d: %s", i+1, formatLeaders(parts))
				}
			}
			if first == nil {
				first = parts
				continue
			}
			for p, pi := range parts {
				if pi.leader != first[p].leader || pi.epoch != first[p].epoch {
					return false, fmt.Sprintf("node 1 says %s, node %d says %s", formatLeaders(first), i+1, formatLeaders(parts))
				}
			}
		}
		leaders := map[int32]bool{}
		for _, pi := range first {
			leaders[pi.leader] = true
		}
		if len(leaders) != clusterSize {
			return false, "leaders not spread over the 3 brokers: " + formatLeaders(first)
		}
		final = first
		return true, ""
	})
	t.Logf("metadata settled %s after the topic's leaders were elected: %s", took.Round(time.Millisecond), formatLeaders(final))

	// Produce through each node as the only seed broker: the client learns
	// the cluster from it and routes every partition to its leader.
	var acks []ackedRecord
	for i, a := range c.addrs {
		cl := newClient(t, a.kafka, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
		var recs []*kgo.Record
		for p := range int32(clusterPartitions) {
			for k := range 10 {
				recs = append(recs, &kgo.Record{Partition: p, Value: fmt.Appendf(nil, "seed%d-p%d-%d", i+1, p, k)})
			}
		}
		for _, res := range cl.ProduceSync(ctx, recs...) {
			if res.Err != nil {
				t.Errorf("produce %s through seed node %d only: %v", res.Record.Value, i+1, res.Err)
				continue
			}
			acks = append(acks, ackedRecord{partition: res.Record.Partition, offset: res.Record.Offset, value: string(res.Record.Value)})
		}
		cancel()
		cl.Close()
	}
	if t.Failed() {
		t.FailNow()
	}
	end := verifyAcked(t, c.addrs[2].kafka, topic, clusterPartitions, "seed", acks)
	for p, e := range end {
		if e != 30 {
			t.Errorf("partition %d: end offset %d, want 30 (10 records through each of 3 seeds)", p, e)
		}
	}
}

// TestE2EClusterKill9NoLoss is issue 4's Done-when (a): an idempotent acks=all
// kgo producer streams into a 3-partition RF3 topic while each node in turn
// is killed with SIGKILL and restarted on its data dir, 10 kills in all.
// Between kills the partitions must fail over (every partition acks again
// with the node down), the node must come back ready and every partition
// must ack again. Then every acknowledged record must be read back exactly
// once at its acknowledged offset, in produce order, offsets contiguous, no
// value twice.
func TestE2EClusterKill9NoLoss(t *testing.T) {
	const topic, kills = "kill9", 10
	c := startCluster(t, clusterSize)
	createClusterTopic(t, c, topic, clusterPartitions)

	start := time.Now()
	p := startClusterProducer(t, c.seeds(), topic, clusterPartitions, "k")
	p.waitProgress(t, c, make([]int64, clusterPartitions), warmupAcks, start, "warm-up")

	var failovers, downWaits, readies, upWaits []time.Duration
	for k := range kills {
		i := k % clusterSize
		before, leaders := c.leaders(topic, i)
		var led []int32
		for part, pi := range before {
			if pi.leader == int32(i+1) {
				led = append(led, part)
			}
		}
		slices.Sort(led)
		base := p.progress()
		kill9(c.nodes[i])
		tKill := time.Now()
		reached := p.waitProgress(t, c, base, progressAcks, tKill, fmt.Sprintf("kill %d: every partition to ack again with node %d down (it led %v; before: %s)", k+1, i+1, led, leaders))
		down := slices.Max(reached)
		downWaits = append(downWaits, down)
		var fo time.Duration
		for _, part := range led {
			fo = max(fo, reached[part])
		}
		if len(led) > 0 {
			failovers = append(failovers, fo)
		}

		ready := c.restart(i)
		readies = append(readies, ready)
		tReady := time.Now()
		up := slices.Max(p.waitProgress(t, c, p.progress(), progressAcks, tReady, fmt.Sprintf("kill %d: every partition to ack again after node %d restarted", k+1, i+1)))
		upWaits = append(upWaits, up)
		_, after := c.leaders(topic, -1)
		t.Logf("kill %2d: node %d (led %v) killed at +%s; all partitions acking again after %s (led ones %s); restarted ready in %s; +%d acks each %s later; %s",
			k+1, i+1, led, tKill.Sub(start).Round(time.Millisecond), down.Round(time.Millisecond), fo.Round(time.Millisecond),
			ready.Round(time.Millisecond), progressAcks, up.Round(time.Millisecond), after)
	}

	p.stop(t)
	summary := p.checkErrors(t, false)
	end := verifyAcked(t, c.addrs[0].kafka, topic, clusterPartitions, p.prefix, p.acks)
	t.Logf("SUMMARY kill -9: %d kills in %s; pace %d records/s; %d records produced, %d acknowledged, end offsets %v\n"+
		"  failover (kill → acks again on the partitions the victim led): %s\n"+
		"  kill → every partition acking again: %s\n"+
		"  restart → /readyz: %s\n"+
		"  ready → every partition +%d acks: %s\n"+
		"  producer errors (all retried):\n%s",
		kills, time.Since(start).Round(time.Millisecond), p.rate, p.produced, len(p.acks), end,
		durations(failovers), durations(downWaits), durations(readies), progressAcks, durations(upWaits), summary)
}

// TestE2EClusterRollingRestart is issue 4's Done-when (b): under the same
// producer load each node in turn gets SIGTERM (clean exit 0 asserted), is
// restarted and becomes ready. The producer may meet only retriable errors
// (NOT_LEADER_OR_FOLLOWER, connection refused, …): a non-retriable error, a
// data-loss notification or a record that finally failed fails the test.
// Every acknowledged record is read back as in the kill -9 test.
func TestE2EClusterRollingRestart(t *testing.T) {
	const topic = "rolling"
	c := startCluster(t, clusterSize)
	createClusterTopic(t, c, topic, clusterPartitions)

	start := time.Now()
	p := startClusterProducer(t, c.seeds(), topic, clusterPartitions, "r")
	p.waitProgress(t, c, make([]int64, clusterPartitions), warmupAcks, start, "warm-up")

	var stops, downWaits, readies, upWaits []time.Duration
	for i := range clusterSize {
		_, leaders := c.leaders(topic, i)
		base := p.progress()
		tTerm := time.Now()
		stop(c.nodes[i]) // SIGTERM; asserts exit code 0 and "broker stopped"
		stopped := time.Since(tTerm)
		stops = append(stops, stopped)
		down := slices.Max(p.waitProgress(t, c, base, progressAcks, tTerm, fmt.Sprintf("every partition to ack again with node %d stopped (before: %s)", i+1, leaders)))
		downWaits = append(downWaits, down)

		ready := c.restart(i)
		readies = append(readies, ready)
		tReady := time.Now()
		up := slices.Max(p.waitProgress(t, c, p.progress(), progressAcks, tReady, fmt.Sprintf("every partition to ack again after node %d restarted", i+1)))
		upWaits = append(upWaits, up)
		_, after := c.leaders(topic, -1)
		t.Logf("node %d: SIGTERM → exit 0 in %s (before: %s); all partitions acking %s after SIGTERM; restarted ready in %s; +%d acks each %s later; %s",
			i+1, stopped.Round(time.Millisecond), leaders, down.Round(time.Millisecond), ready.Round(time.Millisecond),
			progressAcks, up.Round(time.Millisecond), after)
	}

	p.stop(t)
	summary := p.checkErrors(t, true)
	end := verifyAcked(t, c.addrs[0].kafka, topic, clusterPartitions, p.prefix, p.acks)
	t.Logf("SUMMARY rolling restart: %d nodes in %s; pace %d records/s; %d records produced, %d acknowledged, end offsets %v\n"+
		"  SIGTERM → exit: %s\n"+
		"  SIGTERM → every partition acking again: %s\n"+
		"  restart → /readyz: %s\n"+
		"  ready → every partition +%d acks: %s\n"+
		"  producer errors:\n%s",
		clusterSize, time.Since(start).Round(time.Millisecond), p.rate, p.produced, len(p.acks), end,
		durations(stops), durations(downWaits), durations(readies), progressAcks, durations(upWaits), summary)
}

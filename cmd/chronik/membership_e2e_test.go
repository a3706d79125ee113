//go:build e2e

package main

// Cluster membership e2e tests (issue 4, Done-when (c), (d), (e)): a broker
// added at runtime (`chronik cluster add-node`, then started with the same
// cluster.toml and its own addresses), partitions reassigned onto it, a
// broker decommissioned while a producer and a consumer run, and a follower
// whose data dir was wiped rejoining under a new replica ID from a
// snapshot.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/cluster"
)

const moveTimeout = 60 * time.Second // a reassignment to finish

// startClusterExtra is startCluster with extra TOML appended to the config
// (e.g. small raft snapshot settings) and room for spare nodes: addrs and
// dirs are reserved for size+spare nodes, only size are started.
func startClusterExtra(t *testing.T, size, spare int, extra string) *testCluster {
	t.Helper()
	c := &testCluster{t: t, addrs: reserveAddrs(t, size+spare)}
	var b strings.Builder
	b.WriteString(extra + "\n")
	for i, a := range c.addrs {
		rack := string(rune('a' + i))
		c.racks = append(c.racks, rack)
		c.dirs = append(c.dirs, t.TempDir())
		if i < size {
			fmt.Fprintf(&b, "[[nodes]]\nid = %d\nkafka = %q\nraft = %q\nhttp = %q\nrack = %q\n\n", i+1, a.kafka, a.raft, a.http, rack)
		}
	}
	c.config = filepath.Join(t.TempDir(), "cluster.toml")
	if err := os.WriteFile(c.config, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.keepLogs)
	start := time.Now()
	c.nodes = make([]*node, size)
	for i := range c.nodes {
		c.nodes[i] = c.launch(i)
	}
	for i := range c.nodes {
		c.waitReady(i, start)
	}
	t.Logf("cluster of %d nodes ready in %s", size, time.Since(start).Round(time.Millisecond))
	return c
}

// chronikCLI runs the chronik binary with args and returns its stdout.
func chronikCLI(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(chronikBin, args...)
	cmd.Env = append(os.Environ(), "CHRONIK_CONFIG=")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chronik %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// addNode registers node index i (ID i+1) with `chronik cluster add-node`
// through node 1 and starts it with the cluster's config and its own
// addresses, waiting until it is ready.
func (c *testCluster) addNode(i int) {
	t := c.t
	t.Helper()
	a := c.addrs[i]
	out := chronikCLI(t, "cluster", "add-node", "--http-addr", c.addrs[0].http, "--id", strconv.Itoa(i+1),
		"--kafka", a.kafka, "--raft", a.raft, "--http", a.http, "--rack", c.racks[i])
	t.Logf("add-node: %s", strings.TrimSpace(strings.SplitN(out, "\n", 2)[0]))
	start := time.Now()
	for len(c.nodes) <= i {
		c.nodes = append(c.nodes, nil)
	}
	c.nodes[i] = c.launch(i)
	took := c.waitReady(i, start)
	t.Logf("node %d joined and is ready in %s", i+1, took.Round(time.Millisecond))
}

// nodeStatus reads node i's /v1/status.
func (c *testCluster) nodeStatus(i int) (cluster.NodeStatus, error) {
	var st cluster.NodeStatus
	cl := &http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get("http://" + c.addrs[i].http + "/v1/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// waitNoMoves waits until node i lists no reassignment.
func (c *testCluster) waitNoMoves(i int, what string) time.Duration {
	return waitUntil(c.t, moveTimeout, what, func() (bool, string) {
		cl := &http.Client{Timeout: 2 * time.Second}
		resp, err := cl.Get("http://" + c.addrs[i].http + "/v1/reassignments")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var st struct {
			Reassignments []cluster.Reassignment `json:"reassignments"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			return false, err.Error()
		}
		if len(st.Reassignments) > 0 {
			return false, fmt.Sprintf("%d moving, e.g. %+v; cli:\n%s", len(st.Reassignments), st.Reassignments[0],
				chronikCLI(c.t, "cluster", "reassignments", "--http-addr", c.addrs[i].http))
		}
		return true, ""
	})
}

// TestE2EAddNodeAndReassign (d): a 4th broker registered with add-node and
// started with the same cluster.toml joins; every partition is reassigned
// with it as preferred leader while a producer runs; it then leads them,
// Metadata lists it, and every acknowledged record is read back through it
// alone.
func TestE2EAddNodeAndReassign(t *testing.T) {
	const topic, partitions = "grow", 3
	c := startClusterExtra(t, 3, 1, "")
	createClusterTopic(t, c, topic, partitions)
	prod := startClusterProducer(t, c.seeds()[:3], topic, partitions, "grow")
	prod.waitProgress(t, c, make([]int64, partitions), 200, time.Now(), "warm-up")

	c.addNode(3)
	start := time.Now()
	for p := range int32(partitions) {
		// Node 4 replaces the partition's last replica and leads.
		_, parts, err := c.metadataFrom(context.Background(), 0, topic)
		if err != nil {
			t.Fatal(err)
		}
		target := append([]int32{4}, parts[p].replicas[:2]...)
		chronikCLI(t, "cluster", "reassign", topic, strconv.Itoa(int(p)), "--replicas", ints32(target), "--http-addr", c.addrs[0].http)
	}
	took := c.waitNoMoves(0, "every partition to move onto node 4")
	t.Logf("3 partitions moved onto node 4 in %s (under load)", took.Round(time.Millisecond))
	waitUntil(t, metadataTimeout, "node 4 to lead every partition and be listed with its rack", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		brokers, parts, err := c.metadataFrom(ctx, 3, topic)
		if err != nil {
			return false, err.Error()
		}
		if len(brokers) != 4 || brokers[3].id != 4 || brokers[3].rack != "d" || brokers[3].addr != c.addrs[3].kafka {
			return false, fmt.Sprintf("brokers %+v", brokers)
		}
		for p, pi := range parts {
			if pi.leader != 4 || len(pi.replicas) != 3 || !slices.Contains(pi.replicas, 4) {
				return false, fmt.Sprintf("partition %d: leader %d replicas %v", p, pi.leader, pi.replicas)
			}
		}
		return true, ""
	})
	base := prod.progress()
	prod.waitProgress(t, c, base, 200, time.Now(), "producing with node 4 leading")
	prod.stop(t)
	t.Log(prod.checkErrors(t, true))
	verifyAcked(t, c.addrs[3].kafka, topic, partitions, "grow", prod.acks)
	t.Logf("add node + reassign + verify in %s", time.Since(start).Round(time.Millisecond))
}

func ints32(v []int32) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(int(x))
	}
	return strings.Join(s, ",")
}

// TestE2EDecommissionNode (c): in a 3+1 cluster (node 4 added at runtime),
// node 3 is decommissioned with `chronik cluster remove-node 3` while an
// idempotent producer and a consumer run: every replica moves to node 4,
// node 3 leaves the meta and coordinator shards and is stopped, and no
// acknowledged record is lost or duplicated; the consumer saw every record.
func TestE2EDecommissionNode(t *testing.T) {
	const topic, partitions = "shrink", 3
	c := startClusterExtra(t, 3, 1, "")
	createClusterTopic(t, c, topic, partitions)
	c.addNode(3)
	prod := startClusterProducer(t, c.seeds(), topic, partitions, "dec")
	cons := startConsumer(t, c.seeds(), topic, partitions)
	prod.waitProgress(t, c, make([]int64, partitions), 200, time.Now(), "warm-up")

	start := time.Now()
	out := chronikCLI(t, "cluster", "remove-node", "3", "--http-addr", c.addrs[0].http, "--wait", "90s")
	t.Logf("remove-node 3 in %s: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(out))
	waitUntil(t, metadataTimeout, "metadata without node 3", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		brokers, parts, err := c.metadataFrom(ctx, 0, topic)
		if err != nil {
			return false, err.Error()
		}
		for _, b := range brokers {
			if b.id == 3 {
				return false, fmt.Sprintf("brokers %+v", brokers)
			}
		}
		for p, pi := range parts {
			if slices.Contains(pi.replicas, 3) || len(pi.replicas) != 3 || pi.leader < 1 {
				return false, fmt.Sprintf("partition %d: leader %d replicas %v", p, pi.leader, pi.replicas)
			}
		}
		return true, ""
	})
	// Node 3 left the meta (and coordinator) shards, node 4 was promoted
	// to keep three voters.
	waitUntil(t, metadataTimeout, "meta voters 1, 2, 4", func() (bool, string) {
		st, err := c.nodeStatus(0)
		if err != nil {
			return false, err.Error()
		}
		return slices.Equal(st.MetaVoters, []int32{1, 2, 4}) && len(st.MetaNonVoting) == 0, fmt.Sprintf("voters %v non-voting %v", st.MetaVoters, st.MetaNonVoting)
	})
	stop(c.nodes[2])
	base := prod.progress()
	prod.waitProgress(t, c, base, 200, time.Now(), "producing after node 3 stopped")
	st, err := c.nodeStatus(3)
	if err != nil || st.MetaLeader < 1 || st.MetaLeader == 3 {
		t.Fatalf("node 4 status: meta leader %d, err %v", st.MetaLeader, err)
	}
	prod.stop(t)
	t.Log(prod.checkErrors(t, true))
	end := verifyAcked(t, c.addrs[0].kafka, topic, partitions, "dec", prod.acks)
	cons.waitFor(t, end)
	t.Logf("decommission under load verified in %s", time.Since(start).Round(time.Millisecond))
}

// partitionConsumer reads every partition from offset 0 as records arrive.
type partitionConsumer struct {
	cl   *kgo.Client
	mu   sync.Mutex
	next map[int32]int64
	dups int
}

func startConsumer(t *testing.T, seeds []string, topic string, partitions int32) *partitionConsumer {
	t.Helper()
	offs := map[int32]kgo.Offset{}
	for p := range partitions {
		offs[p] = kgo.NewOffset().At(0)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}),
		kgo.MetadataMinAge(250*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	c := &partitionConsumer{cl: cl, next: map[int32]int64{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				c.mu.Lock()
				if r.Offset != c.next[r.Partition] {
					c.dups++
				}
				c.next[r.Partition] = r.Offset + 1
				c.mu.Unlock()
			})
		}
	}()
	return c
}

// waitFor waits until the consumer has read every partition up to end,
// each offset once and in order.
func (c *partitionConsumer) waitFor(t *testing.T, end map[int32]int64) {
	t.Helper()
	waitUntil(t, e2eTimeout, "the consumer to reach the end offsets", func() (bool, string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for p, e := range end {
			if c.next[p] < e {
				return false, fmt.Sprintf("consumer at %v, end %v", c.next, end)
			}
		}
		return true, ""
	})
	if c.dups > 0 {
		t.Errorf("the consumer saw %d records out of sequence", c.dups)
	}
}

// TestE2EWipedFollowerRejoins (e): with tiny snapshot settings, a follower
// is killed, its data dir wiped and the node restarted: it must not reuse
// its replica ID; it asks for a new one, the leader deletes the old ID,
// adds the new one, which catches up from a snapshot (the log was
// compacted); it then leads and serves every record.
func TestE2EWipedFollowerRejoins(t *testing.T) {
	const topic = "wipe"
	c := startClusterExtra(t, 3, 0, "[raft]\nsnapshot-entries = 50\ncompaction-overhead = 20\n")
	createClusterTopic(t, c, topic, 1)
	prod := startClusterProducer(t, c.seeds(), topic, 1, "wipe")
	prod.waitProgress(t, c, []int64{0}, 2000, time.Now(), "filling the log")

	parts, _ := c.leaders(topic, -1)
	leader := parts[0].leader
	victim := int((leader % 3)) // a follower: node (leader mod 3)+1
	st, err := c.nodeStatus(victim)
	if err != nil || len(st.Replicas) != 1 {
		t.Fatalf("node %d status %+v, %v", victim+1, st, err)
	}
	oldReplica := st.Replicas[0].Replica
	kill9(c.nodes[victim])
	if err := os.RemoveAll(c.dirs[victim]); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(c.dirs[victim], 0o755); err != nil {
		t.Fatal(err)
	}
	base := prod.progress()
	prod.waitProgress(t, c, base, 1000, time.Now(), "producing while the follower is down")
	start := time.Now()
	c.restart(victim)
	var newReplica uint64
	took := waitUntil(t, moveTimeout, fmt.Sprintf("node %d to rejoin under a new replica ID and catch up", victim+1), func() (bool, string) {
		st, err := c.nodeStatus(victim)
		if err != nil {
			return false, err.Error()
		}
		if len(st.Replicas) != 1 {
			return false, fmt.Sprintf("replicas %+v", st.Replicas)
		}
		r := st.Replicas[0]
		ls, err := c.nodeStatus(int(leader - 1))
		if err != nil || len(ls.Replicas) != 1 {
			return false, fmt.Sprintf("leader status %+v %v", ls, err)
		}
		newReplica = r.Replica
		if r.Replica == oldReplica || r.HighWatermark < ls.Replicas[0].HighWatermark-int64(produceRate(t)) || r.HighWatermark < 3000 {
			return false, fmt.Sprintf("replica %d (old %d) hw %d, leader hw %d", r.Replica, oldReplica, r.HighWatermark, ls.Replicas[0].HighWatermark)
		}
		_, moving := c.leaders(topic, -1)
		return len(c.reassignments(0)) == 0, moving
	})
	t.Logf("node %d rejoined as replica %d (was %d) and caught up in %s", victim+1, newReplica, oldReplica, (took + time.Since(start) - took).Round(time.Millisecond))
	// Raft drops a transfer whose target is not fully caught up within an
	// election timeout; with the producer running on a loaded machine that
	// can take more than the command's default 10 s of asking again.
	chronikCLI(t, "cluster", "transfer-leader", topic, "0", "--to", strconv.Itoa(victim+1), "--brokers", c.addrs[0].kafka, "--http-addr", c.addrs[int(leader-1)].http, "--timeout", "60s")
	base = prod.progress()
	prod.waitProgress(t, c, base, 200, time.Now(), "producing with the rejoined node leading")
	prod.stop(t)
	t.Log(prod.checkErrors(t, true))
	verifyAcked(t, c.addrs[victim].kafka, topic, 1, "wipe", prod.acks)
}

// reassignments lists the moves node i knows.
func (c *testCluster) reassignments(i int) []cluster.Reassignment {
	cl := &http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get("http://" + c.addrs[i].http + "/v1/reassignments")
	if err != nil {
		return []cluster.Reassignment{{Topic: "?"}}
	}
	defer resp.Body.Close()
	var st struct {
		Reassignments []cluster.Reassignment `json:"reassignments"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&st)
	return st.Reassignments
}

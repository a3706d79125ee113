//go:build integration

package broker_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/broker/brokertest/faultnet"
	"github.com/chronik-go/chronik/core/config"
)

// TestLeaderTransferUnderLoad moves a partition's leadership while
// produce requests stream to its leader. Every partition answer must be a
// success or NOT_LEADER_OR_FOLLOWER naming the new leader in a newer epoch
// with its endpoint (KIP-951), so that a client moves at once instead of
// asking for metadata (franz-go then waits until its last metadata request
// is 5 s old). Before appends paused for transfers, Raft dropped the
// proposals made during one and the leader answered NOT_LEADER_OR_FOLLOWER
// naming itself; under load the transfer was also refused, as the target
// had committed entries it had not applied yet.
func TestLeaderTransferUnderLoad(t *testing.T) {
	// No faults (the channel transport), and the default Raft timing: the
	// tests' 50 ms election timeout lets a busy CI machine start elections
	// of its own, which the strict checks below would count against the
	// transfer.
	fc := startFaultCluster(t, faultnet.New(1), func(c *config.Config) {
		c.Raft.RTT, c.Raft.ElectionRTT, c.Raft.HeartbeatRTT = 10*time.Millisecond, 20, 2
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const topic = "moving"
	cl, err := kgo.NewClient(kgo.SeedBrokers(fc.kafkaAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	created, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 3, nil, topic)
	if err != nil || created.Err != nil {
		t.Fatal(err, created.Err)
	}
	topicID := created.ID
	// The leader and its epoch as every replica sees them (kadm's topic
	// listing is served from the client's cached metadata).
	var from, oldEpoch int32
	waitFor(ctx, t, "all replicas to agree on a leader", func() bool {
		from, oldEpoch = -1, -1
		for _, b := range fc.brokers {
			for _, r := range b.Status().Replicas {
				if r.Topic != topic {
					continue
				}
				if r.Leader < 0 || (from >= 0 && (r.Leader != from || r.LeaderEpoch != oldEpoch)) {
					return false
				}
				from, oldEpoch = r.Leader, r.LeaderEpoch
			}
		}
		return from >= 0
	})
	to := from%3 + 1
	t.Logf("moving leadership of %s/0 from broker %d (epoch %d) to broker %d under load", topic, from, oldEpoch, to)

	// Producers: each sends one request at a time to the old leader over
	// its own client, so requests are in flight at every moment.
	var (
		mu       sync.Mutex
		ok       int
		refusals []kmsg.ProduceResponse
		other    []string
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		pc, err := kgo.NewClient(kgo.SeedBrokers(fc.kafkaAddrs()...))
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		wg.Go(func() {
			ts := time.Now().UnixMilli()
			stamps := make([]int64, 64)
			for i := range stamps {
				stamps[i] = ts
			}
			batch := rawBatch(stamps...)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				req := kmsg.NewPtrProduceRequest()
				req.Acks, req.TimeoutMillis = -1, 10000
				rt := kmsg.NewProduceRequestTopic()
				rt.Topic, rt.TopicID = topic, topicID
				rp := kmsg.NewProduceRequestTopicPartition()
				rp.Records = batch
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				resp, err := req.RequestWith(ctx, pc.Broker(int(from)))
				mu.Lock()
				switch {
				case err != nil:
					other = append(other, fmt.Sprintf("producer %d request %d: %v", g, n, err))
				case resp.Topics[0].Partitions[0].ErrorCode == 0:
					ok++
				case resp.Topics[0].Partitions[0].ErrorCode == kerr.NotLeaderForPartition.Code:
					refusals = append(refusals, *resp)
				default:
					other = append(other, fmt.Sprintf("producer %d request %d: %v", g, n, kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)))
				}
				mu.Unlock()
			}
		})
	}
	waitFor(ctx, t, "produces to succeed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return ok > 20
	})

	// Ask for the transfer (again every 2 s, in case one is refused) until
	// the new leader leads and the old one has refused some requests.
	moveLeader(ctx, t, fc, topic, from, to, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(refusals) >= 4
	})
	close(stop)
	wg.Wait()

	// One election (the transfer's) or more? A later one, started by the
	// machine rather than the test, may refuse without a hint while no
	// leader is known, or answer LEADER_NOT_AVAILABLE.
	finalEpoch := int32(-1)
	for _, b := range fc.brokers {
		for _, r := range b.Status().Replicas {
			if r.Topic == topic {
				finalEpoch = max(finalEpoch, r.LeaderEpoch)
			}
		}
	}
	host, port, _ := net.SplitHostPort(fc.nodes[to-1].Kafka)
	unhinted, transferEpoch := 0, int32(-1)
	for i, r := range refusals {
		hint := r.Topics[0].Partitions[0].CurrentLeader
		switch {
		case hint.LeaderID == -1 && hint.LeaderEpoch == -1 && len(r.Brokers) == 0:
			unhinted++
		case hint.LeaderID == from || hint.LeaderEpoch <= oldEpoch:
			t.Fatalf("refusal %d of %d names leader %d in epoch %d: refused by the leader it names (a dropped proposal)", i+1, len(refusals), hint.LeaderID, hint.LeaderEpoch)
		case hint.LeaderID == to:
			if transferEpoch < 0 || hint.LeaderEpoch < transferEpoch {
				transferEpoch = hint.LeaderEpoch
			}
			if len(r.Brokers) != 1 || r.Brokers[0].NodeID != to || r.Brokers[0].Host != host || strconv.Itoa(int(r.Brokers[0].Port)) != port {
				t.Fatalf("refusal %d lists brokers %+v, want only broker %d at %s", i+1, r.Brokers, to, fc.nodes[to-1].Kafka)
			}
		}
	}
	if transferEpoch < 0 {
		t.Fatalf("no refusal named broker %d, the new leader", to)
	}
	if finalEpoch == transferEpoch {
		if len(other) > 0 {
			t.Errorf("%d answers were neither a success nor NOT_LEADER_OR_FOLLOWER, first: %s", len(other), other[0])
		}
		if unhinted > 0 {
			t.Errorf("%d of %d refusals named no leader, with no election but the transfer's", unhinted, len(refusals))
		}
	} else {
		t.Logf("more elections after the transfer's (epoch %d, now %d): %d refusals without a hint and %d other answers allowed", transferEpoch, finalEpoch, unhinted, len(other))
	}
	t.Logf("%d produces succeeded, %d were refused with the new leader named", ok, len(refusals)-unhinted)

	// Asked through the one broker that neither led nor leads, which
	// holds a follower replica: Raft forwards the request to the leader.
	moveLeader(ctx, t, fc, topic, 6-from-to, from, func() bool { return true })
	// A fetch from broker "to", a follower again, is refused the same way
	// (Fetch v16+), naming broker "from" in the newest epoch.
	freq := kmsg.NewPtrFetchRequest()
	freq.MaxWaitMillis, freq.MaxBytes = 0, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = topic, topicID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = 1<<20, -1
	ft.Partitions = append(ft.Partitions, fp)
	freq.Topics = append(freq.Topics, ft)
	fresp, err := freq.RequestWith(ctx, cl.Broker(int(to)))
	if err != nil {
		t.Fatal(err)
	}
	if fresp.Version < 16 {
		t.Fatalf("fetch answered in v%d; the hint needs v16+", fresp.Version)
	}
	got := fresp.Topics[0].Partitions[0]
	if got.ErrorCode != kerr.NotLeaderForPartition.Code || got.CurrentLeader.LeaderID != from || got.CurrentLeader.LeaderEpoch <= transferEpoch ||
		len(fresp.Brokers) != 1 || fresp.Brokers[0].NodeID != from {
		t.Fatalf("fetch from a follower: %v, leader %d epoch %d, brokers %+v; want NOT_LEADER_OR_FOLLOWER naming broker %d in an epoch after %d",
			kerr.ErrorForCode(got.ErrorCode), got.CurrentLeader.LeaderID, got.CurrentLeader.LeaderEpoch, fresp.Brokers, from, transferEpoch)
	}
}

// moveLeader asks broker via's admin API to move topic/0's leadership to
// broker to, again every 2 s in case a transfer is refused, until to leads
// and then also done holds.
func moveLeader(ctx context.Context, t *testing.T, fc *faultCluster, topic string, via, to int32, done func() bool) {
	t.Helper()
	var asked time.Time
	waitFor(ctx, t, fmt.Sprintf("broker %d to lead, asked through broker %d", to, via), func() bool {
		if l, ok := fc.leader(topic, 0); ok && l == to {
			return done()
		}
		if time.Since(asked) > 2*time.Second {
			asked = time.Now()
			url := "http://" + fc.nodes[via-1].HTTP + "/v1/topics/" + topic + "/partitions/0/leader?to=" + strconv.Itoa(int(to))
			r, err := http.Post(url, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode/100 != 2 {
				t.Fatalf("POST %s: %s", url, r.Status)
			}
		}
		return false
	})
}

// waitFor polls cond every 20 ms until it holds or ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

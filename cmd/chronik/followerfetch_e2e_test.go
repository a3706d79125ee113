//go:build e2e

package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// fetchCount reads chronik_kafka_requests_total{api="Fetch",error="none"}
// from a node's /metrics.
func fetchCount(t *testing.T, httpAddr string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatalf("metrics of %s: %v", httpAddr, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, `chronik_kafka_requests_total{api="Fetch",error="none"}`) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			return v
		}
	}
	return 0
}

// TestE2EFollowerFetching (KIP-392): a consumer that says it is in a
// follower's rack is sent to that follower by the leader and reads every
// record from it.
func TestE2EFollowerFetching(t *testing.T) {
	c := startCluster(t, 3)
	createClusterTopic(t, c, "ff", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	prod := newClient(t, c.addrs[0].kafka, kgo.DefaultProduceTopic("ff"))
	defer prod.Close()
	const n = 2000
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Value: []byte(fmt.Sprintf("v%d", i))}
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	parts, _ := c.leaders("ff", -1)
	leader := parts[0].leader
	follower := leader%3 + 1 // another replica: RF 3 on three brokers
	rack := c.racks[follower-1]
	before := fetchCount(t, c.addrs[follower-1].http)

	cons := newClient(t, c.addrs[leader-1].kafka, kgo.ConsumeTopics("ff"), kgo.Rack(rack),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cons.Close()
	got := 0
	for got < n {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d", got, n)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			if want := fmt.Sprintf("v%d", r.Offset); string(r.Value) != want {
				t.Fatalf("offset %d holds %q, want %q", r.Offset, r.Value, want)
			}
			got++
		})
	}
	after := fetchCount(t, c.addrs[follower-1].http)
	if after-before < 1 {
		t.Fatalf("follower %d (rack %s) served no fetches; leader is %d", follower, rack, leader)
	}
	t.Logf("leader %d, follower %d in rack %s served %v fetches", leader, follower, rack, after-before)
}

//go:build integration

package broker_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/adminhttp"
	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/opsctl"
)

func TestAdminHTTPStatusAndTransfer(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()), kgo.DefaultProduceTopic("st"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, "st"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + b.HTTPAddr() + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st cluster.NodeStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Node != 1 || st.MetaLeader != 1 || len(st.Replicas) != 2 {
		t.Fatalf("status = %+v", st)
	}
	var hw int64
	for _, r := range st.Replicas {
		if !r.IsLeader || r.Leader != 1 || r.LeaderEpoch < 1 {
			t.Fatalf("replica %+v: want leader 1 with an epoch", r)
		}
		hw += r.HighWatermark
	}
	if hw != 1 {
		t.Fatalf("high watermarks add up to %d, want 1", hw)
	}
	for _, c := range []struct {
		path string
		code int
	}{
		{"/v1/topics/st/partitions/0/leader?to=2", http.StatusConflict}, // broker 2 holds no replica
		{"/v1/topics/nope/partitions/0/leader?to=1", http.StatusNotFound},
		{"/v1/topics/st/partitions/x/leader?to=1", http.StatusBadRequest},
	} {
		r, err := http.Post("http://"+b.HTTPAddr()+c.path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != c.code {
			t.Errorf("POST %s = %d, want %d", c.path, r.StatusCode, c.code)
		}
	}
}

// A single node without [[nodes]] refuses add-node: it is in no registry,
// and Metadata would then list the added broker alone.
func TestAddNodeNeedsACluster(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := opsctl.Admin{Addrs: []string{b.HTTPAddr()}, HTTP: adminhttp.Plain(10 * time.Second)}
	_, err := opsctl.RegisterNode(ctx, admin, cluster.BrokerRecord{ID: 2, Kafka: "127.0.0.2:9092", Raft: "127.0.0.2:9095"})
	if err == nil || !strings.Contains(err.Error(), "without [[nodes]]") {
		t.Fatalf("add-node on a single node: %v", err)
	}
	if recs := broker.ClusterOf(b).BrokerRecords(); len(recs) != 0 {
		t.Fatalf("the registry has %+v", recs)
	}
}

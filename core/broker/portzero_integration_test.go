//go:build integration

package broker_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/broker/brokertest"
)

// A Kafka address with port 0 gets a free port, and Metadata advertises
// that port, so clients that follow the advertised address (all of them)
// reach the broker.
func TestKafkaAddrPortZero(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.KafkaAddr = "127.0.0.1:0"
	b := brokertest.Start(t, cfg)
	_, port, _ := net.SplitHostPort(b.KafkaAddr())
	if port == "0" {
		t.Fatalf("listening on %s", b.KafkaAddr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()), kgo.DefaultProduceTopic("p0"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Brokers) != 1 || strconv.Itoa(int(md.Brokers[0].Port)) != port {
		t.Fatalf("Metadata advertises %+v, want port %s", md.Brokers, port)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("produce through the advertised address: %v", err)
	}
}

//go:build integration

package broker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/chronik-go/chronik/core/broker/brokertest"
)

// TestDiskGuardRefusesProduce: with less free space than
// storage.min-free-bytes (here more than any disk has) produce gets
// KAFKA_STORAGE_ERROR naming the setting, nothing is stored, the broker
// keeps serving everything else, and /metrics shows why.
func TestDiskGuardRefusesProduce(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Storage.MinFreeBytes = 1 << 62
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()), kgo.MaxVersions(kversion.V3_7_0())) // Produce by topic name
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if resp, err := adm.CreateTopic(ctx, 1, 1, nil, "full"); err != nil || resp.Err != nil {
		t.Fatalf("create topic on a full disk: %v %v", err, resp.Err)
	}

	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "full"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = idempotentBatch(-1, -1, -1, "v")
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	got := resp.Topics[0].Partitions[0]
	if got.ErrorCode != kerr.KafkaStorageError.Code || got.ErrorMessage == nil || !strings.Contains(*got.ErrorMessage, "storage.min-free-bytes") {
		t.Fatalf("produce on a full disk: error %d %v, want KAFKA_STORAGE_ERROR naming storage.min-free-bytes", got.ErrorCode, got.ErrorMessage)
	}

	// Nothing was stored, and reads still work.
	offs, err := adm.ListEndOffsets(ctx, "full")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup("full", 0); o.Err != nil || o.Offset != 0 {
		t.Fatalf("end offset after a refused produce: %+v", o)
	}
	m := metricsText(t, b.HTTPAddr())
	if !strings.Contains(m, "\nchronik_storage_produce_refused 1") || !strings.Contains(m, "\nchronik_storage_free_bytes ") {
		t.Fatalf("/metrics does not show the refusal:\n%s", m)
	}
}

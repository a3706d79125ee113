package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/broker/brokertest"
)

// BenchmarkProduce measures acknowledged produce throughput of an
// in-process single-node broker (RF1, acks=all, idempotent franz-go
// producer with default batching, 1 KiB keyed records) for 1 and 16
// partitions, and with Dragonboat's LogDB/exec shard counts at 1 (our
// default: all shards share one fsync stream) and at Dragonboat's 16.
func BenchmarkProduce(b *testing.B) {
	for _, shards := range []uint64{1, 16} {
		for _, parts := range []int32{1, 16} {
			b.Run(fmt.Sprintf("shards=%d/partitions=%d", shards, parts), func(b *testing.B) {
				benchProduce(b, shards, parts)
			})
		}
	}
}

func benchProduce(b *testing.B, shards uint64, partitions int32) {
	cfg := brokertest.Config(b)
	cfg.Raft.LogDBShards, cfg.Raft.ExecShards = shards, shards
	br := brokertest.Start(b, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.KafkaAddr()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, "bench"); err != nil {
		b.Fatal(err)
	}
	const size = 1024
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	res, err := Produce(ctx, ProduceWorkload{
		Brokers: []string{br.KafkaAddr()}, Topic: "bench", Records: max(b.N, 1000), RecordSize: size, Keyed: true, AcksAll: true,
	})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.RecordsPerSec(), "records/s")
	b.ReportMetric(res.MBPerSec(), "MB/s")
}

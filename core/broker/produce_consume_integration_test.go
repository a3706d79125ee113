//go:build integration

package broker_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/broker/brokertest"
)

type produced struct {
	rec       *kgo.Record
	partition int32
	offset    int64
}

// TestProduceConsumeEveryCodec is the acceptance test: 100k records
// of mixed sizes with keys, headers and timestamps, through the default
// (idempotent) franz-go producer, 20k per compression codec, consumed back
// byte-identical; ListOffsets earliest, latest and by timestamp agree with
// what was produced.
func TestProduceConsumeEveryCodec(t *testing.T) {
	cfg := brokertest.Config(t)
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	const topic = "codecs"
	admin, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}

	perCodec := 20000
	if testing.Short() {
		perCodec = 2000
	}
	codecs := []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()}
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var all []produced
	for ci, codec := range codecs {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(codec))
		if err != nil {
			t.Fatal(err)
		}
		recs := make([]*kgo.Record, perCodec)
		for i := range recs {
			n := len(all) + i
			value := make([]byte, rng.IntN(4096))
			for j := range value {
				value[j] = byte(rng.IntN(16)) // compressible, like real payloads
			}
			recs[i] = &kgo.Record{
				Key:       []byte(fmt.Sprintf("key-%d", n%997)),
				Value:     value,
				Headers:   []kgo.RecordHeader{{Key: "codec", Value: []byte{byte(ci)}}, {Key: "n", Value: []byte(fmt.Sprint(n))}},
				Timestamp: base.Add(time.Duration(n) * time.Millisecond),
			}
		}
		res := cl.ProduceSync(ctx, recs...)
		if err := res.FirstErr(); err != nil {
			t.Fatalf("codec %d: produce: %v", ci, err)
		}
		for _, r := range res {
			all = append(all, produced{rec: r.Record, partition: r.Record.Partition, offset: r.Record.Offset})
		}
		cl.Close()
	}

	// Consume everything back and compare byte for byte.
	want := map[[2]int64]*kgo.Record{}
	ends := map[int32]int64{}
	for _, p := range all {
		key := [2]int64{int64(p.partition), p.offset}
		if want[key] != nil {
			t.Fatalf("two records acknowledged at partition %d offset %d", p.partition, p.offset)
		}
		want[key] = p.rec
		ends[p.partition] = max(ends[p.partition], p.offset+1)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	got := 0
	for got < len(all) {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d: %v", got, len(all), err)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("fetch partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			w := want[[2]int64{int64(r.Partition), r.Offset}]
			switch {
			case w == nil:
				t.Fatalf("unexpected record at %d/%d", r.Partition, r.Offset)
			case string(w.Key) != string(r.Key) || string(w.Value) != string(r.Value):
				t.Fatalf("record %d/%d differs", r.Partition, r.Offset)
			case !r.Timestamp.Equal(w.Timestamp):
				t.Fatalf("record %d/%d timestamp %v, want %v", r.Partition, r.Offset, r.Timestamp, w.Timestamp)
			case len(r.Headers) != 2 || r.Headers[1].Key != "n" || string(r.Headers[1].Value) != string(w.Headers[1].Value):
				t.Fatalf("record %d/%d headers %v", r.Partition, r.Offset, r.Headers)
			}
			delete(want, [2]int64{int64(r.Partition), r.Offset})
			got++
		})
	}
	if len(want) != 0 {
		t.Fatalf("%d records never consumed", len(want))
	}

	// ListOffsets: earliest, latest, by timestamp.
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 3; p++ {
		if o, _ := starts.Lookup(topic, p); o.Offset != 0 || o.Err != nil {
			t.Errorf("partition %d earliest = %d (%v), want 0", p, o.Offset, o.Err)
		}
		if o, _ := latest.Lookup(topic, p); o.Offset != ends[p] || o.Err != nil {
			t.Errorf("partition %d latest = %d (%v), want %d", p, o.Offset, o.Err, ends[p])
		}
	}
	for _, n := range []int{0, 1, len(all) / 3, len(all) / 2, len(all) - 1} {
		ts := all[n].rec.Timestamp
		byTime, err := adm.ListOffsetsAfterMilli(ctx, ts.UnixMilli(), topic)
		if err != nil {
			t.Fatal(err)
		}
		for p := int32(0); p < 3; p++ {
			wantOff := ends[p] // none at or after ts: Kafka answers the end offset
			for _, q := range all {
				if q.partition == p && !q.rec.Timestamp.Before(ts) && q.offset < wantOff {
					wantOff = q.offset
				}
			}
			o, _ := byTime.Lookup(topic, p)
			if o.Err != nil || o.Offset != wantOff {
				t.Errorf("partition %d offset for time of record %d = %d (%v), want %d", p, n, o.Offset, o.Err, wantOff)
			}
		}
	}
}

//go:build integration

package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/batch"
	"github.com/chronik-go/chronik/core/broker/brokertest"
)

// fetchRaw fetches partition 0 of topic from offset 0 with one raw Fetch
// (kgo sends its newest version: topics by ID) of up to 16 MiB.
func fetchRaw(ctx context.Context, t *testing.T, cl *kgo.Client, topic string) kmsg.FetchResponseTopicPartition {
	t.Helper()
	details, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.MaxBytes = 16 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = topic, details[topic].ID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 16 << 20
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0]
}

// storedCodecs fetches partition 0 of topic from offset 0 with a raw
// Fetch and returns each stored batch's codec.
func storedCodecs(ctx context.Context, t *testing.T, cl *kgo.Client, topic string) []batch.Codec {
	t.Helper()
	p := fetchRaw(ctx, t, cl, topic)
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("fetch %s: %v", topic, err)
	}
	var codecs []batch.Codec
	for data := p.RecordBatches; len(data) > 0; {
		h, err := batch.ParseHeader(data)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := batch.Validate(data[:h.Size()], 1<<30); err != nil {
			t.Fatalf("stored batch at %d: %v", h.BaseOffset, err)
		}
		codecs = append(codecs, h.Compression())
		data = data[h.Size():]
	}
	return codecs
}

// TestTopicCompressionType: a topic's compression.type other than
// "producer" stores every batch in that codec, whatever the producer used,
// and consumers read the same records; "producer" (the default) keeps each
// batch as produced.
func TestTopicCompressionType(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seeds := []string{b.KafkaAddr()}
	adm, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	cases := []struct {
		topicType string
		want      batch.Codec // -1: as produced
	}{{"producer", -1}, {"zstd", batch.CodecZstd}, {"lz4", batch.CodecLZ4}, {"uncompressed", batch.CodecNone}, {"gzip", batch.CodecGzip}}
	producers := []struct {
		name  string
		codec kgo.CompressionCodec
		is    batch.Codec
	}{{"none", kgo.NoCompression(), batch.CodecNone}, {"snappy", kgo.SnappyCompression(), batch.CodecSnappy}, {"zstd", kgo.ZstdCompression(), batch.CodecZstd}}
	for _, c := range cases {
		topic := "ct-" + c.topicType
		resp, err := kadm.NewClient(adm).CreateTopic(ctx, 1, 1, map[string]*string{"compression.type": kadm.StringPtr(c.topicType)}, topic)
		if err != nil || resp.Err != nil {
			t.Fatalf("create %s: %v %v", topic, err, resp.Err)
		}
		var want []string
		var produced []batch.Codec
		for _, p := range producers {
			cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(p.codec))
			if err != nil {
				t.Fatal(err)
			}
			var recs []*kgo.Record
			for i := range 100 {
				v := fmt.Sprintf("%s-%03d-%s", p.name, i, "some compressible text, some compressible text")
				recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(v)})
				want = append(want, v)
			}
			err = cl.ProduceSync(ctx, recs...).FirstErr()
			cl.Close()
			if err != nil {
				t.Fatalf("%s: produce with %s: %v", topic, p.name, err)
			}
			produced = append(produced, p.is)
		}
		codecs := storedCodecs(ctx, t, adm, topic)
		if len(codecs) != len(producers) {
			t.Fatalf("%s: %d batches stored, want %d", topic, len(codecs), len(producers))
		}
		for i, got := range codecs {
			w := c.want
			if w == -1 {
				w = produced[i]
			}
			if got != w {
				t.Fatalf("compression.type=%s: batch %d (produced %s) stored as %s, want %s", c.topicType, i, produced[i], got, w)
			}
		}
		// Consumers read every record back.
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for len(got) < len(want) {
			fs := cl.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				t.Fatalf("%s: consume: %v", topic, err)
			}
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
		cl.Close()
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: record %d = %q, want %q", topic, i, got[i], want[i])
			}
		}
	}
}

//go:build integration

package broker_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/chronik-go/chronik/core/broker/brokertest"
)

// frame encodes a request with a v1 (or, for flexible versions, v2) header.
func frame(key, version int16, corr int32, body []byte, flexible bool) []byte {
	b := make([]byte, 4, 64+len(body))
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, "test"...)
	if flexible {
		b = append(b, 0)
	}
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// expectClosed asserts the broker closes the connection.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	n, err := io.Copy(io.Discard, c)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after bad input (read %d bytes)", n)
		}
	}
}

// readResponse reads one response frame and returns it without the length.
func readResponse(t *testing.T, r io.Reader) []byte {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		t.Fatalf("read response: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("read response: %v", err)
	}
	return b
}

// checkServing asserts a fresh client can still produce and consume.
func checkServing(t *testing.T, addr, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("still-serving")}).FirstErr(); err != nil {
		t.Fatalf("broker stopped serving: %v", err)
	}
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("broker stopped serving fetches")
		}
		found := false
		fs.EachRecord(func(r *kgo.Record) { found = found || string(r.Value) == "still-serving" })
		if found {
			return
		}
	}
}

func TestBadInputKeepsBrokerServing(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Kafka.AutoCreateTopics = false
	b := brokertest.Start(t, cfg)
	addr := b.KafkaAddr()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Pinned below Produce v13 so the hand-built requests address topics by name.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.MaxVersions(kversion.V3_7_0()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	create := func(name string, partitions int32) kmsg.CreateTopicsResponseTopic {
		t.Helper()
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
		req.Topics = append(req.Topics, rt)
		req.TimeoutMillis = 10000
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || len(resp.Topics) != 1 {
			t.Fatalf("CreateTopics %q: %v", name, err)
		}
		return resp.Topics[0]
	}
	if r := create("good", 1); r.ErrorCode != 0 {
		t.Fatalf("create good topic: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	t.Run("oversized frame is refused without allocating it", func(t *testing.T) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c := dial(t, addr)
		if _, err := c.Write([]byte{0x7f, 0xff, 0xff, 0xf0, 0, 18, 0, 0}); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, c)
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
			t.Fatalf("broker allocated %d MiB for a frame it refused", grew>>20)
		}
	})
	t.Run("truncated frame", func(t *testing.T) {
		c := dial(t, addr)
		full := frame(18, 0, 1, nil, false)
		if _, err := c.Write(append(binary.BigEndian.AppendUint32(nil, 100), full[4:]...)); err != nil {
			t.Fatal(err)
		}
		_ = c.(*net.TCPConn).CloseWrite()
		expectClosed(t, c)
	})
	t.Run("unknown api key", func(t *testing.T) {
		c := dial(t, addr)
		if _, err := c.Write(frame(999, 0, 1, nil, false)); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, c)
	})
	t.Run("garbage body", func(t *testing.T) {
		c := dial(t, addr)
		if _, err := c.Write(frame(3, 1, 1, []byte{0x7f, 0xff, 0xff, 0xff, 0x00}, false)); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, c)
	})
	t.Run("unsupported ApiVersions version gets a v0 answer", func(t *testing.T) {
		c := dial(t, addr)
		if _, err := c.Write(frame(18, 99, 7, nil, true)); err != nil {
			t.Fatal(err)
		}
		raw := readResponse(t, bufio.NewReader(c))
		if corr := int32(binary.BigEndian.Uint32(raw)); corr != 7 {
			t.Fatalf("correlation id %d, want 7", corr)
		}
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.Version = 0
		if err := resp.ReadFrom(raw[4:]); err != nil {
			t.Fatalf("not a v0 ApiVersions response: %v", err)
		}
		if resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) == 0 {
			t.Fatalf("error %d with %d keys; want UNSUPPORTED_VERSION and the ranges", resp.ErrorCode, len(resp.ApiKeys))
		}
	})
	t.Run("bad CRC is CORRUPT_MESSAGE and stores nothing", func(t *testing.T) {
		rb := kmsg.RecordBatch{Magic: 2, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1, FirstTimestamp: 1, MaxTimestamp: 1}
		rec := kmsg.Record{Value: []byte("payload")}
		rb.Records = rec.AppendTo(nil)
		raw := rb.AppendTo(nil)
		binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
		binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
		raw[len(raw)-3] ^= 0xff // corrupt the value after the CRC was computed
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 10000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "good"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = raw
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.CorruptMessage.Code {
			t.Fatalf("error %v, want CORRUPT_MESSAGE", kerr.ErrorForCode(code))
		}
		lo := kmsg.NewPtrListOffsetsRequest()
		lt := kmsg.NewListOffsetsRequestTopic()
		lt.Topic = "good"
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Timestamp = -1
		lt.Partitions = append(lt.Partitions, lp)
		lo.Topics = append(lo.Topics, lt)
		lr, err := lo.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if end := lr.Topics[0].Partitions[0].Offset; end != 0 {
			t.Fatalf("end offset %d after a corrupt produce, want 0", end)
		}
	})
	t.Run("produce to a missing topic with auto-create off", func(t *testing.T) {
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = 1, 10000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "missing"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = []byte{}
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("error %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(code))
		}
		md := kmsg.NewPtrMetadataRequest()
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr("missing")
		md.Topics = append(md.Topics, mt)
		md.AllowAutoTopicCreation = true
		mr, err := md.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if code := mr.Topics[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("metadata error %v, want UNKNOWN_TOPIC_OR_PARTITION (auto-create is off)", kerr.ErrorForCode(code))
		}
	})
	t.Run("invalid topic names", func(t *testing.T) {
		for _, name := range []string{"", ".", "..", "has space", "slash/name", strings.Repeat("x", 250), "ünïcode"} {
			if r := create(name, 1); r.ErrorCode != kerr.InvalidTopicException.Code {
				t.Errorf("topic %q: %v, want INVALID_TOPIC_EXCEPTION", name, kerr.ErrorForCode(r.ErrorCode))
			}
		}
	})
	t.Run("negative and absurd partition counts", func(t *testing.T) {
		for _, n := range []int32{0, -5, 1 << 30} {
			if r := create("counts", n); r.ErrorCode != kerr.InvalidPartitions.Code {
				t.Errorf("%d partitions: %v, want INVALID_PARTITIONS", n, kerr.ErrorForCode(r.ErrorCode))
			}
		}
	})
	checkServing(t, addr, "good")
}

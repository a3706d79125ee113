package batch

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clientCodecs are franz-go's codecs with the codec each writes.
var clientCodecs = []struct {
	name string
	c    kgo.CompressionCodec
	want Codec
}{
	{"none", kgo.NoCompression(), CodecNone},
	{"gzip", kgo.GzipCompression(), CodecGzip},
	{"snappy", kgo.SnappyCompression(), CodecSnappy},
	{"lz4", kgo.Lz4Compression(), CodecLZ4},
	{"zstd", kgo.ZstdCompression(), CodecZstd},
}

// TestRealClientBatches produces through franz-go's kgo client, with every
// codec, into a minimal fake broker and checks that the batches the client
// really writes pass Validate and decode with Records.
func TestRealClientBatches(t *testing.T) {
	for _, c := range clientCodecs {
		for _, streaming := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/streaming=%v", c.name, streaming), func(t *testing.T) {
				fb := startFakeBroker(t)
				opts := []kgo.Opt{
					kgo.SeedBrokers(fb.addr),
					kgo.DefaultProduceTopic("t"),
					kgo.DisableIdempotentWrite(),
					kgo.ProducerBatchCompression(c.c),
					kgo.ProducerLinger(50 * time.Millisecond),
				}
				if streaming {
					opts = append(opts, kgo.StreamingCompression())
				}
				cl, err := kgo.NewClient(opts...)
				must(t, err)
				defer cl.Close()

				const n = 200
				recs := make([]*kgo.Record, n)
				for i := range recs {
					recs[i] = &kgo.Record{
						Key:     []byte("key-" + strconv.Itoa(i)),
						Value:   bytes.Repeat([]byte{byte('a' + i%26)}, 50+i),
						Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(strconv.Itoa(i))}},
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				must(t, cl.ProduceSync(ctx, recs...).FirstErr())

				var got int
				for _, records := range fb.produced() {
					err := Split(records, 1<<20, func(b []byte, h Header) error {
						if h.Compression() != c.want {
							t.Errorf("batch codec %v, want %v", h.Compression(), c.want)
						}
						return Records(b, func(r Record) error {
							want := recs[got]
							if !bytes.Equal(r.Key, want.Key) || !bytes.Equal(r.Value, want.Value) || r.NumHeaders != 1 {
								t.Errorf("record %d differs", got)
							}
							if r.Timestamp != want.Timestamp.UnixMilli() {
								t.Errorf("record %d: timestamp %d, want %d", got, r.Timestamp, want.Timestamp.UnixMilli())
							}
							got++
							return nil
						})
					})
					if err != nil {
						t.Fatalf("client batch rejected: %v", err)
					}
				}
				if got != n {
					t.Fatalf("decoded %d records, produced %d", got, n)
				}
			})
		}
	}
}

// fakeBroker answers just enough of the Kafka protocol (ApiVersions,
// Metadata, Produce) for a kgo producer, and keeps each partition's
// Records field.
type fakeBroker struct {
	addr string
	ln   net.Listener
	mu   struct {
		sync.Mutex
		records [][]byte
	}
}

func startFakeBroker(t *testing.T) *fakeBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	fb := &fakeBroker{addr: ln.Addr().String(), ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				go func() { <-t.Context().Done(); conn.Close() }()
				if err := fb.serve(conn); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
					t.Logf("fake broker: %v", err)
				}
			}()
		}
	}()
	return fb
}

func (fb *fakeBroker) produced() [][]byte {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	return fb.mu.records
}

func (fb *fakeBroker) serve(conn net.Conn) error {
	for {
		var size [4]byte
		if _, err := io.ReadFull(conn, size[:]); err != nil {
			return err
		}
		buf := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(conn, buf); err != nil {
			return err
		}
		key, version := int16(binary.BigEndian.Uint16(buf)), int16(binary.BigEndian.Uint16(buf[2:]))
		corr := buf[4:8]
		clientIDLen := int(int16(binary.BigEndian.Uint16(buf[8:])))
		body := buf[10+max(clientIDLen, 0):]
		req := kmsg.RequestForKey(key)
		if req == nil {
			return fmt.Errorf("unknown api key %d", key)
		}
		req.SetVersion(version)
		if req.IsFlexible() {
			body = body[1:] // no tagged fields in the header
		}
		if err := req.ReadFrom(body); err != nil {
			return fmt.Errorf("api key %d v%d: %w", key, version, err)
		}
		resp := fb.handle(req)
		out := append([]byte{0, 0, 0, 0}, corr...)
		if resp.IsFlexible() && key != int16(kmsg.ApiVersions) {
			out = append(out, 0)
		}
		out = resp.AppendTo(out)
		binary.BigEndian.PutUint32(out, uint32(len(out)-4))
		if _, err := conn.Write(out); err != nil {
			return err
		}
	}
}

func (fb *fakeBroker) handle(req kmsg.Request) kmsg.Response {
	switch req := req.(type) {
	case *kmsg.ApiVersionsRequest:
		resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
		resp.SetVersion(req.Version)
		resp.ApiKeys = []kmsg.ApiVersionsResponseApiKey{
			{ApiKey: int16(kmsg.Produce), MinVersion: 3, MaxVersion: 9},
			{ApiKey: int16(kmsg.Metadata), MinVersion: 1, MaxVersion: 9},
			{ApiKey: int16(kmsg.ApiVersions), MinVersion: 0, MaxVersion: req.Version},
		}
		return resp
	case *kmsg.MetadataRequest:
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		resp.SetVersion(req.Version)
		host, port, _ := net.SplitHostPort(fb.addr)
		p, _ := strconv.Atoi(port)
		resp.Brokers = []kmsg.MetadataResponseBroker{{NodeID: 0, Host: host, Port: int32(p)}}
		topic := "t"
		resp.Topics = []kmsg.MetadataResponseTopic{{
			Topic:      &topic,
			Partitions: []kmsg.MetadataResponseTopicPartition{{Partition: 0, Leader: 0, Replicas: []int32{0}, ISR: []int32{0}}},
		}}
		return resp
	case *kmsg.ProduceRequest:
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		resp.SetVersion(req.Version)
		for _, rt := range req.Topics {
			st := kmsg.ProduceResponseTopic{Topic: rt.Topic}
			for _, rp := range rt.Partitions {
				fb.mu.Lock()
				fb.mu.records = append(fb.mu.records, bytes.Clone(rp.Records))
				fb.mu.Unlock()
				st.Partitions = append(st.Partitions, kmsg.ProduceResponseTopicPartition{Partition: rp.Partition})
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
	panic(fmt.Sprintf("fake broker: unexpected %T", req))
}

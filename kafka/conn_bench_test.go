package kafka

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/chronik-go/chronik/core/acl"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/core/quota"
)

// The connection benchmarks measure what the Kafka front end itself costs
// per request: a real TCP loopback connection to an in-process Server, a
// client that writes one pre-encoded request frame over and over with up to
// inflight requests outstanding, and a backend that does no work (Produce
// appends are dropped and answered at once, Fetch reads return one fixed
// slice). One op is one request; allocs/op counts the client too, which
// allocates nothing per request. Profile with
//
//	go test -run '^$' -bench 'Conn$' -benchmem -memprofile mem.out ./kafka/
//
// (bench/README.md, "Profile", has the numbers.)

// connBenchCases are the request shapes: one 256 B record per request (the
// latency-bound shape, ProduceSmallBatch) and a 1 MiB batch (what the
// default producer sends under load, Produce).
var connBenchCases = []struct {
	name     string
	records  int // 256 B records per request (Produce) or response (Fetch)
	inflight int
}{
	{"records=1/inflight=1", 1, 1},
	{"records=1/inflight=16", 1, 16},
	{"records=4000/inflight=4", 4000, 4},
}

func BenchmarkProduceConn(b *testing.B) {
	for _, bc := range connBenchCases {
		b.Run(bc.name, func(b *testing.B) {
			ts := startServer(b, Config{}, nil)
			ts.createTopic(b, "bench", 1)
			ok := &memPending{res: partition.AppendResult{LogAppendTime: -1}}
			ts.appendTo = func(partition.TP, partition.TxnProduce, []byte) appendWaiter { return ok }

			req := benchProduceRequest(bc.records)
			frame := benchFrame(req)
			b.SetBytes(int64(len(frame)))
			runConnBench(b, ts, req, frame, bc.inflight, checkProduced)
		})
	}
}

// benchProduceRequest is an acks=all Produce v11 of one batch of records
// 256 B records to partition 0 of "bench".
func benchProduceRequest(records int) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = 11
	req.Acks = -1
	req.TimeoutMillis = 30000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "bench"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = makeBatch(1700000000000, benchValues(records)...)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// checkProduced fails a produce response with an error.
func checkProduced(resp kmsg.Response) error {
	if c := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; c != 0 {
		return fmt.Errorf("produce error code %d", c)
	}
	return nil
}

func BenchmarkFetchConn(b *testing.B) {
	for _, bc := range connBenchCases {
		b.Run(bc.name, func(b *testing.B) {
			records := makeBatch(1700000000000, benchValues(bc.records)...)
			ts := startServer(b, Config{}, nil)
			ts.createTopic(b, "bench", 1)
			ts.backend = fixedReadBackend{ts.b, records}

			req := kmsg.NewPtrFetchRequest()
			req.Version = 12
			req.MaxWaitMillis = 500
			req.MinBytes = 1
			req.MaxBytes = 50 << 20
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = "bench"
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.PartitionMaxBytes = 2 << 20
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)

			b.SetBytes(int64(len(records)))
			runConnBench(b, ts, req, benchFrame(req), bc.inflight, func(resp kmsg.Response) error {
				p := resp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
				if p.ErrorCode != 0 || len(p.RecordBatches) != len(records) {
					return fmt.Errorf("fetch: error code %d, %d record bytes, want %d", p.ErrorCode, len(p.RecordBatches), len(records))
				}
				return nil
			})
		})
	}
}

// fixedReadBackend answers every Read with the same records, allocating
// nothing, so that a fetch benchmark measures the front end only.
type fixedReadBackend struct {
	*memBackend
	records []byte
}

func (f fixedReadBackend) Read(context.Context, partition.TP, int64, int32) (partition.ReadResult, error) {
	return partition.ReadResult{Records: f.records, HighWatermark: 1 << 40}, nil
}

func benchValues(n int) []string {
	v := make([]string, n)
	for i := range v {
		v[i] = strings.Repeat(string(rune('a'+i%26)), 256)
	}
	return v
}

func benchFrame(req kmsg.Request) []byte {
	return kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench")).AppendRequest(nil, req, 0)
}

// runConnBench sends frame b.N times over one connection with at most
// inflight requests outstanding and reads every response. check validates
// one decoded response before the timer starts.
func runConnBench(b *testing.B, ts *testServer, req kmsg.Request, frame []byte, inflight int, check func(kmsg.Response) error) {
	b.Helper()
	c := ts.dial(b)
	_ = c.nc.SetDeadline(time.Time{})
	if _, err := c.nc.Write(frame); err != nil {
		b.Fatal(err)
	}
	buf, err := c.readFrame()
	if err != nil {
		b.Fatal(err)
	}
	if _, resp := c.decode(req, buf); check(resp) != nil {
		b.Fatal(check(resp))
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sem := make(chan struct{}, inflight)
	werr := make(chan error, 1)
	br := bufio.NewReaderSize(c.br, 64<<10)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for range b.N {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				werr <- ctx.Err()
				return
			}
			if _, err := c.nc.Write(frame); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	var size [4]byte
	for range b.N {
		if _, err := io.ReadFull(br, size[:]); err != nil {
			b.Fatal(err)
		}
		if _, err := br.Discard(int(binary.BigEndian.Uint32(size[:]))); err != nil {
			b.Fatal(err)
		}
		<-sem
	}
	b.StopTimer()
	if err := <-werr; err != nil {
		b.Fatal(err)
	}
}

var _ Backend = fixedReadBackend{}

// BenchmarkProduceConnTracing is BenchmarkProduceConn's latency-bound
// shape with tracing off, sampling 1 % of requests (the default
// tracing.sample-ratio) and every request, exporting in batches to an
// exporter that drops them: what a span per request costs the front end.
func BenchmarkProduceConnTracing(b *testing.B) {
	for _, tc := range []struct {
		name  string
		ratio float64 // < 0: no tracer
	}{{"off", -1}, {"ratio=0.01", 0.01}, {"ratio=1", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			var cfg Config
			if tc.ratio >= 0 {
				tp := sdktrace.NewTracerProvider(
					sdktrace.WithBatcher(tracetest.NewNoopExporter()),
					sdktrace.WithSampler(sdktrace.TraceIDRatioBased(tc.ratio)))
				b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
				cfg.Tracer = tp.Tracer("bench")
			}
			benchProduceFrontEnd(b, cfg)
		})
	}
}

// BenchmarkProduceConnACLs is the cost of authorization on the produce
// path: without ACLs, and with 1,000 bindings of other principals and
// topics plus the one that allows the request (decided once per
// connection, then cached).
func BenchmarkProduceConnACLs(b *testing.B) {
	for _, tc := range []struct {
		name string
		acls bool
	}{{"off", false}, {"acls=1001", true}} {
		b.Run(tc.name, func(b *testing.B) {
			var cfg Config
			if tc.acls {
				bindings := []acl.Binding{{
					ResourceType: kmsg.ACLResourceTypeTopic, ResourceName: "bench", PatternType: kmsg.ACLResourcePatternTypeLiteral,
					Principal: anonymous, Host: acl.Wildcard, Operation: kmsg.ACLOperationWrite, Permission: kmsg.ACLPermissionTypeAllow,
				}}
				for i := range 1000 {
					bindings = append(bindings, acl.Binding{
						ResourceType: kmsg.ACLResourceTypeTopic, ResourceName: fmt.Sprintf("topic-%d", i), PatternType: kmsg.ACLResourcePatternTypePrefixed,
						Principal: fmt.Sprintf("User:u%d", i), Host: acl.Wildcard, Operation: kmsg.ACLOperationWrite, Permission: kmsg.ACLPermissionTypeAllow,
					})
				}
				cfg.ACLs = newMemACLs(bindings...)
			}
			benchProduceFrontEnd(b, cfg)
		})
	}
}

// BenchmarkProduceConnQuotas is the cost of quotas on the produce path:
// none set, 1,000 client-ID quotas none of which is the producer's, and a
// default quota (every client ID) far above the traffic, which each
// request records against.
func BenchmarkProduceConnQuotas(b *testing.B) {
	others := map[quota.Entity]map[string]float64{}
	for i := range 1000 {
		others[quota.Entity{ClientID: quota.Name(fmt.Sprintf("client-%d", i))}] = map[string]float64{quota.ProducerByteRate: 1e6}
	}
	for _, tc := range []struct {
		name   string
		quotas map[quota.Entity]map[string]float64
	}{
		{"none", nil},
		{"others=1000", others},
		{"default", map[quota.Entity]map[string]float64{{ClientID: quota.DefaultPart}: {quota.ProducerByteRate: 1e12}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			benchProduceFrontEnd(b, Config{Quotas: staticQuotas{quota.NewSet(tc.quotas)}})
		})
	}
}

// benchProduceFrontEnd runs one-record Produce requests, 16 in flight,
// through a listener with cfg whose backend does no work: the cost of the
// front end alone.
func benchProduceFrontEnd(b *testing.B, cfg Config) {
	ts := startServer(b, cfg, nil)
	ts.createTopic(b, "bench", 1)
	ok := &memPending{res: partition.AppendResult{LogAppendTime: -1}}
	ts.appendTo = func(partition.TP, partition.TxnProduce, []byte) appendWaiter { return ok }
	req := benchProduceRequest(1)
	runConnBench(b, ts, req, benchFrame(req), 16, checkProduced)
}

package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/core/telemetry"
)

func TestApiVersions(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	c := ts.dial(t)
	for v := int16(0); v <= 5; v++ {
		t.Run("v"+string(rune('0'+v)), func(t *testing.T) {
			req := kmsg.NewPtrApiVersionsRequest()
			req.Version = v
			req.ClientSoftwareName, req.ClientSoftwareVersion = "kafka-test", "1.0"
			resp := c.do(req).(*kmsg.ApiVersionsResponse)
			if resp.ErrorCode != 0 {
				t.Fatalf("error code %d", resp.ErrorCode)
			}
			checkAdvertised(t, resp.ApiKeys)
		})
	}
}

// checkAdvertised checks an ApiVersions table of a server without a group
// coordinator: every API but the consumer-group (KIP-848) ones.
func checkAdvertised(t *testing.T, keys []kmsg.ApiVersionsResponseApiKey) {
	t.Helper()
	if len(keys) != len(apis)-2 {
		t.Fatalf("%d keys advertised, want %d", len(keys), len(apis)-2)
	}
	for _, k := range keys {
		if k.ApiKey == keyConsumerGroupHeartbeat || k.ApiKey == keyConsumerGroupDescribe {
			t.Fatalf("%s advertised without consumer groups", kmsg.NameForKey(k.ApiKey))
		}
	}
	for _, k := range keys {
		a := lookupAPI(k.ApiKey)
		if a == nil || a.min != k.MinVersion || a.max != k.MaxVersion {
			t.Errorf("advertised %s %d–%d, table says %+v", kmsg.NameForKey(k.ApiKey), k.MinVersion, k.MaxVersion, a)
		}
	}
	want := map[int16][2]int16{0: {0, 13}, 1: {4, 18}, 2: {1, 11}, 3: {0, 13}, 18: {0, 5}}
	for _, k := range keys {
		if w, ok := want[k.ApiKey]; ok && (w[0] != k.MinVersion || w[1] != k.MaxVersion) {
			t.Errorf("%s advertised %d–%d, want %d–%d", kmsg.NameForKey(k.ApiKey), k.MinVersion, k.MaxVersion, w[0], w[1])
		}
	}
}

// An ApiVersions request at a version we do not serve gets a v0-format
// response with UNSUPPORTED_VERSION and the full table (KAFKA_COMPAT trap 1),
// and the connection stays usable.
func TestApiVersionsUnsupportedVersion(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	c := ts.dial(t)
	for _, v := range []int16{6, 9, 127} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = v
		id := c.send(req)
		buf, err := c.readFrame()
		if err != nil {
			t.Fatal(err)
		}
		// Decode strictly as v0: header v0, then the v0 body.
		v0 := kmsg.NewPtrApiVersionsRequest()
		v0.Version = 0
		corr, r := c.decode(v0, buf)
		resp := r.(*kmsg.ApiVersionsResponse)
		if corr != id {
			t.Fatalf("correlation %d, want %d", corr, id)
		}
		if resp.ErrorCode != kerr.UnsupportedVersion.Code {
			t.Fatalf("v%d: error code %d, want UNSUPPORTED_VERSION", v, resp.ErrorCode)
		}
		checkAdvertised(t, resp.ApiKeys)
	}
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	if resp := c.do(req).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatalf("retry at v3: error code %d", resp.ErrorCode)
	}
}

// TestApiVersionsNamesBroker: v5 (KIP-1242) refuses a connection the
// client meant for another broker or cluster, and one that names only one
// of them.
func TestApiVersionsNamesBroker(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	c := ts.dial(t)
	id, node := ts.b.ClusterID(), ts.b.NodeID()
	for _, tc := range []struct {
		name    string
		cluster *string
		node    int32
		want    int16
	}{
		{"bootstrapping", nil, -1, 0},
		{"this broker", &id, node, 0},
		{"another node", &id, node + 1, kerr.RebootstrapRequired.Code},
		{"another cluster", kmsg.StringPtr("other"), node, kerr.RebootstrapRequired.Code},
		{"cluster only", &id, -1, kerr.InvalidRequest.Code},
		{"node only", nil, node, kerr.InvalidRequest.Code},
	} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version, req.ClusterID, req.NodeID = 5, tc.cluster, tc.node
		req.ClientSoftwareName, req.ClientSoftwareVersion = "kafka-test", "1.0"
		if resp := c.do(req).(*kmsg.ApiVersionsResponse); resp.ErrorCode != tc.want || len(resp.ApiKeys) != len(advertisedClassic) {
			t.Errorf("%s: error %d, want %d (%d keys)", tc.name, resp.ErrorCode, tc.want, len(resp.ApiKeys))
		}
	}
}

// The ApiVersions response header is v0 even for flexible versions: the body
// (error code 0, then a compact array) follows the correlation ID directly.
func TestApiVersionsResponseHeaderV0(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	c := ts.dial(t)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 4
	c.send(req)
	buf, err := c.readFrame()
	if err != nil {
		t.Fatal(err)
	}
	if len(buf) < 7 || binary.BigEndian.Uint16(buf[4:]) != 0 || int(buf[6])-1 != len(advertisedClassic) {
		t.Fatalf("response does not start with corr, error 0, compact array of %d: % x", len(advertisedClassic), buf[:min(len(buf), 16)])
	}
}

func TestUnknownKeyClosesConnection(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	for _, key := range []int16{24, 68, 72, 999, -1} { // AddPartitionsToTxn and ConsumerGroupHeartbeat (malformed bodies), PushTelemetry (not served)
		c := ts.dial(t)
		frame := kbin.AppendInt16(nil, key)
		frame = kbin.AppendInt16(frame, 0)
		frame = kbin.AppendInt32(frame, 1)
		frame = kbin.AppendNullableString(frame, nil)
		frame = append(frame, 0, 0, 0, 0, 0, 0, 0, 0)
		writeFrame(t, c, frame)
		c.expectClosed()
	}
	// The server still serves other connections.
	c := ts.dial(t)
	if resp := c.do(kmsg.NewPtrApiVersionsRequest()).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatalf("error code %d", resp.ErrorCode)
	}
}

func TestUnsupportedVersionClosesConnection(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	c := ts.dial(t)
	req := kmsg.NewPtrFetchRequest()
	req.Version = 3 // we serve 4+
	c.send(req)
	c.expectClosed()
}

func writeFrame(t testing.TB, c *client, frame []byte) {
	t.Helper()
	out := binary.BigEndian.AppendUint32(nil, uint32(len(frame)))
	if _, err := c.nc.Write(append(out, frame...)); err != nil {
		t.Fatal(err)
	}
}

// Oversized and undersized frames close the connection without allocating
// the claimed size (KAFKA_COMPAT trap 11).
func TestBadFrameSize(t *testing.T) {
	ts := startServer(t, Config{MaxRequestBytes: 1 << 20}, nil)
	for _, size := range []uint32{0x7fffffff, 0x80000000, 0xffffffff, 1<<20 + 1, 7, 0} {
		c := ts.dial(t)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := c.nc.Write(binary.BigEndian.AppendUint32(nil, size)); err != nil {
			t.Fatal(err)
		}
		c.expectClosed()
		runtime.ReadMemStats(&after)
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Errorf("size %#x: %d bytes allocated while rejecting it", size, d)
		}
	}
}

func TestTruncatedFrame(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	c := ts.dial(t)
	full := kmsg.NewRequestFormatter().AppendRequest(nil, kmsg.NewPtrMetadataRequest(), 1)
	if _, err := c.nc.Write(full[:len(full)-3]); err != nil {
		t.Fatal(err)
	}
	if err := c.nc.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.expectClosed()
}

func TestGarbageBodyClosesConnection(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	cases := map[string][]byte{
		// Metadata v1 claiming 1000 topics with nothing behind.
		"metadata array": append(header(keyMetadata, 1, 7), 0, 0, 0x03, 0xe8),
		// Produce v3 cut inside the transactional ID.
		"produce short": append(header(keyProduce, 3, 7), 0, 9, 'a'),
		// A flexible (v9) Metadata header whose tag section is cut.
		"metadata tags": append(header(keyMetadata, 9, 7), 0x05),
		// Header cut inside the client ID.
		"client id": {0, 3, 0, 1, 0, 0, 0, 7, 0, 10, 'x'},
	}
	for name, frame := range cases {
		t.Run(name, func(t *testing.T) {
			c := ts.dial(t)
			writeFrame(t, c, frame)
			c.expectClosed()
		})
	}
}

// header is a request header v1 with a null client ID.
func header(key, version int16, corr int32) []byte {
	b := kbin.AppendInt16(nil, key)
	b = kbin.AppendInt16(b, version)
	b = kbin.AppendInt32(b, corr)
	return kbin.AppendNullableString(b, nil)
}

// Requests sent back to back without reading are answered in order, even
// when an earlier one (a long-poll fetch) finishes last.
func TestPipelinedResponsesInOrder(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "pipe", 1)
	c := ts.dial(t)

	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version = 11
	fetch.MaxWaitMillis = 300
	fetch.MinBytes = 1
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "pipe"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)

	var reqs []kmsg.Request
	reqs = append(reqs, fetch)
	for i := range 50 {
		switch i % 3 {
		case 0:
			r := kmsg.NewPtrApiVersionsRequest()
			r.Version = int16(i % 5)
			reqs = append(reqs, r)
		case 1:
			r := kmsg.NewPtrMetadataRequest()
			r.Version = int16(1 + i%13)
			reqs = append(reqs, r)
		default:
			r := kmsg.NewPtrDescribeConfigsRequest()
			res := kmsg.NewDescribeConfigsRequestResource()
			res.ResourceType = kmsg.ConfigResourceTypeBroker
			r.Resources = append(r.Resources, res)
			reqs = append(reqs, r)
		}
	}
	var all []byte
	for i, r := range reqs {
		all = append(all, c.fmt.AppendRequest(nil, r, int32(i))...) // AppendRequest frames from the start of dst
	}
	if _, err := c.nc.Write(all); err != nil {
		t.Fatal(err)
	}
	for i, r := range reqs {
		corr, _ := c.recv(r)
		if corr != int32(i) {
			t.Fatalf("response %d has correlation ID %d", i, corr)
		}
	}
}

// acks=0 produce gets no response and takes no place in the response order.
func TestProduceAcksZeroNoResponse(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "fire", 1)
	c := ts.dial(t)
	p := produceRequest(7, "fire", 0, makeBatch(1, "a", "b"))
	p.Acks = 0
	c.send(p)
	id := c.send(kmsg.NewPtrApiVersionsRequest())
	corr, _ := c.recv(kmsg.NewPtrApiVersionsRequest())
	if corr != id {
		t.Fatalf("got correlation ID %d, want %d (the ApiVersions)", corr, id)
	}
	st, err := ts.b.PartitionState(tp("fire", 0))
	if err != nil || st.HighWatermark != 2 {
		t.Fatalf("acks=0 records not appended: %+v, %v", st, err)
	}
}

func TestAuthorizerDenialClosesConnection(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	ts := startServer(t, Config{Authorizer: AuthorizerFunc(func(_ context.Context, principal string, key int16, _ kmsg.Request) error {
		mu.Lock()
		seen = append(seen, principal+" "+kmsg.NameForKey(key))
		mu.Unlock()
		if key == keyMetadata {
			return errors.New("no metadata for you")
		}
		return nil
	})}, nil)
	c := ts.dial(t)
	c.do(kmsg.NewPtrApiVersionsRequest())
	c.send(kmsg.NewPtrMetadataRequest())
	c.expectClosed()
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, ",") != "User:ANONYMOUS ApiVersions,User:ANONYMOUS Metadata" {
		t.Fatalf("authorizer saw %v", seen)
	}
}

func TestListenAddressInUse(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	s := New(Config{Addr: ts.addr}, newMemBackend(), testMetrics(t), ts.log)
	if err := s.Listen(); err == nil {
		t.Fatal("Listen on a busy address succeeded")
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Close answers the requests already read (a pending long poll ends early),
// then closes the connections, and leaves no goroutine behind.
func TestCloseGraceful(t *testing.T) {
	base := runtime.NumGoroutine()
	b := newMemBackend()
	s := New(Config{Addr: "127.0.0.1:0"}, b, testMetrics(t), testLogger(t))
	s.appendTo = b.appendRecords
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve(context.Background()) }()
	if _, err := b.CreateTopic(context.Background(), clusterSpec("t", 1), false); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s, b: b, addr: s.Addr().String()}
	c := ts.dial(t)
	idle := ts.dial(t)
	idle.do(kmsg.NewPtrApiVersionsRequest())

	fetch := fetchRequest(12, "t", 0, 0)
	fetch.MaxWaitMillis = 20000
	id := c.send(fetch)
	waitFor(t, "the fetch to long-poll", func() bool { return b.watcherCount() == 1 })

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v: the long poll did not end early", d)
	}
	if err := <-serveErr; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	corr, resp := c.recv(fetch)
	if corr != id || resp.(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("fetch answered %d / %+v", corr, resp)
	}
	c.expectClosed()
	idle.expectClosed()
	_ = c.nc.Close()
	_ = idle.nc.Close()
	waitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= base })
}

// A Close whose context ends forces the connections closed and still waits
// for every goroutine: here a produce whose commit never comes.
func TestCloseForced(t *testing.T) {
	base := runtime.NumGoroutine()
	b := newMemBackend()
	s := New(Config{Addr: "127.0.0.1:0"}, b, testMetrics(t), testLogger(t))
	waiting := make(chan struct{}, 1)
	s.appendTo = func(partition.TP, partition.TxnProduce, []byte) appendWaiter { return stuckAppend{waiting} }
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve(context.Background()) }()
	ts := &testServer{Server: s, b: b, addr: s.Addr().String()}
	ts.createTopic(t, "t", 1)
	c := ts.dial(t)
	req := produceRequest(9, "t", 0, makeBatch(1, "a"))
	req.TimeoutMillis = 30000
	c.send(req)
	<-waiting

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v, want deadline exceeded", err)
	}
	if err := <-serveErr; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	c.expectClosed()
	_ = c.nc.Close()
	waitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= base })
}

// stuckAppend is a proposal that is never committed.
type stuckAppend struct{ waiting chan<- struct{} }

func (s stuckAppend) Wait(ctx context.Context) (partition.AppendResult, error) {
	s.waiting <- struct{}{}
	<-ctx.Done()
	return partition.AppendResult{}, partition.ErrTimeout
}

// Requests are counted by api and error with cached attribute sets.
func TestRequestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m, err := telemetry.NewMetrics(mp.Meter("kafka-test"))
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{}, m)
	c := ts.dial(t)
	c.do(kmsg.NewPtrApiVersionsRequest())
	c.do(kmsg.NewPtrApiVersionsRequest())
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 4
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("nope")
	md.Topics = append(md.Topics, mt)
	c.do(md)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	var bytesIn int64
	for _, sm := range rm.ScopeMetrics {
		for _, mm := range sm.Metrics {
			switch mm.Name {
			case "kafka_requests":
				for _, dp := range mm.Data.(metricdata.Sum[int64]).DataPoints {
					api, _ := dp.Attributes.Value(attribute.Key("api"))
					e, _ := dp.Attributes.Value(attribute.Key("error"))
					got[api.AsString()+"/"+e.AsString()] += dp.Value
				}
			case "kafka_bytes_in":
				for _, dp := range mm.Data.(metricdata.Sum[int64]).DataPoints {
					bytesIn += dp.Value
				}
			}
		}
	}
	if got["ApiVersions/none"] != 2 || got["Metadata/UNKNOWN_TOPIC_OR_PARTITION"] != 1 {
		t.Fatalf("requests counted %v", got)
	}
	if bytesIn == 0 {
		t.Fatal("no bytes in counted")
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

package kafka

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/core/telemetry"
)

// testServer is a Server on 127.0.0.1:0 over a memBackend.
type testServer struct {
	*Server
	b    *memBackend
	addr string
}

// testLogWriter sends slog output to t.Log.
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func testMetrics(t testing.TB) *telemetry.Metrics {
	t.Helper()
	m, err := telemetry.NewMetrics(noop.NewMeterProvider().Meter("kafka-test"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// startServer starts a server; cfg.Addr is ignored. Close runs at cleanup.
func startServer(t testing.TB, cfg Config, m *telemetry.Metrics) *testServer {
	t.Helper()
	if m == nil {
		m = testMetrics(t)
	}
	cfg.Addr = "127.0.0.1:0"
	b := newMemBackend()
	s := New(cfg, b, m, testLogger(t))
	s.appendTo = b.appendRecords
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr().(*net.TCPAddr)
	b.setAddr(addr.IP.String(), int32(addr.Port))

	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-serveErr; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testServer{Server: s, b: b, addr: addr.String()}
}

// client is a raw Kafka connection for tests.
type client struct {
	t    testing.TB
	nc   net.Conn
	br   *bufio.Reader
	fmt  *kmsg.RequestFormatter
	corr int32
}

func (ts *testServer) dial(t testing.TB) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	// No test should ever wait this long; it turns a hang into a failure.
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	return &client{t: t, nc: nc, br: bufio.NewReader(nc), fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID("kafka-test"))}
}

// send writes req with the next correlation ID and returns that ID.
func (c *client) send(req kmsg.Request) int32 {
	c.t.Helper()
	id := c.corr
	c.corr++
	if _, err := c.nc.Write(c.fmt.AppendRequest(nil, req, id)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	return id
}

// readFrame reads one response frame.
func (c *client) readFrame() ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(c.br, size[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(c.br, buf)
	return buf, err
}

// recv reads the response to req and returns its correlation ID.
func (c *client) recv(req kmsg.Request) (int32, kmsg.Response) {
	c.t.Helper()
	buf, err := c.readFrame()
	if err != nil {
		c.t.Fatalf("read response to %s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return c.decode(req, buf)
}

func (c *client) decode(req kmsg.Request, buf []byte) (int32, kmsg.Response) {
	c.t.Helper()
	rd := kbin.Reader{Src: buf}
	corr := rd.Int32()
	if req.IsFlexible() && req.Key() != keyAPIVersions {
		kmsg.SkipTags(&rd)
	}
	if err := rd.Complete(); err != nil {
		c.t.Fatalf("response header: %v", err)
	}
	resp := req.ResponseKind()
	if err := resp.ReadFrom(rd.Src); err != nil {
		c.t.Fatalf("decode %s v%d response: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return corr, resp
}

// do sends req and reads its response.
func (c *client) do(req kmsg.Request) kmsg.Response {
	c.t.Helper()
	id := c.send(req)
	corr, resp := c.recv(req)
	if corr != id {
		c.t.Fatalf("correlation ID %d, want %d", corr, id)
	}
	return resp
}

// doRaw sends req and returns its raw response frame.
func (c *client) doRaw(req kmsg.Request) []byte {
	c.t.Helper()
	c.send(req)
	buf, err := c.readFrame()
	if err != nil {
		c.t.Fatal(err)
	}
	return buf
}

// expectClosed waits for the server to close the connection.
func (c *client) expectClosed() {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf, err := c.readFrame()
	switch {
	case err == nil:
		c.t.Fatalf("connection still open: got a %d-byte response", len(buf))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), isConnReset(err):
	default:
		c.t.Fatalf("expected the server to close the connection, got %v", err)
	}
}

func isConnReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// createTopic creates a topic with n partitions directly in the backend.
func (ts *testServer) createTopic(t testing.TB, name string, n int32) {
	t.Helper()
	if _, err := ts.b.CreateTopic(context.Background(), clusterSpec(name, n), false); err != nil {
		t.Fatal(err)
	}
}

func clusterSpec(name string, partitions int32) cluster.TopicSpec {
	return cluster.TopicSpec{Name: name, Partitions: partitions, ReplicationFactor: 1}
}

// produce appends a batch of values directly in the backend.
func (ts *testServer) produce(t testing.TB, topic string, p int32, values ...string) {
	t.Helper()
	if _, err := ts.b.appendRecords(partition.TP{Topic: topic, Partition: p}, partition.TxnProduce{}, makeBatch(1700000000000, values...)).Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// makeBatch encodes values as one uncompressed v2 record batch whose records
// have timestamps ts, ts+1, ….
func makeBatch(ts int64, values ...string) []byte {
	var records []byte
	for i, v := range values {
		r := kmsg.NewRecord()
		r.OffsetDelta = int32(i)
		r.TimestampDelta64 = int64(i)
		r.Key = []byte("k" + strconv.Itoa(i))
		r.Value = []byte(v)
		// Length is everything after the varint length itself; with
		// Length 0 that varint is one byte.
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		records = r.AppendTo(records)
	}
	b := kmsg.NewRecordBatch()
	b.Magic = 2
	b.LastOffsetDelta = int32(len(values) - 1)
	b.FirstTimestamp = ts
	b.MaxTimestamp = ts + int64(len(values)) - 1
	b.ProducerID = -1
	b.ProducerEpoch = -1
	b.FirstSequence = -1
	b.NumRecords = int32(len(values))
	b.Records = records
	b.Length = int32(batchHeaderSize - 12 + len(records))
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

//go:build integration

package broker_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/tier"
)

// TestTracingExportsOTLP: a broker with tracing.otlp-endpoint sends its
// request spans, and those of tiered uploads and remote reads, to the
// collector over OTLP/HTTP, the last of them when it stops, under the
// service name chronik and its node ID.
func TestTracingExportsOTLP(t *testing.T) {
	var mu sync.Mutex
	spans := map[string]int{}
	services := map[string]bool{}
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || err != nil || proto.Unmarshal(body, &req) != nil {
			t.Errorf("collector got %s %s (%d bytes, %v)", r.Method, r.URL.Path, len(body), err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, a := range rs.GetResource().GetAttributes() {
				services[a.Key+"="+a.GetValue().GetStringValue()] = true
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					spans[s.Name]++
				}
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	defer collector.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, adm := startTracedBroker(ctx, t, collector.URL)
	tieredTopic(ctx, t, adm, "traced")
	want := brokertest.Produce(ctx, t, []string{b.KafkaAddr()}, "traced", 1, 1000, 1000, time.Now())
	waitTier(t, b.HTTPAddr(), "traced", 0, "segments tiered and local data trimmed", func(ps tier.PartitionStatus) bool {
		return ps.LocalStart > 0
	})
	brokertest.CheckPartition(ctx, t, []string{b.KafkaAddr()}, "traced", 0, want) // from the remote tier
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"kafka Produce", "kafka Metadata", "kafka Fetch", "tier upload", "tier put", "tier read index", "tier read chunk"} {
		if spans[name] == 0 {
			t.Errorf("collector got no %q span; got %v", name, spans)
		}
	}
	if !services["service.name=chronik"] || !services["service.instance.id=7"] {
		t.Fatalf("resource attributes %v", services)
	}
}

// TestTracingUnreachableCollector: a collector that does not answer costs
// the broker nothing but a bounded wait for the last spans at its stop.
func TestTracingUnreachableCollector(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, adm := startTracedBroker(ctx, t, "http://"+brokertest.FreeAddr(t))
	if resp, err := adm.CreateTopic(ctx, 1, 1, nil, "traced"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	want := brokertest.Produce(ctx, t, []string{b.KafkaAddr()}, "traced", 1, 50, 100, time.Now())
	brokertest.CheckPartition(ctx, t, []string{b.KafkaAddr()}, "traced", 0, want)
	start := time.Now()
	if err := b.Stop(ctx); err != nil {
		t.Fatalf("stop with the collector unreachable: %v", err)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("stop took %v with the collector unreachable", took)
	}
}

// startTracedBroker starts broker 7 tracing every request to endpoint,
// with fast tiering checks, and an admin client on it; the test stops it.
func startTracedBroker(ctx context.Context, t *testing.T, endpoint string) (*broker.Broker, *kadm.Client) {
	t.Helper()
	cfg := brokertest.Config(t)
	cfg.NodeID = 7
	cfg.Tracing.OTLPEndpoint, cfg.Tracing.SampleRatio = endpoint, 1
	cfg.Tier.CheckInterval = 50 * time.Millisecond
	b, err := broker.Start(ctx, cfg, brokertest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return b, kadm.NewClient(cl)
}

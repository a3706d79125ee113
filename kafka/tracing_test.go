package kafka

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestTracingSpanPerRequest: with a Tracer every request becomes a server
// span, timed from the read of its frame, with the client, the principal,
// the produce's topics and the response's error.
func TestTracingSpanPerRequest(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	ts := startServer(t, Config{Tracer: tp.Tracer("kafka-test")}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cl := newKgoClient(t, ts, kgo.ClientID("traced-app"), kgo.DefaultProduceTopic("traced"), kgo.AllowAutoTopicCreation())
	create := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "traced", 1, -1
	create.Topics = append(create.Topics, rt)
	create.TimeoutMillis = 5000
	if resp, err := create.RequestWith(ctx, cl); err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create: %v %+v", err, resp)
	}
	before := time.Now()
	if err := cl.ProduceSync(ctx, kgo.StringRecord("v")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Creating it again: an error in the response.
	if resp, err := create.RequestWith(ctx, cl); err != nil || resp.Topics[0].ErrorCode == 0 {
		t.Fatalf("create again: %v %+v", err, resp)
	}

	attr := func(s sdktrace.ReadOnlySpan, key string) attribute.Value {
		for _, kv := range s.Attributes() {
			if string(kv.Key) == key {
				return kv.Value
			}
		}
		return attribute.Value{}
	}
	var produce, createAgain sdktrace.ReadOnlySpan
	names := map[string]bool{}
	for _, s := range rec.Ended() {
		names[s.Name()] = true
		if s.SpanKind() != trace.SpanKindServer {
			t.Errorf("span %s of kind %v, want server", s.Name(), s.SpanKind())
		}
		switch s.Name() {
		case "kafka Produce":
			produce = s
		case "kafka CreateTopics":
			createAgain = s // the last one
		}
	}
	if !names["kafka ApiVersions"] || !names["kafka Metadata"] || !names["kafka CreateTopics"] {
		t.Errorf("spans %v; want one per request, ApiVersions, Metadata and CreateTopics among them", names)
	}
	if produce == nil {
		t.Fatalf("no Produce span among %v", names)
	}
	if got := attr(produce, "kafka.topics").AsStringSlice(); !slices.Equal(got, []string{"traced"}) {
		t.Errorf("Produce span topics %v", got)
	}
	if got := attr(produce, "kafka.client_id").AsString(); got != "traced-app" {
		t.Errorf("Produce span client %q", got)
	}
	if got := attr(produce, "enduser.id").AsString(); got != anonymous {
		t.Errorf("Produce span principal %q", got)
	}
	if attr(produce, "kafka.request_bytes").AsInt64() <= 0 || attr(produce, "kafka.response_bytes").AsInt64() <= 0 {
		t.Error("Produce span without the request's and response's sizes")
	}
	if ev := produce.Events(); len(ev) != 2 || ev[0].Name != "appends proposed" || ev[1].Name != "appends committed" ||
		ev[0].Time.Before(produce.StartTime()) || ev[1].Time.Before(ev[0].Time) || produce.EndTime().Before(ev[1].Time) {
		t.Errorf("Produce span events %+v, want proposed then committed within the span", ev)
	}
	if produce.Status().Code == codes.Error || produce.StartTime().Before(before) || !produce.EndTime().After(produce.StartTime()) {
		t.Errorf("Produce span status %v, %v to %v (produced after %v)", produce.Status(), produce.StartTime(), produce.EndTime(), before)
	}
	if createAgain == nil || createAgain.Status().Code != codes.Error || attr(createAgain, "kafka.error_code").AsInt64() == 0 {
		t.Errorf("CreateTopics of an existing topic: span %v; want an error status and code", createAgain)
	}
}

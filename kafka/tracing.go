package kafka

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// traceRequest records a finished request as a server span from the moment
// its frame was read until its response was queued (Config.Tracer), with
// the API, the client, the principal, the sizes, the topics of a produce or
// fetch, and the error code of the response (first error, as in metrics).
// A produce's span has two events: its appends proposed to Raft, and all of
// them committed (the rest is waiting for the replicas).
func (s *Server) traceRequest(r *request, code int16, bytesOut int) {
	_, span := s.cfg.Tracer.Start(context.Background(), spanName(r.key), serverSpan, trace.WithTimestamp(r.start))
	if !span.IsRecording() {
		return // not sampled: nothing to describe or end
	}
	attrs := make([]attribute.KeyValue, 0, 12)
	attrs = append(attrs,
		attribute.String("messaging.system", "kafka"),
		attribute.Int("kafka.api_key", int(r.key)),
		attribute.Int("kafka.api_version", int(r.version)),
		attribute.Int("kafka.correlation_id", int(r.corrID)),
		attribute.Int("kafka.request_bytes", r.size),
		attribute.Int("kafka.response_bytes", bytesOut),
	)
	if r.clientID != nil {
		attrs = append(attrs, attribute.String("kafka.client_id", *r.clientID))
	}
	if r.principal != "" {
		attrs = append(attrs, attribute.String("enduser.id", r.principal))
	}
	if r.conn != nil {
		attrs = append(attrs, attribute.String("network.peer.address", r.conn.nc.RemoteAddr().String()))
	}
	if topics := s.requestTopics(r.msg); len(topics) > 0 {
		attrs = append(attrs, attribute.StringSlice("kafka.topics", topics))
	}
	if code != 0 {
		attrs = append(attrs, attribute.Int("kafka.error_code", int(code)))
		span.SetStatus(codes.Error, kerr.ErrorForCode(code).Error())
	}
	span.SetAttributes(attrs...)
	if r.proposed != 0 {
		span.AddEvent("appends proposed", trace.WithTimestamp(time.Unix(0, r.proposed)))
	}
	if r.committed != 0 {
		span.AddEvent("appends committed", trace.WithTimestamp(time.Unix(0, r.committed)))
	}
	span.End(trace.WithTimestamp(time.Now()))
}

// serverSpan is the kind of a request's span, made once.
var serverSpan = trace.WithSpanKind(trace.SpanKindServer)

// spanNames are the requests' span names by API key ("kafka Produce"),
// made once: a request that is not sampled allocates nothing for its name.
var spanNames = func() map[int16]string {
	names := map[int16]string{}
	for _, a := range apis {
		names[a.key] = "kafka " + kmsg.NameForKey(a.key)
	}
	return names
}()

func spanName(key int16) string {
	if name, ok := spanNames[key]; ok {
		return name
	}
	return "kafka " + kmsg.NameForKey(key)
}

// maxTracedTopics bounds the topic names a span carries.
const maxTracedTopics = 8

// requestTopics names the topics of a produce or fetch request (strings
// the decoder copied, so they outlive the request's frame); newer versions
// carry topic IDs instead, which are looked up.
func (s *Server) requestTopics(msg kmsg.Request) []string {
	var out []string
	add := func(name string, id [16]byte) {
		if name == "" {
			if t, ok := s.backend.TopicByID(id); ok {
				name = t.Name
			}
		}
		if len(out) < maxTracedTopics {
			out = append(out, name)
		}
	}
	switch m := msg.(type) {
	case *kmsg.ProduceRequest:
		for i := range m.Topics {
			add(m.Topics[i].Topic, m.Topics[i].TopicID)
		}
	case *kmsg.FetchRequest:
		for i := range m.Topics {
			add(m.Topics[i].Topic, m.Topics[i].TopicID)
		}
	}
	return out
}

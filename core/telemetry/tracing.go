package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TracingOptions configures the export of traces.
type TracingOptions struct {
	// Endpoint is the OTLP/HTTP collector's base URL
	// (http://collector:4318); spans go to its /v1/traces. Empty turns
	// tracing off. The OTEL_EXPORTER_OTLP_* environment variables (headers,
	// timeout, certificate) apply as the OpenTelemetry SDK defines them.
	Endpoint string
	// SampleRatio is the share of traces kept, 0 to 1.
	SampleRatio float64
	// NodeID becomes the service.instance.id resource attribute.
	NodeID int32
	// Log gets the exporter's errors (an unreachable collector), which
	// never reach the traced code.
	Log *slog.Logger
}

// Tracing is the process's TracerProvider, exporting in batches to an
// OTLP/HTTP collector.
type Tracing struct {
	tp *sdktrace.TracerProvider
}

// NewTracing returns nil, nil when opts.Endpoint is empty: callers treat a
// nil *Tracing (and the nil Tracer it returns) as tracing off, at no cost.
func NewTracing(opts TracingOptions) (*Tracing, error) {
	if opts.Endpoint == "" {
		return nil, nil
	}
	if opts.Log != nil {
		// The handler is process-wide: the last broker started in a
		// process (tests) logs for all.
		log := opts.Log
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			log.Warn("telemetry: exporting traces", "endpoint", opts.Endpoint, "err", err)
		}))
	}
	// A base URL, as OTEL_EXPORTER_OTLP_ENDPOINT: the signal's path follows.
	url := opts.Endpoint
	if !strings.HasSuffix(url, "/v1/traces") {
		url = strings.TrimSuffix(url, "/") + "/v1/traces"
	}
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(url))
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP trace exporter for %s: %w", opts.Endpoint, err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(opts.SampleRatio))),
		sdktrace.WithResource(resource.NewSchemaless(
			attribute.String("service.name", Namespace),
			attribute.String("service.instance.id", strconv.Itoa(int(opts.NodeID))),
		)),
	)
	return &Tracing{tp: tp}, nil
}

// Tracer returns the named tracer (by convention the Go package path), nil
// when t is nil.
func (t *Tracing) Tracer(name string) trace.Tracer {
	if t == nil {
		return nil
	}
	return t.tp.Tracer(name)
}

// Shutdown exports the spans still queued and stops the provider.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if err := t.tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("telemetry: shutdown tracer provider: %w", err)
	}
	return nil
}

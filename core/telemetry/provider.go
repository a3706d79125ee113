package telemetry

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// Namespace prefixes every metric the broker exports.
const Namespace = "chronik"

// Provider is the process's OpenTelemetry MeterProvider, exported in
// Prometheus format through its own registry (never the global default, so
// tests and several brokers in one process do not collide). The registry
// also carries the Go runtime and process collectors.
type Provider struct {
	reg *prometheus.Registry
	mp  *sdkmetric.MeterProvider
}

// NewProvider creates the registry, the exporter and the MeterProvider.
// Instruments are named without the prefix (kafka_requests) and exported
// as chronik_kafka_requests_total, with Prometheus unit and _total
// suffixes and no otel_scope_* labels.
func NewProvider() (*Provider, error) {
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("telemetry: register collector: %w", err)
		}
	}
	exp, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		otelprom.WithNamespace(Namespace),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
		otelprom.WithoutScopeInfo(),
	)
	if err != nil {
		return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(exp),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", Namespace))),
	)
	return &Provider{reg: reg, mp: mp}, nil
}

// Meter returns the named meter (by convention the Go package path).
func (p *Provider) Meter(name string) metric.Meter { return p.mp.Meter(name) }

// Handler serves the registry in the Prometheus exposition format.
func (p *Provider) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(p.reg, promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{
		Registry:      p.reg,
		ErrorHandling: promhttp.ContinueOnError,
	}))
}

// Shutdown stops the MeterProvider; instruments record nothing afterwards.
func (p *Provider) Shutdown(ctx context.Context) error {
	if err := p.mp.Shutdown(ctx); err != nil {
		return fmt.Errorf("telemetry: shutdown meter provider: %w", err)
	}
	return nil
}

package tiering

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/chronik-go/chronik/tiering/driver"
)

// Operations and outcomes are small fixed sets, so every attribute set is
// built once per Store and recording allocates nothing.
const (
	opPut = iota
	opGet
	opStat
	opDelete
	opList
	numOps
)

var opNames = [numOps]string{"put", "get", "stat", "delete", "list"}

// outcomes: "ok", "canceled" and every driver.Kind.
var outcomeNames = []string{
	"ok", "canceled",
	driver.Unknown.String(), driver.NotFound.String(), driver.InvalidArgument.String(),
	driver.PermissionDenied.String(), driver.Throttled.String(), driver.Transient.String(),
}

type metrics struct {
	ops      metric.Int64Counter
	duration metric.Float64Histogram
	bytes    metric.Int64Counter
	retries  metric.Int64Counter
	attrs    [numOps]map[string]metric.MeasurementOption
}

// newMetrics creates the Store's instruments. The Prometheus exporter's
// namespace turns tier_operations into chronik_tier_operations_total.
func newMetrics(m metric.Meter, provider string) (*metrics, error) {
	if m == nil {
		m = noop.NewMeterProvider().Meter("")
	}
	var (
		x   metrics
		err error
	)
	if x.ops, err = m.Int64Counter("tier_operations",
		metric.WithDescription("Object store operations by provider, op and outcome")); err != nil {
		return nil, fmt.Errorf("tiering: metrics: %w", err)
	}
	if x.duration, err = m.Float64Histogram("tier_operation_duration", metric.WithUnit("s"),
		metric.WithDescription("Object store operation latency (all attempts; for get, until the body starts) by provider, op and outcome"),
		metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)); err != nil {
		return nil, fmt.Errorf("tiering: metrics: %w", err)
	}
	if x.bytes, err = m.Int64Counter("tier_bytes", metric.WithUnit("By"),
		metric.WithDescription("Object bytes written (put) and read (get) by provider, op and outcome")); err != nil {
		return nil, fmt.Errorf("tiering: metrics: %w", err)
	}
	if x.retries, err = m.Int64Counter("tier_retries",
		metric.WithDescription("Object store operation retries by provider, op and the error kind retried")); err != nil {
		return nil, fmt.Errorf("tiering: metrics: %w", err)
	}
	for op := range numOps {
		x.attrs[op] = make(map[string]metric.MeasurementOption, len(outcomeNames))
		for _, oc := range outcomeNames {
			x.attrs[op][oc] = metric.WithAttributeSet(attribute.NewSet(
				attribute.String("provider", provider),
				attribute.String("op", opNames[op]),
				attribute.String("outcome", oc)))
		}
	}
	return &x, nil
}

func (m *metrics) attr(op int, oc string) metric.MeasurementOption {
	if a, ok := m.attrs[op][oc]; ok {
		return a
	}
	return m.attrs[op]["unknown"]
}

func (m *metrics) record(ctx context.Context, op int, oc string, seconds float64) {
	a := m.attr(op, oc)
	m.ops.Add(ctx, 1, a)
	m.duration.Record(ctx, seconds, a)
}

func (m *metrics) addBytes(ctx context.Context, op int, oc string, n int64) {
	if n > 0 {
		m.bytes.Add(ctx, n, m.attr(op, oc))
	}
}

// retried counts one retry; the outcome label holds the kind retried.
func (m *metrics) retried(ctx context.Context, op int, k driver.Kind) {
	m.retries.Add(ctx, 1, m.attr(op, k.String()))
}

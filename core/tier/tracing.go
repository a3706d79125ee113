package tier

import (
	"context"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// startSpan starts a span with Config.Tracer; without one it returns ctx
// and a span that records nothing, at no cost.
func (m *Manager) startSpan(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if m.cfg.Tracer == nil {
		return ctx, trace.SpanFromContext(context.Background())
	}
	return m.cfg.Tracer.Start(ctx, name, opts...)
}

// endSpan ends span, marking it failed when err is not nil.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

package txn

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/chronik-go/chronik/raftsm"
)

// metrics are the coordinator's instruments, on the shards this broker
// leads.
type metrics struct {
	ended          metric.Int64Counter // by outcome
	timedOut       metric.Int64Counter
	markerFailures metric.Int64Counter
	commit, abort  metric.MeasurementOption
}

func newMetrics(s *Service, meter metric.Meter) (*metrics, error) {
	if meter == nil {
		meter = noop.NewMeterProvider().Meter("")
	}
	m := &metrics{
		commit: metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "commit"))),
		abort:  metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "abort"))),
	}
	var err error
	counter := func(name, desc string) metric.Int64Counter {
		if err != nil {
			return nil
		}
		var c metric.Int64Counter
		c, err = meter.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit("{transaction}"))
		return c
	}
	m.ended = counter("transactions_ended", "Transactions this broker's coordinator completed (markers written), by outcome.")
	m.timedOut = counter("transactions_timed_out", "Transactions this broker's coordinator aborted because they outlived their timeout.")
	m.markerFailures = counter("transaction_marker_failures", "Attempts to write a transaction's markers that failed (they are retried).")
	if err != nil {
		return nil, err
	}
	_, err = meter.Int64ObservableGauge("transactions_open",
		metric.WithDescription("Transactions open or ending on the coordinator shards this broker leads."),
		metric.WithUnit("{transaction}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(s.openTransactions())
			return nil
		}))
	return m, err
}

// openTransactions counts the Ongoing and prepared records of the shards
// this broker leads.
func (s *Service) openTransactions() int64 {
	var n int64
	for i, sh := range s.shards {
		if !s.loop.Leads(i) {
			continue
		}
		for _, r := range sh.sm.Txns() {
			switch r.State {
			case raftsm.TxnOngoing, raftsm.TxnPrepareCommit, raftsm.TxnPrepareAbort:
				n++
			}
		}
	}
	return n
}

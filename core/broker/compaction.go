package broker

import (
	"context"

	"go.opentelemetry.io/otel/metric"

	"github.com/chronik-go/chronik/core/compaction"
)

// startCleaner starts the log cleaner (kafka.log-cleaner-enable), which
// compacts the partitions this broker leads of topics whose cleanup.policy
// includes compact. Stop waits for it before the NodeHost closes: a pass's
// proposal must not race the close.
func (b *Broker) startCleaner(meter metric.Meter) error {
	if !b.cfg.Kafka.LogCleanerEnable {
		return nil
	}
	c, err := compaction.New(b.parts, b.cluster, b.cfg.Kafka.LogCleanerBackoff, meter, b.log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.stopCleaner = func() { cancel(); <-done }
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	return nil
}

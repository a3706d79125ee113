package broker

import (
	"context"

	"go.opentelemetry.io/otel/metric"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/compaction"
	"github.com/chronik-go/chronik/raftsm"
)

// startCleaner starts the log cleaner, which compacts the partitions this
// broker leads of topics whose cleanup.policy includes compact (with
// kafka.log-cleaner-enable = false, it only ends the passes a previous run
// left pending). Stop waits for it before the NodeHost closes: a pass's
// proposal must not race the close.
func (b *Broker) startCleaner(meter metric.Meter) error {
	c, err := compaction.New(b.parts, b.cluster, b.cfg.Kafka.LogCleanerBackoff, b.cfg.Kafka.LogCleanerEnable, meter, b.log)
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

// compactionStatus is a replica's compaction for /v1/status: nil when it
// has neither a pass in progress nor one completed since the start.
func compactionStatus(c raftsm.CompactionStatus) *cluster.CompactionStatus {
	if c.Pending == 0 && c.Last == nil {
		return nil
	}
	st := &cluster.CompactionStatus{PendingPass: c.Pending, WorkerDone: c.WorkerDone, CleanBytes: c.CleanBytes, DirtyBytes: c.DirtyBytes}
	if l := c.Last; l != nil {
		st.LastPass = &cluster.CompactionPass{Pass: l.Pass, Records: l.Records, Kept: l.Kept, BytesBefore: l.InBytes, BytesAfter: l.OutBytes}
		if l.Err != nil {
			st.LastPass.Error = l.Err.Error()
		}
	}
	return st
}

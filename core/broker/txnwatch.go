package broker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/chronik-go/chronik/core/partition"
)

// stableWatchInterval is how often the leaders' last stable offsets are
// looked at.
const stableWatchInterval = 10 * time.Second

// stableWatch follows, on the partitions this broker leads, how long the
// last stable offset has stayed at the same offset below the high
// watermark: how long a transaction has held read_committed consumers back.
// No transaction stays open past its producer's timeout (at most
// kafka.transaction-max-timeout) unless its coordinator cannot reach the
// partition or never knew of it — a hanging transaction — so past that it
// warns, once per transaction, with what to do.
type stableWatch struct {
	parts  *partition.Service
	warnAt time.Duration
	log    *slog.Logger

	mu    sync.Mutex
	now   func() time.Time         // the clock; tests move it
	stuck map[partition.TP]stuckAt // partitions with a transaction open
}

type stuckAt struct {
	lso    int64
	since  time.Time
	warned bool
}

func newStableWatch(parts *partition.Service, warnAt time.Duration, log *slog.Logger) *stableWatch {
	return &stableWatch{parts: parts, warnAt: warnAt, log: log, now: time.Now, stuck: map[partition.TP]stuckAt{}}
}

// check looks at every led partition once.
func (w *stableWatch) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	seen := map[partition.TP]bool{}
	for _, r := range w.parts.LocalReplicas() {
		if !r.IsLeader {
			continue
		}
		lso, hw := r.Log.LastStableOffset(), r.Log.HighWatermark()
		if lso >= hw {
			continue
		}
		seen[r.TP] = true
		s, ok := w.stuck[r.TP]
		if !ok || s.lso != lso {
			s = stuckAt{lso: lso, since: now}
		}
		if age := now.Sub(s.since); age > w.warnAt && !s.warned {
			s.warned = true
			w.log.Warn("a transaction has held this partition's last stable offset (and its read_committed consumers, and its tiering) for longer than any transaction may stay open: "+
				"it may be hanging. `chronik topic producers TOPIC` shows the producer with an open transaction; if its coordinator does not end it, "+
				"abort it with `chronik transaction abort --topic TOPIC --partition N --start-offset TXN-START` (or kafka-transactions.sh abort)",
				"topic", r.Topic, "partition", r.Partition, "last_stable_offset", lso, "high_watermark", hw, "for", age.Round(time.Second))
		}
		w.stuck[r.TP] = s
	}
	for tp := range w.stuck {
		if !seen[tp] {
			delete(w.stuck, tp)
		}
	}
}

// oldest is the longest time a led partition's last stable offset has
// stayed put below its high watermark, and how many such partitions there
// are.
func (w *stableWatch) oldest() (time.Duration, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var age time.Duration
	for _, s := range w.stuck {
		age = max(age, w.now().Sub(s.since))
	}
	return age, len(w.stuck)
}

func (w *stableWatch) meters(meter metric.Meter) error {
	age, err := meter.Float64ObservableGauge("last_stable_offset_stuck_max_seconds",
		metric.WithDescription("On the partitions this broker leads, the longest time a last stable offset has stayed at one offset below the high watermark (an open transaction holding read_committed consumers back); checked every 10 s."),
		metric.WithUnit("s"))
	if err != nil {
		return err
	}
	open, err := meter.Int64ObservableGauge("partitions_with_open_transactions",
		metric.WithDescription("Partitions this broker leads whose last stable offset is below the high watermark (a transaction is open); checked every 10 s."),
		metric.WithUnit("{partition}"))
	if err != nil {
		return err
	}
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		a, n := w.oldest()
		o.ObserveFloat64(age, a.Seconds())
		o.ObserveInt64(open, int64(n))
		return nil
	}, age, open)
	return err
}

// startStableWatch runs the watch until Stop.
func (b *Broker) startStableWatch(meter metric.Meter) error {
	w := newStableWatch(b.parts, b.cfg.Kafka.TransactionMaxTimeout, b.log)
	if err := w.meters(meter); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.stable, b.stopStableWatch = w, cancel
	go every(ctx, stableWatchInterval, w.check)
	return nil
}

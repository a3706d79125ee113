package broker

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/partition"
)

// diskGuardInterval is how often the free-space guard looks at the data
// directory's file system.
const diskGuardInterval = time.Second

// diskGuard refuses produce while the data directory's file system has
// less than storage.min-free-bytes free: a Raft log or state store write
// that fails for lack of space stops the broker, so the guard stops the
// growth first and clients get KAFKA_STORAGE_ERROR (retriable) with the
// reason. Replication, fetches, offset commits and retention go on, so
// retention or tiering can free the space and produce resumes by itself.
type diskGuard struct {
	dir   string
	min   int64
	parts *partition.Service
	log   *slog.Logger
	space func(dir string) (total, usable int64, err error)

	usable atomic.Int64 // last measurement, -1 before the first
	low    atomic.Bool  // produce is being refused
}

func newDiskGuard(dir string, minFree int64, parts *partition.Service, log *slog.Logger) *diskGuard {
	g := &diskGuard{dir: dir, min: minFree, parts: parts, log: log, space: cluster.DiskSpace}
	g.usable.Store(-1)
	return g
}

// check measures once and opens or closes the gate.
func (g *diskGuard) check() {
	_, usable, err := g.space(g.dir)
	if err != nil {
		// Unknown free space: leave the gate as it is rather than refuse
		// produce on a platform or file system that cannot tell.
		g.log.Debug("free-space guard cannot read the file system", "dir", g.dir, "err", err)
		return
	}
	g.usable.Store(usable)
	switch low := usable < g.min; {
	case low && !g.low.Load():
		g.low.Store(true)
		g.parts.SetStorageError(fmt.Errorf("%w: the file system of %s has %d bytes free, below storage.min-free-bytes (%d); produce is refused until space is freed",
			partition.ErrStorage, g.dir, usable, g.min))
		g.log.Error("disk nearly full: refusing produce (KAFKA_STORAGE_ERROR) until space is freed; replication, fetches and retention continue",
			"dir", g.dir, "free_bytes", usable, "min_free_bytes", g.min)
	case !low && g.low.Load():
		g.low.Store(false)
		g.parts.SetStorageError(nil)
		g.log.Info("disk space recovered: accepting produce again", "dir", g.dir, "free_bytes", usable, "min_free_bytes", g.min)
	}
}

// meters registers chronik_storage_free_bytes and
// chronik_storage_produce_refused (1 while the guard refuses produce).
func (g *diskGuard) meters(meter metric.Meter) error {
	free, err1 := meter.Int64ObservableGauge("storage_free_bytes",
		metric.WithDescription("Bytes free on the data directory's file system (for an unprivileged writer)."), metric.WithUnit("By"))
	refused, err2 := meter.Int64ObservableGauge("storage_produce_refused",
		metric.WithDescription("1 while produce is refused because free space is below storage.min-free-bytes."))
	if err1 != nil || err2 != nil {
		return fmt.Errorf("storage metrics: %w %w", err1, err2)
	}
	_, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if v := g.usable.Load(); v >= 0 {
			o.ObserveInt64(free, v)
		}
		var r int64
		if g.low.Load() {
			r = 1
		}
		o.ObserveInt64(refused, r)
		return nil
	}, free, refused)
	return err
}

// startDiskGuard measures once, so produce is refused from the start on a
// nearly full disk, then keeps checking until Stop.
func (b *Broker) startDiskGuard(meter metric.Meter) error {
	if b.cfg.Storage.MinFreeBytes <= 0 {
		return nil
	}
	g := newDiskGuard(b.cfg.DataDir, b.cfg.Storage.MinFreeBytes, b.parts, b.log)
	if err := g.meters(meter); err != nil {
		return err
	}
	g.check()
	ctx, cancel := context.WithCancel(context.Background())
	b.stopGuard = cancel
	go every(ctx, diskGuardInterval, g.check)
	return nil
}

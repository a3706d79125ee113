package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/chronik-go/chronik/tiering"
)

// Config tunes scheduled backups; zero values take the defaults in brackets.
type Config struct {
	// Interval between scheduled backups; 0 turns the time trigger off.
	Interval time.Duration
	// LogGrowthEntries triggers a backup once the meta and coordinator
	// shards applied this many Raft entries since the last one; 0 is off.
	LogGrowthEntries uint64
	// Keep is how many complete backups survive a successful one [7].
	Keep int
	// Compression of the objects: zstd, gzip or none [zstd].
	Compression string
}

// Collector gathers a consistent export of the cluster (core/broker).
type Collector func(ctx context.Context) (*Data, error)

// Service takes backups on demand and on schedule.
type Service struct {
	cfg     Config
	store   *tiering.Store
	info    Info
	collect Collector
	log     *slog.Logger

	run sync.Mutex // one backup at a time
	mu  struct {
		sync.Mutex
		lastSuccess  time.Time
		lastSize     int64
		lastDuration time.Duration
		failures     int64
	}
}

// retryAfterFailure spaces scheduled attempts after a failed one.
const retryAfterFailure = time.Minute

// NewService returns a backup service writing to store (the root of the
// configured object store) and registers its metrics on meter (may be nil).
func NewService(cfg Config, store *tiering.Store, info Info, collect Collector, meter metric.Meter, log *slog.Logger) (*Service, error) {
	if cfg.Keep <= 0 {
		cfg.Keep = 7
	}
	if cfg.Compression == "" {
		cfg.Compression = Zstd
	}
	if err := CheckCompression(cfg.Compression); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, store: store, info: info, collect: collect, log: log}
	if meter != nil {
		if err := s.meters(meter); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Service) meters(meter metric.Meter) error {
	last, err1 := meter.Float64ObservableGauge("backup_last_success_timestamp_seconds",
		metric.WithDescription("Unix time of the last successful backup this broker took (age: time() minus this)."), metric.WithUnit("s"))
	size, err2 := meter.Int64ObservableGauge("backup_size_bytes",
		metric.WithDescription("Stored bytes of the last successful backup (its objects; segments are already tiered)."), metric.WithUnit("By"))
	dur, err3 := meter.Float64ObservableGauge("backup_duration_seconds",
		metric.WithDescription("How long the last successful backup took."), metric.WithUnit("s"))
	fails, err4 := meter.Int64ObservableCounter("backup_failures",
		metric.WithDescription("Backups that failed since this broker started."), metric.WithUnit("{backup}"))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return err
	}
	_, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		o.ObserveInt64(fails, s.mu.failures)
		if s.mu.lastSuccess.IsZero() {
			return nil
		}
		o.ObserveFloat64(last, float64(s.mu.lastSuccess.UnixMilli())/1000)
		o.ObserveInt64(size, s.mu.lastSize)
		o.ObserveFloat64(dur, s.mu.lastDuration.Seconds())
		return nil
	}, last, size, dur, fails)
	return err
}

// Store is the object store backups go to.
func (s *Service) Store() *tiering.Store { return s.store }

// Backup takes one backup now: collect, write the objects and the
// manifest, then delete backups beyond Keep. It returns the manifest.
func (s *Service) Backup(ctx context.Context) (*Manifest, error) {
	s.run.Lock()
	defer s.run.Unlock()
	m, err := s.backup(ctx)
	s.mu.Lock()
	if err != nil {
		s.mu.failures++
	} else {
		s.mu.lastSuccess, s.mu.lastSize, s.mu.lastDuration = m.CreatedAt, m.SizeBytes, time.Duration(m.DurationSeconds*float64(time.Second))
	}
	s.mu.Unlock()
	if err != nil {
		s.log.Error("backup failed", "err", err)
		return nil, err
	}
	s.log.Info("backup written", "id", m.ID, "topics", m.Topics, "partitions", m.Partitions, "groups", m.Groups,
		"offsets", m.Offsets, "segments", m.Segments, "bytes", m.SizeBytes, "duration", time.Duration(m.DurationSeconds*float64(time.Second)).String())
	deleted, err := Prune(ctx, s.store, s.cfg.Keep)
	if err != nil {
		s.log.Warn("cannot delete old backups", "keep", s.cfg.Keep, "err", err)
	}
	if len(deleted) > 0 {
		s.log.Info("deleted old backups", "ids", deleted, "keep", s.cfg.Keep)
	}
	return m, nil
}

func (s *Service) backup(ctx context.Context) (*Manifest, error) {
	started := time.Now()
	d, err := s.collect(ctx)
	if err != nil {
		return nil, fmt.Errorf("backup: collect: %w", err)
	}
	return Write(ctx, s.store, NewID(started), s.info, s.cfg.Compression, d, started)
}

// Run takes scheduled backups until ctx ends, while leader() reports that
// this broker should (the meta shard's leader): every Interval, and when
// growth() (a count of applied Raft entries) has risen by LogGrowthEntries.
// The time since the last backup counts from the newest complete one in
// the store, so restarts do not take extra backups.
func (s *Service) Run(ctx context.Context, leader func() bool, growth func() uint64) {
	if s.cfg.Interval <= 0 && s.cfg.LogGrowthEntries == 0 {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var (
		known       bool // last was read from the store
		last        time.Time
		grownAt     uint64
		nextAttempt time.Time
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !leader() {
			known = false // another broker may have taken backups meanwhile
			continue
		}
		now := time.Now()
		if !known {
			lctx, cancel := context.WithTimeout(ctx, time.Minute)
			id, err := Latest(lctx, s.store)
			cancel()
			switch {
			case err == nil:
				last, _ = time.Parse(idLayout, id[:len(idLayout)])
			case errors.Is(err, ErrNotFound):
				last = time.Time{}
			default:
				s.log.Warn("cannot list backups", "err", err)
				continue
			}
			known, grownAt = true, growth()
		}
		due := s.cfg.Interval > 0 && now.Sub(last) >= s.cfg.Interval
		reason := "interval"
		if g := growth(); s.cfg.LogGrowthEntries > 0 && g-grownAt >= s.cfg.LogGrowthEntries {
			due, reason = true, "log growth"
		}
		if !due || now.Before(nextAttempt) {
			continue
		}
		s.log.Info("taking a scheduled backup", "trigger", reason)
		g := growth()
		if _, err := s.Backup(ctx); err != nil {
			nextAttempt = now.Add(retryAfterFailure)
			continue
		}
		last, grownAt = now, g
	}
}

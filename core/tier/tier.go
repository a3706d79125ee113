package tier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/raftsm"
	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/chunkcache"
)

// Config tunes a Manager; zero values take the defaults in brackets.
type Config struct {
	// CacheDir and CacheBytes place and bound the on-disk cache of
	// verified remote chunks [1 GiB].
	CacheDir   string
	CacheBytes int64
	// TempDir holds segments being built before their upload.
	TempDir string
	// CheckInterval is how often each leader looks for a segment to
	// upload and applies retention [1s].
	CheckInterval time.Duration
	// SweepInterval is how often each leader deletes its partitions'
	// unreferenced objects [10m]; OrphanGrace is how old an unreferenced
	// object above the tiered end must be before it counts as orphaned (its
	// commit may still be in flight) [1h].
	SweepInterval time.Duration
	OrphanGrace   time.Duration
	// UploadTimeout bounds one segment PUT [5m].
	UploadTimeout time.Duration
	// RetentionInterval is how often each leader applies retention.ms and
	// retention.bytes to a partition without remote storage [5m] (Kafka's
	// log.retention.check.interval.ms). Tiered partitions apply retention
	// at every check.
	RetentionInterval time.Duration
	// MaxPendingBytes is the local-disk watermark: a tiered partition with
	// more bytes than this not yet uploaded refuses produce with
	// partition.ErrStorage until uploads catch up. 0 means no limit.
	MaxPendingBytes int64
	// Concurrency bounds simultaneous uploads [4].
	Concurrency int
	// Tracer records spans of uploads and remote reads (tracing.go); nil
	// records none, at no cost.
	Tracer trace.Tracer
}

func (c *Config) defaults() {
	if c.CacheBytes <= 0 {
		c.CacheBytes = 1 << 30
	}
	if c.CheckInterval <= 0 {
		c.CheckInterval = time.Second
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = 10 * time.Minute
	}
	if c.OrphanGrace <= 0 {
		c.OrphanGrace = time.Hour
	}
	if c.UploadTimeout <= 0 {
		c.UploadTimeout = 5 * time.Minute
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.RetentionInterval <= 0 {
		c.RetentionInterval = 5 * time.Minute
	}
}

// Topics is the cluster view the manager reads topic configs and IDs from
// (core/cluster.Service).
type Topics interface {
	Topic(name string) (cluster.Topic, bool)
	// RequireLevel fails while any broker runs a release below the
	// command level (raftsm.CommandLevel): segments that list aborted
	// transactions (format version 2) are written only once every broker
	// reads them.
	RequireLevel(level uint16, what string) error
}

// Manager runs tiered storage for the partitions this broker leads. Start
// it once; Close stops it.
type Manager struct {
	cfg    Config
	store  *tiering.Store // the "segments/" view of the configured store
	parts  *partition.Service
	topics Topics
	cache  *chunkcache.Cache
	ix     indexCache
	log    *slog.Logger
	met    *metrics
	sem    chan struct{} // upload slots

	remote atomic.Pointer[map[string]settings] // tiered topics, refreshed every check

	mu struct {
		sync.Mutex
		parts map[partition.TP]*partState
	}
	stop    context.CancelFunc
	stopped chan struct{}

	// Read-ahead of remote chunks (reader.go): ahead holds a slot per
	// read-ahead in flight, aheadCtx ends them at Close, aheadWG waits.
	ahead     chan struct{}
	aheadCtx  context.Context
	aheadStop context.CancelFunc
	aheadWG   sync.WaitGroup
}

// partState is the manager's memory of one partition. busy is held by the
// goroutine working on it; the transfer hook acquires it too, so a
// leadership transfer waits for an upload in flight.
type partState struct {
	busy chan struct{} // capacity 1: a lock that can be waited on with a context

	// Owned by the holder of busy.
	epoch        int32
	firstPending time.Time // when data above the tiered end was first seen (segment.ms)
	lastSweep    time.Time
	pausedUntil  time.Time // after a quiesce: no new uploads until then

	// nextRetention is when a partition without remote storage is due for
	// its next retention check (unix nanoseconds); check reads it without
	// holding busy.
	nextRetention atomic.Int64

	stat         atomic.Pointer[partStat]  // for Status, written by the holder of busy
	pendingSince atomic.Pointer[time.Time] // firstPending, published for Status
}

// partStat is what Status reports beyond the state machine's counters.
type partStat struct {
	lastUpload  time.Time
	lastError   string
	lastErrorAt time.Time
}

// New opens the chunk cache and returns a manager that uploads to store
// (under its "segments/" prefix) for the leaders among parts' replicas.
func New(cfg Config, store *tiering.Store, parts *partition.Service, topics Topics, met *Meters, log *slog.Logger) (*Manager, error) {
	cfg.defaults()
	if cfg.CacheDir == "" || cfg.TempDir == "" {
		return nil, errors.New("tier: CacheDir and TempDir are required")
	}
	if err := os.MkdirAll(cfg.TempDir, 0o750); err != nil {
		return nil, fmt.Errorf("tier: %w", err)
	}
	segs, err := store.Sub("segments")
	if err != nil {
		return nil, fmt.Errorf("tier: %w", err)
	}
	cache, err := chunkcache.Open(cfg.CacheDir, cfg.CacheBytes, chunkcache.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("tier: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{
		cfg: cfg, store: segs, parts: parts, topics: topics, cache: cache, log: log,
		sem: make(chan struct{}, cfg.Concurrency), stopped: make(chan struct{}),
		ahead: make(chan struct{}, readAheadSlots),
	}
	m.aheadCtx, m.aheadStop = context.WithCancel(context.Background())
	m.ix.init(512)
	m.mu.parts = map[partition.TP]*partState{}
	empty := map[string]settings{}
	m.remote.Store(&empty)
	m.met = met.bind(m)
	return m, nil
}

// Start installs the append gate and the transfer hook on the partition
// service and runs the leaders' checks until Close.
func (m *Manager) Start() {
	m.parts.SetAppendGate(m.gate)
	m.parts.SetTransferHook(m.quiesce)
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	go m.run(ctx)
}

// Close stops the checks, waits for work in flight, and closes the cache.
func (m *Manager) Close() error {
	if m.stop != nil {
		m.stop()
		<-m.stopped
	}
	// Wait for partition workers: each holds its busy slot.
	m.mu.Lock()
	states := make([]*partState, 0, len(m.mu.parts))
	for _, st := range m.mu.parts {
		states = append(states, st)
	}
	m.mu.Unlock()
	for _, st := range states {
		st.busy <- struct{}{}
	}
	m.aheadStop()
	m.aheadWG.Wait()
	return m.cache.Close()
}

// StoreName describes the store segments go to, without secrets.
func (m *Manager) StoreName() string { return m.store.String() }

func (m *Manager) state(tp partition.TP) *partState {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.mu.parts[tp]
	if !ok {
		st = &partState{busy: make(chan struct{}, 1)}
		st.stat.Store(&partStat{})
		m.mu.parts[tp] = st
	}
	return st
}

func (m *Manager) run(ctx context.Context) {
	defer close(m.stopped)
	t := time.NewTicker(m.cfg.CheckInterval)
	defer t.Stop()
	for {
		m.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check refreshes the set of tiered topics and starts a worker for each
// led partition that has none running.
func (m *Manager) check(ctx context.Context) {
	// One topic lookup per topic per check: a lookup copies the topic's
	// placement, and a broker may hold thousands of replicas.
	type topicInfo struct {
		t  cluster.Topic
		s  settings
		ok bool
	}
	remote, seen := map[string]settings{}, map[string]topicInfo{}
	for _, r := range m.parts.LocalReplicas() {
		ti, ok := seen[r.Topic]
		if !ok {
			ti.t, ti.ok = m.topics.Topic(r.Topic)
			if ti.ok {
				ti.s = settingsOf(ti.t)
				if ti.s.remote {
					remote[r.Topic] = ti.s
				}
			}
			seen[r.Topic] = ti
		}
		if !ti.ok {
			continue
		}
		t, s := ti.t, ti.s
		if !r.IsLeader || !s.remote && (!s.deletes || s.retentionMs < 0 && s.retentionBytes < 0) {
			continue
		}
		st := m.state(r.TP)
		if !s.remote {
			// The first check waits one interval too (Kafka waits
			// log.initial.task.delay.ms), not racing a restart.
			now := time.Now().UnixNano()
			next := st.nextRetention.Load()
			if next == 0 {
				st.nextRetention.Store(now + int64(m.cfg.RetentionInterval))
				continue
			}
			if now < next {
				continue
			}
		}
		select {
		case st.busy <- struct{}{}:
		default:
			continue // still working on the previous check
		}
		go func() {
			defer func() { <-st.busy }()
			if !s.remote {
				st.nextRetention.Store(time.Now().Add(m.cfg.RetentionInterval).UnixNano())
				if err := m.applyLocalRetention(ctx, r, s); err != nil {
					m.fail(st, r.TP, "retention", err)
				}
				return
			}
			m.work(ctx, r, t, s, st)
		}()
	}
	m.remote.Store(&remote)
}

// work runs one check of one led partition: uploads, retention, sweeping.
func (m *Manager) work(ctx context.Context, r partition.Led, t cluster.Topic, s settings, st *partState) {
	now := time.Now()
	if st.epoch != r.Epoch {
		st.epoch = r.Epoch
		st.setPending(time.Time{})
	}
	if now.Before(st.pausedUntil) {
		return
	}
	for range 8 { // at most this many segments per check, so retention and sweeps run too
		up, err := m.uploadNext(ctx, r, t, s, st)
		if err != nil {
			m.fail(st, r.TP, "upload", err)
			break
		}
		if !up {
			break
		}
	}
	if err := m.applyRetention(ctx, r, s); err != nil {
		m.fail(st, r.TP, "retention", err)
	}
	if now.Sub(st.lastSweep) >= m.cfg.SweepInterval {
		st.lastSweep = now
		if err := m.sweep(ctx, r, t); err != nil {
			m.fail(st, r.TP, "sweep", err)
		}
	}
}

func (m *Manager) fail(st *partState, tp partition.TP, op string, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, partition.ErrEpochChanged) {
		return
	}
	prev := st.stat.Load()
	next := *prev
	next.lastError, next.lastErrorAt = op+": "+err.Error(), time.Now()
	st.stat.Store(&next)
	m.met.errors(op)
	m.log.Warn("tiered storage "+op+" failed", "topic", tp.Topic, "partition", tp.Partition, "err", err)
}

// gate is the partition service's append gate: the local-disk watermark.
func (m *Manager) gate(tp partition.TP, log *raftsm.Partition) error {
	if m.cfg.MaxPendingBytes <= 0 {
		return nil
	}
	n := log.UntieredBytes()
	if n <= m.cfg.MaxPendingBytes {
		return nil
	}
	if _, ok := (*m.remote.Load())[tp.Topic]; !ok {
		return nil
	}
	last := ""
	if st := m.peek(tp); st != nil {
		if e := st.stat.Load().lastError; e != "" {
			last = "; last error: " + e
		}
	}
	return fmt.Errorf("%w: %s/%d has %d bytes not yet uploaded to tiered storage, above tier.max-pending-bytes (%d)%s",
		partition.ErrStorage, tp.Topic, tp.Partition, n, m.cfg.MaxPendingBytes, last)
}

func (m *Manager) peek(tp partition.TP) *partState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.parts[tp]
}

// quiesce is the partition service's transfer hook: it waits for the
// partition's upload in flight and holds new ones off for a while, so
// leadership moves between uploads.
func (m *Manager) quiesce(ctx context.Context, tp partition.TP) {
	st := m.state(tp)
	select {
	case st.busy <- struct{}{}:
		st.pausedUntil = time.Now().Add(10 * time.Second)
		<-st.busy
	case <-ctx.Done():
		m.log.Warn("leadership transfer did not wait for the upload in flight", "topic", tp.Topic, "partition", tp.Partition)
	}
}

package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	dbconfig "github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/raftio"
	pb "github.com/lni/dragonboat/v4/raftpb"
	"go.opentelemetry.io/otel/metric"

	"github.com/chronik-go/chronik/core/sharedlog"
)

// Raft log store timing: Dragonboat's step worker saves every shard's new
// entries and state in one SaveRaftState call per round, fsync'd, before it
// can commit or send them, so the save time bounds both throughput and
// latency (bench/README.md "Partition scaling": with tan a round fsyncs one
// file per replica that has new entries). chronik_raft_log_save_duration_seconds
// and chronik_raft_log_saved_entries_total expose it.

// timedLogDBFactory wraps a Raft log store factory so that its saves are
// measured.
type timedLogDBFactory struct {
	inner   dbconfig.LogDBFactory
	meter   metric.Meter
	saves   metric.Float64Histogram
	entries metric.Int64Counter
}

// timeLogDB wraps nhc's Raft log store factory with the save metrics.
// Dragonboat's built-in Pebble store has no factory to wrap (it is the
// default when none is set), so only sharedlog (the store of new data
// dirs) and tan are measured.
func timeLogDB(nhc *dbconfig.NodeHostConfig, meter metric.Meter) error {
	if nhc.Expert.LogDBFactory == nil {
		return nil
	}
	saves, err := meter.Float64Histogram("raft_log_save_duration_seconds",
		metric.WithDescription("Time of one Raft log store save: a step-worker round's new entries and state for every shard with work, fsync'd."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1))
	if err != nil {
		return fmt.Errorf("raft log metrics: %w", err)
	}
	entries, err := meter.Int64Counter("raft_log_saved_entries",
		metric.WithDescription("Raft log entries saved (each fsync'd as part of a save)."), metric.WithUnit("{entry}"))
	if err != nil {
		return fmt.Errorf("raft log metrics: %w", err)
	}
	nhc.Expert.LogDBFactory = &timedLogDBFactory{inner: nhc.Expert.LogDBFactory, meter: meter, saves: saves, entries: entries}
	return nil
}

func (f *timedLogDBFactory) Create(cfg dbconfig.NodeHostConfig, cb dbconfig.LogDBCallback, dirs, wals []string) (raftio.ILogDB, error) {
	db, err := f.inner.Create(cfg, cb, dirs, wals)
	if err != nil {
		return nil, err
	}
	l := &timedLogDB{ILogDB: db, f: f}
	if s, ok := db.(*sharedlog.Store); ok {
		if l.reg, err = observeSharedLog(f.meter, s); err != nil {
			return nil, errors.Join(err, db.Close())
		}
	}
	return l, nil
}

// observeSharedLog exports the shared log's segment files, what its
// cleaning copied and deleted, its fdatasyncs and its direct writes.
func observeSharedLog(meter metric.Meter, s *sharedlog.Store) (metric.Registration, error) {
	segments, err1 := meter.Int64ObservableGauge("raft_log_segments",
		metric.WithDescription("Segment files of the shared Raft log (raft.logdb = sharedlog)."), metric.WithUnit("{file}"))
	cleaned, err2 := meter.Int64ObservableCounter("raft_log_cleaned_segments",
		metric.WithDescription("Shared Raft log segments deleted after their live records (under a quarter of them) were copied forward."), metric.WithUnit("{file}"))
	deleted, err3 := meter.Int64ObservableCounter("raft_log_deleted_segments",
		metric.WithDescription("Shared Raft log segments deleted, cleaned or with nothing live left."), metric.WithUnit("{file}"))
	relocated, err4 := meter.Int64ObservableCounter("raft_log_relocated_bytes",
		metric.WithDescription("Bytes the shared Raft log's cleaning copied forward."), metric.WithUnit("By"))
	syncs, err5 := meter.Int64ObservableCounter("raft_log_syncs",
		metric.WithDescription("fdatasyncs of the shared Raft log: one per save round that stored entries, a snapshot or a new term or vote."), metric.WithUnit("{call}"))
	direct, err6 := meter.Int64ObservableCounter("raft_log_direct_bytes",
		metric.WithDescription("Bytes the shared Raft log wrote with direct I/O (O_DIRECT: the whole pages of save rounds of 64 KiB or more); stays 0 on a file system without it."), metric.WithUnit("By"))
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		return nil, fmt.Errorf("raft log metrics: %w", err)
	}
	reg, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := s.Stats()
		o.ObserveInt64(segments, int64(st.Segments))
		o.ObserveInt64(cleaned, st.CleanedSegments)
		o.ObserveInt64(deleted, st.DeletedSegments)
		o.ObserveInt64(relocated, st.RelocatedBytes)
		o.ObserveInt64(syncs, st.Syncs)
		o.ObserveInt64(direct, st.DirectBytes)
		return nil
	}, segments, cleaned, deleted, relocated, syncs, direct)
	if err != nil {
		return nil, fmt.Errorf("raft log metrics: %w", err)
	}
	return reg, nil
}

func (f *timedLogDBFactory) Name() string { return f.inner.Name() }

type timedLogDB struct {
	raftio.ILogDB
	f   *timedLogDBFactory
	reg metric.Registration // the shared log's gauges, if it is one
}

func (l *timedLogDB) Close() error {
	var err error
	if l.reg != nil {
		err = l.reg.Unregister()
	}
	return errors.Join(err, l.ILogDB.Close())
}

func (l *timedLogDB) SaveRaftState(updates []pb.Update, shardID uint64) error {
	start := time.Now()
	err := l.ILogDB.SaveRaftState(updates, shardID)
	n := 0
	for i := range updates {
		n += len(updates[i].EntriesToSave)
	}
	ctx := context.Background()
	l.f.saves.Record(ctx, time.Since(start).Seconds())
	if n > 0 {
		l.f.entries.Add(ctx, int64(n))
	}
	return err
}

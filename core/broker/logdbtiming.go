package broker

import (
	"context"
	"fmt"
	"time"

	dbconfig "github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/raftio"
	pb "github.com/lni/dragonboat/v4/raftpb"
	"go.opentelemetry.io/otel/metric"
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
	saves   metric.Float64Histogram
	entries metric.Int64Counter
}

// timeLogDB wraps nhc's Raft log store factory with the save metrics.
// Dragonboat's built-in Pebble store has no factory to wrap (it is the
// default when none is set), so only tan, the store of new data dirs, is
// measured.
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
	nhc.Expert.LogDBFactory = &timedLogDBFactory{inner: nhc.Expert.LogDBFactory, saves: saves, entries: entries}
	return nil
}

func (f *timedLogDBFactory) Create(cfg dbconfig.NodeHostConfig, cb dbconfig.LogDBCallback, dirs, wals []string) (raftio.ILogDB, error) {
	db, err := f.inner.Create(cfg, cb, dirs, wals)
	if err != nil {
		return nil, err
	}
	return &timedLogDB{ILogDB: db, f: f}, nil
}

func (f *timedLogDBFactory) Name() string { return f.inner.Name() }

type timedLogDB struct {
	raftio.ILogDB
	f *timedLogDBFactory
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

package broker

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// Disk use by component, measured when /metrics is scraped:
// chronik_raft_log_disk_bytes (the Raft log store's files under
// <data-dir>/raft, bounded per partition by raft.snapshot-bytes and
// raft.compaction-overhead-bytes) and chronik_state_disk_bytes (the
// partitions' record batch files under <data-dir>/batches and the state
// store under <data-dir>/state). Together with
// chronik_storage_free_bytes they tell an operator where a disk went.
func (b *Broker) diskUsageMeters(meter metric.Meter) error {
	raftLog, err1 := meter.Int64ObservableGauge("raft_log_disk_bytes",
		metric.WithDescription("Bytes of the Raft log store's files under <data-dir>/raft."), metric.WithUnit("By"))
	state, err2 := meter.Int64ObservableGauge("state_disk_bytes",
		metric.WithDescription("Bytes the partitions' record batch files (<data-dir>/batches) and the state store (<data-dir>/state: offsets, indexes, group state) take on disk."), metric.WithUnit("By"))
	if err1 != nil || err2 != nil {
		return fmt.Errorf("disk use metrics: %w %w", err1, err2)
	}
	// Walked rather than asked of Pebble: its DiskSpaceUsage gave 8 KB for
	// a store with 1.8 MB of blob files after a restart.
	raftDir := filepath.Join(b.cfg.DataDir, "raft")
	stateDirs := []string{filepath.Join(b.cfg.DataDir, "batches"), filepath.Join(b.cfg.DataDir, "state")}
	_, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if n, err := dirBytes(raftDir); err == nil {
			o.ObserveInt64(raftLog, n)
		}
		var n int64
		for _, dir := range stateDirs {
			if m, err := dirBytes(dir); err == nil {
				n += m
			}
		}
		o.ObserveInt64(state, n)
		return nil
	}, raftLog, state)
	return err
}

// dirBytes sums the sizes of the regular files under dir.
func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			return nil // removed while walking (a compacted log file)
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n, err
}

// stateSyncTiming returns the state store's OnSync, which records
// chronik_state_sync_duration_seconds: each sync of the batch files and the
// WAL, which Dragonboat waits for holding a partition's lock at every
// snapshot.
func stateSyncTiming(meter metric.Meter) (func(time.Duration), error) {
	h, err := meter.Float64Histogram("state_sync_duration_seconds",
		metric.WithDescription("Time of one state store sync (the batch files, then the WAL); a partition applies nothing during the one its snapshot takes."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1))
	if err != nil {
		return nil, fmt.Errorf("state store metrics: %w", err)
	}
	return func(d time.Duration) { h.Record(context.Background(), d.Seconds()) }, nil
}

// pageCacheMeters reports the store's page window (storage.batch-page-cache-bytes):
// chronik_batch_page_cache_bytes, the newest batch bytes whose pages it
// keeps, and chronik_batch_page_cache_dropped_bytes_total, those whose pages
// it dropped. Consumers reading further back than the first read from disk.
func (b *Broker) pageCacheMeters(meter metric.Meter) error {
	kept, err1 := meter.Int64ObservableGauge("batch_page_cache_bytes",
		metric.WithDescription("Bytes of the newest record batches whose pages the broker keeps in the page cache (at most storage.batch-page-cache-bytes)."), metric.WithUnit("By"))
	dropped, err2 := meter.Int64ObservableCounter("batch_page_cache_dropped_bytes",
		metric.WithDescription("Bytes of record batches whose pages were dropped from the page cache once on disk, since the broker started."), metric.WithUnit("By"))
	if err1 != nil || err2 != nil {
		return fmt.Errorf("page cache metrics: %w %w", err1, err2)
	}
	_, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := b.store.PageCacheStats()
		o.ObserveInt64(kept, st.KeptBytes)
		o.ObserveInt64(dropped, st.DroppedBytes)
		return nil
	}, kept, dropped)
	return err
}

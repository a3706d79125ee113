package partition

import (
	"context"
	"errors"
	"math"

	"github.com/lni/dragonboat/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/chronik-go/chronik/raftsm"
)

// Raft log compaction. A produce batch is one entry of up to a MiB, so
// Dragonboat's entry counts alone (raft.snapshot-entries,
// raft.compaction-overhead) let a busy partition's Raft log grow to ~60 GB
// beside the same data in the state store, and a restart reads all of it.
// LogCompaction adds a trigger by bytes: once a local replica has applied
// SnapshotBytes since its last snapshot, it asks Dragonboat for a snapshot
// (metadata-only: the state store is synced) that compacts the log to the
// newest point at least KeepBytes back, or the partition's local size if that
// is less. The log then holds between KeepBytes and KeepBytes+SnapshotBytes
// of entries, enough for a follower that fell that far behind to catch up
// from it rather than by a snapshot transfer of the whole partition. Every
// replica compacts its own log.
//
// The entry-count trigger of partition replicas is here too (the broker turns
// Dragonboat's own off for them): a snapshot every SnapshotEntries applied
// entries that compacts to KeepEntries behind; whichever target compacts
// further wins. Dragonboat's snapshot holds the state machine's lock while it
// syncs the state store, and only a snapshot requested here syncs first (see
// requestSnapshot): with one-record batches its own every 10,000 entries
// stalled a partition's acks by 100–160 ms every few seconds (when a sync
// was a memtable flush).
//
// The snapshot is taken every SnapshotBytes even when the log cannot be
// compacted yet (the first KeepBytes after a start, or a partition that
// stores less): a start applies the log again from the last snapshot,
// skipping what the state store holds but reading every entry, so without
// one a restart read a young partition's whole log (3 GB over 8 partitions:
// 2–4 s of a 4.7–9 s start, bench/README.md "Partition scaling").

// LogCompaction configures a LogCompactor.
type LogCompaction struct {
	SnapshotBytes   int64  // raft.snapshot-bytes; 0 turns the trigger by bytes off
	KeepBytes       int64  // raft.compaction-overhead-bytes
	SnapshotEntries uint64 // raft.snapshot-entries; 0 turns the trigger by entries off
	KeepEntries     uint64 // raft.compaction-overhead
}

var (
	compactedAttrs = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "compacted")))
	snapshotAttrs  = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "snapshot_only")))
	rejectedAttrs  = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "rejected")))
	failedAttrs    = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "failed")))
)

// logMark is a point of a replica's log: its applied index and the command
// bytes applied since the state machine opened.
type logMark struct {
	index uint64
	bytes int64
}

// replicaLog is what the compaction loop knows of one replica's log.
type replicaLog struct {
	sm    *raftsm.Partition // the state machine the marks describe
	marks []logMark         // ascending; the last is the last snapshot by size
	to    uint64            // the index the log was last compacted to
	busy  chan struct{}     // closed when the requested snapshot is done
}

// LogCompactor snapshots and compacts the Raft logs of the local partition
// replicas by size; call Check periodically from one goroutine.
type LogCompactor struct {
	s    *Service
	c    LogCompaction
	logs map[uint64]*replicaLog
}

// NewLogCompactor returns a compactor for s's replicas.
func (s *Service) NewLogCompactor(c LogCompaction) *LogCompactor {
	return &LogCompactor{s: s, c: c, logs: map[uint64]*replicaLog{}}
}

// Check requests the snapshots that are due.
func (lc *LogCompactor) Check() {
	if lc.c.SnapshotBytes > 0 || lc.c.SnapshotEntries > 0 {
		lc.s.compactLogs(lc.logs, lc.c)
	}
}

// finalSnapshotBytes is how much a replica must have applied since its
// last snapshot for Final to take one.
const finalSnapshotBytes = 1 << 20

// Final snapshots, without compacting, every replica that has applied
// finalSnapshotBytes or more since its last snapshot, and waits for them
// (or ctx): a clean stop then leaves nothing for the next start to read
// again. A start applies the log again from each replica's last snapshot,
// reading every entry (skipping what the state store holds): up to
// raft.snapshot-bytes per partition, read from the disk since the log's
// large writes bypass the page cache (core/sharedlog). Call it instead of
// Check, after the last Check has returned.
func (lc *LogCompactor) Final(ctx context.Context) {
	if lc.c.SnapshotBytes <= 0 && lc.c.SnapshotEntries == 0 {
		return
	}
	s := lc.s
	live := s.localStateMachines()
	var waits []chan struct{}
	for id, p := range live {
		_, since := p.AppliedLog() // bytes applied since the state machine opened
		if l := lc.logs[id]; l != nil && l.sm == p {
			if l.busy != nil {
				waits = append(waits, l.busy)
				continue
			}
			if len(l.marks) > 1 { // the last is a snapshot's, not the first sight
				since -= l.marks[len(l.marks)-1].bytes
			}
		}
		if since >= finalSnapshotBytes {
			waits = append(waits, s.requestSnapshot(id, p, 0))
		}
	}
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			return
		}
	}
}

// localStateMachines returns the state machine of every local partition
// replica, by shard.
func (s *Service) localStateMachines() map[uint64]*raftsm.Partition {
	s.mu.RLock()
	defer s.mu.RUnlock()
	live := make(map[uint64]*raftsm.Partition, len(s.mu.byShard))
	for id, r := range s.mu.byShard {
		live[id] = r.sm
	}
	return live
}

// compactLogs requests the snapshots that are due and forgets replicas that
// are gone.
func (s *Service) compactLogs(logs map[uint64]*replicaLog, c LogCompaction) {
	live := s.localStateMachines()
	for id := range logs {
		if live[id] == nil {
			delete(logs, id)
		}
	}
	for id, p := range live {
		l := logs[id]
		if l == nil || l.sm != p { // new, or restarted with a new state machine
			l = &replicaLog{sm: p}
			logs[id] = l
		}
		if l.busy != nil {
			select {
			case <-l.busy:
				l.busy = nil
			default:
				continue // the last request is still running
			}
		}
		index, bytes := p.AppliedLog()
		if to, ok := l.due(c, index, bytes, p.SizeBytes()); ok {
			l.busy = s.requestSnapshot(id, p, to)
		}
	}
}

// due records the replica's applied point and reports whether a snapshot
// is due (SnapshotBytes or SnapshotEntries applied since the last) and the
// index its log may be compacted to, 0 for none. By bytes that is the newest
// mark at least KeepBytes back, or stored (the partition's local bytes) if
// that is less: a follower further behind catches up as cheaply from a
// snapshot, and a topic with a small retention.bytes or local.retention.bytes
// would otherwise keep a log many times its data; before KeepBytes has been
// applied since the state machine opened nothing is compacted by bytes, as
// nothing is known about the entries before. By entries it is KeepEntries
// behind the applied index. The further of the two wins; nothing is
// compacted when it is not past the last compaction.
func (l *replicaLog) due(c LogCompaction, index uint64, bytes, stored int64) (uint64, bool) {
	if len(l.marks) == 0 {
		l.marks = append(l.marks, logMark{index, bytes})
		return 0, false
	}
	last := l.marks[len(l.marks)-1]
	byBytes := c.SnapshotBytes > 0 && bytes-last.bytes >= c.SnapshotBytes
	byEntries := c.SnapshotEntries > 0 && index-last.index >= c.SnapshotEntries
	if !byBytes && !byEntries {
		return 0, false
	}
	var to uint64
	if c.SnapshotBytes > 0 {
		keepBytes := min(c.KeepBytes, stored)
		for _, m := range l.marks {
			if bytes-m.bytes >= keepBytes {
				to = m.index
			}
		}
	}
	if c.SnapshotEntries > 0 && index > c.KeepEntries {
		to = max(to, index-c.KeepEntries)
	}
	l.marks = append(l.marks, logMark{index, bytes})
	if to <= l.to {
		return 0, true // nothing new to compact, but a restart point all the same
	}
	l.to = to
	// Marks at or before the compaction point can name nothing newer.
	drop := 0
	for drop < len(l.marks)-1 && l.marks[drop].index <= to {
		drop++
	}
	l.marks = l.marks[drop:]
	return to, true
}

// requestSnapshot asks Dragonboat for a snapshot of shard that compacts its
// log up to and including index (nothing when index is 0); the returned
// channel closes when it is done.
//
// Dragonboat's snapshot first calls the state machine's Sync, which syncs
// the batch files and the state store's WAL, and the shard applies nothing
// meanwhile (Dragonboat holds the state machine's lock). So the store is
// synced here first, while the shard goes on applying, and the snapshot's
// own Sync only syncs what was applied since. (When Sync flushed the
// memtable, a 64 MiB one stalled the partition's acks by ~100 ms per
// snapshot without this, and by 4–10 ms with it.)
func (s *Service) requestSnapshot(shardID uint64, p *raftsm.Partition, index uint64) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.Sync(); err != nil {
			s.metrics.SizeSnapshots.Add(context.Background(), 1, failedAttrs)
			s.log.Warn("raft log compaction: syncing the state store failed", "shard", shardID, "err", err)
			return
		}
		opt := dragonboat.SnapshotOption{OverrideCompactionOverhead: true, CompactionIndex: index}
		if index == 0 {
			// Dragonboat compacts to the snapshot's index minus this.
			opt.CompactionOverhead = math.MaxUint64
		}
		rs, err := s.nh.RequestSnapshot(shardID, opt, proposalTimeout)
		if err != nil {
			switch {
			case errors.Is(err, dragonboat.ErrShardNotFound), errors.Is(err, dragonboat.ErrClosed):
			case errors.Is(err, dragonboat.ErrRejected), errors.Is(err, dragonboat.ErrSystemBusy):
				s.log.Debug("raft log compaction: snapshot request refused, retrying later", "shard", shardID, "err", err)
			default:
				s.metrics.SizeSnapshots.Add(context.Background(), 1, failedAttrs)
				s.log.Warn("raft log compaction: snapshot request failed", "shard", shardID, "err", err)
			}
			return
		}
		r := <-rs.ResultC()
		rs.Release()
		switch {
		case r.Completed() && index == 0:
			s.metrics.SizeSnapshots.Add(context.Background(), 1, snapshotAttrs)
			s.log.Debug("raft log snapshot without compaction", "shard", shardID, "snapshot", r.SnapshotIndex())
		case r.Completed():
			s.metrics.SizeSnapshots.Add(context.Background(), 1, compactedAttrs)
			s.log.Debug("raft log compacted", "shard", shardID, "snapshot", r.SnapshotIndex(), "compacted_to", index)
		case r.Rejected():
			// A snapshot at this index exists already (Dragonboat's own,
			// by entry count): the next one by size compacts instead.
			s.metrics.SizeSnapshots.Add(context.Background(), 1, rejectedAttrs)
			s.log.Debug("raft log compaction: snapshot rejected", "shard", shardID)
		default:
			s.metrics.SizeSnapshots.Add(context.Background(), 1, failedAttrs)
			s.log.Warn("raft log compaction: snapshot did not complete", "shard", shardID, "timeout", r.Timeout(), "terminated", r.Terminated())
		}
	}()
	return done
}

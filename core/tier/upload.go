package tier

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/raftsm"
	"github.com/chronik-go/chronik/tiering/segment"
)

// uploadNext uploads the next closed segment of a led partition, if one is
// due: the data above the tiered end has reached segment.bytes, or has
// waited segment.ms since it was first seen. It reports whether it
// uploaded one.
//
// Two phases: PUT the object, then propose it to the partition's Raft
// shard. Only a committed manifest entry makes an object part of the log;
// an object whose commit never happened is an orphan for the sweeper.
func (m *Manager) uploadNext(ctx context.Context, r partition.Led, t cluster.Topic, s settings, st *partState) (uploaded bool, err error) {
	lg := r.Log
	pending := lg.UntieredBytes()
	if pending == 0 {
		st.setPending(time.Time{})
		return false, nil
	}
	now := time.Now()
	if st.firstPending.IsZero() {
		st.setPending(now)
	}
	if pending < s.segmentBytes && now.Sub(st.firstPending) < s.segmentAge {
		return false, nil
	}
	select {
	case m.sem <- struct{}{}:
		defer func() { <-m.sem }()
	case <-ctx.Done():
		return false, ctx.Err()
	}
	start := time.Now()
	ctx, span := m.startSpan(ctx, "tier upload", trace.WithAttributes(
		attribute.String("messaging.destination.name", r.Topic), attribute.Int("kafka.partition", int(r.Partition))))
	defer func() { endSpan(span, err) }()
	f, err := os.CreateTemp(m.cfg.TempDir, "upload-*.seg")
	if err != nil {
		return false, fmt.Errorf("segment file: %w", err)
	}
	defer func() { f.Close(); os.Remove(f.Name()) }()
	withAborted := m.topics.RequireLevel(raftsm.LevelTxnVerification, "segments listing aborted transactions") == nil
	info, err := buildSegment(f, lg, s.segmentBytes, withAborted)
	if err != nil || info.Batches == 0 {
		return false, err
	}
	key := segmentKey(r.TP, t.ID, info.BaseOffset, info.EndOffset, r.Epoch)
	if _, err := f.Seek(0, 0); err != nil {
		return false, err
	}
	span.SetAttributes(attribute.String("tier.key", key), attribute.Int64("tier.bytes", info.Size),
		attribute.Int64("tier.base_offset", info.BaseOffset), attribute.Int64("tier.end_offset", info.EndOffset))
	putCtx, cancel := context.WithTimeout(ctx, m.cfg.UploadTimeout)
	putCtx, put := m.startSpan(putCtx, "tier put", trace.WithSpanKind(trace.SpanKindClient))
	err = m.store.Put(putCtx, key, f, info.Size)
	endSpan(put, err)
	cancel()
	if err != nil {
		return false, fmt.Errorf("put %s: %w", key, err)
	}
	rec := raftsm.SegmentRecord{
		BaseOffset: info.BaseOffset, EndOffset: info.EndOffset, Key: key, Size: info.Size, IndexPos: info.IndexPos,
		DataBytes: info.DataLen, MaxTimestamp: info.MaxTimestamp, LeaderEpoch: r.Epoch, UploadedAt: now.UnixMilli(),
	}
	v := view{segments: append(lg.Segments(), rec), logStart: lg.LogStartOffset(), localStart: lg.LocalStartOffset(), untiered: max(pending-info.DataLen, 0)}
	value, status, err := m.parts.ProposeTier(ctx, r.TP, r.Epoch, raftsm.EncodeSegmentTiered(&rec, localTarget(v, s, now.UnixMilli())))
	if err != nil {
		// The commit may still happen; if it does not, the sweeper
		// deletes the object after tier.orphan-grace.
		return false, fmt.Errorf("commit %s: %w", key, err)
	}
	if status != raftsm.StatusOK {
		// Applied and refused: this command can never commit later, so
		// the object is an orphan now, unless an identical earlier
		// proposal of ours committed it.
		if !m.referenced(lg, key) {
			_ = m.store.Delete(ctx, key)
		}
		return false, fmt.Errorf("commit %s: %s (tiered end %d)", key, status, value)
	}
	st.setPending(time.Time{})
	if lg.UntieredBytes() > 0 {
		st.setPending(now)
	}
	prev := st.stat.Load()
	next := *prev
	next.lastUpload = time.Now()
	st.stat.Store(&next)
	m.met.uploaded(ctx, info.Size, time.Since(start))
	m.log.Debug("segment tiered", "topic", r.Topic, "partition", r.Partition, "base", info.BaseOffset, "end", info.EndOffset, "bytes", info.Size)
	return true, nil
}

// setPending records when data above the tiered end was first seen.
func (st *partState) setPending(t time.Time) {
	st.firstPending = t
	if t.IsZero() {
		st.pendingSince.Store(nil)
	} else {
		st.pendingSince.Store(&t)
	}
}

func (m *Manager) referenced(lg *raftsm.Partition, key string) bool {
	for _, s := range lg.Segments() {
		if s.Key == key {
			return true
		}
	}
	return false
}

// buildSegment writes the next segment of lg to f: the committed batches
// from the tiered end (or the local start, when retention removed data
// before it was tiered), up to segmentBytes (at least one batch) and below
// the last stable offset, as Kafka tiers: every transaction with records in
// the segment has ended, so withAborted can list the aborted ones in it
// (segment format version 2), and a partition restored from its segments
// alone hides them too. A transaction left open holds tiering back, as it
// holds read_committed consumers (chronik_last_stable_offset_stuck_max_seconds).
func buildSegment(f *os.File, lg *raftsm.Partition, segmentBytes int64, withAborted bool) (segment.Info, error) {
	from := max(lg.TieredEnd(), lg.LocalStartOffset())
	stable := lg.LastStableOffset()
	for {
		w := segment.NewWriter(f)
		written, batches, err := appendSegment(w, lg, from, stable, segmentBytes)
		if err != nil || batches == 0 {
			return segment.Info{}, err
		}
		var aborted []segment.AbortedTxn
		if withAborted {
			base, end := w.Offsets()
			idx, err := lg.AbortedMarkers(base, end)
			if err != nil {
				return segment.Info{}, fmt.Errorf("build segment from %d: aborted transactions: %w", from, err)
			}
			if len(idx) > segment.MaxAborted && batches > 1 {
				// More than one object lists: cut it smaller.
				segmentBytes = written / 2
				if err := rewind(f); err != nil {
					return segment.Info{}, err
				}
				continue
			}
			aborted = make([]segment.AbortedTxn, len(idx))
			for i, a := range idx {
				aborted[i] = segment.AbortedTxn(a)
			}
		}
		info, err := w.CloseAborted(aborted)
		if err != nil {
			return segment.Info{}, err
		}
		return info, f.Sync()
	}
}

// appendSegment appends the batches of lg from offset from and below
// stable to w, up to segmentBytes (at least one batch), and returns the
// bytes and batches appended.
func appendSegment(w *segment.Writer, lg *raftsm.Partition, from, stable, segmentBytes int64) (written int64, batches int, err error) {
	var werr error
	err = lg.ScanBatches(from, func(b []byte) bool {
		if written > 0 && written+int64(len(b)) > segmentBytes || int64(binary.BigEndian.Uint64(b)) >= stable {
			return false
		}
		if werr = w.Append(b); werr != nil {
			return false
		}
		written += int64(len(b))
		batches++
		return true
	})
	if err = errors.Join(err, werr); err != nil {
		return 0, 0, fmt.Errorf("build segment from %d: %w", from, err)
	}
	return written, batches, nil
}

// rewind empties f for another try.
func rewind(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.Seek(0, 0)
	return err
}

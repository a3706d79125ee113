package tier

import (
	"context"
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
	info, err := buildSegment(f, lg, s.segmentBytes)
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
// before it was tiered), up to segmentBytes (at least one batch).
func buildSegment(f *os.File, lg *raftsm.Partition, segmentBytes int64) (segment.Info, error) {
	from := max(lg.TieredEnd(), lg.LocalStartOffset())
	w := segment.NewWriter(f)
	var written int64
	var werr error
	err := lg.ScanBatches(from, func(b []byte) bool {
		if written > 0 && written+int64(len(b)) > segmentBytes {
			return false
		}
		if werr = w.Append(b); werr != nil {
			return false
		}
		written += int64(len(b))
		return true
	})
	if err = errors.Join(err, werr); err != nil {
		return segment.Info{}, fmt.Errorf("build segment from %d: %w", from, err)
	}
	if written == 0 {
		return segment.Info{}, nil
	}
	info, err := w.Close()
	if err != nil {
		return segment.Info{}, err
	}
	return info, f.Sync()
}

package tier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/raftsm"
	"github.com/chronik-go/chronik/tiering"
)

// Retention of tiered partitions works at segment granularity, as in
// Kafka (KIP-405): retention.ms/bytes bound the whole log and delete the
// oldest tiered segments; local.retention.ms/bytes bound the local part and
// only ever drop data that is already tiered. Data not yet tiered is never
// deleted by retention.
//
// Partitions without remote storage have no segments: retention raises
// their log start to a batch boundary found from the state machine's time
// and byte-position indexes (raftsm/retention.go), every
// Config.RetentionInterval, and every replica deletes the batches below it.

// view is what the retention planners read from a partition: its manifest
// (ascending), where its log and local data start, and how many local
// bytes are not tiered yet.
type view struct {
	segments   []raftsm.SegmentRecord
	logStart   int64
	localStart int64
	untiered   int64
}

// live returns the segments that still hold readable offsets.
func (v view) live() []raftsm.SegmentRecord {
	for i, s := range v.segments {
		if s.EndOffset > v.logStart {
			return v.segments[i:]
		}
	}
	return nil
}

// logTarget is the log start retention asks for (0: nothing to delete):
// the end of the newest segment that must go, oldest first, so that the
// log is within retention.bytes and no segment is wholly older than
// retention.ms (by its largest timestamp). nowMs is the leader's clock.
func logTarget(v view, s settings, nowMs int64) int64 {
	segs := v.live()
	target := int64(0)
	if s.retentionBytes >= 0 {
		total := v.untiered
		for _, sg := range segs {
			total += sg.DataBytes
		}
		for _, sg := range segs {
			if total <= s.retentionBytes {
				break
			}
			total -= sg.DataBytes
			target = sg.EndOffset
		}
	}
	if s.retentionMs >= 0 {
		for _, sg := range segs {
			if sg.MaxTimestamp >= nowMs-s.retentionMs {
				break
			}
			target = max(target, sg.EndOffset)
		}
	}
	return target
}

// localTarget is the local start local retention asks for (0: keep all):
// the end of the newest tiered segment that must leave the local disk so
// that local data is within local.retention.bytes and no local tiered
// segment is wholly older than local.retention.ms.
func localTarget(v view, s settings, nowMs int64) int64 {
	segs := v.live()
	target := int64(0)
	if s.localRetentionBytes >= 0 {
		keep := v.untiered
		for i := len(segs) - 1; i >= 0; i-- {
			if segs[i].EndOffset <= v.localStart {
				break
			}
			if keep+segs[i].DataBytes > s.localRetentionBytes {
				target = segs[i].EndOffset
				break
			}
			keep += segs[i].DataBytes
		}
	}
	if s.localRetentionMs >= 0 {
		for _, sg := range segs {
			if sg.MaxTimestamp >= nowMs-s.localRetentionMs {
				break
			}
			target = max(target, sg.EndOffset)
		}
	}
	return target
}

// applyRetention proposes a trim when retention or local retention asks
// for one, then deletes the objects of the segments it removed from the
// manifest (the commit comes first: a crash in between leaves orphans for
// the sweeper, never a manifest entry without its object).
func (m *Manager) applyRetention(ctx context.Context, r partition.Led, s settings) error {
	lg := r.Log
	v := view{segments: lg.Segments(), logStart: lg.LogStartOffset(), localStart: lg.LocalStartOffset(), untiered: lg.UntieredBytes()}
	now := time.Now().UnixMilli()
	logT, localT := logTarget(v, s, now), min(localTarget(v, s, now), lg.TieredEnd())
	if logT <= v.logStart && localT <= v.localStart {
		return nil
	}
	_, status, err := m.parts.ProposeTier(ctx, r.TP, r.Epoch, raftsm.EncodeTrim(logT, localT))
	if err != nil {
		return err
	}
	if status != raftsm.StatusOK {
		return fmt.Errorf("trim to log start %d, local start %d: %s", logT, localT, status)
	}
	newStart := lg.LogStartOffset()
	var errs []error
	for _, sg := range v.segments {
		if sg.EndOffset > newStart {
			break
		}
		if err := m.store.Delete(ctx, sg.Key); err != nil && !errors.Is(err, tiering.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if newStart > v.logStart {
		m.log.Info("retention deleted tiered data", "topic", r.Topic, "partition", r.Partition, "log_start", newStart)
	}
	return errors.Join(errs...)
}

// applyLocalRetention applies retention.ms and retention.bytes to a led
// partition without remote storage: the log start rises past every batch
// older than retention.ms (with every batch before it) and past the oldest
// batches while at least retention.bytes stay, and every replica deletes
// the batches below it.
func (m *Manager) applyLocalRetention(ctx context.Context, r partition.Led, s settings) error {
	lg := r.Log
	start, target := lg.LogStartOffset(), int64(0)
	if s.retentionMs >= 0 {
		t, err := lg.TimeRetentionStart(time.Now().UnixMilli() - s.retentionMs)
		if err != nil {
			return err
		}
		target = t
	}
	if s.retentionBytes >= 0 {
		t, err := lg.SizeRetentionStart(s.retentionBytes)
		if err != nil {
			return err
		}
		target = max(target, t)
	}
	if target <= start {
		return nil
	}
	_, status, err := m.parts.ProposeTier(ctx, r.TP, r.Epoch, raftsm.EncodeTrim(target, 0))
	if err != nil {
		return err
	}
	if status != raftsm.StatusOK {
		return fmt.Errorf("trim to log start %d: %s", target, status)
	}
	m.met.retained(r.Topic, target-start)
	m.log.Info("retention deleted data", "topic", r.Topic, "partition", r.Partition, "log_start", lg.LogStartOffset(), "records", lg.LogStartOffset()-start)
	return nil
}

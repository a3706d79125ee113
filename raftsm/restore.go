package raftsm

import (
	"encoding/binary"

	"github.com/cockroachdb/pebble/v2"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Disaster recovery (ARCHITECTURE.md §6). A restored cluster is a new
// cluster: its topics are created with ordinary CreateTopic commands that
// carry the original topic UUIDs and configs (placements and shard IDs are
// new), committed offsets come back through cmdStoreGroup and
// cmdCommitOffsets, and each partition gets its tiered manifest back through
// cmdRestorePartition. Dragonboat never sees a foreign snapshot.

// cmdRestorePartition installs a partition's tiered manifest from a backup.
// It applies only to an empty partition, so re-proposing it after a crash,
// or from several brokers at once, is harmless.
const cmdRestorePartition byte = 11

// StatusNotEmpty means a restore command met a target that already holds
// data; nothing changed. The result's Value is the partition's high watermark.
const StatusNotEmpty Status = 20

// EncodeRestorePartition encodes a restore of an empty partition: segs (a
// contiguous, ascending manifest) become its tiered data, the log ends at
// the last segment's end (or starts and ends at logStart when segs is
// empty) and the log start becomes logStart, clamped into the segments'
// range. Nothing is stored locally afterwards. The result's Value is the
// new high watermark; a partition holding anything is StatusNotEmpty.
// aborted (by marker offset) becomes the aborted-transaction index of the
// restored range, so read_committed consumers still skip what was aborted.
func EncodeRestorePartition(logStart int64, segs []SegmentRecord, aborted []AbortedMarker) []byte {
	size := 16 + 24*len(aborted)
	for i := range segs {
		size += 80 + len(segs[i].Key)
	}
	e := enc{b: make([]byte, 0, size)}
	e.u8(commandVersion)
	e.u8(cmdRestorePartition)
	e.i64(logStart)
	e.uvarint(uint64(len(segs)))
	for i := range segs {
		segs[i].encode(&e)
	}
	if len(aborted) > 0 { // commands from before transactions end here
		e.uvarint(uint64(len(aborted)))
		for _, a := range aborted {
			e.i64(a.ProducerID)
			e.i64(a.FirstOffset)
			e.i64(a.MarkerOffset)
		}
	}
	return e.b
}

func (p *Partition) applyRestore(b *pebble.Batch, d *dec) sm.Result {
	logStart := d.i64()
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) || logStart < 0 {
		return sm.Result{Data: statusData[StatusMalformed]}
	}
	segs := make([]SegmentRecord, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		s := decodeSegment(d)
		if s.Key == "" || s.BaseOffset < 0 || s.EndOffset <= s.BaseOffset || s.Size <= 0 || s.IndexPos < 0 || s.IndexPos > s.Size ||
			(len(segs) > 0 && s.BaseOffset != segs[len(segs)-1].EndOffset) {
			return sm.Result{Data: statusData[StatusMalformed]}
		}
		segs = append(segs, s)
	}
	var aborted []AbortedMarker
	if d.err == nil && len(d.b) > 0 {
		n := d.uvarint()
		if n > uint64(len(d.b))/24 {
			return sm.Result{Data: statusData[StatusMalformed]}
		}
		for i := uint64(0); i < n && d.err == nil; i++ {
			a := AbortedMarker{ProducerID: d.i64(), FirstOffset: d.i64(), MarkerOffset: d.i64()}
			if a.ProducerID < 0 || a.FirstOffset < 0 || a.MarkerOffset <= a.FirstOffset {
				return sm.Result{Data: statusData[StatusMalformed]}
			}
			aborted = append(aborted, a)
		}
	}
	if d.err != nil || len(d.b) != 0 {
		return sm.Result{Data: statusData[StatusMalformed]}
	}
	p.mu.RLock()
	held := len(p.mu.segments) > 0 || len(p.mu.epochs) > 0
	p.mu.RUnlock()
	if p.next != 0 || p.logStart != 0 || held {
		return sm.Result{Value: uint64(p.next), Data: statusData[StatusNotEmpty]}
	}
	next, epoch := logStart, int32(-1)
	if len(segs) > 0 {
		next = segs[len(segs)-1].EndOffset
		logStart = min(max(logStart, segs[0].BaseOffset), next)
	}
	for i := range segs {
		s := &segs[i]
		e := enc{b: make([]byte, 0, 80+len(s.Key))}
		s.encode(&e)
		_ = b.Set(p.segmentKey(s.BaseOffset), e.b, nil)
		epoch = max(epoch, s.LeaderEpoch)
		p.maxTS = max(p.maxTS, s.MaxTimestamp)
	}
	// Nothing is local: every byte counter is zero, so neither local size
	// nor upload lag counts restored data.
	p.next, p.logStart, p.localStart = next, logStart, next
	p.bytes, p.startPos, p.tieredPos = 0, 0, 0
	if len(segs) > 0 {
		p.tieredEnd = next
	}
	p.tiered.Store(p.tieredEnd)
	// Leader epochs: the batches keep the epochs they were written in,
	// which the manifest does not list (a segment's epoch is its
	// uploader's, at least that of its batches). Epoch 0 covers the
	// restored range, so OffsetForLeaderEpoch never reports a committed
	// position as truncated; the largest segment epoch starts at the end,
	// so new appends never carry an epoch below any stored batch's.
	if len(segs) > 0 {
		p.putEpoch(b, 0, segs[0].BaseOffset)
		if epoch > 0 {
			p.putEpoch(b, epoch, next)
		}
	}
	for _, a := range aborted {
		if a.MarkerOffset >= logStart && a.FirstOffset < next {
			p.putAborted(b, a)
		}
	}
	p.mu.Lock()
	p.mu.segments = segs
	p.mu.Unlock()
	return sm.Result{Value: uint64(p.next)}
}

// putEpoch records that epoch starts at offset start; epochs must be put in
// ascending order.
func (p *Partition) putEpoch(b *pebble.Batch, epoch int32, start int64) {
	k := binary.BigEndian.AppendUint32(p.key(keyEpoch, 4), uint32(epoch))
	_ = b.Set(k, binary.BigEndian.AppendUint64(nil, uint64(start)), nil)
	p.mu.Lock()
	p.mu.epochs = append(p.mu.epochs, epochStart{epoch, start})
	p.mu.Unlock()
}

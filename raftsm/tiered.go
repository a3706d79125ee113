package raftsm

import (
	"encoding/binary"
	"errors"
	"slices"
	"sort"

	"github.com/cockroachdb/pebble/v2"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Tiered storage in the partition state machine (ARCHITECTURE.md §5).
//
// The manifest of segments uploaded to the object store lives in the
// partition's own Raft state, so every replica, and any new leader, knows
// exactly what is tiered. Offsets of a partition fall into three ranges:
//
//	[logStart, localStart)   readable from the object store only
//	[localStart, hw)         stored locally (and possibly also tiered)
//
// tieredEnd is the offset after the last tiered segment; local data below
// it may be deleted (local.retention.*), local data at or above it never is
// (unless retention or DeleteRecords moves the log start past it).
//
// Key schema, after the shard prefix:
//
//	'r' BE64(baseOffset) → a SegmentRecord
const keySegment = 'r'

// Partition commands for tiering (type bytes in the 1–15 range).
const (
	// cmdSegmentTiered adds an uploaded segment to the manifest (phase two
	// of an upload) and lets replicas trim local data up to a target.
	cmdSegmentTiered byte = 9
	// cmdTrim advances the log start (retention.ms/bytes) and the local
	// start (local.retention.ms/bytes, never past the tiered end).
	cmdTrim byte = 10
)

// SegmentRecord is one tiered segment in a partition's manifest.
type SegmentRecord struct {
	BaseOffset   int64  // first offset in the object
	EndOffset    int64  // offset after its last record
	Key          string // object key, relative to the store's segment prefix
	Size         int64  // object bytes
	IndexPos     int64  // where the object's index starts
	DataBytes    int64  // record-batch bytes in the object
	MaxTimestamp int64  // largest batch max timestamp in the object
	LeaderEpoch  int32  // epoch of the leader that uploaded it
	UploadedAt   int64  // uploader's clock, Unix ms
}

func (s *SegmentRecord) encode(e *enc) {
	e.i64(s.BaseOffset)
	e.i64(s.EndOffset)
	e.str(s.Key)
	e.i64(s.Size)
	e.i64(s.IndexPos)
	e.i64(s.DataBytes)
	e.i64(s.MaxTimestamp)
	e.i32(s.LeaderEpoch)
	e.i64(s.UploadedAt)
}

func decodeSegment(d *dec) SegmentRecord {
	return SegmentRecord{
		BaseOffset: d.i64(), EndOffset: d.i64(), Key: d.str(), Size: d.i64(), IndexPos: d.i64(),
		DataBytes: d.i64(), MaxTimestamp: d.i64(), LeaderEpoch: d.i32(), UploadedAt: d.i64(),
	}
}

// EncodeSegmentTiered encodes phase two of an upload: s joins the manifest
// if it continues it (its base is the tiered end, or above it with nothing
// stored locally in between), and every replica may then delete local
// batches below min(localStart, the new tiered end). The result's Value is
// the new tiered end; a stale or overlapping segment is StatusConflict.
func EncodeSegmentTiered(s *SegmentRecord, localStart int64) []byte {
	e := enc{b: make([]byte, 0, 96+len(s.Key))}
	e.u8(commandVersion)
	e.u8(cmdSegmentTiered)
	s.encode(&e)
	e.i64(localStart)
	return e.b
}

// EncodeTrim encodes a retention step: the log start rises to logStart
// (clamped to the high watermark; segments wholly below it leave the
// manifest, and the proposer deletes their objects after the commit), and
// the local start rises to localStart, never past the tiered end. Targets
// below the current values change nothing. The result's Value is the new
// log start.
func EncodeTrim(logStart, localStart int64) []byte {
	e := enc{b: make([]byte, 0, 18)}
	e.u8(commandVersion)
	e.u8(cmdTrim)
	e.i64(logStart)
	e.i64(localStart)
	return e.b
}

// readsBatches reports whether cmd reads stored batches while applying
// (and so needs an indexed Pebble batch to see appends of the same Update).
func readsBatches(cmd []byte) bool {
	return len(cmd) >= 2 && cmd[0] == commandVersion &&
		(cmd[1] == cmdDeleteRecords || cmd[1] == cmdSegmentTiered || cmd[1] == cmdTrim)
}

func (p *Partition) segmentKey(base int64) []byte {
	return binary.BigEndian.AppendUint64(p.key(keySegment, 8), uint64(base))
}

func (p *Partition) applySegmentTiered(b *pebble.Batch, d *dec) sm.Result {
	s := decodeSegment(d)
	localTarget := d.i64()
	if d.err != nil || len(d.b) != 0 || s.Key == "" || s.BaseOffset < 0 || s.EndOffset <= s.BaseOffset ||
		s.Size <= 0 || s.IndexPos < 0 || s.IndexPos > s.Size {
		return sm.Result{Data: statusData[StatusMalformed]}
	}
	if s.EndOffset > p.next {
		return sm.Result{Data: statusData[StatusOffsetOutOfRange]}
	}
	// The segment must continue the manifest: start at the tiered end, or
	// above it only where nothing between is stored locally any more
	// (retention or DeleteRecords removed it before it was tiered).
	if s.BaseOffset < p.tieredEnd || (s.BaseOffset > p.tieredEnd && s.BaseOffset > p.localStart) {
		return sm.Result{Value: uint64(p.tieredEnd), Data: statusData[StatusConflict]}
	}
	e := enc{b: make([]byte, 0, 80+len(s.Key))}
	s.encode(&e)
	_ = b.Set(p.segmentKey(s.BaseOffset), e.b, nil)
	pos, err := p.positionOf(b, s.EndOffset)
	if err != nil {
		return sm.Result{Data: statusData[StatusMalformed]}
	}
	p.tieredEnd, p.tieredPos = s.EndOffset, pos
	p.tiered.Store(p.tieredEnd)
	p.mu.Lock()
	p.mu.segments = append(p.mu.segments, s)
	p.mu.Unlock()
	if err := p.advance(b, p.logStart, localTarget); err != nil {
		return sm.Result{Data: statusData[StatusMalformed]}
	}
	return sm.Result{Value: uint64(p.tieredEnd)}
}

func (p *Partition) applyTrim(b *pebble.Batch, d *dec) sm.Result {
	logTarget, localTarget := d.i64(), d.i64()
	if d.err != nil || len(d.b) != 0 {
		return sm.Result{Data: statusData[StatusMalformed]}
	}
	if err := p.advance(b, min(logTarget, p.next), localTarget); err != nil {
		return sm.Result{Data: statusData[StatusMalformed]}
	}
	return sm.Result{Value: uint64(p.logStart)}
}

// advance raises the log start to logStart and the local start to
// max(new log start, min(localStart, tiered end)); neither ever falls.
// Local batches wholly below the new local start are removed with one
// range deletion (the batch holding it stays), and segments wholly below
// the new log start leave the manifest. logStart must not exceed next.
func (p *Partition) advance(b *pebble.Batch, logStart, localStart int64) error {
	p.logStart = max(p.logStart, logStart)
	if p.abortSpan > 0 {
		p.dropAborted(b)
	}
	local := max(p.localStart, p.logStart, min(localStart, p.tieredEnd))
	if local > p.localStart {
		keep, err := p.batchContaining(b, local)
		if err != nil {
			return err
		}
		pos, err := p.positionOf(b, keep)
		if err != nil {
			return err
		}
		_ = b.DeleteRange(p.batchKey(0), p.batchKey(keep), nil)
		_ = b.DeleteRange(p.positionKey(0), p.positionKey(keep), nil)
		p.localStart, p.startPos = local, pos
	}
	p.mu.RLock()
	n := sort.Search(len(p.mu.segments), func(i int) bool { return p.mu.segments[i].EndOffset > p.logStart })
	p.mu.RUnlock()
	if n == 0 {
		return nil
	}
	_ = b.DeleteRange(p.segmentKey(0), p.segmentKey(p.mu.segments[n-1].BaseOffset+1), nil)
	p.mu.Lock()
	p.mu.segments = slices.Delete(slices.Clone(p.mu.segments), 0, n)
	p.mu.Unlock()
	return nil
}

// publishSizes publishes the byte counts: local, not yet tiered, ever appended.
func (p *Partition) publishSizes() {
	p.total.Store(p.bytes)
	p.size.Store(max(p.bytes-p.startPos-p.unusedBytes(p.startPos), 0))
	from := max(p.tieredPos, p.startPos)
	p.untiered.Store(max(p.bytes-from-p.unusedBytes(from), 0))
	p.publishHoles()
}

// UntieredBytes is the size of the local batches at or above the tiered
// end: what an upload has yet to copy (all local data when nothing is
// tiered).
func (p *Partition) UntieredBytes() int64 { return p.untiered.Load() }

// loadSegments reads the manifest (Open and snapshot recovery).
func (p *Partition) loadSegments() ([]SegmentRecord, error) {
	var segs []SegmentRecord
	err := p.scan(keySegment, func(_, v []byte) error {
		d := dec{b: v}
		s := decodeSegment(&d)
		if d.err != nil {
			return d.err
		}
		segs = append(segs, s)
		return nil
	})
	return segs, err
}

// ErrOffsetTiered is returned by Read for offsets at or above the log start
// that are no longer stored locally: they are served from the object store.
var ErrOffsetTiered = errors.New("raftsm: offset is tiered")

// LocalStartOffset is the first offset stored locally (Kafka's
// earliest-local offset, ListOffsets -4). Below it, down to the log start,
// data is only in the object store.
func (p *Partition) LocalStartOffset() int64 { return p.local.Load() }

// TieredEnd is the offset after the last tiered segment (0 when nothing was
// ever tiered).
func (p *Partition) TieredEnd() int64 { return p.tiered.Load() }

// Segments returns a copy of the manifest, ascending by offset. Segments
// may start below the log start (their lower records are not readable).
func (p *Partition) Segments() []SegmentRecord {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Clone(p.mu.segments)
}

// SegmentFor returns the tiered segment holding offset, if any.
func (p *Partition) SegmentFor(offset int64) (SegmentRecord, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	segs := p.mu.segments
	i := sort.Search(len(segs), func(i int) bool { return segs[i].EndOffset > offset })
	if i == len(segs) || segs[i].BaseOffset > offset {
		return SegmentRecord{}, false
	}
	return segs[i], true
}

// ScanBatches calls fn with each committed, locally stored batch from the
// one holding offset from, in offset order, until fn returns false or the
// high watermark. The slice is only valid during the call.
func (p *Partition) ScanBatches(from int64, fn func(batch []byte) bool) error {
	hw := p.hw.Load()
	if from >= hw {
		return nil
	}
	return p.eachBatch(from, hw, fn)
}

// eachBatch calls fn with each stored batch below hw, in offset order, from
// the one holding offset from, until fn returns false. The slice is only
// valid during the call.
func (p *Partition) eachBatch(from, hw int64, fn func(batch []byte) bool) error {
	files := p.files.acquire() // before the iterator: see batchfiles.go
	defer releaseAll(files)
	err := p.batchesIn(files, from, hw, func(b []byte) error {
		if !fn(b) {
			return errStopBatches
		}
		return nil
	})
	if errors.Is(err, errStopBatches) {
		return nil
	}
	return err
}

var errStopBatches = errors.New("raftsm: stop")

// batchesIn calls fn with each stored batch below end holding offsets from
// from on, in offset order, read from files, until fn fails.
func (p *Partition) batchesIn(files []*batchFile, from, end int64, fn func(batch []byte) error) error {
	it, err := p.store.db.NewIter(&pebble.IterOptions{LowerBound: p.batchKey(0), UpperBound: p.batchKey(end)})
	if err != nil {
		return err
	}
	defer it.Close()
	ok := it.SeekLT(p.batchKey(from + 1))
	if !ok {
		ok = it.First()
	}
	var buf []byte
	for ; ok; ok = it.Next() {
		_, last, _, err := p.batchInfo(it.Key(), it.Value())
		if err != nil {
			return err
		}
		if last < from {
			continue
		}
		if buf, err = appendBatch(files, buf[:0], it.Value()); err != nil {
			return err
		}
		if err := fn(buf); err != nil {
			return err
		}
	}
	return it.Error()
}

package raftsm

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/chronik-go/chronik/core/batch"
)

// Log compaction (cleanup.policy=compact): a pass keeps, of the batches
// below the offset where it began, only the latest record of each key
// (Kafka's log cleaner). Offsets never change: a batch keeps its base
// offset and last offset delta, a batch left without records goes.
//
// A pass is two replicated commands with local work between them:
//
//   - cmdCompactBegin fixes the input, the batches below the next offset,
//     and the cutoff times (decided by the leader, so every replica filters
//     alike). The byte position jumps past a gap at least as large as the
//     input (which appends resume after, in a new file), and every replica
//     starts a worker that writes the compacted input to a temporary file
//     while the partition goes on appending.
//   - cmdCompactEnd, proposed once the leader's worker is done, waits for
//     the local worker and swaps its output in: the file takes the byte
//     positions at the end of the gap, just below the first batch appended
//     after the begin, so positions still grow with offsets, the local size
//     is still bytes minus the log start's position, and the files below go
//     as they do for retention. A worker that failed (a full disk) leaves
//     its replica's batches as they were: replicas may then differ in which
//     superseded records they still hold, as Kafka's replicas do, never in
//     offsets or in the latest record of a key.
//
// Positions are never reused, so a reader that read references after the
// swap but took the file list before it finds no file at their positions
// and reads again (Read), rather than reading other bytes.
const (
	cmdCompactBegin byte = 13
	cmdCompactEnd   byte = 14
)

// keyCompaction holds the compaction state (compactionState.encode). It
// sorts before the state and batch keys, so a snapshot stream carries it
// before the batches whose positions its gap shifts.
const keyCompaction = 'C'

// compactionMaxKeys bounds the keys a pass maps (about 40 bytes each, so
// ~40 MiB; a variable for tests). A pass that meets more new keys than
// that judges only the batches before the first it could not map, copies
// the rest whole, and the next pass maps from there.
var compactionMaxKeys = 1 << 20

// compactionState is a partition's compaction progress.
type compactionState struct {
	passes     uint64 // passes begun (the pending one's number)
	pending    bool
	cleanEnd   int64 // pending: the pass compacts the batches below it
	dirtyFrom  int64 // pending: the first offset no pass has seen (its keys are mapped)
	gapStart   int64 // the byte position at the last begin
	gapEnd     int64 // where appends resumed after it (a new file starts there)
	tombCutoff int64 // pending: latest records that are tombstones older than this go
	lagCutoff  int64 // pending: records newer than this stay (min.compaction.lag.ms)
	cleanedEnd int64 // the first offset the last completed pass left dirty (its input's last batch)
	cleanedPos int64 // the byte position where its output ended
	// holes are the gaps of passes that failed since the last that did not:
	// unused positions between batches, which the sizes leave out.
	holes []hole
	// stable is, while pending, the last stable offset at the begin: the
	// batches from there on belong to transactions that may still abort
	// (or follow them), so the pass copies them whole, like its input's last
	// batch, and the next pass judges them (Kafka's cleaner stops there).
	stable int64
}

// hole is a range of byte positions no batch uses.
type hole struct{ start, end int64 }

func (c *compactionState) encode() []byte {
	e := enc{b: make([]byte, 0, 80)}
	e.u64(c.passes)
	pending := byte(0)
	if c.pending {
		pending = 1
	}
	e.u8(pending)
	for _, v := range []int64{c.cleanEnd, c.dirtyFrom, c.gapStart, c.gapEnd, c.tombCutoff, c.lagCutoff, c.cleanedEnd, c.cleanedPos} {
		e.i64(v)
	}
	e.uvarint(uint64(len(c.holes)))
	for _, h := range c.holes {
		e.i64(h.start)
		e.i64(h.end)
	}
	e.i64(c.stable)
	return e.b
}

func decodeCompactionState(v []byte) (compactionState, error) {
	d := dec{b: v}
	c := compactionState{passes: d.u64(), pending: d.u8() == 1}
	for _, f := range []*int64{&c.cleanEnd, &c.dirtyFrom, &c.gapStart, &c.gapEnd, &c.tombCutoff, &c.lagCutoff, &c.cleanedEnd, &c.cleanedPos} {
		*f = d.i64()
	}
	n := d.uvarint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		c.holes = append(c.holes, hole{d.i64(), d.i64()})
	}
	c.stable = c.cleanEnd // states written before transactions end here
	if d.err == nil && len(d.b) > 0 {
		c.stable = d.i64()
	}
	if d.err != nil {
		return compactionState{}, fmt.Errorf("%w: compaction state", errSnapshotFormat)
	}
	return c, nil
}

// EncodeCompactBegin encodes the start of a compaction pass over every
// batch below the partition's next offset: the latest record of a key
// that is a tombstone (null value) goes if its timestamp is before
// tombstoneCutoffMs (now minus delete.retention.ms), and no record with a
// timestamp after lagCutoffMs (now minus min.compaction.lag.ms) goes. The
// result's Value is the pass number; StatusConflict when a pass is already
// pending or the partition has tiered data.
func EncodeCompactBegin(tombstoneCutoffMs, lagCutoffMs int64) []byte {
	e := enc{b: make([]byte, 0, 18)}
	e.u8(commandVersion)
	e.u8(cmdCompactBegin)
	e.i64(tombstoneCutoffMs)
	e.i64(lagCutoffMs)
	return e.b
}

// EncodeCompactEnd encodes the end of pass number pass: each replica swaps
// in its worker's output (waiting for it), or keeps its batches if its
// worker failed. StatusConflict when that pass is not the pending one.
func EncodeCompactEnd(pass uint64) []byte {
	e := enc{b: make([]byte, 0, 10)}
	e.u8(commandVersion)
	e.u8(cmdCompactEnd)
	e.u64(pass)
	return e.b
}

func (p *Partition) compactionKey() []byte { return p.key(keyCompaction, 0) }

// isCompactEnd reports whether cmd ends a compaction pass.
func isCompactEnd(cmd []byte) bool {
	return len(cmd) >= 2 && cmd[0] == commandVersion && cmd[1] == cmdCompactEnd
}

// loadCompaction reads the compaction state (load).
func (p *Partition) loadCompaction() error {
	v, closer, err := p.store.db.Get(p.compactionKey())
	if errors.Is(err, pebble.ErrNotFound) {
		p.cleanedPos.Store(0)
		p.cleanedEnd.Store(0)
		p.cleanedTail.Store(0)
		p.compPending.Store(false)
		return nil
	}
	if err != nil {
		return fmt.Errorf("raftsm: partition %d: read compaction state: %w", p.shardID, err)
	}
	p.comp, err = decodeCompactionState(v)
	closer.Close()
	if err != nil {
		return fmt.Errorf("raftsm: partition %d: %w", p.shardID, err)
	}
	p.cleanedPos.Store(p.comp.cleanedPos)
	p.cleanedEnd.Store(p.comp.cleanedEnd)
	p.compPending.Store(p.comp.pending)
	tail := int64(0)
	if p.comp.cleanedPos > 0 {
		if v, closer, err := p.store.db.Get(p.batchKey(p.comp.cleanedEnd)); err == nil {
			_, _, size, err := p.batchInfo(p.batchKey(p.comp.cleanedEnd), v)
			closer.Close()
			if err != nil {
				return fmt.Errorf("raftsm: partition %d: compaction tail: %w", p.shardID, err)
			}
			tail = int64(size)
		} else if !errors.Is(err, pebble.ErrNotFound) {
			return fmt.Errorf("raftsm: partition %d: read compaction tail: %w", p.shardID, err)
		}
	}
	p.cleanedTail.Store(tail)
	return nil
}

// unusedBytes is how many of the positions from from on no batch uses (a
// pending pass's gap, failed passes' holes), which the sizes leave out.
func (p *Partition) unusedBytes(from int64) int64 {
	n := int64(0)
	for _, h := range p.comp.holes {
		n += max(h.end-max(h.start, from), 0)
	}
	if p.comp.pending {
		n += max(p.comp.gapEnd-max(p.comp.gapStart, from), 0)
	}
	return n
}

// publishHoles says whether byte positions have unused ranges above the
// log start, where size retention, which counts bytes by positions, waits.
func (p *Partition) publishHoles() {
	p.holey.Store(p.unusedBytes(p.startPos) > 0)
	p.unusedDirty.Store(p.unusedBytes(max(p.comp.cleanedPos, p.startPos)))
}

func (p *Partition) applyCompactBegin(b *pebble.Batch, d *dec) sm.Result {
	tomb, lag := d.i64(), d.i64()
	if d.err != nil || len(d.b) != 0 {
		return sm.Result{Data: statusData[StatusMalformed]}
	}
	c := &p.comp
	in := p.bytes - p.startPos
	if c.pending || p.tieredEnd > 0 || p.localStart != p.logStart || in <= 0 {
		return sm.Result{Data: statusData[StatusConflict]}
	}
	c.passes++
	c.pending = true
	c.cleanEnd = p.next
	c.stable = p.next
	for _, t := range p.open {
		c.stable = min(c.stable, t.first)
	}
	c.dirtyFrom = max(c.cleanedEnd, p.logStart)
	c.tombCutoff, c.lagCutoff = tomb, lag
	// Recompressing with the codec's default level may grow a batch that
	// its producer compressed harder: room for twice the input.
	c.gapStart, c.gapEnd = p.bytes, p.bytes+2*in+positionStep
	p.bytes = c.gapEnd
	p.files.skipTo(c.gapEnd)
	// The first batch after the gap: positionOf counts from here.
	_ = b.Set(p.positionKey(p.next), binary.BigEndian.AppendUint64(nil, uint64(c.gapEnd)), nil)
	_ = b.Set(p.compactionKey(), c.encode(), nil)
	p.startCompaction = true
	return sm.Result{Value: c.passes}
}

func (p *Partition) applyCompactEnd(b *pebble.Batch, d *dec) sm.Result {
	pass := d.u64()
	if d.err != nil || len(d.b) != 0 {
		return sm.Result{Data: statusData[StatusMalformed]}
	}
	c := &p.comp
	if !c.pending || pass != c.passes {
		return sm.Result{Data: statusData[StatusConflict]}
	}
	job := p.job
	if job == nil {
		// Update starts the worker before it applies an end.
		return sm.Result{Data: statusData[StatusConflict]}
	}
	<-job.done
	p.job = nil
	res := job.res
	c.pending = false
	_ = b.Set(p.compactionKey(), c.encode(), nil) // kept whatever happens below
	p.compPending.Store(false)
	// Batches wholly below a log start raised during the pass stay gone.
	out := res.refs
	for len(out) > 0 && out[0].base+int64(out[0].lastDelta) < p.logStart {
		out = out[1:]
	}
	p0 := c.gapEnd - res.size
	if res.err == nil && len(out) > 0 {
		// The file first: if it cannot be put in place, the pass fails
		// here like a worker that failed (a file renamed but not listed is
		// one no state refers to, removed once below the start).
		res.err = p.files.install(res.tmp, p0)
	}
	if res.err != nil {
		_ = p.store.fs.Remove(res.tmp)
		c.holes = append(c.holes, hole{c.gapStart, c.gapEnd})
		_ = b.Set(p.compactionKey(), c.encode(), nil)
		p.lastCompaction.Store(&CompactionResult{Pass: pass, Err: res.err})
		return sm.Result{Value: 0}
	}
	_ = b.DeleteRange(p.batchKey(0), p.batchKey(c.cleanEnd), nil)
	_ = b.DeleteRange(p.positionKey(0), p.positionKey(c.cleanEnd), nil)
	for i, r := range out {
		pos := p0 + r.rel
		v := make([]byte, batchRefSize)
		batchRef{pos: pos, size: r.size, lastDelta: r.lastDelta}.put(v)
		_ = b.Set(p.batchKey(r.base), v, nil)
		if i == 0 || pos/positionStep != (pos+int64(r.size))/positionStep {
			_ = b.Set(p.positionKey(r.base), binary.BigEndian.AppendUint64(nil, uint64(pos)), nil)
		}
	}
	if len(out) == 0 {
		_ = p.store.fs.Remove(res.tmp)
		p.startPos = max(p.startPos, c.gapEnd)
	} else {
		p.startPos = p0 + out[0].rel
	}
	c.cleanedEnd, c.cleanedPos = res.tail, c.gapEnd
	c.holes = nil // all below the output, which starts past this pass's gap start
	p.cleanedPos.Store(c.cleanedPos)
	p.cleanedEnd.Store(c.cleanedEnd)
	p.cleanedTail.Store(0)
	if n := len(out); n > 0 && out[n-1].base == res.tail {
		p.cleanedTail.Store(int64(out[n-1].size))
	}
	_ = b.Set(p.compactionKey(), c.encode(), nil)
	p.lastCompaction.Store(&CompactionResult{Pass: pass, Records: res.records, Kept: res.kept, InBytes: res.inBytes, OutBytes: res.size})
	return sm.Result{Value: uint64(res.size)}
}

// CompactionResult is what a replica's last compaction pass did.
type CompactionResult struct {
	Pass          uint64
	Records, Kept int64 // records read and kept
	InBytes       int64 // bytes of the batches read
	OutBytes      int64 // bytes of the batches written
	Err           error // the worker failed: the batches stayed as they were
}

// CompactionStatus is a partition's compaction progress, as the leader's
// cleaner needs it.
type CompactionStatus struct {
	// Pending is the number of the pass in progress, 0 when none is.
	Pending uint64
	// WorkerDone says the local worker of the pending pass has finished.
	WorkerDone bool
	// CleanBytes are the local bytes the last pass wrote, DirtyBytes those
	// appended since (what the next pass would see first); DirtyFrom is the
	// first offset no pass has seen.
	CleanBytes, DirtyBytes int64
	DirtyFrom              int64
	Last                   *CompactionResult // nil before the first pass ends here
}

// Compaction returns the partition's compaction progress.
func (p *Partition) Compaction() CompactionStatus {
	st := CompactionStatus{Last: p.lastCompaction.Load()}
	if j := p.jobView.Load(); j != nil && p.compPending.Load() {
		st.Pending = j.pass
		select {
		case <-j.done:
			st.WorkerDone = true
		default:
		}
	}
	clean := p.cleanedPos.Load()
	size := p.size.Load()
	st.DirtyFrom = max(p.cleanedEnd.Load(), p.start.Load())
	if clean == 0 {
		st.DirtyBytes = size
		return st
	}
	// The pass copied its input's last batch whole, unjudged: it is dirty
	// too. Left out, a large one followed by a few small batches would
	// keep the dirty ratio under min.cleanable.dirty.ratio for good.
	st.DirtyBytes = min(max(p.total.Load()-clean-p.unusedDirty.Load(), 0)+p.cleanedTail.Load(), size)
	st.CleanBytes = max(size-st.DirtyBytes, 0)
	return st
}

// compactJob is a pass's local worker.
type compactJob struct {
	pass   uint64
	cancel context.CancelFunc
	done   chan struct{}
	res    compactOutput // set before done is closed
}

type compactOutput struct {
	err                    error
	tmp                    string
	size                   int64
	refs                   []compactRef
	records, kept, inBytes int64
	// tail is the base offset of the input's last batch, copied whole: like
	// Kafka's active segment, it is left for the next pass (so a consumer
	// of the compacted log still reads up to the end, and a key's latest
	// record is judged with what follows it).
	tail int64
}

// compactRef locates an output batch in the output file.
type compactRef struct {
	base      int64
	rel       int64
	size      int32
	lastDelta int32
}

// startWorker starts the pending pass's worker; Update calls it once the
// begin is applied, load once the state says a pass is pending.
func (p *Partition) startWorker() {
	c := p.comp
	ctx, cancel := context.WithCancel(context.Background())
	j := &compactJob{pass: c.passes, cancel: cancel, done: make(chan struct{})}
	p.job = j
	p.jobView.Store(j)
	p.compPending.Store(true)
	go func() {
		defer close(j.done)
		j.res = p.compact(ctx, c)
	}()
}

// stopWorker cancels and waits for the worker (before the state it reads
// is replaced or closed).
func (p *Partition) stopWorker() {
	if j := p.job; j != nil {
		j.cancel()
		<-j.done
		_ = p.store.fs.Remove(j.res.tmp)
		p.job = nil
	}
}

var errCompactionStopped = errors.New("raftsm: compaction stopped")

// ioLimiter paces the compaction workers' reads and writes
// (StoreOptions.CompactionBytesPerSec; a *rate.Limiter).
type ioLimiter interface {
	WaitN(ctx context.Context, n int) error
	Burst() int
}

// paceIO waits until the store's compaction I/O bound allows n more bytes,
// or the worker is stopped.
func (p *Partition) paceIO(ctx context.Context, n int) error {
	l := p.store.compactionIO
	if l == nil {
		return nil
	}
	for n > 0 { // WaitN takes at most a burst at a time
		k := min(n, l.Burst())
		if err := l.WaitN(ctx, k); err != nil {
			return errCompactionStopped
		}
		n -= k
	}
	return nil
}

// keyHash identifies a key by two independent 64-bit hashes: a collision,
// which would drop a live record, is as unlikely as with Kafka's MD5.
type keyHash [2]uint64

// compact runs a pass's worker: it maps each key of the batches the
// previous pass did not see to its last offset, then writes the input's
// batches with only the records that survive to a temporary file.
func (p *Partition) compact(ctx context.Context, c compactionState) (out compactOutput) {
	out.tmp = p.store.fs.PathJoin(p.files.dir, "compact-"+strconv.FormatUint(c.passes, 10)+".tmp")
	files := p.files.acquire()
	defer releaseAll(files)
	seeds := [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}
	hash := func(k []byte) keyHash {
		return keyHash{maphash.Bytes(seeds[0], k), maphash.Bytes(seeds[1], k)}
	}
	var err error
	if out.tail, err = p.batchContaining(p.store.db, c.cleanEnd-1); err != nil {
		out.err = err
		return out
	}
	// A transaction's first batch starts at the last stable offset: from
	// there on, batches are copied whole.
	out.tail = min(out.tail, c.stable)
	aborted, err := p.abortedRanges(c.cleanEnd)
	if err != nil {
		out.err = err
		return out
	}
	latest := map[keyHash]int64{}
	full := int64(math.MaxInt64) // base of the first batch with a key the map had no room for
	err = p.eachInputBatch(ctx, files, c.dirtyFrom, out.tail, func(b []byte) error {
		h, err := batch.ParseHeader(b)
		if err != nil || h.IsControl() || aborted.holds(h) {
			return err // an aborted transaction's records supersede nothing
		}
		return batch.Records(b, func(r batch.Record) error {
			if r.Key == nil || r.Offset < c.dirtyFrom {
				return nil
			}
			k := hash(r.Key)
			if _, ok := latest[k]; ok || len(latest) < compactionMaxKeys {
				// Kept updating past the first key that did not fit: a
				// record it supersedes then goes, the superseding one
				// being in a batch copied whole.
				latest[k] = r.Offset
			} else {
				full = min(full, h.BaseOffset)
			}
			return nil
		})
	})
	out.tail = min(out.tail, full)
	if err != nil {
		out.err = err
		return out
	}
	keep := func(r batch.Record) bool {
		out.records++
		if r.Key == nil || r.Timestamp > c.lagCutoff {
			return true
		}
		last, ok := latest[hash(r.Key)]
		if ok && last > r.Offset {
			return false // superseded
		}
		return r.Value != nil || r.Timestamp >= c.tombCutoff
	}
	f, err := p.store.fs.Create(out.tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		out.err = fmt.Errorf("raftsm: create compaction output: %w", err)
		return out
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var buf []byte
	room := c.gapEnd - c.gapStart
	err = p.eachInputBatch(ctx, files, p.start.Load(), c.cleanEnd, func(b []byte) error {
		out.inBytes += int64(len(b))
		h, err := batch.ParseHeader(b)
		if err != nil {
			return err
		}
		var kept int
		switch {
		case h.BaseOffset < out.tail && aborted.holds(h):
			// An aborted transaction's records go, as Kafka's cleaner
			// removes them: read_committed consumers skip them anyway.
			// Its marker stays, and so does its aborted-index entry.
			out.records += int64(h.NumRecords)
			return nil
		case h.BaseOffset < out.tail && h.IsControl() && h.MaxTimestamp < c.tombCutoff && isCommitMarker(b):
			// A commit marker goes once delete.retention.ms has passed,
			// as Kafka's cleaner removes markers: consumers skip it,
			// read_committed ones need only the abort markers (with the
			// aborted index), and the producer's state is the state
			// machine's, not rebuilt from the log. Without this a
			// compacted topic written by exactly-once producers (Kafka
			// Streams' changelogs commit every 100 ms) would keep every
			// transaction's marker for good.
			out.records += int64(h.NumRecords)
			return nil
		case h.IsControl() || h.BaseOffset >= out.tail:
			buf = append(buf[:0], b...)
			out.records += int64(h.NumRecords)
			out.kept += int64(h.NumRecords)
		default:
			if buf, kept, _, err = batch.Filter(buf[:0], b, keep); err != nil {
				return err
			} else if kept == 0 {
				return nil
			}
		}
		out.kept += int64(kept)
		if out.size+int64(len(buf)) > room {
			return fmt.Errorf("raftsm: compaction output outgrew its room of %d bytes", room)
		}
		out.refs = append(out.refs, compactRef{base: h.BaseOffset, rel: out.size, size: int32(len(buf)), lastDelta: h.LastOffsetDelta})
		out.size += int64(len(buf))
		if err := p.paceIO(ctx, len(buf)); err != nil {
			return err
		}
		_, err = w.Write(buf)
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		out.err = fmt.Errorf("raftsm: partition %d: compaction: %w", p.shardID, err)
	}
	return out
}

// isCommitMarker reports whether a control batch is a commit marker.
func isCommitMarker(b []byte) bool {
	commit, ok := batch.ControlType(b)
	return ok && commit
}

// eachInputBatch calls fn with each batch holding offsets in [from, end),
// read from files, until fn fails or the worker is stopped.
func (p *Partition) eachInputBatch(ctx context.Context, files []*batchFile, from, end int64, fn func([]byte) error) error {
	return p.batchesIn(files, from, end, func(b []byte) error {
		if ctx.Err() != nil {
			return errCompactionStopped
		}
		if err := p.paceIO(ctx, len(b)); err != nil {
			return err
		}
		return fn(b)
	})
}

// compactionGauges are published for readers off the Update goroutine.
type compactionGauges struct {
	compPending    atomic.Bool
	holey          atomic.Bool  // unused byte positions above the log start (publishHoles)
	unusedDirty    atomic.Int64 // unused byte positions above the last pass's output
	cleanedPos     atomic.Int64
	cleanedEnd     atomic.Int64
	cleanedTail    atomic.Int64 // bytes of the batch at cleanedEnd, the last pass's unjudged tail
	jobView        atomic.Pointer[compactJob]
	lastCompaction atomic.Pointer[CompactionResult]
}

// FirstTimestampFrom returns the first timestamp of the batch holding
// offset from, or the next one; ok is false when there is none.
func (p *Partition) FirstTimestampFrom(from int64) (ts int64, ok bool) {
	hw := p.hw.Load()
	if from >= hw {
		return 0, false
	}
	_ = p.eachBatch(max(from, p.start.Load()), hw, func(b []byte) bool {
		h, err := batch.ParseHeader(b)
		ts, ok = h.FirstTimestamp, err == nil
		return false
	})
	return ts, ok
}

package raftsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Partition key schema, after the 8-byte shard prefix:
//
//	'a'                     → applied index, next offset, log start, max timestamp,
//	                          bytes appended, byte position of the log start's batch
//	'b' BE64(baseOffset)    → a record batch as produced, baseOffset and partitionLeaderEpoch rewritten
//	                          (and, for LogAppendTime topics, attributes, maxTimestamp and CRC)
//	't' BE64(orderedTS)     → BE64(baseOffset) of the first batch whose max timestamp reached that value
//	'p' BE64(producerID)    → producer epoch, the last 5 batch sequences, the clock at its last append
//	'e' BE32(leaderEpoch)   → BE64(first offset written in that epoch)
//	's' BE64(baseOffset)    → BE64(bytes appended before that batch), for batches crossing a
//	                          positionStep boundary (admin.go)
//	'r' BE64(baseOffset)    → a tiered segment of the manifest (tiered.go)
//	'x' BE64(markerOffset)  → an aborted transaction: producer ID, first offset (txn.go)
//	'm' BE64(producerID)    → the Raft index and clock of the producer's last marker (txn.go)
//	'X'                     → the longest aborted transaction's offset span (txn.go)
//
// The state key continues with the local start and the tiered end
// (tiered.go), then the append clock; state keys written before tiering end
// after the byte position, those written before the clock after the tiered
// end.
const (
	keyState    = 'a'
	keyBatch    = 'b'
	keyTime     = 't'
	keyProducer = 'p'
	keyEpoch    = 'e'
	keyPosition = 's'
)

// Offsets of fields in a RecordBatch v2 header that the state machine reads
// or rewrites. The CRC covers neither baseOffset nor partitionLeaderEpoch.
const (
	batchHeaderSize     = 61
	offLeaderEpoch      = 12
	offLastOffsetDelta  = 23
	maxSequencesTracked = 5
)

// producerExpirationMs is how long a producer's state outlives its last
// append (Kafka's producer.id.expiration.ms, one day by default). An
// expired producer is unknown again: its next batch must start a sequence
// (UNKNOWN_PRODUCER_ID otherwise, which clients answer by resetting their
// producer, KIP-360). Without it every idempotent producer that ever wrote
// to a partition stayed in its memory and state store for good. It is a
// constant, not a setting: every replica must make the same decision.
const producerExpirationMs = 24 * 60 * 60 * 1000

// producerSweepMs is how often, in append-clock time, expired producers'
// state is removed (they count as absent from the moment they expire).
const producerSweepMs = 60 * 1000

// ErrOffsetOutOfRange is returned by Read for offsets outside [log start, HW].
// Offsets below the local start are ErrOffsetTiered (tiered.go).
var ErrOffsetOutOfRange = errors.New("raftsm: offset out of range")

// Partition is the state machine of one partition shard. Update, Open,
// Sync, PrepareSnapshot and RecoverFromSnapshot are serialised by
// Dragonboat; Read, OffsetForTimestamp and EndOffsetForEpoch may run
// concurrently with all of them and read only committed, applied data (below
// the high watermark).
type Partition struct {
	store   *Store
	shardID uint64
	prefix  []byte
	onApply func() // called after each applied Update; must not block

	// Owned by the Update goroutine.
	applied    uint64
	next       int64
	logStart   int64
	maxTS      int64
	producers  map[int64]*producerState
	open       map[int64]openTxn // producer ID → its open transaction (txn.go); written under mu
	txnEnds    map[int64]txnEnd  // producer ID → its last marker (txn.go)
	index      uint64            // Raft index of the entry being applied
	abortSpan  int64             // the longest aborted transaction's last minus first offset
	clock      int64             // largest proposer time (ms) of an applied append: what producer expiry is judged by
	lastSweep  int64             // clock at the last removal of expired producers
	bytes      int64             // bytes ever appended: the byte position of next
	startPos   int64             // byte position of the batch holding localStart
	localStart int64             // first offset stored locally (tiered.go)
	tieredEnd  int64             // offset after the last tiered segment
	tieredPos  int64             // byte position of tieredEnd
	cmd        AppendCommand     // decode scratch
	files      *batchFiles       // the record batches (batchfiles.go)
	ioErr      error             // a batch file write failed: Update fails
	comp       compactionState
	job        *compactJob // the pending compaction pass's worker (compaction.go)
	// startCompaction says a pass began in this Update: its worker starts
	// once the Update's writes are applied.
	startCompaction bool
	compactionGauges

	hw       atomic.Int64  // next offset after the last applied batch
	lso      atomic.Int64  // last stable offset: the first open transaction's first offset, else hw
	span     atomic.Int64  // abortSpan
	start    atomic.Int64  // log start offset
	local    atomic.Int64  // local start offset
	tiered   atomic.Int64  // tiered end
	size     atomic.Int64  // bytes - startPos: what is stored locally
	total    atomic.Int64  // bytes
	untiered atomic.Int64  // bytes - max(tieredPos, startPos): local, not yet tiered
	logIndex atomic.Uint64 // applied, published after logBytes (AppliedLog)
	logBytes atomic.Int64  // bytes of the commands applied since Open
	mu       struct {
		sync.RWMutex
		epochs   []epochStart    // ascending by epoch
		segments []SegmentRecord // the tiered manifest, ascending
	}
}

type epochStart struct {
	epoch int32
	start int64
}

type seqRange struct {
	first, last int32
	base        int64
}

type producerState struct {
	epoch int16
	seqs  []seqRange // oldest first, at most maxSequencesTracked
	last  int64      // clock at its last append; math.MaxInt64 if stored before it was kept
	// txnFirst is the first offset of the producer's open transaction, -1
	// when none is open.
	txnFirst int64
}

// expired reports whether the state has expired at clock: the producer is
// then unknown, as if it had never written. A producer with an open
// transaction never expires (its coordinator ends the transaction).
func (s *producerState) expired(clock int64) bool {
	return s.txnFirst < 0 && s.last != math.MaxInt64 && clock-s.last > producerExpirationMs
}

// NewPartition returns the state machine for a partition shard; onApply is
// called (on Dragonboat's apply goroutine) after new batches are visible.
func NewPartition(store *Store, shardID uint64, onApply func()) *Partition {
	if onApply == nil {
		onApply = func() {}
	}
	return &Partition{
		store: store, shardID: shardID, prefix: shardPrefix(shardID), onApply: onApply,
		files: newBatchFiles(store, shardID),
	}
}

func (p *Partition) key(kind byte, n int) []byte {
	k := make([]byte, 0, len(p.prefix)+1+n)
	k = append(k, p.prefix...)
	return append(k, kind)
}

func (p *Partition) batchKey(off int64) []byte {
	return binary.BigEndian.AppendUint64(p.key(keyBatch, 8), uint64(off))
}

// Open loads the partition's state and returns its last applied index.
func (p *Partition) Open(<-chan struct{}) (uint64, error) {
	if err := p.load(); err != nil {
		return 0, err
	}
	p.logIndex.Store(p.applied)
	return p.applied, nil
}

func (p *Partition) load() error {
	p.stopWorker() // a pending pass's worker restarts from the state read here
	p.applied, p.next, p.logStart, p.maxTS, p.clock, p.lastSweep = 0, 0, 0, math.MinInt64, 0, 0
	p.bytes, p.startPos, p.localStart, p.tieredEnd, p.tieredPos = 0, 0, 0, 0, 0
	p.comp, p.startCompaction = compactionState{}, false
	p.producers = make(map[int64]*producerState)
	p.mu.Lock()
	p.open = make(map[int64]openTxn)
	p.mu.Unlock()
	p.txnEnds = make(map[int64]txnEnd)
	v, closer, err := p.store.db.Get(p.key(keyState, 0))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return fmt.Errorf("raftsm: partition %d: read state: %w", p.shardID, err)
	default:
		d := dec{b: v}
		p.applied, p.next, p.logStart, p.maxTS = d.u64(), d.i64(), d.i64(), d.i64()
		if len(d.b) > 0 { // state keys written before byte counting end here
			p.bytes, p.startPos = d.i64(), d.i64()
		}
		p.localStart = p.logStart
		if len(d.b) > 0 { // and those written before tiering here
			p.localStart, p.tieredEnd, p.tieredPos = d.i64(), d.i64(), d.i64()
		}
		if len(d.b) > 0 { // and those written before the clock here
			p.clock = d.i64()
		}
		err = d.err
		closer.Close()
		if err != nil {
			return fmt.Errorf("raftsm: partition %d: corrupt state key: %w", p.shardID, err)
		}
	}
	if err := p.loadCompaction(); err != nil {
		return err
	}
	if err := p.files.open(p.startPos, p.bytes); err != nil {
		return fmt.Errorf("raftsm: partition %d: %w", p.shardID, err)
	}
	if p.comp.gapEnd > 0 && p.bytes == p.comp.gapEnd {
		p.files.skipTo(p.bytes) // appends resume in a new file past a compaction's gap
	}
	var epochs []epochStart
	err = p.scan(keyProducer, func(k, v []byte) error {
		pid := int64(binary.BigEndian.Uint64(k))
		st, err := decodeProducer(v)
		if err != nil {
			return err
		}
		p.producers[pid] = st
		if st.txnFirst >= 0 {
			p.setOpen(pid, openTxn{first: st.txnFirst, epoch: st.epoch})
		}
		return nil
	})
	if err == nil {
		p.abortSpan, err = p.loadAbortSpan()
	}
	if err == nil {
		err = p.loadTxnEnds()
	}
	if err == nil {
		err = p.scan(keyEpoch, func(k, v []byte) error {
			if len(k) != 4 || len(v) != 8 {
				return errShortCommand
			}
			epochs = append(epochs, epochStart{int32(binary.BigEndian.Uint32(k)), int64(binary.BigEndian.Uint64(v))})
			return nil
		})
	}
	var segs []SegmentRecord
	if err == nil {
		segs, err = p.loadSegments()
	}
	if err != nil {
		return fmt.Errorf("raftsm: partition %d: load: %w", p.shardID, err)
	}
	p.mu.Lock()
	p.mu.epochs = epochs
	p.mu.segments = segs
	p.mu.Unlock()
	p.start.Store(p.logStart)
	p.local.Store(p.localStart)
	p.tiered.Store(p.tieredEnd)
	p.publishSizes()
	p.hw.Store(p.next)
	p.publishStable()
	if p.comp.pending {
		p.startWorker()
	}
	return nil
}

// scan calls fn for every key of one kind with the shard prefix and kind
// byte stripped.
func (p *Partition) scan(kind byte, fn func(k, v []byte) error) error {
	return p.store.scanKind(p.prefix, kind, fn)
}

// overgrownBatches counts Updates whose Pebble batch outgrew the size
// they allocated it with (and so was copied into a larger one).
var overgrownBatches atomic.Int64

// Update applies committed entries. It rejects bad commands through the
// result and returns an error only when Pebble fails.
func (p *Partition) Update(ents []sm.Entry) ([]sm.Entry, error) {
	// DeleteRecords and the tiering commands read the batches, including
	// those appended by earlier entries of this Update: only an indexed
	// batch shows them.
	// The Pebble batch holds keys and index entries only (the record
	// batches go to the batch files), sized up front so that it rarely
	// grows: per record batch its reference, a position and a time-index
	// entry, each with Pebble's record header, about 110 bytes; per entry
	// the producer's state (up to 5 sequence ranges) and an epoch entry;
	// the state key once. Sizing it by the commands' bytes, as when the
	// batches were in Pebble, allocated (and zeroed) their size again.
	indexed := false
	cmdBytes := 0
	for i := range ents {
		indexed = indexed || readsBatches(ents[i].Cmd)
		cmdBytes += len(ents[i].Cmd)
	}
	size := updateBatchSize(ents)
	startPos := p.startPos
	var b *pebble.Batch
	if indexed {
		b = p.store.db.NewIndexedBatchWithSize(size)
	} else {
		b = p.store.db.NewBatchWithSize(size)
	}
	defer func() { b.Close() }()
	for i := range ents {
		if p.startCompaction && i > 0 && isCompactEnd(ents[i].Cmd) {
			// The pass began earlier in this Update: its worker must read
			// the batches appended before the begin, so apply them first.
			p.applied = ents[i-1].Index
			if err := p.commitUpdate(b); err != nil {
				return nil, err
			}
			p.startWorker()
			p.startCompaction = false
			b.Close()
			if indexed {
				b = p.store.db.NewIndexedBatchWithSize(size)
			} else {
				b = p.store.db.NewBatchWithSize(size)
			}
		}
		p.index = ents[i].Index
		ents[i].Result = p.apply(b, ents[i].Cmd)
		if p.ioErr != nil {
			return nil, fmt.Errorf("raftsm: partition %d: %w", p.shardID, p.ioErr)
		}
	}
	p.applied = ents[len(ents)-1].Index
	if b.Len() > size {
		overgrownBatches.Add(1)
	}
	if err := p.commitUpdate(b); err != nil {
		return nil, err
	}
	if p.startCompaction {
		p.startWorker()
		p.startCompaction = false
	}
	if p.startPos > startPos {
		// Readers past the raised starts no longer need the files below;
		// one that fails to go is removed at the next Open.
		p.files.dropBelow(p.startPos)
	}
	p.publishSizes()
	p.logBytes.Add(int64(cmdBytes))
	p.logIndex.Store(p.applied)
	if p.hw.Load() != p.next {
		p.hw.Store(p.next)
		p.publishStable()
		p.onApply()
	}
	return ents, nil
}

// commitUpdate writes the state key to b and applies b to the store.
func (p *Partition) commitUpdate(b *pebble.Batch) error {
	e := enc{b: make([]byte, 0, 72)}
	e.u64(p.applied)
	e.i64(p.next)
	e.i64(p.logStart)
	e.i64(p.maxTS)
	e.i64(p.bytes)
	e.i64(p.startPos)
	e.i64(p.localStart)
	e.i64(p.tieredEnd)
	e.i64(p.tieredPos)
	e.i64(p.clock)
	if err := b.Set(p.key(keyState, 0), e.b, nil); err != nil {
		return err
	}
	// A raised log or local start is published before the batches below it
	// vanish, so a reader that passed the checks finds its batch.
	p.start.Store(p.logStart)
	p.local.Store(p.localStart)
	if err := p.store.apply(b); err != nil {
		return fmt.Errorf("raftsm: partition %d: apply: %w", p.shardID, err)
	}
	return nil
}

// updateBatchSize is the size an Update allocates its Pebble batch at (see
// Update): 256 bytes, and per entry 256 plus 128 per record batch it appends.
func updateBatchSize(ents []sm.Entry) int {
	size := 256
	for i := range ents {
		size += 256 + 128*appendedBatches(ents[i].Cmd)
	}
	return size
}

// AppliedLog reports the last applied Raft index and the bytes of the
// commands applied since Open: what the Raft log holds since then, which
// core/partition uses to snapshot and compact the log by size. The two are
// read without a lock, so bytes may already count the entries of the next
// index.
func (p *Partition) AppliedLog() (index uint64, bytes int64) {
	return p.logIndex.Load(), p.logBytes.Load()
}

func (p *Partition) apply(b *pebble.Batch, cmd []byte) sm.Result {
	d := dec{b: cmd}
	if d.u8() != commandVersion || d.err != nil {
		return sm.Result{Data: statusData[StatusUnsupportedCmd]}
	}
	switch typ := d.u8(); typ {
	case cmdAppend, cmdAppendOpts:
		return p.applyAppend(b, &d, typ == cmdAppendOpts)
	case cmdDeleteRecords:
		return p.applyDeleteRecords(b, &d)
	case cmdSegmentTiered:
		return p.applySegmentTiered(b, &d)
	case cmdTrim:
		return p.applyTrim(b, &d)
	case cmdRestorePartition:
		return p.applyRestore(b, &d)
	case cmdCompactBegin:
		return p.applyCompactBegin(b, &d)
	case cmdCompactEnd:
		return p.applyCompactEnd(b, &d)
	case cmdTxnMarker:
		return p.applyTxnMarker(b, &d)
	default:
		return sm.Result{Data: statusData[StatusUnsupportedCmd]}
	}
}

// applyAppend applies an append; withOpts says the body ends with the
// options byte (cmdAppendOpts).
func (p *Partition) applyAppend(b *pebble.Batch, d *dec, withOpts bool) sm.Result {
	c := &p.cmd
	err := decodeAppend(d, c)
	var opts AppendOptions
	if withOpts {
		opts = decodeAppendOptions(d)
		err = d.err
	}
	if err != nil || len(c.Batches) == 0 {
		return sm.Result{Data: statusData[StatusMalformed]}
	}
	for i := range c.Batches {
		if len(c.Batches[i].Data) < batchHeaderSize || c.Batches[i].Meta.LastOffsetDelta < 0 ||
			c.Batches[i].Meta.ProducerID < 0 && isTransactional(c.Batches[i].Data) {
			return sm.Result{Data: statusData[StatusMalformed]}
		}
	}
	// Producer checks first: the whole command is accepted or rejected.
	// The clock moves even for a rejected command: it only ever orders
	// expiry, and every replica applies the same commands.
	p.clock = max(p.clock, c.Timestamp)
	first := &c.Batches[0].Meta
	var st *producerState
	if first.ProducerID >= 0 {
		st = p.producers[first.ProducerID]
		if st != nil && st.expired(p.clock) {
			st = nil
		}
		if status, base := checkSequence(st, c.Batches); status != StatusOK {
			if status == StatusDuplicate {
				return sm.Result{Value: uint64(base), Data: statusData[StatusDuplicate]}
			}
			return sm.Result{Data: statusData[status]}
		}
		if !p.txnVerified(c, opts, st) {
			return sm.Result{Data: statusData[StatusTxnNotVerified]}
		}
	}
	base, st := p.appendBatches(b, c, opts, st)
	if st != nil {
		st.last = p.clock
		p.putProducer(b, first.ProducerID, st)
	}
	if p.clock-p.lastSweep > producerSweepMs {
		p.sweepProducers(b)
	}
	return sm.Result{Value: uint64(base)}
}

// appendBatches writes the batches of c at the next offset, and records
// them in the producer state st (nil without one); it returns the first
// batch's offset and the producer state, new if st was nil or of another
// epoch.
func (p *Partition) appendBatches(b *pebble.Batch, c *AppendCommand, opts AppendOptions, st *producerState) (int64, *producerState) {
	p.recordEpoch(b, c.LeaderEpoch)
	base := p.next
	pos := p.bytes
	buf := writeBufs.Get().(*[]byte)
	defer writeBufs.Put(buf)
	written := (*buf)[:0]
	for i := range c.Batches {
		bt := &c.Batches[i]
		off := p.next
		at := len(written)
		written = append(written, bt.Data...)
		stored := written[at:]
		binary.BigEndian.PutUint64(stored[0:8], uint64(off))
		binary.BigEndian.PutUint32(stored[offLeaderEpoch:offLeaderEpoch+4], uint32(p.currentEpochLocked()))
		maxTS := bt.Meta.MaxTimestamp
		if opts.LogAppendTime {
			stampLogAppendTime(stored, c.Timestamp)
			maxTS = c.Timestamp
		}
		ref := batchRef{pos: p.bytes, size: int32(len(stored)), lastDelta: bt.Meta.LastOffsetDelta}
		op := b.SetDeferred(len(p.prefix)+9, batchRefSize)
		n := copy(op.Key, p.prefix)
		op.Key[n] = keyBatch
		binary.BigEndian.PutUint64(op.Key[n+1:], uint64(off))
		ref.put(op.Value)
		_ = op.Finish()
		p.recordPosition(b, off, len(stored))
		if maxTS > p.maxTS {
			p.maxTS = maxTS
			tk := binary.BigEndian.AppendUint64(p.key(keyTime, 8), orderedTS(p.maxTS))
			_ = b.Set(tk, binary.BigEndian.AppendUint64(nil, uint64(off)), nil)
		}
		if pid := bt.Meta.ProducerID; pid >= 0 {
			if st == nil || st.epoch != bt.Meta.ProducerEpoch {
				// A new epoch: a transaction of the old one has ended (its
				// coordinator writes the markers before it bumps the epoch).
				st = &producerState{epoch: bt.Meta.ProducerEpoch, txnFirst: -1}
				p.producers[pid] = st
				p.setOpen(pid, openTxn{first: -1})
			}
			st.push(seqRange{first: bt.Meta.BaseSequence, last: lastSeq(bt.Meta), base: off})
			if st.txnFirst < 0 && isTransactional(bt.Data) {
				st.txnFirst = off
				p.setOpen(pid, openTxn{first: off, epoch: st.epoch})
			}
		}
		p.next += int64(bt.Meta.LastOffsetDelta) + 1
	}
	// One write per command, before the Pebble batch that points to it is
	// applied (the sync ordering in batchfiles.go depends on it).
	*buf = written
	if at, err := p.files.append(written); err != nil {
		p.ioErr = err
	} else if at != pos {
		p.ioErr = fmt.Errorf("batch files end at %d, state at %d", at, pos)
	}
	return base, st
}

// putProducer stores a producer's state.
func (p *Partition) putProducer(b *pebble.Batch, pid int64, st *producerState) {
	pk := binary.BigEndian.AppendUint64(p.key(keyProducer, 8), uint64(pid))
	_ = b.Set(pk, st.encode(), nil)
}

// writeBufs holds the buffers appends assemble their batches in, shared by
// every partition (one per partition would keep its largest command).
var writeBufs = sync.Pool{New: func() any { return new([]byte) }}

// recordEpoch starts a new leader epoch at the next offset when the
// proposer's epoch is newer than the last one recorded. Epochs only grow.
func (p *Partition) recordEpoch(b *pebble.Batch, epoch int32) {
	if epoch <= p.currentEpochLocked() {
		return
	}
	k := binary.BigEndian.AppendUint32(p.key(keyEpoch, 4), uint32(epoch))
	_ = b.Set(k, binary.BigEndian.AppendUint64(nil, uint64(p.next)), nil)
	p.mu.Lock()
	p.mu.epochs = append(p.mu.epochs, epochStart{epoch, p.next})
	p.mu.Unlock()
}

// currentEpochLocked returns the newest recorded epoch. Only the Update
// goroutine writes epochs, so it may read without the lock.
func (p *Partition) currentEpochLocked() int32 {
	if n := len(p.mu.epochs); n > 0 {
		return p.mu.epochs[n-1].epoch
	}
	return -1
}

// lastSeq is the sequence of a batch's last record (sequences wrap at MaxInt32).
func lastSeq(m BatchMeta) int32 {
	return int32((int64(m.BaseSequence) + int64(m.LastOffsetDelta)) % (math.MaxInt32 + 1))
}

func nextSeq(s int32) int32 {
	if s == math.MaxInt32 {
		return 0
	}
	return s + 1
}

// checkSequence applies Kafka's idempotent-producer rules to the batches of
// one command (all from one producer).
func checkSequence(st *producerState, batches []AppendBatch) (Status, int64) {
	m := batches[0].Meta
	for i := 1; i < len(batches); i++ {
		if batches[i].Meta.ProducerID != m.ProducerID || batches[i].Meta.ProducerEpoch != m.ProducerEpoch {
			return StatusMalformed, 0
		}
	}
	switch {
	case st == nil:
		if m.BaseSequence != 0 {
			return StatusUnknownProducerID, 0
		}
	case m.ProducerEpoch < st.epoch:
		return StatusFencedEpoch, 0
	case m.ProducerEpoch > st.epoch:
		if m.BaseSequence != 0 {
			return StatusOutOfOrder, 0
		}
	default:
		for _, s := range st.seqs {
			if s.first == m.BaseSequence && s.last == lastSeq(m) {
				return StatusDuplicate, s.base
			}
		}
		if len(st.seqs) > 0 && m.BaseSequence != nextSeq(st.seqs[len(st.seqs)-1].last) {
			return StatusOutOfOrder, 0
		}
	}
	prev := lastSeq(m)
	for _, b := range batches[1:] {
		if b.Meta.BaseSequence != nextSeq(prev) {
			return StatusOutOfOrder, 0
		}
		prev = lastSeq(b.Meta)
	}
	return StatusOK, 0
}

func (s *producerState) push(r seqRange) {
	if len(s.seqs) == maxSequencesTracked {
		copy(s.seqs, s.seqs[1:])
		s.seqs = s.seqs[:maxSequencesTracked-1]
	}
	s.seqs = append(s.seqs, r)
}

func (s *producerState) encode() []byte {
	e := enc{b: make([]byte, 0, 19+len(s.seqs)*16)}
	e.i16(s.epoch)
	e.u8(byte(len(s.seqs)))
	for _, r := range s.seqs {
		e.i32(r.first)
		e.i32(r.last)
		e.i64(r.base)
	}
	e.i64(s.last)
	e.i64(s.txnFirst)
	return e.b
}

func decodeProducer(v []byte) (*producerState, error) {
	d := dec{b: v}
	st := &producerState{epoch: d.i16(), last: math.MaxInt64, txnFirst: -1}
	n := int(d.u8())
	for i := 0; i < n && d.err == nil; i++ {
		st.seqs = append(st.seqs, seqRange{first: d.i32(), last: d.i32(), base: d.i64()})
	}
	if d.err == nil && len(d.b) > 0 { // stored before the clock: never expires until it appends
		st.last = d.i64()
	}
	if d.err == nil && len(d.b) > 0 { // stored before transactions: none open
		st.txnFirst = d.i64()
	}
	return st, d.err
}

// sweepProducers removes the state of the producers expired at the clock.
// Nothing observable changes: an expired producer already counts as
// unknown; this frees its memory and its key.
func (p *Partition) sweepProducers(b *pebble.Batch) {
	p.lastSweep = p.clock
	for pid, st := range p.producers {
		if st.expired(p.clock) {
			delete(p.producers, pid)
			_ = b.Delete(binary.BigEndian.AppendUint64(p.key(keyProducer, 8), uint64(pid)), nil)
		}
	}
	p.sweepTxnEnds(b)
}

// HighWatermark is the offset after the last applied batch.
func (p *Partition) HighWatermark() int64 { return p.hw.Load() }

// LogStartOffset is the first offset still readable.
func (p *Partition) LogStartOffset() int64 { return p.start.Load() }

// Read appends to dst the stored batches that contain offset and follow it,
// stopping before maxBytes would be exceeded (the first batch is always
// included, so a consumer makes progress), and never past the high
// watermark.
func (p *Partition) Read(dst []byte, offset int64, maxBytes int32) ([]byte, error) {
	hw := p.hw.Load()
	if offset < p.start.Load() || offset > hw {
		return dst, ErrOffsetOutOfRange
	}
	if offset < p.local.Load() {
		return dst, ErrOffsetTiered
	}
	if offset == hw {
		return dst, nil
	}
	installs := p.files.installs.Load()
	out, err := p.read(dst, offset, maxBytes, hw)
	if err != nil && p.files.installs.Load() != installs {
		// A compaction pass's output was installed between taking the file
		// list and reading the references: read again.
		return p.read(dst, offset, maxBytes, hw)
	}
	return out, err
}

func (p *Partition) read(dst []byte, offset int64, maxBytes int32, hw int64) ([]byte, error) {
	files := p.files.acquire() // before the iterator: see batchfiles.go
	defer releaseAll(files)
	it, err := p.store.db.NewIter(&pebble.IterOptions{LowerBound: p.batchKey(0), UpperBound: p.batchKey(hw)})
	if err != nil {
		return dst, err
	}
	defer it.Close()
	ok := it.SeekLT(p.batchKey(offset + 1))
	if !ok {
		ok = it.First()
	}
	// Batches adjacent in the files are read with one pread.
	total, runPos, runLen := 0, int64(0), 0
	flush := func() error {
		if runLen == 0 {
			return nil
		}
		var err error
		dst, err = readBatchBytes(files, dst, runPos, runLen)
		runLen = 0
		return err
	}
	for ; ok; ok = it.Next() {
		v := it.Value()
		_, last, size, err := p.batchInfo(it.Key(), v)
		if err != nil {
			return dst, err
		}
		if last < offset {
			continue
		}
		if total > 0 && total+size > int(maxBytes) {
			break
		}
		switch {
		case len(v) != batchRefSize:
			if err := flush(); err != nil {
				return dst, err
			}
			dst = append(dst, v...)
		case runLen > 0 && runPos+int64(runLen) == decodeBatchRef(v).pos:
			runLen += size
		default:
			if err := flush(); err != nil {
				return dst, err
			}
			runPos, runLen = decodeBatchRef(v).pos, size
		}
		if total += size; total >= int(maxBytes) {
			break
		}
	}
	if err := flush(); err != nil {
		return dst, err
	}
	return dst, it.Error()
}

// BatchesFromTime calls fn with each committed batch, in offset order,
// starting at the first whose max timestamp is ≥ ts, until fn returns
// false. The first batch may start below the log start (DeleteRecords keeps
// the batch holding it); callers skip records below LogStartOffset. The
// batch slice is only valid during the call.
func (p *Partition) BatchesFromTime(ts int64, fn func(batch []byte) bool) error {
	hw := p.hw.Load()
	lo := binary.BigEndian.AppendUint64(p.key(keyTime, 8), orderedTS(ts))
	hi := p.key(keyTime+1, 0)
	it, err := p.store.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	if !it.First() {
		return errors.Join(it.Error(), it.Close())
	}
	// Batches below the log start are gone, so iterating from the indexed
	// base starts at the first remaining batch when the base was deleted.
	base := int64(binary.BigEndian.Uint64(it.Value()))
	if err := it.Close(); err != nil {
		return err
	}
	return p.eachBatch(base, hw, fn)
}

// EndOffsetForEpoch returns the largest recorded epoch ≤ epoch and the
// offset where it ended (the start of the next epoch, or the high
// watermark), or (-1, -1) when epoch predates every recorded one.
func (p *Partition) EndOffsetForEpoch(epoch int32) (int32, int64) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	es := p.mu.epochs
	i := sort.Search(len(es), func(i int) bool { return es[i].epoch > epoch })
	if i == 0 {
		return -1, -1
	}
	if i < len(es) {
		return es[i-1].epoch, es[i].start
	}
	return es[i-1].epoch, p.hw.Load()
}

// Lookup is unused: reads go through Read and friends.
func (p *Partition) Lookup(any) (any, error) {
	return nil, errors.New("raftsm: partition lookup is not supported")
}

// Sync makes every applied batch durable.
func (p *Partition) Sync() error { return p.store.Sync() }

// partitionSnapshot is a point-in-time view: the store's keys and the
// batch files they point into.
type partitionSnapshot struct {
	snap  *pebble.Snapshot
	files []*batchFile
}

// PrepareSnapshot captures a point-in-time view (runs exclusive with Update).
func (p *Partition) PrepareSnapshot() (any, error) {
	return &partitionSnapshot{snap: p.store.db.NewSnapshot(), files: p.files.acquire()}, nil
}

// SaveSnapshot streams the shard's key range captured by PrepareSnapshot,
// with each batch's bytes in place of its reference to the files (the
// stream's format predates the files, and the receiver has its own).
func (p *Partition) SaveSnapshot(ctx any, w io.Writer, stop <-chan struct{}) error {
	ps := ctx.(*partitionSnapshot)
	defer releaseAll(ps.files)
	return saveShard(ps.snap, p.shardID, w, stop, func(dst, k, v []byte) ([]byte, error) {
		if k[0] != keyBatch {
			return append(dst, v...), nil
		}
		return appendBatch(ps.files, dst, v)
	})
}

// RecoverFromSnapshot replaces the shard's state with the stream; its
// batches go to new batch files at the positions they had.
func (p *Partition) RecoverFromSnapshot(r io.Reader, stop <-chan struct{}) error {
	p.stopWorker()
	if err := loadShard(p.store, p.shardID, r, stop, p.files.fromSnapshot()); err != nil {
		return err
	}
	if err := p.load(); err != nil {
		return err
	}
	p.logIndex.Store(p.applied)
	p.onApply()
	return nil
}

// Close releases the batch files; the Store outlives every state machine.
func (p *Partition) Close() error {
	p.stopWorker()
	p.files.close()
	return nil
}

var _ sm.IOnDiskStateMachine = (*Partition)(nil)

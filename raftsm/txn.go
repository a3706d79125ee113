package raftsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/chronik-go/chronik/core/batch"
)

// Transactions in a partition (KIP-98). A producer's transactional batches
// open a transaction at the first one's offset (producerState.txnFirst);
// the transaction coordinator ends it with a marker command, which appends
// a control batch (commit or abort) and, for an abort, records the
// transaction in the aborted index ('x', keyed by the marker's offset) that
// read_committed fetches return beside the records. The last stable offset
// is the first offset of the earliest open transaction (the high watermark
// when none is open): read_committed consumers read up to it.

// cmdTxnMarker is a partition command: end a producer's open transaction.
const cmdTxnMarker byte = 15

const (
	keyAborted   = 'x'
	keyAbortSpan = 'X'
	keyTxnEnd    = 'm'
)

// openTxn is a producer's open transaction in a partition.
type openTxn struct {
	first int64 // offset of its first batch; -1: none open
	epoch int16
}

// txnEnd is the Raft index and clock of the last marker applied for a
// producer (KIP-890 verification, txnVerified).
type txnEnd struct {
	index uint64
	clock int64
}

// attributesOffset is where a batch's attributes sit; transactional is bit 4.
const (
	attributesOffset  = 21
	attrTransactional = 0x10
)

// isTransactional reports whether a stored or proposed batch belongs to a
// transaction.
func isTransactional(data []byte) bool {
	return len(data) > attributesOffset+1 && binary.BigEndian.Uint16(data[attributesOffset:])&attrTransactional != 0
}

// TxnMarker ends a producer's open transaction in one partition.
type TxnMarker struct {
	ProducerID    int64
	ProducerEpoch int16
	Commit        bool
	// CoordinatorEpoch goes into the marker record, as Kafka's.
	CoordinatorEpoch int32
	LeaderEpoch      int32 // proposer's Raft term, as in AppendCommand
	Timestamp        int64 // proposer's wall clock (ms): the marker's timestamp
}

// EncodeTxnMarker encodes a marker command.
func EncodeTxnMarker(m TxnMarker) []byte {
	e := enc{b: make([]byte, 0, 32)}
	e.u8(commandVersion)
	e.u8(cmdTxnMarker)
	e.i64(m.ProducerID)
	e.i16(m.ProducerEpoch)
	if m.Commit {
		e.u8(1)
	} else {
		e.u8(0)
	}
	e.i32(m.CoordinatorEpoch)
	e.i32(m.LeaderEpoch)
	e.i64(m.Timestamp)
	return e.b
}

// applyTxnMarker ends the producer's open transaction: a control batch at
// the next offset, and for an abort an entry in the aborted index. A marker
// for a producer without an open transaction (a repeated marker, or a
// partition the transaction never wrote to) appends nothing; one with a
// newer epoch still fences the producer's older epoch. A marker older than
// the producer's epoch is stale and does nothing.
func (p *Partition) applyTxnMarker(b *pebble.Batch, d *dec) sm.Result {
	m := TxnMarker{ProducerID: d.i64(), ProducerEpoch: d.i16(), Commit: d.u8() == 1}
	m.CoordinatorEpoch, m.LeaderEpoch, m.Timestamp = d.i32(), d.i32(), d.i64()
	if d.err != nil || m.ProducerID < 0 || m.ProducerEpoch < 0 {
		return sm.Result{Data: statusData[StatusMalformed]}
	}
	p.clock = max(p.clock, m.Timestamp)
	st := p.producers[m.ProducerID]
	if st != nil && m.ProducerEpoch < st.epoch {
		return sm.Result{Value: uint64(p.next)}
	}
	p.putTxnEnd(b, m.ProducerID)
	if st == nil {
		return sm.Result{Value: uint64(p.next)}
	}
	if st.txnFirst < 0 {
		if m.ProducerEpoch > st.epoch {
			st.epoch, st.seqs = m.ProducerEpoch, nil
			p.putProducer(b, m.ProducerID, st)
		}
		return sm.Result{Value: uint64(p.next)}
	}
	buf := writeBufs.Get().(*[]byte)
	defer writeBufs.Put(buf)
	*buf = batch.AppendControl((*buf)[:0], m.ProducerID, m.ProducerEpoch, m.Commit, m.CoordinatorEpoch, m.Timestamp)
	c := &p.cmd
	c.LeaderEpoch, c.Timestamp = m.LeaderEpoch, m.Timestamp
	c.Batches = append(c.Batches[:0], AppendBatch{Data: *buf, Meta: BatchMeta{MaxTimestamp: m.Timestamp, ProducerID: -1, BaseSequence: -1}})
	off, _ := p.appendBatches(b, c, AppendOptions{}, nil)
	first := st.txnFirst
	st.txnFirst = -1
	p.setOpen(m.ProducerID, openTxn{first: -1})
	if m.ProducerEpoch > st.epoch {
		st.epoch, st.seqs = m.ProducerEpoch, nil
	}
	st.last = p.clock
	p.putProducer(b, m.ProducerID, st)
	if !m.Commit {
		p.putAborted(b, AbortedMarker{ProducerID: m.ProducerID, FirstOffset: first, MarkerOffset: off})
	}
	return sm.Result{Value: uint64(off)}
}

// publishStable publishes the last stable offset and the aborted span.
func (p *Partition) publishStable() {
	lso := p.next
	for _, t := range p.open {
		lso = min(lso, t.first)
	}
	p.lso.Store(lso)
	p.span.Store(p.abortSpan)
}

// LastStableOffset is the first offset of the earliest open transaction, or
// the high watermark when none is open: read_committed consumers read below
// it.
func (p *Partition) LastStableOffset() int64 {
	return max(min(p.lso.Load(), p.hw.Load()), p.start.Load())
}

// AbortedTxn is an aborted transaction of a partition: its producer and the
// offset of its first batch (Kafka's FetchResponse AbortedTransactions).
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64
}

// AbortedTxns returns the aborted transactions that overlap [from, to):
// those whose marker is at or after from and whose first offset is below
// to, ordered by their markers' offsets. It reads the applied state, so it
// may run concurrently with Update.
func (p *Partition) AbortedTxns(from, to int64) ([]AbortedTxn, error) {
	idx, err := p.abortedBetween(from, to)
	if err != nil || len(idx) == 0 {
		return nil, err
	}
	out := make([]AbortedTxn, len(idx))
	for i, a := range idx {
		out[i] = AbortedTxn{ProducerID: a.ProducerID, FirstOffset: a.FirstOffset}
	}
	return out, nil
}

// loadAbortSpan reads the longest aborted span (0 when none was recorded).
func (p *Partition) loadAbortSpan() (int64, error) {
	v, closer, err := p.store.db.Get(p.key(keyAbortSpan, 0))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, errShortCommand
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// dropAborted removes the aborted transactions whose markers fell below
// the log start.
func (p *Partition) dropAborted(b *pebble.Batch) {
	_ = b.DeleteRange(p.key(keyAborted, 0), binary.BigEndian.AppendUint64(p.key(keyAborted, 8), uint64(p.logStart)), nil)
}

// abortedRanges holds, per producer, the offset ranges of its aborted
// transactions: [first offset, marker offset).
type abortedRanges map[int64][][2]int64

// AbortedMarker is an entry of a partition's aborted index: an aborted
// transaction's producer, first offset and marker offset.
type AbortedMarker struct {
	ProducerID   int64
	FirstOffset  int64
	MarkerOffset int64
}

// AbortedMarkers returns the aborted transactions whose records overlap
// [from, to): marker at or after from, first offset below to, by marker
// offset (what a tiered segment of that range lists; from 0, what a backup
// keeps). It reads the applied state, so it may run concurrently with
// Update.
func (p *Partition) AbortedMarkers(from, to int64) ([]AbortedMarker, error) {
	return p.abortedBetween(from, to)
}

// abortedBetween returns the aborted transactions whose marker is at or
// after from and whose first offset is below to, by marker offset.
func (p *Partition) abortedBetween(from, to int64) ([]AbortedMarker, error) {
	if to <= from {
		return nil, nil
	}
	it, err := p.store.db.NewIter(&pebble.IterOptions{
		LowerBound: binary.BigEndian.AppendUint64(p.key(keyAborted, 8), uint64(max(from, 0))),
		// A transaction whose first offset is below to has its marker at
		// most the longest span after it.
		UpperBound: binary.BigEndian.AppendUint64(p.key(keyAborted, 8), uint64(to+p.span.Load()+1)),
	})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []AbortedMarker
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		d := dec{b: it.Value()}
		a := AbortedMarker{ProducerID: d.i64(), FirstOffset: d.i64()}
		if d.err != nil || len(k) < 8 {
			return nil, fmt.Errorf("raftsm: partition %d: corrupt aborted transaction", p.shardID)
		}
		if a.FirstOffset < to {
			a.MarkerOffset = int64(binary.BigEndian.Uint64(k[len(k)-8:]))
			out = append(out, a)
		}
	}
	return out, it.Error()
}

// abortedRanges returns the aborted transactions that began below end.
func (p *Partition) abortedRanges(end int64) (abortedRanges, error) {
	idx, err := p.AbortedMarkers(0, end)
	if err != nil {
		return nil, err
	}
	out := abortedRanges{}
	for _, a := range idx {
		out[a.ProducerID] = append(out[a.ProducerID], [2]int64{a.FirstOffset, a.MarkerOffset})
	}
	return out, nil
}

// putAborted records an aborted transaction in the index.
func (p *Partition) putAborted(b *pebble.Batch, a AbortedMarker) {
	e := enc{b: make([]byte, 0, 16)}
	e.i64(a.ProducerID)
	e.i64(a.FirstOffset)
	_ = b.Set(binary.BigEndian.AppendUint64(p.key(keyAborted, 8), uint64(a.MarkerOffset)), e.b, nil)
	if span := a.MarkerOffset - a.FirstOffset; span > p.abortSpan {
		p.abortSpan = span
		_ = b.Set(p.key(keyAbortSpan, 0), binary.BigEndian.AppendUint64(nil, uint64(span)), nil)
	}
}

// holds reports whether a batch belongs to an aborted transaction.
func (a abortedRanges) holds(h batch.Header) bool {
	if !h.IsTransactional() || h.IsControl() {
		return false
	}
	for _, r := range a[h.ProducerID] {
		if h.BaseOffset >= r[0] && h.BaseOffset < r[1] {
			return true
		}
	}
	return false
}

// setOpen records a producer's open transaction (t.first < 0: none). The
// Update goroutine reads p.open without the lock; TxnOpen takes it.
func (p *Partition) setOpen(pid int64, t openTxn) {
	p.mu.Lock()
	if t.first < 0 {
		delete(p.open, pid)
	} else {
		p.open[pid] = t
	}
	p.mu.Unlock()
}

// TxnOpen reports whether the producer has a transaction of this epoch
// open in the partition, as of at least AppliedLog's index. It may run
// concurrently with Update.
func (p *Partition) TxnOpen(pid int64, epoch int16) bool {
	p.mu.RLock()
	t, ok := p.open[pid]
	p.mu.RUnlock()
	return ok && t.epoch == epoch
}

// Verification of transactional appends (KIP-890 part 1). A leader asks
// the transaction coordinator whether the producer's transaction added the
// partition before it proposes a batch that opens the transaction here,
// and passes AppendOptions.TxnGuard: the applied Raft index it read before
// asking. The state machine refuses such a batch (StatusTxnNotVerified)
// when a marker for the producer was applied after that index: the
// transaction the coordinator vouched for has ended since, and the batch
// would open one that no coordinator will end (a hanging transaction) —
// or the leader had not applied that marker yet when it looked, which the
// producer's retry, verified again, tells apart. Kafka's leader keeps a
// verification guard in memory for the same race; here it must be decided
// by the replicated log.

// txnVerified reports whether c may be applied: true unless it carries a
// guard, its batches would open a transaction of their producer (st is the
// producer's unexpired state, nil if none), and a marker for the producer
// was applied after the guard.
func (p *Partition) txnVerified(c *AppendCommand, opts AppendOptions, st *producerState) bool {
	m := &c.Batches[0].Meta // every batch has its producer and epoch (checkSequence)
	if !opts.Guarded || !slices.ContainsFunc(c.Batches, func(b AppendBatch) bool { return isTransactional(b.Data) }) {
		return true
	}
	if st != nil && st.epoch == m.ProducerEpoch && st.txnFirst >= 0 {
		return true // continues the open transaction
	}
	return p.txnEnds[m.ProducerID].index <= opts.TxnGuard
}

// putTxnEnd records that a marker for the producer is being applied.
func (p *Partition) putTxnEnd(b *pebble.Batch, pid int64) {
	e := txnEnd{index: p.index, clock: p.clock}
	p.txnEnds[pid] = e
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 16), e.index)
	_ = b.Set(p.txnEndKey(pid), binary.BigEndian.AppendUint64(v, uint64(e.clock)), nil)
}

func (p *Partition) txnEndKey(pid int64) []byte {
	return binary.BigEndian.AppendUint64(p.key(keyTxnEnd, 8), uint64(pid))
}

// loadTxnEnds reads the producers' last markers.
func (p *Partition) loadTxnEnds() error {
	return p.scan(keyTxnEnd, func(k, v []byte) error {
		if len(k) != 8 || len(v) != 16 {
			return errShortCommand
		}
		p.txnEnds[int64(binary.BigEndian.Uint64(k))] = txnEnd{
			index: binary.BigEndian.Uint64(v), clock: int64(binary.BigEndian.Uint64(v[8:])),
		}
		return nil
	})
}

// sweepTxnEnds forgets the markers older than a producer's expiration: a
// guard is read moments before its append, so a marker that old is always
// below it.
func (p *Partition) sweepTxnEnds(b *pebble.Batch) {
	for pid, e := range p.txnEnds {
		if p.clock-e.clock > producerExpirationMs {
			delete(p.txnEnds, pid)
			_ = b.Delete(p.txnEndKey(pid), nil)
		}
	}
}

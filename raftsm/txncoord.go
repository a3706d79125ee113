package raftsm

import (
	"sort"

	"github.com/cockroachdb/pebble/v2"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Transactions on the coordinator shards (KIP-98). Transactional ID T lives
// on shard CoordinatorShardID(T, N), beside the groups hashed there. Two
// parts:
//
//   - The transaction coordinator's records: one TxnRecord per
//     transactional ID, replaced as a whole by a compare-and-set put
//     (cmdPutTxn) that applies only if the stored record still has the
//     version the proposer read. The proposer (core/txn) computes every
//     transition; the state machine only checks the version, so a stale
//     leader's transition fails with StatusTxnConflict instead of
//     overwriting its successor's.
//   - The group side: TxnOffsetCommit stores offsets pending per (group,
//     producer ID) (cmdTxnCommitOffsets); the transaction's marker for the
//     group (cmdEndTxnOffsets) moves them into the committed offsets on
//     commit or drops them on abort, and records the marker's epoch as the
//     (group, producer) fence: a later TxnOffsetCommit with a lower epoch
//     (a zombie fenced by an abort with a bumped epoch) is rejected with
//     StatusTxnFenced, as the producer-epoch check of Kafka's
//     __consumer_offsets partition would.
//
// Key schema, after the shard prefix (see coordinator.go):
//
//	'x' str(txnID)           → TxnRecord
//	'p' str(group) BE64(pid) → pending offsets of one producer in one group
//	'f' str(group) BE64(pid) → BE16(epoch of the last marker)
const (
	keyTxn           = 'x'
	keyPendingOffset = 'p'
	keyTxnFence      = 'f'
)

// Transaction coordinator commands (see command.go for the ranges).
const (
	cmdPutTxn           byte = 21 // compare-and-set a transactional ID's record
	cmdTxnCommitOffsets byte = 22 // store a transaction's pending offsets of one group
	cmdEndTxnOffsets    byte = 23 // commit or abort a producer's pending offsets of one group
	cmdExpireTxns       byte = 24 // delete idle transactional IDs' records
)

// Transaction statuses (coordinator range 32–63).
const (
	// StatusTxnConflict: the stored record is not the version the put
	// expected (another leader or request changed it).
	StatusTxnConflict Status = 35
	// StatusTxnFenced: a TxnOffsetCommit with an epoch below one already
	// seen for the producer in that group.
	StatusTxnFenced Status = 36
)

// TxnState is a transaction's state, named as Kafka names it in
// DescribeTransactions and ListTransactions.
type TxnState byte

// Transaction states. Values are stable (stored).
const (
	TxnEmpty TxnState = iota
	TxnOngoing
	TxnPrepareCommit
	TxnPrepareAbort
	TxnCompleteCommit
	TxnCompleteAbort
)

func (s TxnState) String() string {
	switch s {
	case TxnEmpty:
		return "Empty"
	case TxnOngoing:
		return "Ongoing"
	case TxnPrepareCommit:
		return "PrepareCommit"
	case TxnPrepareAbort:
		return "PrepareAbort"
	case TxnCompleteCommit:
		return "CompleteCommit"
	case TxnCompleteAbort:
		return "CompleteAbort"
	}
	return "Dead"
}

// TxnRecord is one transactional ID's durable state. A stored record is
// immutable: the state machine replaces it, never mutates it, and readers
// get it shared.
type TxnRecord struct {
	TransactionalID string
	ProducerID      int64
	ProducerEpoch   int16
	// LastProducerID and LastProducerEpoch (KIP-360) let a producer retry
	// an InitProducerId whose answer it lost: the ID and epoch it had
	// before the last bump or rotation, -1 when none applies.
	LastProducerID    int64
	LastProducerEpoch int16
	State             TxnState
	TimeoutMs         int32
	// Partitions (sorted) and Groups (sorted) are what the transaction
	// wrote to; cleared when it completes.
	Partitions []TopicPartition
	Groups     []string
	// StartMs is the proposer's clock at the transaction's first
	// AddPartitions or AddOffsets (-1 when none is open); UpdateMs at the
	// record's last change.
	StartMs  int64
	UpdateMs int64
	// Version counts the puts of this record; the state machine sets it
	// (the previous version + 1), whatever the proposer sent.
	Version uint64
	// EndedV2: the record's transaction ended as KIP-890 part 2 ends one
	// (EndTxn v5+): with an epoch bump. ProducerID and ProducerEpoch are
	// what the producer goes on with; LastProducerID and
	// LastProducerEpoch what it ended the transaction with, and the
	// markers carry LastProducerID at LastProducerEpoch+1 (TxnMarkerOf).
	// Stored only when true (a trailing flags byte), which releases
	// before LevelTxnV2 cannot read.
	EndedV2 bool
}

// MarkerProducer returns the producer ID and epoch a prepared record's
// markers carry: the bumped epoch of the producer that ended it.
func (r *TxnRecord) MarkerProducer() (int64, int16) {
	if r.EndedV2 {
		return r.LastProducerID, r.LastProducerEpoch + 1
	}
	return r.ProducerID, r.ProducerEpoch
}

// pendingTxnOffsets are one producer's uncommitted offsets in one group.
type pendingTxnOffsets struct {
	epoch   int16
	offsets map[TopicPartition]OffsetRecord
}

func (c *Coordinator) txnKey(txnID string) []byte {
	e := enc{b: make([]byte, 0, len(c.prefix)+2+len(txnID))}
	e.b = append(e.b, c.prefix...)
	e.u8(keyTxn)
	e.str(txnID)
	return e.b
}

func (c *Coordinator) producerKey(kind byte, group string, pid int64) []byte {
	e := enc{b: make([]byte, 0, len(c.prefix)+12+len(group))}
	e.b = append(e.b, c.prefix...)
	e.u8(kind)
	e.str(group)
	e.i64(pid)
	return e.b
}

// EncodePutTxn encodes a put of r that applies only if the stored record's
// version is expect (0: no record stored). The result's Value is the new
// version; StatusTxnConflict otherwise.
func EncodePutTxn(r *TxnRecord, expect uint64) []byte {
	rec := encodeTxnRecord(r)
	e := enc{b: make([]byte, 0, len(rec)+16)}
	e.u8(commandVersion)
	e.u8(cmdPutTxn)
	e.u64(expect)
	e.bytes(rec)
	return e.b
}

// EncodeTxnCommitOffsets encodes a TxnOffsetCommit: offsets of group held
// pending for producer pid until its transaction ends.
func EncodeTxnCommitOffsets(group string, pid int64, epoch int16, offsets []CommittedOffset) []byte {
	e := enc{b: EncodeCommitOffsets(group, offsets)}
	e.b[1] = cmdTxnCommitOffsets
	e.i64(pid)
	e.i16(epoch)
	return e.b
}

// EncodeEndTxnOffsets encodes a transaction marker for a group: the
// producer's pending offsets become committed (commit) or are dropped.
// Nothing pending is not an error; the result's Value is the number of
// offsets committed or dropped.
func EncodeEndTxnOffsets(group string, pid int64, epoch int16, commit bool) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdEndTxnOffsets)
	e.str(group)
	e.i64(pid)
	e.i16(epoch)
	if commit {
		e.u8(1)
	} else {
		e.u8(0)
	}
	return e.b
}

// TxnVersion names a transactional ID's record at one version.
type TxnVersion struct {
	TransactionalID string
	Version         uint64
}

// EncodeExpireTxns encodes the expiry of idle transactional IDs
// (transactional.id.expiration.ms): each record is deleted if it is still
// at the given version and no transaction is open or ending in it. The
// result's Value is the number deleted.
func EncodeExpireTxns(ids []TxnVersion) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdExpireTxns)
	e.uvarint(uint64(len(ids)))
	for _, id := range ids {
		e.str(id.TransactionalID)
		e.u64(id.Version)
	}
	return e.b
}

// Idle reports whether no transaction is open or ending in the record.
func (r *TxnRecord) Idle() bool {
	return r.State == TxnEmpty || r.State == TxnCompleteCommit || r.State == TxnCompleteAbort
}

// applyTxnLocked applies the transaction commands; ok is false for any
// other command type.
func (c *Coordinator) applyTxnLocked(b *pebble.Batch, typ byte, d *dec) (res sm.Result, ok bool) {
	malformed := sm.Result{Data: statusData[StatusMalformed]}
	switch typ {
	case cmdPutTxn:
		expect := d.u64()
		raw := d.bytes()
		if d.err != nil {
			return malformed, true
		}
		r, err := decodeTxnRecord(raw)
		if err != nil || r.TransactionalID == "" {
			return malformed, true
		}
		var have uint64
		if cur := c.mu.txns[r.TransactionalID]; cur != nil {
			have = cur.Version
		}
		if have != expect {
			return sm.Result{Data: statusData[StatusTxnConflict]}, true
		}
		r.Version = expect + 1
		c.mu.txns[r.TransactionalID] = r
		_ = b.Set(c.txnKey(r.TransactionalID), encodeTxnRecord(r), nil)
		return sm.Result{Value: r.Version}, true
	case cmdTxnCommitOffsets:
		g, offs, err := decodeCommitOffsets(d)
		pid, epoch := d.i64(), d.i16()
		if err != nil || d.err != nil || g == "" || len(offs) == 0 {
			return malformed, true
		}
		cg := c.groupLocked(g)
		p := cg.pending[pid]
		if f, ok := cg.fences[pid]; (ok && epoch < f) || (p != nil && epoch < p.epoch) {
			c.dropIfEmptyLocked(g)
			return sm.Result{Data: statusData[StatusTxnFenced]}, true
		}
		if p == nil {
			p = &pendingTxnOffsets{offsets: map[TopicPartition]OffsetRecord{}}
			if cg.pending == nil {
				cg.pending = map[int64]*pendingTxnOffsets{}
			}
			cg.pending[pid] = p
		}
		p.epoch = epoch
		for _, o := range offs {
			p.offsets[o.TopicPartition] = o.OffsetRecord
		}
		_ = b.Set(c.producerKey(keyPendingOffset, g, pid), encodePending(p), nil)
		return sm.Result{Value: uint64(len(offs))}, true
	case cmdEndTxnOffsets:
		g, pid, epoch, commit := d.str(), d.i64(), d.i16(), d.u8()
		if d.err != nil || g == "" || commit > 1 {
			return malformed, true
		}
		cg := c.groupLocked(g)
		if f, ok := cg.fences[pid]; !ok || epoch > f {
			if cg.fences == nil {
				cg.fences = map[int64]int16{}
			}
			cg.fences[pid] = epoch
			_ = b.Set(c.producerKey(keyTxnFence, g, pid), be16(epoch), nil)
		}
		p := cg.pending[pid]
		if p == nil {
			return sm.Result{}, true
		}
		delete(cg.pending, pid)
		_ = b.Delete(c.producerKey(keyPendingOffset, g, pid), nil)
		if commit == 1 {
			for tp, o := range p.offsets {
				cg.offsets[tp] = o
				_ = b.Set(c.offsetKey(g, tp), encodeOffsetRecord(o), nil)
			}
		}
		return sm.Result{Value: uint64(len(p.offsets))}, true
	case cmdExpireTxns:
		n := d.uvarint()
		if d.err != nil || n > uint64(len(d.b)) {
			return malformed, true
		}
		ids := make([]TxnVersion, 0, n)
		for range n {
			ids = append(ids, TxnVersion{TransactionalID: d.str(), Version: d.u64()})
		}
		if d.err != nil || len(d.b) != 0 {
			return malformed, true
		}
		deleted := 0
		for _, id := range ids {
			if cur := c.mu.txns[id.TransactionalID]; cur != nil && cur.Version == id.Version && cur.Idle() {
				delete(c.mu.txns, id.TransactionalID)
				_ = b.Delete(c.txnKey(id.TransactionalID), nil)
				deleted++
			}
		}
		return sm.Result{Value: uint64(deleted)}, true
	}
	return sm.Result{}, false
}

func be16(v int16) []byte { return []byte{byte(uint16(v) >> 8), byte(v)} }

// deleteTxnStateLocked removes a group's pending offsets and fences.
func (c *Coordinator) deleteTxnStateLocked(b *pebble.Batch, g string, cg *coordGroup) {
	for pid := range cg.pending {
		_ = b.Delete(c.producerKey(keyPendingOffset, g, pid), nil)
	}
	for pid := range cg.fences {
		_ = b.Delete(c.producerKey(keyTxnFence, g, pid), nil)
	}
}

// loadTxns fills the transaction state from Pebble into the maps
// under construction by load.
func (c *Coordinator) loadTxns(txns map[string]*TxnRecord, get func(string) *coordGroup) error {
	err := c.scan(keyTxn, func(_, v []byte) error {
		r, err := decodeTxnRecord(v)
		if err != nil {
			return err
		}
		txns[r.TransactionalID] = r
		return nil
	})
	if err != nil {
		return err
	}
	err = c.scan(keyPendingOffset, func(k, v []byte) error {
		d := dec{b: k}
		g, pid := d.str(), d.i64()
		if d.err != nil {
			return d.err
		}
		p, err := decodePending(v)
		if err != nil {
			return err
		}
		cg := get(g)
		if cg.pending == nil {
			cg.pending = map[int64]*pendingTxnOffsets{}
		}
		cg.pending[pid] = p
		return nil
	})
	if err != nil {
		return err
	}
	return c.scan(keyTxnFence, func(k, v []byte) error {
		d := dec{b: k}
		g, pid := d.str(), d.i64()
		dv := dec{b: v}
		epoch := dv.i16()
		if d.err != nil || dv.err != nil {
			return errSnapshotFormat
		}
		cg := get(g)
		if cg.fences == nil {
			cg.fences = map[int64]int16{}
		}
		cg.fences[pid] = epoch
		return nil
	})
}

func encodePending(p *pendingTxnOffsets) []byte {
	tps := make([]TopicPartition, 0, len(p.offsets))
	for tp := range p.offsets {
		tps = append(tps, tp)
	}
	sortTopicPartitions(tps)
	e := enc{}
	e.u8(recordVersion)
	e.i16(p.epoch)
	e.uvarint(uint64(len(tps)))
	for _, tp := range tps {
		e.str(tp.Topic)
		e.i32(tp.Partition)
		e.bytes(encodeOffsetRecord(p.offsets[tp]))
	}
	return e.b
}

func decodePending(v []byte) (*pendingTxnOffsets, error) {
	d := dec{b: v}
	if d.u8() != recordVersion {
		return nil, errSnapshotFormat
	}
	p := &pendingTxnOffsets{epoch: d.i16(), offsets: map[TopicPartition]OffsetRecord{}}
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		return nil, errShortCommand
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		tp := TopicPartition{Topic: d.str(), Partition: d.i32()}
		raw := d.bytes()
		if d.err != nil {
			break
		}
		o, err := decodeOffsetRecord(raw)
		if err != nil {
			return nil, err
		}
		p.offsets[tp] = o
	}
	return p, d.err
}

func sortTopicPartitions(tps []TopicPartition) {
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
}

func encodeTxnRecord(r *TxnRecord) []byte {
	e := enc{b: make([]byte, 0, 64+len(r.TransactionalID)+16*len(r.Partitions))}
	e.u8(recordVersion)
	e.str(r.TransactionalID)
	e.i64(r.ProducerID)
	e.i16(r.ProducerEpoch)
	e.i64(r.LastProducerID)
	e.i16(r.LastProducerEpoch)
	e.u8(byte(r.State))
	e.i32(r.TimeoutMs)
	e.uvarint(uint64(len(r.Partitions)))
	for _, tp := range r.Partitions {
		e.str(tp.Topic)
		e.i32(tp.Partition)
	}
	e.uvarint(uint64(len(r.Groups)))
	for _, g := range r.Groups {
		e.str(g)
	}
	e.i64(r.StartMs)
	e.i64(r.UpdateMs)
	e.u64(r.Version)
	if r.EndedV2 {
		e.u8(txnFlagEndedV2)
	}
	return e.b
}

// txnFlagEndedV2 is TxnRecord.EndedV2 in the record's trailing flags byte
// (absent: no flag set).
const txnFlagEndedV2 = 1

func decodeTxnRecord(v []byte) (*TxnRecord, error) {
	d := dec{b: v}
	if d.u8() != recordVersion {
		return nil, errSnapshotFormat
	}
	r := &TxnRecord{
		TransactionalID: d.str(), ProducerID: d.i64(), ProducerEpoch: d.i16(),
		LastProducerID: d.i64(), LastProducerEpoch: d.i16(), State: TxnState(d.u8()), TimeoutMs: d.i32(),
	}
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		return nil, errShortCommand
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		r.Partitions = append(r.Partitions, TopicPartition{Topic: d.str(), Partition: d.i32()})
	}
	n = d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		return nil, errShortCommand
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		r.Groups = append(r.Groups, d.str())
	}
	r.StartMs, r.UpdateMs, r.Version = d.i64(), d.i64(), d.u64()
	if d.err == nil && len(d.b) > 0 {
		flags := d.u8()
		r.EndedV2 = flags&txnFlagEndedV2 != 0
		if flags&^txnFlagEndedV2 != 0 || !r.EndedV2 {
			return nil, errShortCommand
		}
	}
	if d.err == nil && (len(d.b) != 0 || r.State > TxnCompleteAbort) {
		return nil, errShortCommand
	}
	return r, d.err
}

// Txn returns the stored record of a transactional ID. The record is
// shared and must not be modified.
func (c *Coordinator) Txn(txnID string) (*TxnRecord, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r := c.mu.txns[txnID]
	return r, r != nil
}

// Txns returns every stored transaction record, sorted by transactional
// ID. The records are shared and must not be modified.
func (c *Coordinator) Txns() []*TxnRecord {
	c.mu.RLock()
	out := make([]*TxnRecord, 0, len(c.mu.txns))
	for _, r := range c.mu.txns {
		out = append(out, r)
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].TransactionalID < out[j].TransactionalID })
	return out
}

// HasPendingOffset reports whether some producer has a transactional
// offset of the partition pending in the group (OffsetFetch's
// RequireStable).
func (c *Coordinator) HasPendingOffset(group string, tp TopicPartition) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	cg := c.mu.groups[group]
	if cg == nil {
		return false
	}
	for _, p := range cg.pending {
		if _, ok := p.offsets[tp]; ok {
			return true
		}
	}
	return false
}

// PendingOffsets returns a copy of a producer's pending offsets in a
// group, nil when it has none.
func (c *Coordinator) PendingOffsets(group string, pid int64) map[TopicPartition]OffsetRecord {
	c.mu.RLock()
	defer c.mu.RUnlock()
	cg := c.mu.groups[group]
	if cg == nil || cg.pending[pid] == nil {
		return nil
	}
	out := map[TopicPartition]OffsetRecord{}
	for tp, o := range cg.pending[pid].offsets {
		out[tp] = o
	}
	return out
}

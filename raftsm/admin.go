package raftsm

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"maps"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Admin commands: topic config changes and partition growth on the meta
// shard, record deletion and appends with per-topic options on partition
// shards. Type bytes 5–15 and statuses 16–31 (command.go has the ranges).
const (
	cmdAlterTopicConfigs byte = 5 // meta: replace a topic's configs
	cmdCreatePartitions  byte = 6 // meta: add partitions to a topic
	cmdDeleteRecords     byte = 7 // partition: advance the log start offset
	// cmdAppendOpts is cmdAppend followed by one flags byte. Appends to
	// topics with default settings keep using cmdAppend, so their log
	// entries are the same as before the options existed.
	cmdAppendOpts byte = 8
)

// Statuses of admin commands.
const (
	// StatusConflict: the topic changed between the proposer reading it and
	// the command applying (a concurrent alter or partition increase); the
	// proposer re-reads and retries.
	StatusConflict Status = 16
	// StatusOffsetOutOfRange: DeleteRecords beyond the high watermark.
	StatusOffsetOutOfRange Status = 17
)

func adminStatusName(s Status) string {
	switch s {
	case StatusConflict:
		return "topic changed concurrently"
	case StatusOffsetOutOfRange:
		return "offset out of range"
	case StatusBrokerRemoved:
		return "broker was decommissioned"
	case StatusUnknownBroker:
		return "unknown or decommissioned broker"
	case StatusNotEmpty:
		return "target not empty"
	case StatusUnknownScram:
		return "no such SCRAM credential"
	case StatusUnknownToken:
		return "no such delegation token"
	case StatusDuplicateToken:
		return "delegation token ID in use"
	case StatusGroupNotFound:
		return "group not found"
	case StatusNonEmptyGroup:
		return "group has members"
	case StatusStaleGeneration:
		return "stale group generation"
	case StatusTxnConflict:
		return "transaction record changed concurrently"
	case StatusTxnFenced:
		return "producer epoch fenced"
	}
	return ""
}

// Append option flags (the byte after a cmdAppendOpts body).
const (
	appendFlagLogAppendTime byte = 1
	// appendFlagTxnGuard: the flags byte is followed by the guard (BE64).
	// Proposed only once every broker runs LevelTxnVerification.
	appendFlagTxnGuard byte = 2
)

// AppendOptions are per-topic settings the proposer passes with an append.
type AppendOptions struct {
	// LogAppendTime makes the state machine stamp every batch with the
	// command's Timestamp (message.timestamp.type=LogAppendTime).
	LogAppendTime bool
	// Guarded says the transaction coordinator verified that the
	// producer's transaction includes the partition, asked after the
	// leader had applied index TxnGuard: batches that would open the
	// transaction are refused if a marker for the producer was applied
	// after it (txn.go, txnVerified).
	Guarded  bool
	TxnGuard uint64
}

func (o AppendOptions) flags() byte {
	var f byte
	if o.LogAppendTime {
		f |= appendFlagLogAppendTime
	}
	if o.Guarded {
		f |= appendFlagTxnGuard
	}
	return f
}

// AppendOptionsSize bounds what options add to AppendSize.
const AppendOptionsSize = 1 + 8

// EncodeAppendOptions encodes c with options o. With default options it is
// EncodeAppend; otherwise the command type is cmdAppendOpts and the flags
// byte (and the guard, if any) follow the body, so no batch bytes are
// moved.
func EncodeAppendOptions(dst []byte, c *AppendCommand, o AppendOptions) []byte {
	b := EncodeAppend(dst, c)
	if f := o.flags(); f != 0 {
		b[1] = cmdAppendOpts
		b = append(b, f)
		if o.Guarded {
			b = binary.BigEndian.AppendUint64(b, o.TxnGuard)
		}
	}
	return b
}

func decodeAppendOptions(d *dec) AppendOptions {
	f := d.u8()
	o := AppendOptions{LogAppendTime: f&appendFlagLogAppendTime != 0, Guarded: f&appendFlagTxnGuard != 0}
	if o.Guarded {
		o.TxnGuard = d.u64()
	}
	return o
}

// Offsets in a RecordBatch v2 header that LogAppendTime rewrites. Unlike
// baseOffset and partitionLeaderEpoch these are covered by the CRC.
const (
	offCRC          = 17
	offAttributes   = 21 // first byte the CRC covers
	offMaxTimestamp = 35
	attrLogAppend   = 0x08
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// stampLogAppendTime sets a stored batch's timestamp type to LogAppendTime
// and its maxTimestamp to ts, as Kafka does (firstTimestamp and the records
// are left alone: consumers take every record's timestamp from
// maxTimestamp), then recomputes the CRC. It is deterministic: ts comes
// from the command.
func stampLogAppendTime(v []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(v[offAttributes:])
	binary.BigEndian.PutUint16(v[offAttributes:], attrs|attrLogAppend)
	binary.BigEndian.PutUint64(v[offMaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint32(v[offCRC:], crc32.Checksum(v[offAttributes:], castagnoli))
}

// EncodeDeleteRecords encodes a proposal that advances a partition's log
// start offset to offset (-1: the high watermark at apply time). The result's
// Value is the new log start offset.
func EncodeDeleteRecords(offset int64) []byte {
	e := enc{b: make([]byte, 0, 10)}
	e.u8(commandVersion)
	e.u8(cmdDeleteRecords)
	e.i64(offset)
	return e.b
}

// positionStep is the spacing of the sparse byte-position index: one 's'
// entry for each batch that crosses a multiple of it. Finding the byte
// position of any batch then reads at most about positionStep bytes.
const positionStep = 1 << 20

func (p *Partition) positionKey(off int64) []byte {
	return binary.BigEndian.AppendUint64(p.key(keyPosition, 8), uint64(off))
}

// recordPosition advances the byte counter past a batch of n bytes at
// offset off, indexing the batch's starting position when it crosses a
// positionStep boundary.
func (p *Partition) recordPosition(b *pebble.Batch, off int64, n int) {
	before := p.bytes
	p.bytes += int64(n)
	if before/positionStep != p.bytes/positionStep {
		_ = b.Set(p.positionKey(off), binary.BigEndian.AppendUint64(nil, uint64(before)), nil)
	}
}

// applyDeleteRecords advances the log start offset. b is an indexed batch
// (Update makes it one when the entries hold a DeleteRecords), so the reads
// see batches appended earlier in the same Update.
//
// Every batch wholly below the new log start is removed with one range
// deletion; the batch containing it stays (its lower offsets are no longer
// readable). Time-index entries that point below the log start are left:
// lookups clamp to the first remaining batch.
func (p *Partition) applyDeleteRecords(b *pebble.Batch, d *dec) sm.Result {
	x := d.i64()
	if d.err != nil || len(d.b) != 0 || x < -1 {
		return sm.Result{Data: statusData[StatusMalformed]}
	}
	if x == -1 {
		x = p.next
	}
	if x > p.next {
		return sm.Result{Data: statusData[StatusOffsetOutOfRange]}
	}
	if err := p.advance(b, x, x); err != nil {
		return sm.Result{Data: statusData[StatusMalformed]}
	}
	return sm.Result{Value: uint64(p.logStart)}
}

// batchContaining returns the base offset of the stored batch that holds
// offset x, or x itself when x starts the next batch (x is a batch boundary
// or the end of the log).
func (p *Partition) batchContaining(r pebble.Reader, x int64) (int64, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: p.batchKey(0), UpperBound: p.batchKey(x + 1)})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Last() {
		return x, it.Error()
	}
	base, last, _, err := p.batchInfo(it.Key(), it.Value())
	if err != nil {
		return 0, err
	}
	if last >= x {
		return base, nil
	}
	return x, nil
}

// positionOf returns the byte position (bytes appended before it) of the
// batch at base offset off, which must be a batch boundary at or above the
// first stored batch: from the nearest position-index entry at or below it,
// or else from the first stored batch, it adds the sizes of the batches in
// between.
func (p *Partition) positionOf(r pebble.Reader, off int64) (int64, error) {
	from, pos := int64(0), p.startPos
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: p.positionKey(0), UpperBound: p.positionKey(off + 1)})
	if err != nil {
		return 0, err
	}
	if it.Last() {
		if len(it.Value()) != 8 {
			it.Close()
			return 0, errShortCommand
		}
		from = int64(binary.BigEndian.Uint64(it.Key()[len(p.prefix)+1:]))
		pos = int64(binary.BigEndian.Uint64(it.Value()))
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return 0, err
	}
	bi, err := r.NewIter(&pebble.IterOptions{LowerBound: p.batchKey(from), UpperBound: p.batchKey(off)})
	if err != nil {
		return 0, err
	}
	for ok := bi.First(); ok; ok = bi.Next() {
		_, _, size, err := p.batchInfo(bi.Key(), bi.Value())
		if err != nil {
			return 0, errors.Join(err, bi.Close())
		}
		pos += int64(size)
	}
	return pos, errors.Join(bi.Error(), bi.Close())
}

// SizeBytes is the size of the batches stored locally (from the log start's
// batch to the high watermark), maintained by the state machine.
func (p *Partition) SizeBytes() int64 { return p.size.Load() }

// MaxTimestampBatch returns a copy of the committed batch holding the
// largest timestamp at or above the log start (the first such batch), or
// nil when the log is empty. The time index's last entry names it; when
// DeleteRecords removed that batch, the remaining batches are scanned.
func (p *Partition) MaxTimestampBatch() ([]byte, error) {
	hw := p.hw.Load()
	if hw <= p.start.Load() {
		return nil, nil
	}
	it, err := p.store.db.NewIter(&pebble.IterOptions{LowerBound: p.key(keyTime, 0), UpperBound: p.key(keyTime+1, 0)})
	if err != nil {
		return nil, err
	}
	base := int64(-1)
	if it.Last() && len(it.Value()) == 8 {
		base = int64(binary.BigEndian.Uint64(it.Value()))
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, err
	}
	if base >= 0 && base < hw {
		files := p.files.acquire() // before the read: see batchfiles.go
		v, closer, err := p.store.db.Get(p.batchKey(base))
		if err == nil {
			out, err := appendBatch(files, nil, v)
			releaseAll(files)
			return out, errors.Join(err, closer.Close())
		}
		releaseAll(files)
		if !errors.Is(err, pebble.ErrNotFound) {
			return nil, err
		}
	}
	return p.scanMaxTimestamp(hw)
}

// scanMaxTimestamp reads every stored batch below hw and returns a copy of
// the first with the largest max timestamp.
func (p *Partition) scanMaxTimestamp(hw int64) ([]byte, error) {
	var best []byte
	bestTS := int64(0)
	err := p.eachBatch(0, hw, func(v []byte) bool {
		if len(v) < batchHeaderSize {
			return true
		}
		if ts := int64(binary.BigEndian.Uint64(v[offMaxTimestamp:])); best == nil || ts > bestTS {
			best, bestTS = append(best[:0], v...), ts
		}
		return true
	})
	return best, err
}

// CreatePartitionsCommand adds partitions to a topic. From is the partition
// count the proposer saw; the command fails with StatusConflict if the
// topic has a different count when it applies.
type CreatePartitionsCommand struct {
	Name  string
	ID    [16]byte
	From  int32
	Nodes [][]int32 // per new partition, preferred leader first
}

// AlterTopicConfigsCommand replaces a topic's explicitly set configs. The
// proposer computes the full new map (replace or incremental) from Expect,
// the configs it read; the command fails with StatusConflict when the
// topic's configs are no longer Expect.
type AlterTopicConfigsCommand struct {
	Name    string
	ID      [16]byte
	Expect  map[string]string
	Configs map[string]string
}

// EncodeCreatePartitions encodes a create-partitions proposal.
func EncodeCreatePartitions(c *CreatePartitionsCommand) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdCreatePartitions)
	e.str(c.Name)
	e.b = append(e.b, c.ID[:]...)
	e.i32(c.From)
	encodeNodes(&e, c.Nodes)
	return e.b
}

// EncodeAlterTopicConfigs encodes an alter-configs proposal.
func EncodeAlterTopicConfigs(c *AlterTopicConfigsCommand) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdAlterTopicConfigs)
	e.str(c.Name)
	e.b = append(e.b, c.ID[:]...)
	encodeConfigs(&e, c.Expect)
	encodeConfigs(&e, c.Configs)
	return e.b
}

func encodeNodes(e *enc, nodes [][]int32) {
	e.uvarint(uint64(len(nodes)))
	for _, ns := range nodes {
		e.uvarint(uint64(len(ns)))
		for _, n := range ns {
			e.i32(n)
		}
	}
}

func decodeNodes(d *dec) [][]int32 {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = errShortCommand
	}
	var out [][]int32
	for i := uint64(0); i < n && d.err == nil; i++ {
		r := d.uvarint()
		if d.err == nil && (r == 0 || r > uint64(len(d.b))) {
			d.err = errShortCommand
			break
		}
		nodes := make([]int32, 0, r)
		for j := uint64(0); j < r; j++ {
			nodes = append(nodes, d.i32())
		}
		out = append(out, nodes)
	}
	return out
}

func decodeID(d *dec) (id [16]byte) {
	if d.need(16) {
		copy(id[:], d.b[:16])
		d.b = d.b[16:]
	}
	return id
}

// topicFor returns the committed topic a command names, or a rejection.
func (m *Meta) topicFor(name string, id [16]byte) (*TopicRecord, Status) {
	t, ok := m.topics[name]
	if !ok || t.ID != id {
		return nil, StatusUnknownTopic
	}
	return t, StatusOK
}

// replaceTopic stores t in place of the record of the same name. Records
// are copied on write: published views share the old ones.
func (m *Meta) replaceTopic(b *pebble.Batch, t *TopicRecord) {
	m.topics[t.Name] = t
	_ = b.Set(m.key(keyTopic, t.Name), encodeTopic(t), nil)
}

func (m *Meta) applyCreatePartitions(b *pebble.Batch, d *dec) (sm.Result, bool) {
	c := CreatePartitionsCommand{Name: d.str(), ID: decodeID(d), From: d.i32()}
	c.Nodes = decodeNodes(d)
	if d.err != nil || c.Name == "" || len(c.Nodes) == 0 {
		return sm.Result{Data: statusData[StatusMalformed]}, false
	}
	old, st := m.topicFor(c.Name, c.ID)
	if st != StatusOK {
		return sm.Result{Data: statusData[st]}, false
	}
	if len(old.Partitions) != int(c.From) {
		return sm.Result{Data: statusData[StatusConflict]}, false
	}
	t := *old
	t.Partitions = slices.Clip(slices.Clone(old.Partitions))
	for _, nodes := range c.Nodes {
		pr := PartitionRecord{ShardID: m.nextShard, Nodes: nodes}
		m.nextShard++
		for range nodes {
			pr.Replicas = append(pr.Replicas, m.nextReplica)
			m.nextReplica++
		}
		t.Partitions = append(t.Partitions, pr)
	}
	m.replaceTopic(b, &t)
	return sm.Result{}, true
}

func (m *Meta) applyAlterTopicConfigs(b *pebble.Batch, d *dec) (sm.Result, bool) {
	name, id := d.str(), decodeID(d)
	expect := decodeConfigs(d)
	configs := decodeConfigs(d)
	if d.err != nil || name == "" {
		return sm.Result{Data: statusData[StatusMalformed]}, false
	}
	old, st := m.topicFor(name, id)
	if st != StatusOK {
		return sm.Result{Data: statusData[st]}, false
	}
	if !maps.Equal(old.Configs, expect) {
		return sm.Result{Data: statusData[StatusConflict]}, false
	}
	t := *old
	t.Configs = configs
	m.replaceTopic(b, &t)
	return sm.Result{}, true
}

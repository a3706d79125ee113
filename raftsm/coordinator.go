package raftsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Coordinator shards (ARCHITECTURE.md §2) hold consumer-group metadata,
// committed offsets and transaction state (txncoord.go). Shard IDs run from FirstCoordinatorShardID to
// FirstCoordinatorShardID+N-1, N being the configured coordinator-shards.
const (
	FirstCoordinatorShardID uint64 = 2
	// MaxCoordinatorShards keeps coordinator shard IDs below the first
	// partition shard ID.
	MaxCoordinatorShards = int(FirstPartitionShardID - FirstCoordinatorShardID)
)

// CoordinatorShardID returns the coordinator shard of a group among n
// shards: FirstCoordinatorShardID + FNV-1a-32(group bytes) mod n.
//
// The function is part of the on-disk format: a group's offsets live on the
// shard it names, so neither the hash nor n may ever change for a cluster.
func CoordinatorShardID(group string, n int) uint64 {
	if n <= 0 {
		n = 1
	}
	const (
		offset32 = 2166136261
		prime32  = 16777619
	)
	h := uint32(offset32)
	for i := 0; i < len(group); i++ {
		h ^= uint32(group[i])
		h *= prime32
	}
	return FirstCoordinatorShardID + uint64(h%uint32(n))
}

// Coordinator command types (16–31, see command.go). Values are stable.
const (
	cmdCommitOffsets byte = 16 // store committed offsets of one group
	cmdStoreGroup    byte = 17 // store a group's metadata after a generation completes
	cmdDeleteGroup   byte = 18 // delete a group's metadata and offsets
	cmdDeleteOffsets byte = 19 // delete some offsets of one group
	cmdExpireOffsets byte = 20 // expire offsets per offsets.retention.minutes
)

// Coordinator statuses (32–63, see command.go). Values are stable.
const (
	// StatusGroupNotFound: the group has neither metadata nor offsets.
	StatusGroupNotFound Status = 32
	// StatusNonEmptyGroup: the group still has members.
	StatusNonEmptyGroup Status = 33
	// StatusStaleGeneration: the stored group metadata has a newer generation.
	StatusStaleGeneration Status = 34
)

// Coordinator key schema, after the 8-byte shard prefix (str = uvarint
// length + bytes, so a group's encoding is never a prefix of another's):
//
//	'a'                                  → applied index
//	'g' str(group)                       → GroupRecord
//	'o' str(group) str(topic) BE32(part) → OffsetRecord
//	'x', 'p', 'f'                        → transactions (txncoord.go)
const (
	keyGroup  = 'g'
	keyOffset = 'o'
)

// recordVersion is the first byte of every stored group and offset value.
const recordVersion = 1

// TopicPartition names one partition of one topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// OffsetRecord is one committed offset.
type OffsetRecord struct {
	Offset      int64
	LeaderEpoch int32 // -1 when the client sent none
	Metadata    string
	// CommitTimestamp is the proposer's wall clock (ms) at commit.
	CommitTimestamp int64
	// ExpireTimestamp (ms) is set only by OffsetCommit v2–v4 with an
	// explicit retention time; -1 means offsets.retention.minutes applies.
	ExpireTimestamp int64
}

// CommittedOffset is one entry of a commit command.
type CommittedOffset struct {
	TopicPartition
	OffsetRecord
}

// GroupRecord is a group's durable metadata, written when a generation
// completes (or the group becomes empty), so a restarted or new coordinator
// keeps generations, leaders and assignments. A record is immutable once
// stored: the state machine replaces it, never mutates it.
type GroupRecord struct {
	Group        string
	ProtocolType string
	Protocol     string // the selected protocol, empty while the group is empty
	Generation   int32
	Leader       string
	// Timestamp is the proposer's wall clock (ms) when the record was
	// written; for an empty group it is when the group became empty, the
	// base of offset expiry.
	Timestamp int64
	Members   []GroupMemberRecord
	// Consumer is set for a KIP-848 consumer group, nil for a classic
	// group.
	Consumer *ConsumerGroup
}

// GroupMemberRecord is one member of a stored generation.
type GroupMemberRecord struct {
	MemberID           string
	InstanceID         string // group.instance.id, empty for dynamic members
	ClientID           string
	ClientHost         string
	SessionTimeoutMs   int32
	RebalanceTimeoutMs int32
	Metadata           []byte // protocol metadata of the selected protocol
	Assignment         []byte
	// Consumer is the member's state in a consumer group (set exactly
	// when the record's Consumer is).
	Consumer *ConsumerMember
}

// coordGroup is the in-memory mirror of one group's durable state.
type coordGroup struct {
	rec     *GroupRecord // nil when the group only has offsets
	offsets map[TopicPartition]OffsetRecord
	// pending and fences are the group side of transactions
	// (txncoord.go), by producer ID; nil when empty.
	pending map[int64]*pendingTxnOffsets
	fences  map[int64]int16
}

// Coordinator is the state machine of one coordinator shard. It keeps the
// whole shard in memory (as Kafka's group metadata cache does) and writes
// every change to the shared Pebble in the same batch as the applied index.
//
// Update, Open, Sync, PrepareSnapshot, SaveSnapshot's preparation and
// RecoverFromSnapshot are serialised by Dragonboat. The read methods (Group,
// Offsets, Offset, GroupIDs, HasGroup, HasOffsets) may be called from any
// goroutine at any time; they see applied state only.
type Coordinator struct {
	store   *Store
	shardID uint64
	prefix  []byte

	applied uint64 // owned by the Update goroutine
	// published is applied for other goroutines (backup's log-growth
	// trigger).
	published atomic.Uint64

	mu struct {
		sync.RWMutex
		groups map[string]*coordGroup
		txns   map[string]*TxnRecord // by transactional ID (txncoord.go)
	}
}

// NewCoordinator returns the state machine of a coordinator shard.
func NewCoordinator(store *Store, shardID uint64) *Coordinator {
	c := &Coordinator{store: store, shardID: shardID, prefix: shardPrefix(shardID)}
	c.mu.groups = map[string]*coordGroup{}
	c.mu.txns = map[string]*TxnRecord{}
	return c
}

// AppliedIndex is the Raft index of the last applied entry; any goroutine
// may call it.
func (c *Coordinator) AppliedIndex() uint64 { return c.published.Load() }

// ShardID is the Raft shard this state machine belongs to.
func (c *Coordinator) ShardID() uint64 { return c.shardID }

// key returns a fresh key of one kind with no suffix.
func (c *Coordinator) key(kind byte) []byte {
	k := make([]byte, 0, len(c.prefix)+1)
	k = append(k, c.prefix...)
	return append(k, kind)
}

func (c *Coordinator) groupKey(group string) []byte {
	e := enc{b: make([]byte, 0, len(c.prefix)+2+len(group))}
	e.b = append(e.b, c.prefix...)
	e.u8(keyGroup)
	e.str(group)
	return e.b
}

func (c *Coordinator) offsetKey(group string, tp TopicPartition) []byte {
	e := enc{b: make([]byte, 0, len(c.prefix)+8+len(group)+len(tp.Topic))}
	e.b = append(e.b, c.prefix...)
	e.u8(keyOffset)
	e.str(group)
	e.str(tp.Topic)
	e.i32(tp.Partition)
	return e.b
}

// Open loads the shard and returns its applied index.
func (c *Coordinator) Open(<-chan struct{}) (uint64, error) {
	if err := c.load(); err != nil {
		return 0, err
	}
	return c.applied, nil
}

func (c *Coordinator) load() error {
	groups := map[string]*coordGroup{}
	c.applied = 0
	v, closer, err := c.store.db.Get(c.key(keyState))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return fmt.Errorf("raftsm: coordinator %d: read state: %w", c.shardID, err)
	default:
		d := dec{b: v}
		c.applied = d.u64()
		err = d.err
		closer.Close()
		if err != nil {
			return fmt.Errorf("raftsm: coordinator %d: corrupt state key: %w", c.shardID, err)
		}
	}
	get := func(g string) *coordGroup {
		cg := groups[g]
		if cg == nil {
			cg = &coordGroup{offsets: map[TopicPartition]OffsetRecord{}}
			groups[g] = cg
		}
		return cg
	}
	err = c.scan(keyGroup, func(_, v []byte) error {
		rec, err := decodeGroupRecord(v)
		if err != nil {
			return err
		}
		get(rec.Group).rec = rec
		return nil
	})
	if err == nil {
		err = c.scan(keyOffset, func(k, v []byte) error {
			d := dec{b: k}
			g, tp := d.str(), TopicPartition{Topic: d.str(), Partition: d.i32()}
			if d.err != nil {
				return d.err
			}
			rec, err := decodeOffsetRecord(v)
			if err != nil {
				return err
			}
			get(g).offsets[tp] = rec
			return nil
		})
	}
	txns := map[string]*TxnRecord{}
	if err == nil {
		err = c.loadTxns(txns, get)
	}
	if err != nil {
		return fmt.Errorf("raftsm: coordinator %d: load: %w", c.shardID, err)
	}
	c.mu.Lock()
	c.mu.groups, c.mu.txns = groups, txns
	c.mu.Unlock()
	c.published.Store(c.applied)
	return nil
}

// scan calls fn for every key of one kind with the shard prefix and kind
// byte stripped.
func (c *Coordinator) scan(kind byte, fn func(k, v []byte) error) error {
	return c.store.scanKind(c.prefix, kind, fn)
}

// Update applies committed coordinator commands. Rejections are results;
// only a Pebble failure is an error.
func (c *Coordinator) Update(ents []sm.Entry) ([]sm.Entry, error) {
	b := c.store.db.NewBatch()
	defer b.Close()
	c.mu.Lock()
	for i := range ents {
		ents[i].Result = c.applyLocked(b, ents[i].Cmd)
	}
	c.mu.Unlock()
	c.applied = ents[len(ents)-1].Index
	if err := b.Set(c.key(keyState), binary.BigEndian.AppendUint64(nil, c.applied), nil); err != nil {
		return nil, err
	}
	if err := c.store.apply(b); err != nil {
		return nil, fmt.Errorf("raftsm: coordinator %d: apply: %w", c.shardID, err)
	}
	c.published.Store(c.applied)
	return ents, nil
}

func (c *Coordinator) groupLocked(g string) *coordGroup {
	cg := c.mu.groups[g]
	if cg == nil {
		cg = &coordGroup{offsets: map[TopicPartition]OffsetRecord{}}
		c.mu.groups[g] = cg
	}
	return cg
}

// dropIfEmptyLocked forgets a group that has no metadata, no offsets and
// no transaction state.
func (c *Coordinator) dropIfEmptyLocked(g string) {
	if cg := c.mu.groups[g]; cg != nil && cg.rec == nil && len(cg.offsets) == 0 && len(cg.pending) == 0 && len(cg.fences) == 0 {
		delete(c.mu.groups, g)
	}
}

func (c *Coordinator) applyLocked(b *pebble.Batch, cmd []byte) sm.Result {
	d := dec{b: cmd}
	if d.u8() != commandVersion || d.err != nil {
		return sm.Result{Data: statusData[StatusUnsupportedCmd]}
	}
	malformed := sm.Result{Data: statusData[StatusMalformed]}
	typ := d.u8()
	if res, ok := c.applyTxnLocked(b, typ, &d); ok {
		return res
	}
	switch typ {
	case cmdCommitOffsets:
		g, offs, err := decodeCommitOffsets(&d)
		if err != nil || g == "" || len(offs) == 0 {
			return malformed
		}
		cg := c.groupLocked(g)
		for _, o := range offs {
			cg.offsets[o.TopicPartition] = o.OffsetRecord
			_ = b.Set(c.offsetKey(g, o.TopicPartition), encodeOffsetRecord(o.OffsetRecord), nil)
		}
		return sm.Result{Value: uint64(len(offs))}
	case cmdStoreGroup:
		raw := d.bytes()
		if d.err != nil {
			return malformed
		}
		rec, err := decodeGroupRecord(raw)
		if err != nil || rec.Group == "" {
			return malformed
		}
		cg := c.groupLocked(rec.Group)
		if cg.rec != nil && rec.Generation < cg.rec.Generation {
			c.dropIfEmptyLocked(rec.Group)
			return sm.Result{Data: statusData[StatusStaleGeneration]}
		}
		cg.rec = rec
		_ = b.Set(c.groupKey(rec.Group), bytes.Clone(raw), nil)
		return sm.Result{}
	case cmdDeleteGroup:
		g := d.str()
		if d.err != nil || g == "" {
			return malformed
		}
		cg := c.mu.groups[g]
		switch {
		case cg == nil:
			return sm.Result{Data: statusData[StatusGroupNotFound]}
		case cg.rec != nil && len(cg.rec.Members) > 0:
			return sm.Result{Data: statusData[StatusNonEmptyGroup]}
		}
		c.deleteGroupLocked(b, g, cg)
		return sm.Result{}
	case cmdDeleteOffsets:
		g := d.str()
		n := d.uvarint()
		if d.err != nil || g == "" || n > uint64(len(d.b)) {
			return malformed
		}
		tps := make([]TopicPartition, 0, n)
		for i := uint64(0); i < n && d.err == nil; i++ {
			tps = append(tps, TopicPartition{Topic: d.str(), Partition: d.i32()})
		}
		if d.err != nil {
			return malformed
		}
		cg := c.mu.groups[g]
		if cg == nil {
			return sm.Result{Data: statusData[StatusGroupNotFound]}
		}
		removed := 0
		for _, tp := range tps {
			if _, ok := cg.offsets[tp]; ok {
				delete(cg.offsets, tp)
				_ = b.Delete(c.offsetKey(g, tp), nil)
				removed++
			}
		}
		c.dropIfEmptyLocked(g)
		return sm.Result{Value: uint64(removed)}
	case cmdExpireOffsets:
		now, retention := d.i64(), d.i64()
		if d.err != nil || retention <= 0 {
			return malformed
		}
		return sm.Result{Value: uint64(c.expireLocked(b, now, retention))}
	default:
		return sm.Result{Data: statusData[StatusUnsupportedCmd]}
	}
}

func (c *Coordinator) deleteGroupLocked(b *pebble.Batch, g string, cg *coordGroup) {
	for tp := range cg.offsets {
		_ = b.Delete(c.offsetKey(g, tp), nil)
	}
	if cg.rec != nil {
		_ = b.Delete(c.groupKey(g), nil)
	}
	c.deleteTxnStateLocked(b, g, cg)
	delete(c.mu.groups, g)
}

// expireLocked applies Kafka's offset retention (KIP-211) at time now:
//   - a group with members keeps its offsets;
//   - an empty group with metadata expires its offsets retention after it
//     became empty (its record's timestamp);
//   - a group without metadata (simple consumers using assign()) expires
//     each offset retention after it was committed;
//   - an offset with an explicit expire timestamp (OffsetCommit v2–v4)
//     expires at that timestamp;
//   - an empty group left with no offsets is deleted, with its
//     transaction fences, unless offsets of an open transaction are
//     pending in it.
//
// Each decision depends only on the stored state and the command, so every
// replica removes the same keys. It returns the number of offsets removed.
func (c *Coordinator) expireLocked(b *pebble.Batch, now, retention int64) int {
	removed := 0
	for g, cg := range c.mu.groups {
		if cg.rec != nil && len(cg.rec.Members) > 0 {
			continue
		}
		for tp, o := range cg.offsets {
			base := o.CommitTimestamp
			if cg.rec != nil {
				base = cg.rec.Timestamp
			}
			expired := base+retention <= now
			if o.ExpireTimestamp >= 0 {
				expired = o.ExpireTimestamp <= now
			}
			if expired {
				delete(cg.offsets, tp)
				_ = b.Delete(c.offsetKey(g, tp), nil)
				removed++
			}
		}
		if len(cg.offsets) == 0 && len(cg.pending) == 0 {
			c.deleteGroupLocked(b, g, cg)
		}
	}
	return removed
}

// EncodeCommitOffsets encodes a proposal storing offsets of one group.
func EncodeCommitOffsets(group string, offsets []CommittedOffset) []byte {
	e := enc{b: make([]byte, 0, 16+len(group)+len(offsets)*48)}
	e.u8(commandVersion)
	e.u8(cmdCommitOffsets)
	e.str(group)
	e.uvarint(uint64(len(offsets)))
	for i := range offsets {
		o := &offsets[i]
		e.str(o.Topic)
		e.i32(o.Partition)
		e.i64(o.Offset)
		e.i32(o.LeaderEpoch)
		e.str(o.Metadata)
		e.i64(o.CommitTimestamp)
		e.i64(o.ExpireTimestamp)
	}
	return e.b
}

func decodeCommitOffsets(d *dec) (string, []CommittedOffset, error) {
	g := d.str()
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		return "", nil, errShortCommand
	}
	out := make([]CommittedOffset, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		var o CommittedOffset
		o.Topic = d.str()
		o.Partition = d.i32()
		o.Offset = d.i64()
		o.LeaderEpoch = d.i32()
		o.Metadata = d.str()
		o.CommitTimestamp = d.i64()
		o.ExpireTimestamp = d.i64()
		out = append(out, o)
	}
	return g, out, d.err
}

// EncodeStoreGroup encodes a proposal storing a group's metadata.
func EncodeStoreGroup(r *GroupRecord) []byte {
	rec := encodeGroupRecord(r)
	e := enc{b: make([]byte, 0, len(rec)+12)}
	e.u8(commandVersion)
	e.u8(cmdStoreGroup)
	e.bytes(rec)
	return e.b
}

// EncodeDeleteGroup encodes a proposal deleting a group's metadata and
// offsets; it is rejected with StatusNonEmptyGroup while the stored
// generation has members.
func EncodeDeleteGroup(group string) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdDeleteGroup)
	e.str(group)
	return e.b
}

// EncodeDeleteOffsets encodes a proposal deleting some offsets of a group;
// the result's Value is how many existed.
func EncodeDeleteOffsets(group string, tps []TopicPartition) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdDeleteOffsets)
	e.str(group)
	e.uvarint(uint64(len(tps)))
	for _, tp := range tps {
		e.str(tp.Topic)
		e.i32(tp.Partition)
	}
	return e.b
}

// EncodeExpireOffsets encodes a proposal expiring offsets as of nowMs (the
// proposer's clock) with the given retention; the result's Value is the
// number of offsets removed.
func EncodeExpireOffsets(nowMs, retentionMs int64) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdExpireOffsets)
	e.i64(nowMs)
	e.i64(retentionMs)
	return e.b
}

func encodeOffsetRecord(o OffsetRecord) []byte {
	e := enc{b: make([]byte, 0, 40+len(o.Metadata))}
	e.u8(recordVersion)
	e.i64(o.Offset)
	e.i32(o.LeaderEpoch)
	e.str(o.Metadata)
	e.i64(o.CommitTimestamp)
	e.i64(o.ExpireTimestamp)
	return e.b
}

func decodeOffsetRecord(v []byte) (OffsetRecord, error) {
	d := dec{b: v}
	if d.u8() != recordVersion {
		return OffsetRecord{}, errSnapshotFormat
	}
	o := OffsetRecord{Offset: d.i64(), LeaderEpoch: d.i32(), Metadata: d.str(), CommitTimestamp: d.i64(), ExpireTimestamp: d.i64()}
	return o, d.err
}

func encodeGroupRecord(r *GroupRecord) []byte {
	e := enc{}
	e.u8(recordVersion)
	e.str(r.Group)
	e.str(r.ProtocolType)
	e.str(r.Protocol)
	e.i32(r.Generation)
	e.str(r.Leader)
	e.i64(r.Timestamp)
	e.uvarint(uint64(len(r.Members)))
	for i := range r.Members {
		m := &r.Members[i]
		e.str(m.MemberID)
		e.str(m.InstanceID)
		e.str(m.ClientID)
		e.str(m.ClientHost)
		e.i32(m.SessionTimeoutMs)
		e.i32(m.RebalanceTimeoutMs)
		e.bytes(m.Metadata)
		e.bytes(m.Assignment)
	}
	if r.Consumer != nil {
		encodeConsumerGroup(&e, r)
	}
	return e.b
}

// decodeGroupRecord decodes a stored or proposed record; byte fields are
// copied so the record does not alias the input.
func decodeGroupRecord(v []byte) (*GroupRecord, error) {
	d := dec{b: v}
	if d.u8() != recordVersion {
		return nil, errSnapshotFormat
	}
	r := &GroupRecord{Group: d.str(), ProtocolType: d.str(), Protocol: d.str(), Generation: d.i32(), Leader: d.str(), Timestamp: d.i64()}
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		return nil, errShortCommand
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		m := GroupMemberRecord{
			MemberID: d.str(), InstanceID: d.str(), ClientID: d.str(), ClientHost: d.str(),
			SessionTimeoutMs: d.i32(), RebalanceTimeoutMs: d.i32(),
		}
		m.Metadata = bytes.Clone(d.bytes())
		m.Assignment = bytes.Clone(d.bytes())
		r.Members = append(r.Members, m)
	}
	if d.err == nil && len(d.b) != 0 {
		decodeConsumerGroup(&d, r)
	}
	if d.err == nil && len(d.b) != 0 {
		return nil, errShortCommand
	}
	return r, d.err
}

// Group returns the stored metadata of a group. The record is shared and
// must not be modified.
func (c *Coordinator) Group(group string) (*GroupRecord, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if cg := c.mu.groups[group]; cg != nil && cg.rec != nil {
		return cg.rec, true
	}
	return nil, false
}

// HasGroup reports whether the group has metadata or offsets.
func (c *Coordinator) HasGroup(group string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.mu.groups[group] != nil
}

// HasOffsets reports whether the group has committed offsets.
func (c *Coordinator) HasOffsets(group string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	cg := c.mu.groups[group]
	return cg != nil && len(cg.offsets) > 0
}

// Offset returns one committed offset.
func (c *Coordinator) Offset(group string, tp TopicPartition) (OffsetRecord, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if cg := c.mu.groups[group]; cg != nil {
		o, ok := cg.offsets[tp]
		return o, ok
	}
	return OffsetRecord{}, false
}

// Offsets returns a copy of every committed offset of a group.
func (c *Coordinator) Offsets(group string) map[TopicPartition]OffsetRecord {
	c.mu.RLock()
	defer c.mu.RUnlock()
	cg := c.mu.groups[group]
	if cg == nil {
		return nil
	}
	out := make(map[TopicPartition]OffsetRecord, len(cg.offsets))
	for tp, o := range cg.offsets {
		out[tp] = o
	}
	return out
}

// GroupIDs returns, sorted, every group with metadata or offsets.
func (c *Coordinator) GroupIDs() []string {
	c.mu.RLock()
	out := make([]string, 0, len(c.mu.groups))
	for g := range c.mu.groups {
		out = append(out, g)
	}
	c.mu.RUnlock()
	sort.Strings(out)
	return out
}

// Lookup answers Dragonboat's SyncRead, which the group coordinator uses as
// a read barrier after becoming leader: it returns nothing.
func (c *Coordinator) Lookup(any) (any, error) { return nil, nil }

// Sync makes every applied change durable.
func (c *Coordinator) Sync() error { return c.store.Sync() }

// PrepareSnapshot captures a point-in-time view.
func (c *Coordinator) PrepareSnapshot() (any, error) { return c.store.db.NewSnapshot(), nil }

// SaveSnapshot streams the shard's key range.
func (c *Coordinator) SaveSnapshot(ctx any, w io.Writer, stop <-chan struct{}) error {
	return saveShard(ctx.(*pebble.Snapshot), c.shardID, w, stop, nil)
}

// RecoverFromSnapshot replaces the shard's state with the stream.
func (c *Coordinator) RecoverFromSnapshot(r io.Reader, stop <-chan struct{}) error {
	if err := loadShard(c.store, c.shardID, r, stop, nil); err != nil {
		return err
	}
	return c.load()
}

// Close releases nothing: the Store outlives every state machine.
func (c *Coordinator) Close() error { return nil }

// coordinatorShardsKey records, in the local pseudo shard, the number of
// coordinator shards the data directory was created with.
func coordinatorShardsKey() []byte { return append(shardPrefix(localShard), 'c') }

// CheckCoordinatorShards records n as the data directory's number of
// coordinator shards on first use and afterwards fails if n differs: the
// shard of every group depends on it. The record is durable after Sync.
func (s *Store) CheckCoordinatorShards(n int) error {
	v, closer, err := s.db.Get(coordinatorShardsKey())
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		b := s.db.NewBatch()
		defer b.Close()
		if err := b.Set(coordinatorShardsKey(), binary.BigEndian.AppendUint64(nil, uint64(n)), nil); err != nil {
			return err
		}
		if err := s.apply(b); err != nil {
			return err
		}
		return s.Sync()
	case err != nil:
		return err
	}
	defer closer.Close()
	if len(v) != 8 {
		return fmt.Errorf("raftsm: corrupt coordinator shard count record")
	}
	if was := binary.BigEndian.Uint64(v); was != uint64(n) {
		return fmt.Errorf("raftsm: this data directory was created with %d coordinator shards, not %d; the count is fixed once a data directory exists (groups are placed by it)", was, n)
	}
	return nil
}

// OpenMemStore opens a Store on an in-memory file system, for tests of the
// packages built on raftsm.
func OpenMemStore() (*Store, error) { return openStore("state", vfs.NewMem()) }

var _ sm.IOnDiskStateMachine = (*Coordinator)(nil)

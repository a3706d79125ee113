package raftsm

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/chronik-go/chronik/core/acl"
	"github.com/chronik-go/chronik/core/quota"
)

// MetaShardID is the Raft shard of the cluster metadata.
const MetaShardID uint64 = 1

// FirstPartitionShardID is the first shard ID handed to partitions; IDs
// below it are reserved for the meta and coordinator shards.
const FirstPartitionShardID uint64 = 1024

// Meta key schema, after the 8-byte shard prefix:
//
//	'a'          → applied index, next shard ID, next replica ID, next producer ID
//	'T' name     → TopicRecord
const keyTopic = 'T'

// TopicRecord is a topic as committed in the meta shard.
type TopicRecord struct {
	Name       string
	ID         [16]byte
	Configs    map[string]string
	Partitions []PartitionRecord
}

// PartitionRecord is one partition's placement. Nodes and Replicas are
// parallel: Replicas[i] is the Raft replica ID on broker Nodes[i].
type PartitionRecord struct {
	ShardID  uint64
	Nodes    []int32
	Replicas []uint64
	// Target and TargetReplicas (parallel) are the placement a
	// reassignment moves the partition to; nil when none (membership.go).
	Target         []int32
	TargetReplicas []uint64
}

// MetaView is an immutable snapshot of the meta state.
type MetaView struct {
	Applied uint64
	// Leaders holds the last reported leader of each shard (leaders.go).
	Leaders map[uint64]LeaderRecord
	Topics  map[string]*TopicRecord // never mutated after publication
	// Brokers is the broker registry (membership.go), tombstones included.
	Brokers map[int32]BrokerRecord
	// Scram holds the SCRAM credentials (scramcreds.go): user →
	// mechanism → credential.
	Scram map[string]map[ScramMechanism]ScramCredential
	// Tokens holds the delegation tokens (delegationtokens.go), by ID.
	Tokens map[string]DelegationToken
	// ACLs holds the access control lists (acls.go); never nil. It is the
	// same *acl.Set from one view to the next until they change, so that
	// readers may cache decisions against the pointer.
	ACLs *acl.Set
	// Quotas holds the client quotas (quotas.go); never nil. Like ACLs, it
	// is the same *quota.Set until they change.
	Quotas *quota.Set
	// Features holds the finalized feature levels set on the cluster
	// (features.go).
	Features FeatureLevels
}

// CreateTopicCommand creates a topic with the given placement; the state
// machine allocates shard and replica IDs.
type CreateTopicCommand struct {
	Name    string
	ID      [16]byte
	Configs map[string]string
	Nodes   [][]int32 // per partition, preferred leader first
}

// Meta is the state machine of the meta shard. Update and the snapshot
// methods are serialised by Dragonboat; View may be called from any
// goroutine at any time.
type Meta struct {
	store    *Store
	prefix   []byte
	onChange func(*MetaView)

	// Owned by the Update goroutine.
	applied        uint64
	nextShard      uint64
	nextReplica    uint64
	nextProducerID int64
	topics         map[string]*TopicRecord
	leaders        map[uint64]LeaderRecord
	txnIDs         map[string]txnProducer
	brokers        map[int32]BrokerRecord
	scram          map[scramID]ScramCredential
	tokens         map[string]DelegationToken
	acls           *acl.Set   // replaced, never modified, when the bindings change
	quotas         *quota.Set // replaced, never modified, when the quotas change
	features       FeatureLevels

	view atomic.Pointer[MetaView]
	pids atomic.Int64 // nextProducerID, published after each Update
}

// NewMeta returns the meta state machine; onChange is called on the apply
// goroutine after each Update that changed topics, and must not block.
func NewMeta(store *Store, onChange func(*MetaView)) *Meta {
	if onChange == nil {
		onChange = func(*MetaView) {}
	}
	m := &Meta{store: store, prefix: shardPrefix(MetaShardID), onChange: onChange}
	m.view.Store(&MetaView{
		Topics: map[string]*TopicRecord{}, Leaders: map[uint64]LeaderRecord{}, Brokers: map[int32]BrokerRecord{},
		Scram: map[string]map[ScramMechanism]ScramCredential{}, ACLs: acl.NewSet(nil),
		Quotas: quota.NewSet(nil),
	})
	return m
}

// View returns the current committed meta state.
func (m *Meta) View() *MetaView { return m.view.Load() }

func (m *Meta) key(kind byte, suffix string) []byte {
	k := make([]byte, 0, len(m.prefix)+1+len(suffix))
	k = append(k, m.prefix...)
	k = append(k, kind)
	return append(k, suffix...)
}

// Open loads the meta state and returns its applied index.
func (m *Meta) Open(<-chan struct{}) (uint64, error) {
	if err := m.load(); err != nil {
		return 0, err
	}
	return m.applied, nil
}

func (m *Meta) load() error {
	m.applied, m.nextShard, m.nextReplica, m.nextProducerID = 0, FirstPartitionShardID, 1, 1000
	m.topics = map[string]*TopicRecord{}
	v, closer, err := m.store.db.Get(m.key(keyState, ""))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return fmt.Errorf("raftsm: meta: read state: %w", err)
	default:
		d := dec{b: v}
		m.applied, m.nextShard, m.nextReplica, m.nextProducerID = d.u64(), d.u64(), d.u64(), d.i64()
		err = d.err
		closer.Close()
		if err != nil {
			return fmt.Errorf("raftsm: meta: corrupt state: %w", err)
		}
	}
	lo, hi := m.key(keyTopic, ""), m.key(keyTopic+1, "")
	it, err := m.store.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		t, err := decodeTopic(it.Value())
		if err != nil {
			it.Close()
			return fmt.Errorf("raftsm: meta: corrupt topic %q: %w", it.Key()[len(lo):], err)
		}
		m.topics[t.Name] = t
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return err
	}
	if err := m.loadLeaders(); err != nil {
		return err
	}
	if err := m.loadTxnIDs(); err != nil {
		return err
	}
	if err := m.loadBrokers(); err != nil {
		return err
	}
	if err := m.loadScram(); err != nil {
		return err
	}
	if err := m.loadTokens(); err != nil {
		return err
	}
	if err := m.loadACLs(); err != nil {
		return err
	}
	if err := m.loadQuotas(); err != nil {
		return err
	}
	if err := m.loadFeatures(); err != nil {
		return err
	}
	m.pids.Store(m.nextProducerID)
	m.publish()
	return nil
}

func (m *Meta) publish() {
	topics := make(map[string]*TopicRecord, len(m.topics))
	for k, v := range m.topics {
		topics[k] = v
	}
	leaders := make(map[uint64]LeaderRecord, len(m.leaders))
	for k, v := range m.leaders {
		leaders[k] = v
	}
	brokers := make(map[int32]BrokerRecord, len(m.brokers))
	for k, v := range m.brokers {
		brokers[k] = v
	}
	v := &MetaView{
		Applied: m.applied, Topics: topics, Leaders: leaders, Brokers: brokers,
		Scram: m.scramView(), Tokens: m.tokensView(), ACLs: m.acls, Quotas: m.quotas, Features: m.features,
	}
	m.view.Store(v)
	m.onChange(v)
}

// Update applies committed meta commands.
func (m *Meta) Update(ents []sm.Entry) ([]sm.Entry, error) {
	b := m.store.db.NewBatch()
	defer b.Close()
	changed := false
	for i := range ents {
		var c bool
		ents[i].Result, c = m.apply(b, ents[i].Cmd)
		changed = changed || c
	}
	m.applied = ents[len(ents)-1].Index
	e := enc{}
	e.u64(m.applied)
	e.u64(m.nextShard)
	e.u64(m.nextReplica)
	e.i64(m.nextProducerID)
	if err := b.Set(m.key(keyState, ""), e.b, nil); err != nil {
		return nil, err
	}
	if err := m.store.apply(b); err != nil {
		return nil, fmt.Errorf("raftsm: meta: apply: %w", err)
	}
	m.pids.Store(m.nextProducerID)
	if changed {
		m.publish()
	}
	return ents, nil
}

// NextProducerID is the first producer ID not yet handed out (blocks
// reserved by brokers count as handed out). It may be read concurrently
// with Update.
func (m *Meta) NextProducerID() int64 { return m.pids.Load() }

func (m *Meta) apply(b *pebble.Batch, cmd []byte) (sm.Result, bool) {
	d := dec{b: cmd}
	if d.u8() != commandVersion || d.err != nil {
		return sm.Result{Data: statusData[StatusUnsupportedCmd]}, false
	}
	switch d.u8() {
	case cmdCreateTopic:
		c, err := decodeCreateTopic(&d)
		if err != nil {
			return sm.Result{Data: statusData[StatusMalformed]}, false
		}
		if _, ok := m.topics[c.Name]; ok {
			return sm.Result{Data: statusData[StatusTopicExists]}, false
		}
		t := &TopicRecord{Name: c.Name, ID: c.ID, Configs: c.Configs}
		for _, nodes := range c.Nodes {
			pr := PartitionRecord{ShardID: m.nextShard, Nodes: nodes}
			m.nextShard++
			for range nodes {
				pr.Replicas = append(pr.Replicas, m.nextReplica)
				m.nextReplica++
			}
			t.Partitions = append(t.Partitions, pr)
		}
		m.topics[t.Name] = t
		_ = b.Set(m.key(keyTopic, t.Name), encodeTopic(t), nil)
		return sm.Result{}, true
	case cmdDeleteTopic:
		name := d.str()
		if d.err != nil {
			return sm.Result{Data: statusData[StatusMalformed]}, false
		}
		if _, ok := m.topics[name]; !ok {
			return sm.Result{Data: statusData[StatusUnknownTopic]}, false
		}
		shards := make([]uint64, 0, len(m.topics[name].Partitions))
		for _, p := range m.topics[name].Partitions {
			shards = append(shards, p.ShardID)
		}
		m.deleteLeaders(b, shards)
		m.recordDeletedTopic(b, m.topics[name])
		delete(m.topics, name)
		_ = b.Delete(m.key(keyTopic, name), nil)
		return sm.Result{}, true
	case cmdReportLeader:
		return m.applyReportLeader(b, &d)
	case cmdInitTransactional:
		return m.applyInitTransactional(b, &d), false
	case cmdAllocProducerIDs:
		n := d.u64()
		if d.err != nil || n == 0 || n > 1<<20 {
			return sm.Result{Data: statusData[StatusMalformed]}, false
		}
		first := m.nextProducerID
		m.nextProducerID += int64(n)
		return sm.Result{Value: uint64(first)}, false
	case cmdCreatePartitions:
		return m.applyCreatePartitions(b, &d)
	case cmdAlterTopicConfigs:
		return m.applyAlterTopicConfigs(b, &d)
	case cmdRegisterBroker:
		return m.applyRegisterBroker(b, &d)
	case cmdRemoveBroker:
		return m.applyRemoveBroker(b, &d)
	case cmdAlterReassignment:
		return m.applyAlterReassignment(b, &d)
	case cmdCompleteReassignment:
		return m.applyCompleteReassignment(b, &d)
	case cmdRejoinBroker:
		return m.applyRejoinBroker(b, &d)
	case cmdForgetDeletedTopic:
		return m.applyForgetDeletedTopic(b, &d)
	case cmdSetScram:
		return m.applySetScram(b, &d)
	case cmdDeleteScram:
		return m.applyDeleteScram(b, &d)
	case cmdCreateACLs:
		return m.applyCreateACLs(b, &d)
	case cmdDeleteACLs:
		return m.applyDeleteACLs(b, &d)
	case cmdAlterQuotas:
		return m.applyAlterQuotas(b, &d)
	case cmdSetFeature:
		return m.applySetFeature(b, &d)
	case cmdCreateToken:
		return m.applyCreateToken(b, &d)
	case cmdRenewToken:
		return m.applyRenewToken(b, &d)
	case cmdDeleteToken:
		return m.applyDeleteToken(b, &d)
	default:
		return sm.Result{Data: statusData[StatusUnsupportedCmd]}, false
	}
}

// EncodeCreateTopic encodes a create-topic proposal.
func EncodeCreateTopic(c *CreateTopicCommand) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdCreateTopic)
	e.str(c.Name)
	e.b = append(e.b, c.ID[:]...)
	encodeConfigs(&e, c.Configs)
	e.uvarint(uint64(len(c.Nodes)))
	for _, nodes := range c.Nodes {
		e.uvarint(uint64(len(nodes)))
		for _, n := range nodes {
			e.i32(n)
		}
	}
	return e.b
}

// EncodeDeleteTopic encodes a delete-topic proposal.
func EncodeDeleteTopic(name string) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdDeleteTopic)
	e.str(name)
	return e.b
}

// EncodeAllocProducerIDs encodes a proposal that reserves n producer IDs;
// the result's Value is the first.
func EncodeAllocProducerIDs(n uint64) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdAllocProducerIDs)
	e.u64(n)
	return e.b
}

func decodeCreateTopic(d *dec) (*CreateTopicCommand, error) {
	c := &CreateTopicCommand{Name: d.str()}
	if d.need(16) {
		copy(c.ID[:], d.b[:16])
		d.b = d.b[16:]
	}
	c.Configs = decodeConfigs(d)
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		return nil, errShortCommand
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		r := d.uvarint()
		if d.err == nil && r > uint64(len(d.b)) {
			return nil, errShortCommand
		}
		nodes := make([]int32, 0, r)
		for j := uint64(0); j < r; j++ {
			nodes = append(nodes, d.i32())
		}
		c.Nodes = append(c.Nodes, nodes)
	}
	if d.err == nil && (c.Name == "" || len(c.Nodes) == 0) {
		return nil, errShortCommand
	}
	return c, d.err
}

func encodeConfigs(e *enc, cfgs map[string]string) {
	keys := make([]string, 0, len(cfgs))
	for k := range cfgs {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic bytes
	e.uvarint(uint64(len(keys)))
	for _, k := range keys {
		e.str(k)
		e.str(cfgs[k])
	}
}

func decodeConfigs(d *dec) map[string]string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errShortCommand
		return nil
	}
	m := make(map[string]string, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		k := d.str()
		m[k] = d.str()
	}
	return m
}

func encodeTopic(t *TopicRecord) []byte {
	e := enc{}
	version := byte(1)
	for _, p := range t.Partitions {
		if p.Reassigning() {
			version = 2 // v2 adds each partition's target placement
		}
	}
	e.u8(version) // record version
	e.str(t.Name)
	e.b = append(e.b, t.ID[:]...)
	encodeConfigs(&e, t.Configs)
	e.uvarint(uint64(len(t.Partitions)))
	for _, p := range t.Partitions {
		e.u64(p.ShardID)
		e.uvarint(uint64(len(p.Nodes)))
		for i := range p.Nodes {
			e.i32(p.Nodes[i])
			e.u64(p.Replicas[i])
		}
		if version >= 2 {
			e.uvarint(uint64(len(p.Target)))
			for i := range p.Target {
				e.i32(p.Target[i])
				e.u64(p.TargetReplicas[i])
			}
		}
	}
	return e.b
}

func decodeTopic(v []byte) (*TopicRecord, error) {
	d := dec{b: v}
	version := d.u8()
	if version != 1 && version != 2 {
		return nil, errSnapshotFormat
	}
	t := &TopicRecord{Name: d.str()}
	if d.need(16) {
		copy(t.ID[:], d.b[:16])
		d.b = d.b[16:]
	}
	t.Configs = decodeConfigs(&d)
	n := d.uvarint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		p := PartitionRecord{ShardID: d.u64()}
		r := d.uvarint()
		for j := uint64(0); j < r && d.err == nil; j++ {
			p.Nodes = append(p.Nodes, d.i32())
			p.Replicas = append(p.Replicas, d.u64())
		}
		if version >= 2 {
			r := d.uvarint()
			for j := uint64(0); j < r && d.err == nil; j++ {
				p.Target = append(p.Target, d.i32())
				p.TargetReplicas = append(p.TargetReplicas, d.u64())
			}
		}
		t.Partitions = append(t.Partitions, p)
	}
	return t, d.err
}

// Lookup is unused: readers call View.
func (m *Meta) Lookup(any) (any, error) { return m.View(), nil }

// Sync makes every applied meta change durable.
func (m *Meta) Sync() error { return m.store.Sync() }

// PrepareSnapshot captures a point-in-time view.
func (m *Meta) PrepareSnapshot() (any, error) { return m.store.db.NewSnapshot(), nil }

// SaveSnapshot streams the meta key range.
func (m *Meta) SaveSnapshot(ctx any, w io.Writer, stop <-chan struct{}) error {
	return saveShard(ctx.(*pebble.Snapshot), MetaShardID, w, stop, nil)
}

// RecoverFromSnapshot replaces the meta state with the stream.
func (m *Meta) RecoverFromSnapshot(r io.Reader, stop <-chan struct{}) error {
	if err := loadShard(m.store, MetaShardID, r, stop, nil); err != nil {
		return err
	}
	return m.load()
}

// Close releases nothing: the Store outlives every state machine.
func (m *Meta) Close() error { return nil }

var _ sm.IOnDiskStateMachine = (*Meta)(nil)

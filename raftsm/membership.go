package raftsm

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Cluster membership on the meta shard: the broker registry and partition
// reassignments (cluster commands 34–37, see leaders.go for the range).
//
// Broker registry. Every broker registers itself at start (idempotent) and
// `chronik cluster add-node` registers brokers that are not in the static
// [[nodes]] config, so the cluster learns their addresses at runtime. A
// decommissioned broker keeps a tombstone (Removed): its ID was deleted from
// the system shards' memberships and can never rejoin (Dragonboat refuses a
// deleted replica ID, and meta/coordinator replica IDs are broker IDs).
//
// Reassignment. A partition being moved carries a target placement: Target
// (broker IDs, preferred leader first) and TargetReplicas (parallel Raft
// replica IDs). A broker already in the placement keeps its replica ID in
// the target unless it is listed as "fresh" (its data dir was wiped), in
// which case it gets a new one, as every broker new to the partition does,
// from the never-reused counter. The partition leader's controller adds the
// new replicas as non-voting, waits for them to catch up, promotes them,
// deletes the replicas that are not in the target, and then commits the
// target as the placement (cmdCompleteReassignment).
//
// Key schema, after the meta shard prefix: 'B' BE32(broker) → BrokerRecord.
const keyBroker = 'B'

const (
	cmdRegisterBroker       byte = 34 // meta: add or update a broker's addresses
	cmdRemoveBroker         byte = 35 // meta: tombstone a decommissioned broker
	cmdAlterReassignment    byte = 36 // meta: set a partition's target placement
	cmdCompleteReassignment byte = 37 // meta: make the target the placement
	cmdRejoinBroker         byte = 38 // meta: bump a wiped broker's generation
)

// Statuses of membership commands (admin range 16–31).
const (
	// StatusBrokerRemoved: the broker ID was decommissioned and cannot be
	// registered again.
	StatusBrokerRemoved Status = 18
	// StatusUnknownBroker: a placement names a broker that is not
	// registered (or is removed).
	StatusUnknownBroker Status = 19
)

// BrokerRecord is one registered broker.
type BrokerRecord struct {
	ID      int32
	Kafka   string // advertised Kafka host:port
	Raft    string // Raft transport host:port
	HTTP    string // admin API host:port
	Rack    string
	Removed bool // decommissioned: never to rejoin
	// Generation counts the times the broker came back with a wiped data
	// dir; its replica ID in the system shards is SystemReplicaID(ID,
	// Generation), so a wiped broker rejoins them under a new ID.
	Generation uint32
	// Level is the CommandLevel of the release the broker last started
	// with; 0 for a release before levels were recorded.
	Level uint16
}

// CommandLevel numbers the commands this release applies. A release that
// adds commands raises it; such a command must not be proposed before every
// broker runs a release of that level (cluster.Service RequireLevel),
// because a replica of an older release answers a command it does not know
// with StatusUnsupportedCmd and changes nothing: its copy of the state would
// lack what the others have, for good.
const CommandLevel = LevelDelegationTokens

// Command levels.
const (
	// LevelSecurity: SCRAM credentials (meta commands 39–40), ACLs (41–42)
	// and client quotas (43).
	LevelSecurity uint16 = 1
	// LevelTransactions: log compaction (partition commands 13–14) and
	// transactions (partition command 15, coordinator commands 21–23).
	LevelTransactions uint16 = 2
	// LevelTxnVerification: appends guarded by the transaction
	// coordinator's verification (the cmdAppendOpts guard flag, txn.go),
	// and tiered segments that list aborted transactions (segment format
	// version 2), which older releases cannot read; and client quotas of
	// controller_mutation_rate (meta command 43 with that key, which older
	// releases refuse as malformed while this one applies it).
	LevelTxnVerification uint16 = 3
	// LevelTxnV2: KIP-890 part 2 (transaction.version 2): transaction
	// records that ended with an epoch bump (TxnRecord.EndedV2, a
	// trailing flags byte older releases refuse as malformed); and
	// finalized feature levels (meta command 44, features.go).
	LevelTxnV2 uint16 = 4
	// LevelConsumerGroups: KIP-848 consumer groups, stored as group
	// records with a trailing consumer section (GroupRecord.Consumer,
	// consumergroup.go) that older releases refuse as malformed.
	LevelConsumerGroups uint16 = 5
	// LevelMixedGroups: classic members in consumer groups (KIP-848's
	// online upgrade and downgrade), stored as a second trailing section
	// of consumer-group records (ConsumerMember.Classic) that older
	// releases refuse as malformed.
	LevelMixedGroups uint16 = 6
	// LevelDelegationTokens: delegation tokens (meta commands 45–47,
	// delegationtokens.go).
	LevelDelegationTokens uint16 = 7
)

// SystemReplicaID is a broker's replica ID in the meta and coordinator
// shards: the broker ID in the low 32 bits, its generation above.
func SystemReplicaID(broker int32, generation uint32) uint64 {
	return uint64(generation)<<32 | uint64(uint32(broker))
}

// BrokerOfReplica is the broker of a system-shard replica ID.
func BrokerOfReplica(replicaID uint64) int32 { return int32(uint32(replicaID)) }

// EncodeRegisterBroker encodes a registration. Registering an unchanged
// record changes nothing.
func EncodeRegisterBroker(r BrokerRecord) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdRegisterBroker)
	encodeBroker(&e, BrokerRecord{ID: r.ID, Kafka: r.Kafka, Raft: r.Raft, HTTP: r.HTTP, Rack: r.Rack, Level: r.Level})
	return e.b
}

// EncodeRemoveBroker encodes the tombstoning of a decommissioned broker.
func EncodeRemoveBroker(id int32) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdRemoveBroker)
	e.i32(id)
	return e.b
}

func encodeBroker(e *enc, r BrokerRecord) {
	e.i32(r.ID)
	e.str(r.Kafka)
	e.str(r.Raft)
	e.str(r.HTTP)
	e.str(r.Rack)
	if r.Removed {
		e.u8(1)
	} else {
		e.u8(0)
	}
	e.b = binary.BigEndian.AppendUint32(e.b, r.Generation)
	e.b = binary.BigEndian.AppendUint16(e.b, r.Level)
}

func decodeBroker(d *dec) BrokerRecord {
	r := BrokerRecord{ID: d.i32(), Kafka: d.str(), Raft: d.str(), HTTP: d.str(), Rack: d.str()}
	r.Removed = d.u8() == 1
	if d.need(4) {
		r.Generation = binary.BigEndian.Uint32(d.b)
		d.b = d.b[4:]
	}
	if d.err == nil && len(d.b) >= 2 { // records and commands before levels end here
		r.Level = binary.BigEndian.Uint16(d.b)
		d.b = d.b[2:]
	}
	return r
}

func (m *Meta) brokerKey(id int32) []byte {
	return binary.BigEndian.AppendUint32(m.key(keyBroker, ""), uint32(id))
}

func (m *Meta) applyRegisterBroker(b *pebble.Batch, d *dec) (sm.Result, bool) {
	r := decodeBroker(d)
	if d.err != nil || r.ID < 1 || r.Raft == "" {
		return sm.Result{Data: statusData[StatusMalformed]}, false
	}
	old, ok := m.brokers[r.ID]
	if ok && old.Removed {
		return sm.Result{Data: statusData[StatusBrokerRemoved]}, false
	}
	r.Generation = old.Generation // only cmdRejoinBroker changes it
	if ok && old == r {
		return sm.Result{}, false
	}
	m.putBroker(b, r)
	return sm.Result{}, true
}

func (m *Meta) applyRemoveBroker(b *pebble.Batch, d *dec) (sm.Result, bool) {
	id := d.i32()
	if d.err != nil || id < 1 {
		return sm.Result{Data: statusData[StatusMalformed]}, false
	}
	r, ok := m.brokers[id]
	if ok && r.Removed {
		return sm.Result{}, false
	}
	if !ok {
		r = BrokerRecord{ID: id}
	}
	r.Removed = true
	m.putBroker(b, r)
	return sm.Result{}, true
}

// EncodeRejoinBroker encodes the generation bump of a broker that lost its
// data; the result's Value is the new generation.
func EncodeRejoinBroker(id int32) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdRejoinBroker)
	e.i32(id)
	return e.b
}

func (m *Meta) applyRejoinBroker(b *pebble.Batch, d *dec) (sm.Result, bool) {
	id := d.i32()
	if d.err != nil || id < 1 {
		return sm.Result{Data: statusData[StatusMalformed]}, false
	}
	r, ok := m.brokers[id]
	if !ok || r.Removed {
		return sm.Result{Data: statusData[StatusUnknownBroker]}, false
	}
	r.Generation++
	m.putBroker(b, r)
	return sm.Result{Value: uint64(r.Generation)}, true
}

func (m *Meta) putBroker(b *pebble.Batch, r BrokerRecord) {
	m.brokers[r.ID] = r
	e := enc{}
	encodeBroker(&e, r)
	_ = b.Set(m.brokerKey(r.ID), e.b, nil)
}

func (m *Meta) loadBrokers() error {
	m.brokers = map[int32]BrokerRecord{}
	lo, hi := m.key(keyBroker, ""), m.key(keyBroker+1, "")
	it, err := m.store.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		d := dec{b: it.Value()}
		r := decodeBroker(&d)
		if d.err != nil {
			return fmt.Errorf("raftsm: meta: corrupt broker record %x", it.Key())
		}
		m.brokers[r.ID] = r
	}
	return it.Error()
}

// ReassignCommand sets (or, with Complete, commits) the target placement
// of one partition. It is a compare-and-swap: ExpectReplicas and
// ExpectTarget are the partition's Replicas and TargetReplicas the
// proposer read; anything else is StatusConflict.
type ReassignCommand struct {
	Topic     string
	ID        [16]byte
	Partition int32

	ExpectReplicas []uint64
	ExpectTarget   []uint64

	// Target is the new placement, preferred leader first (ignored by
	// Complete). Fresh lists brokers of the target that must get a new
	// replica ID although they hold one (their data was lost).
	Target []int32
	Fresh  []int32
}

// EncodeAlterReassignment encodes a proposal that sets a partition's target.
func EncodeAlterReassignment(c *ReassignCommand) []byte {
	return encodeReassign(cmdAlterReassignment, c)
}

// EncodeCompleteReassignment encodes a proposal that makes the partition's
// target (ExpectTarget) its placement once every membership change is done.
func EncodeCompleteReassignment(c *ReassignCommand) []byte {
	return encodeReassign(cmdCompleteReassignment, c)
}

func encodeReassign(typ byte, c *ReassignCommand) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(typ)
	e.str(c.Topic)
	e.b = append(e.b, c.ID[:]...)
	e.i32(c.Partition)
	encodeU64s(&e, c.ExpectReplicas)
	encodeU64s(&e, c.ExpectTarget)
	encodeI32s(&e, c.Target)
	encodeI32s(&e, c.Fresh)
	return e.b
}

func encodeU64s(e *enc, v []uint64) {
	e.uvarint(uint64(len(v)))
	for _, x := range v {
		e.u64(x)
	}
}

func encodeI32s(e *enc, v []int32) {
	e.uvarint(uint64(len(v)))
	for _, x := range v {
		e.i32(x)
	}
}

func decodeU64s(d *dec) []uint64 {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b))/8 {
		d.err = errShortCommand
	}
	var out []uint64
	for i := uint64(0); i < n && d.err == nil; i++ {
		out = append(out, d.u64())
	}
	return out
}

func decodeI32s(d *dec) []int32 {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b))/4 {
		d.err = errShortCommand
	}
	var out []int32
	for i := uint64(0); i < n && d.err == nil; i++ {
		out = append(out, d.i32())
	}
	return out
}

func decodeReassign(d *dec) ReassignCommand {
	c := ReassignCommand{Topic: d.str(), ID: decodeID(d), Partition: d.i32()}
	c.ExpectReplicas = decodeU64s(d)
	c.ExpectTarget = decodeU64s(d)
	c.Target = decodeI32s(d)
	c.Fresh = decodeI32s(d)
	return c
}

// reassignTarget resolves the partition record and checks the CAS.
func (m *Meta) reassignTarget(c *ReassignCommand) (*TopicRecord, Status) {
	t, st := m.topicFor(c.Topic, c.ID)
	if st != StatusOK {
		return nil, st
	}
	if c.Partition < 0 || int(c.Partition) >= len(t.Partitions) {
		return nil, StatusUnknownTopic
	}
	p := t.Partitions[c.Partition]
	if !slices.Equal(p.Replicas, c.ExpectReplicas) || !slices.Equal(p.TargetReplicas, c.ExpectTarget) {
		return nil, StatusConflict
	}
	return t, StatusOK
}

func (m *Meta) applyAlterReassignment(b *pebble.Batch, d *dec) (sm.Result, bool) {
	c := decodeReassign(d)
	if d.err != nil || c.Topic == "" || len(c.Target) == 0 {
		return sm.Result{Data: statusData[StatusMalformed]}, false
	}
	seen := map[int32]bool{}
	for _, n := range c.Target {
		if seen[n] {
			return sm.Result{Data: statusData[StatusMalformed]}, false
		}
		seen[n] = true
		if r, ok := m.brokers[n]; ok && r.Removed {
			return sm.Result{Data: statusData[StatusUnknownBroker]}, false
		}
	}
	old, st := m.reassignTarget(&c)
	if st != StatusOK {
		return sm.Result{Data: statusData[st]}, false
	}
	t := *old
	t.Partitions = slices.Clone(old.Partitions)
	p := t.Partitions[c.Partition]
	cur := func(nodes []int32, reps []uint64, n int32) uint64 {
		if i := slices.Index(nodes, n); i >= 0 && i < len(reps) {
			return reps[i]
		}
		return 0
	}
	target := make([]uint64, len(c.Target))
	for i, n := range c.Target {
		fresh := slices.Contains(c.Fresh, n)
		id := cur(p.Nodes, p.Replicas, n)
		if prev := cur(p.Target, p.TargetReplicas, n); prev != 0 && prev != id && !fresh {
			id = prev // already being added by an earlier target: keep it
		}
		if id == 0 || fresh {
			id = m.nextReplica
			m.nextReplica++
		}
		target[i] = id
	}
	p.Target = slices.Clone(c.Target)
	p.TargetReplicas = target
	t.Partitions[c.Partition] = p
	m.replaceTopic(b, &t)
	return sm.Result{}, true
}

func (m *Meta) applyCompleteReassignment(b *pebble.Batch, d *dec) (sm.Result, bool) {
	c := decodeReassign(d)
	if d.err != nil || c.Topic == "" {
		return sm.Result{Data: statusData[StatusMalformed]}, false
	}
	old, st := m.reassignTarget(&c)
	if st != StatusOK {
		return sm.Result{Data: statusData[st]}, false
	}
	p := old.Partitions[c.Partition]
	if len(p.Target) == 0 {
		return sm.Result{Data: statusData[StatusConflict]}, false
	}
	t := *old
	t.Partitions = slices.Clone(old.Partitions)
	t.Partitions[c.Partition] = PartitionRecord{ShardID: p.ShardID, Nodes: p.Target, Replicas: p.TargetReplicas}
	m.replaceTopic(b, &t)
	return sm.Result{}, true
}

// Reassigning reports whether the partition has a target placement.
func (p PartitionRecord) Reassigning() bool { return len(p.Target) > 0 }

// localRoleKey records that this broker's replica of a system shard (meta,
// coordinators) is non-voting, so a restart starts it as one: Dragonboat
// panics when a replica's configured role contradicts its membership.
func localRoleKey(shardID uint64) []byte {
	k := append(shardPrefix(localShard), 'v')
	return binary.BigEndian.AppendUint64(k, shardID)
}

// SetNonVoting records whether the local replica of shardID is non-voting.
func (s *Store) SetNonVoting(shardID uint64, nonVoting bool) error {
	b := s.db.NewBatch()
	defer b.Close()
	var err error
	if nonVoting {
		err = b.Set(localRoleKey(shardID), []byte{1}, nil)
	} else {
		err = b.Delete(localRoleKey(shardID), nil)
	}
	if err != nil {
		return err
	}
	if err := s.apply(b); err != nil {
		return err
	}
	return s.Sync()
}

func localGenerationKey() []byte { return append(shardPrefix(localShard), 'g') }

// SetGeneration records this broker's generation (SystemReplicaID).
func (s *Store) SetGeneration(g uint32) error {
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Set(localGenerationKey(), binary.BigEndian.AppendUint32(nil, g), nil); err != nil {
		return err
	}
	if err := s.apply(b); err != nil {
		return err
	}
	return s.Sync()
}

func localRejoinFloorKey() []byte { return append(shardPrefix(localShard), 'w') }

// SetRejoinFloor records that every partition shard ID below floor
// existed when this broker came back with a wiped data dir as generation
// gen: such a shard has run before, so this broker's replica of it may
// never start empty (core/cluster's reconciler asks for a new replica ID
// instead), even when no leader report for it is in the meta state yet.
func (s *Store) SetRejoinFloor(gen uint32, floor uint64) error {
	b := s.db.NewBatch()
	defer b.Close()
	v := binary.BigEndian.AppendUint32(make([]byte, 0, 12), gen)
	if err := b.Set(localRejoinFloorKey(), binary.BigEndian.AppendUint64(v, floor), nil); err != nil {
		return err
	}
	if err := s.apply(b); err != nil {
		return err
	}
	return s.Sync()
}

// RejoinFloor returns what SetRejoinFloor last recorded; ok is false when
// nothing is.
func (s *Store) RejoinFloor() (gen uint32, floor uint64, ok bool) {
	v, closer, err := s.db.Get(localRejoinFloorKey())
	if err != nil {
		return 0, 0, false
	}
	defer closer.Close()
	if len(v) != 12 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint32(v), binary.BigEndian.Uint64(v[4:]), true
}

// Generation returns this broker's recorded generation, 0 if none.
func (s *Store) Generation() uint32 {
	v, closer, err := s.db.Get(localGenerationKey())
	if err != nil {
		return 0
	}
	defer closer.Close()
	if len(v) != 4 {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

// NonVoting reports whether the local replica of shardID was last recorded
// as non-voting.
func (s *Store) NonVoting(shardID uint64) bool {
	_, closer, err := s.db.Get(localRoleKey(shardID))
	if err != nil {
		return false
	}
	closer.Close()
	return true
}

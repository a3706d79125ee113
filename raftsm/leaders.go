package raftsm

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Cluster-wide leader records. A broker that becomes leader of a shard
// reports it to the meta shard, so every broker can answer Metadata and
// FindCoordinator for shards it holds no replica of. A record is replaced
// only by one with a higher or equal term, so late reports cannot move it
// backwards.
//
// Key schema, after the meta shard prefix: 'L' BE64(shardID) → BE32(node) BE64(term).
const keyLeader = 'L'

// cmdReportLeader is a meta command; 32–47 are cluster commands (33:
// txnids.go, 34–38: membership.go, 39–40: scramcreds.go, 41–42: acls.go,
// 43: quotas.go).
const cmdReportLeader byte = 32

// LeaderRecord is the last reported leader of a shard.
type LeaderRecord struct {
	Node int32  // broker ID
	Term uint64 // Raft term, the Kafka leader epoch
}

// EncodeReportLeader encodes a report that node leads shard in term.
func EncodeReportLeader(shard uint64, node int32, term uint64) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdReportLeader)
	e.u64(shard)
	e.i32(node)
	e.u64(term)
	return e.b
}

func (m *Meta) leaderKey(shard uint64) []byte {
	return binary.BigEndian.AppendUint64(m.key(keyLeader, ""), shard)
}

// applyReportLeader records a leader report; it reports whether the view changed.
func (m *Meta) applyReportLeader(b *pebble.Batch, d *dec) (sm.Result, bool) {
	shard, node, term := d.u64(), d.i32(), d.u64()
	if d.err != nil {
		return sm.Result{Data: statusData[StatusMalformed]}, false
	}
	if old, ok := m.leaders[shard]; ok && (old.Term > term || old == (LeaderRecord{node, term})) {
		return sm.Result{}, false
	}
	m.leaders[shard] = LeaderRecord{Node: node, Term: term}
	e := enc{}
	e.i32(node)
	e.u64(term)
	_ = b.Set(m.leaderKey(shard), e.b, nil)
	return sm.Result{}, true
}

// loadLeaders reads every leader record.
func (m *Meta) loadLeaders() error {
	m.leaders = map[uint64]LeaderRecord{}
	return m.store.scanKind(m.prefix, keyLeader, func(k, v []byte) error {
		if len(k) != 8 || len(v) != 12 {
			return fmt.Errorf("raftsm: meta: corrupt leader record %x", k)
		}
		m.leaders[binary.BigEndian.Uint64(k)] = LeaderRecord{Node: int32(binary.BigEndian.Uint32(v)), Term: binary.BigEndian.Uint64(v[4:])}
		return nil
	})
}

// deleteLeaders drops the records of removed shards.
func (m *Meta) deleteLeaders(b *pebble.Batch, shards []uint64) {
	for _, s := range shards {
		if _, ok := m.leaders[s]; ok {
			delete(m.leaders, s)
			_ = b.Delete(m.leaderKey(s), nil)
		}
	}
}

package raftsm

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Transactional producer IDs. A transactional.id keeps one producer ID;
// every InitProducerId for it bumps the epoch, which fences the previous
// incarnation (its batches fail the partition's epoch check). When the
// epoch would overflow, the ID is replaced by a fresh one at epoch 0.
//
// Key schema, after the meta shard prefix: 'X' txnID → BE64(producerID) BE16(epoch).
const keyTxnID = 'X'

// cmdInitTransactional is a meta command in the cluster range.
//
// The transaction coordinator (core/txn, records on the coordinator
// shards, txncoord.go) is now the producer-ID and epoch authority of
// transactional IDs; this command is no longer proposed and stays so that
// Raft logs and snapshots written before keep replaying.
const cmdInitTransactional byte = 33

// EncodeInitTransactional encodes an InitProducerId for a transactional ID.
// The result's Value is the producer ID; TransactionalEpoch decodes the epoch.
func EncodeInitTransactional(txnID string) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdInitTransactional)
	e.str(txnID)
	return e.b
}

// TransactionalEpoch returns the epoch in the result of an
// EncodeInitTransactional command.
func TransactionalEpoch(data []byte) int16 {
	if len(data) < 3 {
		return -1
	}
	return int16(binary.BigEndian.Uint16(data[1:]))
}

type txnProducer struct {
	id    int64
	epoch int16
}

func (m *Meta) applyInitTransactional(b *pebble.Batch, d *dec) sm.Result {
	txnID := d.str()
	if d.err != nil || txnID == "" {
		return sm.Result{Data: statusData[StatusMalformed]}
	}
	p, ok := m.txnIDs[txnID]
	if ok && p.epoch < math.MaxInt16-1 {
		p.epoch++
	} else {
		p = txnProducer{id: m.nextProducerID, epoch: 0}
		m.nextProducerID++
	}
	m.txnIDs[txnID] = p
	e := enc{}
	e.i64(p.id)
	e.i16(p.epoch)
	_ = b.Set(m.key(keyTxnID, txnID), e.b, nil)
	data := []byte{byte(StatusOK), 0, 0}
	binary.BigEndian.PutUint16(data[1:], uint16(p.epoch))
	return sm.Result{Value: uint64(p.id), Data: data}
}

func (m *Meta) loadTxnIDs() error {
	m.txnIDs = map[string]txnProducer{}
	return m.store.scanKind(m.prefix, keyTxnID, func(k, v []byte) error {
		if len(v) != 10 {
			return fmt.Errorf("raftsm: meta: corrupt transactional id record %q", k)
		}
		m.txnIDs[string(k)] = txnProducer{id: int64(binary.BigEndian.Uint64(v)), epoch: int16(binary.BigEndian.Uint16(v[8:]))}
		return nil
	})
}

package raftsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/cockroachdb/pebble/v2"
)

// ProducerInfo is what a partition knows of one idempotent producer
// (Kafka's DescribeProducers).
type ProducerInfo struct {
	ID    int64
	Epoch int16
	// LastSequence is the sequence of its last record appended, -1 if
	// none is kept.
	LastSequence int32
	// LastTimestamp is the append clock (ms) of its last append, -1 if it
	// was stored before the clock was kept.
	LastTimestamp int64
	// TxnStartOffset is the first offset of its open transaction, -1 if
	// none is open.
	TxnStartOffset int64
}

// Producers returns the producers whose state has not expired, by ID. It
// reads the applied state from the state store, so it may run
// concurrently with Update.
func (p *Partition) Producers() ([]ProducerInfo, error) {
	snap := p.store.db.NewSnapshot()
	defer snap.Close()
	var clock int64
	v, closer, err := snap.Get(p.key(keyState, 0))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("raftsm: partition %d: read state: %w", p.shardID, err)
	default:
		d := dec{b: v}
		for range 9 { // applied … tieredPos, as Update writes them
			d.i64()
		}
		if d.err == nil && len(d.b) >= 8 {
			clock = d.i64()
		}
		closer.Close()
	}
	lo := p.key(keyProducer, 0)
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: p.key(keyProducer+1, 0)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []ProducerInfo
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()[len(lo):]
		if len(k) != 8 {
			return nil, fmt.Errorf("raftsm: partition %d: corrupt producer key %x", p.shardID, it.Key())
		}
		st, err := decodeProducer(it.Value())
		if err != nil {
			return nil, fmt.Errorf("raftsm: partition %d: corrupt producer state: %w", p.shardID, err)
		}
		if st.expired(clock) {
			continue
		}
		info := ProducerInfo{ID: int64(binary.BigEndian.Uint64(k)), Epoch: st.epoch, LastSequence: -1, LastTimestamp: st.last, TxnStartOffset: st.txnFirst}
		if len(st.seqs) > 0 {
			info.LastSequence = st.seqs[len(st.seqs)-1].last
		}
		if st.last == math.MaxInt64 {
			info.LastTimestamp = -1
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, it.Error()
}

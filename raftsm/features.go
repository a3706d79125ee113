package raftsm

import (
	"encoding/binary"
	"fmt"
	"maps"

	"github.com/cockroachdb/pebble/v2"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Finalized feature levels on the meta shard (Kafka's UpdateFeatures,
// KIP-584, what kafka-features.sh upgrade/downgrade set): the level an
// operator gave a feature for the whole cluster. A feature never set here
// follows each broker's config (kafka.transaction-version). Releases before
// LevelTxnV2 refuse the command, so it is not proposed until every broker
// is at that level.
//
// Key schema, after the meta shard prefix: 'V' str(name) → BE16(level)
// BE64(epoch), epoch counting the changes of every feature (the largest is
// the features' epoch, FinalizedFeaturesEpoch in ApiVersions).
const keyFeature = 'V'

// cmdSetFeature is a meta command: set a feature's finalized level.
const cmdSetFeature byte = 44

// FeatureLevels are the feature levels set on the cluster, and the epoch
// of the last change (0 when none was ever set).
type FeatureLevels struct {
	Levels map[string]int16 // never mutated after publication
	Epoch  int64
}

// EncodeSetFeature encodes setting a feature's finalized level (≥ 0; 0
// turns it off). The state machine only stores it: the proposer validates
// the feature and level.
func EncodeSetFeature(name string, level int16) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdSetFeature)
	e.str(name)
	e.i16(level)
	return e.b
}

func (m *Meta) applySetFeature(b *pebble.Batch, d *dec) (sm.Result, bool) {
	name, level := d.str(), d.i16()
	if d.err != nil || len(d.b) != 0 || name == "" || level < 0 {
		return sm.Result{Data: statusData[StatusMalformed]}, false
	}
	if cur, ok := m.features.Levels[name]; ok && cur == level {
		return sm.Result{Value: uint64(m.features.Epoch)}, false
	}
	next := FeatureLevels{Levels: maps.Clone(m.features.Levels), Epoch: m.features.Epoch + 1}
	if next.Levels == nil {
		next.Levels = map[string]int16{}
	}
	next.Levels[name] = level
	v := binary.BigEndian.AppendUint16(nil, uint16(level))
	v = binary.BigEndian.AppendUint64(v, uint64(next.Epoch))
	_ = b.Set(m.key(keyFeature, name), v, nil)
	m.features = next
	return sm.Result{Value: uint64(next.Epoch)}, true
}

func (m *Meta) loadFeatures() error {
	lo, hi := m.key(keyFeature, ""), m.key(keyFeature+1, "")
	it, err := m.store.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	f := FeatureLevels{Levels: map[string]int16{}}
	for ok := it.First(); ok; ok = it.Next() {
		name, v := string(it.Key()[len(lo):]), it.Value()
		if name == "" || len(v) != 10 {
			return fmt.Errorf("raftsm: meta: corrupt feature level %x", it.Key())
		}
		f.Levels[name] = int16(binary.BigEndian.Uint16(v))
		f.Epoch = max(f.Epoch, int64(binary.BigEndian.Uint64(v[2:])))
	}
	if err := it.Error(); err != nil {
		return err
	}
	m.features = f
	return nil
}

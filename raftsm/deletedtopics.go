package raftsm

import (
	"errors"

	"github.com/cockroachdb/pebble/v2"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Deleted topics: cmdDeleteTopic leaves a tombstone with the topic's name
// and UUID, so the meta shard's leader can delete the topic's tiered
// objects (core/broker/deletedtopics.go) and then forget it with
// cmdForgetDeletedTopic. Only topics this cluster deleted are ever cleaned
// up, never another cluster's objects in a shared bucket.

// keyDeletedTopic + the topic UUID → the topic name.
const keyDeletedTopic = 'D'

// cmdForgetDeletedTopic removes a deleted topic's tombstone (meta).
const cmdForgetDeletedTopic byte = 12

// DeletedTopic is a deleted topic whose tiered objects may remain.
type DeletedTopic struct {
	Name string
	ID   [16]byte
}

// DeletedTopics lists the tombstones, by UUID.
func (m *Meta) DeletedTopics() ([]DeletedTopic, error) {
	it, err := m.store.db.NewIter(&pebble.IterOptions{LowerBound: m.key(keyDeletedTopic, ""), UpperBound: m.key(keyDeletedTopic+1, "")})
	if err != nil {
		return nil, err
	}
	var out []DeletedTopic
	for ok := it.First(); ok; ok = it.Next() {
		id := it.Key()[len(m.prefix)+1:]
		if len(id) != 16 {
			return nil, errors.Join(errShortCommand, it.Close())
		}
		t := DeletedTopic{Name: string(it.Value())}
		copy(t.ID[:], id)
		out = append(out, t)
	}
	return out, errors.Join(it.Error(), it.Close())
}

// EncodeForgetDeletedTopic encodes the removal of a deleted topic's
// tombstone (a no-op when there is none).
func EncodeForgetDeletedTopic(id [16]byte) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdForgetDeletedTopic)
	e.b = append(e.b, id[:]...)
	return e.b
}

func (m *Meta) recordDeletedTopic(b *pebble.Batch, t *TopicRecord) {
	_ = b.Set(m.key(keyDeletedTopic, string(t.ID[:])), []byte(t.Name), nil)
}

func (m *Meta) applyForgetDeletedTopic(b *pebble.Batch, d *dec) (sm.Result, bool) {
	if len(d.b) != 16 {
		return sm.Result{Data: statusData[StatusMalformed]}, false
	}
	_ = b.Delete(m.key(keyDeletedTopic, string(d.b)), nil)
	return sm.Result{}, false
}

package raftsm

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/chronik-go/chronik/core/quota"
)

// Client quotas on the meta shard (Kafka's AlterClientQuotas and
// DescribeClientQuotas, KIP-546): the byte rates and the
// controller_mutation_rate (KIP-599) per user, client ID or both that
// every broker enforces on its own traffic, the same on all. Releases
// before LevelTxnVerification refuse controller_mutation_rate, so it is
// not proposed until every broker is at that level.
//
// Key schema, after the meta shard prefix: 'Q' entity → quotaRecordVersion
// uvarint(n) n × (key, BE64(math.Float64bits(value))), keys sorted. The
// entity (encodeEntity) is the user part then the client ID part, each a
// kind byte and a length-prefixed name, so that a named user and the
// default user never share a key. An entity without quotas has no key.
const keyQuota = 'Q'

// quotaRecordVersion is the first byte of every quota value.
const quotaRecordVersion = 1

// cmdAlterQuotas is a meta command: apply alterations of entities' quotas,
// all or none.
const cmdAlterQuotas byte = 43

// EncodeAlterQuotas encodes alterations of quotas. Applying it validates
// every alteration (quota.Alteration.Validate) and, if one is invalid,
// changes nothing and answers StatusMalformed; otherwise it applies them
// in order as quota.Set.Apply does: a removed last quota removes the
// entity. Applying it twice leaves the quotas as applying it once does.
func EncodeAlterQuotas(alts []quota.Alteration) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdAlterQuotas)
	e.uvarint(uint64(len(alts)))
	for _, a := range alts {
		encodeEntity(&e, a.Entity)
		e.uvarint(uint64(len(a.Ops)))
		for _, op := range a.Ops {
			e.str(op.Key)
			if op.Remove {
				e.u8(1)
				continue
			}
			e.u8(0)
			e.u64(math.Float64bits(op.Value))
		}
	}
	return e.b
}

func encodeEntity(e *enc, x quota.Entity) {
	for _, p := range []quota.Part{x.User, x.ClientID} {
		e.u8(byte(p.Kind))
		e.str(p.Name)
	}
}

func decodeEntity(d *dec) quota.Entity {
	var x quota.Entity
	for _, p := range []*quota.Part{&x.User, &x.ClientID} {
		p.Kind = quota.PartKind(d.u8())
		p.Name = d.str()
	}
	return x
}

func decodeAlterQuotas(d *dec) []quota.Alteration {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = errShortCommand
	}
	alts := make([]quota.Alteration, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		a := quota.Alteration{Entity: decodeEntity(d)}
		k := d.uvarint()
		if d.err == nil && k > uint64(len(d.b)) {
			d.err = errShortCommand
		}
		for j := uint64(0); j < k && d.err == nil; j++ {
			op := quota.Op{Key: d.str()}
			switch d.u8() {
			case 0:
				op.Value = math.Float64frombits(d.u64())
			case 1:
				op.Remove = true
			default:
				if d.err == nil {
					d.err = errShortCommand
				}
			}
			a.Ops = append(a.Ops, op)
		}
		alts = append(alts, a)
	}
	return alts
}

func encodeQuotaValue(q map[string]float64) []byte {
	e := enc{}
	e.u8(quotaRecordVersion)
	keys := slices.Sorted(maps.Keys(q)) // deterministic bytes
	e.uvarint(uint64(len(keys)))
	for _, k := range keys {
		e.str(k)
		e.u64(math.Float64bits(q[k]))
	}
	return e.b
}

func decodeQuotaValue(v []byte) (map[string]float64, error) {
	d := dec{b: v}
	if d.u8() != quotaRecordVersion && d.err == nil {
		return nil, errSnapshotFormat
	}
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = errShortCommand
	}
	q := make(map[string]float64, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		k := d.str()
		q[k] = math.Float64frombits(d.u64())
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errShortCommand
	}
	return q, d.err
}

func (m *Meta) quotaKey(x quota.Entity) []byte {
	e := enc{b: m.key(keyQuota, "")}
	encodeEntity(&e, x)
	return e.b
}

// applyAlterQuotas applies the command's alterations, all or none. It
// reports a change, and replaces m.quotas, only when an entity's quotas
// differ afterwards, so that the published *quota.Set stays the same
// otherwise (setting a quota to the value it has, or removing one that
// does not exist, changes nothing).
func (m *Meta) applyAlterQuotas(b *pebble.Batch, d *dec) (sm.Result, bool) {
	alts := decodeAlterQuotas(d)
	if d.err != nil {
		return sm.Result{Data: statusData[StatusMalformed]}, false
	}
	for _, a := range alts {
		if a.Validate() != nil {
			return sm.Result{Data: statusData[StatusMalformed]}, false
		}
	}
	next := m.quotas.Apply(alts)
	changed := false
	done := map[quota.Entity]bool{}
	for _, a := range alts {
		if done[a.Entity] {
			continue // altered twice in the command: written once, as it ends
		}
		done[a.Entity] = true
		q := next.Quotas(a.Entity)
		if maps.Equal(q, m.quotas.Quotas(a.Entity)) {
			continue
		}
		changed = true
		if len(q) == 0 {
			_ = b.Delete(m.quotaKey(a.Entity), nil)
		} else {
			_ = b.Set(m.quotaKey(a.Entity), encodeQuotaValue(q), nil)
		}
	}
	if !changed {
		return sm.Result{}, false
	}
	m.quotas = next
	return sm.Result{}, true
}

func (m *Meta) loadQuotas() error {
	lo, hi := m.key(keyQuota, ""), m.key(keyQuota+1, "")
	it, err := m.store.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	quotas := map[quota.Entity]map[string]float64{}
	for ok := it.First(); ok; ok = it.Next() {
		d := dec{b: it.Key()[len(lo):]}
		x := decodeEntity(&d)
		if d.err != nil || len(d.b) != 0 || x.Validate() != nil {
			return fmt.Errorf("raftsm: meta: corrupt quota key %x", it.Key())
		}
		q, err := decodeQuotaValue(it.Value())
		if err != nil {
			return fmt.Errorf("raftsm: meta: corrupt quotas of %s: %w", x, err)
		}
		quotas[x] = q
	}
	if err := it.Error(); err != nil {
		return err
	}
	m.quotas = quota.NewSet(quotas)
	return nil
}

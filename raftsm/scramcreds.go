package raftsm

import (
	"bytes"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// SCRAM credentials on the meta shard (Kafka's AlterUserScramCredentials,
// KIP-554): what a broker keeps of a user's password instead of the
// password (RFC 5802 §3), per user and mechanism, the same on every broker.
//
// Key schema, after the meta shard prefix: 'S' mechanism-byte user →
// BE32(iterations) salt storedKey serverKey (length-prefixed).
const keyScram = 'S'

const (
	cmdSetScram    byte = 39 // meta: add or replace a user's credential
	cmdDeleteScram byte = 40 // meta: remove a user's credential
)

// StatusUnknownScram means a deletion named a credential that does not
// exist.
const StatusUnknownScram Status = 21

// ScramMechanism is a SCRAM mechanism as stored: Kafka's numbering
// (1 SCRAM-SHA-256, 2 SCRAM-SHA-512).
type ScramMechanism byte

// The SCRAM mechanisms.
const (
	ScramSHA256 ScramMechanism = 1
	ScramSHA512 ScramMechanism = 2
)

// ScramCredential is one user's stored credential for one mechanism.
type ScramCredential struct {
	User       string
	Mechanism  ScramMechanism
	Iterations int32
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
}

// scramID names a credential.
type scramID struct {
	user string
	mech ScramMechanism
}

// EncodeSetScram encodes the creation or replacement of a credential.
func EncodeSetScram(c ScramCredential) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdSetScram)
	e.str(c.User)
	encodeScramValue(&e, c)
	e.u8(byte(c.Mechanism))
	return e.b
}

// EncodeDeleteScram encodes the removal of a user's credential for mech.
func EncodeDeleteScram(user string, mech ScramMechanism) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdDeleteScram)
	e.str(user)
	e.u8(byte(mech))
	return e.b
}

func encodeScramValue(e *enc, c ScramCredential) {
	e.i32(c.Iterations)
	e.bytes(c.Salt)
	e.bytes(c.StoredKey)
	e.bytes(c.ServerKey)
}

func decodeScramValue(d *dec, c *ScramCredential) {
	c.Iterations = d.i32()
	c.Salt = bytes.Clone(d.bytes())
	c.StoredKey = bytes.Clone(d.bytes())
	c.ServerKey = bytes.Clone(d.bytes())
}

func validScram(c ScramCredential) bool {
	return c.User != "" && (c.Mechanism == ScramSHA256 || c.Mechanism == ScramSHA512) &&
		c.Iterations > 0 && len(c.Salt) > 0 && len(c.StoredKey) > 0 && len(c.ServerKey) > 0
}

func (m *Meta) scramKey(id scramID) []byte {
	return m.key(keyScram, string([]byte{byte(id.mech)})+id.user)
}

func (m *Meta) applySetScram(b *pebble.Batch, d *dec) (sm.Result, bool) {
	var c ScramCredential
	c.User = d.str()
	decodeScramValue(d, &c)
	c.Mechanism = ScramMechanism(d.u8())
	if d.err != nil || !validScram(c) {
		return sm.Result{Data: statusData[StatusMalformed]}, false
	}
	id := scramID{c.User, c.Mechanism}
	m.scram[id] = c
	e := enc{}
	encodeScramValue(&e, c)
	_ = b.Set(m.scramKey(id), e.b, nil)
	return sm.Result{}, true
}

func (m *Meta) applyDeleteScram(b *pebble.Batch, d *dec) (sm.Result, bool) {
	id := scramID{user: d.str(), mech: ScramMechanism(d.u8())}
	if d.err != nil || id.user == "" {
		return sm.Result{Data: statusData[StatusMalformed]}, false
	}
	if _, ok := m.scram[id]; !ok {
		return sm.Result{Data: statusData[StatusUnknownScram]}, false
	}
	delete(m.scram, id)
	_ = b.Delete(m.scramKey(id), nil)
	return sm.Result{}, true
}

func (m *Meta) loadScram() error {
	m.scram = map[scramID]ScramCredential{}
	lo, hi := m.key(keyScram, ""), m.key(keyScram+1, "")
	it, err := m.store.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()[len(lo):]
		if len(k) < 2 {
			return fmt.Errorf("raftsm: meta: corrupt SCRAM key %x", it.Key())
		}
		c := ScramCredential{Mechanism: ScramMechanism(k[0]), User: string(k[1:])}
		d := dec{b: it.Value()}
		decodeScramValue(&d, &c)
		if d.err != nil {
			return fmt.Errorf("raftsm: meta: corrupt SCRAM credential of %q", c.User)
		}
		m.scram[scramID{c.User, c.Mechanism}] = c
	}
	return it.Error()
}

// scramView is the credentials for a MetaView: user → mechanism →
// credential.
func (m *Meta) scramView() map[string]map[ScramMechanism]ScramCredential {
	out := make(map[string]map[ScramMechanism]ScramCredential, len(m.scram))
	for id, c := range m.scram {
		if out[id.user] == nil {
			out[id.user] = map[ScramMechanism]ScramCredential{}
		}
		out[id.user][id.mech] = c
	}
	return out
}

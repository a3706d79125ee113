package raftsm

import (
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Delegation tokens on the meta shard (KIP-48): who may authenticate with
// a token, until when, and who may renew it, the same on every broker.
// A token's secret (its HMAC) is not stored: every broker derives it from
// the token's ID and kafka.delegation-token-secret-key.
//
// Key schema, after the meta shard prefix: 'K' tokenID → owner requester
// renewers issued expires maxLifetime.
const keyToken = 'K'

const (
	cmdCreateToken byte = 45 // meta: add a delegation token
	cmdRenewToken  byte = 46 // meta: set a token's expiry
	cmdDeleteToken byte = 47 // meta: remove a token (expired, or ended by its owner)
)

// StatusUnknownToken means a renewal or removal named a token that does
// not exist; StatusDuplicateToken a creation an ID that does.
const (
	StatusUnknownToken   Status = 37
	StatusDuplicateToken Status = 38
)

// DelegationToken is one token. Principals are "User:alice"; times are
// Unix milliseconds.
type DelegationToken struct {
	ID          string
	Owner       string   // whom the token authenticates as
	Requester   string   // who created it (the owner, or one allowed to create tokens for it)
	Renewers    []string // who may renew it besides the owner
	Issued      int64
	Expires     int64 // renewals move it, never past MaxLifetime
	MaxLifetime int64
}

// EncodeCreateToken encodes the creation of a token.
func EncodeCreateToken(t DelegationToken) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdCreateToken)
	e.str(t.ID)
	encodeTokenValue(&e, t)
	return e.b
}

// EncodeRenewToken encodes a token's new expiry.
func EncodeRenewToken(id string, expires int64) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdRenewToken)
	e.str(id)
	e.i64(expires)
	return e.b
}

// EncodeDeleteToken encodes the removal of a token.
func EncodeDeleteToken(id string) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdDeleteToken)
	e.str(id)
	return e.b
}

func encodeTokenValue(e *enc, t DelegationToken) {
	e.str(t.Owner)
	e.str(t.Requester)
	e.uvarint(uint64(len(t.Renewers)))
	for _, r := range t.Renewers {
		e.str(r)
	}
	e.i64(t.Issued)
	e.i64(t.Expires)
	e.i64(t.MaxLifetime)
}

func decodeTokenValue(d *dec, t *DelegationToken) {
	t.Owner = d.str()
	t.Requester = d.str()
	n := d.uvarint()
	if n > 1<<16 {
		d.err = errShortCommand
		return
	}
	t.Renewers = nil
	for range n {
		t.Renewers = append(t.Renewers, d.str())
	}
	t.Issued = d.i64()
	t.Expires = d.i64()
	t.MaxLifetime = d.i64()
}

func validToken(t DelegationToken) bool {
	return t.ID != "" && t.Owner != "" && t.Requester != "" && t.Issued > 0 &&
		t.Expires >= t.Issued && t.MaxLifetime >= t.Expires
}

func sameToken(a, b DelegationToken) bool {
	return a.ID == b.ID && a.Owner == b.Owner && a.Requester == b.Requester && slices.Equal(a.Renewers, b.Renewers) &&
		a.Issued == b.Issued && a.Expires == b.Expires && a.MaxLifetime == b.MaxLifetime
}

func (m *Meta) tokenKey(id string) []byte { return m.key(keyToken, id) }

func (m *Meta) putToken(b *pebble.Batch, t DelegationToken) {
	e := enc{}
	encodeTokenValue(&e, t)
	_ = b.Set(m.tokenKey(t.ID), e.b, nil)
	m.tokens[t.ID] = t
}

func (m *Meta) applyCreateToken(b *pebble.Batch, d *dec) (sm.Result, bool) {
	t := DelegationToken{ID: d.str()}
	decodeTokenValue(d, &t)
	if d.err != nil || !validToken(t) {
		return sm.Result{Data: statusData[StatusMalformed]}, false
	}
	if had, ok := m.tokens[t.ID]; ok {
		if sameToken(had, t) {
			return sm.Result{}, false // a proposal retried after it committed
		}
		return sm.Result{Data: statusData[StatusDuplicateToken]}, false
	}
	m.putToken(b, t)
	return sm.Result{}, true
}

func (m *Meta) applyRenewToken(b *pebble.Batch, d *dec) (sm.Result, bool) {
	id, expires := d.str(), d.i64()
	if d.err != nil || id == "" {
		return sm.Result{Data: statusData[StatusMalformed]}, false
	}
	t, ok := m.tokens[id]
	if !ok {
		return sm.Result{Data: statusData[StatusUnknownToken]}, false
	}
	t.Expires = min(max(expires, t.Issued), t.MaxLifetime)
	m.putToken(b, t)
	return sm.Result{}, true
}

func (m *Meta) applyDeleteToken(b *pebble.Batch, d *dec) (sm.Result, bool) {
	id := d.str()
	if d.err != nil || id == "" {
		return sm.Result{Data: statusData[StatusMalformed]}, false
	}
	if _, ok := m.tokens[id]; !ok {
		return sm.Result{Data: statusData[StatusUnknownToken]}, false
	}
	delete(m.tokens, id)
	_ = b.Delete(m.tokenKey(id), nil)
	return sm.Result{}, true
}

func (m *Meta) loadTokens() error {
	m.tokens = map[string]DelegationToken{}
	lo, hi := m.key(keyToken, ""), m.key(keyToken+1, "")
	it, err := m.store.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		t := DelegationToken{ID: string(it.Key()[len(lo):])}
		d := dec{b: it.Value()}
		decodeTokenValue(&d, &t)
		if d.err != nil || t.ID == "" {
			return fmt.Errorf("raftsm: meta: corrupt delegation token %q", t.ID)
		}
		m.tokens[t.ID] = t
	}
	return it.Error()
}

// tokensView copies the tokens for a MetaView.
func (m *Meta) tokensView() map[string]DelegationToken {
	out := make(map[string]DelegationToken, len(m.tokens))
	for id, t := range m.tokens {
		out[id] = t
	}
	return out
}

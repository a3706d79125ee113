// Package kerberos accepts Kerberos V5 logins for SASL's GSSAPI mechanism
// (RFC 4752 over the Kerberos GSS-API mechanism, RFC 4121), as Kafka's
// SASL_PLAINTEXT and SASL_SSL listeners do with sasl.mechanism=GSSAPI.
//
// The broker needs its service key in a keytab and never talks to a KDC: a
// client's first token carries an AP-REQ with a service ticket the KDC
// encrypted in that key, and its authenticator, which proves the client
// holds the ticket's session key. When the client asks for mutual
// authentication (MIT's GSS-API and the Java client do) the broker answers
// with an AP-REP. Then the SASL security-layer negotiation: the broker offers
// no security layer (Kafka never uses one; TLS protects a connection), the
// client agrees, and it is in as the user its principal maps to (Rules:
// by default the short name, for principals of the broker's realm).
//
// Only RFC 4121's tokens (AES and newer encryption types) are understood;
// DES and RC4 keys, obsolete everywhere, are refused.
package kerberos

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

// MaxClockSkew is how far a client's clock may be from the broker's (the
// Kerberos default, krb5.conf's clockskew).
const MaxClockSkew = 5 * time.Minute

// Acceptor checks logins to one service (Kafka's sasl.kerberos.service.name,
// "kafka" by default) against a keytab. It is safe for concurrent use.
type Acceptor struct {
	kt         *keytab.Keytab
	service    string
	rules      Rules
	principals []string // the keytab's principals of the service, for the log
}

// NewAcceptor returns an acceptor for tickets to service/<host>@REALM (or
// service@REALM) whose keys kt holds, mapping clients to users with rules
// (nil: DEFAULT); it fails when kt has no key of the service.
func NewAcceptor(kt *keytab.Keytab, service string, rules Rules) (*Acceptor, error) {
	if service == "" {
		return nil, errors.New("no Kerberos service name")
	}
	a := &Acceptor{kt: kt, service: service, rules: rules}
	for _, e := range kt.Entries {
		if len(e.Principal.Components) > 0 && e.Principal.Components[0] == service {
			if p := e.Principal.String(); !slices.Contains(a.principals, p) {
				a.principals = append(a.principals, p)
			}
		}
	}
	if len(a.principals) == 0 {
		return nil, fmt.Errorf("the keytab has no key for the service %q (a principal %s/<host>@<REALM>)", service, service)
	}
	return a, nil
}

// Load reads a keytab file and returns an acceptor for service.
func Load(path, service string, rules Rules) (*Acceptor, error) {
	kt, err := keytab.Load(path)
	if err != nil {
		return nil, fmt.Errorf("keytab %s: %w", path, err)
	}
	a, err := NewAcceptor(kt, service, rules)
	if err != nil {
		return nil, fmt.Errorf("keytab %s: %w", path, err)
	}
	return a, nil
}

// Principals are the service principals logins are accepted for.
func (a *Acceptor) Principals() []string { return a.principals }

// Start begins one client's login.
func (a *Acceptor) Start() *Exchange { return &Exchange{a: a} }

// The steps of an exchange: the client's next token is
const (
	stepContext  = iota // its GSS-API initial context token (the AP-REQ)
	stepAfterRep        // empty, after the AP-REP of mutual authentication
	stepLayer           // its choice of security layer, wrapped
	stepDone            // nothing: authenticated
)

// Exchange is one client's login; only one goroutine may use it.
type Exchange struct {
	a         *Acceptor
	step      int
	key       types.EncryptionKey // the wrap tokens' key: the client's subkey, else the session key
	sendSeq   uint64              // our wrap tokens' sequence number (the AP-REP's, or 0)
	user      string              // the client's short name, once its ticket is good
	principal string              // and its principal, name@REALM
}

// securityLayerNone is RFC 4752's bit for "no security layer".
const securityLayerNone = 0x01

// Next takes the client's next token and returns the broker's answer; user
// is the client's name once it has authenticated (the last answer is then
// empty). An error ends the exchange: the client is not in.
func (e *Exchange) Next(token []byte) (out []byte, user string, err error) {
	switch e.step {
	case stepContext:
		return e.acceptContext(token)
	case stepAfterRep:
		if len(token) != 0 {
			return nil, "", errors.New("expected an empty token after the AP-REP")
		}
		e.step = stepLayer
		out, err := e.offerLayers()
		return out, "", err
	case stepLayer:
		if err := e.acceptLayer(token); err != nil {
			return nil, "", err
		}
		e.step = stepDone
		return nil, e.user, nil
	default:
		return nil, "", errors.New("the GSSAPI exchange is over")
	}
}

// acceptContext checks the client's AP-REQ and answers with the AP-REP if
// the client wants mutual authentication, else with the security layers.
func (e *Exchange) acceptContext(token []byte) ([]byte, string, error) {
	var tok spnego.KRB5Token
	if err := tok.Unmarshal(token); err != nil {
		return nil, "", fmt.Errorf("not a Kerberos GSS-API token: %w", err)
	}
	if !tok.IsAPReq() {
		return nil, "", errors.New("the first Kerberos token is not an AP-REQ")
	}
	req := tok.APReq
	if sname := req.Ticket.SName.NameString; len(sname) == 0 || sname[0] != e.a.service {
		return nil, "", fmt.Errorf("the ticket is for %s, not the service %q", req.Ticket.SName.PrincipalNameString(), e.a.service)
	}
	settings := service.NewSettings(e.a.kt, service.MaxClockSkew(MaxClockSkew), service.DecodePAC(false))
	if ok, _, err := service.VerifyAPREQ(&req, settings); !ok || err != nil {
		if err == nil {
			err = errors.New("the AP-REQ is not valid")
		}
		return nil, "", fmt.Errorf("ticket for %s@%s: %w", req.Ticket.SName.PrincipalNameString(), req.Ticket.Realm, err)
	}
	client, realm := req.Ticket.DecryptedEncPart.CName, req.Ticket.DecryptedEncPart.CRealm
	if len(client.NameString) == 0 || client.NameString[0] == "" {
		return nil, "", errors.New("the ticket names no client")
	}
	user, err := e.a.rules.ShortName(client.NameString, realm, req.Ticket.Realm)
	if err != nil {
		return nil, "", err
	}
	e.user, e.principal = user, client.PrincipalNameString()+"@"+realm
	e.key = req.Ticket.DecryptedEncPart.Key
	if sub := req.Authenticator.SubKey; sub.KeyType != 0 && len(sub.KeyValue) > 0 {
		e.key = sub
	}
	if _, err := crypto.GetEtype(e.key.KeyType); err != nil || !cfxEtype(e.key.KeyType) {
		return nil, "", fmt.Errorf("encryption type %d is not supported: use AES keys", e.key.KeyType)
	}
	if !mutual(req) {
		e.step = stepLayer
		out, err := e.offerLayers()
		return out, "", err
	}
	var seq [4]byte
	if _, err := rand.Read(seq[:]); err != nil {
		return nil, "", err
	}
	e.sendSeq = uint64(binary.BigEndian.Uint32(seq[:]) & 0x3fffffff)
	rep, err := apRep(req, e.sendSeq)
	if err != nil {
		return nil, "", err
	}
	e.step = stepAfterRep
	return rep, "", nil
}

// cfxEtype reports whether RFC 4121's tokens use keys of etype: the AES
// types and their successors, not DES or RC4.
func cfxEtype(etype int32) bool { return etype >= 17 && etype != 23 && etype != 24 }

// mutual reports whether the client asked for mutual authentication: in the
// AP-REQ's options or in the GSS-API checksum's flags (RFC 4121 §4.1.1).
func mutual(req messages.APReq) bool {
	if len(req.APOptions.Bytes) > 0 && types.IsFlagSet(&req.APOptions, flags.APOptionMutualRequired) {
		return true
	}
	c := req.Authenticator.Cksum
	return c.CksumType == chksumtype.GSSAPI && len(c.Checksum) >= 24 &&
		binary.LittleEndian.Uint32(c.Checksum[20:24])&uint32(gssapi.ContextFlagMutual) != 0
}

// apRep is the GSS-API token of the AP-REP answering req: its
// authenticator's time, encrypted in the ticket's session key (RFC 4120
// §3.2.4), with the sequence number of the broker's tokens.
func apRep(req messages.APReq, seq uint64) ([]byte, error) {
	part, err := asn1.Marshal(messages.EncAPRepPart{
		CTime:          req.Authenticator.CTime.UTC(),
		Cusec:          req.Authenticator.Cusec,
		SequenceNumber: int64(seq),
	})
	if err != nil {
		return nil, err
	}
	enc, err := crypto.GetEncryptedData(asn1tools.AddASNAppTag(part, asnAppTag.EncAPRepPart),
		req.Ticket.DecryptedEncPart.Key, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		return nil, err
	}
	rep, err := asn1.Marshal(messages.APRep{PVNO: 5, MsgType: msgtype.KRB_AP_REP, EncPart: enc})
	if err != nil {
		return nil, err
	}
	oid, err := asn1.Marshal(gssapi.OIDKRB5.OID())
	if err != nil {
		return nil, err
	}
	inner := append(append(oid, 0x02, 0x00), asn1tools.AddASNAppTag(rep, asnAppTag.APREP)...)
	return asn1tools.AddASNAppTag(inner, 0), nil // RFC 2743's token framing
}

// offerLayers is the broker's wrapped offer (RFC 4752 §3.1): no security
// layer, and so no maximum message size.
func (e *Exchange) offerLayers() ([]byte, error) {
	etype, err := crypto.GetEtype(e.key.KeyType)
	if err != nil {
		return nil, err
	}
	wt := gssapi.WrapToken{
		Flags:     0x01, // sent by the acceptor
		EC:        uint16(etype.GetHMACBitLength() / 8),
		SndSeqNum: e.sendSeq,
		Payload:   []byte{securityLayerNone, 0, 0, 0},
	}
	if err := wt.SetCheckSum(e.key, keyusage.GSSAPI_ACCEPTOR_SEAL); err != nil {
		return nil, err
	}
	return wt.Marshal()
}

// acceptLayer checks the client's wrapped answer: no security layer, and
// an authorization identity, if any, that is the client itself.
func (e *Exchange) acceptLayer(token []byte) error {
	var wt gssapi.WrapToken
	if err := wt.Unmarshal(unrotate(token), false); err != nil {
		return fmt.Errorf("the security layer answer: %w", err)
	}
	if wt.Flags&0x02 != 0 {
		return errors.New("the security layer answer is sealed: only integrity-protected tokens are supported")
	}
	wt.RRC = 0
	if ok, err := wt.Verify(e.key, keyusage.GSSAPI_INITIATOR_SEAL); !ok {
		return fmt.Errorf("the security layer answer: %w", err)
	}
	if len(wt.Payload) < 4 {
		return errors.New("the security layer answer is shorter than 4 bytes")
	}
	if wt.Payload[0] != securityLayerNone {
		return fmt.Errorf("the client chose security layers %#x: only none (1) is offered", wt.Payload[0])
	}
	if authz := string(wt.Payload[4:]); authz != "" && authz != e.user && authz != e.principal {
		return fmt.Errorf("authorization identity %q is not the client %s", authz, e.principal)
	}
	return nil
}

// unrotate undoes a wrap token's right rotation (RFC 4121 §4.2.5: RRC
// bytes of its data moved to the front), leaving RRC as it was.
func unrotate(token []byte) []byte {
	if len(token) < gssapi.HdrLen {
		return token
	}
	data := token[gssapi.HdrLen:]
	rrc := int(binary.BigEndian.Uint16(token[6:8]))
	if rrc == 0 || len(data) == 0 {
		return token
	}
	rrc %= len(data)
	out := append([]byte(nil), token[:gssapi.HdrLen]...)
	out = append(out, data[rrc:]...)
	return append(out, data[:rrc]...)
}

package kerberos

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

// The tests play the KDC (gokrb5's ticket encryption with the service's
// keytab) and the client (what franz-go and sarama send, and what MIT's
// GSS-API sends: a subkey and mutual authentication); integration tests
// with a real MIT KDC and real clients are in the kafka package.

const realm = "CHRONIK.TEST"

// serviceKeytab is a keytab with the keys of principal@realm.
func serviceKeytab(t testing.TB, principal, password string, etype int32) *keytab.Keytab {
	t.Helper()
	kt := keytab.New()
	if err := kt.AddEntry(principal, realm, password, time.Now(), 1, etype); err != nil {
		t.Fatal(err)
	}
	return kt
}

// login is what a client sends: how it builds its first token.
type login struct {
	client      string // the client's principal name, "alice"
	clientRealm string // "" for realm
	service     string // the ticket's service principal, "kafka/broker"
	kt          *keytab.Keytab
	etype       int32
	start, end  time.Time     // the ticket's validity; zero: now and an hour on
	clockOff    time.Duration // the client's clock against ours
	mutual      bool          // ask for mutual authentication (MIT, Java)
	subkey      bool          // send a subkey in the authenticator (MIT, Java)
}

// token returns the GSS-API initial context token and the key the
// client's wrap tokens use (its subkey, else the session key) and the
// session key.
func (l login) token(t testing.TB) (tok []byte, key, session types.EncryptionKey, auth types.Authenticator) {
	t.Helper()
	crealm := l.clientRealm
	if crealm == "" {
		crealm = realm
	}
	if l.start.IsZero() {
		l.start, l.end = time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	}
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, l.client)
	sname := types.NewPrincipalName(nametype.KRB_NT_SRV_INST, l.service)
	tkt, session, err := messages.NewTicket(cname, crealm, sname, realm, types.NewKrbFlags(), l.kt, l.etype, 1, l.start, l.start, l.end, l.end)
	if err != nil {
		t.Fatal(err)
	}
	auth, err = types.NewAuthenticator(crealm, cname)
	if err != nil {
		t.Fatal(err)
	}
	auth.CTime = auth.CTime.Add(l.clockOff)
	gssFlags := uint32(gssapi.ContextFlagInteg | gssapi.ContextFlagConf)
	if l.mutual {
		gssFlags |= uint32(gssapi.ContextFlagMutual)
	}
	cksum := make([]byte, 24)
	cksum[0] = 16
	cksum[20], cksum[21] = byte(gssFlags), byte(gssFlags>>8)
	auth.Cksum = types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: cksum}
	key = session
	if l.subkey {
		if err := auth.GenerateSeqNumberAndSubKey(session.KeyType, len(session.KeyValue)); err != nil {
			t.Fatal(err)
		}
		key = auth.SubKey
	}
	req, err := messages.NewAPReq(tkt, session, auth)
	if err != nil {
		t.Fatal(err)
	}
	if l.mutual {
		types.SetFlag(&req.APOptions, flags.APOptionMutualRequired)
	}
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	oid, _ := asn1.Marshal(gssapi.OIDKRB5.OID())
	return asn1tools.AddASNAppTag(append(append(oid, 1, 0), b...), 0), key, session, auth
}

func newLogin() login {
	return login{client: "alice", service: "kafka/broker"}
}

func newAcceptor(t testing.TB, l *login) *Acceptor {
	t.Helper()
	if l.etype == 0 {
		l.etype = etypeID.AES256_CTS_HMAC_SHA1_96
	}
	if l.kt == nil {
		l.kt = serviceKeytab(t, l.service, "service-secret", l.etype)
	}
	a, err := NewAcceptor(l.kt, "kafka", nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// answerLayers checks the broker's wrapped offer and answers it as the
// Go clients do (echoing it back), with payload appended.
func answerLayers(t testing.TB, offer []byte, key types.EncryptionKey, wantSeq uint64, extra []byte) []byte {
	t.Helper()
	var wt gssapi.WrapToken
	if err := wt.Unmarshal(offer, true); err != nil {
		t.Fatalf("the offer: %v", err)
	}
	if ok, err := wt.Verify(key, keyusage.GSSAPI_ACCEPTOR_SEAL); !ok {
		t.Fatalf("the offer's checksum: %v", err)
	}
	if !bytes.Equal(wt.Payload, []byte{1, 0, 0, 0}) || wt.SndSeqNum != wantSeq {
		t.Fatalf("offer %x with sequence number %d, want 01000000 and %d", wt.Payload, wt.SndSeqNum, wantSeq)
	}
	answer, err := gssapi.NewInitiatorWrapToken(append(wt.Payload, extra...), key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := answer.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The Go clients' login (franz-go, sarama): no mutual authentication, no
// subkey; the offer comes right after the AP-REQ.
func TestLoginWithoutMutualAuthentication(t *testing.T) {
	l := newLogin()
	a := newAcceptor(t, &l)
	tok, key, _, _ := l.token(t)
	e := a.Start()
	offer, user, err := e.Next(tok)
	if err != nil || user != "" {
		t.Fatalf("AP-REQ: user %q, %v", user, err)
	}
	done, user, err := e.Next(answerLayers(t, offer, key, 0, nil))
	if err != nil || user != "alice" || len(done) != 0 {
		t.Fatalf("layer answer: %x, user %q, %v", done, user, err)
	}
	if _, _, err := e.Next(nil); err == nil {
		t.Fatal("a token after the login was taken")
	}
}

// MIT's and Java's login: a subkey and mutual authentication, so an AP-REP
// the client checks (its authenticator's time, in the session key), an
// empty token, then the offer under the subkey with the AP-REP's sequence
// number. The authorization identity may be the client's principal.
func TestLoginWithMutualAuthentication(t *testing.T) {
	for _, etype := range []int32{etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.AES256_CTS_HMAC_SHA1_96, etypeID.AES128_CTS_HMAC_SHA256_128} {
		l := newLogin()
		l.client, l.service, l.mutual, l.subkey, l.etype = "bob/admin", "kafka/broker.example", true, true, etype
		a := newAcceptor(t, &l)
		tok, key, session, auth := l.token(t)
		e := a.Start()
		rep, user, err := e.Next(tok)
		if err != nil || user != "" {
			t.Fatalf("etype %d AP-REQ: user %q, %v", etype, user, err)
		}
		var k spnego.KRB5Token
		if err := k.Unmarshal(rep); err != nil || !k.IsAPRep() {
			t.Fatalf("etype %d: the answer is not an AP-REP token: %v", etype, err)
		}
		plain, err := crypto.DecryptEncPart(k.APRep.EncPart, session, keyusage.AP_REP_ENCPART)
		if err != nil {
			t.Fatalf("etype %d: the AP-REP does not decrypt with the session key: %v", etype, err)
		}
		var part messages.EncAPRepPart
		if err := part.Unmarshal(plain); err != nil {
			t.Fatal(err)
		}
		if !part.CTime.Equal(auth.CTime.Truncate(time.Second)) || part.Cusec != auth.Cusec {
			t.Fatalf("etype %d: AP-REP time %v.%06d, authenticator's %v.%06d", etype, part.CTime, part.Cusec, auth.CTime, auth.Cusec)
		}
		offer, user, err := e.Next(nil)
		if err != nil || user != "" {
			t.Fatalf("etype %d empty token: user %q, %v", etype, user, err)
		}
		_, user, err = e.Next(answerLayers(t, offer, key, uint64(part.SequenceNumber), []byte("bob/admin@"+realm)))
		if err != nil || user != "bob" {
			t.Fatalf("etype %d: user %q (want the short name bob), %v", etype, user, err)
		}
	}
}

// Every way a login can be wrong ends it with an error, never with a user.
func TestLoginRefused(t *testing.T) {
	other := func(t *testing.T) *keytab.Keytab {
		return serviceKeytab(t, "kafka/broker", "another-secret", etypeID.AES256_CTS_HMAC_SHA1_96)
	}
	for _, tc := range []struct {
		name    string
		login   func(t *testing.T, l *login) // changes the client's login
		answer  func(t *testing.T, offer []byte, key types.EncryptionKey) []byte
		wantErr string
	}{
		{name: "ticket in another key", login: func(t *testing.T, l *login) { l.kt = other(t) }, wantErr: "ticket for kafka/broker@"},
		{name: "ticket for another service", login: func(t *testing.T, l *login) {
			l.service, l.kt = "HTTP/broker", serviceKeytab(t, "HTTP/broker", "service-secret", etypeID.AES256_CTS_HMAC_SHA1_96)
		}, wantErr: `not the service "kafka"`},
		{name: "expired ticket", login: func(_ *testing.T, l *login) {
			l.start, l.end = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
		}, wantErr: "ticket for kafka/broker@"},
		{name: "clock skew", login: func(_ *testing.T, l *login) { l.clockOff = 10 * time.Minute }, wantErr: "clock skew"},
		{name: "client of another realm", login: func(_ *testing.T, l *login) { l.clientRealm = "ELSEWHERE.TEST" }, wantErr: "no principal-to-local rule maps it"},
		{name: "security layer chosen", answer: func(t *testing.T, _ []byte, key types.EncryptionKey) []byte {
			wt, err := gssapi.NewInitiatorWrapToken([]byte{2, 0, 16, 0}, key)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := wt.Marshal()
			return b
		}, wantErr: "only none"},
		{name: "another authorization identity", answer: func(t *testing.T, offer []byte, key types.EncryptionKey) []byte {
			return answerLayers(t, offer, key, 0, []byte("root"))
		}, wantErr: "authorization identity"},
		{name: "tampered answer", answer: func(t *testing.T, offer []byte, key types.EncryptionKey) []byte {
			b := answerLayers(t, offer, key, 0, nil)
			b[16] ^= 0xff
			return b
		}, wantErr: "checksum mismatch"},
		{name: "answer from an acceptor", answer: func(_ *testing.T, offer []byte, _ types.EncryptionKey) []byte { return offer }, wantErr: "acceptor flag"},
		{name: "short answer", answer: func(*testing.T, []byte, types.EncryptionKey) []byte { return []byte{5, 4} }, wantErr: "shorter than header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLogin()
			a := newAcceptor(t, &l)
			if tc.login != nil {
				tc.login(t, &l)
			}
			tok, key, _, _ := l.token(t)
			e := a.Start()
			offer, user, err := e.Next(tok)
			if err == nil && tc.answer != nil {
				_, user, err = e.Next(tc.answer(t, offer, key))
			}
			if err == nil || user != "" || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("user %q, error %v; want an error with %q", user, err, tc.wantErr)
			}
		})
	}
}

// The same AP-REQ twice (a captured token sent again) is a replay.
func TestReplayedTokenRefused(t *testing.T) {
	l := newLogin()
	a := newAcceptor(t, &l)
	tok, _, _, _ := l.token(t)
	if _, _, err := a.Start().Next(tok); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Start().Next(tok); err == nil || !strings.Contains(err.Error(), "replay") {
		t.Fatalf("replayed AP-REQ: %v", err)
	}
}

// Keys RFC 4121's tokens do not cover (RC4) are refused with a clear error.
func TestRC4Refused(t *testing.T) {
	l := newLogin()
	l.etype = etypeID.RC4_HMAC
	a := newAcceptor(t, &l)
	tok, _, _, _ := l.token(t)
	if _, _, err := a.Start().Next(tok); err == nil || !strings.Contains(err.Error(), "use AES keys") {
		t.Fatalf("RC4 session key: %v", err)
	}
}

func TestNewAcceptorNeedsTheServiceKey(t *testing.T) {
	kt := serviceKeytab(t, "HTTP/broker", "secret", etypeID.AES256_CTS_HMAC_SHA1_96)
	if _, err := NewAcceptor(kt, "kafka", nil); err == nil || !strings.Contains(err.Error(), `no key for the service "kafka"`) {
		t.Fatalf("a keytab without kafka/...: %v", err)
	}
	a, err := NewAcceptor(serviceKeytab(t, "kafka/b1.example", "secret", etypeID.AES256_CTS_HMAC_SHA1_96), "kafka", nil)
	if err != nil || len(a.Principals()) != 1 || a.Principals()[0] != "kafka/b1.example@"+realm {
		t.Fatalf("principals %v, %v", a.Principals(), err)
	}
}

// Whatever the tokens, Next answers or fails; it never panics.
func FuzzExchange(f *testing.F) {
	l := newLogin()
	a := newAcceptor(f, &l)
	tok, key, _, _ := l.token(f)
	offer, _, _ := a.Start().Next(tok)
	f.Add(tok, []byte{})
	f.Add(tok[:len(tok)/2], []byte{})
	f.Add([]byte{0x60, 0x82, 0xff, 0xff}, []byte{})
	wt, _ := gssapi.NewInitiatorWrapToken([]byte{1, 0, 0, 0}, key)
	b, _ := wt.Marshal()
	f.Add(offer, b)
	f.Fuzz(func(_ *testing.T, first, second []byte) {
		e := a.Start()
		if _, user, err := e.Next(first); err != nil || user != "" {
			return
		}
		e.Next(second) //nolint:errcheck // only that it returns
	})
}

// BenchmarkLogin is the broker's side of one Kerberos login as MIT's
// GSS-API does it (AES-256, subkey, mutual authentication): the AP-REQ
// checked, the AP-REP and the offer made, the answer checked. The client's
// side (making the tokens) is not timed.
func BenchmarkLogin(b *testing.B) {
	l := newLogin()
	l.mutual, l.subkey = true, true
	a := newAcceptor(b, &l)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		tok, key, session, _ := l.token(b)
		b.StartTimer()
		e := a.Start()
		rep, _, err := e.Next(tok)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		var k spnego.KRB5Token
		if err := k.Unmarshal(rep); err != nil {
			b.Fatal(err)
		}
		plain, err := crypto.DecryptEncPart(k.APRep.EncPart, session, keyusage.AP_REP_ENCPART)
		if err != nil {
			b.Fatal(err)
		}
		var part messages.EncAPRepPart
		if err := part.Unmarshal(plain); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		offer, _, err := e.Next(nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		answer := answerLayers(b, offer, key, uint64(part.SequenceNumber), nil)
		b.StartTimer()
		if _, user, err := e.Next(answer); err != nil || user != "alice" {
			b.Fatal(user, err)
		}
	}
}

// A client of another realm (a cross-realm ticket) is in when a rule maps
// it, as kafka.sasl-kerberos-principal-to-local-rules says.
func TestLoginMappedByRules(t *testing.T) {
	l := newLogin()
	l.client, l.clientRealm = "CAROL", "ELSEWHERE.TEST"
	rules, err := ParseRules([]string{`RULE:[1:$1@$0](.*@ELSEWHERE\.TEST)s/@.*//L`, "DEFAULT"})
	if err != nil {
		t.Fatal(err)
	}
	newAcceptor(t, &l) // the keytab
	a, err := NewAcceptor(l.kt, "kafka", rules)
	if err != nil {
		t.Fatal(err)
	}
	tok, key, _, _ := l.token(t)
	e := a.Start()
	offer, _, err := e.Next(tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, user, err := e.Next(answerLayers(t, offer, key, 0, []byte("CAROL@ELSEWHERE.TEST"))); err != nil || user != "carol" {
		t.Fatalf("user %q, %v; want carol", user, err)
	}
}

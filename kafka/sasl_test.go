package kafka

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/chronik-go/chronik/core/config"
)

// TestSASL: with Config.SASL, franz-go authenticates with PLAIN,
// SCRAM-SHA-256 and SCRAM-SHA-512 and its requests carry "User:<name>";
// a wrong password, an unknown user and a client without SASL get
// nothing but the failure, and a disabled mechanism is refused with the
// list of enabled ones.
// principalLog records the principals of the requests its authorizer
// sees, SASL's own APIs aside.
type principalLog struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (p *principalLog) authorizer() Authorizer {
	return AuthorizerFunc(func(_ context.Context, principal string, key int16, _ kmsg.Request) error {
		if !saslExempt(key) {
			p.mu.Lock()
			if p.seen == nil {
				p.seen = map[string]bool{}
			}
			p.seen[principal] = true
			p.mu.Unlock()
		}
		return nil
	})
}

// all returns a copy of the principals seen; reset forgets them.
func (p *principalLog) all() map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.seen)
}

func (p *principalLog) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.seen)
}

func TestSASL(t *testing.T) {
	users := map[string]string{"alice": "alice-secret", "bob": "bob-secret"}
	var principals principalLog
	ts := startServer(t, Config{
		SASL: &SASL{
			Mechanisms: []string{MechanismScramSHA512, MechanismScramSHA256, MechanismPlain},
			Password:   func(u string) (string, bool) { p, ok := users[u]; return p, ok },
		},
		Authorizer: principals.authorizer(),
	}, nil)
	ping := func(mech sasl.Mechanism) error {
		opts := []kgo.Opt{kgo.DialTimeout(2 * time.Second), kgo.RequestRetries(0)}
		if mech != nil {
			opts = append(opts, kgo.SASL(mech))
		}
		cl := newKgoClient(t, ts, opts...)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Metadata is not SASL-exempt: it needs an authenticated connection.
		_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		return err
	}

	for name, mech := range map[string]sasl.Mechanism{
		"plain":         plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism(),
		"scram-sha-256": scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha256Mechanism(),
		"scram-sha-512": scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha512Mechanism(),
	} {
		if err := ping(mech); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if seen := principals.all(); len(seen) != 2 || !seen["User:alice"] || !seen["User:bob"] {
		t.Fatalf("principals %v, want User:alice and User:bob", seen)
	}

	for name, mech := range map[string]sasl.Mechanism{
		"plain, wrong password":         plain.Auth{User: "alice", Pass: "nope"}.AsMechanism(),
		"scram-sha-256, wrong password": scram.Auth{User: "alice", Pass: "nope"}.AsSha256Mechanism(),
		"scram-sha-512, unknown user":   scram.Auth{User: "mallory", Pass: "x"}.AsSha512Mechanism(),
		"plain, acting as another user": plain.Auth{Zid: "bob", User: "alice", Pass: "alice-secret"}.AsMechanism(),
	} {
		if err := ping(mech); !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("%s: %v, want SASL_AUTHENTICATION_FAILED", name, err)
		}
	}
	if err := ping(nil); err == nil {
		t.Fatal("a client without SASL got a Metadata answer")
	}
	if seen := principals.all(); len(seen) != 2 {
		t.Fatalf("a failed authentication reached the authorizer: %v", seen)
	}
}

// TestSASLMechanismNotEnabled: asking for a mechanism that is not enabled
// fails with UNSUPPORTED_SASL_MECHANISM, and the broker says which are.
func TestSASLMechanismNotEnabled(t *testing.T) {
	ts := startServer(t, Config{SASL: &SASL{
		Mechanisms: []string{MechanismScramSHA512},
		Password:   func(string) (string, bool) { return "", false },
	}}, nil)
	c := ts.dial(t)
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.Version, req.Mechanism = 1, MechanismPlain
	resp := c.do(req).(*kmsg.SASLHandshakeResponse)
	if resp.ErrorCode != kerr.UnsupportedSaslMechanism.Code || strings.Join(resp.SupportedMechanisms, ",") != MechanismScramSHA512 {
		t.Fatalf("handshake for a disabled mechanism: %+v", resp)
	}
}

// FuzzSASLAuthenticate feeds arbitrary tokens to every mechanism's server
// side: no panic, and no authentication without the password. (Its corpus
// keeps ",,," which panicked xdg-go/scram's parser, tried before scram.go.)
func FuzzSASLAuthenticate(f *testing.F) {
	f.Add([]byte("\x00alice\x00alice-secret"), []byte(""))
	f.Add([]byte("n,,n=alice,r=abc"), []byte("c=biws,r=abcdef,p=AAAA"))
	f.Add([]byte("n,a=bob,n=alice,r=x"), []byte("c=,r=,p="))
	f.Add([]byte("n,,\x01auth=Bearer good-token\x01\x01"), []byte(""))
	f.Add([]byte("n,a=alice,\x01host=x\x01auth=bearer good-token\x01\x01"), []byte("\x01"))
	a := &SASL{
		Mechanisms: SASLMechanisms, Password: func(u string) (string, bool) { return "alice-secret", u == "alice" },
		OAuthBearer: func(tok string) (string, time.Time, error) {
			if tok != "good-token" {
				return "", time.Time{}, errors.New("bad token")
			}
			return "alice", time.Now().Add(time.Hour), nil
		},
	}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		for _, mech := range SASLMechanisms {
			st := saslState{mechanism: mech}
			_, user, _, err := st.authenticate(a, first)
			if err == nil && user == "" && mech != MechanismPlain {
				_, user, _, err = st.authenticate(a, second)
			}
			knewPassword := mech == MechanismPlain && strings.HasSuffix(string(first), "\x00alice-secret") ||
				mech == MechanismOAuthBearer && strings.Contains(strings.ToLower(string(first)), "bearer good-token")
			if err == nil && user != "" && !knewPassword {
				t.Fatalf("%s authenticated %q from %q, %q", mech, user, first, second)
			}
		}
	})
}

// TestSASLOAuthBearer: franz-go's OAUTHBEARER client authenticates with a
// token the validator accepts, as the user it names; a refused token, an
// authzid naming someone else and a malformed message fail.
func TestSASLOAuthBearer(t *testing.T) {
	var principals sync.Map
	ts := startServer(t, Config{
		SASL: &SASL{Mechanisms: []string{MechanismOAuthBearer}, OAuthBearer: func(tok string) (string, time.Time, error) {
			if tok != "token-of-alice" {
				return "", time.Time{}, errors.New("expired")
			}
			return "alice", time.Now().Add(time.Hour), nil
		}},
		Authorizer: AuthorizerFunc(func(_ context.Context, principal string, key int16, _ kmsg.Request) error {
			if !saslExempt(key) {
				principals.Store(principal, true)
			}
			return nil
		}),
	}, nil)
	ping := func(a oauth.Auth) error {
		cl := newKgoClient(t, ts, kgo.SASL(a.AsMechanism()), kgo.DialTimeout(2*time.Second), kgo.RequestRetries(0))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		return err
	}
	if err := ping(oauth.Auth{Token: "token-of-alice", Extensions: map[string]string{"traceId": "1"}}); err != nil {
		t.Fatalf("a good token: %v", err)
	}
	if _, ok := principals.Load("User:alice"); !ok {
		t.Fatal("requests after OAUTHBEARER do not carry User:alice")
	}
	if err := ping(oauth.Auth{Token: "token-of-alice", Zid: "alice"}); err != nil {
		t.Fatalf("a good token with the user as authzid: %v", err)
	}
	for name, a := range map[string]oauth.Auth{
		"refused token":      {Token: "stolen"},
		"authzid of another": {Token: "token-of-alice", Zid: "admin"},
	} {
		if err := ping(a); !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Errorf("%s: %v, want SASL_AUTHENTICATION_FAILED", name, err)
		}
	}
	a := &SASL{OAuthBearer: func(string) (string, time.Time, error) { return "alice", time.Now().Add(time.Hour), nil }}
	for _, msg := range []string{"", "n,,", "n,,\x01auth=Basic x\x01\x01", "p=tls,,\x01auth=Bearer t\x01\x01", "n,,\x01auth=Bearer t\x01", "n,,\x01host=h\x01\x01"} {
		if user, _, err := checkOAuthBearer(a, []byte(msg)); err == nil {
			t.Errorf("%q accepted as %q", msg, user)
		}
	}
}

// TestSASLMechanismsMatchConfig: the config accepts exactly the mechanisms
// this package implements.
func TestSASLMechanismsMatchConfig(t *testing.T) {
	if !slices.Equal(SASLMechanisms, config.SASLMechanisms) {
		t.Fatalf("kafka serves %v, config accepts %v", SASLMechanisms, config.SASLMechanisms)
	}
}

// TestScramNonce: a client-final nonce must end with the one the server
// sent: librdkafka's doubled nonce (its own nonce in front again) passes,
// as in Kafka; a nonce without the server's fresh part does not.
func TestScramNonce(t *testing.T) {
	creds, err := deriveScramCreds(scramHash(MechanismScramSHA256), "pw", 4096)
	if err != nil {
		t.Fatal(err)
	}
	salted, err := pbkdf2.Key(sha256.New, "pw", creds.Salt, 4096, sha256.Size)
	if err != nil {
		t.Fatal(err)
	}
	exchange := func(finalNonce func(cnonce, nonce string) string) error {
		c := &scramConv{h: sha256.New, lookup: func(string) (ScramCredential, error) { return creds, nil }}
		first, _, err := c.next("n,,n=u,r=cnonce")
		if err != nil {
			return err
		}
		nonce := strings.TrimPrefix(strings.Split(first, ",")[0], "r=")
		withoutProof := "c=biws,r=" + finalNonce("cnonce", nonce)
		clientKey := hmacSum(sha256.New, salted, []byte("Client Key"))
		sig := hmacSum(sha256.New, creds.StoredKey, []byte("n=u,r=cnonce,"+first+","+withoutProof))
		for i := range clientKey {
			clientKey[i] ^= sig[i]
		}
		_, user, err := c.next(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(clientKey))
		if err == nil && user != "u" {
			err = fmt.Errorf("user %q", user)
		}
		return err
	}
	if err := exchange(func(_, n string) string { return n }); err != nil {
		t.Fatalf("RFC 5802 nonce: %v", err)
	}
	if err := exchange(func(c, n string) string { return c + n }); err != nil {
		t.Fatalf("librdkafka's doubled nonce: %v", err)
	}
	if err := exchange(func(c, _ string) string { return c + "replayed" }); err == nil {
		t.Fatal("a nonce without the server's part was accepted")
	}
}

// saslPlain authenticates c with PLAIN as user (password "<user>-secret")
// and returns the SaslAuthenticate response.
func saslPlain(c *client, mechanism, user string) *kmsg.SASLAuthenticateResponse {
	c.t.Helper()
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, mechanism
	if resp := c.do(hs).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != 0 {
		c.t.Fatalf("SaslHandshake %s: %s", mechanism, codeName(resp.ErrorCode))
	}
	auth := kmsg.NewPtrSASLAuthenticateRequest()
	auth.Version = 2
	auth.SASLAuthBytes = []byte("\x00" + user + "\x00" + user + "-secret")
	return c.do(auth).(*kmsg.SASLAuthenticateResponse)
}

// Re-authentication (KIP-368, SASL.MaxReauth): the session lifetime is
// announced; franz-go authenticates again on its connection and carries on;
// a client that does not is closed at its first request after the end; a
// re-authentication as another user, or with another mechanism, fails and
// closes; an OAUTHBEARER session ends no later than its token.
// requestFor800ms sends cl 8 Metadata requests 100 ms apart, each of which
// must succeed: with sessions shorter than a second, franz-go re-authenticates
// between them.
func requestFor800ms(t *testing.T, cl *kgo.Client) {
	t.Helper()
	for range 8 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		cancel()
		if err != nil {
			t.Fatalf("metadata with re-authentication: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestSASLReauthentication(t *testing.T) {
	var auths atomic.Int64
	users := map[string]string{"alice": "alice-secret", "bob": "bob-secret"}
	const lifetime = 1200 * time.Millisecond
	ts := startServer(t, Config{SASL: &SASL{
		Mechanisms: []string{MechanismPlain, MechanismScramSHA256},
		Password: func(u string) (string, bool) {
			auths.Add(1)
			p, ok := users[u]
			return p, ok
		},
		MaxReauth: lifetime,
	}}, nil)

	// franz-go reauthenticates ahead of the end (at least 1 s early, so
	// here before nearly every request) and never notices otherwise.
	requestFor800ms(t, newKgoClient(t, ts, kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism())))
	if n := auths.Load(); n < 3 {
		t.Errorf("%d authentications in 8 requests over 0.8 s with sessions of %v, want re-authentications", n, lifetime)
	}

	c := ts.dial(t)
	resp := saslPlain(c, MechanismPlain, "alice")
	if resp.ErrorCode != 0 || resp.SessionLifetimeMillis != lifetime.Milliseconds() {
		t.Fatalf("authenticate: %s, session lifetime %d ms, want %d", codeName(resp.ErrorCode), resp.SessionLifetimeMillis, lifetime.Milliseconds())
	}
	// Again on the same connection, as the same user: a new session.
	if resp := saslPlain(c, MechanismPlain, "alice"); resp.ErrorCode != 0 || resp.SessionLifetimeMillis != lifetime.Milliseconds() {
		t.Fatalf("re-authenticate: %s, %d ms", codeName(resp.ErrorCode), resp.SessionLifetimeMillis)
	}
	c.do(kmsg.NewPtrMetadataRequest())
	time.Sleep(lifetime + 100*time.Millisecond)
	c.send(kmsg.NewPtrMetadataRequest())
	c.expectClosed()

	c = ts.dial(t)
	saslPlain(c, MechanismPlain, "alice")
	if resp := saslPlain(c, MechanismPlain, "bob"); resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Fatalf("re-authentication as bob on alice's connection: %s", codeName(resp.ErrorCode))
	}
	c.expectClosed()

	c = ts.dial(t)
	saslPlain(c, MechanismPlain, "alice")
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, MechanismScramSHA256
	if resp := c.do(hs).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("re-authentication with another mechanism: %s", codeName(resp.ErrorCode))
	}
	c.expectClosed()
}

// An OAUTHBEARER session ends with its token when that is sooner than
// SASL.MaxReauth.
func TestSASLReauthTokenLifetime(t *testing.T) {
	expires := time.Now().Add(30 * time.Second)
	a := &SASL{
		Mechanisms:  []string{MechanismOAuthBearer},
		OAuthBearer: func(string) (string, time.Time, error) { return "alice", expires, nil },
		MaxReauth:   time.Hour,
	}
	if d := a.sessionLifetime(expires); d > 30*time.Second || d < 29*time.Second {
		t.Fatalf("session of a token valid 30 s: %v", d)
	}
	if d := a.sessionLifetime(time.Time{}); d != time.Hour {
		t.Fatalf("session of a password: %v, want the hour of MaxReauth", d)
	}
	a.MaxReauth = 0
	if d := a.sessionLifetime(expires); d != 0 {
		t.Fatalf("session without MaxReauth: %v, want 0 (as long as the connection)", d)
	}
}

package broker

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/chronik-go/chronik/core/config"
)

// idp is an identity provider for tests: signing keys and the JWK set of
// their public halves, served over HTTP.
type idp struct {
	t    *testing.T
	mu   sync.Mutex
	keys map[string]any // kid → private key
	srv  *httptest.Server
	gets int
}

func newIDP(t *testing.T) *idp {
	p := &idp{t: t, keys: map[string]any{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.gets++
		var set jose.JSONWebKeySet
		for kid, k := range p.keys {
			pub := k.(crypto.Signer).Public()
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: pub, KeyID: kid, Use: "sig"})
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) addRSA(kid string) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.keys[kid] = k
	p.mu.Unlock()
}

func (p *idp) addEC(kid string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.keys[kid] = k
	p.mu.Unlock()
}

// token signs claims with key kid ("" leaves kid out of the header).
func (p *idp) token(kid string, claims map[string]any) string {
	p.t.Helper()
	p.mu.Lock()
	k, ok := p.keys[kid]
	if !ok {
		for _, only := range p.keys {
			k = only
		}
	}
	p.mu.Unlock()
	alg := jose.RS256
	if _, ec := k.(*ecdsa.PrivateKey); ec {
		alg = jose.ES256
	}
	opts := &jose.SignerOptions{}
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k}, opts.WithType("JWT"))
	if err != nil {
		p.t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		p.t.Fatal(err)
	}
	return tok
}

func TestOAuthBearerValidate(t *testing.T) {
	p := newIDP(t)
	p.addRSA("r1")
	o, err := newOAuthBearer(config.KafkaConfig{
		OAuthBearerJWKSURL: p.srv.URL, OAuthBearerIssuer: "https://idp.example", OAuthBearerAudience: "kafka",
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := func() map[string]any {
		return map[string]any{"sub": "alice", "iss": "https://idp.example", "aud": []string{"kafka", "other"}, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
	}
	with := func(k string, v any) map[string]any {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	if user, exp, err := o.validate(p.token("r1", good())); err != nil || user != "alice" || exp.Unix() != now.Add(time.Hour).Unix() {
		t.Fatalf("a good token: %q, expires %v, %v", user, exp, err)
	}
	for name, tok := range map[string]string{
		"expired":        p.token("r1", with("exp", now.Add(-time.Hour).Unix())),
		"no exp":         p.token("r1", with("exp", nil)),
		"not yet valid":  p.token("r1", with("nbf", now.Add(time.Hour).Unix())),
		"other issuer":   p.token("r1", with("iss", "https://evil.example")),
		"other audience": p.token("r1", with("aud", "billing")),
		"no sub":         p.token("r1", with("sub", nil)),
		"garbage":        "not.a.jwt",
		"unsigned":       unsignedToken(good()),
	} {
		if user, _, err := o.validate(tok); err == nil {
			t.Errorf("%s: accepted as %q", name, user)
		}
	}
	// A token signed by a key the provider never published, under a kid it
	// did publish: the signature fails.
	other := newIDP(t)
	other.addRSA("r1")
	if _, _, err := o.validate(other.token("r1", good())); err == nil {
		t.Error("a token signed with another key under a known kid was accepted")
	}

	// Rotation: a new key (EC) is fetched when a token names it, at most
	// every jwksMinRefresh.
	p.addEC("e2")
	gets := p.gets
	if _, _, err := o.validate(p.token("e2", good())); err == nil {
		t.Fatal("a key added right after the last fetch was accepted before the refresh interval")
	}
	o.mu.Lock()
	o.fetched = o.fetched.Add(-jwksMinRefresh)
	o.mu.Unlock()
	if user, _, err := o.validate(p.token("e2", good())); err != nil || user != "alice" || p.gets != gets+1 {
		t.Fatalf("after the provider rotated its keys: %q, %v (%d fetches)", user, err, p.gets-gets)
	}
	// No kid: accepted only when the set holds one key.
	if _, _, err := o.validate(p.token("", good())); err == nil || !strings.Contains(err.Error(), "kid") {
		t.Fatalf("a token without kid against two keys: %v", err)
	}

	// Another claim as the user.
	o2, err := newOAuthBearer(config.KafkaConfig{OAuthBearerJWKSURL: other.srv.URL, OAuthBearerSubClaim: "preferred_username"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if user, _, err := o2.validate(other.token("", with("preferred_username", "bob"))); err != nil || user != "bob" {
		t.Fatalf("sub claim preferred_username: %q, %v", user, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	if _, err := newOAuthBearer(config.KafkaConfig{OAuthBearerJWKSURL: "http://" + dead}, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "kafka.oauthbearer-jwks-url") {
		t.Fatalf("an unreachable key set: %v", err)
	}
}

// unsignedToken is a JWT with alg "none".
func unsignedToken(claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." + enc(claims) + "."
}

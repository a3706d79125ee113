package kafka

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Delegation tokens (KIP-48; CreateDelegationToken, RenewDelegationToken,
// ExpireDelegationToken, DescribeDelegationToken, keys 38–41). A client
// that authenticated with a password, Kerberos, a bearer token or a client
// certificate asks for a token and hands it to its workers (Spark, Flink),
// which authenticate with it through SCRAM-SHA-256/512 and the tokenauth
// extension: the token's ID as the user, its HMAC (base64) as the password.
// They are then the token's owner. The HMAC is HMAC-SHA512 of the ID under
// Tokens.Secret (kafka.delegation-token-secret-key, the same on every
// broker), so only the token's metadata is kept (TokenStore).

// DelegationToken is one token. Principals are "User:alice"; times are
// Unix milliseconds.
type DelegationToken struct {
	ID          string
	Owner       string
	Requester   string
	Renewers    []string
	Issued      int64
	Expires     int64
	MaxLifetime int64
}

// TokenStore keeps the cluster's delegation tokens.
type TokenStore interface {
	Token(id string) (DelegationToken, bool)
	Tokens() []DelegationToken
	CreateToken(ctx context.Context, t DelegationToken) error
	// RenewToken sets a token's expiry; ErrNoSuchToken if it is gone.
	RenewToken(ctx context.Context, id string, expires int64) error
	// DeleteToken removes a token; ErrNoSuchToken if it is gone.
	DeleteToken(ctx context.Context, id string) error
}

// ErrNoSuchToken is a TokenStore's answer for a token that does not exist.
var ErrNoSuchToken = errors.New("no such delegation token")

// Tokens enables delegation tokens (SASL.Tokens).
type Tokens struct {
	Store TokenStore
	// Secret is what tokens' HMACs are derived from (Kafka's
	// delegation.token.secret.key); the same on every broker.
	Secret []byte
	// MaxLifetime bounds a token's life, renewals included (Kafka's
	// delegation.token.max.lifetime.ms); Expiry is how long a token lasts
	// from its creation or renewal unless the request says less (Kafka's
	// delegation.token.expiry.time.ms).
	MaxLifetime, Expiry time.Duration

	mu    sync.Mutex
	creds map[scramKey]ScramCredential // derived SCRAM credentials, by token ID and mechanism
}

// HMAC is the token's secret: HMAC-SHA512 of its ID under the secret.
func (t *Tokens) HMAC(id string) []byte {
	m := hmac.New(sha512.New, t.Secret)
	m.Write([]byte(id))
	return m.Sum(nil)
}

// byHMAC returns the token whose HMAC is mac.
func (t *Tokens) byHMAC(mac []byte) (DelegationToken, bool) {
	for _, tok := range t.Store.Tokens() {
		if hmac.Equal(t.HMAC(tok.ID), mac) {
			return tok, true
		}
	}
	return DelegationToken{}, false
}

// newTokenID is a random token ID (22 characters of URL-safe base64, as
// Kafka's base64 UUIDs).
func newTokenID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// scramCredential returns the SCRAM credential a client authenticating with
// token id presents (the password is the token's base64 HMAC), and the
// user the client then is: the token's owner. An unknown or expired token
// fails.
func (t *Tokens) scramCredential(mechanism, id string) (ScramCredential, string, error) {
	tok, ok := t.Store.Token(id)
	if !ok {
		return ScramCredential{}, "", fmt.Errorf("%w: no delegation token %q", errAuthFailed, id)
	}
	if nowMillis() > tok.Expires {
		return ScramCredential{}, "", fmt.Errorf("%w: delegation token %q expired", errAuthFailed, id)
	}
	user, ok := strings.CutPrefix(tok.Owner, "User:")
	if !ok {
		return ScramCredential{}, "", fmt.Errorf("%w: delegation token %q is owned by %s", errAuthFailed, id, tok.Owner)
	}
	k := scramKey{id, mechanism}
	t.mu.Lock()
	c, ok := t.creds[k]
	t.mu.Unlock()
	if ok {
		return c, user, nil
	}
	password := base64.StdEncoding.EncodeToString(t.HMAC(id))
	c, err := deriveScramCreds(scramHash(mechanism), password, scramIterations)
	if err != nil {
		return ScramCredential{}, "", err
	}
	t.mu.Lock()
	if t.creds == nil || len(t.creds) >= maxCachedTokenCreds {
		t.creds = map[scramKey]ScramCredential{} // gone tokens' too
	}
	t.creds[k] = c
	t.mu.Unlock()
	return c, user, nil
}

// maxCachedTokenCreds bounds the derived credentials kept.
const maxCachedTokenCreds = 10000

// ownerOrRenewer reports whether principal may renew or expire tok.
func (tok DelegationToken) ownerOrRenewer(principal string) bool {
	return tok.Owner == principal || slices.Contains(tok.Renewers, principal)
}

// tokensFor checks what every token API checks first: tokens are enabled,
// and the connection may ask (Kafka refuses token requests from
// unauthenticated connections and from those that authenticated with a
// token). The code is 0 when it may.
func (s *Server) tokensFor(r *request) (*Tokens, int16) {
	if s.cfg.SASL == nil || s.cfg.SASL.Tokens == nil {
		return nil, kerr.DelegationTokenAuthDisabled.Code
	}
	if r.principal == anonymous || r.conn != nil && r.conn.sasl.viaToken {
		return nil, kerr.DelegationTokenRequestNotAllowed.Code
	}
	return s.cfg.SASL.Tokens, 0
}

// splitPrincipal splits "User:alice" into its type and name.
func splitPrincipal(p string) (typ, name string) {
	typ, name, _ = strings.Cut(p, ":")
	return typ, name
}

// userPrincipal is "User:"+name for a principal of type User; false for
// another type (INVALID_PRINCIPAL_TYPE: tokens are for users).
func userPrincipal(typ, name string) (string, bool) {
	return "User:" + name, typ == "User" && name != ""
}

// tokenToChange checks a Renew or Expire request (tokensFor), finds the
// token it names by its HMAC and checks that r's principal may change it;
// the code is 0 when it may.
func (s *Server) tokenToChange(r *request, mac []byte) (*Tokens, DelegationToken, int16) {
	toks, code := s.tokensFor(r)
	if code != 0 {
		return nil, DelegationToken{}, code
	}
	tok, ok := toks.byHMAC(mac)
	switch {
	case !ok:
		return nil, tok, kerr.DelegationTokenNotFound.Code
	case !tok.ownerOrRenewer(r.principal):
		return nil, tok, kerr.DelegationTokenOwnerMismatch.Code
	case nowMillis() > tok.Expires:
		return nil, tok, kerr.DelegationTokenExpired.Code
	}
	return toks, tok, 0
}

// nowMillis is the time in Unix milliseconds, as tokens keep it.
func nowMillis() int64 { return time.Now().UnixMilli() }

package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/chronik-go/chronik/core/config"
)

// oauthBearer validates the JWTs OAUTHBEARER clients send (kafka.oauthbearer-*),
// as Kafka's default validator does: signed with a key of the identity
// provider's JWK set, not expired (exp is required), not used before nbf,
// from the configured issuer and for the configured audience when those are
// set; the user is the sub claim (or kafka.oauthbearer-sub-claim).
type oauthBearer struct {
	source   string // the JWK set's URL
	issuer   string
	audience string
	subClaim string
	client   *http.Client
	log      *slog.Logger
	now      func() time.Time

	mu       sync.Mutex
	keys     jose.JSONWebKeySet
	fetched  time.Time // when keys were fetched last (successfully or not)
	fetching bool      // a caller is fetching them
}

// Bounds of the JWK set's refresh: a token naming a key the set lacks
// (the provider rotated its keys) fetches it again at most every
// jwksMinRefresh; keys are fetched again every jwksMaxAge regardless, so a
// key the provider withdrew stops being accepted.
const (
	jwksMinRefresh = 10 * time.Second
	jwksMaxAge     = 5 * time.Minute
	jwksTimeout    = 5 * time.Second
	// tokenLeeway is the clock skew allowed on exp, nbf and iat.
	tokenLeeway = 30 * time.Second
)

// tokenAlgorithms are the signature algorithms accepted (never "none").
var tokenAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// newOAuthBearer fetches the JWK set once: a set that cannot be read fails
// start-up, naming the setting.
func newOAuthBearer(k config.KafkaConfig, log *slog.Logger) (*oauthBearer, error) {
	o := &oauthBearer{
		source: k.OAuthBearerJWKSURL, issuer: k.OAuthBearerIssuer, audience: k.OAuthBearerAudience,
		subClaim: k.OAuthBearerSubClaim, client: &http.Client{Timeout: jwksTimeout}, log: log, now: time.Now,
	}
	if o.subClaim == "" {
		o.subClaim = "sub"
	}
	if u, err := url.Parse(o.source); err == nil && u.Scheme == "http" {
		log.Warn("kafka.oauthbearer-jwks-url is plain http: whoever can change the key set on its way can sign tokens this broker accepts; use https", "url", o.source)
	}
	keys, err := o.fetch()
	if err != nil {
		return nil, fmt.Errorf("kafka.oauthbearer-jwks-url: %w", err)
	}
	o.keys, o.fetched = keys, o.now()
	return o, nil
}

// fetch reads the JWK set.
func (o *oauthBearer) fetch() (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	u, err := url.Parse(o.source)
	if err != nil {
		return set, err
	}
	var body []byte
	if u.Scheme == "file" {
		body, err = os.ReadFile(u.Path)
	} else {
		body, err = o.get(o.source)
	}
	if err != nil {
		return set, err
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return set, fmt.Errorf("%s is not a JWK set: %w", o.source, err)
	}
	if len(set.Keys) == 0 {
		return set, fmt.Errorf("%s holds no keys", o.source)
	}
	return set, nil
}

// get reads u, within the client's jwksTimeout.
func (o *oauthBearer) get(u string) ([]byte, error) {
	resp, err := o.client.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

// keySet returns the JWK set, fetching it again first when it is older
// than jwksMaxAge, or when refresh is asked and the last fetch is older
// than jwksMinRefresh. One caller fetches at a time, without the lock, and
// the others meanwhile get the keys there are; a failed fetch keeps them
// (warned).
func (o *oauthBearer) keySet(refresh bool) jose.JSONWebKeySet {
	o.mu.Lock()
	age := o.now().Sub(o.fetched)
	if o.fetching || age < jwksMaxAge && (!refresh || age < jwksMinRefresh) {
		keys := o.keys
		o.mu.Unlock()
		return keys
	}
	o.fetching, o.fetched = true, o.now()
	o.mu.Unlock()
	keys, err := o.fetch()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fetching = false
	if err != nil {
		o.log.Warn("cannot fetch the OAUTHBEARER key set again; keeping the keys it had", "url", o.source, "err", err)
		return o.keys
	}
	o.keys = keys
	return keys
}

// validate returns the user a token names and when it expires, or why
// it is refused.
func (o *oauthBearer) validate(token string) (string, time.Time, error) {
	tok, err := jwt.ParseSigned(token, tokenAlgorithms)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("not a signed JWT: %w", err)
	}
	kid := ""
	if len(tok.Headers) > 0 {
		kid = tok.Headers[0].KeyID
	}
	keys := o.keySet(false)
	if kid != "" && len(keys.Key(kid)) == 0 {
		keys = o.keySet(true) // rotated: a key the set did not have
	}
	var key any = keys
	if kid == "" {
		if len(keys.Keys) != 1 {
			return "", time.Time{}, errors.New("the token names no key (kid) and the key set has several")
		}
		key = keys.Keys[0]
	}
	var claims jwt.Claims
	var all map[string]any
	if err := tok.Claims(key, &claims, &all); err != nil {
		return "", time.Time{}, fmt.Errorf("signature: %w", err)
	}
	if claims.Expiry == nil {
		return "", time.Time{}, errors.New("the token has no exp claim")
	}
	want := jwt.Expected{Issuer: o.issuer, Time: o.now()}
	if o.audience != "" {
		want.AnyAudience = jwt.Audience{o.audience}
	}
	if err := claims.ValidateWithLeeway(want, tokenLeeway); err != nil {
		return "", time.Time{}, err
	}
	user, _ := all[o.subClaim].(string)
	if user == "" {
		return "", time.Time{}, fmt.Errorf("the token has no %s claim", o.subClaim)
	}
	return user, claims.Expiry.Time(), nil
}

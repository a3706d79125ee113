package kafka

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// SASL authentication (SaslHandshake, key 17; SaslAuthenticate, key 36).
// With Config.SASL set, a connection must authenticate before any request
// other than ApiVersions, SaslHandshake and SaslAuthenticate; anything else
// closes it (Kafka's SASL_PLAINTEXT listener, or SASL_SSL with TLS). The
// principal is then "User:" and the user name. Passwords come from
// SASL.Password: SCRAM's stored credentials are derived from them once per
// process with a random salt and 4096 iterations (RFC 5802's StoredKey and
// ServerKey, scram.go), so SCRAM clients never send the password, while PLAIN clients
// do (use it with TLS). Credentials the cluster keeps (SASL.Stored, set with
// AlterUserScramCredentials, credentials.go) come first. OAUTHBEARER takes a
// bearer token, which SASL.OAuthBearer validates. GSSAPI (Kerberos) runs
// SASL.GSSAPI's exchange (core/kerberos) to its end; SCRAM with the tokenauth
// extension logs in with a delegation token (SASL.Tokens, tokens.go).
// Re-authentication (KIP-368) is offered with SASL.MaxReauth.

// SASL mechanisms served.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
	MechanismOAuthBearer = "OAUTHBEARER"
	MechanismGSSAPI      = "GSSAPI"
)

// SASLMechanisms lists the mechanisms this package implements.
var SASLMechanisms = []string{MechanismScramSHA512, MechanismScramSHA256, MechanismPlain, MechanismOAuthBearer, MechanismGSSAPI}

// scramIterations is the PBKDF2 iteration count of derived SCRAM
// credentials (Kafka's default for kafka-configs --add-config is 4096).
const scramIterations = 4096

// SASL configures authentication of the listener's connections.
type SASL struct {
	// Mechanisms are the enabled mechanisms (of SASLMechanisms), in the
	// order SaslHandshake lists them.
	Mechanisms []string
	// Password returns a user's password, false if there is no such user.
	// It is called for every authentication and must be safe for
	// concurrent use.
	Password func(user string) (string, bool)
	// Stored, if set, returns a user's stored credential for a SCRAM
	// mechanism (set with AlterUserScramCredentials, kept by the cluster).
	// A user with a stored credential authenticates with it, whatever
	// Password says: with SCRAM for that mechanism, and with PLAIN when
	// the password matches either mechanism's credential.
	Stored func(user, mechanism string) (ScramCredential, bool)
	// OAuthBearer, needed for MechanismOAuthBearer, validates a bearer
	// token (RFC 7628) and returns the user it names and when it expires;
	// its error says why a token is refused (logged, never sent to the
	// client).
	OAuthBearer func(token string) (user string, expires time.Time, err error)
	// GSSAPI, needed for MechanismGSSAPI, starts a connection's Kerberos
	// login (RFC 4752); the client is in as the user its exchange returns.
	GSSAPI func() SASLExchange
	// Tokens, when set, enables delegation tokens (tokens.go): the
	// token APIs, and SCRAM logins with a token.
	Tokens *Tokens
	// MaxReauth, when > 0, bounds every authentication (Kafka's
	// connections.max.reauth.ms, KIP-368): SaslAuthenticate tells the
	// client its session lifetime, this or, for OAUTHBEARER, until its
	// token expires if sooner; the client authenticates again on the same
	// connection before then, as the same user, and a connection still on
	// an expired session is closed at its next request. So a deleted
	// user, a changed password or an expired token ends the connections
	// that used them. 0: a session lasts as long as its connection.
	MaxReauth time.Duration

	mu    sync.Mutex
	scram map[scramKey]scramEntry // derived credentials, by user and mechanism
}

// SASLExchange is one connection's login of a mechanism with several
// steps: Next takes the client's token and returns the answer, and the
// user once the client is in; an error ends the login (logged, never sent
// to the client).
type SASLExchange interface {
	Next(token []byte) (out []byte, user string, err error)
}

type scramKey struct{ user, mechanism string }

type scramEntry struct {
	password string // the password the credentials were derived from
	creds    ScramCredential
}

// errAuthFailed is what a client learns of any failed authentication: not
// whether the user exists.
var errAuthFailed = errors.New("authentication failed: invalid credentials")

// enabled reports whether mechanism is enabled.
func (a *SASL) enabled(mechanism string) bool { return slices.Contains(a.Mechanisms, mechanism) }

// credentials returns user's SCRAM credentials for mechanism, deriving
// them when the user is new or its password changed.
func (a *SASL) credentials(mechanism, user string) (ScramCredential, error) {
	if c, ok := a.stored(user, mechanism); ok {
		return c, nil
	}
	if a.Password == nil {
		return ScramCredential{}, errAuthFailed
	}
	password, ok := a.Password(user)
	if !ok {
		return ScramCredential{}, errAuthFailed
	}
	k := scramKey{user, mechanism}
	a.mu.Lock()
	e, ok := a.scram[k]
	a.mu.Unlock()
	if ok && e.password == password {
		return e.creds, nil
	}
	creds, err := deriveScramCreds(scramHash(mechanism), password, scramIterations)
	if err != nil {
		return ScramCredential{}, err
	}
	a.mu.Lock()
	if a.scram == nil {
		a.scram = map[scramKey]scramEntry{}
	}
	a.scram[k] = scramEntry{password: password, creds: creds}
	a.mu.Unlock()
	return creds, nil
}

// saslState is a connection's authentication; only its reader goroutine
// touches it (the SASL APIs run in begin).
type saslState struct {
	mechanism     string       // chosen by SaslHandshake; "" before
	exchange      SASLExchange // a SCRAM or GSSAPI exchange in progress
	viaToken      bool         // authenticated with a delegation token
	authenticated bool
	reauth        bool  // authenticated, and authenticating again (KIP-368)
	expires       int64 // unix ns the session ends (SASL.MaxReauth); 0: never
	closeAfter    bool  // a failed exchange: answer, then close
}

// expired reports whether the session has ended (SASL.MaxReauth).
func (st *saslState) expired() bool {
	return st.expires != 0 && time.Now().UnixNano() > st.expires
}

// sessionLifetime is how long an authentication lasts: a.MaxReauth, or
// until the credential expires if sooner; 0 for as long as the connection.
func (a *SASL) sessionLifetime(expires time.Time) time.Duration {
	if a.MaxReauth <= 0 {
		return 0
	}
	d := a.MaxReauth
	if !expires.IsZero() {
		d = min(d, time.Until(expires))
	}
	return max(d, time.Millisecond)
}

// saslExempt are the APIs a connection may use before it authenticates.
func saslExempt(key int16) bool {
	return key == keyAPIVersions || key == keySASLHandshake || key == keySASLAuthenticate
}

// authenticate takes one SaslAuthenticate token. It returns the bytes for
// the client, the user once authentication has succeeded (with when its
// credential expires, zero if it does not), and an error when it failed.
func (st *saslState) authenticate(a *SASL, token []byte) (out []byte, user string, expires time.Time, err error) {
	switch st.mechanism {
	case MechanismPlain:
		user, err := checkPlain(a, token)
		return nil, user, time.Time{}, err
	case MechanismOAuthBearer:
		user, expires, err := checkOAuthBearer(a, token)
		return nil, user, expires, err
	case MechanismScramSHA256, MechanismScramSHA512, MechanismGSSAPI:
		if st.exchange == nil {
			st.exchange = a.start(st.mechanism)
			if st.exchange == nil {
				return nil, "", time.Time{}, errAuthFailed
			}
		}
		out, user, err := st.exchange.Next(token)
		if err != nil {
			if !errors.Is(err, errAuthFailed) {
				err = fmt.Errorf("%w: %w", errAuthFailed, err)
			}
			return nil, "", time.Time{}, err
		}
		if conv, ok := st.exchange.(*scramConv); ok && user != "" {
			st.viaToken = conv.viaToken
		}
		return out, user, time.Time{}, nil
	default:
		return nil, "", time.Time{}, fmt.Errorf("no mechanism chosen: send SaslHandshake first")
	}
}

// start begins a login of a mechanism with several steps; nil when the
// mechanism has nothing to check against.
func (a *SASL) start(mechanism string) SASLExchange {
	if mechanism == MechanismGSSAPI {
		if a.GSSAPI == nil {
			return nil
		}
		return a.GSSAPI()
	}
	conv := &scramConv{h: scramHash(mechanism), lookup: func(user string) (ScramCredential, error) {
		return a.credentials(mechanism, user)
	}}
	if a.Tokens != nil {
		conv.token = func(id string) (ScramCredential, string, error) { return a.Tokens.scramCredential(mechanism, id) }
	}
	return conv
}

// checkPlain verifies a PLAIN token, authzid NUL user NUL password (RFC
// 4616), and returns the user.
func checkPlain(a *SASL, token []byte) (string, error) {
	parts := bytes.Split(token, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return "", errAuthFailed
	}
	user := string(parts[1])
	if len(parts[0]) > 0 && string(parts[0]) != user {
		return "", errAuthFailed // acting as another user is not supported
	}
	if a.Stored != nil {
		stored := false
		for _, mech := range []string{MechanismScramSHA512, MechanismScramSHA256} {
			if c, ok := a.stored(user, mech); ok {
				if c.matches(scramHash(mech), string(parts[2])) {
					return user, nil
				}
				stored = true
			}
		}
		if stored {
			return "", errAuthFailed
		}
	}
	if a.Password == nil {
		return "", errAuthFailed
	}
	password, ok := a.Password(user)
	if !ok || subtle.ConstantTimeCompare([]byte(password), parts[2]) != 1 {
		return "", errAuthFailed
	}
	return user, nil
}

// checkOAuthBearer takes an OAUTHBEARER client-first message (RFC 7628
// §3.1): a GS2 header ("n,", an optional "a=" authzid, ","), then
// key=value pairs each ended by 0x01, one of them auth=Bearer <token>, and
// a final 0x01. The token is a.OAuthBearer's to validate; an authzid must
// name the token's user.
func checkOAuthBearer(a *SASL, msg []byte) (string, time.Time, error) {
	if a.OAuthBearer == nil {
		return "", time.Time{}, errAuthFailed
	}
	header, rest, ok := strings.Cut(string(msg), "\x01")
	if !ok || !strings.HasSuffix(rest, "\x01\x01") && rest != "\x01" {
		return "", time.Time{}, fmt.Errorf("%w: not an OAUTHBEARER client message", errAuthFailed)
	}
	parts := strings.Split(header, ",")
	if len(parts) != 3 || parts[0] != "n" && parts[0] != "y" || parts[2] != "" {
		return "", time.Time{}, fmt.Errorf("%w: bad GS2 header", errAuthFailed)
	}
	authzid, hasAuthzid := strings.CutPrefix(parts[1], "a=")
	if parts[1] != "" && !hasAuthzid {
		return "", time.Time{}, fmt.Errorf("%w: bad GS2 header", errAuthFailed)
	}
	var token string
	for kv := range strings.SplitSeq(strings.TrimSuffix(rest, "\x01"), "\x01") {
		k, v, _ := strings.Cut(kv, "=")
		if k != "auth" {
			continue // extensions are ignored, as Kafka's default validator does
		}
		scheme, t, ok := strings.Cut(v, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || t == "" {
			return "", time.Time{}, fmt.Errorf("%w: the auth value is not a bearer token", errAuthFailed)
		}
		token = t
	}
	if token == "" {
		return "", time.Time{}, fmt.Errorf("%w: no auth=Bearer token", errAuthFailed)
	}
	user, expires, err := a.OAuthBearer(token)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: %w", errAuthFailed, err)
	}
	if hasAuthzid && authzid != user {
		return "", time.Time{}, fmt.Errorf("%w: authzid %q is not the token's user %q", errAuthFailed, authzid, user)
	}
	return user, expires, nil
}

// stored is a.Stored, false when there is none.
func (a *SASL) stored(user, mechanism string) (ScramCredential, bool) {
	if a.Stored == nil {
		return ScramCredential{}, false
	}
	return a.Stored(user, mechanism)
}

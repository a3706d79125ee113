package kafka

import (
	"context"
	"encoding/base64"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/chronik-go/chronik/core/acl"
)

// memTokens is a TokenStore in memory, for tests of the listener alone
// (the real one is the meta shard: core/cluster, raftsm/delegationtokens.go).
type memTokens struct {
	mu     sync.Mutex
	tokens map[string]DelegationToken
}

var _ TokenStore = (*memTokens)(nil)

func (m *memTokens) Token(id string) (DelegationToken, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[id]
	return t, ok
}

func (m *memTokens) Tokens() []DelegationToken {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []DelegationToken
	for _, t := range m.tokens {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (m *memTokens) CreateToken(_ context.Context, t DelegationToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens == nil {
		m.tokens = map[string]DelegationToken{}
	}
	m.tokens[t.ID] = t
	return nil
}

func (m *memTokens) RenewToken(_ context.Context, id string, expires int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[id]
	if !ok {
		return ErrNoSuchToken
	}
	t.Expires = expires
	m.tokens[id] = t
	return nil
}

func (m *memTokens) DeleteToken(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tokens[id]; !ok {
		return ErrNoSuchToken
	}
	delete(m.tokens, id)
	return nil
}

// TestDelegationTokens: alice (SCRAM) creates a token that bob may renew;
// a client logs in with it through SCRAM's tokenauth extension and is
// alice, but may not ask for tokens; bob renews it, carol may not; alice
// ends it and it no longer logs in; a token past its lifetime does not
// log in either.
func TestDelegationTokens(t *testing.T) {
	users := map[string]string{"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret"}
	var principals principalLog
	toks := &Tokens{Store: &memTokens{}, Secret: []byte("a secret of the whole cluster"), MaxLifetime: 7 * 24 * time.Hour, Expiry: 24 * time.Hour}
	ts := startServer(t, Config{
		SASL: &SASL{
			Mechanisms: []string{MechanismScramSHA512, MechanismScramSHA256},
			Password:   func(u string) (string, bool) { p, ok := users[u]; return p, ok },
			Tokens:     toks,
		},
		Authorizer: principals.authorizer(),
	}, nil)
	client := func(mech sasl.Mechanism) *kgo.Client {
		return newKgoClient(t, ts, kgo.DialTimeout(2*time.Second), kgo.RequestRetries(0), kgo.SASL(mech))
	}
	as := func(user string) *kgo.Client {
		return client(scram.Auth{User: user, Pass: users[user]}.AsSha512Mechanism())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	create := kmsg.NewPtrCreateDelegationTokenRequest()
	create.Version = 3
	renewer := kmsg.NewCreateDelegationTokenRequestRenewer()
	renewer.PrincipalType, renewer.PrincipalName = "User", "bob"
	create.Renewers = append(create.Renewers, renewer)
	created, err := create.RequestWith(ctx, as("alice"))
	if err != nil || created.ErrorCode != 0 || created.PrincipalName != "alice" || created.TokenID == "" || len(created.HMAC) != 64 ||
		created.ExpiryTimestamp-created.IssueTimestamp != (24*time.Hour).Milliseconds() || created.MaxTimestamp-created.IssueTimestamp != (7*24*time.Hour).Milliseconds() {
		t.Fatalf("create: %+v, %v", created, err)
	}
	tokenLogin := func(mech func(scram.Auth) sasl.Mechanism) error {
		cl := client(mech(scram.Auth{User: created.TokenID, Pass: base64.StdEncoding.EncodeToString(created.HMAC), IsToken: true}))
		_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		return err
	}
	principals.reset()
	for _, mech := range []func(scram.Auth) sasl.Mechanism{scram.Auth.AsSha512Mechanism, scram.Auth.AsSha256Mechanism} {
		if err := tokenLogin(mech); err != nil {
			t.Fatalf("login with the token: %v", err)
		}
	}
	if seen := principals.all(); len(seen) != 1 || !seen["User:alice"] {
		t.Fatalf("principals with the token %v, want User:alice only", seen)
	}

	// A connection that authenticated with a token may not ask for tokens.
	viaToken := client(scram.Auth{User: created.TokenID, Pass: base64.StdEncoding.EncodeToString(created.HMAC), IsToken: true}.AsSha512Mechanism())
	if r, err := kmsg.NewPtrCreateDelegationTokenRequest().RequestWith(ctx, viaToken); err != nil || r.ErrorCode != kerr.DelegationTokenRequestNotAllowed.Code {
		t.Fatalf("create through a token: %+v, %v", r, err)
	}

	renew := kmsg.NewPtrRenewDelegationTokenRequest()
	renew.HMAC, renew.RenewTimeMillis = created.HMAC, time.Hour.Milliseconds()
	if r, err := renew.RequestWith(ctx, as("carol")); err != nil || r.ErrorCode != kerr.DelegationTokenOwnerMismatch.Code {
		t.Fatalf("carol renews: %+v, %v", r, err)
	}
	if r, err := renew.RequestWith(ctx, as("bob")); err != nil || r.ErrorCode != 0 || r.ExpiryTimestamp > nowMillis()+time.Hour.Milliseconds() || r.ExpiryTimestamp < nowMillis()+time.Hour.Milliseconds()-60_000 {
		t.Fatalf("bob renews for an hour: %+v, %v", r, err)
	}
	describe := kmsg.NewPtrDescribeDelegationTokenRequest()
	describe.Version = 3
	if r, err := describe.RequestWith(ctx, as("alice")); err != nil || r.ErrorCode != 0 || len(r.TokenDetails) != 1 ||
		r.TokenDetails[0].TokenID != created.TokenID || len(r.TokenDetails[0].Renewers) != 1 || r.TokenDetails[0].Renewers[0].PrincipalName != "bob" ||
		r.TokenDetails[0].TokenRequesterPrincipalName != "alice" {
		t.Fatalf("describe: %+v, %v", r, err)
	}

	expire := kmsg.NewPtrExpireDelegationTokenRequest()
	expire.HMAC, expire.ExpiryPeriodMillis = created.HMAC, -1
	if r, err := expire.RequestWith(ctx, as("alice")); err != nil || r.ErrorCode != 0 {
		t.Fatalf("expire: %+v, %v", r, err)
	}
	if err := tokenLogin(scram.Auth.AsSha512Mechanism); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("login with an ended token: %v", err)
	}
	if r, err := renew.RequestWith(ctx, as("alice")); err != nil || r.ErrorCode != kerr.DelegationTokenNotFound.Code {
		t.Fatalf("renew an ended token: %+v, %v", r, err)
	}

	// A token past its lifetime does not log in.
	create.MaxLifetimeMillis, create.Renewers = 1, nil
	short, err := create.RequestWith(ctx, as("alice"))
	if err != nil || short.ErrorCode != 0 || short.MaxTimestamp != short.IssueTimestamp+1 {
		t.Fatalf("create a 1 ms token: %+v, %v", short, err)
	}
	time.Sleep(5 * time.Millisecond)
	cl := client(scram.Auth{User: short.TokenID, Pass: base64.StdEncoding.EncodeToString(short.HMAC), IsToken: true}.AsSha512Mechanism())
	if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("login with an expired token: %v", err)
	}
}

// Without a secret the token APIs answer DELEGATION_TOKEN_AUTH_DISABLED,
// and a tokenauth login fails.
func TestDelegationTokensDisabled(t *testing.T) {
	ts := startServer(t, Config{SASL: &SASL{
		Mechanisms: []string{MechanismScramSHA512},
		Password:   func(u string) (string, bool) { return "secret", u == "alice" },
	}}, nil)
	cl := newKgoClient(t, ts, kgo.RequestRetries(0), kgo.SASL(scram.Auth{User: "alice", Pass: "secret"}.AsSha512Mechanism()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r, err := kmsg.NewPtrCreateDelegationTokenRequest().RequestWith(ctx, cl); err != nil || r.ErrorCode != kerr.DelegationTokenAuthDisabled.Code {
		t.Fatalf("create: %+v, %v", r, err)
	}
	if r, err := kmsg.NewPtrDescribeDelegationTokenRequest().RequestWith(ctx, cl); err != nil || r.ErrorCode != kerr.DelegationTokenAuthDisabled.Code {
		t.Fatalf("describe: %+v, %v", r, err)
	}
	tc := newKgoClient(t, ts, kgo.RequestRetries(0), kgo.SASL(scram.Auth{User: "alice", Pass: "secret", IsToken: true}.AsSha512Mechanism()))
	if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, tc); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("a tokenauth login without tokens: %v", err)
	}
}

// With ACLs, creating a token for another user needs CREATE_TOKENS on the
// USER resource named by that user's principal, and seeing another's
// tokens DESCRIBE_TOKENS on it (Kafka's owner.toString).
func TestDelegationTokenACLs(t *testing.T) {
	users := map[string]string{"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret"}
	toks := &Tokens{Store: &memTokens{}, Secret: []byte("a secret of the whole cluster"), MaxLifetime: time.Hour, Expiry: time.Hour}
	allow := func(op kmsg.ACLOperation, resource, principal string) acl.Binding {
		return acl.Binding{
			ResourceType: kmsg.ACLResourceTypeUser, ResourceName: resource, PatternType: kmsg.ACLResourcePatternTypeLiteral,
			Principal: principal, Host: "*", Operation: op, Permission: kmsg.ACLPermissionTypeAllow,
		}
	}
	ts := startServer(t, Config{
		SASL: &SASL{
			Mechanisms: []string{MechanismScramSHA512},
			Password:   func(u string) (string, bool) { p, ok := users[u]; return p, ok },
			Tokens:     toks,
		},
		ACLs: newMemACLs(allow(kmsg.ACLOperationCreateTokens, "User:bob", "User:alice"), allow(kmsg.ACLOperationDescribeTokens, "User:bob", "User:carol")),
	}, nil)
	as := func(user string) *kgo.Client {
		return newKgoClient(t, ts, kgo.RequestRetries(0), kgo.SASL(scram.Auth{User: user, Pass: users[user]}.AsSha512Mechanism()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	forOwner := func(owner string) *kmsg.CreateDelegationTokenRequest {
		r := kmsg.NewPtrCreateDelegationTokenRequest()
		r.Version, r.OwnerPrincipalType, r.OwnerPrincipalName = 3, kmsg.StringPtr("User"), kmsg.StringPtr(owner)
		return r
	}
	if r, err := forOwner("carol").RequestWith(ctx, as("alice")); err != nil || r.ErrorCode != kerr.DelegationTokenAuthorizationFailed.Code {
		t.Fatalf("alice creates for carol: %+v, %v", r, err)
	}
	created, err := forOwner("bob").RequestWith(ctx, as("alice"))
	if err != nil || created.ErrorCode != 0 || created.PrincipalName != "bob" || created.TokenRequesterPrincipalName != "alice" {
		t.Fatalf("alice creates for bob: %+v, %v", created, err)
	}
	for user, want := range map[string]int{"bob": 1, "alice": 1, "carol": 1} { // owner, requester, DESCRIBE_TOKENS
		if r, err := kmsg.NewPtrDescribeDelegationTokenRequest().RequestWith(ctx, as(user)); err != nil || r.ErrorCode != 0 || len(r.TokenDetails) != want {
			t.Fatalf("%s describes: %+v, %v", user, r, err)
		}
	}
	if r, err := kmsg.NewPtrCreateDelegationTokenRequest().RequestWith(ctx, as("carol")); err != nil || r.ErrorCode != 0 {
		t.Fatalf("carol creates her own: %+v, %v", r, err)
	}
	if r, err := kmsg.NewPtrDescribeDelegationTokenRequest().RequestWith(ctx, as("alice")); err != nil || len(r.TokenDetails) != 1 {
		t.Fatalf("alice sees carol's token: %+v, %v", r, err)
	}
}

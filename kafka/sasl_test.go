package kafka

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/chronik-go/chronik/core/config"
)

// TestSASL: with Config.SASL, franz-go authenticates with PLAIN,
// SCRAM-SHA-256 and SCRAM-SHA-512 and its requests carry "User:<name>";
// a wrong password, an unknown user and a client without SASL get
// nothing but the failure, and a disabled mechanism is refused with the
// list of enabled ones.
func TestSASL(t *testing.T) {
	users := map[string]string{"alice": "alice-secret", "bob": "bob-secret"}
	var (
		mu         sync.Mutex
		principals = map[string]bool{}
	)
	ts := startServer(t, Config{
		SASL: &SASL{
			Mechanisms: []string{MechanismScramSHA512, MechanismScramSHA256, MechanismPlain},
			Password:   func(u string) (string, bool) { p, ok := users[u]; return p, ok },
		},
		Authorizer: AuthorizerFunc(func(_ context.Context, principal string, key int16, _ kmsg.Request) error {
			if !saslExempt(key) {
				mu.Lock()
				principals[principal] = true
				mu.Unlock()
			}
			return nil
		}),
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
	mu.Lock()
	if len(principals) != 2 || !principals["User:alice"] || !principals["User:bob"] {
		t.Fatalf("principals %v, want User:alice and User:bob", principals)
	}
	mu.Unlock()

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
	mu.Lock()
	defer mu.Unlock()
	if len(principals) != 2 {
		t.Fatalf("a failed authentication reached the authorizer: %v", principals)
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
// side: no panic, and no authentication without the password.
func FuzzSASLAuthenticate(f *testing.F) {
	f.Add([]byte("\x00alice\x00alice-secret"), []byte(""))
	f.Add([]byte("n,,n=alice,r=abc"), []byte("c=biws,r=abcdef,p=AAAA"))
	f.Add([]byte("n,a=bob,n=alice,r=x"), []byte("c=,r=,p="))
	a := &SASL{Mechanisms: SASLMechanisms, Password: func(u string) (string, bool) { return "alice-secret", u == "alice" }}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		for _, mech := range SASLMechanisms {
			st := saslState{mechanism: mech}
			_, user, err := st.authenticate(a, first)
			if err == nil && user == "" && mech != MechanismPlain {
				_, user, err = st.authenticate(a, second)
			}
			knewPassword := mech == MechanismPlain && strings.HasSuffix(string(first), "\x00alice-secret")
			if err == nil && user != "" && !knewPassword {
				t.Fatalf("%s authenticated %q from %q, %q", mech, user, first, second)
			}
		}
	})
}

// TestSASLMechanismsMatchConfig: the config accepts exactly the mechanisms
// this package implements.
func TestSASLMechanismsMatchConfig(t *testing.T) {
	if !slices.Equal(SASLMechanisms, config.SASLMechanisms) {
		t.Fatalf("kafka serves %v, config accepts %v", SASLMechanisms, config.SASLMechanisms)
	}
}

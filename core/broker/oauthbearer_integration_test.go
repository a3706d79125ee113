//go:build integration

package broker_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/oauth"

	"github.com/chronik-go/chronik/core/broker/brokertest"
)

// TestKafkaOAuthBearer: a broker with OAUTHBEARER only (no users file)
// and its identity provider's key set in a file serves a client whose
// token that key signed, for the audience it expects; an expired token and
// one for another audience are refused.
func TestKafkaOAuthBearer(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Use: "sig", Algorithm: string(jose.ES256)}}}
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(jwks, b, 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	token := func(aud string, exp time.Time) string {
		tok, err := jwt.Signed(signer).Claims(jwt.Claims{Subject: "svc-orders", Audience: jwt.Audience{aud}, Expiry: jwt.NewNumericDate(exp)}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	cfg := brokertest.Config(t)
	cfg.Kafka.SASLMechanisms = []string{"OAUTHBEARER"}
	cfg.Kafka.OAuthBearerJWKSURL = (&url.URL{Scheme: "file", Path: filepath.ToSlash(jwks)}).String()
	cfg.Kafka.OAuthBearerAudience = "kafka"
	b2 := brokertest.Start(t, cfg)
	ping := func(tok string) error {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b2.KafkaAddr()), kgo.SASL(oauth.Auth{Token: tok}.AsMechanism()), kgo.RequestRetries(0))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = kadm.NewClient(cl).ListTopics(ctx)
		return err
	}
	if err := ping(token("kafka", time.Now().Add(time.Hour))); err != nil {
		t.Fatalf("a valid token: %v", err)
	}
	for name, tok := range map[string]string{
		"expired":        token("kafka", time.Now().Add(-time.Hour)),
		"other audience": token("billing", time.Now().Add(time.Hour)),
	} {
		if err := ping(tok); !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Errorf("%s: %v, want SASL_AUTHENTICATION_FAILED", name, err)
		}
	}
}

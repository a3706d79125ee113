//go:build integration

package kafka

import (
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	krbclient "github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/kerberos"

	krb "github.com/chronik-go/chronik/core/kerberos"
	"github.com/chronik-go/chronik/core/kerberos/kdctest"
)

// SASL GSSAPI against a real MIT KDC: franz-go and sarama (gokrb5: no
// mutual authentication, the session key) log in with a password, kcat
// (librdkafka, Cyrus SASL and MIT's GSS-API: mutual authentication, a
// subkey) with a keytab; each is its principal's short name. After the
// broker's key changes at the KDC, tickets for the new key are refused until
// the broker has the new keytab.
func TestGSSAPI(t *testing.T) {
	kdc := kdctest.Start(t)
	kdc.AddPrincipal(t, "kafka/127.0.0.1", "")
	kdc.AddPrincipal(t, "alice", "alice-secret")
	kdc.AddPrincipal(t, "bob/admin", "")
	var acceptor atomic.Pointer[krb.Acceptor]
	load := func(keytab string) {
		a, err := krb.Load(keytab, "kafka", nil)
		if err != nil {
			t.Fatal(err)
		}
		acceptor.Store(a)
	}
	load(kdc.Keytab(t, "kafka.keytab", "kafka/127.0.0.1"))

	var principals principalLog
	ts := startServer(t, Config{
		SASL:       &SASL{Mechanisms: []string{MechanismGSSAPI}, GSSAPI: func() SASLExchange { return acceptor.Load().Start() }},
		Authorizer: principals.authorizer(),
	}, nil)
	ts.createTopic(t, "kerberized", 1)

	conf, err := krbconfig.Load(kdc.Conf)
	if err != nil {
		t.Fatal(err)
	}
	ping := func(user, password string) error {
		kc := krbclient.NewWithPassword(user, kdctest.Realm, password, conf, krbclient.DisablePAFXFAST(true))
		cl := newKgoClient(t, ts, kgo.DialTimeout(2*time.Second), kgo.RequestRetries(0),
			kgo.SASL(kerberos.Auth{Client: kc, Service: "kafka"}.AsMechanism()))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl) // not SASL-exempt
		return err
	}
	if err := ping("alice", "alice-secret"); err != nil {
		t.Fatalf("franz-go with alice's password: %v", err)
	}
	if seen := principals.all(); !seen["User:alice"] {
		t.Fatalf("principals %v, want User:alice", seen)
	}

	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat: %v (go tool task deps installs it)", err)
	}
	bobKeytab := kdc.Keytab(t, "bob.keytab", "bob/admin")
	run := func(stdin string, args ...string) (string, error) {
		return runKcat(kcat, kdc.Env(), stdin, append([]string{
			"-b", ts.addr, "-t", "kerberized",
			"-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=GSSAPI",
			"-X", "sasl.kerberos.service.name=kafka", "-X", "sasl.kerberos.keytab=" + bobKeytab,
			"-X", "sasl.kerberos.principal=bob/admin@" + kdctest.Realm,
		}, args...)...)
	}
	if _, err := run("one\ntwo\n", "-P"); err != nil {
		if strings.Contains(err.Error(), "No worthy mechs") {
			t.Fatalf("Cyrus SASL has no GSSAPI plugin (apt-get install libsasl2-modules-gssapi-mit): %v", err)
		}
		t.Fatalf("kcat produce with bob/admin's keytab: %v", err)
	}
	out, err := run("", "-C", "-o", "beginning", "-e", "-q")
	if err != nil || !slices.Equal(strings.Fields(out), []string{"one", "two"}) {
		t.Fatalf("kcat consume: %q, %v", out, err)
	}
	if seen := principals.all(); !seen["User:bob"] {
		t.Fatalf("principals %v, want User:bob (bob/admin's short name)", seen)
	}

	// sarama (gokrb5 too, through its own GSSAPI code) produces.
	scfg := sarama.NewConfig()
	scfg.Version = sarama.V3_6_0_0
	scfg.Net.SASL.Enable, scfg.Net.SASL.Mechanism = true, sarama.SASLTypeGSSAPI
	scfg.Net.SASL.GSSAPI = sarama.GSSAPIConfig{
		AuthType: sarama.KRB5_USER_AUTH, KerberosConfigPath: kdc.Conf, ServiceName: "kafka",
		Username: "alice", Password: "alice-secret", Realm: kdctest.Realm, DisablePAFXFAST: true,
	}
	scfg.Producer.Return.Successes = true
	producer, err := sarama.NewSyncProducer([]string{ts.addr}, scfg)
	if err != nil {
		t.Fatalf("sarama with GSSAPI: %v", err)
	}
	if _, _, err := producer.SendMessage(&sarama.ProducerMessage{Topic: "kerberized", Value: sarama.StringEncoder("three")}); err != nil {
		t.Fatalf("sarama produce: %v", err)
	}
	if err := producer.Close(); err != nil {
		t.Fatal(err)
	}

	// The broker's key changes at the KDC: new tickets are in a key the
	// broker does not have yet.
	kdc.NewKey(t, "kafka/127.0.0.1")
	if err := ping("alice", "alice-secret"); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("a ticket in a key the broker lacks: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
	load(kdc.Keytab(t, "kafka-new.keytab", "kafka/127.0.0.1"))
	if err := ping("alice", "alice-secret"); err != nil {
		t.Fatalf("after the broker has the new key: %v", err)
	}
}

// With re-authentication (KIP-368), a Kerberos client logs in again on its
// connection before its session ends, each time with a new exchange, and
// its requests never notice.
func TestGSSAPIReauthentication(t *testing.T) {
	kdc := kdctest.Start(t)
	kdc.AddPrincipal(t, "kafka/127.0.0.1", "")
	kdc.AddPrincipal(t, "alice", "alice-secret")
	acceptor, err := krb.Load(kdc.Keytab(t, "kafka.keytab", "kafka/127.0.0.1"), "kafka", nil)
	if err != nil {
		t.Fatal(err)
	}
	var logins atomic.Int64
	const lifetime = 1200 * time.Millisecond
	ts := startServer(t, Config{SASL: &SASL{
		Mechanisms: []string{MechanismGSSAPI},
		GSSAPI:     func() SASLExchange { logins.Add(1); return acceptor.Start() },
		MaxReauth:  lifetime,
	}}, nil)
	conf, err := krbconfig.Load(kdc.Conf)
	if err != nil {
		t.Fatal(err)
	}
	kc := krbclient.NewWithPassword("alice", kdctest.Realm, "alice-secret", conf, krbclient.DisablePAFXFAST(true))
	requestFor800ms(t, newKgoClient(t, ts, kgo.SASL(kerberos.Auth{Client: kc, Service: "kafka", PersistAfterAuth: true}.AsMechanism())))
	if n := logins.Load(); n < 3 {
		t.Errorf("%d Kerberos logins in 8 requests over 0.8 s with sessions of %v, want re-authentications", n, lifetime)
	}
}

//go:build integration

package broker_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/kerberos"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/kerberos/kdctest"
	"github.com/chronik-go/chronik/core/opsctl"
	"github.com/chronik-go/chronik/core/testtls"
)

// TestKafkaSASL: a broker with kafka.sasl-mechanisms over TLS (Kafka's
// SASL_SSL) serves clients that authenticate with SCRAM or PLAIN as a user
// of kafka.sasl-users-file, refuses a wrong password, and picks up users
// added to or removed from the file without a restart.
func TestKafkaSASL(t *testing.T) {
	ca := testtls.NewCA(t, "sasl")
	users := filepath.Join(t.TempDir(), "users.toml")
	version := 0
	writeUsers := func(body string) {
		t.Helper()
		// A new modification time even within the file system's
		// timestamp granularity.
		tmp := users + ".tmp"
		if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		version++
		later := time.Now().Add(time.Duration(version) * time.Second)
		if err := os.Chtimes(tmp, later, later); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, users); err != nil {
			t.Fatal(err)
		}
	}
	writeUsers("[users]\nalice = \"alice-secret\"\n")

	cfg := brokertest.Config(t)
	cfg.Kafka.TLSCertFile, cfg.Kafka.TLSKeyFile = ca.Issue("broker")
	cfg.Kafka.SASLMechanisms = []string{"SCRAM-SHA-512", "PLAIN"}
	cfg.Kafka.SASLUsersFile = users
	b := brokertest.Start(t, cfg)
	tlsCfg, err := opsctl.TLSFiles{CAFile: ca.File}.Config()
	if err != nil {
		t.Fatal(err)
	}
	client := func(mech sasl.Mechanism, extra ...kgo.Opt) *kgo.Client {
		t.Helper()
		opts := append([]kgo.Opt{kgo.SeedBrokers(b.KafkaAddr()), kgo.DialTLSConfig(tlsCfg), kgo.SASL(mech), kgo.RequestRetries(0)}, extra...)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	ping := func(mech sasl.Mechanism) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := kadm.NewClient(client(mech)).ListTopics(ctx)
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	alice := scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism()
	if resp, err := kadm.NewClient(client(alice)).CreateTopic(ctx, 1, 1, nil, "authed"); err != nil || resp.Err != nil {
		t.Fatalf("create as alice: %v %v", err, resp.Err)
	}
	if err := client(alice, kgo.DefaultProduceTopic("authed")).ProduceSync(ctx, kgo.StringRecord("hello")).FirstErr(); err != nil {
		t.Fatalf("produce as alice: %v", err)
	}
	cons := client(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism(),
		kgo.ConsumeTopics("authed"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if fs := cons.PollFetches(ctx); fs.NumRecords() != 1 || len(fs.Errors()) > 0 {
		t.Fatalf("consume with PLAIN: %d records, %v", fs.NumRecords(), fs.Errors())
	}
	if err := ping(scram.Auth{User: "alice", Pass: "wrong"}.AsSha512Mechanism()); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("wrong password: %v", err)
	}

	// Add bob and remove alice; within the reload check the file rules.
	writeUsers("[users]\nbob = \"bob-secret\"\n")
	bob := scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha512Mechanism()
	deadline := time.Now().Add(10 * time.Second)
	for ping(bob) != nil || ping(alice) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("users file change not applied: bob %v, alice %v", ping(bob), ping(alice))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A broken file keeps the last good users.
	writeUsers("[users\nbroken")
	time.Sleep(1500 * time.Millisecond)
	if err := ping(bob); err != nil {
		t.Fatalf("a broken users file dropped the users it replaced: %v", err)
	}
}

// TestKafkaSASLBadUsersFile: a users file that does not load fails start-up
// with a message naming the setting.
func TestKafkaSASLBadUsersFile(t *testing.T) {
	for name, body := range map[string]string{
		"missing":   "",
		"not toml":  "[users\n",
		"no users":  "[users]\n",
		"other key": "[people]\nalice = \"x\"\n",
	} {
		cfg := brokertest.Config(t)
		cfg.Kafka.SASLMechanisms = []string{"PLAIN"}
		cfg.Kafka.SASLUsersFile = filepath.Join(t.TempDir(), "users.toml")
		if body != "" {
			if err := os.WriteFile(cfg.Kafka.SASLUsersFile, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		b, err := broker.Start(ctx, cfg, brokertest.Logger())
		if err == nil {
			_ = b.Stop(ctx)
			cancel()
			t.Fatalf("%s: started", name)
		}
		cancel()
		if !strings.Contains(err.Error(), "kafka.sasl-users-file") {
			t.Fatalf("%s: error does not name kafka.sasl-users-file: %v", name, err)
		}
	}
}

// TestReauthenticationEndsRemovedUsers: with kafka.connections-max-reauth,
// a user removed from the users file loses the connections it had within
// a session: franz-go's re-authentication fails and so do its requests,
// while a user still in the file carries on.
func TestReauthenticationEndsRemovedUsers(t *testing.T) {
	cfg := brokertest.Config(t)
	brokertest.SASLUsers(t, &cfg, []string{"SCRAM-SHA-256"}, "alice", "bob")
	cfg.Kafka.ConnectionsMaxReauth = 1500 * time.Millisecond
	b := brokertest.Start(t, cfg)
	client := func(user string) *kadm.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()), kgo.RequestRetries(0),
			kgo.SASL(scram.Auth{User: user, Pass: user + "-secret"}.AsSha256Mechanism()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return kadm.NewClient(cl)
	}
	alice, bob := client("alice"), client("bob")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range []*kadm.Client{alice, bob} {
		if _, err := c.ListTopics(ctx); err != nil {
			t.Fatalf("before: %v", err)
		}
	}
	// bob leaves the users file (reloaded within a second).
	if err := os.WriteFile(cfg.Kafka.SASLUsersFile, []byte("[users]\n\"alice\" = \"alice-secret\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := bob.ListTopics(ctx)
		if err != nil {
			if !errors.Is(err, kerr.SaslAuthenticationFailed) {
				t.Logf("bob's request failed with %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("bob, removed from the users file, still served after 10 s with sessions of 1.5 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := alice.ListTopics(ctx); err != nil {
		t.Fatalf("alice after bob's removal: %v", err)
	}
}

// TestKafkaGSSAPI: a broker with GSSAPI (against a real MIT KDC) lets in
// a client with a ticket for kafka/127.0.0.1; when the broker's key changes
// at the KDC, the new keytab written over kafka.sasl-kerberos-keytab is
// picked up without a restart. A keytab without the service's key fails
// start-up naming the setting.
func TestKafkaGSSAPI(t *testing.T) {
	kdc := kdctest.Start(t)
	kdc.AddPrincipal(t, "kafka/127.0.0.1", "")
	kdc.AddPrincipal(t, "alice", "alice-secret")
	kdc.AddPrincipal(t, "HTTP/127.0.0.1", "")
	keytab := filepath.Join(t.TempDir(), "kafka.keytab")
	exportKeytab := func() {
		t.Helper()
		data, err := os.ReadFile(kdc.Keytab(t, fmt.Sprintf("kafka-%d.keytab", time.Now().UnixNano()), "kafka/127.0.0.1"))
		if err != nil {
			t.Fatal(err)
		}
		tmp := keytab + ".tmp"
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(time.Minute) // a new modification time within the timestamps' granularity
		if err := os.Chtimes(tmp, later, later); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, keytab); err != nil {
			t.Fatal(err)
		}
	}
	exportKeytab()

	cfg := brokertest.Config(t)
	cfg.Kafka.SASLMechanisms = []string{"GSSAPI"}
	cfg.Kafka.SASLKerberosKeytab = keytab
	b := brokertest.Start(t, cfg)
	conf, err := krbconfig.Load(kdc.Conf)
	if err != nil {
		t.Fatal(err)
	}
	ping := func() error {
		kc := krbclient.NewWithPassword("alice", kdctest.Realm, "alice-secret", conf, krbclient.DisablePAFXFAST(true))
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()), kgo.RequestRetries(0),
			kgo.SASL(kerberos.Auth{Client: kc, Service: "kafka"}.AsMechanism()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = kadm.NewClient(cl).ListTopics(ctx)
		return err
	}
	if err := ping(); err != nil {
		t.Fatalf("alice's ticket: %v", err)
	}
	kdc.NewKey(t, "kafka/127.0.0.1")
	if err := ping(); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("a ticket in the broker's new key before the broker has it: %v", err)
	}
	exportKeytab()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		err := ping()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new keytab was not picked up: %v", err)
		}
	}

	bad := brokertest.Config(t)
	bad.Kafka.SASLMechanisms = []string{"GSSAPI"}
	bad.Kafka.SASLKerberosKeytab = kdc.Keytab(t, "http.keytab", "HTTP/127.0.0.1")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if nb, err := broker.Start(ctx, bad, brokertest.Logger()); err == nil {
		_ = nb.Stop(ctx)
		t.Fatal("a broker started with a keytab without kafka/… keys")
	} else if !strings.Contains(err.Error(), "kafka.sasl-kerberos-keytab") || !strings.Contains(err.Error(), `no key for the service "kafka"`) {
		t.Fatalf("the error does not say what is wrong: %v", err)
	}
}

// TestKafkaDelegationTokens: on a broker that takes Kerberos and SCRAM
// (no users file), alice logs in with Kerberos and creates a delegation
// token (kept in the meta shard); a worker logs in with it through SCRAM
// and is alice; a token that expires is removed by the broker.
func TestKafkaDelegationTokens(t *testing.T) {
	kdc := kdctest.Start(t)
	kdc.AddPrincipal(t, "kafka/127.0.0.1", "")
	kdc.AddPrincipal(t, "alice", "alice-secret")
	cfg := brokertest.Config(t)
	cfg.Kafka.SASLMechanisms = []string{"GSSAPI", "SCRAM-SHA-512"}
	cfg.Kafka.SASLKerberosKeytab = kdc.Keytab(t, "kafka.keytab", "kafka/127.0.0.1")
	cfg.Kafka.DelegationTokenSecretKey = "a secret shared by every broker"
	b := brokertest.Start(t, cfg)
	conf, err := krbconfig.Load(kdc.Conf)
	if err != nil {
		t.Fatal(err)
	}
	client := func(mech sasl.Mechanism) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()), kgo.RequestRetries(0), kgo.SASL(mech))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	kc := krbclient.NewWithPassword("alice", kdctest.Realm, "alice-secret", conf, krbclient.DisablePAFXFAST(true))
	alice := client(kerberos.Auth{Client: kc, Service: "kafka", PersistAfterAuth: true}.AsMechanism())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	created, err := kmsg.NewPtrCreateDelegationTokenRequest().RequestWith(ctx, alice)
	if err != nil || created.ErrorCode != 0 || created.PrincipalName != "alice" {
		t.Fatalf("create: %+v, %v", created, err)
	}
	worker := client(scram.Auth{User: created.TokenID, Pass: base64.StdEncoding.EncodeToString(created.HMAC), IsToken: true}.AsSha512Mechanism())
	if _, err := kadm.NewClient(worker).ListTopics(ctx); err != nil {
		t.Fatalf("the worker with alice's token: %v", err)
	}

	short := kmsg.NewPtrCreateDelegationTokenRequest()
	short.MaxLifetimeMillis = 300
	expiring, err := short.RequestWith(ctx, alice)
	if err != nil || expiring.ErrorCode != 0 {
		t.Fatalf("create a short token: %+v, %v", expiring, err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		described, err := kmsg.NewPtrDescribeDelegationTokenRequest().RequestWith(ctx, alice)
		if err != nil || described.ErrorCode != 0 {
			t.Fatalf("describe: %+v, %v", described, err)
		}
		ids := map[string]bool{}
		for _, d := range described.TokenDetails {
			ids[d.TokenID] = true
		}
		if !ids[created.TokenID] {
			t.Fatalf("the live token is gone: %+v", described.TokenDetails)
		}
		if !ids[expiring.TokenID] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the expired token was not removed")
		}
	}
}

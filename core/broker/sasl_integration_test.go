//go:build integration

package broker_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/broker/brokertest"
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

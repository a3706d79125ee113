//go:build integration

package broker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/broker/brokertest"
)

// TestScramCredentialsThroughKafka: a super user adds, lists, replaces and
// deletes users' SCRAM credentials with the Kafka API (kadm, as
// kafka-configs.sh does); the users authenticate with them at once with
// SCRAM and PLAIN, a stored credential overrides the users file's password
// for its mechanism, other principals may not touch credentials, bad
// requests get Kafka's per-user errors, and the credentials survive a
// restart.
func TestScramCredentialsThroughKafka(t *testing.T) {
	cfg := brokertest.Config(t)
	brokertest.SASLUsers(t, &cfg, []string{"SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"}, "admin", "alice")
	cfg.Kafka.SuperUsers = []string{"User:admin"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := broker.Start(ctx, cfg, brokertest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Stop(context.Background()) }()

	client := func(mech sasl.Mechanism) *kgo.Client {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()), kgo.SASL(mech), kgo.RequestRetries(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	ping := func(mech sasl.Mechanism) error {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		defer pcancel()
		_, err := kadm.NewClient(client(mech)).ListTopics(pctx)
		return err
	}
	adminClient := client(scram.Auth{User: "admin", Pass: "admin-secret"}.AsSha512Mechanism())
	admin := kadm.NewClient(adminClient)

	altered, err := admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "bob", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "bob-secret"},
		{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "alice-new"},
	})
	if err != nil || altered.Error() != nil {
		t.Fatalf("upsert as a super user: %v %v", err, altered.Error())
	}
	for name, c := range map[string]struct {
		mech sasl.Mechanism
		ok   bool
	}{
		"bob SCRAM-SHA-512":                     {scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha512Mechanism(), true},
		"bob PLAIN":                             {plain.Auth{User: "bob", Pass: "bob-secret"}.AsMechanism(), true},
		"bob wrong password":                    {scram.Auth{User: "bob", Pass: "nope"}.AsSha512Mechanism(), false},
		"bob SCRAM-SHA-256 (no credential)":     {scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha256Mechanism(), false},
		"alice SCRAM-SHA-512, new password":     {scram.Auth{User: "alice", Pass: "alice-new"}.AsSha512Mechanism(), true},
		"alice SCRAM-SHA-512, file password":    {scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism(), false},
		"alice SCRAM-SHA-256, file password":    {scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha256Mechanism(), true},
		"alice PLAIN, file password overridden": {plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism(), false},
	} {
		if err := ping(c.mech); (err == nil) != c.ok {
			t.Errorf("%s: %v, want success %v", name, err, c.ok)
		}
	}

	described, err := admin.DescribeUserSCRAMs(ctx)
	if err != nil || described.Error() != nil {
		t.Fatalf("describe: %v %v", err, described.Error())
	}
	if bob := described["bob"]; len(bob.CredInfos) != 1 || bob.CredInfos[0].Mechanism != kadm.ScramSha512 || bob.CredInfos[0].Iterations != 8192 || len(described) != 2 {
		t.Fatalf("described %+v", described)
	}
	if d, err := admin.DescribeUserSCRAMs(ctx, "carol"); err != nil || !errors.Is(d["carol"].Err, kerr.ResourceNotFound) {
		t.Fatalf("describe a user without credentials: %+v %v", d, err)
	}

	// Not a super user.
	alice := kadm.NewClient(client(scram.Auth{User: "alice", Pass: "alice-new"}.AsSha512Mechanism()))
	// kadm reports an authorization failure as the call's error.
	if _, err := alice.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "x"}}); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alter by a non-super user: %v", err)
	}
	if _, err := alice.DescribeUserSCRAMs(ctx); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("describe by a non-super user: %v", err)
	}

	// Bad requests, raw: kadm checks some of these itself.
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	upsert := func(name string, mech int8, iterations int32) {
		u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		u.Name, u.Mechanism, u.Iterations, u.Salt, u.SaltedPassword = name, mech, iterations, []byte("salt"), []byte("salted")
		req.Upsertions = append(req.Upsertions, u)
	}
	upsert("few", 2, 100)
	upsert("few", 1, 4096) // valid, but not applied: its user has an error
	upsert("mech", 3, 4096)
	upsert("twice", 2, 4096)
	del := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
	del.Name, del.Mechanism = "twice", 2
	req.Deletions = append(req.Deletions, del)
	del.Name, del.Mechanism = "nobody", 1
	req.Deletions = append(req.Deletions, del)
	resp, err := req.RequestWith(ctx, adminClient)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int16{
		"few": kerr.UnacceptableCredential.Code, "mech": kerr.UnsupportedSaslMechanism.Code,
		"twice": kerr.DuplicateResource.Code, "nobody": kerr.ResourceNotFound.Code,
	}
	if len(resp.Results) != len(want) {
		t.Fatalf("results %+v", resp.Results)
	}
	for _, r := range resp.Results {
		if r.ErrorCode != want[r.User] {
			t.Errorf("user %s: code %d, want %d (%v)", r.User, r.ErrorCode, want[r.User], r.ErrorMessage)
		}
	}
	if d, err := admin.DescribeUserSCRAMs(ctx, "few", "twice"); err != nil || !errors.Is(d["few"].Err, kerr.ResourceNotFound) || !errors.Is(d["twice"].Err, kerr.ResourceNotFound) {
		t.Fatalf("users whose alterations failed got credentials: %+v %v", d, err)
	}

	// Credentials are cluster state: they survive a restart.
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if b, err = broker.Start(ctx, cfg, brokertest.Logger()); err != nil {
		t.Fatal(err)
	}
	if err := ping(scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha512Mechanism()); err != nil {
		t.Fatalf("bob after a restart: %v", err)
	}
	admin = kadm.NewClient(client(scram.Auth{User: "admin", Pass: "admin-secret"}.AsSha512Mechanism()))
	if r, err := admin.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "bob", Mechanism: kadm.ScramSha512}}, nil); err != nil || r.Error() != nil {
		t.Fatalf("delete bob: %v %v", err, r.Error())
	}
	if err := ping(scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha512Mechanism()); err == nil {
		t.Fatal("bob authenticated after his credential was deleted")
	}
}

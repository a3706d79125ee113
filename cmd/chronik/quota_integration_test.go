//go:build integration

package main

import (
	"context"
	"crypto/rand"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/opsctl"
	"github.com/chronik-go/chronik/core/quota"
)

// TestQuotaCommands: `chronik quota set | list | delete` as a super user
// of a broker with kafka.authorizer = "acl": defaults and names, filters
// (--strict), deleting one rate and then the rest; a principal without
// DESCRIBE_CONFIGS or ALTER_CONFIGS on the cluster is told who may manage
// quotas, and may list once an ACL allows it DESCRIBE_CONFIGS.
func TestQuotaCommands(t *testing.T) {
	c, as := aclBrokerCLI(t)
	list := func(args ...string) []opsctl.Quota {
		t.Helper()
		return opsJSON[opsctl.QuotaList](c, as("admin", append([]string{"quota", "list"}, args...)...)...).Quotas
	}

	if out := c.ok(as("admin", "quota", "list")...); out != "USER  CLIENT-ID  PRODUCER-BYTE-RATE  CONSUMER-BYTE-RATE  CONTROLLER-MUTATION-RATE\n" {
		t.Fatalf("quota list of none:\n%s", out)
	}
	set := opsJSON[opsctl.QuotaChange](c, as("admin", "quota", "set", "--user-default", "--producer-byte-rate", "10MiB", "--consumer-byte-rate", "20971520")...)
	if set.Action != "set" || len(set.Quotas) != 1 || set.Quotas[0].User == nil || !set.Quotas[0].User.Default || set.Quotas[0].ClientID != nil ||
		set.Quotas[0].Quotas[quota.ProducerByteRate] != 10<<20 || set.Quotas[0].Quotas[quota.ConsumerByteRate] != 20<<20 {
		t.Fatalf("quota set --user-default: %+v", set)
	}
	out := c.ok(as("admin", "quota", "set", "--user", "alice", "--client-id", "etl", "--consumer-byte-rate", "1GiB")...)
	if !strings.Contains(out, "alice  etl        -                   1 GiB/s             -                         set") {
		t.Fatalf("quota set table:\n%s", out)
	}
	c.ok(as("admin", "quota", "set", "--user", "alice", "--producer-byte-rate", "1KiB")...)
	c.ok(as("admin", "quota", "set", "--user", "alice", "--controller-mutation-rate", "0.5")...)
	c.ok(as("admin", "quota", "set", "--client-id-default", "--producer-byte-rate", "1500")...)
	// Setting one rate keeps the other.
	c.ok(as("admin", "quota", "set", "--user-default", "--producer-byte-rate", "5MiB")...)

	want := "USER       CLIENT-ID  PRODUCER-BYTE-RATE  CONSUMER-BYTE-RATE  CONTROLLER-MUTATION-RATE\n" +
		"-          <default>  1500 B/s            -                   -\n" +
		"<default>  -          5 MiB/s             20 MiB/s            -\n" +
		"alice      -          1 KiB/s             -                   0.5/s\n" +
		"alice      etl        -                   1 GiB/s             -\n"
	if out := c.ok(as("admin", "quota", "list")...); out != want {
		t.Fatalf("quota list:\n%s\nwant:\n%s", out, want)
	}
	if got := list("--user", "alice"); len(got) != 2 || got[1].ClientID == nil || *got[1].ClientID.Name != "etl" {
		t.Fatalf("quota list --user alice: %+v", got)
	}
	if got := list("--user", "alice", "--strict"); len(got) != 1 || got[0].ClientID != nil || got[0].Quotas[quota.ProducerByteRate] != 1024 {
		t.Fatalf("quota list --user alice --strict: %+v", got)
	}
	if got := list("--client-id-default"); len(got) != 1 || got[0].User != nil || !got[0].ClientID.Default {
		t.Fatalf("quota list --client-id-default: %+v", got)
	}
	if got := list("--user", "bob"); len(got) != 0 {
		t.Fatalf("quota list --user bob: %+v", got)
	}

	deleted := opsJSON[opsctl.QuotaChange](c, as("admin", "quota", "delete", "--user-default", "--consumer-byte-rate")...)
	if deleted.Action != "deleted" || len(deleted.Quotas) != 1 || len(deleted.Quotas[0].Quotas) != 1 ||
		deleted.Quotas[0].Quotas[quota.ConsumerByteRate] != 20<<20 {
		t.Fatalf("quota delete --user-default --consumer-byte-rate: %+v", deleted)
	}
	if got := list("--user-default", "--strict"); len(got) != 1 || len(got[0].Quotas) != 1 || got[0].Quotas[quota.ProducerByteRate] != 5<<20 {
		t.Fatalf("after deleting the default user's consumer rate: %+v", got)
	}
	if out := c.ok(as("admin", "quota", "delete", "--user", "alice", "--client-id", "etl")...); !strings.Contains(out, "alice  etl        -                   1 GiB/s             -                         deleted") {
		t.Fatalf("quota delete of an entity:\n%s", out)
	}
	if out := c.ok(as("admin", "quota", "delete", "--user", "alice", "--client-id", "etl")...); !strings.Contains(out, "no quota matched: nothing was deleted") {
		t.Fatalf("quota delete of nothing:\n%s", out)
	}
	if got := list(); len(got) != 3 {
		t.Fatalf("quota list after deleting: %+v", got)
	}

	t.Setenv(opsctl.EnvSASLPassword, "alice-secret")
	c.fails("may not DESCRIBE_CONFIGS the cluster", as("alice", "quota", "list")...)
	c.fails("principals an ACL allows DESCRIBE_CONFIGS (quota list) or ALTER_CONFIGS (quota set, delete)",
		as("alice", "quota", "set", "--user", "alice", "--producer-byte-rate", "1GiB")...)
	t.Setenv(opsctl.EnvSASLPassword, "admin-secret")
	c.ok(as("admin", "acl", "create", "--cluster", "--principal", "User:alice", "--operation", "describe-configs")...)
	t.Setenv(opsctl.EnvSASLPassword, "alice-secret")
	if got := opsJSON[opsctl.QuotaList](c, as("alice", "quota", "list", "--user", "alice")...).Quotas; len(got) != 1 {
		t.Fatalf("quota list by alice, allowed DESCRIBE_CONFIGS on the cluster: %+v", got)
	}
	c.fails("may not ALTER_CONFIGS the cluster", as("alice", "quota", "delete", "--user", "alice")...)
}

// throttles counts the produce responses a client got with a throttle time.
type throttles struct{ n atomic.Int32 }

func (h *throttles) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	if d > 0 {
		h.n.Add(1)
	}
}

// TestQuotaEnforced: a quota set with the CLI throttles the client it
// names on the broker; deleted, it no longer does.
func TestQuotaEnforced(t *testing.T) {
	c := newOpsCLI(t)
	c.ok("topic", "create", "metered")
	c.ok("quota", "set", "--client-id", "slow", "--producer-byte-rate", "1KiB")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	produce := func(h *throttles, clientID string) {
		t.Helper()
		cl := c.client(kgo.ClientID(clientID), kgo.DefaultProduceTopic("metered"), kgo.WithHooks(h),
			kgo.ProducerBatchCompression(kgo.NoCompression()))
		// 12 KiB: over the 10 KiB a new sensor may send at once (10
		// windows of 1 KiB/s), so the broker throttles about 2 s.
		recs := make([]*kgo.Record, 12)
		for i := range recs {
			recs[i] = &kgo.Record{Value: make([]byte, 1024)}
			_, _ = rand.Read(recs[i].Value)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce as %s: %v", clientID, err)
		}
	}
	var slow, other throttles
	produce(&slow, "slow")
	produce(&other, "fast")
	if slow.n.Load() == 0 {
		t.Fatal("client slow, over its quota, was not throttled")
	}
	if other.n.Load() != 0 {
		t.Fatal("client fast, without a quota, was throttled")
	}

	c.ok("quota", "delete", "--client-id", "slow")
	if got := opsJSON[opsctl.QuotaList](c, "quota", "list").Quotas; len(got) != 0 {
		t.Fatalf("quota list after delete: %+v", got)
	}
	var after throttles
	produce(&after, "slow")
	if after.n.Load() != 0 {
		t.Fatal("client slow was throttled after its quota was deleted")
	}
}

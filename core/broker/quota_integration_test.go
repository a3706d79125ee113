//go:build integration

package broker_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/quota"
)

// TestQuotasKeptByTheCluster: client quotas altered through the broker's
// quota store (as AlterClientQuotas will) are committed all or none, keep
// their *quota.Set until they change, survive a restart and are removed.
func TestQuotasKeptByTheCluster(t *testing.T) {
	cfg := brokertest.Config(t)
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	store := broker.QuotaStoreOf(b)
	if s := store.Quotas(); s == nil || s.Len() != 0 {
		t.Fatalf("a new cluster has quotas for %v", s.Entities())
	}
	alice := quota.Entity{User: quota.Name("alice")}
	defaultClient := quota.Entity{User: quota.Name("alice"), ClientID: quota.DefaultPart}
	p, c := quota.ProducerByteRate, quota.ConsumerByteRate
	alts := []quota.Alteration{
		{Entity: alice, Ops: []quota.Op{{Key: p, Value: 1 << 20}, {Key: c, Value: 2 << 20}}},
		{Entity: defaultClient, Ops: []quota.Op{{Key: p, Value: 4096}}},
	}
	if err := store.AlterQuotas(ctx, alts); err != nil {
		t.Fatal(err)
	}
	want := map[quota.Entity]map[string]float64{alice: {p: 1 << 20, c: 2 << 20}, defaultClient: {p: 4096}}
	check := func(what string, s *quota.Set) {
		t.Helper()
		if s.Len() != len(want) {
			t.Fatalf("%s: quotas for %v, want %v", what, s.Entities(), want)
		}
		for e, q := range want {
			if !maps.Equal(s.Quotas(e), q) {
				t.Fatalf("%s: quotas of %s: %v, want %v", what, e, s.Quotas(e), q)
			}
		}
	}
	set := store.Quotas()
	check("after alter", set)
	if limit, sensor, ok := set.Resolve(p, "alice", "app"); !ok || limit != 4096 || sensor != (quota.Entity{User: quota.Name("alice"), ClientID: quota.Name("app")}) {
		t.Fatalf("alice's app resolves to %v %v %v, want 4096 under its own sensor", limit, sensor, ok)
	}

	// Invalid: nothing applied, the set kept.
	bad := []quota.Alteration{
		{Entity: quota.Entity{User: quota.Name("bob")}, Ops: []quota.Op{{Key: p, Value: 1}}},
		{Entity: alice, Ops: []quota.Op{{Key: "request_percentage", Value: 10}}},
	}
	if err := store.AlterQuotas(ctx, bad); err == nil {
		t.Fatal("an unsupported quota was accepted")
	}
	// Setting what is set changes nothing either.
	if err := store.AlterQuotas(ctx, alts[1:]); err != nil {
		t.Fatal(err)
	}
	if store.Quotas() != set {
		t.Fatal("alterations that changed nothing published a new set")
	}

	// Quotas are cluster state: they survive a restart.
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	if err := b.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	b = restart(t, cfg)
	store = broker.QuotaStoreOf(b)
	check("after a restart", store.Quotas())

	// Removing every quota removes the entities.
	var remove []quota.Alteration
	for e, q := range want {
		a := quota.Alteration{Entity: e}
		for k := range q {
			a.Ops = append(a.Ops, quota.Op{Key: k, Remove: true})
		}
		remove = append(remove, a)
	}
	if err := store.AlterQuotas(ctx, remove); err != nil {
		t.Fatal(err)
	}
	want = nil
	check("after removing them", store.Quotas())
}

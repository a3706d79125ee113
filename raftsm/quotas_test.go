package raftsm

import (
	"maps"
	"math"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/chronik-go/chronik/core/quota"
)

// setQuota is an alteration setting one quota of e.
func setQuota(e quota.Entity, key string, v float64) quota.Alteration {
	return quota.Alteration{Entity: e, Ops: []quota.Op{{Key: key, Value: v}}}
}

// removeQuota is an alteration removing one quota of e.
func removeQuota(e quota.Entity, key string) quota.Alteration {
	return quota.Alteration{Entity: e, Ops: []quota.Op{{Key: key, Remove: true}}}
}

// quotasOf renders a set for comparison: entity → key → value.
func quotasOf(s *quota.Set) map[quota.Entity]map[string]float64 {
	out := map[quota.Entity]map[string]float64{}
	for _, e := range s.Entities() {
		out[e] = s.Quotas(e)
	}
	return out
}

func sameQuotas(a, b map[quota.Entity]map[string]float64) bool {
	return maps.EqualFunc(a, b, maps.Equal[map[string]float64])
}

func TestQuotasAlter(t *testing.T) {
	m, st := openMetaForACLs(t, "state")
	empty := m.View().Quotas
	if empty == nil || empty.Len() != 0 {
		t.Fatalf("initial quotas = %v, want an empty set", empty)
	}
	update := applier(t, &m)
	alice := quota.Entity{User: quota.Name("alice")}
	// A user literally named "<default>" is not the default user.
	namedDefault := quota.Entity{User: quota.Name("<default>")}
	defaultUser := quota.Entity{User: quota.DefaultPart}
	aliceApp := quota.Entity{User: quota.Name("alice"), ClientID: quota.Name("app")}
	defaultClient := quota.Entity{ClientID: quota.DefaultPart}
	p, c := quota.ProducerByteRate, quota.ConsumerByteRate

	badFlag := EncodeAlterQuotas([]quota.Alteration{removeQuota(alice, p)})
	badFlag[len(badFlag)-1] = 2 // neither set (0) nor remove (1)
	res := update(
		EncodeAlterQuotas([]quota.Alteration{
			setQuota(alice, p, 1024), setQuota(namedDefault, p, 1), setQuota(defaultUser, c, 2048),
			{Entity: aliceApp, Ops: []quota.Op{{Key: p, Value: 10}, {Key: c, Value: 20}}},
			setQuota(defaultClient, p, 5),
		}),
		// Invalid alterations: none of the command's is applied.
		EncodeAlterQuotas([]quota.Alteration{setQuota(alice, p, 99), setQuota(quota.Entity{}, p, 1)}),
		EncodeAlterQuotas([]quota.Alteration{setQuota(alice, p, 99), setQuota(alice, "request_percentage", 1)}),
		EncodeAlterQuotas([]quota.Alteration{setQuota(alice, p, 99), setQuota(defaultUser, c, math.NaN())}),
		EncodeAlterQuotas([]quota.Alteration{setQuota(alice, p, 99), setQuota(defaultUser, c, -1)}),
		EncodeAlterQuotas([]quota.Alteration{{Entity: alice, Ops: []quota.Op{{Key: p, Value: 99}, {Key: p, Remove: true}}}}),
		EncodeAlterQuotas([]quota.Alteration{setQuota(quota.Entity{User: quota.Part{Kind: quota.Default, Name: "x"}}, p, 1)}),
		EncodeAlterQuotas([]quota.Alteration{setQuota(quota.Entity{User: quota.Part{Kind: 7}}, p, 1)}),
		// Undecodable.
		[]byte{commandVersion, cmdAlterQuotas, 1, 1},
		badFlag,
	)
	for i, r := range res {
		want := StatusMalformed
		if i == 0 {
			want = StatusOK
		}
		if got := ResultStatus(r.Data); got != want {
			t.Errorf("command %d: %v, want %v", i, got, want)
		}
	}
	want := map[quota.Entity]map[string]float64{
		alice: {p: 1024}, namedDefault: {p: 1}, defaultUser: {c: 2048},
		aliceApp: {p: 10, c: 20}, defaultClient: {p: 5},
	}
	first := m.View().Quotas
	if got := quotasOf(first); !sameQuotas(got, want) {
		t.Fatalf("after alter: %v, want %v", got, want)
	}

	// Setting what is set and removing what is not change nothing, and keep
	// the published set, even when the view is published for another reason.
	res = update(
		EncodeAlterQuotas([]quota.Alteration{setQuota(alice, p, 1024), removeQuota(alice, c), removeQuota(quota.Entity{User: quota.Name("bob")}, p)}),
		EncodeAlterQuotas(nil),
		EncodeCreateTopic(&CreateTopicCommand{Name: "t", Nodes: [][]int32{{1}}}),
	)
	for i, r := range res {
		if st := ResultStatus(r.Data); st != StatusOK {
			t.Fatalf("command %d: %v", i, st)
		}
	}
	if m.View().Quotas != first {
		t.Fatal("an unchanged set was published anew")
	}

	// Removing the last quota removes the entity; removing one of two keeps
	// the other; an entity altered twice in one command ends as the last
	// alteration leaves it.
	update(EncodeAlterQuotas([]quota.Alteration{
		removeQuota(alice, p),
		removeQuota(aliceApp, c),
		setQuota(defaultClient, p, 6), removeQuota(defaultClient, p), setQuota(defaultClient, c, 7),
	}))
	delete(want, alice)
	want[aliceApp] = map[string]float64{p: 10}
	want[defaultClient] = map[string]float64{c: 7}
	second := m.View().Quotas
	if second == first {
		t.Fatal("a change kept the published set")
	}
	if got := quotasOf(second); !sameQuotas(got, want) {
		t.Fatalf("after removals: %v, want %v", got, want)
	}
	if first.Len() != 5 || !maps.Equal(first.Quotas(alice), map[string]float64{p: 1024}) {
		t.Fatal("a published set was modified")
	}

	// Reopened from the store.
	reopened := NewMeta(st, nil)
	if _, err := reopened.Open(nil); err != nil {
		t.Fatal(err)
	}
	if got := quotasOf(reopened.View().Quotas); !sameQuotas(got, want) {
		t.Fatalf("reopened: %v, want %v", got, want)
	}

	// Removing everything leaves no key behind.
	var all []quota.Alteration
	for e, q := range want {
		for _, k := range slices.Sorted(maps.Keys(q)) {
			all = append(all, removeQuota(e, k))
		}
	}
	update(EncodeAlterQuotas(all))
	if n := m.View().Quotas.Len(); n != 0 {
		t.Fatalf("%d entities left after removing every quota", n)
	}
	it, err := st.db.NewIter(&pebble.IterOptions{LowerBound: m.key(keyQuota, ""), UpperBound: m.key(keyQuota+1, "")})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		t.Errorf("quota key %x left", it.Key())
	}
}

// TestQuotasSnapshot: the quotas travel in the meta shard's snapshots.
func TestQuotasSnapshot(t *testing.T) {
	m, _ := openMetaForACLs(t, "state")
	update := applier(t, &m)
	kept := quota.Entity{User: quota.DefaultPart, ClientID: quota.Name("app")}
	update(EncodeAlterQuotas([]quota.Alteration{setQuota(kept, quota.ConsumerByteRate, 1.5e6)}))
	buf := snapshotOf(t, m)

	restored, _ := openMetaForACLs(t, "other")
	stale := quota.Entity{User: quota.Name("bob")}
	applier(t, &restored)(EncodeAlterQuotas([]quota.Alteration{setQuota(stale, quota.ProducerByteRate, 1)}))
	if err := restored.RecoverFromSnapshot(buf, nil); err != nil {
		t.Fatal(err)
	}
	want := map[quota.Entity]map[string]float64{kept: {quota.ConsumerByteRate: 1.5e6}}
	if got := quotasOf(restored.View().Quotas); !sameQuotas(got, want) {
		t.Fatalf("recovered from a snapshot: %v, want %v", got, want)
	}
}

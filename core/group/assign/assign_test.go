package assign

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func tid(b byte) TopicID { return TopicID{b} }

// checkComplete fails unless every partition of every subscribed topic is
// assigned to exactly one member that subscribes to it.
func checkComplete(t *testing.T, members []Member, counts map[TopicID]int32, got map[string]Partitions) {
	t.Helper()
	subs := map[string]map[TopicID]bool{}
	wanted := map[TopicID]bool{}
	for _, m := range members {
		subs[m.ID] = map[TopicID]bool{}
		for _, tp := range m.Topics {
			subs[m.ID][tp] = true
			wanted[tp] = true
		}
	}
	seen := map[partition]string{}
	for id, ps := range got {
		for tp, parts := range ps {
			if !subs[id][tp] {
				t.Fatalf("member %s got topic %x it does not subscribe to", id, tp[0])
			}
			for _, p := range parts {
				x := partition{tp, p}
				if other, dup := seen[x]; dup {
					t.Fatalf("partition %x/%d assigned to %s and %s", tp[0], p, other, id)
				}
				seen[x] = id
			}
		}
	}
	for tp := range wanted {
		for p := range counts[tp] {
			if _, ok := seen[partition{tp, p}]; !ok {
				t.Fatalf("partition %x/%d unassigned", tp[0], p)
			}
		}
	}
}

func loads(got map[string]Partitions) (lo, hi int) {
	lo = -1
	for _, ps := range got {
		n := ps.Len()
		if lo < 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
	}
	return lo, hi
}

func TestUniformBalancedAndSticky(t *testing.T) {
	counts := map[TopicID]int32{tid(1): 7, tid(2): 5}
	members := []Member{{ID: "a", Topics: []TopicID{tid(1), tid(2)}}}
	got := Uniform{}.Assign(members, counts)
	checkComplete(t, members, counts, got)
	if got["a"].Len() != 12 {
		t.Fatalf("one member: %d partitions, want 12", got["a"].Len())
	}
	// Members join one by one: the assignment stays complete and balanced,
	// and no member loses a partition it could have kept.
	for _, id := range []string{"b", "c", "d", "e"} {
		prev := got
		members = append(members, Member{ID: id, Topics: []TopicID{tid(2), tid(1)}})
		for i := range members {
			members[i].Current = prev[members[i].ID]
		}
		got = Uniform{}.Assign(members, counts)
		checkComplete(t, members, counts, got)
		if lo, hi := loads(got); hi-lo > 1 {
			t.Fatalf("after %s joined: loads %d..%d", id, lo, hi)
		}
		moved := 0
		for _, m := range members {
			for tp, ps := range m.Current {
				for _, p := range ps {
					if !got[m.ID].Has(tp, p) {
						moved++
					}
				}
			}
		}
		// The new member takes its share and nothing else moves.
		if share := got[id].Len(); moved != share {
			t.Fatalf("after %s joined: %d partitions moved, want %d (its share)", id, moved, share)
		}
	}
	// A member leaves: only its partitions move.
	prev := got
	members = slices.DeleteFunc(members, func(m Member) bool { return m.ID == "c" })
	for i := range members {
		members[i].Current = prev[members[i].ID]
	}
	got = Uniform{}.Assign(members, counts)
	checkComplete(t, members, counts, got)
	for _, m := range members {
		if !m.Current.SubsetOf(got[m.ID]) {
			t.Fatalf("member %s lost partitions when c left: %v → %v", m.ID, m.Current, got[m.ID])
		}
	}
}

func TestUniformHeterogeneous(t *testing.T) {
	counts := map[TopicID]int32{tid(1): 6, tid(2): 2, tid(3): 4}
	members := []Member{
		{ID: "a", Topics: []TopicID{tid(1)}},
		{ID: "b", Topics: []TopicID{tid(1), tid(2)}},
		{ID: "c", Topics: []TopicID{tid(2), tid(3)}},
		{ID: "d", Topics: []TopicID{tid(9)}}, // a topic that does not exist
	}
	got := Uniform{}.Assign(members, counts)
	checkComplete(t, members, counts, got)
	// 12 partitions over a, b, c: a and b share topic 1, c alone has 3.
	if got["d"].Len() != 0 || got["a"].Len()+got["b"].Len()+got["c"].Len() != 12 {
		t.Fatalf("assignment %v", got)
	}
	if d := got["a"].Len() - got["b"].Len(); d < -1 || d > 1 {
		t.Fatalf("a and b unbalanced: %v", got)
	}
}

func TestUniformRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		counts := map[TopicID]int32{}
		for i := range r.IntN(5) + 1 {
			counts[tid(byte(i))] = int32(r.IntN(20))
		}
		var members []Member
		homogeneous := round%2 == 0
		all := sortedTopics(counts)
		for i := range r.IntN(8) + 1 {
			m := Member{ID: fmt.Sprint("m", i), Topics: all}
			if !homogeneous {
				m.Topics = nil
				for _, tp := range all {
					if r.IntN(2) == 0 {
						m.Topics = append(m.Topics, tp)
					}
				}
			}
			// A random previous assignment, overlapping between members.
			m.Current = Partitions{}
			for _, tp := range all {
				for p := range counts[tp] + 2 {
					if r.IntN(3) == 0 {
						m.Current.add(tp, p)
					}
				}
			}
			members = append(members, m)
		}
		got := Uniform{}.Assign(members, counts)
		checkComplete(t, members, counts, got)
		if lo, hi := loads(got); homogeneous && hi-lo > 1 {
			t.Fatalf("round %d: homogeneous loads %d..%d", round, lo, hi)
		}
		again := Uniform{}.Assign(members, counts)
		for id := range got {
			if !got[id].Equal(again[id]) {
				t.Fatalf("round %d: not deterministic", round)
			}
		}
	}
}

func TestRange(t *testing.T) {
	counts := map[TopicID]int32{tid(1): 5, tid(2): 2}
	members := []Member{
		{ID: "b", Topics: []TopicID{tid(1), tid(2)}},
		{ID: "a", Topics: []TopicID{tid(1)}},
	}
	got := Range{}.Assign(members, counts)
	checkComplete(t, members, counts, got)
	want := map[string]Partitions{
		"a": {tid(1): {0, 1, 2}},
		"b": {tid(1): {3, 4}, tid(2): {0, 1}},
	}
	for id, ps := range want {
		if !got[id].Equal(ps) {
			t.Fatalf("%s: got %v, want %v", id, got[id], ps)
		}
	}
}

// TestReconcileHandOff moves a partition between two members: the new
// owner gets it only after the old one's heartbeat no longer lists it.
func TestReconcileHandOff(t *testing.T) {
	t1 := tid(1)
	a := Current{Epoch: 1, State: Stable, Assigned: Partitions{t1: {0, 1}}, Revoking: Partitions{}}
	b := Current{Epoch: 0, State: Stable, Assigned: Partitions{}, Revoking: Partitions{}}
	targetA, targetB := Partitions{t1: {0}}, Partitions{t1: {1}}
	heldBy := func(c Current) func(TopicID, int32) bool {
		return func(tp TopicID, p int32) bool { return c.Assigned.Has(tp, p) || c.Revoking.Has(tp, p) }
	}

	// b joins at target epoch 2: partition 1 is still a's.
	b = Reconcile(b, 2, targetB, Partitions{}, heldBy(a))
	if b.Epoch != 2 || b.State != UnreleasedPartitions || b.Assigned.Len() != 0 {
		t.Fatalf("b after join: %+v", b)
	}
	// a heartbeats still owning both: it must revoke 1, at epoch 1.
	a = Reconcile(a, 2, targetA, Partitions{t1: {0, 1}}, heldBy(b))
	if a.Epoch != 1 || a.State != UnrevokedPartitions || !a.Assigned.Equal(Partitions{t1: {0}}) || !a.Revoking.Equal(Partitions{t1: {1}}) {
		t.Fatalf("a revoking: %+v", a)
	}
	// A heartbeat that does not list its partitions changes nothing.
	if a2 := Reconcile(a, 2, targetA, nil, heldBy(b)); a2.State != UnrevokedPartitions {
		t.Fatalf("a without owned partitions: %+v", a2)
	}
	// b cannot have it yet.
	if b2 := Reconcile(b, 2, targetB, Partitions{}, heldBy(a)); b2.Assigned.Len() != 0 {
		t.Fatalf("b got partition 1 while a revokes it: %+v", b2)
	}
	// a reports it gave it up: a moves to epoch 2, stable.
	a = Reconcile(a, 2, targetA, Partitions{t1: {0}}, heldBy(b))
	if a.Epoch != 2 || a.PreviousEpoch != 1 || a.State != Stable || !a.Assigned.Equal(targetA) || a.Revoking.Len() != 0 {
		t.Fatalf("a after revoking: %+v", a)
	}
	// b picks it up.
	b = Reconcile(b, 2, targetB, Partitions{}, heldBy(a))
	if b.State != Stable || !b.Assigned.Equal(targetB) {
		t.Fatalf("b after release: %+v", b)
	}
	// Assignment epochs (KIP-1251): a's partition 0 since before epoch 2,
	// b's partition 1 since epoch 2.
	if !a.Held(t1, 0, 1) || a.Held(t1, 1, 2) || !b.Held(t1, 1, 2) || b.Held(t1, 1, 1) {
		t.Fatalf("assignment epochs: a %+v, b %+v", a.Since, b.Since)
	}
	// Stable at the target's epoch: nothing to do.
	if b2 := Reconcile(b, 2, targetB, nil, heldBy(a)); b2.State != Stable || b2.Epoch != 2 {
		t.Fatalf("stable b: %+v", b2)
	}
}

// TestReconcileTargetChangesWhileRevoking: a partition being revoked that
// the next target gives back stays with the member.
func TestReconcileTargetChangesWhileRevoking(t *testing.T) {
	t1 := tid(1)
	a := Current{Epoch: 3, State: UnrevokedPartitions, Assigned: Partitions{t1: {0}}, Revoking: Partitions{t1: {1}}}
	none := func(TopicID, int32) bool { return false }
	a = Reconcile(a, 5, Partitions{t1: {0, 1}}, Partitions{t1: {0, 1}}, none)
	if a.Epoch != 5 || a.PreviousEpoch != 3 || a.State != Stable || !a.Assigned.Equal(Partitions{t1: {0, 1}}) {
		t.Fatalf("a: %+v", a)
	}
	// A member told to revoke a partition it no longer owns (its
	// heartbeat lists nothing of it) moves on at once.
	b := Current{Epoch: 3, State: Stable, Assigned: Partitions{t1: {2, 3}}, Revoking: Partitions{}}
	b = Reconcile(b, 5, Partitions{t1: {2}}, Partitions{t1: {2}}, none)
	if b.Epoch != 5 || b.State != Stable || !b.Assigned.Equal(Partitions{t1: {2}}) {
		t.Fatalf("b: %+v", b)
	}
}

func TestNormalize(t *testing.T) {
	got := Normalize(Partitions{tid(1): {3, -1, 1, 3}, tid(2): {}, tid(3): {-5}})
	if !got.Equal(Partitions{tid(1): {1, 3}}) {
		t.Fatalf("got %v", got)
	}
}

// BenchmarkUniformAssign: 100 members over 1,000 partitions of 10 topics,
// recomputed after one member left (the common rebalance).
func BenchmarkUniformAssign(b *testing.B) {
	counts := map[TopicID]int32{}
	var all []TopicID
	for i := range 10 {
		counts[tid(byte(i))] = 100
		all = append(all, tid(byte(i)))
	}
	members := make([]Member, 100)
	for i := range members {
		members[i] = Member{ID: fmt.Sprintf("m%03d", i), Topics: all}
	}
	prev := Uniform{}.Assign(members, counts)
	members = members[1:]
	for i := range members {
		members[i].Current = prev[members[i].ID]
	}
	b.ReportAllocs()
	for b.Loop() {
		Uniform{}.Assign(members, counts)
	}
}

package raftsm

import (
	"testing"
)

// TestMetaDeletedTopicTombstones: deleting a topic leaves its name and UUID
// for the tiered-object cleanup, a re-created topic of the same name gets
// its own, forgetting removes exactly one (twice is harmless), and the
// tombstones survive a reopen and a snapshot.
func TestMetaDeletedTopicTombstones(t *testing.T) {
	h := newMetaHarness(t)
	first, second := [16]byte{1}, [16]byte{2}
	create := func(id [16]byte) []byte {
		return EncodeCreateTopic(&CreateTopicCommand{Name: "orders", ID: id, Nodes: [][]int32{{1}}})
	}
	for i, s := range h.update(create(first), EncodeDeleteTopic("orders"), create(second), EncodeDeleteTopic("orders")) {
		if s != StatusOK {
			t.Fatalf("command %d: %s", i, s)
		}
	}
	want := []DeletedTopic{{"orders", first}, {"orders", second}}
	check := func(m *Meta, want []DeletedTopic) {
		t.Helper()
		got, err := m.DeletedTopics()
		if err != nil || len(got) != len(want) {
			t.Fatalf("DeletedTopics = %v, %v; want %v", got, err, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("DeletedTopics = %v, want %v", got, want)
			}
		}
	}
	check(h.m, want)

	if s := h.update(EncodeForgetDeletedTopic(first), EncodeForgetDeletedTopic(first), []byte{commandVersion, cmdForgetDeletedTopic, 1}); s[0] != StatusOK || s[1] != StatusOK || s[2] != StatusMalformed {
		t.Fatalf("forget: %v", s)
	}
	check(h.m, want[1:])

	// Reopened, and recovered from a snapshot into a fresh store.
	reopened := NewMeta(h.store, nil)
	if _, err := reopened.Open(nil); err != nil {
		t.Fatal(err)
	}
	check(reopened, want[1:])
	other := newMetaHarness(t)
	if err := other.m.RecoverFromSnapshot(snapshotOf(t, reopened), nil); err != nil {
		t.Fatal(err)
	}
	check(other.m, want[1:])
}

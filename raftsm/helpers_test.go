package raftsm

import (
	"bytes"
	"testing"

	sm "github.com/lni/dragonboat/v4/statemachine"
)

// applier returns a function that applies commands to *target as one
// Dragonboat batch with increasing Raft indexes and returns their results.
// The target may be swapped between calls (a reopened state machine
// continues at the next index).
func applier[T sm.IOnDiskStateMachine](t testing.TB, target *T) func(cmds ...[]byte) []sm.Result {
	idx := uint64(0)
	return func(cmds ...[]byte) []sm.Result {
		t.Helper()
		ents := make([]sm.Entry, len(cmds))
		for i, c := range cmds {
			idx++
			ents[i] = sm.Entry{Index: idx, Cmd: c}
		}
		out, err := (*target).Update(ents)
		if err != nil {
			t.Fatal(err)
		}
		res := make([]sm.Result, len(out))
		for i := range out {
			res[i] = out[i].Result
		}
		return res
	}
}

// diskPartition opens a partition on a store in t's temp dir, on disk;
// both are closed when t ends.
func diskPartition(t testing.TB) *Partition {
	t.Helper()
	st, err := OpenStore(t.TempDir(), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := NewPartition(st, 2000, nil)
	if _, err := p.Open(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Close()
		_ = st.Close()
	})
	return p
}

// snapshotOf returns a snapshot stream of m, as Dragonboat takes one.
func snapshotOf(t *testing.T, m sm.IOnDiskStateMachine) *bytes.Buffer {
	t.Helper()
	ctx, err := m.PrepareSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.SaveSnapshot(ctx, &buf, nil); err != nil {
		t.Fatal(err)
	}
	return &buf
}

// abandon stops st's background work and closes its Pebble without the
// flush Close does, as a crash would leave it; the store is unusable after.
func abandon(st *Store) {
	close(st.stop)
	<-st.stopped
	_ = st.db.Close()
}

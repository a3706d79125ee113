package cluster

import (
	"io"
	"log/slog"
	"testing"

	"github.com/chronik-go/chronik/raftsm"
)

// TestRejoinFloor: a broker that never came back wiped has no floor; one
// that did records, once per generation, the shard after every partition
// of a current view, and keeps it across restarts.
func TestRejoinFloor(t *testing.T) {
	st, err := raftsm.OpenMemStore()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rc := &Reconciler{store: st, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if floor, known := rc.rejoinFloor(); !known || floor != 0 {
		t.Fatalf("generation 0: floor %d known %v, want 0 known", floor, known)
	}
	if err := st.SetGeneration(1); err != nil {
		t.Fatal(err)
	}
	if _, known := rc.rejoinFloor(); known {
		t.Fatal("came back wiped: the floor is known before a current view recorded it")
	}
	view := &raftsm.MetaView{Topics: map[string]*raftsm.TopicRecord{
		"a": {Name: "a", Partitions: []raftsm.PartitionRecord{{ShardID: 1024}, {ShardID: 1031}}},
		"b": {Name: "b", Partitions: []raftsm.PartitionRecord{{ShardID: 1027}}},
	}}
	if floor, ok := rc.recordRejoinFloor(view); !ok || floor != 1032 {
		t.Fatalf("recorded floor %d (%v), want 1032", floor, ok)
	}
	// Another reconciler on the same store (a restart) finds it.
	again := &Reconciler{store: st, log: rc.log}
	if floor, known := again.rejoinFloor(); !known || floor != 1032 {
		t.Fatalf("after a restart: floor %d known %v, want 1032", floor, known)
	}
	// Wiped again: a new generation needs a new floor.
	if err := st.SetGeneration(2); err != nil {
		t.Fatal(err)
	}
	if _, known := rc.rejoinFloor(); known {
		t.Fatal("a new generation kept the previous one's floor")
	}
}

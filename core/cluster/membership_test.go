package cluster

import (
	"testing"

	"github.com/chronik-go/chronik/raftsm"
)

func TestPickReplacementPrefersNewRackThenLoad(t *testing.T) {
	recs := map[int32]BrokerRecord{
		1: {ID: 1, Rack: "a"}, 2: {ID: 2, Rack: "b"}, 3: {ID: 3, Rack: "c"},
		4: {ID: 4, Rack: "a"}, 5: {ID: 5, Rack: "d"}, 6: {ID: 6, Rack: "d"},
	}
	var cands []BrokerRecord
	for _, id := range []int32{1, 2, 4, 5, 6} { // 3 is leaving
		cands = append(cands, recs[id])
	}
	load := map[int32]int{5: 3, 6: 1, 4: 0}
	// Partition on 1, 2, 3: 4 shares rack a with 1; 5 and 6 bring rack d, 6 is less loaded.
	if got := pickReplacement(cands, []int32{1, 2, 3}, recs, load); got != 6 {
		t.Fatalf("replacement = %d, want 6", got)
	}
	// Without a new rack available, the least loaded.
	if got := pickReplacement(cands[:3], []int32{1, 2, 3}, recs, load); got != 4 {
		t.Fatalf("replacement = %d, want 4", got)
	}
}

func TestToReassignment(t *testing.T) {
	p := raftsm.PartitionRecord{
		ShardID: 9, Nodes: []int32{1, 2, 3}, Replicas: []uint64{1, 2, 3},
		Target: []int32{4, 1, 3}, TargetReplicas: []uint64{7, 1, 8},
	}
	r := toReassignment("t", 0, p)
	if len(r.Adding) != 2 || r.Adding[0] != 4 || r.Adding[1] != 3 || len(r.Removing) != 2 || r.Removing[0] != 2 || r.Removing[1] != 3 {
		t.Fatalf("adding %v removing %v, want [4 3] and [2 3] (3 is replaced)", r.Adding, r.Removing)
	}
}

package cluster

import "testing"

func TestPlaceSpreadsLeadersAndRacks(t *testing.T) {
	brokers := []Broker{{ID: 1, Rack: "a"}, {ID: 2, Rack: "a"}, {ID: 3, Rack: "b"}, {ID: 4, Rack: "b"}, {ID: 5, Rack: "c"}, {ID: 6, Rack: "c"}}
	got := place(brokers, 60, 3)
	leaders := map[int32]int{}
	rackOf := map[int32]string{}
	for _, b := range brokers {
		rackOf[b.ID] = b.Rack
	}
	spread := 0
	for p, rs := range got {
		if len(rs) != 3 {
			t.Fatalf("partition %d has %d replicas", p, len(rs))
		}
		seen := map[int32]bool{}
		racks := map[string]bool{}
		for _, r := range rs {
			if seen[r] {
				t.Fatalf("partition %d places two replicas on broker %d: %v", p, r, rs)
			}
			seen[r] = true
			racks[rackOf[r]] = true
		}
		if len(racks) == 3 {
			spread++
		}
		leaders[rs[0]]++
	}
	for id, n := range leaders {
		if n != 10 {
			t.Errorf("broker %d leads %d of 60 partitions, want 10", id, n)
		}
	}
	if spread < 20 {
		t.Errorf("only %d of 60 partitions span all three racks", spread)
	}
	if one := place([]Broker{{ID: 7}}, 3, 1); len(one) != 3 || one[2][0] != 7 {
		t.Errorf("single broker placement = %v", one)
	}
}

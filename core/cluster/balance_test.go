package cluster

import (
	"slices"
	"testing"
)

// TestTransferBackoff: a shard whose hand-over keeps not taking is asked
// in rounds 0, 1, 3, 7, 15, 31, then every 31 rounds (maxTransferSkip 30
// skipped between).
func TestTransferBackoff(t *testing.T) {
	t.Parallel()
	var (
		tries transferTries
		asked bool
		got   []int
	)
	for r := range 200 {
		var ask bool
		tries, ask = tries.round(asked)
		if ask {
			got = append(got, r)
			asked = true
		}
	}
	want := []int{0, 1, 3, 7, 15, 31, 62, 93, 124, 155, 186}
	if !slices.Equal(got, want) {
		t.Fatalf("asked in rounds %v, want %v", got, want)
	}
}

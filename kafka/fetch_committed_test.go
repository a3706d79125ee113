package kafka

import (
	"encoding/binary"
	"testing"
)

// TestBatchesBelow checks the cut a read_committed fetch makes at the last
// stable offset: whole batches below it, and the offset after them.
func TestBatchesBelow(t *testing.T) {
	var recs []byte
	var sizes []int
	for i, base := range []int64{10, 13, 14} { // 3, 1 and 2 records
		b := makeBatch(1700000000000, []string{"a", "b", "c"}[:[]int{3, 1, 2}[i]]...)
		binary.BigEndian.PutUint64(b, uint64(base))
		recs = append(recs, b...)
		sizes = append(sizes, len(b))
	}
	for _, c := range []struct {
		lso     int64
		n       int
		wantEnd int64
	}{
		{10, 0, 0},
		{11, sizes[0], 13}, // a batch starting below is whole
		{13, sizes[0], 13},
		{14, sizes[0] + sizes[1], 14},
		{100, len(recs), 16},
	} {
		got, end := batchesBelow(recs, c.lso)
		if len(got) != c.n || end != c.wantEnd {
			t.Errorf("LSO %d: %d bytes ending at %d, want %d ending at %d", c.lso, len(got), end, c.n, c.wantEnd)
		}
	}
	// A truncated or corrupt tail stops the cut rather than overrunning.
	if got, _ := batchesBelow(recs[:len(recs)-1], 100); len(got) != sizes[0]+sizes[1] {
		t.Errorf("truncated tail: %d bytes", len(got))
	}
	bad := append([]byte(nil), recs...)
	binary.BigEndian.PutUint32(bad[8:], 1)
	if got, _ := batchesBelow(bad, 100); len(got) != 0 {
		t.Errorf("corrupt length: %d bytes", len(got))
	}
}

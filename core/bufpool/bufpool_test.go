package bufpool

import "testing"

func TestPool(t *testing.T) {
	var p Pool
	for _, tc := range []struct {
		n, wantCap int
	}{
		{0, 512},
		{1, 512},
		{512, 512},
		{513, 1024},
		{1 << 20, 1 << 20},
		{1<<20 + 1, 2 << 20},
		{16 << 20, 16 << 20},
		{16<<20 + 1, 16<<20 + 1}, // beyond the largest class: exact size
	} {
		b := p.Get(tc.n)
		if len(*b) != tc.n || cap(*b) != tc.wantCap {
			t.Errorf("get(%d): len %d cap %d, want len %d cap %d", tc.n, len(*b), cap(*b), tc.n, tc.wantCap)
		}
		p.Put(b)
	}
	// A buffer grown by append is filed under the class its capacity
	// rounds down to, so get never returns one smaller than asked.
	grown := make([]byte, 0, 3000)
	p.Put(&grown)
	for range 10 {
		if b := p.Get(2048); cap(*b) < 2048 || len(*b) != 2048 {
			t.Fatalf("get(2048): len %d cap %d", len(*b), cap(*b))
		}
	}
	tiny := make([]byte, 10)
	p.Put(&tiny) // dropped, not pooled
	if b := p.Get(100); cap(*b) < 512 {
		t.Fatalf("get(100) returned a %d-byte buffer", cap(*b))
	}
}

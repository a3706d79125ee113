// Package bufpool pools byte buffers by size class, so that a broker under
// load reuses the buffers of its request frames, encoded responses and Raft
// proposals instead of allocating (and zeroing) a new one for each; a 1 MB
// produce frame used to be a 1 MB allocation.
package bufpool

import (
	"math/bits"
	"sync"
)

// Size classes: powers of two from 512 B to 16 MiB. Larger buffers are
// allocated and left to the garbage collector (as are buffers of 32 MiB
// capacity and up), so that a rare huge one does not keep its memory in the
// pool.
const (
	minClass = 9
	maxClass = 24
)

// Pool is a set of sync.Pools by capacity class. Class k holds buffers
// whose capacity is at least 1<<k, so Get(n) takes from the class that
// rounds n up and Put files a buffer under the class that rounds its
// capacity down (a buffer grown by append lands where it fits). Buffers are
// not zeroed: callers overwrite what they use. The zero Pool is ready.
type Pool struct {
	classes [maxClass + 1]sync.Pool
}

// Get returns a buffer of length n.
func (p *Pool) Get(n int) *[]byte {
	k := max(minClass, bits.Len(uint(max(n, 1)-1)))
	if k > maxClass {
		b := make([]byte, n)
		return &b
	}
	if v := p.classes[k].Get(); v != nil {
		b := v.(*[]byte)
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<k)
	return &b
}

// Put hands b back; the caller must not use it afterwards.
func (p *Pool) Put(b *[]byte) {
	k := bits.Len(uint(cap(*b))) - 1
	if k < minClass || k > maxClass {
		return
	}
	*b = (*b)[:0]
	p.classes[k].Put(b)
}

package kafka

import (
	"math/bits"
	"sync"
)

// bufPool holds the buffers of request frames and encoded responses, so
// that a connection under load reuses them instead of allocating (and
// zeroing) a new one per request; a 1 MB produce frame used to be a 1 MB
// allocation.
var bufPool sizedPool

// Size classes of sizedPool: powers of two from 512 B to 16 MiB. Larger
// requests are allocated and left to the garbage collector (as are buffers
// of 32 MiB capacity and up), so that a rare huge request does not keep its
// memory in the pool.
const (
	minBufClass = 9
	maxBufClass = 24
)

// sizedPool is a set of sync.Pools by capacity class. Class k holds buffers
// whose capacity is at least 1<<k, so get(n) takes from the class that
// rounds n up and put files a buffer under the class that rounds its
// capacity down (a buffer grown by append lands where it fits). Buffers are
// not zeroed: callers overwrite what they use.
type sizedPool struct {
	classes [maxBufClass + 1]sync.Pool
}

// get returns a buffer of length n.
func (p *sizedPool) get(n int) *[]byte {
	k := max(minBufClass, bits.Len(uint(max(n, 1)-1)))
	if k > maxBufClass {
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

// put hands b back; the caller must not use it afterwards.
func (p *sizedPool) put(b *[]byte) {
	k := bits.Len(uint(cap(*b))) - 1
	if k < minBufClass || k > maxBufClass {
		return
	}
	*b = (*b)[:0]
	p.classes[k].Put(b)
}

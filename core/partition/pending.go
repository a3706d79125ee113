package partition

import "context"

// Pending is a produce that has been validated and proposed but not yet
// committed. Append returns it without blocking so a connection can propose
// its pipelined requests in order and wait for them concurrently.
type Pending struct {
	err  error
	done chan struct{}
	res  AppendResult
}

// Wait blocks until the append is committed and applied, fails, or ctx ends.
func (p *Pending) Wait(ctx context.Context) (AppendResult, error) {
	if p.err != nil {
		return AppendResult{}, p.err
	}
	select {
	case <-p.done:
		return p.res, p.err
	case <-ctx.Done():
		return AppendResult{}, ErrTimeout
	}
}

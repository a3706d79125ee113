package partition

import (
	"context"

	"github.com/lni/dragonboat/v4"

	"github.com/chronik-go/chronik/raftsm"
)

// Pending is a produce that has been validated and proposed but not yet
// committed. Append returns it without blocking so a connection can propose
// its pipelined requests in order and wait for them concurrently.
type Pending struct {
	err error
	rs  *dragonboat.RequestState
	r   *replica
	// appendTime is the LogAppendTime the state machine stamps on the
	// batches, -1 for CreateTime topics.
	appendTime int64
	// epoch is the leader's term when it proposed; lost closes when the
	// shard's leadership changes (leadership.go).
	epoch int32
	lost  <-chan struct{}
}

func failed(err error) *Pending { return &Pending{err: err} }

// Wait blocks until the append is committed and applied, fails, or ctx ends.
func (p *Pending) Wait(ctx context.Context) (AppendResult, error) {
	if p.err != nil {
		return AppendResult{}, p.err
	}
	for {
		select {
		case <-p.lost:
			// Still ours in the same term (a spurious wake-up): keep
			// waiting. Otherwise the entry may never be answered; the
			// client retries at the new leader, and an idempotent
			// producer's retry of a batch that did commit is answered as
			// a duplicate.
			lost := p.r.svc.leadership.watch(p.r.shardID)
			if _, epoch, isUs, err := p.r.leader(); err == nil && isUs && epoch == p.epoch {
				p.lost = lost
				continue
			}
			return AppendResult{}, ErrNotLeader
		case res := <-p.rs.ResultC():
			return p.result(res)
		case <-ctx.Done():
			return AppendResult{}, ErrTimeout
		}
	}
}

// result maps a Dragonboat result to the append's outcome.
func (p *Pending) result(res dragonboat.RequestResult) (AppendResult, error) {
	p.rs.Release()
	p.r.svc.countProposal(res)
	switch {
	case res.Completed():
	case res.Timeout():
		return AppendResult{}, ErrTimeout
	case res.Terminated():
		return AppendResult{}, ErrStopped
	case res.Dropped():
		return AppendResult{}, ErrNotLeader
	default:
		return AppendResult{}, ErrLeaderNotAvailable
	}
	r := res.GetResult()
	out := AppendResult{BaseOffset: int64(r.Value), LogAppendTime: -1, LogStartOffset: p.r.sm.LogStartOffset()}
	switch raftsm.ResultStatus(r.Data) {
	case raftsm.StatusOK:
		out.LogAppendTime = p.appendTime
		return out, nil
	case raftsm.StatusDuplicate:
		out.Duplicate = true
		return out, nil
	case raftsm.StatusOutOfOrder:
		return AppendResult{}, ErrOutOfOrderSequence
	case raftsm.StatusFencedEpoch:
		return AppendResult{}, ErrInvalidProducerEpoch
	case raftsm.StatusUnknownProducerID:
		return AppendResult{}, ErrUnknownProducerID
	default:
		return AppendResult{}, ErrLeaderNotAvailable
	}
}

// Failed returns a Pending that fails with err, for callers that reject an
// append before it reaches a replica.
func Failed(err error) *Pending { return failed(err) }

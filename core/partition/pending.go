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
}

func failed(err error) *Pending { return &Pending{err: err} }

// Wait blocks until the append is committed and applied, fails, or ctx ends.
func (p *Pending) Wait(ctx context.Context) (AppendResult, error) {
	if p.err != nil {
		return AppendResult{}, p.err
	}
	select {
	case res := <-p.rs.ResultC():
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
	case <-ctx.Done():
		return AppendResult{}, ErrTimeout
	}
}

// Failed returns a Pending that fails with err, for callers that reject an
// append before it reaches a replica.
func Failed(err error) *Pending { return failed(err) }

package partition

import (
	"context"
	"errors"
	"fmt"

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
	// proposedAt is when the leader proposed it (Service.now).
	proposedAt int64
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
			// client retries at the new leader (named in the answer once
			// known, for a KIP-951 hint), and an idempotent producer's
			// retry of a batch that did commit is answered as a duplicate.
			if p.stillOurs(ctx) {
				continue
			}
			return AppendResult{}, ErrNotLeader
		case res := <-p.rs.ResultC():
			out, err := p.result(res)
			if errors.Is(err, errDropped) {
				return AppendResult{}, p.holdDropped(ctx)
			}
			if err == nil {
				if err := p.r.acknowledge(ctx.Done(), uint64(p.epoch), p.proposedAt); err != nil {
					return AppendResult{}, err
				}
			}
			return out, err
		case <-ctx.Done():
			return AppendResult{}, ErrTimeout
		}
	}
}

// stillOurs is called when the shard's leadership changed: it waits (at
// most dropHold) for a leader to be known and reports whether it is this
// replica in the term the append was proposed in, re-arming p.lost.
func (p *Pending) stillOurs(ctx context.Context) bool {
	limit, stop := context.WithTimeout(ctx, p.r.svc.dropHold())
	defer stop()
	epoch, isUs, known, lost := p.r.awaitLeader(limit.Done())
	p.lost = lost
	return known && isUs && epoch == p.epoch
}

// errDropped is a proposal Raft refused to take: a leadership transfer or
// an election was under way. The entry is not in the log.
var errDropped = errors.New("proposal dropped")

// holdDropped answers a dropped proposal with NOT_LEADER_OR_FOLLOWER once
// the transfer or election that dropped it is over: when leadership
// changes, or after the longest a transfer can take (Dragonboat abandons
// one after an election timeout and the old leader carries on). Answered
// at once, the client would refresh its metadata, find the same leader
// still transferring, be refused again and then wait out its minimum
// metadata age (franz-go: 5 s) before asking again.
func (p *Pending) holdDropped(ctx context.Context) error {
	hold, stop := context.WithTimeout(ctx, p.r.svc.dropHold())
	defer stop()
	for {
		select {
		case <-p.lost:
			if p.stillOurs(hold) {
				continue // spurious wake-up: the same term
			}
			return ErrNotLeader
		case <-hold.Done():
			return ErrNotLeader
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
		return AppendResult{}, errDropped
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
	case raftsm.StatusTxnNotVerified:
		// A marker for the producer applied after the leader looked: its
		// transaction ended since, or had ended before but the leader had
		// not applied the marker yet (just after a leadership change). The
		// retry asks the coordinator again, which tells the two apart.
		return AppendResult{}, fmt.Errorf("%w: a transaction of the producer ended while the produce was proposed", ErrTxnVerification)
	default:
		return AppendResult{}, ErrLeaderNotAvailable
	}
}

// Failed returns a Pending that fails with err, for callers that reject an
// append before it reaches a replica.
func Failed(err error) *Pending { return failed(err) }

package partition

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lni/dragonboat/v4"

	"github.com/chronik-go/chronik/raftsm"
)

// TxnMarker ends a producer's open transaction in a partition: a commit or
// abort control batch, as Kafka's WriteTxnMarkers.
type TxnMarker struct {
	ProducerID    int64
	ProducerEpoch int16
	Commit        bool
}

// WriteTxnMarker proposes a transaction marker on the partition this
// broker leads (ErrNotLeader otherwise) and waits for it to be applied. A
// marker for a producer without an open transaction appends nothing, so a
// repeated marker is harmless.
func (s *Service) WriteTxnMarker(ctx context.Context, tp TP, m TxnMarker) error {
	r := s.lookup(tp)
	if r == nil {
		return ErrUnknownPartition
	}
	_, epoch, isUs, err := r.leader()
	if err != nil {
		return err
	}
	if !isUs {
		return ErrNotLeader
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, proposalTimeout)
		defer cancel()
	}
	cmd := raftsm.EncodeTxnMarker(raftsm.TxnMarker{
		ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch, Commit: m.Commit,
		CoordinatorEpoch: 0, LeaderEpoch: epoch, Timestamp: time.Now().UnixMilli(),
	})
	res, err := s.nh.SyncPropose(ctx, r.session, cmd)
	if err != nil {
		s.metrics.Proposals.Add(context.Background(), 1, s.failAttrs)
		switch {
		case errors.Is(err, dragonboat.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			return ErrTimeout
		case errors.Is(err, dragonboat.ErrShardNotReady):
			return ErrLeaderNotAvailable
		default:
			return proposeError(err)
		}
	}
	s.metrics.Proposals.Add(context.Background(), 1, s.okAttrs)
	if st := raftsm.ResultStatus(res.Data); st != raftsm.StatusOK {
		return fmt.Errorf("partition: transaction marker for %s/%d: %s", tp.Topic, tp.Partition, st)
	}
	return nil
}

// AbortedTxns returns the aborted transactions of the local replica that
// overlap [from, to) (Fetch's AbortedTransactions for read_committed).
func (s *Service) AbortedTxns(tp TP, from, to int64) ([]AbortedTxn, error) {
	r := s.lookup(tp)
	if r == nil {
		return nil, ErrUnknownPartition
	}
	return r.sm.AbortedTxns(from, to)
}

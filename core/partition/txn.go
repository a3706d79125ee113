package partition

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lni/dragonboat/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

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

// Errors of transaction verification.
var (
	// ErrInvalidTxnState: the producer's transaction does not include the
	// partition, or ended before the batch could open it here.
	ErrInvalidTxnState = errors.New("partition: the producer's ongoing transaction does not include this partition")
	// ErrTxnVerification: the transaction's coordinator could not be
	// asked, or a marker for the producer landed while its produce was
	// proposed; the producer retries.
	ErrTxnVerification = errors.New("partition: cannot verify the transaction with its coordinator now, retry")
)

// TxnVerifier asks a transaction's coordinator whether the producer's
// ongoing transaction added a partition (KIP-890); core/broker implements
// it.
type TxnVerifier interface {
	// Enabled reports whether appends are verified: not while any broker
	// runs a release that cannot apply the guard, nor when the operator
	// turned verification off.
	Enabled() bool
	// Adds reports whether Produce v12+ adds its partitions to the
	// transaction (KIP-890 part 2): once every broker runs a release
	// that can (raftsm.LevelTxnV2). Until then such produces are verified
	// as older ones are.
	Adds() bool
	// Verify returns nil when the producer pid, at epoch, has an ongoing
	// transaction that includes tp; otherwise ErrInvalidTxnState,
	// ErrInvalidProducerEpoch, or an error wrapping ErrTxnVerification.
	// With add it adds tp to the producer's transaction (beginning one
	// if none is open) instead of checking that it was added.
	Verify(ctx context.Context, txnID string, pid int64, epoch int16, tp TP, add bool) error
}

// TxnProduce names the transaction of a transactional produce request.
type TxnProduce struct {
	ID string
	// AddPartition: the request is Produce v12+ (KIP-890 part 2), whose
	// client sends no AddPartitionsToTxn; the partition is added to the
	// transaction with the coordinator rather than verified
	// (TxnVerifier.Adds).
	AddPartition bool
}

// txnVerifyTimeout bounds one verification.
const txnVerifyTimeout = 5 * time.Second

// SetTxnVerifier installs the verifier of transactional appends.
func (s *Service) SetTxnVerifier(v TxnVerifier) { s.verifier.Store(&v) }

// verifyTxn verifies a transactional append of the producer meta before
// it is proposed, unless its transaction is open in the partition already,
// and guards the command (raftsm AppendOptions.TxnGuard) with the index
// applied before it looked: a marker applied after that index ended the
// transaction the coordinator vouched for (or the one seen open), and the
// state machine then refuses the batch. That refusal is retriable
// (ErrTxnVerification): the marker may also be one the leader had not
// applied yet when it looked, and the retry's verification tells the two
// apart.
func (s *Service) verifyTxn(r *replica, txn TxnProduce, meta raftsm.BatchMeta, opts *raftsm.AppendOptions) error {
	v := s.verifier.Load()
	if v == nil {
		return nil
	}
	add := txn.AddPartition && (*v).Adds()
	if !add && !(*v).Enabled() {
		return nil
	}
	guard, _ := r.sm.AppliedLog()
	if !r.sm.TxnOpen(meta.ProducerID, meta.ProducerEpoch) {
		ctx, cancel := context.WithTimeout(context.Background(), txnVerifyTimeout)
		defer cancel()
		err := (*v).Verify(ctx, txn.ID, meta.ProducerID, meta.ProducerEpoch, r.tp, add)
		outcome := "verified"
		if add {
			outcome = "added"
		}
		switch {
		case errors.Is(err, ErrTxnVerification):
			outcome = "unavailable"
		case err != nil:
			outcome = "refused"
		}
		s.metrics.TxnVerifications.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcome)))
		if err != nil {
			return err
		}
	}
	opts.Guarded, opts.TxnGuard = true, guard
	return nil
}

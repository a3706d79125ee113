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
	proposedAt := s.now()
	r.ready.Leading(uint64(epoch), proposedAt)
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
	return r.acknowledge(ctx.Done(), uint64(epoch), proposedAt)
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
	// Add is Verify with add for several partitions at once.
	Add(ctx context.Context, txnID string, pid int64, epoch int16, tps []TP) error
}

// TxnProduce names the transaction of a transactional produce request.
type TxnProduce struct {
	ID string
	// AddPartition: the request is Produce v12+ (KIP-890 part 2), whose
	// client sends no AddPartitionsToTxn; the partition is added to the
	// transaction with the coordinator rather than verified
	// (TxnVerifier.Adds).
	AddPartition bool
	// added is what AddTxnPartitions added for this request.
	added *txnAdded
}

// txnAdded holds the partitions AddTxnPartitions added for a request's
// producer, each with the index it had applied before (its append's
// guard): their appends of that producer ask the coordinator nothing more.
type txnAdded struct {
	guards map[TP]uint64
	pid    int64
	epoch  int16
}

// AddTxnPartitions adds to txn's transaction, in one call to its
// coordinator, the partitions of tps this broker leads where producer pid
// at epoch has no transaction open (KIP-890 part 2: one Produce v12+
// request to several partitions would otherwise ask once per partition,
// one after another), and returns txn naming them. When that
// is not possible or fails it returns txn as it was: each append then
// asks on its own and answers its own error.
func (s *Service) AddTxnPartitions(txn TxnProduce, pid int64, epoch int16, tps []TP) TxnProduce {
	v := s.verifier.Load()
	if v == nil || !txn.AddPartition || !(*v).Adds() {
		return txn
	}
	added := make(map[TP]uint64, len(tps))
	var need []TP
	for _, tp := range tps {
		r := s.lookup(tp)
		if r == nil {
			continue
		}
		if _, _, isUs, err := r.leader(); err != nil || !isUs {
			continue
		}
		guard, _ := r.sm.AppliedLog()
		if !r.sm.TxnOpen(pid, epoch) {
			need = append(need, tp)
			added[tp] = guard
		}
	}
	if len(need) < 2 {
		return txn // as cheap one at a time
	}
	ctx, cancel := context.WithTimeout(context.Background(), txnVerifyTimeout)
	defer cancel()
	err := (*v).Add(ctx, txn.ID, pid, epoch, need)
	s.metrics.TxnVerifications.Add(ctx, int64(len(need)), metric.WithAttributes(attribute.String("outcome", verifyOutcome(err, true))))
	if err != nil {
		return txn
	}
	txn.added = &txnAdded{guards: added, pid: pid, epoch: epoch}
	return txn
}

// verifyOutcome is the outcome label of chronik_transaction_verifications_total.
func verifyOutcome(err error, add bool) string {
	switch {
	case errors.Is(err, ErrTxnVerification):
		return "unavailable"
	case err != nil:
		return "refused"
	case add:
		return "added"
	}
	return "verified"
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
	if a := txn.added; a != nil && a.pid == meta.ProducerID && a.epoch == meta.ProducerEpoch {
		if guard, ok := a.guards[r.tp]; ok {
			opts.Guarded, opts.TxnGuard = true, guard
			return nil
		}
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
		s.metrics.TxnVerifications.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", verifyOutcome(err, add))))
		if err != nil {
			return err
		}
	}
	opts.Guarded, opts.TxnGuard = true, guard
	return nil
}

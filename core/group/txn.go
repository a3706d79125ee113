package group

import (
	"context"
	"fmt"

	"github.com/chronik-go/chronik/raftsm"
)

// The group side of transactions (KIP-98): TxnOffsetCommit stores offsets
// pending for the producer in the group's coordinator shard; the
// transaction's marker for the group (EndTxnOffsets, called by the broker's
// marker writer for the transaction coordinator) commits or drops them.
// OffsetFetch does not see pending offsets; it flags their partitions
// Unstable.

// TxnCommitOffsets validates a TxnOffsetCommit as Kafka does (a member and
// generation when given; a transactional commit without them is accepted
// even while the group has members) and stores the offsets pending for the
// producer. It returns one error per offset, nil where stored.
func (s *Service) TxnCommitOffsets(ctx context.Context, req TxnCommitRequest) []error {
	if req.Group == "" {
		return fillErrors(make([]error, len(req.Offsets)), ErrInvalidGroupID)
	}
	sh, err := s.route(req.Group)
	if err != nil {
		return fillErrors(make([]error, len(req.Offsets)), err)
	}
	errs, offs := s.offsetsToStore(req.Offsets, 0)
	fill := func(err error) []error { return fillErrors(errs, err) }
	if len(offs) == 0 {
		return errs
	}
	// Kafka creates the group when it does not exist.
	g, err := s.lookup(sh, req.Group, true)
	if err != nil {
		return fill(err)
	}
	g.mu.Lock()
	err = g.validateTxnCommitLocked(req)
	g.mu.Unlock()
	if err != nil {
		return fill(err)
	}
	st, _, err := s.propose(ctx, sh, raftsm.EncodeTxnCommitOffsets(req.Group, req.ProducerID, req.ProducerEpoch, offs))
	switch {
	case err != nil:
		return fill(err)
	case st == raftsm.StatusTxnFenced:
		return fill(ErrInvalidProducerEpoch)
	case st != raftsm.StatusOK:
		return fill(fmt.Errorf("%w: transactional commit rejected: %s", ErrCoordinatorNotAvailable, st))
	}
	return errs
}

// validateTxnCommitLocked is Kafka's validateOffsetCommit for a
// transactional commit.
func (g *group) validateTxnCommitLocked(req TxnCommitRequest) error {
	switch {
	case g.mu.unloaded:
		return ErrNotCoordinator
	case g.mu.state == Dead:
		return ErrCoordinatorNotAvailable
	case req.Generation < 0 && req.MemberID == "" && req.InstanceID == "":
		return nil
	case g.mu.consumer != nil:
		return g.validateConsumerCommitLocked(req.MemberID, req.Generation, false, ErrIllegalGeneration, commitPartitions(req.Offsets))
	}
	if err := g.checkInstanceLocked(req.MemberID, req.InstanceID); err != nil {
		return err
	}
	if req.MemberID != "" && g.mu.members[req.MemberID] == nil {
		return ErrUnknownMember
	}
	if req.Generation != g.mu.generation {
		return ErrIllegalGeneration
	}
	return nil
}

// EndTxnOffsets writes a transaction's marker for a group: the producer's
// pending offsets become the group's committed offsets (commit) or are
// dropped, and offsets the producer sends later with an older epoch are
// refused. Nothing pending is not an error, so the call may be repeated.
// ErrNotCoordinator (or ErrCoordinatorNotAvailable, ErrLoadInProgress)
// when this broker does not coordinate the group: the caller finds the
// coordinator and retries there.
func (s *Service) EndTxnOffsets(ctx context.Context, groupID string, pid int64, epoch int16, commit bool) error {
	if groupID == "" {
		return ErrInvalidGroupID
	}
	sh, err := s.route(groupID)
	if err != nil {
		return err
	}
	st, _, err := s.propose(ctx, sh, raftsm.EncodeEndTxnOffsets(groupID, pid, epoch, commit))
	switch {
	case err != nil:
		return err
	case st != raftsm.StatusOK:
		return fmt.Errorf("%w: transaction marker rejected: %s", ErrCoordinatorNotAvailable, st)
	}
	return nil
}

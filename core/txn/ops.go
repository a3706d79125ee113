package txn

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chronik-go/chronik/core/coordraft"
	"github.com/chronik-go/chronik/raftsm"
)

// maxEpoch is the largest producer epoch; an epoch at or above
// exhaustedEpoch makes the next InitProducerId rotate to a new producer
// ID (Kafka's isEpochExhausted), so a fencing bump always has room.
const (
	maxEpoch       = math.MaxInt16
	exhaustedEpoch = math.MaxInt16 - 1
)

// InitProducerID is InitProducerId for a transactional ID, Kafka's
// TransactionCoordinator.handleInitProducerId with KIP-360:
//
//   - the first init allocates a producer ID through the PIDAllocator at
//     epoch 0; every later one bumps the epoch, fencing older producers;
//     an exhausted epoch rotates to a new producer ID at epoch 0;
//   - pid and epoch (InitProducerId v3+, both -1 when absent) name the
//     caller's current producer: a mismatch is ErrProducerFenced, except
//     the retry of an init whose answer was lost, which gets the current
//     ID and epoch again;
//   - an Ongoing transaction is aborted with a bumped epoch and the call
//     fails with ErrConcurrentTransactions (the client retries and then
//     gets the next epoch); a prepared one is ErrConcurrentTransactions.
func (s *Service) InitProducerID(ctx context.Context, txnID string, timeoutMs int32, pid int64, epoch int16) (int64, int16, error) {
	if timeoutMs <= 0 || time.Duration(timeoutMs)*time.Millisecond > s.cfg.MaxTimeout {
		return -1, -1, ErrInvalidTransactionTimeout
	}
	sh, err := s.route(txnID)
	if err != nil {
		return -1, -1, err
	}
	mu := s.lock(txnID)
	mu.Lock()
	defer mu.Unlock()
	now := time.Now().UnixMilli()
	cur, ok := sh.sm.Txn(txnID)
	if !ok {
		id, _, err := s.pids.InitProducerID(ctx)
		if err != nil {
			return -1, -1, err
		}
		rec := &raftsm.TxnRecord{
			TransactionalID: txnID, ProducerID: id, LastProducerID: -1, LastProducerEpoch: -1,
			State: raftsm.TxnEmpty, TimeoutMs: timeoutMs, StartMs: -1, UpdateMs: now,
		}
		if _, err := s.put(ctx, sh, rec, 0); err != nil {
			return -1, -1, err
		}
		return rec.ProducerID, rec.ProducerEpoch, nil
	}
	expected := pid >= 0
	if expected && cur.ProducerEpoch >= 0 && pid != cur.ProducerID && (pid != cur.LastProducerID || epoch < exhaustedEpoch) {
		return -1, -1, ErrProducerFenced
	}
	switch {
	case s.markersWritten(sh, cur):
		// Over: its Complete is not stored yet, and need not be.
	case cur.State == raftsm.TxnPrepareCommit, cur.State == raftsm.TxnPrepareAbort:
		return -1, -1, ErrConcurrentTransactions
	case cur.State == raftsm.TxnOngoing:
		next, err := s.put(ctx, sh, fenced(cur, now), cur.Version)
		if err != nil {
			return -1, -1, err
		}
		s.log.Info("aborting an ongoing transaction: its transactional ID was initialised again",
			"transactional_id", txnID, "producer_id", cur.ProducerID, "epoch", next.ProducerEpoch)
		s.finishAsync(sh, next)
		return -1, -1, ErrConcurrentTransactions
	}
	next := clone(cur)
	switch {
	case cur.ProducerEpoch >= exhaustedEpoch && (!expected || epoch == cur.ProducerEpoch):
		id, _, err := s.pids.InitProducerID(ctx)
		if err != nil {
			return -1, -1, err
		}
		next.LastProducerID, next.LastProducerEpoch = cur.ProducerID, -1
		if expected {
			next.LastProducerEpoch = cur.ProducerEpoch
		}
		next.ProducerID, next.ProducerEpoch = id, 0
	case !expected:
		next.ProducerEpoch, next.LastProducerEpoch = cur.ProducerEpoch+1, -1
	case cur.ProducerEpoch < 0 || epoch == cur.ProducerEpoch:
		next.ProducerEpoch, next.LastProducerEpoch = cur.ProducerEpoch+1, cur.ProducerEpoch
	case epoch == cur.LastProducerEpoch:
		// A retry of the init that produced the current epoch.
		return cur.ProducerID, cur.ProducerEpoch, nil
	default:
		return -1, -1, ErrProducerFenced
	}
	next.State, next.TimeoutMs, next.StartMs, next.UpdateMs = raftsm.TxnEmpty, timeoutMs, -1, now
	next.Partitions, next.Groups, next.EndedV2 = nil, nil, false
	if _, err := s.put(ctx, sh, next, cur.Version); err != nil {
		return -1, -1, err
	}
	return next.ProducerID, next.ProducerEpoch, nil
}

// current validates a request of the producer pid/epoch against the
// stored record, as Kafka's AddPartitionsToTxn, AddOffsetsToTxn and EndTxn
// do.
func current(sh *shard, txnID string, pid int64, epoch int16) (*raftsm.TxnRecord, error) {
	cur, ok := sh.sm.Txn(txnID)
	switch {
	case !ok || cur.ProducerID != pid:
		return nil, ErrInvalidProducerIDMapping
	case cur.ProducerEpoch != epoch:
		return nil, ErrProducerFenced
	}
	return cur, nil
}

// AddPartitions adds partitions to the producer's transaction, starting
// one (Ongoing, StartMs now) when none is open.
func (s *Service) AddPartitions(ctx context.Context, txnID string, pid int64, epoch int16, tps []TopicPartition) error {
	return s.add(ctx, txnID, pid, epoch, func(next *raftsm.TxnRecord) bool {
		added := false
		for _, tp := range tps {
			rtp := raftsm.TopicPartition(tp)
			if !slices.Contains(next.Partitions, rtp) {
				next.Partitions = append(next.Partitions, rtp)
				added = true
			}
		}
		sort.Slice(next.Partitions, func(i, j int) bool {
			a, b := next.Partitions[i], next.Partitions[j]
			return a.Topic < b.Topic || (a.Topic == b.Topic && a.Partition < b.Partition)
		})
		return added
	})
}

// VerifyPartition checks, for a partition leader about to open the
// producer's transaction in tp, that the transaction is ongoing and added
// tp (KIP-890's verification of transactional produces): nil if so;
// ErrInvalidProducerIDMapping or ErrProducerFenced for another producer or
// epoch; ErrConcurrentTransactions while the transaction's end is being
// written; ErrInvalidTxnState otherwise (tp was never added, or the
// transaction has ended). It reads the loaded record and writes nothing.
//
// With add (KIP-890 part 2: Produce v12+, whose clients send no
// AddPartitionsToTxn) it adds tp to the transaction instead, beginning
// one when none is open: AddPartitions.
func (s *Service) VerifyPartition(ctx context.Context, txnID string, pid int64, epoch int16, tp TopicPartition, add bool) error {
	if add {
		return s.AddPartitions(ctx, txnID, pid, epoch, []TopicPartition{tp})
	}
	var verr error
	if err := s.readLeased(ctx, txnID, func(sh *shard) { verr = s.verify(sh, txnID, pid, epoch, tp) }); err != nil {
		return err
	}
	return verr
}

// verify is VerifyPartition's check of the transaction's state on its
// shard.
func (s *Service) verify(sh *shard, txnID string, pid int64, epoch int16, tp TopicPartition) error {
	cur, err := current(sh, txnID, pid, epoch)
	if err != nil {
		return err
	}
	switch cur.State {
	case raftsm.TxnOngoing:
		if slices.Contains(cur.Partitions, raftsm.TopicPartition(tp)) {
			return nil
		}
	case raftsm.TxnPrepareCommit, raftsm.TxnPrepareAbort:
		if !s.markersWritten(sh, cur) {
			return ErrConcurrentTransactions
		}
	}
	return fmt.Errorf("%w: transactional ID %q has no ongoing transaction with %s/%d (add the partition to the transaction before producing to it)", ErrInvalidTxnState, txnID, tp.Topic, tp.Partition)
}

// AddOffsets adds a consumer group to the producer's transaction (its
// TxnOffsetCommit offsets then wait for the transaction's end), starting
// one when none is open.
func (s *Service) AddOffsets(ctx context.Context, txnID string, pid int64, epoch int16, group string) error {
	return s.add(ctx, txnID, pid, epoch, func(next *raftsm.TxnRecord) bool {
		if slices.Contains(next.Groups, group) {
			return false
		}
		next.Groups = append(next.Groups, group)
		sort.Strings(next.Groups)
		return true
	})
}

func (s *Service) add(ctx context.Context, txnID string, pid int64, epoch int16, add func(*raftsm.TxnRecord) bool) error {
	sh, err := s.route(txnID)
	if err != nil {
		return err
	}
	mu := s.lock(txnID)
	mu.Lock()
	defer mu.Unlock()
	cur, err := current(sh, txnID, pid, epoch)
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	next := clone(cur)
	switch {
	case s.markersWritten(sh, cur):
		// The previous transaction is over (its Complete is off the
		// producer's path): the next one begins from its record.
		next.State, next.StartMs, next.Partitions, next.Groups, next.EndedV2 = raftsm.TxnOngoing, now, nil, nil, false
	case cur.State == raftsm.TxnPrepareCommit, cur.State == raftsm.TxnPrepareAbort:
		return ErrConcurrentTransactions
	case cur.State == raftsm.TxnOngoing:
	default:
		next.State, next.StartMs, next.Partitions, next.Groups, next.EndedV2 = raftsm.TxnOngoing, now, nil, nil, false
	}
	if !add(next) && cur.State == raftsm.TxnOngoing {
		return nil // nothing new: no write, as Kafka
	}
	next.UpdateMs = now
	_, err = s.put(ctx, sh, next, cur.Version)
	return err
}

// EndTxn ends the producer's transaction: the prepared outcome is stored,
// the markers are written (MarkerWriter), then the transaction is stored
// complete in the background. The call returns once the markers are
// written, so the producer's next transaction starts cleanly (from the
// prepared record if the Complete is not stored yet: markersWritten); if writing them fails it
// still returns nil, the outcome being durable, and the background check
// finishes the transaction (meanwhile the producer gets
// ErrConcurrentTransactions). Repeating an end that completed with the
// same outcome succeeds; the other outcome is ErrInvalidTxnState.
//
// With bump (KIP-890 part 2, EndTxn v5+) the end also bumps the producer's
// epoch, as Kafka's transaction.version 2 does: the markers carry the
// bumped epoch, so a produce of the ended transaction arriving late is
// fenced in every partition it wrote to, and the producer goes on with the
// returned producer ID and epoch (a new producer ID at epoch 0 once the
// epoch is exhausted). Aborting when no transaction is open bumps the
// epoch too (clients do it to fence their own produces in flight);
// committing then is ErrInvalidTxnState. The retry of a bumping end
// (the epoch it was sent with, the answer lost) gets the same answer.
// Without bump the returned ID and epoch are -1.
func (s *Service) EndTxn(ctx context.Context, txnID string, pid int64, epoch int16, commit, bump bool) (int64, int16, error) {
	sh, err := s.route(txnID)
	if err != nil {
		return -1, -1, err
	}
	mu := s.lock(txnID)
	mu.Lock()
	if cur, ok := sh.sm.Txn(txnID); bump && ok && cur.EndedV2 && pid == cur.LastProducerID && epoch == cur.LastProducerEpoch {
		mu.Unlock()
		return s.endRetried(sh, cur, commit)
	}
	cur, err := current(sh, txnID, pid, epoch)
	if err != nil {
		mu.Unlock()
		return -1, -1, err
	}
	over := s.markersWritten(sh, cur)
	switch {
	case bump && cur.State == raftsm.TxnOngoing:
	case bump && !over && (cur.State == raftsm.TxnPrepareCommit || cur.State == raftsm.TxnPrepareAbort):
		mu.Unlock()
		return -1, -1, ErrConcurrentTransactions
	case bump && commit:
		mu.Unlock()
		return -1, -1, fmt.Errorf("%w: transactional ID %q has no ongoing transaction to commit", ErrInvalidTxnState, txnID)
	case bump:
		// An abort with nothing open: only the epoch moves.
		next, err := s.bumped(ctx, cur, time.Now().UnixMilli())
		if err == nil {
			next.State, next.StartMs, next.Partitions, next.Groups = raftsm.TxnCompleteAbort, -1, nil, nil
			next, err = s.put(ctx, sh, next, cur.Version)
		}
		mu.Unlock()
		if err != nil {
			return -1, -1, err
		}
		return next.ProducerID, next.ProducerEpoch, nil
	case cur.State == raftsm.TxnCompleteCommit && commit, cur.State == raftsm.TxnCompleteAbort && !commit:
		mu.Unlock()
		return -1, -1, nil
	case cur.State == raftsm.TxnPrepareCommit && commit, cur.State == raftsm.TxnPrepareAbort && !commit:
		mu.Unlock()
		if over {
			return -1, -1, nil // a retry of the end that wrote them
		}
		return -1, -1, ErrConcurrentTransactions
	case cur.State != raftsm.TxnOngoing:
		mu.Unlock()
		return -1, -1, ErrInvalidTxnState
	}
	now := time.Now().UnixMilli()
	next := clone(cur)
	next.UpdateMs, next.EndedV2 = now, false
	if bump {
		if next, err = s.bumped(ctx, cur, now); err != nil {
			mu.Unlock()
			return -1, -1, err
		}
	}
	goOn := func(r *raftsm.TxnRecord) (int64, int16) {
		if !bump {
			return -1, -1
		}
		return r.ProducerID, r.ProducerEpoch
	}
	if len(cur.Partitions) == 0 && len(cur.Groups) == 0 {
		// Nothing to mark: complete at once.
		next.State = raftsm.TxnCompleteAbort
		if commit {
			next.State = raftsm.TxnCompleteCommit
		}
		next, err := s.put(ctx, sh, next, cur.Version)
		mu.Unlock()
		if err != nil {
			return -1, -1, err
		}
		pid, epoch := goOn(next)
		return pid, epoch, nil
	}
	next.State = raftsm.TxnPrepareAbort
	if commit {
		next.State = raftsm.TxnPrepareCommit
	}
	if !s.claim(sh, txnID) {
		mu.Unlock()
		return -1, -1, ErrConcurrentTransactions
	}
	next, err = s.put(ctx, sh, next, cur.Version)
	mu.Unlock()
	if err != nil {
		s.release(sh, txnID)
		return -1, -1, err
	}
	pid, epoch = goOn(next)
	if err := s.writeMarkers(ctx, sh, next); err != nil {
		s.release(sh, txnID)
		s.log.Warn("transaction markers not written yet; finishing in the background",
			"transactional_id", txnID, "commit", commit, "err", err)
		return pid, epoch, nil
	}
	// The transaction is over; storing it Complete is off the producer's
	// path (its next request may even begin the next transaction first).
	s.loop.Go(func() {
		defer s.release(sh, txnID)
		if err := s.complete(s.loop.Context(), sh, next); err != nil {
			s.log.Warn("cannot store a finished transaction complete; retrying", "transactional_id", txnID, "err", err)
		}
	})
	return pid, epoch, nil
}

// bumped returns cur after a KIP-890 part 2 end by its producer: the epoch
// bumped, or a new producer ID at epoch 0 once the bumped epoch would leave
// no room to fence (exhaustedEpoch); the ending producer is kept in
// LastProducerID/LastProducerEpoch for the markers and for a retry.
func (s *Service) bumped(ctx context.Context, cur *raftsm.TxnRecord, now int64) (*raftsm.TxnRecord, error) {
	next := clone(cur)
	next.LastProducerID, next.LastProducerEpoch = cur.ProducerID, cur.ProducerEpoch
	next.ProducerEpoch++
	if next.ProducerEpoch >= exhaustedEpoch {
		id, _, err := s.pids.InitProducerID(ctx)
		if err != nil {
			return nil, err
		}
		next.ProducerID, next.ProducerEpoch = id, 0
	}
	next.EndedV2, next.UpdateMs = true, now
	return next, nil
}

// endRetried answers the retry of a bumping EndTxn, sent with the epoch
// the transaction ended with: the same outcome gets the producer ID and
// epoch to go on with (once the markers are written), the other
// ErrInvalidTxnState; anything after the end (the next transaction
// began) fences the retry.
func (s *Service) endRetried(sh *shard, cur *raftsm.TxnRecord, commit bool) (int64, int16, error) {
	switch cur.State {
	case raftsm.TxnCompleteCommit, raftsm.TxnCompleteAbort, raftsm.TxnPrepareCommit, raftsm.TxnPrepareAbort:
	default:
		return -1, -1, ErrProducerFenced
	}
	committed := cur.State == raftsm.TxnCompleteCommit || cur.State == raftsm.TxnPrepareCommit
	switch {
	case committed != commit:
		return -1, -1, fmt.Errorf("%w: the transaction was already ended the other way", ErrInvalidTxnState)
	case (cur.State == raftsm.TxnPrepareCommit || cur.State == raftsm.TxnPrepareAbort) && !s.markersWritten(sh, cur):
		return -1, -1, ErrConcurrentTransactions
	}
	return cur.ProducerID, cur.ProducerEpoch, nil
}

// DescribeTransaction describes one transactional ID this broker
// coordinates; ErrTransactionalIDNotFound when it has no record.
func (s *Service) DescribeTransaction(ctx context.Context, txnID string) (Description, error) {
	var (
		r  *raftsm.TxnRecord
		ok bool
	)
	if err := s.readLeased(ctx, txnID, func(sh *shard) { r, ok = sh.sm.Txn(txnID) }); err != nil {
		return Description{}, err
	}
	if !ok {
		return Description{}, ErrTransactionalIDNotFound
	}
	d := Description{
		TransactionalID: txnID, State: r.State.String(), ProducerID: r.ProducerID, ProducerEpoch: r.ProducerEpoch,
		TimeoutMs: r.TimeoutMs, StartMs: r.StartMs, Groups: append([]string(nil), r.Groups...),
	}
	for _, tp := range r.Partitions {
		d.Partitions = append(d.Partitions, TopicPartition(tp))
	}
	return d, nil
}

// ListTransactions lists the transactional IDs of every shard this broker
// coordinates (clients ask every broker and merge), sorted, each shard
// under its read lease, all at once (coordraft.Loop.ReadLeasedEach). It
// returns what it could list and ErrLoadInProgress when a shard it leads
// is still loading, or ErrCoordinatorNotAvailable when it could not
// confirm that it still leads one.
func (s *Service) ListTransactions(ctx context.Context, f ListFilter) ([]Listing, error) {
	var (
		out      []Listing
		shardErr error
	)
	parts := make([][]Listing, len(s.shards))
	for i, rt := range s.loop.ReadLeasedEach(ctx, func(i int) { parts[i] = listShard(s.shards[i], f) }) {
		switch rt {
		case coordraft.Here:
			out = append(out, parts[i]...)
		case coordraft.Loading:
			shardErr = cmp.Or(shardErr, ErrLoadInProgress)
		case coordraft.NoLeader:
			if replica, _, ok := s.raft.Leader(s.shards[i].id); ok && replica == s.self {
				shardErr = cmp.Or(shardErr, ErrCoordinatorNotAvailable) // leads, but could not confirm it
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TransactionalID < out[j].TransactionalID })
	return out, shardErr
}

// listShard lists the transactions of a shard that f selects.
func listShard(sh *shard, f ListFilter) (out []Listing) {
	now := time.Now().UnixMilli()
	for _, r := range sh.sm.Txns() {
		state := r.State.String()
		if len(f.States) > 0 && !slices.ContainsFunc(f.States, func(v string) bool { return strings.EqualFold(v, state) }) {
			continue
		}
		if len(f.ProducerIDs) > 0 && !slices.Contains(f.ProducerIDs, r.ProducerID) {
			continue
		}
		if f.RunningLongerThan > 0 && now-r.StartMs <= f.RunningLongerThan.Milliseconds() {
			continue
		}
		if f.IDPattern != nil && !f.IDPattern.MatchString(r.TransactionalID) {
			continue
		}
		out = append(out, Listing{TransactionalID: r.TransactionalID, ProducerID: r.ProducerID, State: state})
	}
	return out
}

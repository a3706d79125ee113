package partition

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lni/dragonboat/v4"

	"github.com/chronik-go/chronik/raftsm"
)

// What core/tier needs from the partition service: the leaders' logs, a way
// to propose tiering commands in the leader's epoch, a gate on appends (the
// local-disk watermark) and a hook before leadership transfers (uploads are
// quiesced first).

// ErrOffsetTiered means the offset is no longer stored locally; the
// tiered-storage reader serves it from the object store.
var ErrOffsetTiered = errors.New("partition: offset is in tiered storage")

// ErrStorage is a storage failure that a client may retry (Kafka's
// KAFKA_STORAGE_ERROR), such as the local-disk watermark of a partition
// whose segments cannot be uploaded.
var ErrStorage = errors.New("partition: storage unavailable")

// ErrEpochChanged means a tiering proposal was refused because the replica no
// longer leads in the epoch the caller computed it for.
var ErrEpochChanged = errors.New("partition: leadership changed")

// Led is a local replica and, when it leads, its epoch.
type Led struct {
	TP
	Log      *raftsm.Partition
	IsLeader bool
	Epoch    int32
}

// LocalReplicas lists the local replicas with their leadership, in no
// particular order.
func (s *Service) LocalReplicas() []Led {
	rs := s.all()
	out := make([]Led, 0, len(rs))
	for _, r := range rs {
		_, epoch, isUs, err := r.leader()
		out = append(out, Led{TP: r.tp, Log: r.sm, IsLeader: err == nil && isUs, Epoch: epoch})
	}
	return out
}

// Log returns the state machine of the local replica of tp.
func (s *Service) Log(tp TP) (*raftsm.Partition, bool) {
	r := s.lookup(tp)
	if r == nil {
		return nil, false
	}
	return r.sm, true
}

// ProposeTier proposes a command computed by the leader (tiering's
// raftsm.EncodeSegmentTiered and EncodeTrim, compaction's EncodeCompactBegin
// and EncodeCompactEnd) through the local replica of tp if it still leads in
// epoch, and waits for the result: the value and status of the applied
// command.
func (s *Service) ProposeTier(ctx context.Context, tp TP, epoch int32, cmd []byte) (uint64, raftsm.Status, error) {
	r := s.lookup(tp)
	if r == nil {
		return 0, 0, ErrUnknownPartition
	}
	if _, e, isUs, err := r.leader(); err != nil || !isUs || e != epoch {
		return 0, 0, fmt.Errorf("%w: %s/%d is no longer led here in epoch %d", ErrEpochChanged, tp.Topic, tp.Partition, epoch)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, proposalTimeout)
		defer cancel()
	}
	res, err := s.nh.SyncPropose(ctx, r.session, cmd)
	if err != nil {
		s.metrics.Proposals.Add(context.Background(), 1, s.failAttrs)
		switch {
		case errors.Is(err, dragonboat.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			return 0, 0, ErrTimeout
		case errors.Is(err, dragonboat.ErrShardNotReady):
			return 0, 0, ErrLeaderNotAvailable
		default:
			return 0, 0, proposeError(err)
		}
	}
	s.metrics.Proposals.Add(context.Background(), 1, s.okAttrs)
	return res.Value, raftsm.ResultStatus(res.Data), nil
}

// AppendGate decides whether an append to a partition may proceed; a
// non-nil error fails the append before it is proposed. It runs on every
// append, so it must be cheap.
type AppendGate func(tp TP, log *raftsm.Partition) error

// SetAppendGate installs the gate (core/tier's local-disk watermark).
func (s *Service) SetAppendGate(g AppendGate) { s.gate.Store(&g) }

// SetStorageError makes every append fail with err (which should wrap
// ErrStorage) until it is called with nil: the broker's free-space guard
// sets it while the data directory's file system is nearly full.
func (s *Service) SetStorageError(err error) {
	if err == nil {
		s.storageErr.Store(nil)
		return
	}
	s.storageErr.Store(&err)
}

// StorageError is what SetStorageError set last (nil: appends may proceed).
func (s *Service) StorageError() error {
	if e := s.storageErr.Load(); e != nil {
		return *e
	}
	return nil
}

// TransferHook runs before this broker hands a partition's leadership
// away; it returns once the partition is quiet (or ctx ends).
type TransferHook func(ctx context.Context, tp TP)

// SetTransferHook installs the hook (core/tier quiesces uploads).
func (s *Service) SetTransferHook(h TransferHook) { s.transferHook.Store(&h) }

// quiesceTimeout bounds how long a leadership transfer waits for an
// in-flight upload: past it the transfer goes ahead, and the upload's
// commit simply fails in the old epoch (its object becomes an orphan).
const quiesceTimeout = 10 * time.Second

func (s *Service) beforeTransfer(tp TP) {
	if h := s.transferHook.Load(); h != nil {
		ctx, cancel := context.WithTimeout(context.Background(), quiesceTimeout)
		defer cancel()
		(*h)(ctx, tp)
	}
}

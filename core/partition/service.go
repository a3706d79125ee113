package partition

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/client"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/chronik-go/chronik/core/batch"
	"github.com/chronik-go/chronik/core/bufpool"
	"github.com/chronik-go/chronik/core/readlease"
	"github.com/chronik-go/chronik/core/telemetry"
	"github.com/chronik-go/chronik/raftsm"
)

// proposalTimeout bounds how long Dragonboat keeps a proposal; the Kafka
// request's own timeout usually ends the wait sooner.
const proposalTimeout = 30 * time.Second

// cmdPool holds the buffers Append encodes its commands in.
var cmdPool bufpool.Pool

// Service routes partition operations to the local replicas. The reconciler
// (core/cluster) registers and unregisters replicas as placement changes.
type Service struct {
	leadership       leadershipSignals // wakes produces when leadership changes
	nh               *dragonboat.NodeHost
	maxBatchBytes    int
	log              *slog.Logger
	metrics          *telemetry.Metrics
	okAttrs          metric.MeasurementOption
	failAttrs        metric.MeasurementOption
	confirmedAttrs   metric.MeasurementOption // LeaseConfirmations
	unconfirmedAttrs metric.MeasurementOption
	settings         atomic.Pointer[SettingsFunc] // topic settings lookup (admin.go)
	gate             atomic.Pointer[AppendGate]   // tier.go
	verifier         atomic.Pointer[TxnVerifier]  // txn.go
	storageErr       atomic.Pointer[error]        // tier.go: SetStorageError
	transferHook     atomic.Pointer[TransferHook] // tier.go
	electionTimeout  atomic.Int64                 // nanoseconds (transfer.go)
	clock            readlease.Clock              // Service.now (readiness.go)

	mu struct {
		sync.RWMutex
		byTP    map[TP]*replica
		byShard map[uint64]*replica
	}
}

// replica is one local partition replica.
type replica struct {
	svc     *Service
	tp      TP
	shardID uint64
	id      uint64                           // our Raft replica ID
	nodes   atomic.Pointer[map[uint64]int32] // Raft replica ID → broker ID
	sm      *raftsm.Partition
	session *client.Session

	mu       sync.Mutex
	watchers map[chan struct{}]struct{}

	// paused, while a leadership transfer is prepared or under way, is
	// closed when appends may go on (transfer.go).
	paused       atomic.Pointer[chan struct{}]
	transferring atomic.Bool // one transfer at a time

	ready readlease.Lease // readiness.go
}

// NewService returns a partition service on nh. maxBatchBytes bounds one
// record batch (0 = no limit).
func NewService(nh *dragonboat.NodeHost, maxBatchBytes int, m *telemetry.Metrics, log *slog.Logger) *Service {
	s := &Service{
		nh: nh, maxBatchBytes: maxBatchBytes, log: log, metrics: m, clock: readlease.NewClock(),
		okAttrs:          metric.WithAttributeSet(attribute.NewSet(attribute.String("shard", "partition"), attribute.String("outcome", "ok"))),
		failAttrs:        metric.WithAttributeSet(attribute.NewSet(attribute.String("shard", "partition"), attribute.String("outcome", "failed"))),
		confirmedAttrs:   metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "confirmed"))),
		unconfirmedAttrs: metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "failed"))),
	}
	s.mu.byTP = map[TP]*replica{}
	s.mu.byShard = map[uint64]*replica{}
	return s
}

// NewStateMachine returns the state machine for a partition replica the
// caller is about to start, wired to wake this service's fetchers.
func (s *Service) NewStateMachine(store *raftsm.Store, shardID uint64) *raftsm.Partition {
	return raftsm.NewPartition(store, shardID, func() { s.wake(shardID) })
}

// Register makes a started replica reachable under tp. nodes maps each Raft
// replica ID of the shard to its broker.
func (s *Service) Register(tp TP, shardID, replicaID uint64, nodes map[uint64]int32, p *raftsm.Partition) {
	r := &replica{
		svc: s, tp: tp, shardID: shardID, id: replicaID, sm: p,
		session: s.nh.GetNoOPSession(shardID), watchers: map[chan struct{}]struct{}{},
	}
	r.nodes.Store(&nodes)
	s.mu.Lock()
	if old := s.mu.byTP[tp]; old != nil {
		delete(s.mu.byShard, old.shardID)
	}
	s.mu.byTP[tp] = r
	s.mu.byShard[shardID] = r
	s.mu.Unlock()
}

// SetNodes replaces the replica ID → broker map of a registered shard
// (its placement changed: a reassignment added or replaced replicas).
func (s *Service) SetNodes(shardID uint64, nodes map[uint64]int32) {
	s.mu.RLock()
	r := s.mu.byShard[shardID]
	s.mu.RUnlock()
	if r != nil {
		r.nodes.Store(&nodes)
	}
}

// Unregister forgets the replica of a shard and wakes its fetchers.
func (s *Service) Unregister(shardID uint64) {
	s.mu.Lock()
	r := s.mu.byShard[shardID]
	if r != nil {
		delete(s.mu.byShard, shardID)
		if s.mu.byTP[r.tp] == r {
			delete(s.mu.byTP, r.tp)
		}
	}
	s.mu.Unlock()
	if r != nil {
		r.notify()
	}
}

func (s *Service) lookup(tp TP) *replica {
	s.mu.RLock()
	r := s.mu.byTP[tp]
	s.mu.RUnlock()
	return r
}

// leader reports the shard's leader broker and epoch (Raft term).
func (r *replica) leader() (node int32, epoch int32, isUs bool, err error) {
	id, term, valid, err := r.svc.nh.GetLeaderID(r.shardID)
	if err != nil {
		if errors.Is(err, dragonboat.ErrClosed) {
			return -1, 0, false, ErrStopped
		}
		return -1, 0, false, ErrLeaderNotAvailable
	}
	if !valid {
		return -1, int32(term), false, ErrLeaderNotAvailable
	}
	n, ok := (*r.nodes.Load())[id]
	if !ok {
		n = -1
	}
	return n, int32(term), id == r.id, nil
}

// PartitionState reports leader, epoch and offsets of a local partition.
func (s *Service) PartitionState(tp TP) (State, error) {
	r := s.lookup(tp)
	if r == nil {
		return State{Leader: -1}, ErrUnknownPartition
	}
	node, epoch, _, err := r.leader()
	st := State{
		Leader: node, LeaderEpoch: epoch, LogStartOffset: r.sm.LogStartOffset(), LocalStartOffset: r.sm.LocalStartOffset(),
		HighWatermark: r.sm.HighWatermark(), LastStableOffset: r.sm.LastStableOffset(), SizeBytes: r.sm.SizeBytes(), TieredEnd: r.sm.TieredEnd(),
	}
	if err != nil && !errors.Is(err, ErrLeaderNotAvailable) {
		return st, err
	}
	return st, nil
}

// Append validates records (one or more RecordBatch v2) and proposes them
// as one command without waiting for the commit. Calls from one goroutine
// are committed in call order.
func (s *Service) Append(tp TP, records []byte) *Pending { return s.append(tp, TxnProduce{}, records) }

// AppendTransactional is Append for a produce request of the transaction
// txn. When its batches would open the producer's transaction in the
// partition, the transaction's coordinator is asked first (TxnVerifier),
// blocking the caller for that round trip, which keeps the call order.
func (s *Service) AppendTransactional(tp TP, txn TxnProduce, records []byte) *Pending {
	return s.append(tp, txn, records)
}

func (s *Service) append(tp TP, txn TxnProduce, records []byte) *Pending {
	r := s.lookup(tp)
	if r == nil {
		return failed(ErrUnknownPartition)
	}
	r.waitTransfer()
	lost := s.leadership.watch(r.shardID) // before the check, so no change slips between
	_, epoch, isUs, err := r.leader()
	if err != nil {
		return failed(err)
	}
	if !isUs {
		return failed(ErrNotLeader)
	}
	proposedAt := s.now()
	r.ready.Leading(uint64(epoch), proposedAt) // acknowledge waits from then
	if e := s.storageErr.Load(); e != nil {
		return failed(*e)
	}
	if g := s.gate.Load(); g != nil {
		if err := (*g)(tp, r.sm); err != nil {
			return failed(err)
		}
	}
	c := raftsm.AppendCommand{LeaderEpoch: epoch, Timestamp: time.Now().UnixMilli()}
	set := s.topicSettings(tp.Topic)
	var one [1]raftsm.AppendBatch
	c.Batches = one[:0]
	size := len(records) // of the batches appended, after any recompression
	transactional := false
	err = batch.Split(records, s.maxBatchBytes, func(b []byte, h batch.Header) error {
		switch {
		case h.NumRecords == 0:
			return fmt.Errorf("%w: batch with no records", batch.ErrInvalid)
		case h.IsControl():
			return fmt.Errorf("%w: clients may not write control batches", batch.ErrInvalid)
		}
		transactional = transactional || h.IsTransactional()
		if err := checkTopicLimits(set, b); err != nil {
			return err
		}
		if set.Recompress && h.Compression() != set.Codec {
			var err error
			if b, err = recompress(b, set.Codec, s.maxBatchBytes); err != nil {
				return err
			}
			size += len(b) - int(h.Size())
		}
		c.Batches = append(c.Batches, raftsm.AppendBatch{Data: b, Meta: raftsm.BatchMeta{
			LastOffsetDelta: h.LastOffsetDelta, MaxTimestamp: h.MaxTimestamp,
			ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch, BaseSequence: h.BaseSequence,
		}})
		return nil
	})
	if err != nil {
		return failed(err)
	}
	opts := raftsm.AppendOptions{LogAppendTime: set.LogAppendTime}
	if transactional && txn.ID == "" {
		// As Kafka: only a transactional producer's requests carry them,
		// and one without its ID would escape verification.
		return failed(fmt.Errorf("%w: transactional batches in a produce request without a transactional ID", batch.ErrInvalid))
	}
	if transactional {
		if err := s.verifyTxn(r, txn, c.Batches[0].Meta, &opts); err != nil {
			return failed(err)
		}
	}
	// Dragonboat copies the command into its entry before Propose returns
	// (TestProposeCopiesCommand), so the buffer goes back to the pool at
	// once: a produce request no longer costs a new, zeroed buffer of its
	// size per partition.
	buf := cmdPool.Get(raftsm.AppendSize(len(c.Batches), size) + raftsm.AppendOptionsSize)
	rs, err := s.nh.Propose(r.session, raftsm.EncodeAppendOptions((*buf)[:0], &c, opts), proposalTimeout)
	cmdPool.Put(buf)
	if err != nil {
		s.metrics.Proposals.Add(context.Background(), 1, s.failAttrs)
		return failed(proposeError(err))
	}
	p := &Pending{rs: rs, r: r, appendTime: -1, epoch: epoch, lost: lost, proposedAt: proposedAt}
	if opts.LogAppendTime {
		p.appendTime = c.Timestamp // what the state machine stamps
	}
	return p
}

func (s *Service) countProposal(res dragonboat.RequestResult) {
	if res.Completed() {
		s.metrics.Proposals.Add(context.Background(), 1, s.okAttrs)
	} else {
		s.metrics.Proposals.Add(context.Background(), 1, s.failAttrs)
	}
}

// proposeError maps Dragonboat's immediate Propose errors.
func proposeError(err error) error {
	switch {
	case errors.Is(err, dragonboat.ErrSystemBusy), errors.Is(err, dragonboat.ErrPayloadTooBig):
		return fmt.Errorf("%w: %w", ErrBusy, err)
	case errors.Is(err, dragonboat.ErrClosed):
		return ErrStopped
	case errors.Is(err, dragonboat.ErrShardNotFound), errors.Is(err, dragonboat.ErrShardClosed):
		return ErrUnknownPartition
	default:
		return fmt.Errorf("%w: %w", ErrLeaderNotAvailable, err)
	}
}

// Read returns stored batches from offset, at most maxBytes unless the
// first batch alone is larger. Only the leader serves reads.
func (s *Service) Read(ctx context.Context, tp TP, offset int64, maxBytes int32) (ReadResult, error) {
	r := s.lookup(tp)
	if r == nil {
		return ReadResult{HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1}, ErrUnknownPartition
	}
	var (
		res ReadResult
		err error
	)
	if !r.readLeased(ctx, func() {
		res = ReadResult{HighWatermark: r.sm.HighWatermark(), LastStableOffset: r.sm.LastStableOffset(), LogStartOffset: r.sm.LogStartOffset()}
		if _, _, isUs, lerr := r.leader(); lerr != nil || !isUs {
			err = lerr
			if err == nil {
				err = ErrNotLeader
			}
			return
		}
		// Never nil: non-flexible Fetch versions would encode nil as a
		// null record set, which librdkafka rejects.
		res, err = readLocal(r, res, offset, maxBytes)
	}) {
		return ReadResult{HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1}, ErrLeaderNotAvailable
	}
	return res, err
}

// readLocal reads from the local replica's store, mapping the state
// machine's range errors.
func readLocal(r *replica, res ReadResult, offset int64, maxBytes int32) (ReadResult, error) {
	recs, err := r.sm.Read([]byte{}, offset, maxBytes)
	switch {
	case errors.Is(err, raftsm.ErrOffsetOutOfRange):
		return res, ErrOffsetOutOfRange
	case errors.Is(err, raftsm.ErrOffsetTiered):
		return res, ErrOffsetTiered
	}
	res.Records = recs
	// The state machine reads up to its high watermark at the time of the
	// read, which may have moved on since res took it: answer with one at
	// least as new, so no record returned is at or past it.
	res.HighWatermark = r.sm.HighWatermark()
	return res, err
}

// OffsetForTimestamp returns the first offset whose record timestamp is
// ≥ ts and that record's timestamp, or (-1, -1) when there is none.
func (s *Service) OffsetForTimestamp(_ context.Context, tp TP, ts int64) (offset, timestamp int64, err error) {
	r := s.lookup(tp)
	if r == nil {
		return -1, -1, ErrUnknownPartition
	}
	offset, timestamp = -1, -1
	start := r.sm.LogStartOffset()
	// A batch's max timestamp is what the producer claimed, so the first
	// candidate may hold no record at or after ts: keep looking.
	var decodeErr error
	err = r.sm.BatchesFromTime(ts, func(b []byte) bool {
		off, t, ok, ferr := firstAtOrAfterFrom(b, ts, start)
		if ferr != nil {
			decodeErr = ferr
			return false
		}
		if ok {
			offset, timestamp = off, t
		}
		return !ok
	})
	return offset, timestamp, errors.Join(err, decodeErr)
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch from the local replica.
func (s *Service) EndOffsetForEpoch(tp TP, epoch int32) (EpochEnd, error) {
	r := s.lookup(tp)
	if r == nil {
		return EpochEnd{LeaderEpoch: -1, EndOffset: -1}, ErrUnknownPartition
	}
	e, end := r.sm.EndOffsetForEpoch(epoch)
	return EpochEnd{LeaderEpoch: e, EndOffset: end}, nil
}

// Producers returns the idempotent producers tp's local replica knows
// whose state has not expired.
func (s *Service) Producers(tp TP) ([]Producer, error) {
	r := s.lookup(tp)
	if r == nil {
		return nil, ErrUnknownPartition
	}
	return r.sm.Producers()
}

// Watch returns a channel that receives a value whenever any of tps gets
// new data (or its replica goes away); call stop when done.
func (s *Service) Watch(tps []TP) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	var rs []*replica
	for _, tp := range tps {
		if r := s.lookup(tp); r != nil {
			r.mu.Lock()
			r.watchers[ch] = struct{}{}
			r.mu.Unlock()
			rs = append(rs, r)
		}
	}
	return ch, func() {
		for _, r := range rs {
			r.mu.Lock()
			delete(r.watchers, ch)
			r.mu.Unlock()
		}
	}
}

func (s *Service) wake(shardID uint64) {
	s.mu.RLock()
	r := s.mu.byShard[shardID]
	s.mu.RUnlock()
	if r != nil {
		r.notify()
	}
}

func (r *replica) notify() {
	r.mu.Lock()
	for ch := range r.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	r.mu.Unlock()
}

// LeaderCount returns how many local replicas currently lead their shard.
func (s *Service) LeaderCount() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var n int64
	for _, r := range s.mu.byShard {
		if _, _, isUs, err := r.leader(); err == nil && isUs {
			n++
		}
	}
	return n
}

// Leaderless counts local replicas whose shard has no known leader.
func (s *Service) Leaderless() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, r := range s.mu.byShard {
		if _, _, _, err := r.leader(); err != nil {
			n++
		}
	}
	return n
}

// Has reports whether this broker holds a replica of tp.
func (s *Service) Has(tp TP) bool { return s.lookup(tp) != nil }

// ReplicaState describes one local replica for status reports.
type ReplicaState struct {
	TP
	ShardID   uint64
	ReplicaID uint64
	State
	IsLeader   bool
	Compaction raftsm.CompactionStatus
}

// all returns the registered replicas, in no particular order.
func (s *Service) all() []*replica {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rs := make([]*replica, 0, len(s.mu.byShard))
	for _, r := range s.mu.byShard {
		rs = append(rs, r)
	}
	return rs
}

// Replicas lists the local replicas, in no particular order.
func (s *Service) Replicas() []ReplicaState {
	rs := s.all()
	out := make([]ReplicaState, 0, len(rs))
	for _, r := range rs {
		node, epoch, isUs, _ := r.leader()
		out = append(out, ReplicaState{
			TP: r.tp, ShardID: r.shardID, ReplicaID: r.id, IsLeader: isUs,
			State:      State{Leader: node, LeaderEpoch: epoch, LogStartOffset: r.sm.LogStartOffset(), HighWatermark: r.sm.HighWatermark()},
			Compaction: r.sm.Compaction(),
		})
	}
	return out
}

// ReadFollower serves a read from the local replica whether it leads or
// follows (KIP-392 follower fetching). A follower first confirms with a
// ReadIndex that it has applied everything the leader had committed when
// the read began, so it never serves a stale end of log.
func (s *Service) ReadFollower(ctx context.Context, tp TP, offset int64, maxBytes int32) (ReadResult, error) {
	r := s.lookup(tp)
	if r == nil {
		return ReadResult{HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1}, ErrUnknownPartition
	}
	if _, _, isUs, err := r.leader(); err != nil || isUs {
		// Leading (or about to learn who does): the leader's read.
		var (
			res  ReadResult
			rerr error
		)
		if !r.readLeased(ctx, func() {
			res, rerr = readLocal(r, ReadResult{HighWatermark: r.sm.HighWatermark(), LastStableOffset: r.sm.LastStableOffset(), LogStartOffset: r.sm.LogStartOffset()}, offset, maxBytes)
		}) {
			return ReadResult{HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1}, ErrLeaderNotAvailable
		}
		return res, rerr
	}
	rs, err := s.nh.ReadIndex(r.shardID, proposalTimeout)
	if err != nil {
		return ReadResult{HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1}, proposeError(err)
	}
	select {
	case res := <-rs.ResultC():
		rs.Release()
		if !res.Completed() {
			return ReadResult{HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1}, ErrLeaderNotAvailable
		}
	case <-ctx.Done():
		return ReadResult{HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1}, ErrTimeout
	}
	res := ReadResult{HighWatermark: r.sm.HighWatermark(), LastStableOffset: r.sm.LastStableOffset(), LogStartOffset: r.sm.LogStartOffset()}
	return readLocal(r, res, offset, maxBytes)
}

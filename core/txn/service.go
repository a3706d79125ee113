package txn

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/lni/dragonboat/v4"

	"github.com/chronik-go/chronik/core/coordraft"
	"github.com/chronik-go/chronik/raftsm"
)

// Service is the transaction coordinator of one broker. It serves the
// transactional IDs of the coordinator shards this broker leads and
// answers ErrNotCoordinator for the others.
//
// Every change of a transaction is a compare-and-set of its whole record
// (raftsm.EncodePutTxn): read the applied record, compute the next one,
// propose it expecting the version read. Within this broker the read and
// the proposal run under the transactional ID's lock (one of a fixed set of
// striped mutexes), so they never conflict with each other; a conflict
// means another leader changed the record and the request gets
// ErrConcurrentTransactions (retriable). Writing markers never holds the
// lock: the prepared state (PrepareCommit, PrepareAbort) answers
// ErrConcurrentTransactions to the producer meanwhile, and a shard's
// completing set makes sure one goroutine at a time drives a transaction's
// markers.
//
// Lock order: a transactional ID's lock, then shard.mu; the state
// machine's lock is innermost.
type Service struct {
	cfg     Config
	raft    coordraft.Node
	pids    PIDAllocator
	markers MarkerWriter
	log     *slog.Logger
	self    uint64 // our replica ID in every coordinator shard
	shards  []*shard
	locks   [64]sync.Mutex
	// loop loads and unloads the shards as leadership moves, and carries
	// the background work (marker writers).
	loop    *coordraft.Loop
	metrics *metrics
}

// shard is one coordinator shard as seen by this broker.
type shard struct {
	id uint64
	sm *raftsm.Coordinator

	mu struct {
		sync.Mutex
		// term is the Raft term the shard was loaded in; 0 while it is
		// not loaded (not led by us, or loading).
		term uint64
		// completing holds the transactional IDs whose markers a
		// goroutine is writing.
		completing map[string]bool
		// written holds, per transactional ID, the version of its
		// prepared record whose markers are all written: the transaction
		// is over, though its record may not say Complete yet (that write
		// is off the producer's path; the next change may skip it).
		written map[string]uint64
	}
	lastCheck time.Time // owned by the loop goroutine
}

// NewService returns the transaction coordinator over the coordinator
// shards' state machines, sms[i] being shard
// raftsm.FirstCoordinatorShardID+i (the same slice core/group gets), whose
// replicas already run on nh with replica ID = cfg.NodeID. pids allocates
// producer IDs (core/cluster's Service); markers writes transaction markers
// to partitions and groups. Call Start.
func NewService(nh *dragonboat.NodeHost, sms []*raftsm.Coordinator, cfg Config, pids PIDAllocator, markers MarkerWriter, log *slog.Logger) *Service {
	return newService(coordraft.NodeHost(nh, ErrNotCoordinator, ErrCoordinatorNotAvailable), sms, cfg, pids, markers, log)
}

func newService(r coordraft.Node, sms []*raftsm.Coordinator, cfg Config, pids PIDAllocator, markers MarkerWriter, log *slog.Logger) *Service {
	cfg.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, raft: r, pids: pids, markers: markers, log: log, self: uint64(cfg.NodeID)}
	ids := make([]uint64, len(sms))
	for i, c := range sms {
		sh := &shard{id: c.ShardID(), sm: c}
		sh.mu.completing = map[string]bool{}
		sh.mu.written = map[string]uint64{}
		s.shards = append(s.shards, sh)
		ids[i] = c.ShardID()
	}
	s.loop = coordraft.NewLoop(r, s.self, ids, loopOwner{s}, cfg.LeaderCheckInterval, cfg.ProposalTimeout, "txn", log)
	s.loop.SetElectionTimeout(cfg.ElectionTimeout)
	m, err := newMetrics(s, cfg.Meter)
	if err != nil {
		log.Warn("transaction coordinator metrics not registered", "err", err)
		m, _ = newMetrics(s, nil)
	}
	s.metrics = m
	return s
}

// Start begins watching shard leadership and, on the shards this broker
// leads, aborting timed-out transactions and finishing prepared ones.
func (s *Service) Start() { s.loop.Start() }

// WaitLoaded blocks until every shard has a leader and those this broker
// leads are loaded (coordraft.Loop.WaitLoaded).
func (s *Service) WaitLoaded(ctx context.Context) error { return s.loop.WaitLoaded(ctx) }

// Close stops the coordinator and waits for its background work; marker
// writes in progress are cancelled (the next leader finishes them).
func (s *Service) Close() {
	s.loop.Close()
	for i := range s.shards {
		loopOwner{s}.Unload(i)
	}
}

// loopOwner is the Service as its shard loop sees it.
type loopOwner struct{ s *Service }

func (o loopOwner) LoadedTerm(i int) uint64 {
	sh := o.s.shards[i]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.mu.term
}

// Load serves the shard; the next check finishes the transactions a
// previous leader left prepared.
func (o loopOwner) Load(i int, term uint64) {
	sh := o.s.shards[i]
	sh.mu.Lock()
	sh.mu.term = term
	sh.mu.Unlock()
	sh.lastCheck = time.Time{}
	o.s.log.Info("transaction coordinator shard loaded", "shard", sh.id, "term", term)
}

func (o loopOwner) Unload(i int) {
	sh := o.s.shards[i]
	sh.mu.Lock()
	sh.mu.term = 0
	sh.mu.Unlock()
}

func (o loopOwner) Tick() {
	for i, sh := range o.s.shards {
		if o.s.loop.Leads(i) {
			o.s.check(sh)
		}
	}
}

// check, every CheckInterval on a loaded shard, aborts transactions past
// their timeout and finishes prepared ones nobody is finishing.
func (s *Service) check(sh *shard) {
	if time.Since(sh.lastCheck) < s.cfg.CheckInterval {
		return
	}
	sh.lastCheck = time.Now()
	now := time.Now().UnixMilli()
	var expired []raftsm.TxnVersion
	for _, rec := range sh.sm.Txns() {
		switch {
		case rec.State == raftsm.TxnPrepareCommit, rec.State == raftsm.TxnPrepareAbort:
			s.finishAsync(sh, rec)
		case rec.State == raftsm.TxnOngoing:
			if rec.StartMs+int64(rec.TimeoutMs) <= now {
				s.abortTimedOut(sh, rec)
			}
		case rec.Idle() && rec.UpdateMs+s.cfg.Expiration.Milliseconds() <= now:
			expired = append(expired, raftsm.TxnVersion{TransactionalID: rec.TransactionalID, Version: rec.Version})
		}
	}
	s.expire(sh, expired)
}

// maxExpiredPerCommand bounds one expiry command.
const maxExpiredPerCommand = 256

// expire deletes the records of transactional IDs idle for longer than
// Expiration (transactional.id.expiration.ms), each only if nobody changed
// it meanwhile.
func (s *Service) expire(sh *shard, ids []raftsm.TxnVersion) {
	for len(ids) > 0 {
		n := min(len(ids), maxExpiredPerCommand)
		ctx, cancel := context.WithTimeout(s.loop.Context(), s.cfg.ProposalTimeout)
		res, err := s.raft.Propose(ctx, sh.id, raftsm.EncodeExpireTxns(ids[:n]))
		cancel()
		if err != nil {
			s.log.Warn("cannot expire idle transactional IDs", "shard", sh.id, "err", err)
			return
		}
		s.log.Info("expired idle transactional IDs", "shard", sh.id, "expired", res.Value, "idle_for_more_than", s.cfg.Expiration)
		ids = ids[n:]
	}
}

// abortTimedOut aborts an Ongoing transaction past its timeout with a
// bumped epoch, as Kafka does, so the producer that let it time out is
// fenced.
func (s *Service) abortTimedOut(sh *shard, seen *raftsm.TxnRecord) {
	mu := s.lock(seen.TransactionalID)
	mu.Lock()
	cur, ok := sh.sm.Txn(seen.TransactionalID)
	if !ok || cur.Version != seen.Version {
		mu.Unlock()
		return
	}
	next, err := s.put(s.loop.Context(), sh, fenced(cur, time.Now().UnixMilli()), cur.Version)
	mu.Unlock()
	if err != nil {
		s.log.Warn("cannot abort a timed-out transaction", "transactional_id", cur.TransactionalID, "err", err)
		return
	}
	s.metrics.timedOut.Add(s.loop.Context(), 1)
	s.log.Info("aborting a timed-out transaction", "transactional_id", cur.TransactionalID,
		"producer_id", cur.ProducerID, "epoch", next.ProducerEpoch, "timeout_ms", cur.TimeoutMs)
	s.finishAsync(sh, next)
}

// finishAsync writes a prepared transaction's markers and completes it in
// the background, unless someone is at it already.
func (s *Service) finishAsync(sh *shard, rec *raftsm.TxnRecord) {
	if !s.claim(sh, rec.TransactionalID) {
		return
	}
	s.loop.Go(func() {
		defer s.release(sh, rec.TransactionalID)
		if err := s.finish(s.loop.Context(), sh, rec); err != nil {
			s.log.Warn("cannot write transaction markers yet; retrying", "transactional_id", rec.TransactionalID, "err", err)
		}
	})
}

// finish writes the markers of a prepared record and then stores it
// complete. The caller holds the transactional ID's claim.
func (s *Service) finish(ctx context.Context, sh *shard, rec *raftsm.TxnRecord) error {
	if err := s.writeMarkers(ctx, sh, rec); err != nil {
		return err
	}
	return s.complete(ctx, sh, rec)
}

// writeMarkers writes the markers of a prepared record and notes that they
// are (markersWritten).
func (s *Service) writeMarkers(ctx context.Context, sh *shard, rec *raftsm.TxnRecord) error {
	// A coordinator cut off from its peers may still answer produce
	// verification from its lease: a new one's markers come after it
	// ended, so a produce verified there cannot follow them into the
	// partition unnoticed (the partition rejects a verified append when a
	// marker of the producer applied after it looked).
	i := s.shardIndex(rec.TransactionalID)
	if err := s.loop.AwaitLed(ctx, i, loopOwner{s}.LoadedTerm(i)); err != nil {
		return err
	}
	commit := rec.State == raftsm.TxnPrepareCommit
	pid, epoch := rec.MarkerProducer()
	m := Markers{
		TransactionalID: rec.TransactionalID, ProducerID: pid, ProducerEpoch: epoch,
		Commit: commit, Groups: append([]string(nil), rec.Groups...),
	}
	for _, tp := range rec.Partitions {
		m.Partitions = append(m.Partitions, TopicPartition(tp))
	}
	mctx, cancel := context.WithTimeout(ctx, s.cfg.MarkerTimeout)
	err := s.markers.WriteMarkers(mctx, m)
	cancel()
	if err != nil {
		s.metrics.markerFailures.Add(ctx, 1)
		return err
	}
	sh.mu.Lock()
	sh.mu.written[rec.TransactionalID] = rec.Version
	sh.mu.Unlock()
	if commit {
		s.metrics.ended.Add(ctx, 1, s.metrics.commit)
	} else {
		s.metrics.ended.Add(ctx, 1, s.metrics.abort)
	}
	return nil
}

// markersWritten reports whether cur is a prepared record whose markers
// this broker has written: its transaction is over.
func (s *Service) markersWritten(sh *shard, cur *raftsm.TxnRecord) bool {
	if cur.State != raftsm.TxnPrepareCommit && cur.State != raftsm.TxnPrepareAbort {
		return false
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	v, ok := sh.mu.written[cur.TransactionalID]
	return ok && v == cur.Version
}

// complete stores a prepared record, whose markers are written, complete,
// unless it changed meanwhile (another leader, or the producer's next
// transaction began from it).
func (s *Service) complete(ctx context.Context, sh *shard, rec *raftsm.TxnRecord) error {
	mu := s.lock(rec.TransactionalID)
	mu.Lock()
	defer mu.Unlock()
	defer func() {
		sh.mu.Lock()
		if sh.mu.written[rec.TransactionalID] == rec.Version {
			delete(sh.mu.written, rec.TransactionalID)
		}
		sh.mu.Unlock()
	}()
	cur, ok := sh.sm.Txn(rec.TransactionalID)
	if !ok || cur.Version != rec.Version {
		return nil // finished (or changed) meanwhile
	}
	next := clone(cur)
	next.State = raftsm.TxnCompleteAbort
	if rec.State == raftsm.TxnPrepareCommit {
		next.State = raftsm.TxnCompleteCommit
	}
	next.Partitions, next.Groups, next.UpdateMs = nil, nil, time.Now().UnixMilli()
	_, err := s.put(ctx, sh, next, cur.Version)
	return err
}

func (s *Service) claim(sh *shard, txnID string) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.mu.completing[txnID] {
		return false
	}
	sh.mu.completing[txnID] = true
	return true
}

func (s *Service) release(sh *shard, txnID string) {
	sh.mu.Lock()
	delete(sh.mu.completing, txnID)
	sh.mu.Unlock()
}

// lock returns the transactional ID's mutex.
func (s *Service) lock(txnID string) *sync.Mutex {
	h := fnv.New32a()
	_, _ = h.Write([]byte(txnID))
	return &s.locks[h.Sum32()%uint32(len(s.locks))]
}

// shardIndex returns the index in shards of a transactional ID's
// coordinator shard.
func (s *Service) shardIndex(txnID string) int {
	return int(raftsm.CoordinatorShardID(txnID, len(s.shards)) - raftsm.FirstCoordinatorShardID)
}

// route returns the transactional ID's shard when this broker coordinates
// it.
func (s *Service) route(txnID string) (*shard, error) {
	if txnID == "" {
		return nil, ErrInvalidTransactionalID
	}
	if len(s.shards) == 0 {
		return nil, ErrCoordinatorNotAvailable
	}
	i := s.shardIndex(txnID)
	if err := routeErrors.Of(s.loop.Route(i)); err != nil {
		return nil, err
	}
	return s.shards[i], nil
}

// routeErrors are the errors route and readLeased answer when this broker
// does not serve the shard.
var routeErrors = coordraft.Errors{NotCoordinator: ErrNotCoordinator, NotAvailable: ErrCoordinatorNotAvailable, Loading: ErrLoadInProgress}

// readLeased is route for an answer from the transactional ID's stored
// state: read runs on its shard under a read lease
// (coordraft.Loop.ReadLeased), so a coordinator cut off from its peers
// never answers from a state its successor has moved past.
func (s *Service) readLeased(ctx context.Context, txnID string, read func(sh *shard)) error {
	if txnID == "" {
		return ErrInvalidTransactionalID
	}
	if len(s.shards) == 0 {
		return ErrCoordinatorNotAvailable
	}
	i := s.shardIndex(txnID)
	return routeErrors.Of(s.loop.ReadLeased(ctx, i, func() { read(s.shards[i]) }))
}

// Coordinator returns the broker that coordinates the transactional ID:
// the leader of its shard (replica IDs are broker IDs).
func (s *Service) Coordinator(txnID string) (int32, error) {
	if len(s.shards) == 0 {
		return -1, ErrCoordinatorNotAvailable
	}
	replica, _, ok := s.raft.Leader(s.shards[s.shardIndex(txnID)].id)
	if !ok {
		return -1, ErrCoordinatorNotAvailable
	}
	return int32(replica), nil
}

// put proposes next expecting the stored version expect and returns next
// with its new version. A conflict (another leader changed the record) is
// ErrConcurrentTransactions, which the client retries.
func (s *Service) put(ctx context.Context, sh *shard, next *raftsm.TxnRecord, expect uint64) (*raftsm.TxnRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ProposalTimeout)
	defer cancel()
	res, err := s.raft.Propose(ctx, sh.id, raftsm.EncodePutTxn(next, expect))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			err = fmt.Errorf("%w: %w", ErrCoordinatorNotAvailable, err)
		}
		return nil, err
	}
	switch st := raftsm.ResultStatus(res.Data); st {
	case raftsm.StatusOK:
		next.Version = res.Value
		return next, nil
	case raftsm.StatusTxnConflict:
		return nil, fmt.Errorf("%w: the transaction record changed concurrently", ErrConcurrentTransactions)
	default:
		return nil, fmt.Errorf("%w: transaction update rejected: %s", ErrCoordinatorNotAvailable, st)
	}
}

// clone copies a stored record (stored records are shared and immutable).
func clone(r *raftsm.TxnRecord) *raftsm.TxnRecord {
	c := *r
	c.Partitions = append([]raftsm.TopicPartition(nil), r.Partitions...)
	c.Groups = append([]string(nil), r.Groups...)
	return &c
}

// fenced is Kafka's prepareFenceProducerEpoch: the Ongoing transaction is
// aborted under a bumped epoch, which the markers carry, so the producer
// that owned it can no longer write.
func fenced(cur *raftsm.TxnRecord, now int64) *raftsm.TxnRecord {
	next := clone(cur)
	if next.ProducerEpoch < maxEpoch {
		next.ProducerEpoch++
	}
	next.LastProducerEpoch, next.EndedV2 = -1, false
	next.State, next.UpdateMs = raftsm.TxnPrepareAbort, now
	return next
}

package group

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lni/dragonboat/v4"

	"github.com/chronik-go/chronik/core/coordraft"
	"github.com/chronik-go/chronik/raftsm"
)

// Service is the group coordinator of one broker. It serves the groups of
// the coordinator shards this broker leads and answers ErrNotCoordinator
// for the others.
//
// Lock order: shard.mu before group.mu is never needed; code takes at most
// one of them at a time, except lookup, which holds shard.mu while reading
// the state machine (whose lock is innermost).
type Service struct {
	cfg    Config
	raft   coordraft.Node
	log    *slog.Logger
	self   uint64 // our replica ID in every coordinator shard
	shards []*shard
	// loop loads and unloads the shards as leadership moves, and carries
	// the background work (group stores).
	loop *coordraft.Loop
}

// shard is one coordinator shard as seen by this broker.
type shard struct {
	id uint64
	sm *raftsm.Coordinator

	mu struct {
		sync.Mutex
		// term is the Raft term the groups were loaded in; 0 while the
		// shard is not loaded (not led by us, or loading).
		term   uint64
		groups map[string]*group // nil while not loaded
	}
	lastExpiry time.Time // owned by the loop goroutine
}

// NewService returns the coordinator over the coordinator shards' state
// machines, sms[i] being shard raftsm.FirstCoordinatorShardID+i, whose
// replicas already run on nh with replica ID = cfg.NodeID. Call Start.
func NewService(nh *dragonboat.NodeHost, sms []*raftsm.Coordinator, cfg Config, log *slog.Logger) *Service {
	return newService(coordraft.NodeHost(nh, ErrNotCoordinator, ErrCoordinatorNotAvailable), sms, cfg, log)
}

func newService(r coordraft.Node, sms []*raftsm.Coordinator, cfg Config, log *slog.Logger) *Service {
	cfg.Shards = len(sms)
	cfg.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, raft: r, log: log, self: uint64(cfg.NodeID)}
	ids := make([]uint64, len(sms))
	for i, c := range sms {
		s.shards = append(s.shards, &shard{id: c.ShardID(), sm: c})
		ids[i] = c.ShardID()
	}
	s.loop = coordraft.NewLoop(r, s.self, ids, loopOwner{s}, cfg.LeaderCheckInterval, cfg.ProposalTimeout, "group", log)
	s.loop.SetElectionTimeout(cfg.ElectionTimeout)
	return s
}

// Start begins watching shard leadership: shards this broker leads are
// loaded, the others unloaded, and expired offsets are removed.
func (s *Service) Start() { s.loop.Start() }

// WaitLoaded blocks until every shard has a leader and those this broker
// leads are loaded (coordraft.Loop.WaitLoaded).
func (s *Service) WaitLoaded(ctx context.Context) error { return s.loop.WaitLoaded(ctx) }

// Close stops the coordinator: waiting JoinGroup and SyncGroup calls return
// ErrNotCoordinator, timers stop, background work ends.
func (s *Service) Close() {
	s.loop.Close()
	for _, sh := range s.shards {
		s.unload(sh)
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

func (o loopOwner) Load(i int, term uint64) { o.s.load(o.s.shards[i], term) }
func (o loopOwner) Unload(i int)            { o.s.unload(o.s.shards[i]) }
func (o loopOwner) Tick()                   { o.s.expire() }

// load materializes every group whose stored generation has members,
// starting their session timers, as Kafka's coordinator does when it
// becomes a partition leader (the loop has applied everything earlier
// leaders committed).
func (s *Service) load(sh *shard, term uint64) {
	groups := map[string]*group{}
	for _, id := range sh.sm.GroupIDs() {
		if rec, ok := sh.sm.Group(id); ok && len(rec.Members) > 0 {
			groups[id] = newGroup(s, sh, id, rec)
		}
	}
	active := len(groups) // the map is the shard's once published
	sh.mu.Lock()
	sh.mu.term, sh.mu.groups = term, groups
	sh.mu.Unlock()
	sh.lastExpiry = time.Now()
	s.log.Info("coordinator shard loaded", "shard", sh.id, "term", term, "active_groups", active)
}

func (s *Service) unload(sh *shard) {
	sh.mu.Lock()
	groups := sh.mu.groups
	sh.mu.term, sh.mu.groups = 0, nil
	sh.mu.Unlock()
	for _, g := range groups {
		g.unload()
	}
}

// expire proposes offset expiry on every loaded shard whose last run is
// older than RetentionCheckInterval, then forgets in-memory groups that are
// empty and no longer stored.
func (s *Service) expire() {
	for _, sh := range s.shards {
		sh.mu.Lock()
		loaded := sh.mu.groups != nil
		sh.mu.Unlock()
		if !loaded || time.Since(sh.lastExpiry) < s.cfg.RetentionCheckInterval {
			continue
		}
		sh.lastExpiry = time.Now()
		ctx, cancel := context.WithTimeout(s.loop.Context(), s.cfg.ProposalTimeout)
		res, err := s.raft.Propose(ctx, sh.id, raftsm.EncodeExpireOffsets(time.Now().UnixMilli(), s.cfg.OffsetsRetention.Milliseconds()))
		cancel()
		if err != nil {
			s.log.Warn("cannot expire offsets", "shard", sh.id, "err", err)
			continue
		}
		if res.Value > 0 {
			s.log.Info("expired committed offsets", "shard", sh.id, "offsets", res.Value)
		}
		s.prune(sh)
	}
}

// prune forgets empty in-memory groups that have no stored state left.
func (s *Service) prune(sh *shard) {
	sh.mu.Lock()
	groups := make([]*group, 0, len(sh.mu.groups))
	for _, g := range sh.mu.groups {
		groups = append(groups, g)
	}
	sh.mu.Unlock()
	for _, g := range groups {
		g.mu.Lock()
		gone := !g.mu.unloaded && g.mu.state == Empty && len(g.mu.pending) == 0 && !sh.sm.HasGroup(g.id)
		if gone {
			g.mu.state = Dead
		}
		g.mu.Unlock()
		if gone {
			s.forget(sh, g)
		}
	}
}

// shardIndex returns the index in shards of a group's coordinator shard.
func (s *Service) shardIndex(groupID string) int {
	return int(raftsm.CoordinatorShardID(groupID, len(s.shards)) - raftsm.FirstCoordinatorShardID)
}

// route returns the group's shard when this broker coordinates it.
func (s *Service) route(groupID string) (*shard, error) {
	i := s.shardIndex(groupID)
	if err := routeErrors.Of(s.loop.Route(i)); err != nil {
		return nil, err
	}
	return s.shards[i], nil
}

// routeErrors are the errors route and readLeased answer when this broker
// does not serve the shard.
var routeErrors = coordraft.Errors{NotCoordinator: ErrNotCoordinator, NotAvailable: ErrCoordinatorNotAvailable, Loading: ErrLoadInProgress}

// readLeased is route for an answer from the group's state (its
// committed offsets, its description): read runs on the group's shard
// under a read lease (coordraft.Loop.ReadLeased), so a coordinator cut off
// from its peers never answers with offsets older than a successor has
// committed, nor describes a group its successor has moved on.
func (s *Service) readLeased(ctx context.Context, groupID string, read func(sh *shard)) error {
	i := s.shardIndex(groupID)
	return routeErrors.Of(s.loop.ReadLeased(ctx, i, func() { read(s.shards[i]) }))
}

// Coordinator returns the broker that coordinates the group: the leader of
// its shard (replica IDs are broker IDs).
func (s *Service) Coordinator(groupID string) (int32, error) {
	replica, _, ok := s.raft.Leader(s.shards[s.shardIndex(groupID)].id)
	if !ok {
		return -1, ErrCoordinatorNotAvailable
	}
	return int32(replica), nil
}

// lookup returns the loaded group, materializing it from the state machine
// when it has stored state, or creating it empty when create is set. It
// returns nil (and no error) for a group that does not exist.
func (s *Service) lookup(sh *shard, id string, create bool) (*group, error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.mu.groups == nil {
		return nil, ErrNotCoordinator
	}
	if g := sh.mu.groups[id]; g != nil {
		return g, nil
	}
	rec, _ := sh.sm.Group(id)
	if rec == nil && !create && !sh.sm.HasOffsets(id) {
		return nil, nil
	}
	g := newGroup(s, sh, id, rec)
	sh.mu.groups[id] = g
	return g, nil
}

// forget removes a dead group from its shard.
func (s *Service) forget(sh *shard, g *group) {
	sh.mu.Lock()
	if sh.mu.groups != nil && sh.mu.groups[g.id] == g {
		delete(sh.mu.groups, g.id)
	}
	sh.mu.Unlock()
}

// propose commits a command on a shard, bounded by ProposalTimeout.
func (s *Service) propose(ctx context.Context, sh *shard, cmd []byte) (raftsm.Status, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ProposalTimeout)
	defer cancel()
	res, err := s.raft.Propose(ctx, sh.id, cmd)
	if err != nil {
		return 0, 0, err
	}
	return raftsm.ResultStatus(res.Data), res.Value, nil
}

// CommitOffsets validates the committer against the group (simple
// consumers pass generation -1 and no member ID) and commits the offsets
// through Raft. It returns one error per offset, nil where committed.
func (s *Service) CommitOffsets(ctx context.Context, req CommitRequest) []error {
	if req.Group == "" {
		return fillErrors(make([]error, len(req.Offsets)), ErrInvalidGroupID)
	}
	sh, err := s.route(req.Group)
	if err != nil {
		return fillErrors(make([]error, len(req.Offsets)), err)
	}
	errs, offs := s.offsetsToStore(req.Offsets, req.Retention)
	fill := func(err error) []error { return fillErrors(errs, err) }
	if len(offs) == 0 {
		return errs
	}
	g, err := s.lookup(sh, req.Group, req.Generation < 0)
	switch {
	case err != nil:
		return fill(err)
	case g == nil:
		// Kafka: a member commit to a group the coordinator does not know.
		return fill(ErrIllegalGeneration)
	}
	g.mu.Lock()
	err = g.validateCommitLocked(req)
	g.mu.Unlock()
	if err != nil {
		return fill(err)
	}
	term, proposedAt := loopOwner{s}.LoadedTerm(s.shardIndex(req.Group)), s.loop.Now()
	st, _, err := s.propose(ctx, sh, raftsm.EncodeCommitOffsets(req.Group, offs))
	switch {
	case err != nil:
		return fill(err)
	case st != raftsm.StatusOK:
		return fill(fmt.Errorf("%w: commit rejected: %s", ErrCoordinatorNotAvailable, st))
	}
	// A new coordinator acknowledges a commit only once no earlier one
	// can still answer reads (coordraft's read leases).
	if err := s.loop.Acknowledge(ctx, s.shardIndex(req.Group), term, proposedAt); err != nil {
		return fill(fmt.Errorf("%w: %w", ErrCoordinatorNotAvailable, err))
	}
	return errs
}

// offsetsToStore starts an offset commit: one error per offset (those
// whose metadata is too large set already) and the records of the others,
// committed now and expiring after retention (never when 0).
func (s *Service) offsetsToStore(offsets []CommitOffset, retention time.Duration) ([]error, []raftsm.CommittedOffset) {
	errs := make([]error, len(offsets))
	now := time.Now().UnixMilli()
	expire := int64(-1)
	if retention > 0 {
		expire = now + retention.Milliseconds()
	}
	offs := make([]raftsm.CommittedOffset, 0, len(offsets))
	for i, o := range offsets {
		if len(o.Metadata) > s.cfg.MaxMetadataBytes {
			errs[i] = ErrOffsetMetadataTooLarge
			continue
		}
		offs = append(offs, raftsm.CommittedOffset{
			TopicPartition: raftsm.TopicPartition(o.TopicPartition),
			OffsetRecord: raftsm.OffsetRecord{
				Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata,
				CommitTimestamp: now, ExpireTimestamp: expire,
			},
		})
	}
	return errs, offs
}

// fillErrors sets err wherever errs has none, and returns errs.
func fillErrors(errs []error, err error) []error {
	for i := range errs {
		if errs[i] == nil {
			errs[i] = err
		}
	}
	return errs
}

// FetchOffsets returns the group's committed offsets of tps (Offset -1
// where none), or all of them, sorted, when tps is nil. An unknown group is
// not an error: every offset is -1.
func (s *Service) FetchOffsets(ctx context.Context, groupID string, tps []TopicPartition) ([]FetchedOffset, error) {
	if groupID == "" {
		return nil, ErrInvalidGroupID
	}
	var out []FetchedOffset
	if err := s.readLeased(ctx, groupID, func(sh *shard) { out = fetchOffsets(sh, groupID, tps) }); err != nil {
		return nil, err
	}
	return out, nil
}

// fetchOffsets is FetchOffsets on the group's shard.
func fetchOffsets(sh *shard, groupID string, tps []TopicPartition) []FetchedOffset {
	if tps == nil {
		all := sh.sm.Offsets(groupID)
		out := make([]FetchedOffset, 0, len(all))
		for tp, o := range all {
			out = append(out, FetchedOffset{
				TopicPartition: TopicPartition(tp), Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata,
				Unstable: sh.sm.HasPendingOffset(groupID, tp),
			})
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Topic != out[j].Topic {
				return out[i].Topic < out[j].Topic
			}
			return out[i].Partition < out[j].Partition
		})
		return out
	}
	out := make([]FetchedOffset, len(tps))
	for i, tp := range tps {
		out[i] = FetchedOffset{TopicPartition: tp, Offset: -1, LeaderEpoch: -1}
		if o, ok := sh.sm.Offset(groupID, raftsm.TopicPartition(tp)); ok {
			out[i].Offset, out[i].LeaderEpoch, out[i].Metadata = o.Offset, o.LeaderEpoch, o.Metadata
		}
		out[i].Unstable = sh.sm.HasPendingOffset(groupID, raftsm.TopicPartition(tp))
	}
	return out
}

// ListGroups lists the groups of every shard this broker coordinates
// (clients ask every broker and merge), each under its read lease, all at
// once (coordraft.Loop.ReadLeasedEach). It returns what it could list and
// ErrLoadInProgress when a shard it leads is still loading, or
// ErrCoordinatorNotAvailable when it could not confirm that it still
// leads one.
func (s *Service) ListGroups(ctx context.Context, f ListFilter) ([]Listing, error) {
	var (
		out      []Listing
		shardErr error
	)
	parts := make([][]Listing, len(s.shards))
	loaded := make([]bool, len(s.shards))
	for i, rt := range s.loop.ReadLeasedEach(ctx, func(i int) { parts[i], loaded[i] = listShard(s.shards[i]) }) {
		switch rt {
		case coordraft.Here:
			if loaded[i] {
				out = append(out, parts[i]...)
			} else {
				shardErr = cmp.Or(shardErr, ErrLoadInProgress) // unloaded since
			}
		case coordraft.Loading:
			shardErr = cmp.Or(shardErr, ErrLoadInProgress)
		case coordraft.NoLeader:
			if replica, _, ok := s.raft.Leader(s.shards[i].id); ok && replica == s.self {
				shardErr = cmp.Or(shardErr, ErrCoordinatorNotAvailable) // leads, but could not confirm it
			}
		}
	}
	filtered := out[:0]
	for _, l := range out {
		if matchAny(f.States, l.State) && matchAny(f.Types, l.Type) {
			filtered = append(filtered, l)
		}
	}
	sort.Slice(filtered, func(i, j int) bool { return filtered[i].Group < filtered[j].Group })
	return filtered, shardErr
}

// listShard lists a loaded shard's groups: those in memory (their live
// state) and the stored ones not loaded (Empty). loaded is false when the
// shard is not loaded.
func listShard(sh *shard) (out []Listing, loaded bool) {
	sh.mu.Lock()
	if sh.mu.groups == nil {
		sh.mu.Unlock()
		return nil, false
	}
	groups := make([]*group, 0, len(sh.mu.groups))
	for _, g := range sh.mu.groups {
		groups = append(groups, g)
	}
	sh.mu.Unlock()
	seen := map[string]bool{}
	for _, g := range groups {
		g.mu.Lock()
		l := Listing{Group: g.id, ProtocolType: g.mu.protocolType, State: g.stateNameLocked(), Type: g.typeLocked()}
		dead := g.mu.state == Dead
		g.mu.Unlock()
		seen[g.id] = true
		if !dead {
			out = append(out, l)
		}
	}
	for _, id := range sh.sm.GroupIDs() {
		if seen[id] {
			continue
		}
		l := Listing{Group: id, State: Empty.String(), Type: classicGroupType}
		if rec, ok := sh.sm.Group(id); ok {
			l.ProtocolType = rec.ProtocolType
			if rec.Consumer != nil {
				l.Type = consumerGroupType
			}
		}
		out = append(out, l)
	}
	return out, true
}

func matchAny(filter []string, v string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if strings.EqualFold(f, v) {
			return true
		}
	}
	return false
}

// DescribeGroup describes one group, under the read lease of its shard
// (readLeased); ErrGroupNotFound when it does not exist.
func (s *Service) DescribeGroup(ctx context.Context, groupID string) (d Description, err error) {
	if groupID == "" {
		return Description{}, ErrInvalidGroupID
	}
	if rerr := s.readLeased(ctx, groupID, func(sh *shard) { d, err = s.describeGroup(sh, groupID) }); rerr != nil {
		return Description{}, rerr
	}
	return d, err
}

func (s *Service) describeGroup(sh *shard, groupID string) (Description, error) {
	g, err := s.lookup(sh, groupID, false)
	switch {
	case err != nil:
		return Description{}, err
	case g == nil:
		return Description{Group: groupID, State: Dead}, ErrGroupNotFound
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mu.unloaded {
		return Description{}, ErrNotCoordinator
	}
	switch {
	case g.mu.state == Dead:
		return Description{Group: groupID, State: Dead}, ErrGroupNotFound
	case g.mu.consumer != nil:
		return Description{Group: groupID, State: Dead}, fmt.Errorf("%w: group %s is not a classic group", ErrGroupNotFound, groupID)
	}
	return g.describeLocked(), nil
}

// DeleteGroup deletes an empty group with its offsets.
func (s *Service) DeleteGroup(ctx context.Context, groupID string) error {
	if groupID == "" {
		return ErrInvalidGroupID
	}
	sh, err := s.route(groupID)
	if err != nil {
		return err
	}
	g, err := s.lookup(sh, groupID, false)
	switch {
	case err != nil:
		return err
	case g == nil:
		return ErrGroupNotFound
	}
	// The lock is held across the proposal so no member can join a group
	// that is being deleted; deletes are rare.
	g.mu.Lock()
	switch {
	case g.mu.unloaded:
		g.mu.Unlock()
		return ErrNotCoordinator
	case g.mu.state == Dead:
		g.mu.Unlock()
		return ErrGroupNotFound
	case g.mu.state != Empty:
		g.mu.Unlock()
		return ErrNonEmptyGroup
	}
	if c := g.mu.lastStore; c != nil {
		// The record saying the group is empty may still be on its way.
		select {
		case <-c:
		case <-ctx.Done():
			g.mu.Unlock()
			return ctx.Err()
		}
	}
	if sh.sm.HasGroup(groupID) {
		st, _, err := s.propose(ctx, sh, raftsm.EncodeDeleteGroup(groupID))
		if err == nil && st == raftsm.StatusNonEmptyGroup {
			err = ErrNonEmptyGroup
		}
		if err != nil {
			g.mu.Unlock()
			return err
		}
	}
	g.mu.state = Dead
	g.stopAllLocked()
	g.mu.Unlock()
	s.forget(sh, g)
	return nil
}

// DeleteOffsets deletes committed offsets of a group. An empty group loses
// any of them; a consumer group with members keeps those of topics its
// members subscribe to (ErrGroupSubscribedToTopic); any other group with
// members gets ErrNonEmptyGroup. It returns one error per partition, or a
// group-level error.
func (s *Service) DeleteOffsets(ctx context.Context, groupID string, tps []TopicPartition) ([]error, error) {
	if groupID == "" {
		return nil, ErrInvalidGroupID
	}
	sh, err := s.route(groupID)
	if err != nil {
		return nil, err
	}
	g, err := s.lookup(sh, groupID, false)
	switch {
	case err != nil:
		return nil, err
	case g == nil:
		return nil, ErrGroupNotFound
	}
	errs := make([]error, len(tps))
	g.mu.Lock()
	switch {
	case g.mu.unloaded:
		err = ErrNotCoordinator
	case g.mu.state == Dead:
		err = ErrGroupNotFound
	case g.mu.state != Empty:
		if g.mu.protocolType != "consumer" {
			err = ErrNonEmptyGroup
			break
		}
		topics, known := g.subscribedTopicsLocked()
		for i, tp := range tps {
			if !known || topics[tp.Topic] {
				errs[i] = ErrGroupSubscribedToTopic
			}
		}
	}
	g.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var del []raftsm.TopicPartition
	for i, tp := range tps {
		if errs[i] == nil {
			del = append(del, raftsm.TopicPartition(tp))
		}
	}
	if len(del) == 0 || !sh.sm.HasOffsets(groupID) {
		return errs, nil
	}
	st, _, err := s.propose(ctx, sh, raftsm.EncodeDeleteOffsets(groupID, del))
	if err != nil {
		return nil, err
	}
	if st != raftsm.StatusOK && st != raftsm.StatusGroupNotFound {
		return nil, fmt.Errorf("%w: delete offsets rejected: %s", ErrCoordinatorNotAvailable, st)
	}
	return errs, nil
}

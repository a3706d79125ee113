package group

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-go/chronik/raftsm"
)

// group is one consumer group's membership, held in memory by the leader
// of its coordinator shard (Kafka's GroupMetadata). Every field is guarded
// by mu; methods ending in Locked need it held. Timer callbacks take mu and
// check seq (bumped by every state transition) so a stale timer does
// nothing.
type group struct {
	s  *Service
	sh *shard
	id string
	// unloaded mirrors mu.unloaded for the store goroutines, which must
	// not wait for mu (DeleteGroup holds it while it waits for them).
	unloaded atomic.Bool

	mu struct {
		sync.Mutex
		state        State
		unloaded     bool // the shard was unloaded: answer ErrNotCoordinator
		generation   int32
		protocolType string
		protocol     string // selected protocol of the current generation
		leader       string
		members      map[string]*member
		pending      map[string]*time.Timer // IDs handed out with MEMBER_ID_REQUIRED
		static       map[string]string      // group.instance.id → member ID

		seq       uint64
		joinTimer *time.Timer
		syncTimer *time.Timer
		// initialJoin marks the delayed first rebalance of an empty group:
		// it completes only when its (extended) delay ends.
		initialJoin      bool
		newMemberAdded   bool
		initialRemaining time.Duration
		// storing is set while the leader's assignment is being
		// committed; assignments holds it until then.
		storing     bool
		assignments map[string][]byte
		// lastStore is closed when the group's latest store proposal has
		// finished; stores wait for their predecessor, so a group's
		// records are applied in the order they were made.
		lastStore chan struct{}
		// consumer is set while the group is a KIP-848 consumer group
		// (consumer.go); members and the join and sync fields are then
		// unused, generation is the group epoch and protocol the
		// assignor.
		consumer *consumerGroup
	}
}

// member is one group member.
type member struct {
	id, instanceID       string
	clientID, clientHost string
	sessionTimeout       time.Duration
	rebalanceTimeout     time.Duration
	protocolType         string
	protocols            []Protocol
	assignment           []byte

	joinC  chan joinOutcome // set while a JoinGroup waits for the join phase to end
	syncC  chan syncOutcome // set while a SyncGroup waits for the leader's assignment
	synced bool             // sent SyncGroup in the current generation

	lastHeartbeat time.Time
	timer         *time.Timer // session expiry
}

// outcome answers a JoinGroup or SyncGroup that waited for its rebalance.
type outcome[R any] struct {
	res R
	err error
}

type (
	joinOutcome = outcome[JoinResult]
	syncOutcome = outcome[SyncResult]
)

// awaitOutcome waits for a parked JoinGroup or SyncGroup to be answered.
func awaitOutcome[R any](ctx context.Context, stop <-chan struct{}, c chan outcome[R]) (R, error) {
	var zero R
	select {
	case o := <-c:
		return o.res, o.err
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-stop:
		return zero, ErrNotCoordinator
	}
}

// member finds the group a member request names: ErrUnknownMember when it
// does not exist (and create is false).
func (s *Service) member(name string, create bool) (*group, error) {
	sh, err := s.route(name)
	if err != nil {
		return nil, err
	}
	g, err := s.lookup(sh, name, create)
	if err == nil && g == nil {
		err = ErrUnknownMember
	}
	return g, err
}

// newGroup returns a group; rec is its stored metadata, if any. A stored
// generation with members comes back Stable with fresh session timers.
func newGroup(s *Service, sh *shard, id string, rec *raftsm.GroupRecord) *group {
	g := &group{s: s, sh: sh, id: id}
	g.mu.members = map[string]*member{}
	g.mu.pending = map[string]*time.Timer{}
	g.mu.static = map[string]string{}
	if rec == nil {
		return g
	}
	g.mu.generation, g.mu.protocolType = rec.Generation, rec.ProtocolType
	if rec.Consumer != nil {
		g.loadConsumerLocked(rec)
		return g
	}
	if len(rec.Members) == 0 {
		return g
	}
	g.mu.state, g.mu.protocol, g.mu.leader = Stable, rec.Protocol, rec.Leader
	now := time.Now()
	for _, mr := range rec.Members {
		m := &member{
			id: mr.MemberID, instanceID: mr.InstanceID, clientID: mr.ClientID, clientHost: mr.ClientHost,
			sessionTimeout:   time.Duration(mr.SessionTimeoutMs) * time.Millisecond,
			rebalanceTimeout: time.Duration(mr.RebalanceTimeoutMs) * time.Millisecond,
			protocolType:     rec.ProtocolType,
			protocols:        []Protocol{{Name: rec.Protocol, Metadata: mr.Metadata}},
			assignment:       mr.Assignment,
			synced:           true,
			lastHeartbeat:    now,
		}
		g.mu.members[m.id] = m
		if m.instanceID != "" {
			g.mu.static[m.instanceID] = m.id
		}
		g.scheduleSessionLocked(m, m.sessionTimeout)
	}
	if g.mu.members[g.mu.leader] == nil {
		g.mu.leader = g.firstMemberLocked()
	}
	return g
}

// unload fails every waiter with ErrNotCoordinator and stops all timers:
// another broker (or a later term) owns the group now.
func (g *group) unload() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mu.unloaded = true
	g.unloaded.Store(true)
	g.stopAllLocked()
	for _, m := range g.mu.members {
		g.failWaitersLocked(m, ErrNotCoordinator)
	}
}

// stopTimersLocked invalidates and stops the join- and sync-phase timers.
func (g *group) stopTimersLocked() {
	g.mu.seq++
	if g.mu.joinTimer != nil {
		g.mu.joinTimer.Stop()
		g.mu.joinTimer = nil
	}
	if g.mu.syncTimer != nil {
		g.mu.syncTimer.Stop()
		g.mu.syncTimer = nil
	}
}

// stopAllLocked also stops the session and pending-member timers: the group
// is gone from this broker (unloaded or deleted).
func (g *group) stopAllLocked() {
	g.stopTimersLocked()
	for id, t := range g.mu.pending {
		t.Stop()
		delete(g.mu.pending, id)
	}
	for _, m := range g.mu.members {
		if m.timer != nil {
			m.timer.Stop()
		}
	}
	g.stopConsumerTimersLocked()
}

func (g *group) failWaitersLocked(m *member, err error) {
	if m.joinC != nil {
		m.joinC <- joinOutcome{err: err}
		m.joinC = nil
	}
	if m.syncC != nil {
		m.syncC <- syncOutcome{err: err}
		m.syncC = nil
	}
}

// sortedMembersLocked returns the members ordered by member ID, the order
// used in JoinGroup leader responses, DescribeGroups and stored records.
func (g *group) sortedMembersLocked() []*member {
	ms := make([]*member, 0, len(g.mu.members))
	for _, m := range g.mu.members {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].id < ms[j].id })
	return ms
}

func (g *group) firstMemberLocked() string {
	best := ""
	for id := range g.mu.members {
		if best == "" || id < best {
			best = id
		}
	}
	return best
}

// rebalanceTimeoutLocked is the largest rebalance timeout of the members,
// as in Kafka.
func (g *group) rebalanceTimeoutLocked() time.Duration {
	var d time.Duration
	for _, m := range g.mu.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// scheduleSessionLocked (re)arms a member's session expiry after d.
func (g *group) scheduleSessionLocked(m *member, d time.Duration) {
	if m.timer != nil {
		m.timer.Stop()
	}
	m.timer = time.AfterFunc(d, func() { g.sessionExpired(m) })
}

// sessionExpired removes a member that sent nothing within its session
// timeout. Members waiting in JoinGroup or SyncGroup are kept: the
// rebalance timeout bounds them instead.
func (g *group) sessionExpired(m *member) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mu.unloaded || g.mu.state == Dead || g.mu.members[m.id] != m {
		return
	}
	if m.joinC != nil || m.syncC != nil {
		g.scheduleSessionLocked(m, m.sessionTimeout)
		return
	}
	if left := m.sessionTimeout - time.Since(m.lastHeartbeat); left > 0 {
		g.scheduleSessionLocked(m, left)
		return
	}
	g.s.log.Info("group member session expired", "group", g.id, "member", m.id, "session_timeout", m.sessionTimeout)
	g.removeMemberAndUpdateLocked(m)
}

// removeMemberLocked drops a member, failing its waiting calls with
// ErrUnknownMember, and moves leadership if needed.
func (g *group) removeMemberLocked(m *member) {
	g.failWaitersLocked(m, ErrUnknownMember)
	if m.timer != nil {
		m.timer.Stop()
	}
	delete(g.mu.members, m.id)
	if m.instanceID != "" && g.mu.static[m.instanceID] == m.id {
		delete(g.mu.static, m.instanceID)
	}
	if g.mu.leader == m.id {
		g.mu.leader = ""
		for _, o := range g.sortedMembersLocked() {
			if o.joinC != nil {
				g.mu.leader = o.id
				break
			}
		}
		if g.mu.leader == "" {
			g.mu.leader = g.firstMemberLocked()
		}
	}
}

// removeMemberAndUpdateLocked removes a member (it left, was fenced or
// expired) and moves the group on: a settled group rebalances, a group in
// its join phase may now be complete.
func (g *group) removeMemberAndUpdateLocked(m *member) {
	g.removeMemberLocked(m)
	switch g.mu.state {
	case Stable, CompletingRebalance:
		g.prepareRebalanceLocked("member " + m.id + " left")
	case PreparingRebalance:
		g.tryCompleteJoinLocked()
	}
}

// prepareRebalanceLocked starts a join phase. The first rebalance of an
// empty group waits InitialRebalanceDelay for more members; any other
// waits for every member to rejoin, at most the rebalance timeout.
func (g *group) prepareRebalanceLocked(reason string) {
	if g.mu.state == CompletingRebalance {
		for _, m := range g.mu.members {
			if m.syncC != nil {
				m.syncC <- syncOutcome{err: ErrRebalanceInProgress}
				m.syncC = nil
			}
		}
		g.mu.storing, g.mu.assignments = false, nil
	}
	wasEmpty := g.mu.state == Empty
	g.stopTimersLocked()
	g.mu.state = PreparingRebalance
	seq := g.mu.seq
	rt := g.rebalanceTimeoutLocked()
	g.s.log.Info("preparing group rebalance", "group", g.id, "generation", g.mu.generation, "members", len(g.mu.members), "reason", reason)
	if wasEmpty {
		delay := min(g.s.cfg.InitialRebalanceDelay, rt)
		g.mu.initialJoin, g.mu.newMemberAdded, g.mu.initialRemaining = true, false, rt-delay
		g.mu.joinTimer = time.AfterFunc(delay, func() { g.joinTimeout(seq) })
		return
	}
	g.mu.initialJoin = false
	g.mu.joinTimer = time.AfterFunc(rt, func() { g.joinTimeout(seq) })
	g.tryCompleteJoinLocked()
}

// joinTimeout ends a join phase: the initial delay (possibly extended
// because members kept arriving) or the rebalance timeout.
func (g *group) joinTimeout(seq uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mu.unloaded || seq != g.mu.seq || g.mu.state != PreparingRebalance {
		return
	}
	if g.mu.initialJoin && g.mu.newMemberAdded && g.mu.initialRemaining > 0 && g.s.cfg.InitialRebalanceDelay > 0 {
		d := min(g.s.cfg.InitialRebalanceDelay, g.mu.initialRemaining)
		g.mu.newMemberAdded = false
		g.mu.initialRemaining -= d
		g.mu.joinTimer = time.AfterFunc(d, func() { g.joinTimeout(seq) })
		return
	}
	g.completeJoinLocked()
}

// tryCompleteJoinLocked ends the join phase early once every member has
// rejoined and no handed-out member ID is still expected.
func (g *group) tryCompleteJoinLocked() {
	if g.mu.state != PreparingRebalance || g.mu.initialJoin || len(g.mu.pending) > 0 {
		return
	}
	for _, m := range g.mu.members {
		if m.joinC == nil {
			return
		}
	}
	g.completeJoinLocked()
}

// completeJoinLocked starts the next generation with the members that
// rejoined: it selects the protocol, answers every JoinGroup (the leader
// gets the member list) and waits for the leader's SyncGroup. A group left
// without members becomes Empty, and that is stored.
func (g *group) completeJoinLocked() {
	g.stopTimersLocked()
	for _, m := range g.sortedMembersLocked() {
		if m.joinC == nil {
			g.s.log.Info("group member did not rejoin in time, removed", "group", g.id, "member", m.id)
			g.removeMemberLocked(m)
		}
	}
	g.mu.initialJoin = false
	g.mu.generation++
	if len(g.mu.members) == 0 {
		g.mu.state, g.mu.protocol, g.mu.leader = Empty, "", ""
		g.s.log.Info("group is empty", "group", g.id, "generation", g.mu.generation)
		g.storeLocked(nil, nil)
		return
	}
	if g.mu.members[g.mu.leader] == nil {
		g.mu.leader = g.firstMemberLocked()
	}
	g.mu.protocol = g.selectProtocolLocked()
	g.mu.state = CompletingRebalance
	now := time.Now()
	for _, m := range g.mu.members {
		m.synced = false
		m.lastHeartbeat = now
		m.joinC <- joinOutcome{res: g.joinResultLocked(m)}
		m.joinC = nil
	}
	seq := g.mu.seq
	g.mu.syncTimer = time.AfterFunc(g.rebalanceTimeoutLocked(), func() { g.syncTimeout(seq) })
	g.s.log.Info("group join phase complete", "group", g.id, "generation", g.mu.generation, "protocol", g.mu.protocol,
		"leader", g.mu.leader, "members", len(g.mu.members))
}

// syncTimeout removes the members that did not send SyncGroup within the
// rebalance timeout after the join phase (even if the leader's assignment
// already made the group Stable, as in Kafka), and rebalances.
func (g *group) syncTimeout(seq uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mu.unloaded || seq != g.mu.seq || (g.mu.state != CompletingRebalance && g.mu.state != Stable) {
		return
	}
	removed := 0
	for _, m := range g.sortedMembersLocked() {
		if !m.synced {
			g.removeMemberLocked(m)
			removed++
		}
	}
	if removed > 0 {
		g.prepareRebalanceLocked(fmt.Sprintf("%d members did not sync in time", removed))
	}
}

// selectProtocolLocked picks the protocol all members support that most
// members prefer (ties go to the leader's order).
func (g *group) selectProtocolLocked() string {
	candidates := g.candidatesLocked()
	order := g.mu.members[g.mu.leader].protocols
	votes := map[string]int{}
	for _, m := range g.mu.members {
		for _, p := range m.protocols {
			if candidates[p.Name] {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	for _, p := range order {
		if candidates[p.Name] && votes[p.Name] > bestVotes {
			best, bestVotes = p.Name, votes[p.Name]
		}
	}
	return best
}

// candidatesLocked returns the protocol names every member supports.
func (g *group) candidatesLocked() map[string]bool {
	count := map[string]int{}
	for _, m := range g.mu.members {
		seen := map[string]bool{}
		for _, p := range m.protocols {
			if !seen[p.Name] {
				seen[p.Name] = true
				count[p.Name]++
			}
		}
	}
	out := map[string]bool{}
	for name, n := range count {
		if n == len(g.mu.members) {
			out[name] = true
		}
	}
	return out
}

// supportsLocked reports whether a member with these protocols may join:
// the first member needs a protocol type and protocols; later ones the
// group's protocol type and a protocol every member supports.
func (g *group) supportsLocked(protocolType string, protocols []Protocol) bool {
	if len(g.mu.members) == 0 {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.mu.protocolType {
		return false
	}
	candidates := g.candidatesLocked()
	for _, p := range protocols {
		if candidates[p.Name] {
			return true
		}
	}
	return false
}

func metadataFor(m *member, protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

func (g *group) joinResultLocked(m *member) JoinResult {
	r := JoinResult{
		Generation: g.mu.generation, ProtocolType: g.mu.protocolType, Protocol: g.mu.protocol,
		LeaderID: g.mu.leader, MemberID: m.id,
	}
	if m.id == g.mu.leader {
		for _, o := range g.sortedMembersLocked() {
			r.Members = append(r.Members, JoinMember{MemberID: o.id, InstanceID: o.instanceID, Metadata: metadataFor(o, g.mu.protocol)})
		}
	}
	return r
}

func sameProtocols(a, b []Protocol) bool {
	return slices.EqualFunc(a, b, func(x, y Protocol) bool {
		return x.Name == y.Name && bytes.Equal(x.Metadata, y.Metadata)
	})
}

func newMemberID(clientID string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return clientID + "-" + hex.EncodeToString(b[:4]) + "-" + hex.EncodeToString(b[4:6]) + "-" +
		hex.EncodeToString(b[6:8]) + "-" + hex.EncodeToString(b[8:10]) + "-" + hex.EncodeToString(b[10:])
}

// JoinGroup runs the classic protocol's join: it returns when the join
// phase ends (or at once for MEMBER_ID_REQUIRED and for members whose
// rejoin changes nothing), or with ctx's error when ctx ends first.
func (s *Service) JoinGroup(ctx context.Context, req JoinRequest) (JoinResult, error) {
	switch {
	case req.Group == "":
		return JoinResult{}, ErrInvalidGroupID
	case req.SessionTimeout < s.cfg.MinSessionTimeout || req.SessionTimeout > s.cfg.MaxSessionTimeout:
		return JoinResult{}, fmt.Errorf("%w: %s is outside [%s, %s]", ErrInvalidSessionTimeout,
			req.SessionTimeout, s.cfg.MinSessionTimeout, s.cfg.MaxSessionTimeout)
	}
	if req.RebalanceTimeout <= 0 {
		req.RebalanceTimeout = req.SessionTimeout
	}
	g, err := s.member(req.Group, req.MemberID == "")
	if err != nil {
		return JoinResult{}, err
	}
	g.mu.Lock()
	c, res, err := g.joinLocked(req)
	g.mu.Unlock()
	if c == nil {
		return res, err
	}
	return awaitOutcome(ctx, s.loop.Done(), c)
}

// joinLocked handles a JoinGroup; a non-nil channel means "wait for it".
func (g *group) joinLocked(req JoinRequest) (chan joinOutcome, JoinResult, error) {
	switch {
	case g.mu.unloaded:
		return nil, JoinResult{}, ErrNotCoordinator
	case g.mu.state == Dead:
		// Deleted while we looked it up: the client retries and meets a
		// fresh group.
		return nil, JoinResult{}, ErrCoordinatorNotAvailable
	case g.mu.consumer != nil && len(g.mu.consumer.members) > 0 && g.s.mixedGroups():
		// KIP-848's mixed groups (mixed.go).
		return g.joinClassicToConsumerLocked(req)
	case g.mu.consumer != nil && len(g.mu.consumer.members) > 0:
		return nil, JoinResult{}, fmt.Errorf("%w: group %s is a consumer group (KIP-848) with members, and not every broker can store classic members in it yet", ErrInconsistentProtocol, g.id)
	case g.mu.consumer != nil:
		// An empty consumer group becomes a classic one.
		g.stopConsumerTimersLocked()
		g.mu.consumer, g.mu.protocolType, g.mu.protocol = nil, "", ""
	}
	if !g.supportsLocked(req.ProtocolType, req.Protocols) {
		return nil, JoinResult{}, ErrInconsistentProtocol
	}
	if req.MemberID == "" {
		id := newMemberID(req.ClientID)
		if _, known := g.mu.static[req.InstanceID]; (req.InstanceID == "" || !known) && full(len(g.mu.members)+len(g.mu.pending), g.s.cfg.MaxSize) {
			return nil, JoinResult{}, fmt.Errorf("%w: group %s has %d members, the most it may have (kafka.group-max-size)", ErrGroupMaxSizeReached, g.id, g.s.cfg.MaxSize)
		}
		if req.InstanceID != "" {
			return g.staticJoinLocked(id, req)
		}
		if req.RequireKnownMemberID {
			// KIP-394: the member must rejoin with this ID within its
			// session timeout; until then the join phase waits for it.
			g.mu.pending[id] = time.AfterFunc(req.SessionTimeout, func() { g.pendingExpired(id) })
			return nil, JoinResult{MemberID: id, Generation: -1}, ErrMemberIDRequired
		}
		return g.addMemberLocked(id, req), JoinResult{}, nil
	}
	if t, ok := g.mu.pending[req.MemberID]; ok && req.InstanceID == "" {
		t.Stop()
		delete(g.mu.pending, req.MemberID)
		return g.addMemberLocked(req.MemberID, req), JoinResult{}, nil
	}
	if err := g.checkInstanceLocked(req.MemberID, req.InstanceID); err != nil {
		return nil, JoinResult{}, err
	}
	m := g.mu.members[req.MemberID]
	if m == nil {
		return nil, JoinResult{}, ErrUnknownMember
	}
	switch g.mu.state {
	case PreparingRebalance:
		c := g.updateMemberLocked(m, req)
		g.tryCompleteJoinLocked()
		return c, JoinResult{}, nil
	case CompletingRebalance:
		if sameProtocols(m.protocols, req.Protocols) {
			// A retried join of this generation: answer it again.
			return nil, g.joinResultLocked(m), nil
		}
		c := g.updateMemberLocked(m, req)
		g.prepareRebalanceLocked("member " + m.id + " rejoined with new protocols")
		return c, JoinResult{}, nil
	case Stable:
		if m.id == g.mu.leader || !sameProtocols(m.protocols, req.Protocols) {
			c := g.updateMemberLocked(m, req)
			g.prepareRebalanceLocked("member " + m.id + " rejoined")
			return c, JoinResult{}, nil
		}
		// A follower rejoining without changes gets the current
		// generation back, without a rebalance.
		m.lastHeartbeat = time.Now()
		return nil, g.joinResultLocked(m), nil
	default:
		return nil, JoinResult{}, ErrUnknownMember
	}
}

// checkInstanceLocked fences a static member whose instance ID is now
// held by another member ID (KIP-345).
func (g *group) checkInstanceLocked(memberID, instanceID string) error {
	if instanceID == "" {
		return nil
	}
	cur, ok := g.mu.static[instanceID]
	switch {
	case !ok:
		return ErrUnknownMember
	case cur != memberID:
		return ErrFencedInstanceID
	}
	return nil
}

func (g *group) pendingExpired(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.mu.pending[id]; !ok || g.mu.unloaded {
		return
	}
	delete(g.mu.pending, id)
	g.tryCompleteJoinLocked()
}

// addMemberLocked adds a new member awaiting the join phase and starts or
// joins a rebalance.
func (g *group) addMemberLocked(id string, req JoinRequest) chan joinOutcome {
	if len(g.mu.members) == 0 {
		g.mu.protocolType = req.ProtocolType
	}
	m := &member{id: id, instanceID: req.InstanceID}
	g.mu.members[id] = m
	if m.instanceID != "" {
		g.mu.static[m.instanceID] = id
	}
	if g.mu.leader == "" {
		g.mu.leader = id
	}
	c := g.updateMemberLocked(m, req)
	g.scheduleSessionLocked(m, m.sessionTimeout)
	if g.mu.state == PreparingRebalance {
		if g.mu.initialJoin {
			g.mu.newMemberAdded = true
		}
		g.tryCompleteJoinLocked()
	} else {
		g.prepareRebalanceLocked("member " + id + " joined")
	}
	return c
}

// updateMemberLocked records a member's (re)join and returns the channel
// its JoinGroup waits on.
func (g *group) updateMemberLocked(m *member, req JoinRequest) chan joinOutcome {
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	m.sessionTimeout, m.rebalanceTimeout = req.SessionTimeout, req.RebalanceTimeout
	m.protocolType, m.protocols = req.ProtocolType, req.Protocols
	m.lastHeartbeat = time.Now()
	if m.joinC != nil {
		// The client gave up on its previous JoinGroup and sent another.
		m.joinC <- joinOutcome{err: ErrRebalanceInProgress}
	}
	m.joinC = make(chan joinOutcome, 1)
	return m.joinC
}

// staticJoinLocked handles a join without member ID but with an instance
// ID: a known instance replaces its old member ID, keeping its assignment;
// a Stable group does not rebalance unless the selected protocol would
// change (KIP-345).
func (g *group) staticJoinLocked(id string, req JoinRequest) (chan joinOutcome, JoinResult, error) {
	oldID, known := g.mu.static[req.InstanceID]
	old := g.mu.members[oldID]
	if !known || old == nil {
		return g.addMemberLocked(id, req), JoinResult{}, nil
	}
	prevLeader := g.mu.leader
	m := &member{id: id, instanceID: req.InstanceID, assignment: old.assignment, synced: old.synced}
	g.failWaitersLocked(old, ErrFencedInstanceID)
	if old.timer != nil {
		old.timer.Stop()
	}
	delete(g.mu.members, oldID)
	g.mu.members[id] = m
	g.mu.static[req.InstanceID] = id
	if g.mu.leader == oldID {
		g.mu.leader = id
	}
	c := g.updateMemberLocked(m, req)
	g.scheduleSessionLocked(m, m.sessionTimeout)
	g.s.log.Info("static group member replaced", "group", g.id, "instance", req.InstanceID, "old_member", oldID, "member", id)
	switch g.mu.state {
	case Stable:
		if g.selectProtocolLocked() != g.mu.protocol {
			g.prepareRebalanceLocked("static member " + req.InstanceID + " rejoined with other protocols")
			return c, JoinResult{}, nil
		}
		gen := g.mu.generation
		// The old leader ID is returned so the new member does not
		// believe it leads and reassign a Stable group.
		res := JoinResult{Generation: gen, ProtocolType: g.mu.protocolType, Protocol: g.mu.protocol, LeaderID: prevLeader, MemberID: id}
		g.storeLocked(nil, func(err error) {
			if g.mu.members[id] != m || m.joinC != c || g.mu.state != Stable || g.mu.generation != gen {
				// A rebalance began meanwhile: the join phase answers.
				return
			}
			m.joinC = nil
			c <- joinOutcome{res: res, err: err}
		})
		return c, JoinResult{}, nil
	case CompletingRebalance:
		g.prepareRebalanceLocked("static member " + req.InstanceID + " rejoined during sync")
	case PreparingRebalance:
		g.tryCompleteJoinLocked()
	}
	return c, JoinResult{}, nil
}

// storeLocked commits the group's current generation (with assignments
// when given, else the members' current ones) through Raft in the
// background; done, if set, runs afterwards with the group locked, unless
// the shard was unloaded meanwhile.
func (g *group) storeLocked(assignments map[string][]byte, done func(err error)) {
	rec := &raftsm.GroupRecord{
		Group: g.id, ProtocolType: g.mu.protocolType, Protocol: g.mu.protocol,
		Generation: g.mu.generation, Leader: g.mu.leader, Timestamp: time.Now().UnixMilli(),
	}
	for _, m := range g.sortedMembersLocked() {
		a := m.assignment
		if assignments != nil {
			a = assignments[m.id]
		}
		rec.Members = append(rec.Members, raftsm.GroupMemberRecord{
			MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost,
			SessionTimeoutMs:   int32(m.sessionTimeout / time.Millisecond),
			RebalanceTimeoutMs: int32(m.rebalanceTimeout / time.Millisecond),
			Metadata:           metadataFor(m, g.mu.protocol), Assignment: a,
		})
	}
	g.proposeRecordLocked(rec, func(err error) {
		if done == nil {
			return
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if !g.mu.unloaded {
			done(err)
		}
	})
}

// proposeRecordLocked commits a group record through Raft in the
// background, after the group's previous record; after runs with the
// outcome (not holding the group's lock).
func (g *group) proposeRecordLocked(rec *raftsm.GroupRecord, after func(err error)) {
	cmd := raftsm.EncodeStoreGroup(rec)
	s := g.s
	prev, stored := g.mu.lastStore, make(chan struct{})
	g.mu.lastStore = stored
	s.loop.Go(func() {
		if prev != nil {
			<-prev
		}
		if g.unloaded.Load() {
			// A new coordinator term loaded the group from what was
			// stored before: a record of this term's object applied now
			// would put the stored group ahead of the loaded one.
			close(stored)
			after(fmt.Errorf("%w: group %q was unloaded before its change was stored", ErrNotCoordinator, g.id))
			return
		}
		st, _, err := s.propose(s.loop.Context(), g.sh, cmd)
		close(stored)
		switch {
		case err == nil && st == raftsm.StatusStaleGeneration:
			// The stored group moved past this object's (a record of an
			// earlier term's object applied after this one loaded): drop
			// this object, so the group is loaded again from what is
			// stored; its callers retry there.
			err = fmt.Errorf("%w: a newer generation of group %q is stored", ErrNotCoordinator, g.id)
			s.forget(g.sh, g)
			g.unload()
		case err == nil && st != raftsm.StatusOK:
			err = fmt.Errorf("%w: storing group %q: %s", ErrCoordinatorNotAvailable, g.id, st)
		}
		if err != nil {
			s.log.Warn("cannot store group metadata", "group", g.id, "generation", rec.Generation, "err", err)
		}
		after(err)
	})
}

// SyncGroup runs the classic protocol's sync: the leader's call carries
// the assignments, which are committed through Raft; every member's call
// returns its own assignment once that is done.
func (s *Service) SyncGroup(ctx context.Context, req SyncRequest) (SyncResult, error) {
	if req.Group == "" {
		return SyncResult{}, ErrInvalidGroupID
	}
	g, err := s.member(req.Group, false)
	if err != nil {
		return SyncResult{}, err
	}
	g.mu.Lock()
	c, res, err := g.syncLocked(req)
	g.mu.Unlock()
	if c == nil {
		return res, err
	}
	return awaitOutcome(ctx, s.loop.Done(), c)
}

func (g *group) syncLocked(req SyncRequest) (chan syncOutcome, SyncResult, error) {
	switch {
	case g.mu.unloaded:
		return nil, SyncResult{}, ErrNotCoordinator
	case g.mu.state == Dead:
		return nil, SyncResult{}, ErrCoordinatorNotAvailable
	case g.mu.consumer != nil:
		return g.syncClassicToConsumerLocked(req)
	}
	if err := g.checkInstanceLocked(req.MemberID, req.InstanceID); err != nil {
		return nil, SyncResult{}, err
	}
	m := g.mu.members[req.MemberID]
	switch {
	case m == nil:
		return nil, SyncResult{}, ErrUnknownMember
	case req.Generation != g.mu.generation:
		return nil, SyncResult{}, ErrIllegalGeneration
	case req.ProtocolType != nil && *req.ProtocolType != g.mu.protocolType,
		req.Protocol != nil && *req.Protocol != g.mu.protocol:
		return nil, SyncResult{}, ErrInconsistentProtocol
	}
	m.lastHeartbeat = time.Now()
	switch g.mu.state {
	case PreparingRebalance:
		return nil, SyncResult{}, ErrRebalanceInProgress
	case Stable:
		m.synced = true
		return nil, g.syncResultLocked(m), nil
	case CompletingRebalance:
	default:
		return nil, SyncResult{}, ErrUnknownMember
	}
	m.synced = true
	if m.syncC != nil {
		m.syncC <- syncOutcome{err: ErrRebalanceInProgress}
	}
	m.syncC = make(chan syncOutcome, 1)
	c := m.syncC
	if m.id == g.mu.leader && !g.mu.storing {
		g.mu.storing = true
		g.mu.assignments = make(map[string][]byte, len(g.mu.members))
		for id := range g.mu.members {
			// Members the leader left out get an empty assignment;
			// unknown IDs in the leader's map are ignored.
			a := req.Assignments[id]
			if a == nil {
				a = []byte{}
			}
			g.mu.assignments[id] = a
		}
		gen := g.mu.generation
		g.storeLocked(g.mu.assignments, func(err error) { g.assignedLocked(gen, err) })
	}
	return c, SyncResult{}, nil
}

// assignedLocked finishes a generation once the leader's assignment is
// stored: the group is Stable and every waiting SyncGroup gets its part.
func (g *group) assignedLocked(gen int32, err error) {
	if g.mu.generation != gen || g.mu.state != CompletingRebalance || !g.mu.storing {
		return
	}
	g.mu.storing = false
	if err != nil {
		for _, m := range g.mu.members {
			if m.syncC != nil {
				m.syncC <- syncOutcome{err: err}
				m.syncC = nil
			}
		}
		g.mu.assignments = nil
		g.prepareRebalanceLocked("storing the assignment failed")
		return
	}
	allSynced := true
	for id, m := range g.mu.members {
		m.assignment = g.mu.assignments[id]
		allSynced = allSynced && m.synced
	}
	g.mu.assignments = nil
	if allSynced && g.mu.syncTimer != nil {
		// Otherwise it still removes the members that never sync.
		g.mu.syncTimer.Stop()
		g.mu.syncTimer = nil
	}
	g.mu.state = Stable
	for _, m := range g.mu.members {
		if m.syncC != nil {
			m.syncC <- syncOutcome{res: g.syncResultLocked(m)}
			m.syncC = nil
		}
	}
	g.s.log.Info("group stable", "group", g.id, "generation", gen, "members", len(g.mu.members))
}

func (g *group) syncResultLocked(m *member) SyncResult {
	return SyncResult{ProtocolType: g.mu.protocolType, Protocol: g.mu.protocol, Assignment: m.assignment}
}

// Heartbeat keeps a member's session alive and tells it whether a
// rebalance is under way.
func (s *Service) Heartbeat(_ context.Context, req HeartbeatRequest) error {
	if req.Group == "" {
		return ErrInvalidGroupID
	}
	g, err := s.member(req.Group, false)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.mu.unloaded:
		return ErrNotCoordinator
	case g.mu.state == Dead:
		return ErrCoordinatorNotAvailable
	case g.mu.consumer != nil:
		return g.heartbeatClassicToConsumerLocked(req)
	case g.mu.state == Empty:
		return ErrUnknownMember
	}
	if err := g.checkInstanceLocked(req.MemberID, req.InstanceID); err != nil {
		return err
	}
	m := g.mu.members[req.MemberID]
	switch {
	case m == nil:
		return ErrUnknownMember
	case req.Generation != g.mu.generation:
		return ErrIllegalGeneration
	}
	m.lastHeartbeat = time.Now()
	if g.mu.state == PreparingRebalance {
		return ErrRebalanceInProgress
	}
	return nil
}

// LeaveGroup removes members (by member ID, or by instance ID for static
// members) and rebalances the group. It returns one error per member.
func (s *Service) LeaveGroup(ctx context.Context, groupID string, members []LeaveMember) ([]error, error) {
	if groupID == "" {
		return nil, ErrInvalidGroupID
	}
	sh, err := s.route(groupID)
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(members))
	g, err := s.lookup(sh, groupID, false)
	switch {
	case err != nil:
		return nil, err
	case g == nil:
		for i := range errs {
			errs[i] = ErrUnknownMember
		}
		return errs, nil
	}
	g.mu.Lock()
	switch {
	case g.mu.unloaded:
		g.mu.Unlock()
		return nil, ErrNotCoordinator
	case g.mu.state == Dead:
		g.mu.Unlock()
		return nil, ErrCoordinatorNotAvailable
	case g.mu.consumer != nil:
		// Classic members of a consumer group (mixed.go): answered once
		// the group without them is stored.
		left := 0
		for i, lm := range members {
			if errs[i] = g.leaveClassicToConsumerLocked(lm); errs[i] == nil {
				left++
			}
		}
		var stored <-chan error
		if left > 0 {
			stored = g.rebalanceConsumerLocked()
		}
		g.mu.Unlock()
		if stored != nil {
			select {
			case err := <-stored:
				if err != nil {
					return nil, err
				}
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return errs, nil
	}
	defer g.mu.Unlock()
	for i, lm := range members {
		errs[i] = g.leaveLocked(lm)
	}
	return errs, nil
}

func (g *group) leaveLocked(lm LeaveMember) error {
	id := lm.MemberID
	if lm.InstanceID != "" {
		cur, ok := g.mu.static[lm.InstanceID]
		switch {
		case !ok:
			return ErrUnknownMember
		case id != "" && id != cur:
			return ErrFencedInstanceID
		}
		id = cur
	}
	if t, ok := g.mu.pending[id]; ok {
		t.Stop()
		delete(g.mu.pending, id)
		g.tryCompleteJoinLocked()
		return nil
	}
	m := g.mu.members[id]
	if m == nil {
		return ErrUnknownMember
	}
	g.s.log.Info("group member left", "group", g.id, "member", id)
	g.removeMemberAndUpdateLocked(m)
	return nil
}

// validateCommitLocked applies Kafka's checks to an OffsetCommit.
func (g *group) validateCommitLocked(req CommitRequest) error {
	switch {
	case g.mu.unloaded:
		return ErrNotCoordinator
	case g.mu.state == Dead:
		return ErrCoordinatorNotAvailable
	case req.Generation < 0 && req.MemberID == "" && g.mu.state == Empty:
		return nil // a simple consumer storing offsets
	case g.mu.consumer != nil:
		return g.validateConsumerCommitLocked(req.MemberID, req.Generation, req.Version < 9, ErrStaleMemberEpoch, commitPartitions(req.Offsets))
	}
	if err := g.checkInstanceLocked(req.MemberID, req.InstanceID); err != nil {
		return err
	}
	m := g.mu.members[req.MemberID]
	switch {
	case m == nil:
		return ErrUnknownMember
	case req.Generation != g.mu.generation:
		return ErrIllegalGeneration
	case g.mu.state == CompletingRebalance:
		// The member has its join response but not its assignment.
		return ErrRebalanceInProgress
	}
	// Stable, or PreparingRebalance: members commit what they processed
	// before they rejoin (eager protocols revoke everything first).
	m.lastHeartbeat = time.Now()
	return nil
}

func (g *group) describeLocked() Description {
	d := Description{Group: g.id, State: g.mu.state, ProtocolType: g.mu.protocolType}
	stable := g.mu.state == Stable
	if stable {
		d.Protocol = g.mu.protocol
	}
	for _, m := range g.sortedMembersLocked() {
		md := MemberDescription{MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost}
		if stable {
			md.Metadata, md.Assignment = metadataFor(m, g.mu.protocol), m.assignment
		}
		d.Members = append(d.Members, md)
	}
	return d
}

// subscribedTopicsLocked returns the topics the members of a "consumer"
// group subscribe to, from their protocol metadata; known is false when
// some metadata does not parse (then every topic counts as subscribed).
func (g *group) subscribedTopicsLocked() (topics map[string]bool, known bool) {
	topics = map[string]bool{}
	for _, m := range g.mu.members {
		for _, p := range m.protocols {
			md, err := subscription(p.Metadata)
			if err != nil {
				return nil, false
			}
			for _, t := range md.Topics {
				topics[t] = true
			}
		}
	}
	return topics, true
}

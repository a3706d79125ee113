package group

// KIP-848 consumer groups: the members heartbeat (ConsumerGroupHeartbeat)
// and the coordinator assigns. Each heartbeat may change the group: a
// member joins, leaves or changes its subscription, or the subscribed
// topics change (the group epoch rises and the target assignment is
// computed again, core/group/assign); the member then moves towards its
// target (assign.Reconcile). Every change is stored through Raft, as the
// whole group record (raftsm.ConsumerGroup), before the heartbeat is
// answered, so a new coordinator carries on with the same epochs and
// assignments; heartbeats that change nothing write nothing.

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/group/assign"
	"github.com/chronik-go/chronik/raftsm"
)

// ConsumerHeartbeat is a ConsumerGroupHeartbeat. Pointer and nil-slice
// fields are "unchanged since the last heartbeat" when nil.
type ConsumerHeartbeat struct {
	Group    string
	MemberID string
	// MemberEpoch is 0 to join, -1 to leave, -2 for a static member to
	// leave for now (its assignment is kept until its session expires),
	// else the member's current epoch.
	MemberEpoch int32
	// GeneratedMemberID (version 0) lets a joining member leave MemberID
	// empty for the coordinator to pick; from version 1 the member picks.
	GeneratedMemberID bool
	InstanceID        *string
	RackID            *string
	// RebalanceTimeout is how long the member may take to revoke
	// partitions; negative when unchanged.
	RebalanceTimeout     time.Duration
	SubscribedTopicNames []string
	SubscribedTopicRegex *string
	ServerAssignor       *string
	// Owned are the partitions the member owns (nil: unchanged).
	Owned      assign.Partitions
	ClientID   string
	ClientHost string
}

// ConsumerHeartbeatResult answers a ConsumerHeartbeat.
type ConsumerHeartbeatResult struct {
	MemberID          string
	MemberEpoch       int32
	HeartbeatInterval time.Duration
	// Assignment is the member's assignment when the member should (re)read
	// it; nil otherwise.
	Assignment assign.Partitions
}

// TopicMeta is one topic as consumer groups see it: its name, ID and
// partition count.
type TopicMeta = cluster.TopicSize

// consumerGroup is the consumer-protocol state of a group (g.mu.consumer);
// the group epoch is g.mu.generation and the assignor of the current
// target g.mu.protocol.
type consumerGroup struct {
	assignmentEpoch int32
	topicsHash      uint64
	members         map[string]*consumerMember
	// owners maps every partition some member holds (assigned or being
	// revoked) to that member.
	owners map[topicPartitionID]string
}

type topicPartitionID struct {
	topic assign.TopicID
	part  int32
}

// consumerMember is one member of a consumer group.
type consumerMember struct {
	id, instanceID, rackID string
	clientID, clientHost   string
	rebalanceTimeout       time.Duration
	names                  []string       // subscribed topic names, sorted
	regex                  string         // subscribed topic regex, "" for none
	re                     *regexp.Regexp // regex compiled (setRegex), nil for none
	serverAssignor         string
	cur                    assign.Current
	target                 assign.Partitions
	// leaving marks a static member that left with epoch -2: it keeps its
	// partitions until its session expires or its instance rejoins.
	leaving bool
	// classic is set for a member on the classic protocol (mixed.go).
	classic *classicMember

	session     *time.Timer
	revokeTimer *time.Timer // runs while cur.State is UnrevokedPartitions
	revokeEpoch int32       // the epoch revokeTimer was started at
}

// ConsumerProtocol reports whether consumer groups are served
// (Config.ConsumerGroups).
func (s *Service) ConsumerProtocol() bool {
	return s.cfg.ConsumerGroups == nil || s.cfg.ConsumerGroups()
}

// ConsumerHeartbeat handles a ConsumerGroupHeartbeat.
func (s *Service) ConsumerHeartbeat(ctx context.Context, req ConsumerHeartbeat) (ConsumerHeartbeatResult, error) {
	if err := validateConsumerHeartbeat(&req); err != nil {
		return ConsumerHeartbeatResult{}, err
	}
	sh, err := s.route(req.Group)
	if err != nil {
		return ConsumerHeartbeatResult{}, err
	}
	g, err := s.lookup(sh, req.Group, req.MemberEpoch == 0)
	switch {
	case err != nil:
		return ConsumerHeartbeatResult{}, err
	case g == nil:
		return ConsumerHeartbeatResult{}, fmt.Errorf("%w: consumer group %s not found", ErrGroupNotFound, req.Group)
	}
	g.mu.Lock()
	res, stored, err := g.consumerHeartbeatLocked(req)
	g.mu.Unlock()
	if err != nil || stored == nil {
		return res, err
	}
	select {
	case err = <-stored:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return ConsumerHeartbeatResult{}, err
	}
	return res, nil
}

// validateConsumerHeartbeat applies Kafka's request checks; a version-0
// join without member ID gets one here.
func validateConsumerHeartbeat(req *ConsumerHeartbeat) error {
	invalid := func(msg string) error { return fmt.Errorf("%w: %s", ErrInvalidRequest, msg) }
	switch {
	case req.Group == "":
		return invalid("GroupId can't be empty")
	case req.InstanceID != nil && *req.InstanceID == "":
		return invalid("InstanceId can't be empty")
	case req.RackID != nil && *req.RackID == "":
		return invalid("RackId can't be empty")
	case req.MemberEpoch < -2:
		return invalid(fmt.Sprintf("MemberEpoch %d is invalid", req.MemberEpoch))
	case req.MemberEpoch == -2 && req.InstanceID == nil:
		return invalid("InstanceId can't be null")
	case req.MemberID == "" && (!req.GeneratedMemberID || req.MemberEpoch > 0 || req.MemberEpoch == -1):
		return invalid("MemberId can't be empty")
	case req.MemberID == "" && req.MemberEpoch == 0:
		req.MemberID = newConsumerMemberID()
	}
	if req.MemberEpoch == 0 {
		switch {
		case req.RebalanceTimeout < 0:
			return invalid("RebalanceTimeoutMs must be provided in first request")
		case req.Owned == nil || req.Owned.Len() > 0:
			return invalid("TopicPartitions must be empty when (re-)joining")
		case req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil:
			return invalid("Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining")
		}
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != "" {
		if _, err := regexp.Compile(*req.SubscribedTopicRegex); err != nil {
			return fmt.Errorf("%w: SubscribedTopicRegex `%s` is not a valid regular expression: %w", ErrInvalidRegex, *req.SubscribedTopicRegex, err)
		}
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != "" {
		if _, ok := assign.Lookup(*req.ServerAssignor); !ok {
			return fmt.Errorf("%w: ServerAssignor %s is not supported. Supported assignors: %s", ErrUnsupportedAssignor, *req.ServerAssignor, strings.Join(assign.Names(), ", "))
		}
	}
	return nil
}

// newConsumerMemberID returns a random member ID as clients make them (a
// URL-safe base64 UUID).
func newConsumerMemberID() string {
	var id [16]byte
	_, _ = rand.Read(id[:])
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// consumerHeartbeatLocked applies a heartbeat. A non-nil channel delivers
// the outcome of storing the change; answer only after it.
func (g *group) consumerHeartbeatLocked(req ConsumerHeartbeat) (ConsumerHeartbeatResult, <-chan error, error) {
	var none ConsumerHeartbeatResult
	switch {
	case g.mu.unloaded:
		return none, nil, ErrNotCoordinator
	case g.mu.state == Dead:
		return none, nil, ErrCoordinatorNotAvailable
	}
	cg := g.mu.consumer
	if cg == nil {
		switch {
		case req.MemberEpoch != 0:
			return none, nil, fmt.Errorf("%w: group %s is not a consumer group", ErrGroupNotFound, g.id)
		case len(g.mu.members) == 0 && len(g.mu.pending) == 0 && g.mu.state == Empty:
			g.becomeConsumerLocked()
		case len(g.mu.members) > 0 && g.canUpgradeLocked():
			g.upgradeLocked()
		default:
			return none, nil, fmt.Errorf("%w: group %s is not a consumer group", ErrGroupNotFound, g.id)
		}
		cg = g.mu.consumer
	}
	if req.MemberEpoch < 0 {
		return g.consumerLeaveLocked(req)
	}
	m := cg.members[req.MemberID]
	if req.InstanceID != nil && (m == nil || m.instanceID != *req.InstanceID) {
		if err := g.checkConsumerInstanceLocked(req); err != nil {
			return none, nil, err
		}
	}
	switch {
	case req.MemberEpoch == 0 && m == nil:
		var err error
		if m, err = g.joinConsumerLocked(req); err != nil {
			return none, nil, err
		}
	case m == nil:
		return none, nil, fmt.Errorf("%w: member %s is not a member of group %s", ErrUnknownMember, req.MemberID, g.id)
	case m.classic != nil:
		return none, nil, fmt.Errorf("%w: member %s uses the classic protocol", ErrUnknownMember, req.MemberID)
	case req.MemberEpoch == 0:
		// A known member starting over (as Kafka since KAFKA-19233): it
		// owns nothing now and gets its assignment again.
		if m.leaving {
			m.leaving = false
			m.cur.Epoch, m.cur.PreviousEpoch = 0, 0
		}
	default:
		if err := checkMemberEpoch(m, req.MemberEpoch, req.Owned); err != nil {
			return none, nil, err
		}
	}
	// The epoch rises for a new group and for a changed subscription (a
	// new member subscribing to something is one), not for the rest.
	bump := g.mu.generation == 0
	dirty := bump
	if m.updateSubscription(req) {
		dirty, bump = true, true
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != m.serverAssignor {
		m.serverAssignor, dirty = *req.ServerAssignor, true
	}
	if req.RebalanceTimeout >= 0 && req.RebalanceTimeout != m.rebalanceTimeout {
		m.rebalanceTimeout, dirty = req.RebalanceTimeout, true
	}
	if req.RackID != nil && *req.RackID != m.rackID {
		m.rackID, dirty = *req.RackID, true
	}
	if req.ClientID != m.clientID || req.ClientHost != m.clientHost {
		m.clientID, m.clientHost, dirty = req.ClientID, req.ClientHost, true
	}
	if g.refreshTargetsLocked(bump) {
		dirty = true
	}
	owned := req.Owned
	if req.MemberEpoch == 0 {
		owned = assign.Partitions{}
	}
	prev := m.cur
	if g.reconcileLocked(m, owned) {
		dirty = true
	}
	g.scheduleConsumerSessionLocked(m)
	res := ConsumerHeartbeatResult{MemberID: m.id, MemberEpoch: m.cur.Epoch, HeartbeatInterval: g.s.cfg.ConsumerHeartbeatInterval}
	if req.Owned != nil || m.cur.Epoch != prev.Epoch || !m.cur.Assigned.Equal(prev.Assigned) {
		res.Assignment = m.cur.Assigned.Clone()
	}
	if !dirty {
		// Nothing to store, but what the answer says may still be on its
		// way (the member's retry of a heartbeat whose answer it did not
		// get): answer once it is stored.
		return res, g.storedLocked(), nil
	}
	return res, g.storeConsumerLocked(), nil
}

// storedLocked returns a channel that delivers nil once the group's latest
// record proposal has finished, or nil when none is in flight. (A record
// that failed to store is superseded by the next change's: each record
// holds the whole group.)
func (g *group) storedLocked() <-chan error {
	last := g.mu.lastStore
	if last == nil {
		return nil
	}
	select {
	case <-last:
		return nil
	default:
	}
	done := make(chan error, 1)
	go func() {
		<-last
		done <- nil
	}()
	return done
}

// becomeConsumerLocked turns an empty group (new, or classic with offsets
// only) into a consumer group; its epoch continues from the stored
// generation so the stored record only moves forward.
func (g *group) becomeConsumerLocked() *consumerGroup {
	cg := &consumerGroup{members: map[string]*consumerMember{}, owners: map[topicPartitionID]string{}}
	g.mu.consumer = cg
	g.mu.protocolType = consumerProtocolType
	g.mu.protocol, g.mu.leader = "", ""
	cg.assignmentEpoch = g.mu.generation
	return cg
}

// consumerProtocolType is the protocol type consumer groups report, as in
// Kafka (the same as classic consumers').
const consumerProtocolType = "consumer"

// joinConsumerLocked adds a member joining with epoch 0. A static member
// whose instance left with epoch -2 (or was a classic member) takes over
// its subscription, target and partitions (replaceStaticLocked);
// checkConsumerInstanceLocked refused one whose instance is still held.
func (g *group) joinConsumerLocked(req ConsumerHeartbeat) (*consumerMember, error) {
	cg := g.mu.consumer
	if req.InstanceID != nil {
		if old := cg.byInstance(*req.InstanceID); old != nil {
			return g.replaceStaticLocked(old, req.MemberID), nil
		}
	}
	if full(len(cg.members), g.s.cfg.ConsumerMaxSize) {
		return nil, consumerGroupFull(g.id, g.s.cfg.ConsumerMaxSize)
	}
	m := &consumerMember{id: req.MemberID, cur: assign.Current{Assigned: assign.Partitions{}, Revoking: assign.Partitions{}}, target: assign.Partitions{}}
	if req.InstanceID != nil {
		m.instanceID = *req.InstanceID
	}
	cg.members[m.id] = m
	g.mu.state = Stable
	return m, nil
}

// checkConsumerInstanceLocked applies static membership to a heartbeat
// naming an instance ID that is not its member's: a join may take over an
// instance whose member left with epoch -2, not one still held; any other
// heartbeat is from a member the instance no longer has.
func (g *group) checkConsumerInstanceLocked(req ConsumerHeartbeat) error {
	old := g.mu.consumer.byInstance(*req.InstanceID)
	switch {
	case req.MemberEpoch != 0 && old == nil:
		return fmt.Errorf("%w: instance id %s is unknown", ErrUnknownMember, *req.InstanceID)
	case req.MemberEpoch != 0:
		return fmt.Errorf("%w: static member %s with instance id %s was fenced by member %s", ErrFencedInstanceID, req.MemberID, *req.InstanceID, old.id)
	case old != nil && !old.leaving && old.classic == nil:
		// A classic member's instance is taken over at once (it has no
		// epoch -2 to release it with), as in Kafka.
		return fmt.Errorf("%w: static member %s with instance id %s cannot join the group because the instance id is owned by member %s",
			ErrUnreleasedInstanceID, req.MemberID, *req.InstanceID, old.id)
	}
	return nil
}

// byInstance returns the member holding a static instance ID.
func (cg *consumerGroup) byInstance(instanceID string) *consumerMember {
	for _, m := range cg.members {
		if m.instanceID == instanceID {
			return m
		}
	}
	return nil
}

// holdLocked records in the owners index what a member holds.
func (g *group) holdLocked(m *consumerMember) {
	for _, set := range []assign.Partitions{m.cur.Assigned, m.cur.Revoking} {
		for t, ps := range set {
			for _, p := range ps {
				g.mu.consumer.owners[topicPartitionID{t, p}] = m.id
			}
		}
	}
}

// checkMemberEpoch fences a heartbeat from an epoch the member is not at:
// ahead of it, or behind it unless it is the previous epoch and the member
// owns no more than it is assigned (the answer that moved it was lost).
func checkMemberEpoch(m *consumerMember, epoch int32, owned assign.Partitions) error {
	switch {
	case epoch > m.cur.Epoch:
		return fmt.Errorf("%w: member %q sent epoch %d, it is at %d", ErrFencedMemberEpoch, m.id, epoch, m.cur.Epoch)
	case epoch < m.cur.Epoch && (epoch != m.cur.PreviousEpoch || owned == nil || !owned.SubsetOf(m.cur.Assigned)):
		return fmt.Errorf("%w: member %q sent epoch %d, it is at %d", ErrFencedMemberEpoch, m.id, epoch, m.cur.Epoch)
	}
	return nil
}

// updateSubscription takes the subscription of a heartbeat; true when it
// changed (the group epoch then rises).
func (m *consumerMember) updateSubscription(req ConsumerHeartbeat) bool {
	changed := false
	if req.SubscribedTopicNames != nil {
		if names := sortedTopics(req.SubscribedTopicNames); !slices.Equal(names, m.names) {
			m.names, changed = names, true
		}
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != m.regex {
		m.setRegex(*req.SubscribedTopicRegex)
		changed = true
	}
	return changed
}

// sortedTopics is a subscription's topic names sorted, without repeats (a
// copy).
func sortedTopics(names []string) []string {
	names = slices.Clone(names)
	slices.Sort(names)
	return slices.Compact(names)
}

// setRegex sets the member's regex and compiles it, anchored as Kafka
// matches it (the whole topic name).
func (m *consumerMember) setRegex(regex string) {
	m.regex, m.re = regex, nil
	if regex != "" {
		// Validated on the way in (or when stored); a regex that does not
		// compile matches nothing.
		m.re, _ = regexp.Compile("^(?:" + regex + ")$")
	}
}

// subscribes reports whether the member subscribes to a topic.
func (m *consumerMember) subscribes(topic string) bool {
	if _, ok := slices.BinarySearch(m.names, topic); ok {
		return true
	}
	return m.re != nil && m.re.MatchString(topic)
}

// refreshTargetsLocked raises the group epoch when bump is set or the
// subscribed topics changed (created, deleted, more partitions), and
// computes every member's target when the epoch is past the target's.
// It reports whether anything changed.
func (g *group) refreshTargetsLocked(bump bool) bool {
	cg := g.mu.consumer
	// The topics some member subscribes to, by name or regex.
	names := map[string]bool{}
	var res []*regexp.Regexp
	for _, m := range cg.members {
		for _, n := range m.names {
			names[n] = true
		}
		if m.re != nil && !slices.ContainsFunc(res, func(r *regexp.Regexp) bool { return r.String() == m.re.String() }) {
			res = append(res, m.re)
		}
	}
	var subscribed []TopicMeta
	counts := map[assign.TopicID]int32{}
	h := fnv.New64a()
	for _, t := range g.s.topics() {
		if names[t.Name] || slices.ContainsFunc(res, func(re *regexp.Regexp) bool { return re.MatchString(t.Name) }) {
			subscribed = append(subscribed, t)
			counts[t.ID] = t.Partitions
			_, _ = h.Write([]byte(t.Name))
			_, _ = h.Write(t.ID[:])
			_, _ = h.Write(binary.BigEndian.AppendUint32(nil, uint32(t.Partitions)))
		}
	}
	changed := false
	if sum := h.Sum64(); sum != cg.topicsHash {
		cg.topicsHash, bump = sum, true
	}
	if bump {
		g.mu.generation++
		changed = true
	}
	if cg.assignmentEpoch == g.mu.generation {
		return changed
	}
	assignor, _ := assign.Lookup(g.chooseAssignorLocked())
	members := make([]assign.Member, 0, len(cg.members))
	for id, m := range cg.members {
		am := assign.Member{ID: id, Current: m.target}
		for _, t := range subscribed {
			if m.subscribes(t.Name) {
				am.Topics = append(am.Topics, t.ID)
			}
		}
		members = append(members, am)
	}
	targets := assignor.Assign(members, counts)
	for id, m := range cg.members {
		m.target = targets[id]
	}
	cg.assignmentEpoch = g.mu.generation
	g.mu.protocol = assignor.Name()
	return true
}

// chooseAssignorLocked picks the assignor the most members name (ties to
// the first by name), the default when none names one.
func (g *group) chooseAssignorLocked() string {
	votes := map[string]int{}
	for _, m := range g.mu.consumer.members {
		if m.serverAssignor != "" {
			votes[m.serverAssignor]++
		}
	}
	best := ""
	for name, n := range votes {
		if best == "" || n > votes[best] || (n == votes[best] && name < best) {
			best = name
		}
	}
	if best == "" {
		return assign.DefaultAssignor
	}
	return best
}

// reconcileLocked moves a member towards its target, keeping the owners
// index and the revocation timer in step; true when the member changed.
func (g *group) reconcileLocked(m *consumerMember, owned assign.Partitions) bool {
	cg := g.mu.consumer
	prev := m.cur
	taken := func(t assign.TopicID, p int32) bool {
		o, ok := cg.owners[topicPartitionID{t, p}]
		return ok && o != m.id
	}
	m.cur = assign.Reconcile(m.cur, cg.assignmentEpoch, m.target, owned, taken)
	g.releaseLocked(m, prev)
	g.holdLocked(m)
	switch {
	case m.cur.State != assign.UnrevokedPartitions:
		m.stopRevokeTimer()
	case m.revokeTimer == nil || m.revokeEpoch != m.cur.Epoch:
		m.stopRevokeTimer()
		m.revokeEpoch = m.cur.Epoch
		timeout := m.rebalanceTimeout
		m.revokeTimer = time.AfterFunc(timeout, func() { g.revocationTimedOut(m, timeout) })
	}
	return !sameCurrent(prev, m.cur)
}

// releaseLocked drops from the owners index what a member held in prev and
// no longer holds.
func (g *group) releaseLocked(m *consumerMember, prev assign.Current) {
	cg := g.mu.consumer
	for _, set := range []assign.Partitions{prev.Assigned, prev.Revoking} {
		for t, ps := range set {
			for _, p := range ps {
				k := topicPartitionID{t, p}
				if cg.owners[k] == m.id && !m.cur.Assigned.Has(t, p) && !m.cur.Revoking.Has(t, p) {
					delete(cg.owners, k)
				}
			}
		}
	}
}

func sameCurrent(a, b assign.Current) bool {
	return a.Epoch == b.Epoch && a.PreviousEpoch == b.PreviousEpoch && a.State == b.State &&
		a.Assigned.Equal(b.Assigned) && a.Revoking.Equal(b.Revoking)
}

// stopTimers stops every timer of the member (it is gone from this
// coordinator).
func (m *consumerMember) stopTimers() {
	m.stopRevokeTimer()
	if m.session != nil {
		m.session.Stop()
	}
	if m.classic != nil {
		m.classic.stopTimers()
	}
}

func (m *consumerMember) stopRevokeTimer() {
	if m.revokeTimer != nil {
		m.revokeTimer.Stop()
		m.revokeTimer = nil
	}
}

// revocationTimedOut removes a member that did not revoke its partitions
// within its rebalance timeout, as Kafka fences it.
func (g *group) revocationTimedOut(m *consumerMember, timeout time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cg := g.mu.consumer
	if g.mu.unloaded || cg == nil || cg.members[m.id] != m || m.cur.State != assign.UnrevokedPartitions || m.revokeEpoch != m.cur.Epoch {
		return
	}
	g.s.log.Info("consumer group member did not revoke its partitions in time", "group", g.id, "member", m.id, "rebalance_timeout", timeout)
	g.fenceConsumerMemberLocked(m)
}

// scheduleConsumerSessionLocked (re)arms a member's session expiry.
func (g *group) scheduleConsumerSessionLocked(m *consumerMember) {
	if m.session != nil {
		m.session.Stop()
	}
	m.session = time.AfterFunc(g.sessionTimeoutOf(m), func() { g.consumerSessionExpired(m) })
}

// sessionTimeoutOf is a member's session timeout: the group's, or a
// classic member's own.
func (g *group) sessionTimeoutOf(m *consumerMember) time.Duration {
	if m.classic != nil {
		return m.classic.sessionTimeout
	}
	return g.s.cfg.ConsumerSessionTimeout
}

func (g *group) consumerSessionExpired(m *consumerMember) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cg := g.mu.consumer
	if g.mu.unloaded || cg == nil || cg.members[m.id] != m {
		return
	}
	g.s.log.Info("consumer group member session expired", "group", g.id, "member", m.id, "session_timeout", g.sessionTimeoutOf(m))
	g.fenceConsumerMemberLocked(m)
}

// fenceConsumerMemberLocked removes a member the coordinator gave up on and
// stores the group; no caller waits for the store.
func (g *group) fenceConsumerMemberLocked(m *consumerMember) {
	g.removeConsumerAndRebalanceLocked(m)
}

// removeConsumerMemberLocked drops a member and releases its partitions.
func (g *group) removeConsumerMemberLocked(m *consumerMember) {
	cg := g.mu.consumer
	prev := m.cur
	m.cur = assign.Current{}
	g.releaseLocked(m, prev)
	m.stopTimers()
	delete(cg.members, m.id)
	if len(cg.members) == 0 {
		g.mu.state = Empty
	}
}

// consumerLeaveLocked handles a heartbeat with epoch -1 (leave) or -2 (a
// static member leaving for now: it keeps its partitions and target, the
// epoch does not rise, until its session expires or its instance rejoins).
func (g *group) consumerLeaveLocked(req ConsumerHeartbeat) (ConsumerHeartbeatResult, <-chan error, error) {
	cg := g.mu.consumer
	var m *consumerMember
	if req.InstanceID != nil {
		m = cg.byInstance(*req.InstanceID)
		switch {
		case m == nil:
			return ConsumerHeartbeatResult{}, nil, fmt.Errorf("%w: instance id %s is unknown", ErrUnknownMember, *req.InstanceID)
		case m.id != req.MemberID:
			return ConsumerHeartbeatResult{}, nil, fmt.Errorf("%w: static member %s with instance id %s was fenced by member %s", ErrFencedInstanceID, req.MemberID, *req.InstanceID, m.id)
		}
	} else if m = cg.members[req.MemberID]; m == nil {
		return ConsumerHeartbeatResult{}, nil, fmt.Errorf("%w: member %s is not a member of group %s", ErrUnknownMember, req.MemberID, g.id)
	}
	if m.classic != nil {
		return ConsumerHeartbeatResult{}, nil, fmt.Errorf("%w: member %s uses the classic protocol", ErrUnknownMember, m.id)
	}
	res := ConsumerHeartbeatResult{MemberID: m.id, MemberEpoch: req.MemberEpoch}
	if req.MemberEpoch == -2 {
		if m.leaving {
			return res, nil, nil
		}
		m.leaving = true
		m.stopRevokeTimer()
		prev := m.cur
		m.cur = assign.Current{Epoch: -2, PreviousEpoch: prev.Epoch, State: assign.Stable, Assigned: prev.Assigned, Revoking: assign.Partitions{}, Since: prev.Since}
		g.releaseLocked(m, prev)
		return res, g.storeConsumerLocked(), nil
	}
	return res, g.removeConsumerAndRebalanceLocked(m), nil
}

// storeConsumerLocked commits the group's record; the channel delivers the
// outcome.
func (g *group) storeConsumerLocked() <-chan error {
	cg := g.mu.consumer
	rec := &raftsm.GroupRecord{
		Group: g.id, ProtocolType: consumerProtocolType, Protocol: g.mu.protocol,
		Generation: g.mu.generation, Timestamp: time.Now().UnixMilli(),
		Consumer: &raftsm.ConsumerGroup{AssignmentEpoch: cg.assignmentEpoch, TopicsHash: cg.topicsHash},
	}
	for _, m := range g.sortedConsumerMembersLocked() {
		rec.Members = append(rec.Members, raftsm.GroupMemberRecord{
			MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost,
			SessionTimeoutMs:   int32(g.sessionTimeoutOf(m) / time.Millisecond),
			RebalanceTimeoutMs: int32(m.rebalanceTimeout / time.Millisecond),
			Consumer: &raftsm.ConsumerMember{
				Epoch: m.cur.Epoch, PreviousEpoch: m.cur.PreviousEpoch, State: uint8(m.cur.State),
				RackID: m.rackID, ServerAssignor: m.serverAssignor,
				SubscribedTopicNames: m.names, SubscribedTopicRegex: m.regex,
				Assigned: toRecordPartitions(m.cur.Assigned, m.cur.Since), Revoking: toRecordPartitions(m.cur.Revoking, m.cur.Since),
				Target:  toRecordPartitions(m.target, nil),
				Classic: classicRecord(m.classic),
			},
		})
	}
	done := make(chan error, 1)
	g.proposeRecordLocked(rec, func(err error) { done <- err })
	return done
}

func (g *group) sortedConsumerMembersLocked() []*consumerMember {
	ms := make([]*consumerMember, 0, len(g.mu.consumer.members))
	for _, m := range g.mu.consumer.members {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *consumerMember) int { return cmp.Compare(a.id, b.id) })
	return ms
}

// toRecordPartitions converts a set for the group record, with each
// partition's assignment epoch when since is given.
func toRecordPartitions(p assign.Partitions, since map[assign.TopicPartition]int32) []raftsm.TopicIDPartitions {
	out := make([]raftsm.TopicIDPartitions, 0, len(p))
	for _, t := range p.Topics() {
		r := raftsm.TopicIDPartitions{TopicID: t, Partitions: slices.Clone(p[t])}
		if since != nil {
			for _, part := range r.Partitions {
				e, ok := since[assign.TopicPartition{Topic: t, Partition: part}]
				if !ok {
					e = -1
				}
				r.Epochs = append(r.Epochs, e)
			}
		}
		out = append(out, r)
	}
	return out
}

// fromRecordPartitions converts a set from the group record, adding each
// partition's assignment epoch (when known) to since.
func fromRecordPartitions(set []raftsm.TopicIDPartitions, since map[assign.TopicPartition]int32) assign.Partitions {
	p := assign.Partitions{}
	for _, t := range set {
		for i, part := range t.Partitions {
			if part < 0 {
				continue
			}
			p[t.TopicID] = append(p[t.TopicID], part)
			if since != nil && i < len(t.Epochs) && t.Epochs[i] >= 0 {
				since[assign.TopicPartition{Topic: t.TopicID, Partition: part}] = t.Epochs[i]
			}
		}
	}
	return assign.Normalize(p)
}

// loadConsumerLocked brings back a stored consumer group on a new
// coordinator: members keep their epochs and partitions and get a fresh
// session; those revoking get a fresh rebalance timeout.
func (g *group) loadConsumerLocked(rec *raftsm.GroupRecord) {
	cg := g.becomeConsumerLocked()
	g.mu.protocol = rec.Protocol
	cg.assignmentEpoch, cg.topicsHash = rec.Consumer.AssignmentEpoch, rec.Consumer.TopicsHash
	for _, mr := range rec.Members {
		c := mr.Consumer
		if c == nil {
			continue
		}
		since := map[assign.TopicPartition]int32{}
		m := &consumerMember{
			id: mr.MemberID, instanceID: mr.InstanceID, rackID: c.RackID, clientID: mr.ClientID, clientHost: mr.ClientHost,
			rebalanceTimeout: time.Duration(mr.RebalanceTimeoutMs) * time.Millisecond,
			names:            slices.Clone(c.SubscribedTopicNames), serverAssignor: c.ServerAssignor,
			cur: assign.Current{
				Epoch: c.Epoch, PreviousEpoch: c.PreviousEpoch, State: assign.State(c.State),
				Assigned: fromRecordPartitions(c.Assigned, since), Revoking: fromRecordPartitions(c.Revoking, since),
				Since: since,
			},
			target:  fromRecordPartitions(c.Target, nil),
			leaving: c.Epoch == -2,
			classic: classicFromRecord(mr),
		}
		m.setRegex(c.SubscribedTopicRegex)
		cg.members[m.id] = m
		g.holdLocked(m)
		g.scheduleConsumerSessionLocked(m)
		if m.cur.State == assign.UnrevokedPartitions && !m.leaving {
			m.revokeEpoch = m.cur.Epoch
			timeout := m.rebalanceTimeout
			m.revokeTimer = time.AfterFunc(timeout, func() { g.revocationTimedOut(m, timeout) })
		}
	}
	if len(cg.members) > 0 {
		g.mu.state = Stable
	}
}

// validateConsumerCommitLocked checks a commit (or an offset fetch) from a
// consumer group's member at an epoch: the member must exist and be at that
// epoch, or (KIP-1251, commits only: tps set) at an older one at which it
// already held every partition committed, so that a commit racing the
// heartbeat that moved the member on still counts. A mismatch is the given
// error: STALE_MEMBER_EPOCH for OffsetCommit, ILLEGAL_GENERATION for
// TxnOffsetCommit. oldVersion refuses commits below OffsetCommit v9,
// whose generation is not a member epoch.
func (g *group) validateConsumerCommitLocked(memberID string, epoch int32, oldVersion bool, mismatch error, tps []TopicPartition) error {
	m := g.mu.consumer.members[memberID]
	switch {
	case m == nil:
		return fmt.Errorf("%w: member %s is not a member of group %s", ErrUnknownMember, memberID, g.id)
	case m.classic != nil && epoch != m.cur.Epoch:
		// A classic member commits at its generation, any version.
		return fmt.Errorf("%w: member %s is at generation %d, not %d", ErrIllegalGeneration, memberID, m.cur.Epoch, epoch)
	case m.classic != nil:
		return nil
	case oldVersion:
		return fmt.Errorf("%w: OffsetCommit version 9 or above must be used by members using the consumer group protocol", ErrUnsupportedVersion)
	case epoch == m.cur.Epoch:
		return nil
	case epoch < m.cur.Epoch && len(tps) > 0 && g.heldSinceLocked(m, epoch, tps):
		return nil
	}
	return fmt.Errorf("%w: member %s is at epoch %d, not %d", mismatch, memberID, m.cur.Epoch, epoch)
}

// commitPartitions lists the partitions of a commit.
func commitPartitions(offs []CommitOffset) []TopicPartition {
	tps := make([]TopicPartition, len(offs))
	for i, o := range offs {
		tps[i] = o.TopicPartition
	}
	return tps
}

// heldSinceLocked reports whether a member has held every one of tps since
// epoch or earlier.
func (g *group) heldSinceLocked(m *consumerMember, epoch int32, tps []TopicPartition) bool {
	ids, _, _ := g.s.topicIndexes()
	for _, tp := range tps {
		id, ok := ids[tp.Topic]
		if !ok || !m.cur.Held(id, tp.Partition, epoch) {
			return false
		}
	}
	return true
}

// CheckFetchMember validates the member OffsetFetch v9+ names (a member
// ID, or a member epoch of 0 or more) in a consumer group: it must be in
// the group at that epoch. Classic groups check nothing, as in Kafka.
func (s *Service) CheckFetchMember(_ context.Context, groupID, memberID string, epoch int32) error {
	sh, err := s.route(groupID)
	if err != nil {
		return err
	}
	g, err := s.lookup(sh, groupID, false)
	if err != nil || g == nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.mu.unloaded:
		return ErrNotCoordinator
	case g.mu.consumer != nil:
		return g.validateConsumerCommitLocked(memberID, epoch, false, ErrStaleMemberEpoch, nil)
	}
	return nil
}

// ConsumerGroupDescription answers ConsumerGroupDescribe for one group.
type ConsumerGroupDescription struct {
	Group                       string
	State                       string // Empty, Assigning, Reconciling, Stable
	GroupEpoch, AssignmentEpoch int32
	Assignor                    string
	Members                     []ConsumerMemberDescription
}

// ConsumerMemberDescription is one member of a consumer group.
type ConsumerMemberDescription struct {
	MemberID, InstanceID, RackID, ClientID, ClientHost string
	MemberEpoch                                        int32
	// Classic marks a member on the classic protocol (KIP-848's mixed
	// groups).
	Classic              bool
	SubscribedTopicNames []string
	SubscribedTopicRegex string
	// Assignment is what the member may consume now; Target what it is
	// moving to.
	Assignment, Target assign.Partitions
}

// DescribeConsumerGroup describes a consumer group, under the read lease
// of its shard (readLeased): ErrGroupNotFound when there is none (or the
// group is a classic group).
func (s *Service) DescribeConsumerGroup(ctx context.Context, groupID string) (d ConsumerGroupDescription, err error) {
	if groupID == "" {
		return ConsumerGroupDescription{}, ErrInvalidGroupID
	}
	if rerr := s.readLeased(ctx, groupID, func(sh *shard) { d, err = s.describeConsumerGroup(sh, groupID) }); rerr != nil {
		return ConsumerGroupDescription{}, rerr
	}
	return d, err
}

func (s *Service) describeConsumerGroup(sh *shard, groupID string) (ConsumerGroupDescription, error) {
	g, err := s.lookup(sh, groupID, false)
	switch {
	case err != nil:
		return ConsumerGroupDescription{}, err
	case g == nil:
		return ConsumerGroupDescription{}, fmt.Errorf("%w: group %s not found", ErrGroupNotFound, groupID)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.mu.unloaded:
		return ConsumerGroupDescription{}, ErrNotCoordinator
	case g.mu.state == Dead:
		return ConsumerGroupDescription{}, fmt.Errorf("%w: group %s not found", ErrGroupNotFound, groupID)
	case g.mu.consumer == nil:
		return ConsumerGroupDescription{}, fmt.Errorf("%w: group %s is not a consumer group", ErrGroupNotFound, groupID)
	}
	cg := g.mu.consumer
	d := ConsumerGroupDescription{
		Group: groupID, State: g.stateNameLocked(), GroupEpoch: g.mu.generation, AssignmentEpoch: cg.assignmentEpoch,
		Assignor: g.chooseAssignorLocked(),
	}
	for _, m := range g.sortedConsumerMembersLocked() {
		d.Members = append(d.Members, ConsumerMemberDescription{
			MemberID: m.id, InstanceID: m.instanceID, RackID: m.rackID, ClientID: m.clientID, ClientHost: m.clientHost,
			MemberEpoch: m.cur.Epoch, Classic: m.classic != nil, SubscribedTopicNames: slices.Clone(m.names), SubscribedTopicRegex: m.regex,
			Assignment: m.cur.Assigned.Clone(), Target: m.target.Clone(),
		})
	}
	return d, nil
}

// topics lists the cluster's topics by name (Config.Topics); the list is
// shared, not to be modified.
func (s *Service) topics() []TopicMeta {
	if s.cfg.Topics == nil {
		return nil
	}
	return s.cfg.Topics()
}

// Group types, as ListGroups v5 names them.
const (
	classicGroupType  = "classic"
	consumerGroupType = "consumer"
)

func (g *group) typeLocked() string {
	if g.mu.consumer != nil {
		return consumerGroupType
	}
	return classicGroupType
}

// stateNameLocked is the group's state as ListGroups and
// ConsumerGroupDescribe name it. A consumer group is Empty without
// members, Assigning while its target is older than its epoch,
// Reconciling while a member is not yet at its target, else Stable.
func (g *group) stateNameLocked() string {
	cg := g.mu.consumer
	switch {
	case cg == nil || g.mu.state == Dead:
		return g.mu.state.String()
	case len(cg.members) == 0:
		return Empty.String()
	case cg.assignmentEpoch != g.mu.generation:
		return "Assigning"
	}
	for _, m := range cg.members {
		if !m.leaving && (m.cur.Epoch != cg.assignmentEpoch || m.cur.State != assign.Stable) {
			return "Reconciling"
		}
	}
	return Stable.String()
}

// stopConsumerTimersLocked stops every member's timers (the group is
// unloaded or deleted).
func (g *group) stopConsumerTimersLocked() {
	if g.mu.consumer == nil {
		return
	}
	for _, m := range g.mu.consumer.members {
		m.stopTimers()
	}
}

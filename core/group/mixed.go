package group

// KIP-848's mixed groups: a consumer group hosts members on the classic
// protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), so that a
// running group switches protocol one member at a time, as Kafka 4.0 does.
//
//   - Upgrade: a member on the consumer protocol joining a classic group
//     with members turns it into a consumer group (upgradeLocked). Each
//     classic member keeps its member ID, generation (as its member epoch),
//     subscription and assignment (decoded from the consumer protocol's
//     embedded metadata); the new member bumps the group epoch and the
//     coordinator computes the targets.
//   - Classic members of a consumer group are assigned by the coordinator
//     too. A JoinGroup reconciles the member with its target (the owned
//     partitions its subscription lists are what it still holds) and is
//     answered, as a follower, with its member epoch as the generation;
//     SyncGroup returns what the member may consume now. A Heartbeat
//     answers REBALANCE_IN_PROGRESS when the member must join again: the
//     group epoch moved past it, it has partitions to revoke, or the
//     partitions it waits for are free.
//   - Downgrade: when the last member on the consumer protocol leaves and
//     classic members remain, the group becomes a classic group at the same
//     generation, with their current assignments, and rebalances
//     (downgradeLocked).
//
// Kafka's group.consumer.migration.policy (Config.Migration) governs the
// conversions; classic members join a consumer group whatever it says.

import (
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/group/assign"
	"github.com/chronik-go/chronik/raftsm"
)

// classicMember is what a consumer group keeps of a member on the classic
// protocol.
type classicMember struct {
	sessionTimeout time.Duration
	protocols      []Protocol // as it joined, in its order
	// syncTimer runs from the member's JoinGroup to its SyncGroup,
	// rejoinTimer from the Heartbeat that told it to rejoin to its
	// JoinGroup; either fences the member after its rebalance timeout.
	syncTimer, rejoinTimer *time.Timer
}

// protocol is the protocol name the member's JoinGroup is answered with
// (its first, as Kafka answers).
func (c *classicMember) protocol() string { return c.protocols[0].Name }

func (c *classicMember) stopTimers() {
	for _, t := range []**time.Timer{&c.syncTimer, &c.rejoinTimer} {
		if *t != nil {
			(*t).Stop()
			*t = nil
		}
	}
}

// mixedGroups reports whether consumer groups may host classic members.
func (s *Service) mixedGroups() bool {
	return s.cfg.MixedGroups == nil || s.cfg.MixedGroups()
}

// subscription decodes the consumer protocol's embedded subscription
// (ConsumerProtocolSubscription) from a classic member's metadata.
func subscription(metadata []byte) (kmsg.ConsumerMemberMetadata, error) {
	var md kmsg.ConsumerMemberMetadata
	md.Default()
	if err := md.ReadFrom(metadata); err != nil {
		return md, fmt.Errorf("%w: malformed consumer protocol subscription: %w", ErrInconsistentProtocol, err)
	}
	return md, nil
}

// assignmentVersion is the consumer protocol version a classic member's
// assignments are written at: its subscription's, as Kafka does.
func assignmentVersion(c *classicMember) int16 {
	md, err := subscription(c.protocols[0].Metadata)
	if err != nil {
		return 0
	}
	return min(md.Version, 3)
}

// encodeAssignment writes partitions as a ConsumerProtocolAssignment by
// topic name; partitions of topics no longer known are left out.
func encodeAssignment(p assign.Partitions, version int16, names map[assign.TopicID]string) []byte {
	a := kmsg.NewConsumerMemberAssignment()
	a.Version = version
	for _, t := range p.Topics() {
		name, ok := names[t]
		if !ok {
			continue
		}
		at := kmsg.NewConsumerMemberAssignmentTopic()
		at.Topic, at.Partitions = name, slices.Clone(p[t])
		a.Topics = append(a.Topics, at)
	}
	return a.AppendTo(nil)
}

// topicIndexes maps the cluster's topics by name and by ID.
func (s *Service) topicIndexes() (ids map[string]assign.TopicID, names map[assign.TopicID]string, counts map[assign.TopicID]int32) {
	ts := s.topics()
	ids, names, counts = make(map[string]assign.TopicID, len(ts)), make(map[assign.TopicID]string, len(ts)), make(map[assign.TopicID]int32, len(ts))
	for _, t := range ts {
		ids[t.Name], names[t.ID], counts[t.ID] = t.ID, t.Name, t.Partitions
	}
	return ids, names, counts
}

// byName converts partitions named by topic name into topic IDs, leaving
// out unknown topics and partitions.
func byName(topics map[string][]int32, ids map[string]assign.TopicID, counts map[assign.TopicID]int32) assign.Partitions {
	p := assign.Partitions{}
	for name, parts := range topics {
		id, ok := ids[name]
		if !ok {
			continue
		}
		for _, part := range parts {
			if part >= 0 && part < counts[id] {
				p[id] = append(p[id], part)
			}
		}
	}
	return assign.Normalize(p)
}

// ownedOf lists the partitions a classic member's subscription says it
// owns (consumer protocol v1+; none before).
func ownedOf(md kmsg.ConsumerMemberMetadata, ids map[string]assign.TopicID, counts map[assign.TopicID]int32) assign.Partitions {
	topics := map[string][]int32{}
	for _, o := range md.OwnedPartitions {
		topics[o.Topic] = append(topics[o.Topic], o.Partitions...)
	}
	return byName(topics, ids, counts)
}

// assignedOf decodes a classic member's assignment.
func assignedOf(b []byte, ids map[string]assign.TopicID, counts map[assign.TopicID]int32) assign.Partitions {
	var a kmsg.ConsumerMemberAssignment
	a.Default()
	if len(b) == 0 || a.ReadFrom(b) != nil {
		return assign.Partitions{}
	}
	topics := map[string][]int32{}
	for _, t := range a.Topics {
		topics[t.Topic] = append(topics[t.Topic], t.Partitions...)
	}
	return byName(topics, ids, counts)
}

// supportsClassicLocked reports whether a classic member with these
// protocols may join the consumer group: the consumer protocol type and a
// protocol every classic member supports (any, for the first).
func (cg *consumerGroup) supportsClassicLocked(protocolType string, protocols []Protocol) bool {
	if protocolType != consumerProtocolType || len(protocols) == 0 {
		return false
	}
	for _, m := range cg.members {
		if m.classic == nil {
			continue
		}
		if !slices.ContainsFunc(protocols, func(p Protocol) bool {
			return slices.ContainsFunc(m.classic.protocols, func(q Protocol) bool { return q.Name == p.Name })
		}) {
			return false
		}
	}
	return true
}

// joinClassicToConsumerLocked serves a JoinGroup to a consumer group with
// members: the member is created or updated, the targets computed again
// if its subscription changed, and the member reconciled; the answer
// follows once the group is stored.
func (g *group) joinClassicToConsumerLocked(req JoinRequest) (chan joinOutcome, JoinResult, error) {
	cg := g.mu.consumer
	if !cg.supportsClassicLocked(req.ProtocolType, req.Protocols) {
		return nil, JoinResult{}, fmt.Errorf("%w: member %s's protocols are not supported by consumer group %s", ErrInconsistentProtocol, req.MemberID, g.id)
	}
	md, err := subscription(req.Protocols[0].Metadata)
	if err != nil {
		return nil, JoinResult{}, err
	}
	id := req.MemberID
	unknown := id == ""
	if unknown {
		id = newMemberID(req.ClientID)
		if req.InstanceID == "" && req.RequireKnownMemberID {
			return nil, JoinResult{MemberID: id, Generation: -1}, ErrMemberIDRequired
		}
	}
	m := cg.members[id]
	replaced := false
	if req.InstanceID != "" {
		old := cg.byInstance(req.InstanceID)
		switch {
		case old != nil && unknown:
			// A static member coming back under a new member ID takes
			// over its instance's subscription and partitions.
			m, replaced = g.replaceStaticLocked(old, id), true
		case old != nil && old.id != id:
			return nil, JoinResult{}, fmt.Errorf("%w: static member %s with instance id %s was fenced by member %s", ErrFencedInstanceID, id, req.InstanceID, old.id)
		}
	}
	switch {
	case replaced:
	case m == nil && full(len(cg.members), g.s.cfg.ConsumerMaxSize):
		return nil, JoinResult{}, consumerGroupFull(g.id, g.s.cfg.ConsumerMaxSize)
	case m == nil:
		m = &consumerMember{id: id, instanceID: req.InstanceID, cur: assign.Current{Assigned: assign.Partitions{}, Revoking: assign.Partitions{}}, target: assign.Partitions{}}
		cg.members[id] = m
		g.mu.state = Stable
		g.s.log.Info("classic member joins consumer group", "group", g.id, "member", id)
	case m.classic == nil:
		return nil, JoinResult{}, fmt.Errorf("%w: member %s of group %s uses the consumer protocol", ErrUnknownMember, id, g.id)
	}
	if m.classic == nil {
		m.classic = &classicMember{}
	}
	m.classic.stopTimers()
	m.classic.sessionTimeout, m.classic.protocols = req.SessionTimeout, slices.Clone(req.Protocols)
	m.rebalanceTimeout, m.clientID, m.clientHost, m.serverAssignor = req.RebalanceTimeout, req.ClientID, req.ClientHost, ""
	if md.Rack != nil {
		m.rackID = *md.Rack
	}
	names := sortedTopics(md.Topics)
	bump := !slices.Equal(names, m.names) || m.regex != ""
	m.names = names
	m.setRegex("")
	g.refreshTargetsLocked(bump)
	ids, _, counts := g.s.topicIndexes()
	g.reconcileLocked(m, ownedOf(md, ids, counts))
	g.scheduleConsumerSessionLocked(m)
	rt := m.rebalanceTimeout
	m.classic.syncTimer = time.AfterFunc(rt, func() { g.classicTimedOut(m, "did not send SyncGroup within its rebalance timeout", rt) })
	res := JoinResult{Generation: m.cur.Epoch, ProtocolType: consumerProtocolType, Protocol: m.classic.protocol(), MemberID: id}
	c := make(chan joinOutcome, 1)
	stored := g.storeConsumerLocked()
	g.s.loop.Go(func() {
		if err := <-stored; err != nil {
			c <- joinOutcome{err: err}
			return
		}
		c <- joinOutcome{res: res}
	})
	return c, JoinResult{}, nil
}

// replaceStaticLocked gives a static instance a new member ID: the new
// member takes over the old one's subscription, target and partitions at
// epoch 0 (reconciled up to the target's at once), as Kafka's static
// member replacement.
func (g *group) replaceStaticLocked(old *consumerMember, id string) *consumerMember {
	m := &consumerMember{
		id: id, instanceID: old.instanceID, names: old.names, serverAssignor: old.serverAssignor, rackID: old.rackID,
		rebalanceTimeout: old.rebalanceTimeout, target: old.target,
		cur: assign.Current{Assigned: old.cur.Assigned, Revoking: assign.Partitions{}, Since: old.cur.Since},
	}
	m.setRegex(old.regex)
	g.removeConsumerMemberLocked(old)
	g.mu.consumer.members[id] = m
	g.holdLocked(m)
	g.mu.state = Stable
	g.s.log.Info("static group member replaced", "group", g.id, "instance", m.instanceID, "old_member", old.id, "member", id)
	return m
}

// classicMemberLocked finds the classic member a SyncGroup or Heartbeat
// names, fencing an instance now held by another member ID.
func (g *group) classicMemberLocked(memberID, instanceID string) (*consumerMember, error) {
	cg := g.mu.consumer
	m := cg.members[memberID]
	if instanceID != "" {
		m = cg.byInstance(instanceID)
		switch {
		case m == nil:
			return nil, fmt.Errorf("%w: member with instance id %s is not a member of group %s", ErrUnknownMember, instanceID, g.id)
		case m.id != memberID:
			return nil, fmt.Errorf("%w: static member %s with instance id %s was fenced by member %s", ErrFencedInstanceID, memberID, instanceID, m.id)
		}
	}
	switch {
	case m == nil:
		return nil, fmt.Errorf("%w: member %s is not a member of group %s", ErrUnknownMember, memberID, g.id)
	case m.classic == nil:
		return nil, fmt.Errorf("%w: member %s does not use the classic protocol", ErrUnknownMember, memberID)
	}
	return m, nil
}

// syncClassicToConsumerLocked serves a SyncGroup from a classic member of a
// consumer group: its current assignment, once what it was told is stored.
func (g *group) syncClassicToConsumerLocked(req SyncRequest) (chan syncOutcome, SyncResult, error) {
	m, err := g.classicMemberLocked(req.MemberID, req.InstanceID)
	if err != nil {
		return nil, SyncResult{}, err
	}
	switch {
	case req.Generation != m.cur.Epoch:
		return nil, SyncResult{}, fmt.Errorf("%w: the generation %d is not the member epoch %d of member %s", ErrIllegalGeneration, req.Generation, m.cur.Epoch, m.id)
	case req.ProtocolType != nil && *req.ProtocolType != consumerProtocolType,
		req.Protocol != nil && *req.Protocol != m.classic.protocol():
		return nil, SyncResult{}, fmt.Errorf("%w: member %s sent another protocol than its join was answered with", ErrInconsistentProtocol, m.id)
	case g.rejoinDueLocked(m):
		g.scheduleRejoinLocked(m)
		return nil, SyncResult{}, ErrRebalanceInProgress
	}
	if t := m.classic.syncTimer; t != nil {
		t.Stop()
		m.classic.syncTimer = nil
	}
	g.scheduleConsumerSessionLocked(m)
	_, names, _ := g.s.topicIndexes()
	res := SyncResult{ProtocolType: consumerProtocolType, Protocol: m.classic.protocol(), Assignment: encodeAssignment(m.cur.Assigned, assignmentVersion(m.classic), names)}
	stored := g.storedLocked()
	if stored == nil {
		return nil, res, nil
	}
	c := make(chan syncOutcome, 1)
	g.s.loop.Go(func() {
		c <- syncOutcome{res: res, err: <-stored}
	})
	return c, SyncResult{}, nil
}

// rejoinDueLocked reports whether a classic member's SyncGroup comes too
// late: the group epoch moved past the member since its JoinGroup (unless
// it is revoking: it joins again once it has).
func (g *group) rejoinDueLocked(m *consumerMember) bool {
	return g.mu.generation > m.cur.Epoch && m.cur.State != assign.UnrevokedPartitions
}

// scheduleRejoinLocked fences a classic member told to rejoin that does
// not within its rebalance timeout (unless a timer already runs).
func (g *group) scheduleRejoinLocked(m *consumerMember) {
	if m.classic.rejoinTimer != nil {
		return
	}
	rt := m.rebalanceTimeout
	m.classic.rejoinTimer = time.AfterFunc(rt, func() { g.classicTimedOut(m, "did not rejoin within its rebalance timeout", rt) })
}

// classicTimedOut fences a classic member that missed its sync or rejoin.
func (g *group) classicTimedOut(m *consumerMember, what string, timeout time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cg := g.mu.consumer
	if g.mu.unloaded || cg == nil || cg.members[m.id] != m {
		return
	}
	g.s.log.Info("classic member of consumer group "+what, "group", g.id, "member", m.id, "rebalance_timeout", timeout)
	g.fenceConsumerMemberLocked(m)
}

// heartbeatClassicToConsumerLocked serves a Heartbeat from a classic
// member of a consumer group.
func (g *group) heartbeatClassicToConsumerLocked(req HeartbeatRequest) error {
	m, err := g.classicMemberLocked(req.MemberID, req.InstanceID)
	if err != nil {
		return err
	}
	if req.Generation != m.cur.Epoch {
		return fmt.Errorf("%w: the generation %d is not the member epoch %d of member %s", ErrIllegalGeneration, req.Generation, m.cur.Epoch, m.id)
	}
	g.scheduleConsumerSessionLocked(m)
	// Subscribed topics created, deleted or grown move the epoch on here
	// too (a group may have only classic members), as consumer heartbeats
	// do; the members then rejoin to take their new targets.
	if g.refreshTargetsLocked(false) {
		g.storeConsumerLocked()
	}
	if g.mu.generation > m.cur.Epoch || m.cur.State == assign.UnrevokedPartitions ||
		(m.cur.State == assign.UnreleasedPartitions && !g.waitsOnHeldLocked(m)) {
		g.scheduleRejoinLocked(m)
		return ErrRebalanceInProgress
	}
	return nil
}

// waitsOnHeldLocked reports whether a partition of the member's target
// that it does not hold yet is still held by another member.
func (g *group) waitsOnHeldLocked(m *consumerMember) bool {
	for t, ps := range m.target {
		for _, p := range ps {
			if m.cur.Assigned.Has(t, p) {
				continue
			}
			if o, ok := g.mu.consumer.owners[topicPartitionID{t, p}]; ok && o != m.id {
				return true
			}
		}
	}
	return false
}

// leaveClassicToConsumerLocked removes a classic member of a consumer
// group that sent LeaveGroup (by member ID, or by instance ID); the
// caller rebalances once for all that left.
func (g *group) leaveClassicToConsumerLocked(lm LeaveMember) error {
	cg := g.mu.consumer
	var m *consumerMember
	if lm.InstanceID != "" {
		m = cg.byInstance(lm.InstanceID)
		switch {
		case m == nil:
			return fmt.Errorf("%w: instance id %s is unknown", ErrUnknownMember, lm.InstanceID)
		case lm.MemberID != "" && lm.MemberID != m.id:
			return fmt.Errorf("%w: static member %s with instance id %s was fenced by member %s", ErrFencedInstanceID, lm.MemberID, lm.InstanceID, m.id)
		}
	} else if m = cg.members[lm.MemberID]; m == nil {
		return fmt.Errorf("%w: member %s is not a member of group %s", ErrUnknownMember, lm.MemberID, g.id)
	}
	if m.classic == nil {
		return fmt.Errorf("%w: member %s does not use the classic protocol", ErrUnknownMember, m.id)
	}
	g.s.log.Info("classic member left consumer group", "group", g.id, "member", m.id)
	g.removeConsumerMemberLocked(m)
	return nil
}

// canUpgradeLocked reports whether a classic group with members may become
// a consumer group: the policy allows it, every broker stores mixed
// groups, and the group uses the consumer protocol with subscriptions that
// parse.
func (g *group) canUpgradeLocked() bool {
	if !g.s.cfg.Migration.upgrades() || !g.s.mixedGroups() || g.mu.protocolType != consumerProtocolType ||
		full(len(g.mu.members), g.s.cfg.ConsumerMaxSize) {
		return false
	}
	for _, m := range g.mu.members {
		if len(m.protocols) == 0 {
			return false
		}
		if _, err := subscription(g.classicMetadataLocked(m)); err != nil {
			return false
		}
	}
	return true
}

// classicMetadataLocked is a classic member's subscription: its metadata
// for the group's protocol, or its first protocol's before one is
// selected.
func (g *group) classicMetadataLocked(m *member) []byte {
	if md := metadataFor(m, g.mu.protocol); md != nil {
		return md
	}
	return m.protocols[0].Metadata
}

// upgradeLocked turns a classic group with members into a consumer group
// (canUpgradeLocked said it may). Joins and syncs waiting for a rebalance
// are answered REBALANCE_IN_PROGRESS: those members join the consumer
// group. The members keep their IDs, generation (as their epoch), and
// assignments (as their targets until the joining member moves the epoch
// on).
func (g *group) upgradeLocked() {
	classic := g.sortedMembersLocked()
	for _, m := range classic {
		g.failWaitersLocked(m, ErrRebalanceInProgress)
	}
	g.stopAllLocked()
	g.mu.storing, g.mu.assignments = false, nil
	gen := g.mu.generation
	cg := g.becomeConsumerLocked()
	ids, _, counts := g.s.topicIndexes()
	for _, c := range classic {
		md, _ := subscription(g.classicMetadataLocked(c))
		m := &consumerMember{
			id: c.id, instanceID: c.instanceID, clientID: c.clientID, clientHost: c.clientHost, rebalanceTimeout: c.rebalanceTimeout,
			classic: &classicMember{sessionTimeout: c.sessionTimeout, protocols: c.protocols},
		}
		if md.Rack != nil {
			m.rackID = *md.Rack
		}
		m.names = sortedTopics(md.Topics)
		assigned := assignedOf(c.assignment, ids, counts)
		// A partition two members were assigned (never, in a well-run
		// group) stays with the first.
		for t, ps := range assigned {
			assigned[t] = slices.DeleteFunc(ps, func(p int32) bool { _, held := cg.owners[topicPartitionID{t, p}]; return held })
		}
		assigned = assign.Normalize(assigned)
		since := map[assign.TopicPartition]int32{}
		for t, ps := range assigned {
			for _, p := range ps {
				since[assign.TopicPartition{Topic: t, Partition: p}] = gen
			}
		}
		m.cur = assign.Current{Epoch: gen, PreviousEpoch: gen, State: assign.Stable, Assigned: assigned, Revoking: assign.Partitions{}, Since: since}
		m.target = assigned.Clone()
		cg.members[m.id] = m
		g.holdLocked(m)
		g.scheduleConsumerSessionLocked(m)
	}
	g.mu.members, g.mu.static, g.mu.leader = map[string]*member{}, map[string]string{}, ""
	g.mu.state = Stable
	g.s.log.Info("classic group upgraded to a consumer group", "group", g.id, "generation", gen, "members", len(classic))
}

// removeConsumerAndRebalanceLocked removes a member the group lost (it
// left, or was fenced) and rebalances.
func (g *group) removeConsumerAndRebalanceLocked(m *consumerMember) <-chan error {
	g.removeConsumerMemberLocked(m)
	return g.rebalanceConsumerLocked()
}

// rebalanceConsumerLocked stores a consumer group that lost members:
// downgraded to a classic group when only classic members remain and the
// policy allows it, else with the epoch bumped and new targets.
func (g *group) rebalanceConsumerLocked() <-chan error {
	cg := g.mu.consumer
	if len(cg.members) > 0 && g.s.cfg.Migration.downgrades() && !full(len(cg.members)-1, g.s.cfg.MaxSize) && !slices.ContainsFunc(g.sortedConsumerMembersLocked(), func(o *consumerMember) bool { return o.classic == nil }) {
		return g.downgradeLocked()
	}
	g.refreshTargetsLocked(true)
	return g.storeConsumerLocked()
}

// downgradeLocked turns a consumer group whose members are all classic
// into a classic group at the same generation, each member with its
// current assignment, and starts a rebalance so its leader assigns.
func (g *group) downgradeLocked() <-chan error {
	cms := g.sortedConsumerMembersLocked()
	g.stopConsumerTimersLocked()
	g.mu.consumer = nil
	g.mu.protocolType = consumerProtocolType
	_, names, _ := g.s.topicIndexes()
	now := time.Now()
	for _, cm := range cms {
		m := &member{
			id: cm.id, instanceID: cm.instanceID, clientID: cm.clientID, clientHost: cm.clientHost,
			sessionTimeout: cm.classic.sessionTimeout, rebalanceTimeout: cm.rebalanceTimeout,
			protocolType: consumerProtocolType, protocols: cm.classic.protocols,
			assignment: encodeAssignment(cm.cur.Assigned, assignmentVersion(cm.classic), names),
			synced:     true, lastHeartbeat: now,
		}
		g.mu.members[m.id] = m
		if m.instanceID != "" {
			g.mu.static[m.instanceID] = m.id
		}
		g.scheduleSessionLocked(m, m.sessionTimeout)
	}
	g.mu.leader = g.firstMemberLocked()
	g.mu.protocol = g.selectProtocolLocked()
	g.mu.state = Stable
	g.s.log.Info("consumer group downgraded to a classic group", "group", g.id, "generation", g.mu.generation, "members", len(cms))
	done := make(chan error, 1)
	g.storeLocked(nil, func(err error) { done <- err })
	g.prepareRebalanceLocked("downgraded from a consumer group")
	return done
}

// consumerGroupFull is the error for a new member of a full consumer
// group.
func consumerGroupFull(group string, maxSize int) error {
	return fmt.Errorf("%w: consumer group %s has %d members, the most it may have (kafka.group-consumer-max-size)", ErrGroupMaxSizeReached, group, maxSize)
}

// classicRecord is the stored form of a classic member's protocols.
func classicRecord(c *classicMember) []raftsm.ClassicProtocol {
	if c == nil {
		return nil
	}
	out := make([]raftsm.ClassicProtocol, len(c.protocols))
	for i, p := range c.protocols {
		out[i] = raftsm.ClassicProtocol{Name: p.Name, Metadata: p.Metadata}
	}
	return out
}

// classicFromRecord brings back a classic member's protocols.
func classicFromRecord(mr raftsm.GroupMemberRecord) *classicMember {
	if mr.Consumer == nil || len(mr.Consumer.Classic) == 0 {
		return nil
	}
	c := &classicMember{sessionTimeout: time.Duration(mr.SessionTimeoutMs) * time.Millisecond}
	for _, p := range mr.Consumer.Classic {
		c.protocols = append(c.protocols, Protocol{Name: p.Name, Metadata: p.Metadata})
	}
	return c
}

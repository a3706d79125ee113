package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/lni/dragonboat/v4"

	"github.com/chronik-go/chronik/core/adminhttp"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/raftsm"
)

// MaxMetaVoters bounds the voting replicas of the meta and coordinator
// shards; further brokers hold non-voting replicas.
const MaxMetaVoters = 5

// Controller drives membership changes. It runs on every broker:
//
//   - Partition moves are driven by each partition's Raft leader (the only
//     broker that can read the shard's membership linearizably and whose
//     high watermark is the reference): add every new target replica as
//     non-voting (deleting first an old replica of the same broker, whose
//     address it reuses), wait until the new replica's high watermark, read
//     from its broker's /v1/status, reaches the leader's high watermark
//     read just before, promote it, hand leadership to a target replica
//     when the leader itself is leaving, delete the replicas that are not
//     in the target, commit the target as the placement in the meta shard
//     and ask the preferred replica to lead. Every step is one Dragonboat
//     membership change with the ConfigChangeID just read (OrderedConfigChange),
//     so a stale controller is rejected, and every step is re-derived from
//     the membership on the next tick, so a leader change mid-move simply
//     continues on the new leader.
//   - The meta and coordinator shards ("system shards", replica ID = broker
//     ID) are kept by the meta leader: every registered broker gets a
//     non-voting replica, decommissioned brokers are deleted after a
//     non-voting broker is promoted to keep min(5, brokers) voters.
type Controller struct {
	s      *Service
	store  *raftsm.Store
	nodeID int32
	log    *slog.Logger
	admin  *adminhttp.Client

	done chan struct{} // closed when Run returns

	mu       sync.Mutex
	progress map[uint64]MoveProgress
}

// MoveProgress is the state of one partition move as its leader sees it,
// served at GET /v1/reassignments.
type MoveProgress struct {
	Reassignment
	Leader   int32  `json:"leader"`
	Phase    string `json:"phase"`
	LeaderHW int64  `json:"leader_high_watermark"`
	// ReplicaHW is each adding broker's high watermark (-1 when unknown):
	// the new replica has caught up when it reaches LeaderHW.
	ReplicaHW map[int32]int64 `json:"replica_high_watermarks"`
	Error     string          `json:"error,omitempty"`
	Updated   time.Time       `json:"updated"`
}

// NewController returns the controller of this broker.
// admin calls the other brokers' admin APIs (for the adding replicas'
// progress).
func NewController(s *Service, store *raftsm.Store, admin *adminhttp.Client, log *slog.Logger) *Controller {
	return &Controller{
		s: s, store: store, nodeID: s.set.NodeID, log: log,
		admin: admin, progress: map[uint64]MoveProgress{}, done: make(chan struct{}),
	}
}

// Wait blocks until Run has returned (it must have been started).
func (c *Controller) Wait() { <-c.done }

// Run ticks every interval until ctx ends.
func (c *Controller) Run(ctx context.Context, interval time.Duration) {
	defer close(c.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.tick(ctx)
		}
	}
}

// Progress lists the moves this broker drives (as their leader).
func (c *Controller) Progress() []MoveProgress {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]MoveProgress, 0, len(c.progress))
	for _, p := range c.progress {
		if time.Since(p.Updated) < 10*time.Second {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Topic < out[j].Topic || out[i].Topic == out[j].Topic && out[i].Partition < out[j].Partition
	})
	return out
}

func (c *Controller) tick(ctx context.Context) {
	nh := c.s.nh
	view := c.s.meta.View()
	active := map[uint64]bool{}
	for _, t := range view.Topics {
		for i, p := range t.Partitions {
			if !p.Reassigning() {
				continue
			}
			tp := partition.TP{Topic: t.Name, Partition: int32(i)}
			me, ok := c.localReplica(tp, p.ShardID)
			if !ok {
				continue
			}
			if id, _, valid, err := nh.GetLeaderID(p.ShardID); err != nil || !valid || id != me {
				continue
			}
			active[p.ShardID] = true
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			mp := MoveProgress{Reassignment: toReassignment(t.Name, int32(i), p), Leader: c.nodeID, ReplicaHW: map[int32]int64{}, LeaderHW: -1}
			if err := c.step(sctx, t, tp, p, me, &mp); err != nil {
				mp.Error = err.Error()
				c.log.Debug("partition move step", "topic", tp.Topic, "partition", tp.Partition, "err", err)
			}
			cancel()
			mp.Updated = time.Now()
			c.mu.Lock()
			c.progress[p.ShardID] = mp
			c.mu.Unlock()
		}
	}
	c.mu.Lock()
	for shard := range c.progress {
		if !active[shard] {
			delete(c.progress, shard)
		}
	}
	c.mu.Unlock()
	if id, _, ok, err := nh.GetLeaderID(raftsm.MetaShardID); err == nil && ok && raftsm.BrokerOfReplica(id) == c.nodeID {
		c.systemShards(ctx)
	}
	if ctx.Err() == nil {
		c.recordRoles()
	}
}

// localReplica returns our replica ID of a shard if we run it.
func (c *Controller) localReplica(tp partition.TP, shard uint64) (uint64, bool) {
	for _, r := range c.s.parts.Replicas() {
		if r.ShardID == shard && r.TP == tp {
			return r.ReplicaID, true
		}
	}
	return 0, false
}

// raftAddr resolves a broker's Raft address through the registry.
func (c *Controller) raftAddr(node int32) (string, error) {
	r, ok := c.s.BrokerRecord(node)
	if !ok || r.Raft == "" {
		return "", fmt.Errorf("broker %d has no known Raft address", node)
	}
	return r.Raft, nil
}

// step makes one membership change (or the final commit) of a move.
func (c *Controller) step(ctx context.Context, t *raftsm.TopicRecord, tp partition.TP, p raftsm.PartitionRecord, me uint64, mp *MoveProgress) error {
	nh := c.s.nh
	m, err := nh.SyncGetShardMembership(ctx, p.ShardID)
	if err != nil {
		return fmt.Errorf("read membership: %w", err)
	}
	target := map[uint64]int32{}
	for i, n := range p.Target {
		target[p.TargetReplicas[i]] = n
	}
	isMember := func(id uint64) bool {
		_, v := m.Nodes[id]
		_, nv := m.NonVotings[id]
		return v || nv
	}
	var leaving []uint64 // members not in the target, voters last
	for id := range m.NonVotings {
		if _, ok := target[id]; !ok {
			leaving = append(leaving, id)
		}
	}
	for id := range m.Nodes {
		if _, ok := target[id]; !ok {
			leaving = append(leaving, id)
		}
	}
	// handOff moves leadership to a voting target replica before we delete
	// our own replica.
	handOff := func() error {
		for _, id := range p.TargetReplicas {
			if _, voter := m.Nodes[id]; voter && id != me {
				mp.Phase = "transferring leadership"
				return nh.RequestLeaderTransfer(p.ShardID, id)
			}
		}
		return fmt.Errorf("no voting target replica to hand leadership to yet")
	}
	del := func(id uint64) error {
		if id == me {
			return handOff()
		}
		mp.Phase = fmt.Sprintf("removing replica %d", id)
		if err := nh.SyncRequestDeleteReplica(ctx, p.ShardID, id, m.ConfigChangeID); err != nil {
			return fmt.Errorf("delete replica %d: %w", id, err)
		}
		c.log.Info("partition move: removed replica", "topic", tp.Topic, "partition", tp.Partition, "replica", id)
		return nil
	}
	// 1. Add the new replicas as non-voting.
	for i, id := range p.TargetReplicas {
		if isMember(id) {
			continue
		}
		if _, gone := m.Removed[id]; gone {
			return fmt.Errorf("target replica %d was already deleted from the group", id)
		}
		node := p.Target[i]
		addr, err := c.raftAddr(node)
		if err != nil {
			return err
		}
		// A broker holds one replica per shard and Dragonboat refuses two
		// members at one address: a replaced replica goes first.
		for _, old := range leaving {
			a := m.Nodes[old]
			if a == "" {
				a = m.NonVotings[old]
			}
			if a == addr {
				return del(old)
			}
		}
		mp.Phase = fmt.Sprintf("adding replica %d on broker %d", id, node)
		if err := nh.SyncRequestAddNonVoting(ctx, p.ShardID, id, addr, m.ConfigChangeID); err != nil {
			return fmt.Errorf("add non-voting replica %d on broker %d: %w", id, node, err)
		}
		c.log.Info("partition move: added non-voting replica", "topic", tp.Topic, "partition", tp.Partition, "replica", id, "broker", node)
		return nil
	}
	// 2. Promote caught-up non-voting target replicas.
	st, err := c.s.parts.PartitionState(tp)
	if err != nil {
		return err
	}
	mp.LeaderHW = st.HighWatermark
	waiting := false
	for i, id := range p.TargetReplicas {
		if _, nv := m.NonVotings[id]; !nv {
			continue
		}
		node := p.Target[i]
		hw := c.replicaHW(ctx, node, p.ShardID, id)
		mp.ReplicaHW[node] = hw
		if hw < st.HighWatermark {
			waiting = true
			continue
		}
		addr, err := c.raftAddr(node)
		if err != nil {
			return err
		}
		mp.Phase = fmt.Sprintf("promoting replica %d on broker %d", id, node)
		if err := nh.SyncRequestAddReplica(ctx, p.ShardID, id, addr, m.ConfigChangeID); err != nil {
			return fmt.Errorf("promote replica %d on broker %d: %w", id, node, err)
		}
		c.log.Info("partition move: promoted caught-up replica", "topic", tp.Topic, "partition", tp.Partition, "replica", id, "broker", node, "high_watermark", hw)
		return nil
	}
	if waiting {
		mp.Phase = "catching up"
		return nil
	}
	// 3. Delete the replicas that leave (our own last, after a hand-off).
	slices.SortFunc(leaving, func(a, b uint64) int {
		switch {
		case a == me:
			return 1
		case b == me:
			return -1
		}
		return 0
	})
	if len(leaving) > 0 {
		return del(leaving[0])
	}
	// 4. Commit the target as the placement, then prefer its first replica.
	mp.Phase = "committing placement"
	cmd := &raftsm.ReassignCommand{Topic: t.Name, ID: t.ID, Partition: tp.Partition, ExpectReplicas: p.Replicas, ExpectTarget: p.TargetReplicas}
	if err := c.s.proposeReassign(ctx, raftsm.EncodeCompleteReassignment(cmd)); err != nil {
		return err
	}
	c.log.Info("partition move complete", "topic", tp.Topic, "partition", tp.Partition, "replicas", p.Target)
	if p.TargetReplicas[0] != me {
		_ = nh.RequestLeaderTransfer(p.ShardID, p.TargetReplicas[0])
	}
	return nil
}

// replicaHW reads a replica's high watermark from its broker's admin API,
// -1 when it cannot.
func (c *Controller) replicaHW(ctx context.Context, node int32, shard, replica uint64) int64 {
	r, ok := c.s.BrokerRecord(node)
	if !ok || r.HTTP == "" {
		return -1
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := c.admin.Do(ctx, http.MethodGet, r.HTTP, "/v1/status", nil)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var st NodeStatus
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&st) != nil {
		return -1
	}
	for _, rs := range st.Replicas {
		if rs.Shard == shard && rs.Replica == replica {
			return rs.HighWatermark
		}
	}
	return -1
}

// SystemShards are the meta shard and the coordinator shards.
func (s *Service) SystemShards() []uint64 {
	out := []uint64{raftsm.MetaShardID}
	for i := range s.set.CoordinatorShards {
		out = append(out, raftsm.FirstCoordinatorShardID+uint64(i))
	}
	return out
}

// systemShards keeps the meta and coordinator shards' memberships in line
// with the registry; one change per shard per tick.
func (c *Controller) systemShards(ctx context.Context) {
	nh := c.s.nh
	live, removed := c.s.records()
	local := map[uint64]bool{}
	for _, si := range nh.GetNodeHostInfo(dragonboat.NodeHostInfoOption{SkipLogInfo: true}).ShardInfoList {
		local[si.ShardID] = true
	}
	for _, shard := range c.s.SystemShards() {
		if !local[shard] {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := c.systemShard(sctx, shard, live, removed); err != nil && !dragonboat.IsTempError(err) {
			c.log.Warn("cannot update system shard membership", "shard", shard, "err", err)
		}
		cancel()
	}
}

func (c *Controller) systemShard(ctx context.Context, shard uint64, live map[int32]BrokerRecord, removed map[int32]bool) error {
	nh := c.s.nh
	m, err := nh.SyncGetShardMembership(ctx, shard)
	if err != nil {
		return err
	}
	ids := make([]int32, 0, len(live))
	for id := range live {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	want := func(b int32) uint64 { return raftsm.SystemReplicaID(b, live[b].Generation) }
	// Members to delete: decommissioned brokers, and the old replica IDs of
	// brokers that came back with a wiped data dir (a new generation).
	var doomed []uint64
	voters := 0
	for rid := range m.Nodes {
		b := raftsm.BrokerOfReplica(rid)
		if _, ok := live[b]; (ok || removed[b]) && (removed[b] || rid != want(b)) {
			doomed = append(doomed, rid)
		} else {
			voters++
		}
	}
	for rid := range m.NonVotings {
		b := raftsm.BrokerOfReplica(rid)
		if _, ok := live[b]; (ok || removed[b]) && (removed[b] || rid != want(b)) {
			doomed = append(doomed, rid)
		}
	}
	slices.Sort(doomed)
	addrInUse := func(addr string) uint64 {
		for _, rid := range doomed {
			if m.Nodes[rid] == addr || m.NonVotings[rid] == addr {
				return rid
			}
		}
		return 0
	}
	deleteMember := func(rid uint64) error {
		if leader, _, ok, err := nh.GetLeaderID(shard); err == nil && ok && leader == rid {
			for v := range m.Nodes {
				if !slices.Contains(doomed, v) {
					return nh.RequestLeaderTransfer(shard, v)
				}
			}
			return fmt.Errorf("no voter left to lead shard %d", shard)
		}
		c.log.Info("removing replica of a decommissioned or wiped broker from system shard", "shard", shard, "replica", rid, "broker", raftsm.BrokerOfReplica(rid))
		return nh.SyncRequestDeleteReplica(ctx, shard, rid, m.ConfigChangeID)
	}
	for _, id := range ids {
		rid := want(id)
		_, v := m.Nodes[rid]
		_, nv := m.NonVotings[rid]
		_, gone := m.Removed[rid]
		if v || nv || gone || live[id].Raft == "" {
			continue
		}
		if old := addrInUse(live[id].Raft); old != 0 {
			return deleteMember(old) // one member per address: the old one goes first
		}
		c.log.Info("adding broker to system shard as non-voting replica", "shard", shard, "broker", id, "replica", rid, "raft", live[id].Raft)
		return nh.SyncRequestAddNonVoting(ctx, shard, rid, live[id].Raft, m.ConfigChangeID)
	}
	if voters < min(MaxMetaVoters, len(live)) {
		for _, id := range ids {
			if addr, nv := m.NonVotings[want(id)]; nv {
				c.log.Info("promoting broker to voter of system shard", "shard", shard, "broker", id, "replica", want(id))
				return nh.SyncRequestAddReplica(ctx, shard, want(id), addr, m.ConfigChangeID)
			}
		}
	}
	if len(doomed) > 0 {
		return deleteMember(doomed[0])
	}
	return nil
}

// recordRoles remembers which local system-shard replicas are non-voting,
// for the next start.
func (c *Controller) recordRoles() {
	sys := map[uint64]bool{}
	for _, s := range c.s.SystemShards() {
		sys[s] = true
	}
	for _, si := range c.s.nh.GetNodeHostInfo(dragonboat.NodeHostInfoOption{SkipLogInfo: true}).ShardInfoList {
		if !si.Pending && sys[si.ShardID] && c.store.NonVoting(si.ShardID) != si.IsNonVoting {
			if err := c.store.SetNonVoting(si.ShardID, si.IsNonVoting); err != nil {
				c.log.Warn("cannot record replica role", "shard", si.ShardID, "err", err)
			}
		}
	}
}

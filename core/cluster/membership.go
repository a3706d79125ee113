package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/chronik-go/chronik/raftsm"
)

// Cluster membership: the broker registry (static [[nodes]] config plus
// brokers registered at runtime in the meta shard), partition
// reassignments and broker decommissioning. The moves themselves are
// driven by the Controller (controller.go); the local replicas by the
// Reconciler.

// Membership errors.
var (
	ErrInvalidReplicaAssignment = errors.New("cluster: invalid replica assignment")
	ErrNoReassignment           = errors.New("cluster: no reassignment in progress")
	ErrUnknownBroker            = errors.New("cluster: unknown broker")
	ErrDecommission             = errors.New("cluster: cannot decommission broker")
)

// BrokerRecord is a broker with all its addresses.
type BrokerRecord = raftsm.BrokerRecord

// Reassignment is one partition being moved.
type Reassignment struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	ShardID   uint64  `json:"shard"`
	Replicas  []int32 `json:"replicas"` // current placement
	Target    []int32 `json:"target"`   // placement being moved to
	Adding    []int32 `json:"adding"`   // brokers getting a new replica (incl. replaced ones)
	Removing  []int32 `json:"removing"` // brokers whose replica goes away (incl. replaced ones)
}

// records returns every broker known from the static config and the
// registry (the registry wins), and the set of decommissioned IDs.
func (s *Service) records() (map[int32]BrokerRecord, map[int32]bool) {
	out := map[int32]BrokerRecord{}
	for _, r := range s.set.Static {
		out[r.ID] = r
	}
	removed := map[int32]bool{}
	for id, r := range s.meta.View().Brokers {
		if r.Removed {
			removed[id] = true
			delete(out, id)
			continue
		}
		out[id] = r
	}
	return out, removed
}

// BrokerRecords lists the live (not decommissioned) brokers with their
// addresses, sorted by ID.
func (s *Service) BrokerRecords() []BrokerRecord {
	recs, _ := s.records()
	out := make([]BrokerRecord, 0, len(recs))
	for _, r := range recs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// BrokerRecord returns one live broker's addresses.
func (s *Service) BrokerRecord(id int32) (BrokerRecord, bool) {
	recs, _ := s.records()
	r, ok := recs[id]
	return r, ok
}

// Removed reports whether a broker was decommissioned.
func (s *Service) Removed(id int32) bool { return s.meta.View().Brokers[id].Removed }

func toBroker(r BrokerRecord) Broker {
	host, port, _ := net.SplitHostPort(r.Kafka)
	p, _ := strconv.Atoi(port)
	return Broker{ID: r.ID, Host: host, Port: int32(p), Rack: r.Rack}
}

// RegisterBroker adds (or updates) a broker in the registry, so that it can
// host replicas and join the cluster; idempotent.
func (s *Service) RegisterBroker(ctx context.Context, r BrokerRecord) error {
	if r.ID < 1 || r.Raft == "" || r.Kafka == "" {
		return fmt.Errorf("%w: a broker needs an id >= 1, a kafka and a raft address", ErrInvalidConfig)
	}
	for _, o := range s.BrokerRecords() {
		if o.ID != r.ID && (o.Raft == r.Raft || o.Kafka == r.Kafka) {
			return fmt.Errorf("%w: broker %d already uses kafka %s / raft %s", ErrInvalidConfig, o.ID, o.Kafka, o.Raft)
		}
	}
	res, err := s.propose(ctx, raftsm.EncodeRegisterBroker(r))
	if err != nil {
		return err
	}
	if st := raftsm.ResultStatus(res.Data); st != raftsm.StatusOK {
		return fmt.Errorf("%w: register broker %d: %s", ErrInvalidConfig, r.ID, st)
	}
	return nil
}

// RegistryRecord returns broker id's record in the meta registry, if it
// ever registered (tombstones included).
func (s *Service) RegistryRecord(id int32) (BrokerRecord, bool) {
	r, ok := s.meta.View().Brokers[id]
	return r, ok
}

// Rejoin bumps the generation of a registered broker that lost its data,
// so it rejoins the meta and coordinator shards under new replica IDs
// (SystemReplicaID); it returns the new generation.
func (s *Service) Rejoin(ctx context.Context, id int32) (uint32, error) {
	res, err := s.propose(ctx, raftsm.EncodeRejoinBroker(id))
	if err != nil {
		return 0, err
	}
	if st := raftsm.ResultStatus(res.Data); st != raftsm.StatusOK {
		return 0, fmt.Errorf("%w %d: %s", ErrUnknownBroker, id, st)
	}
	return uint32(res.Value), nil
}

// Reassignments lists the partitions being moved.
func (s *Service) Reassignments() []Reassignment {
	var out []Reassignment
	for _, t := range s.meta.View().Topics {
		for i, p := range t.Partitions {
			if p.Reassigning() {
				out = append(out, toReassignment(t.Name, int32(i), p))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Topic < out[j].Topic || out[i].Topic == out[j].Topic && out[i].Partition < out[j].Partition
	})
	return out
}

func toReassignment(topic string, idx int32, p raftsm.PartitionRecord) Reassignment {
	r := Reassignment{Topic: topic, Partition: idx, ShardID: p.ShardID, Replicas: p.Nodes, Target: p.Target, Adding: []int32{}, Removing: []int32{}}
	for i, n := range p.Target {
		if !slices.Contains(p.Replicas, p.TargetReplicas[i]) {
			r.Adding = append(r.Adding, n)
		}
	}
	for i, n := range p.Nodes {
		if !slices.Contains(p.TargetReplicas, p.Replicas[i]) {
			r.Removing = append(r.Removing, n)
		}
	}
	return r
}

// AlterReassignment moves partition p of topic to the brokers in nodes
// (preferred leader first). nodes nil cancels, which is only possible
// when nothing is moving (ErrNoReassignment).
func (s *Service) AlterReassignment(ctx context.Context, topic string, p int32, nodes []int32) error {
	for attempt := 0; ; attempt++ {
		t, ok := s.meta.View().Topics[topic]
		if !ok || p < 0 || int(p) >= len(t.Partitions) {
			return fmt.Errorf("%w: %s/%d", ErrUnknownTopic, topic, p)
		}
		pr := t.Partitions[p]
		if nodes == nil {
			if !pr.Reassigning() {
				return fmt.Errorf("%w: %s/%d", ErrNoReassignment, topic, p)
			}
			return fmt.Errorf("%w: cancelling a reassignment is not supported; reassign %s/%d to its current replicas %v instead", ErrInvalidReplicaAssignment, topic, p, pr.Nodes)
		}
		if err := s.checkTarget(nodes); err != nil {
			return err
		}
		if slices.Equal(nodes, pr.Nodes) && !pr.Reassigning() {
			return nil
		}
		cmd := &raftsm.ReassignCommand{Topic: topic, ID: t.ID, Partition: p, ExpectReplicas: pr.Replicas, ExpectTarget: pr.TargetReplicas, Target: nodes}
		if err := s.proposeReassign(ctx, raftsm.EncodeAlterReassignment(cmd)); !errors.Is(err, errConflict) || attempt >= conflictRetries {
			return err
		}
	}
}

var errConflict = errors.New("cluster: placement changed concurrently")

func (s *Service) proposeReassign(ctx context.Context, cmd []byte) error {
	res, err := s.propose(ctx, cmd)
	if err != nil {
		return err
	}
	switch st := raftsm.ResultStatus(res.Data); st {
	case raftsm.StatusOK:
		return nil
	case raftsm.StatusConflict:
		return errConflict
	case raftsm.StatusUnknownTopic:
		return ErrUnknownTopic
	case raftsm.StatusUnknownBroker, raftsm.StatusMalformed:
		return fmt.Errorf("%w: %s", ErrInvalidReplicaAssignment, st)
	default:
		return fmt.Errorf("cluster: reassignment: %s", st)
	}
}

func (s *Service) checkTarget(nodes []int32) error {
	if len(nodes) == 0 {
		return fmt.Errorf("%w: no replicas given", ErrInvalidReplicaAssignment)
	}
	recs, _ := s.records()
	seen := map[int32]bool{}
	for _, n := range nodes {
		if seen[n] {
			return fmt.Errorf("%w: broker %d listed twice", ErrInvalidReplicaAssignment, n)
		}
		seen[n] = true
		if _, ok := recs[n]; !ok {
			return fmt.Errorf("%w: broker %d is not a registered broker (see chronik cluster add-node)", ErrInvalidReplicaAssignment, n)
		}
	}
	return nil
}

// ReplaceReplica asks for a new replica ID for node in partition p of topic
// (its data was lost: Dragonboat never lets an ID rejoin with empty state).
// The controller deletes the old ID from the Raft group and adds the new
// one, which catches up from the leader.
func (s *Service) ReplaceReplica(ctx context.Context, topic string, p int32, node int32) error {
	for attempt := 0; ; attempt++ {
		t, ok := s.meta.View().Topics[topic]
		if !ok || p < 0 || int(p) >= len(t.Partitions) {
			return fmt.Errorf("%w: %s/%d", ErrUnknownTopic, topic, p)
		}
		pr := t.Partitions[p]
		target := pr.Nodes
		if pr.Reassigning() {
			target = pr.Target
		}
		if !slices.Contains(target, node) {
			return nil
		}
		cmd := &raftsm.ReassignCommand{
			Topic: topic, ID: t.ID, Partition: p, ExpectReplicas: pr.Replicas, ExpectTarget: pr.TargetReplicas,
			Target: target, Fresh: []int32{node},
		}
		if err := s.proposeReassign(ctx, raftsm.EncodeAlterReassignment(cmd)); !errors.Is(err, errConflict) || attempt >= conflictRetries {
			return err
		}
	}
}

// DecommissionPlan is what Decommission started.
type DecommissionPlan struct {
	Broker int32          `json:"broker"`
	Moves  []Reassignment `json:"moves"`
}

// Decommission starts moving every replica off broker id, onto the other
// brokers (rack-aware, least loaded first), keeping each partition's
// replication factor. It refuses when the remaining brokers are too few
// for some partition. Call Deregister once Reassignments shows no move
// involving id.
func (s *Service) Decommission(ctx context.Context, id int32) (*DecommissionPlan, error) {
	recs, _ := s.records()
	if _, ok := recs[id]; !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownBroker, id)
	}
	others := make([]BrokerRecord, 0, len(recs))
	for _, r := range recs {
		if r.ID != id {
			others = append(others, r)
		}
	}
	view := s.meta.View()
	load := map[int32]int{}
	for _, t := range view.Topics {
		for _, p := range t.Partitions {
			for _, n := range placementOf(p) {
				load[n]++
			}
		}
	}
	plan := &DecommissionPlan{Broker: id, Moves: []Reassignment{}}
	type move struct {
		topic  string
		idx    int32
		target []int32
	}
	var moves []move
	names := make([]string, 0, len(view.Topics))
	for n := range view.Topics {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t := view.Topics[name]
		for i, p := range t.Partitions {
			cur := placementOf(p)
			at := slices.Index(cur, id)
			if at < 0 {
				continue
			}
			if len(cur) > len(others) {
				return nil, fmt.Errorf("%w %d: %s/%d has %d replicas but only %d other brokers would remain; add a broker first",
					ErrDecommission, id, name, i, len(cur), len(others))
			}
			repl := pickReplacement(others, cur, recs, load)
			target := slices.Clone(cur)
			target[at] = repl
			load[repl]++
			moves = append(moves, move{name, int32(i), target})
		}
	}
	for _, m := range moves {
		if err := s.AlterReassignment(ctx, m.topic, m.idx, m.target); err != nil {
			return plan, fmt.Errorf("reassign %s/%d to %v: %w", m.topic, m.idx, m.target, err)
		}
		t := s.meta.View().Topics[m.topic]
		plan.Moves = append(plan.Moves, toReassignment(m.topic, m.idx, t.Partitions[m.idx]))
	}
	return plan, nil
}

// placementOf is the partition's target if it is moving, else its nodes.
func placementOf(p raftsm.PartitionRecord) []int32 {
	if p.Reassigning() {
		return p.Target
	}
	return p.Nodes
}

// pickReplacement chooses a broker not in cur, preferring a rack none of
// cur's other brokers is in, then the least loaded, then the lowest ID.
func pickReplacement(cands []BrokerRecord, cur []int32, recs map[int32]BrokerRecord, load map[int32]int) int32 {
	racks := map[string]bool{}
	for _, n := range cur {
		racks[recs[n].Rack] = true
	}
	best, bestScore := int32(-1), [3]int{}
	for _, c := range cands {
		if slices.Contains(cur, c.ID) {
			continue
		}
		rackPenalty := 0
		if racks[c.Rack] {
			rackPenalty = 1
		}
		score := [3]int{rackPenalty, load[c.ID], int(c.ID)}
		if best < 0 || slices.Compare(score[:], bestScore[:]) < 0 {
			best, bestScore = c.ID, score
		}
	}
	return best
}

// Deregister tombstones a decommissioned broker once no partition places a
// replica on it; the controller then removes it from the meta and
// coordinator shards. Its ID can never be used again.
func (s *Service) Deregister(ctx context.Context, id int32) error {
	for name, t := range s.meta.View().Topics {
		for i, p := range t.Partitions {
			if slices.Contains(p.Nodes, id) || slices.Contains(p.Target, id) {
				return fmt.Errorf("%w %d: %s/%d still has a replica on it; decommission it first and wait for the moves", ErrDecommission, id, name, i)
			}
		}
	}
	if len(s.BrokerRecords()) <= 1 {
		return fmt.Errorf("%w %d: it is the last broker", ErrDecommission, id)
	}
	res, err := s.propose(ctx, raftsm.EncodeRemoveBroker(id))
	if err != nil {
		return err
	}
	if st := raftsm.ResultStatus(res.Data); st != raftsm.StatusOK {
		return fmt.Errorf("cluster: deregister broker %d: %s", id, st)
	}
	return nil
}

// ErrOldBrokers is a change that some broker's release does not apply.
var ErrOldBrokers = errors.New("cluster: a broker runs an older Chronik release")

// RequireLevel fails with ErrOldBrokers unless every registered broker that
// is not decommissioned last started with a release of at least level
// (raftsm.CommandLevel), so that every replica of the meta shard applies
// the commands of that level. what names the change for the error.
func (s *Service) RequireLevel(level uint16, what string) error {
	var old []string
	for id, r := range s.meta.View().Brokers {
		if !r.Removed && r.Level < level {
			old = append(old, strconv.Itoa(int(id)))
		}
	}
	if len(old) == 0 {
		return nil
	}
	sort.Strings(old)
	return fmt.Errorf("%w: %s need every broker on a release of command level %d or later, and broker(s) %s last started with an older one: upgrade them (or decommission them) first",
		ErrOldBrokers, what, level, strings.Join(old, ", "))
}

package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/lni/dragonboat/v4"

	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/raftsm"
)

// producerIDBlock is how many producer IDs one meta proposal reserves.
const producerIDBlock = 1000

// Settings are the broker-level values the cluster service reports and
// applies as defaults.
type Settings struct {
	ClusterID      string
	NodeID         int32
	AdvertisedAddr string // host:port clients connect to
	Rack           string
	// Brokers is the static cluster (config [[nodes]]); empty for a single
	// node, which then reports only itself.
	Brokers []Broker
	// Static is the [[nodes]] config with every address; brokers
	// registered at runtime in the meta shard add to it (membership.go).
	Static []BrokerRecord
	// CoordinatorShards is the number of consumer-group coordinator shards
	// (IDs 2 … 1+N), which the controller keeps on the brokers.
	CoordinatorShards        int
	DefaultPartitions        int32
	DefaultReplicationFactor int16
	MaxPartitionsPerTopic    int32
	// BrokerConfigs are reported by DescribeConfigs for the broker resource.
	BrokerConfigs []ConfigEntry
}

// Service is the cluster metadata service of one broker.
type Service struct {
	nh    *dragonboat.NodeHost
	meta  *raftsm.Meta
	parts *partition.Service
	set   Settings
	log   *slog.Logger

	pidMu struct {
		sync.Mutex
		next, end int64
	}
	// sizes caches TopicSizes for the meta view it was built from.
	sizes struct {
		sync.Mutex
		applied uint64
		list    []TopicSize
	}
}

// NewService returns the cluster service over a started meta shard.
func NewService(nh *dragonboat.NodeHost, meta *raftsm.Meta, parts *partition.Service, set Settings, log *slog.Logger) *Service {
	s := &Service{nh: nh, meta: meta, parts: parts, set: set, log: log}
	parts.SetSettingsFunc(s.topicSettings) // enforce topic configs on append (admin.go)
	return s
}

// ClusterID is reported in Metadata.
func (s *Service) ClusterID() string { return s.set.ClusterID }

// NodeID is this broker's ID.
func (s *Service) NodeID() int32 { return s.set.NodeID }

// ControllerID is the broker leading the meta shard, -1 if none.
func (s *Service) ControllerID() int32 {
	id, _, valid, err := s.nh.GetLeaderID(raftsm.MetaShardID)
	if err != nil || !valid {
		return -1
	}
	return raftsm.BrokerOfReplica(id) // meta replica IDs carry the broker ID
}

// Brokers lists the cluster's brokers, sorted by ID: the static config and
// the registered brokers, without decommissioned ones.
func (s *Service) Brokers() []Broker {
	if recs := s.BrokerRecords(); len(recs) > 0 {
		out := make([]Broker, 0, len(recs))
		for _, r := range recs {
			out = append(out, toBroker(r))
		}
		return out
	}
	if len(s.set.Brokers) > 0 {
		return append([]Broker(nil), s.set.Brokers...)
	}
	host, port, _ := net.SplitHostPort(s.set.AdvertisedAddr)
	p, _ := strconv.Atoi(port)
	return []Broker{{ID: s.set.NodeID, Host: host, Port: int32(p), Rack: s.set.Rack}}
}

func toTopic(r *raftsm.TopicRecord) Topic {
	t := Topic{Name: r.Name, ID: r.ID, Configs: r.Configs}
	for i, p := range r.Partitions {
		t.Partitions = append(t.Partitions, Partition{Index: int32(i), ShardID: p.ShardID, Nodes: p.Nodes, Replicas: p.Replicas})
	}
	return t
}

// Topics lists every topic, sorted by name.
func (s *Service) Topics() []Topic {
	v := s.meta.View()
	out := make([]Topic, 0, len(v.Topics))
	for _, r := range v.Topics {
		out = append(out, toTopic(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// TopicSize is a topic's name, ID and partition count.
type TopicSize struct {
	Name       string
	ID         [16]byte
	Partitions int32
}

// TopicSizes lists every topic's name, ID and partition count, sorted by
// name: what consumer groups match their subscriptions against on every
// heartbeat. The list is rebuilt only when the meta shard has applied
// something since; it is shared, so callers must not modify it.
func (s *Service) TopicSizes() []TopicSize {
	v := s.meta.View()
	s.sizes.Lock()
	defer s.sizes.Unlock()
	if s.sizes.list != nil && s.sizes.applied == v.Applied {
		return s.sizes.list
	}
	list := make([]TopicSize, 0, len(v.Topics))
	for _, r := range v.Topics {
		list = append(list, TopicSize{Name: r.Name, ID: r.ID, Partitions: int32(len(r.Partitions))})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	s.sizes.applied, s.sizes.list = v.Applied, list
	return list
}

// Topic looks a topic up by name.
func (s *Service) Topic(name string) (Topic, bool) {
	r, ok := s.meta.View().Topics[name]
	if !ok {
		return Topic{}, false
	}
	return toTopic(r), true
}

// TopicByID looks a topic up by UUID.
func (s *Service) TopicByID(id [16]byte) (Topic, bool) {
	for _, r := range s.meta.View().Topics {
		if r.ID == id {
			return toTopic(r), true
		}
	}
	return Topic{}, false
}

// CreateTopic validates spec and, unless validateOnly, commits the topic and
// waits until each partition has a leader (or ctx ends).
func (s *Service) CreateTopic(ctx context.Context, spec TopicSpec, validateOnly bool) (Topic, error) {
	if err := ValidateTopicName(spec.Name); err != nil {
		return Topic{}, err
	}
	if spec.Partitions == -1 {
		spec.Partitions = s.set.DefaultPartitions
	}
	if spec.ReplicationFactor == -1 {
		spec.ReplicationFactor = s.set.DefaultReplicationFactor
	}
	if spec.Partitions <= 0 || spec.Partitions > s.set.MaxPartitionsPerTopic {
		return Topic{}, fmt.Errorf("%w: %d (must be between 1 and %d)", ErrInvalidPartitions, spec.Partitions, s.set.MaxPartitionsPerTopic)
	}
	brokers := s.Brokers()
	if spec.ReplicationFactor <= 0 || int(spec.ReplicationFactor) > len(brokers) {
		return Topic{}, fmt.Errorf("%w: %d (must be between 1 and the %d live brokers)", ErrInvalidReplication, spec.ReplicationFactor, len(brokers))
	}
	if err := ValidateTopicConfigs(spec.Configs); err != nil {
		return Topic{}, err
	}
	if _, ok := s.Topic(spec.Name); ok {
		return Topic{}, fmt.Errorf("%w: %q", ErrTopicExists, spec.Name)
	}
	cmd := &raftsm.CreateTopicCommand{Name: spec.Name, Configs: spec.Configs, Nodes: place(brokers, spec.Partitions, spec.ReplicationFactor)}
	if validateOnly {
		return Topic{Name: spec.Name, Configs: spec.Configs, Partitions: make([]Partition, spec.Partitions)}, nil
	}
	if _, err := rand.Read(cmd.ID[:]); err != nil {
		return Topic{}, err
	}
	cmd.ID[6] = cmd.ID[6]&0x0f | 0x40 // UUID v4
	cmd.ID[8] = cmd.ID[8]&0x3f | 0x80
	res, err := s.propose(ctx, raftsm.EncodeCreateTopic(cmd))
	if err != nil {
		return Topic{}, err
	}
	switch raftsm.ResultStatus(res.Data) {
	case raftsm.StatusOK:
	case raftsm.StatusTopicExists:
		return Topic{}, fmt.Errorf("%w: %q", ErrTopicExists, spec.Name)
	default:
		return Topic{}, fmt.Errorf("cluster: create topic %q: %s", spec.Name, raftsm.ResultStatus(res.Data))
	}
	t, ok := s.Topic(spec.Name)
	if !ok {
		return Topic{}, fmt.Errorf("%w: %q was deleted while being created", ErrUnknownTopic, spec.Name)
	}
	return t, s.waitLeaders(ctx, t)
}

// place assigns replicas the way Kafka's rack-aware assignment does:
// brokers are ordered so that racks alternate, partition p's preferred
// leader is the (p mod n)-th, and followers follow it with a shift that
// grows every n partitions, so leaders and follower pairs spread evenly.
func place(brokers []Broker, partitions int32, rf int16) [][]int32 {
	order := rackAlternating(brokers)
	n := len(order)
	out := make([][]int32, partitions)
	for p := range out {
		first := p % n
		shift := p / n
		out[p] = append(out[p], order[first])
		for r := 1; r < int(rf); r++ {
			out[p] = append(out[p], order[(first+1+(shift+r-1)%(n-1))%n])
		}
	}
	return out
}

// rackAlternating orders broker IDs rack by rack in turn (a1, b1, c1, a2,
// …), each rack's brokers by ID; brokers without a rack form one rack.
func rackAlternating(brokers []Broker) []int32 {
	byRack := map[string][]int32{}
	var racks []string
	for _, b := range brokers {
		if _, ok := byRack[b.Rack]; !ok {
			racks = append(racks, b.Rack)
		}
		byRack[b.Rack] = append(byRack[b.Rack], b.ID)
	}
	sort.Strings(racks)
	for _, r := range racks {
		ids := byRack[r]
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	}
	out := make([]int32, 0, len(brokers))
	for i := 0; len(out) < len(brokers); i++ {
		for _, r := range racks {
			if i < len(byRack[r]) {
				out = append(out, byRack[r][i])
			}
		}
	}
	return out
}

// waitLeaders waits until every partition of t has a leader.
func (s *Service) waitLeaders(ctx context.Context, t Topic) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for _, p := range t.Partitions {
		for {
			tp := partition.TP{Topic: t.Name, Partition: p.Index}
			if s.parts.Has(tp) {
				if st, err := s.parts.PartitionState(tp); err == nil && st.Leader >= 0 {
					break
				}
			} else if _, _, ok := s.LeaderOf(p.ShardID); ok {
				break
			}
			select {
			case <-ctx.Done():
				return nil // created; clients retry LEADER_NOT_AVAILABLE
			case <-tick.C:
			}
		}
	}
	return nil
}

// DeleteTopic removes a topic; the reconciler stops its replicas and
// deletes their data.
func (s *Service) DeleteTopic(ctx context.Context, name string) error {
	if _, ok := s.Topic(name); !ok {
		return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	}
	res, err := s.propose(ctx, raftsm.EncodeDeleteTopic(name))
	if err != nil {
		return err
	}
	switch raftsm.ResultStatus(res.Data) {
	case raftsm.StatusOK:
		return nil
	case raftsm.StatusUnknownTopic:
		return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	default:
		return fmt.Errorf("cluster: delete topic %q: %s", name, raftsm.ResultStatus(res.Data))
	}
}

// TopicConfigs returns every topic config with its effective value.
func (s *Service) TopicConfigs(t Topic) []ConfigEntry { return EffectiveConfigs(t.Configs) }

// BrokerConfigs returns this broker's configs.
func (s *Service) BrokerConfigs() []ConfigEntry { return s.set.BrokerConfigs }

// InitProducerID hands out a fresh producer ID from a block reserved in the
// meta shard, so IDs are unique across restarts and brokers.
func (s *Service) InitProducerID(ctx context.Context) (int64, int16, error) {
	s.pidMu.Lock()
	defer s.pidMu.Unlock()
	if s.pidMu.next >= s.pidMu.end {
		// Twice applied, it only wastes a block.
		res, err := s.proposeRetrying(ctx, raftsm.EncodeAllocProducerIDs(producerIDBlock))
		if err != nil {
			return -1, -1, err
		}
		if st := raftsm.ResultStatus(res.Data); st != raftsm.StatusOK {
			return -1, -1, fmt.Errorf("cluster: allocate producer IDs: %s", st)
		}
		s.pidMu.next, s.pidMu.end = int64(res.Value), int64(res.Value)+producerIDBlock
	}
	id := s.pidMu.next
	s.pidMu.next++
	return id, 0, nil
}

// NextProducerID is the first producer ID the cluster has not handed out,
// as this broker's replica of the meta shard has applied it (what a backup
// keeps, so that a restored cluster never hands out an ID its restored
// records carry).
func (s *Service) NextProducerID() int64 { return s.meta.NextProducerID() }

// ReserveProducerIDs makes every producer ID below next count as handed
// out (a restore, before any producer initializes). Applying it again, or
// on several brokers at once, only wastes IDs.
func (s *Service) ReserveProducerIDs(ctx context.Context, next int64) error {
	alloc := func(n int64) (int64, error) {
		res, err := s.proposeRetrying(ctx, raftsm.EncodeAllocProducerIDs(uint64(n)))
		if err != nil {
			return 0, err
		}
		if st := raftsm.ResultStatus(res.Data); st != raftsm.StatusOK {
			return 0, fmt.Errorf("cluster: reserve producer IDs: %s", st)
		}
		return int64(res.Value), nil
	}
	first, err := alloc(1)
	if err != nil {
		return err
	}
	for at := first + 1; at < next; {
		n := min(next-at, maxProducerIDAlloc)
		if _, err := alloc(n); err != nil {
			return err
		}
		at += n
	}
	return nil
}

// maxProducerIDAlloc is the most IDs one allocation command reserves (the
// meta state machine refuses more).
const maxProducerIDAlloc = 1 << 20

// proposalAttemptTimeout bounds one attempt of proposeRetrying. A proposal
// made while this broker still takes a dead broker for the meta shard's
// leader is forwarded to it and lost, and nothing tells the proposer: a
// single attempt would wait out its whole deadline (5 s for a leader
// report when the meta leader was killed, bench/README.md "Three-process
// cluster").
const proposalAttemptTimeout = 500 * time.Millisecond

// proposeRetrying proposes cmd, which must be harmless to apply twice, in
// attempts of proposalAttemptTimeout until one commits or ctx ends.
func (s *Service) proposeRetrying(ctx context.Context, cmd []byte) (resultOf, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, proposalAttemptTimeout)
		res, err := s.propose(actx, cmd)
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, ErrNotController) {
			return res, err
		}
	}
}

// propose commits a meta command and returns its result.
func (s *Service) propose(ctx context.Context, cmd []byte) (resultOf, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	for {
		r, err := s.nh.SyncPropose(ctx, s.nh.GetNoOPSession(raftsm.MetaShardID), cmd)
		if err == nil {
			return resultOf{Value: r.Value, Data: r.Data}, nil
		}
		if !dragonboat.IsTempError(err) || ctx.Err() != nil {
			if errors.Is(err, dragonboat.ErrTimeout) || ctx.Err() != nil {
				return resultOf{}, fmt.Errorf("%w: %w", ErrNotController, err)
			}
			return resultOf{}, fmt.Errorf("cluster: meta proposal: %w", err)
		}
		select {
		case <-ctx.Done():
			return resultOf{}, fmt.Errorf("%w: %w", ErrNotController, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

type resultOf struct {
	Value uint64
	Data  []byte
}

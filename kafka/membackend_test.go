package kafka

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/chronik-go/chronik/core/batch"
	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/partition"
)

// memBackend is a small, real, single-node in-memory Backend for testing the
// protocol layer: topics in a map, each partition a slice of record batches
// whose base offsets and leader epochs are rewritten on append. It checks no
// CRCs and keeps no producer state; core/broker's tests cover those.
type memBackend struct {
	nodeID int32
	epoch  int32 // the leader epoch every partition reports

	mu struct {
		sync.Mutex
		host     string
		port     int32
		topics   map[string]*memTopic
		byID     map[[16]byte]*memTopic
		nextPID  int64
		watchers map[*memWatcher]struct{}
		// producers is what Producers reports, set by tests.
		producers map[partition.TP][]partition.Producer
		markers   []partition.TxnMarker // WriteTxnMarkers, in order
		prepared  [][]partition.TP      // PrepareReads calls, in order
	}
}

type memTopic struct {
	t    cluster.Topic
	logs []*memLog
}

type memLog struct {
	batches []memBatch
	start   int64
	next    int64 // high watermark
}

type memBatch struct {
	base, last int64
	maxTS      int64
	data       []byte
}

type memWatcher struct {
	tps map[partition.TP]bool
	ch  chan struct{}
}

// memPending is an already-resolved append.
type memPending struct {
	res partition.AppendResult
	err error
}

func (p memPending) Wait(context.Context) (partition.AppendResult, error) { return p.res, p.err }

func newMemBackend() *memBackend {
	b := &memBackend{nodeID: 1, epoch: 3}
	b.mu.topics = map[string]*memTopic{}
	b.mu.byID = map[[16]byte]*memTopic{}
	b.mu.nextPID = 1000
	b.mu.watchers = map[*memWatcher]struct{}{}
	return b
}

func (b *memBackend) setAddr(host string, port int32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.host, b.mu.port = host, port
}

func (b *memBackend) ClusterID() string   { return "chronik-test" }
func (b *memBackend) NodeID() int32       { return b.nodeID }
func (b *memBackend) ControllerID() int32 { return b.nodeID }

func (b *memBackend) Brokers() []cluster.Broker {
	b.mu.Lock()
	defer b.mu.Unlock()
	return []cluster.Broker{{ID: b.nodeID, Host: b.mu.host, Port: b.mu.port}}
}

func (b *memBackend) Topics() []cluster.Topic {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]cluster.Topic, 0, len(b.mu.topics))
	for _, t := range b.mu.topics {
		out = append(out, t.t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (b *memBackend) Topic(name string) (cluster.Topic, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.mu.topics[name]
	if !ok {
		return cluster.Topic{}, false
	}
	return t.t, true
}

func (b *memBackend) TopicByID(id [16]byte) (cluster.Topic, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.mu.byID[id]
	if !ok {
		return cluster.Topic{}, false
	}
	return t.t, true
}

func (b *memBackend) CreateTopic(_ context.Context, spec cluster.TopicSpec, validateOnly bool) (cluster.Topic, error) {
	if err := cluster.ValidateTopicName(spec.Name); err != nil {
		return cluster.Topic{}, err
	}
	if spec.Partitions == -1 {
		spec.Partitions = 1
	}
	if spec.ReplicationFactor == -1 {
		spec.ReplicationFactor = 1
	}
	if spec.ReplicationFactor != 1 {
		return cluster.Topic{}, fmt.Errorf("%w: %d, but there is only 1 broker", cluster.ErrInvalidReplication, spec.ReplicationFactor)
	}
	for k := range spec.Configs {
		if k != "retention.ms" && k != "cleanup.policy" {
			return cluster.Topic{}, fmt.Errorf("%w: unknown key %q", cluster.ErrInvalidConfig, k)
		}
	}
	t := cluster.Topic{Name: spec.Name, Configs: spec.Configs}
	_, _ = rand.Read(t.ID[:])
	for i := range spec.Partitions {
		t.Partitions = append(t.Partitions, cluster.Partition{Index: i, ShardID: uint64(100 + i), Nodes: []int32{b.nodeID}, Replicas: []uint64{1}})
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.mu.topics[spec.Name]; ok {
		return cluster.Topic{}, fmt.Errorf("%w: %q", cluster.ErrTopicExists, spec.Name)
	}
	if validateOnly {
		return t, nil
	}
	mt := &memTopic{t: t}
	for range t.Partitions {
		mt.logs = append(mt.logs, &memLog{})
	}
	b.mu.topics[t.Name] = mt
	b.mu.byID[t.ID] = mt
	return t, nil
}

func (b *memBackend) DeleteTopic(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.mu.topics[name]
	if !ok {
		return fmt.Errorf("%w: %q", cluster.ErrUnknownTopic, name)
	}
	delete(b.mu.topics, name)
	delete(b.mu.byID, t.t.ID)
	return nil
}

func (b *memBackend) TopicConfigs(t cluster.Topic) []cluster.ConfigEntry {
	defaults := []cluster.ConfigEntry{
		{Name: "cleanup.policy", Value: "delete", IsDefault: true},
		{Name: "retention.ms", Value: "604800000", IsDefault: true},
	}
	for i, e := range defaults {
		if v, ok := t.Configs[e.Name]; ok {
			defaults[i].Value, defaults[i].IsDefault = v, false
		}
	}
	return defaults
}

func (b *memBackend) BrokerConfigs() []cluster.ConfigEntry {
	return []cluster.ConfigEntry{
		{Name: "auto.create.topics.enable", Value: "true", ReadOnly: true},
		{Name: "sasl.jaas.config", Value: "secret", ReadOnly: true, Sensitive: true},
		{Name: "num.partitions", Value: "1", ReadOnly: true, IsDefault: true},
	}
}

func (b *memBackend) InitProducerID(context.Context) (int64, int16, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.nextPID++
	return b.mu.nextPID, 0, nil
}

// logLocked returns the log of tp.
func (b *memBackend) logLocked(tp partition.TP) (*memLog, error) {
	t, ok := b.mu.topics[tp.Topic]
	if !ok || tp.Partition < 0 || int(tp.Partition) >= len(t.logs) {
		return nil, fmt.Errorf("%w: %s/%d", partition.ErrUnknownPartition, tp.Topic, tp.Partition)
	}
	return t.logs[tp.Partition], nil
}

// ReadState is PartitionState: a memBackend's leadership never changes.
func (b *memBackend) ReadState(_ context.Context, tp partition.TP) (partition.State, error) {
	return b.PartitionState(tp)
}

// PrepareReads records the call: a memBackend's reads wait for nothing.
func (b *memBackend) PrepareReads(ctx context.Context, tps []partition.TP) context.Context {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.prepared = append(b.mu.prepared, slices.Clone(tps))
	return ctx
}

func (b *memBackend) PartitionState(tp partition.TP) (partition.State, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, err := b.logLocked(tp)
	if err != nil {
		return partition.State{}, err
	}
	return partition.State{Leader: b.nodeID, LeaderEpoch: b.epoch, LogStartOffset: l.start, HighWatermark: l.next, LastStableOffset: l.next}, nil
}

// Append is only here to satisfy Backend; the server's appendTo seam calls
// appendRecords instead (see Server.appendTo).
func (b *memBackend) Append(partition.TP, []byte) *partition.Pending {
	panic("memBackend.Append: tests use Server.appendTo = memBackend.appendRecords")
}

// AddTxnPartitions: the in-memory log verifies nothing.
func (b *memBackend) AddTxnPartitions(txn partition.TxnProduce, _ int64, _ int16, _ []partition.TP) partition.TxnProduce {
	return txn
}

// AppendTransactional: as Append.
func (b *memBackend) AppendTransactional(partition.TP, partition.TxnProduce, []byte) *partition.Pending {
	panic("memBackend.AppendTransactional: tests use Server.appendTo = memBackend.appendRecords")
}

// v2 record batch header offsets.
const (
	batchLengthOffset    = 8
	batchEpochOffset     = 12
	batchMagicOffset     = 16
	batchLastDeltaOffset = 23
	batchMaxTSOffset     = 35
	batchHeaderSize      = 61
)

func (b *memBackend) appendRecords(tp partition.TP, _ partition.TxnProduce, records []byte) appendWaiter {
	var parsed []memBatch
	for rest := records; len(rest) > 0; {
		if len(rest) < batchHeaderSize {
			return memPending{err: fmt.Errorf("%w: short batch", batch.ErrInvalid)}
		}
		size := 12 + int(int32(binary.BigEndian.Uint32(rest[batchLengthOffset:])))
		if size < batchHeaderSize || size > len(rest) {
			return memPending{err: fmt.Errorf("%w: bad batch length", batch.ErrInvalid)}
		}
		if rest[batchMagicOffset] != 2 {
			return memPending{err: batch.ErrUnsupportedMagic}
		}
		data := append([]byte(nil), rest[:size]...)
		parsed = append(parsed, memBatch{
			last:  int64(int32(binary.BigEndian.Uint32(data[batchLastDeltaOffset:]))),
			maxTS: int64(binary.BigEndian.Uint64(data[batchMaxTSOffset:])),
			data:  data,
		})
		rest = rest[size:]
	}
	if len(parsed) == 0 {
		return memPending{err: fmt.Errorf("%w: no batches", batch.ErrInvalid)}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	l, err := b.logLocked(tp)
	if err != nil {
		return memPending{err: err}
	}
	base := l.next
	for _, mb := range parsed {
		mb.base = l.next
		mb.last += l.next
		binary.BigEndian.PutUint64(mb.data, uint64(mb.base))
		binary.BigEndian.PutUint32(mb.data[batchEpochOffset:], uint32(b.epoch))
		l.batches = append(l.batches, mb)
		l.next = mb.last + 1
	}
	for w := range b.mu.watchers {
		if w.tps[tp] {
			select {
			case w.ch <- struct{}{}:
			default:
			}
		}
	}
	return memPending{res: partition.AppendResult{BaseOffset: base, LogAppendTime: -1, LogStartOffset: l.start}}
}

func (b *memBackend) Read(_ context.Context, tp partition.TP, offset int64, maxBytes int32) (partition.ReadResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, err := b.logLocked(tp)
	if err != nil {
		return partition.ReadResult{}, err
	}
	if offset < l.start || offset > l.next {
		return partition.ReadResult{}, fmt.Errorf("%w: %d not in [%d, %d]", partition.ErrOffsetOutOfRange, offset, l.start, l.next)
	}
	res := partition.ReadResult{HighWatermark: l.next, LastStableOffset: l.next, LogStartOffset: l.start}
	for _, mb := range l.batches {
		if mb.last < offset {
			continue
		}
		if len(res.Records) > 0 && len(res.Records)+len(mb.data) > int(maxBytes) {
			break
		}
		res.Records = append(res.Records, mb.data...)
	}
	return res, nil
}

func (b *memBackend) Watch(tps []partition.TP) (<-chan struct{}, func()) {
	w := &memWatcher{tps: map[partition.TP]bool{}, ch: make(chan struct{}, 1)}
	for _, tp := range tps {
		w.tps[tp] = true
	}
	b.mu.Lock()
	b.mu.watchers[w] = struct{}{}
	b.mu.Unlock()
	return w.ch, func() {
		b.mu.Lock()
		delete(b.mu.watchers, w)
		b.mu.Unlock()
	}
}

func (b *memBackend) watcherCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.mu.watchers)
}

func (b *memBackend) OffsetForTimestamp(_ context.Context, tp partition.TP, ts int64) (int64, int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, err := b.logLocked(tp)
	if err != nil {
		return 0, 0, err
	}
	for _, mb := range l.batches {
		if mb.maxTS >= ts {
			return mb.base, mb.maxTS, nil
		}
	}
	return -1, -1, nil
}

func (b *memBackend) EndOffsetForEpoch(tp partition.TP, epoch int32) (partition.EpochEnd, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, err := b.logLocked(tp)
	if err != nil {
		return partition.EpochEnd{}, err
	}
	if epoch < b.epoch {
		// Every batch was written in b.epoch: older epochs end where it began.
		return partition.EpochEnd{LeaderEpoch: -1, EndOffset: -1}, nil
	}
	return partition.EpochEnd{LeaderEpoch: b.epoch, EndOffset: l.next}, nil
}

func (b *memBackend) Producers(tp partition.TP) ([]partition.Producer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := b.logLocked(tp); err != nil {
		return nil, err
	}
	return b.mu.producers[tp], nil
}

// WriteTxnMarker records the marker (the in-memory log keeps no
// transactions).
func (b *memBackend) WriteTxnMarker(_ context.Context, tp partition.TP, m partition.TxnMarker) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := b.logLocked(tp); err != nil {
		return err
	}
	b.mu.markers = append(b.mu.markers, m)
	return nil
}

// AbortedTxns: the in-memory log has no transactions.
func (b *memBackend) AbortedTxns(partition.TP, int64, int64) ([]partition.AbortedTxn, error) {
	return nil, nil
}

var _ Backend = (*memBackend)(nil)

func (b *memBackend) PreferredReadReplica(partition.TP, string) int32 { return -1 }

func (b *memBackend) ReadFollower(ctx context.Context, tp partition.TP, offset int64, maxBytes int32) (partition.ReadResult, error) {
	return b.Read(ctx, tp, offset, maxBytes)
}

// AlterReassignment accepts only the single broker as a target: the memory
// backend has one node, so nothing ever moves.
func (b *memBackend) AlterReassignment(_ context.Context, topic string, p int32, nodes []int32) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.mu.topics[topic]
	if !ok || p < 0 || int(p) >= len(t.logs) {
		return fmt.Errorf("%w: %s/%d", cluster.ErrUnknownTopic, topic, p)
	}
	if nodes == nil {
		return cluster.ErrNoReassignment
	}
	if len(nodes) != 1 || nodes[0] != b.nodeID {
		return fmt.Errorf("%w: only broker %d exists", cluster.ErrInvalidReplicaAssignment, b.nodeID)
	}
	return nil
}

func (b *memBackend) Reassignments() []cluster.Reassignment { return nil }

func (b *memBackend) ElectPreferredLeader(context.Context, partition.TP) error {
	return partition.ErrElectionNotNeeded
}

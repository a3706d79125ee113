package kafka

import (
	"context"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/partition"
)

// Backend is everything the Kafka front end needs from the node. core/broker
// implements it on top of the cluster and partition services; kafka never
// touches Dragonboat or Pebble itself.
type Backend interface {
	// ClusterID is reported in Metadata and DescribeCluster.
	ClusterID() string
	// NodeID is this broker's ID.
	NodeID() int32
	// ControllerID is the broker that leads the meta shard, -1 if none.
	ControllerID() int32
	// Brokers lists every live broker with its advertised address.
	Brokers() []cluster.Broker

	// Topics lists every topic, sorted by name.
	Topics() []cluster.Topic
	// Topic looks one topic up by name.
	Topic(name string) (cluster.Topic, bool)
	// TopicByID looks one topic up by UUID.
	TopicByID(id [16]byte) (cluster.Topic, bool)
	// CreateTopic validates spec and, unless validateOnly, creates the topic
	// through the meta shard and returns it once its partitions are serving
	// (or ctx ends). Errors are cluster.Err* values, possibly wrapped with a
	// message for the client.
	CreateTopic(ctx context.Context, spec cluster.TopicSpec, validateOnly bool) (cluster.Topic, error)
	// DeleteTopic removes the topic, its shards and its data.
	DeleteTopic(ctx context.Context, name string) error
	// TopicConfigs returns every topic config key with its effective value.
	TopicConfigs(t cluster.Topic) []cluster.ConfigEntry
	// BrokerConfigs returns this broker's configs.
	BrokerConfigs() []cluster.ConfigEntry
	// InitProducerID allocates a fresh producer ID (epoch 0) from the meta shard.
	InitProducerID(ctx context.Context) (id int64, epoch int16, err error)
	// CreatePartitions grows a topic to count partitions (unless
	// validateOnly) and returns once they serve or ctx ends. A count at or
	// below the current one is cluster.ErrInvalidPartitions.
	CreatePartitions(ctx context.Context, topic string, count int32, validateOnly bool) error
	// AlterTopicConfigs replaces a topic's explicitly set configs (keys left
	// out return to their defaults). Unknown keys and invalid values are
	// cluster.ErrInvalidConfig.
	AlterTopicConfigs(ctx context.Context, topic string, configs map[string]string, validateOnly bool) error
	// IncrementalAlterTopicConfigs applies ops in order to a topic's configs.
	IncrementalAlterTopicConfigs(ctx context.Context, topic string, ops []cluster.ConfigOp, validateOnly bool) error
	// LogDir describes the broker's log directory.
	LogDir() cluster.LogDir
	// AlterReassignment sets the target placement of a partition (nodes
	// nil: cancel, cluster.ErrNoReassignment when none is in progress);
	// bad targets are cluster.ErrInvalidReplicaAssignment.
	AlterReassignment(ctx context.Context, topic string, p int32, nodes []int32) error
	// Reassignments lists the partitions being moved.
	Reassignments() []cluster.Reassignment

	// PartitionState reports leader, epoch and offsets of a partition.
	PartitionState(tp partition.TP) (partition.State, error)
	// ReadState is PartitionState for an answer about the partition's
	// data (ListOffsets, OffsetForLeaderEpoch, Fetch): a leader first
	// waits until it holds a read lease — it has applied everything
	// committed before its term, and no successor can have acknowledged
	// anything it lacks — or reports partition.ErrLeaderNotAvailable.
	ReadState(ctx context.Context, tp partition.TP) (partition.State, error)
	// PrepareReads starts, side by side, what the reads of tps (one
	// Fetch's partitions) would each wait for in ReadState and Read: the
	// confirmation of a leader's read lease (core/partition readiness.go).
	// The reads pass the context it returns, which may let a confirmation
	// started here serve them after the lease it renewed has ended.
	PrepareReads(ctx context.Context, tps []partition.TP) context.Context
	// Append validates records (one or more RecordBatch v2) and proposes them
	// as one command without blocking; Wait on the result for the outcome.
	// Calls from one goroutine are committed in call order. Append must not
	// keep records after it returns: they alias a pooled request frame that
	// the next request reuses (core/partition copies them into the proposal).
	Append(tp partition.TP, records []byte) *partition.Pending
	// AppendTransactional is Append for a produce request of a
	// transactional ID: the batches that would open the producer's
	// transaction in the partition are first verified with the
	// transaction's coordinator (partition.ErrInvalidTxnState if it did
	// not add the partition), or for Produce v12+ added to it, which may
	// block for that round trip.
	AppendTransactional(tp partition.TP, txn partition.TxnProduce, records []byte) *partition.Pending
	// AddTxnPartitions has the coordinator of txn add, in one call, those
	// of tps (one Produce v12+ request's partitions) whose batches of
	// producer pid at epoch would open its transaction here, and returns
	// txn naming them for AppendTransactional (see
	// partition.Service.AddTxnPartitions).
	AddTxnPartitions(txn partition.TxnProduce, pid int64, epoch int16, tps []partition.TP) partition.TxnProduce
	// Read returns stored batches from offset, at most maxBytes unless the
	// first batch alone is larger (then that batch only, as Kafka does).
	// A leader waits as ReadState does, at most until ctx ends.
	Read(ctx context.Context, tp partition.TP, offset int64, maxBytes int32) (partition.ReadResult, error)
	// PreferredReadReplica names the broker a client in rack should fetch
	// tp from (KIP-392): the leader when it is in that rack, else a replica
	// in that rack, else -1 (no preference: fetch from the leader).
	PreferredReadReplica(tp partition.TP, rack string) int32
	// ReadFollower is Read served by a local follower replica (or the
	// leader) after a ReadIndex confirms it holds everything committed.
	ReadFollower(ctx context.Context, tp partition.TP, offset int64, maxBytes int32) (partition.ReadResult, error)
	// ElectPreferredLeader asks tp's Raft group to move leadership to its
	// preferred replica; partition.ErrElectionNotNeeded when it leads already.
	ElectPreferredLeader(ctx context.Context, tp partition.TP) error
	// Watch returns a channel that receives a value whenever any of tps gets
	// new data; call stop when done.
	Watch(tps []partition.TP) (wake <-chan struct{}, stop func())
	// OffsetForTimestamp returns the first offset whose record timestamp is
	// ≥ ts and that record's timestamp, or (-1, -1) if there is none.
	OffsetForTimestamp(ctx context.Context, tp partition.TP, ts int64) (offset, timestamp int64, err error)
	// EndOffsetForEpoch answers OffsetForLeaderEpoch.
	EndOffsetForEpoch(tp partition.TP, epoch int32) (partition.EpochEnd, error)
	// Producers returns the idempotent producers the local replica of tp
	// knows (DescribeProducers).
	Producers(tp partition.TP) ([]partition.Producer, error)
	// WriteTxnMarker ends a producer's open transaction in a partition this
	// broker leads (WriteTxnMarkers).
	WriteTxnMarker(ctx context.Context, tp partition.TP, m partition.TxnMarker) error
	// AbortedTxns returns the aborted transactions of the local replica
	// that overlap offsets [from, to), for read_committed fetches.
	AbortedTxns(tp partition.TP, from, to int64) ([]partition.AbortedTxn, error)
	// DeleteRecords advances the log start offset to offset (-1: the high
	// watermark) and returns the new log start; beyond the high watermark
	// is partition.ErrOffsetOutOfRange.
	DeleteRecords(ctx context.Context, tp partition.TP, offset int64) (lowWatermark int64, err error)
	// MaxTimestampOffset returns the offset and timestamp of the record with
	// the largest timestamp, or (-1, -1) for an empty partition.
	MaxTimestampOffset(ctx context.Context, tp partition.TP) (offset, timestamp int64, err error)
}

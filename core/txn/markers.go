// Package txn is Chronik's transaction coordinator (Kafka's
// TransactionCoordinator) on top of the coordinator shards
// (ARCHITECTURE.md §2): transactional.id T lives on coordinator shard
// raftsm.CoordinatorShardID(T, N), beside the consumer groups.
//
// Each transactional ID has one record in its shard (raftsm.TxnRecord):
// producer ID and epoch, state, timeout, and the partitions and groups of
// the open transaction. Service computes every transition (Kafka's
// TransactionCoordinator and TransactionMetadata) and stores it with a
// compare-and-set proposal, so a deposed leader cannot overwrite its
// successor. The coordinator is the producer-ID and epoch authority for
// transactional IDs: the first InitProducerId allocates an ID
// (PIDAllocator), later ones bump the epoch (KIP-360 rules). EndTxn stores
// the prepared outcome, has the MarkerWriter write the markers to every
// partition and group of the transaction, then stores it complete. The
// leader of each shard aborts transactions past their timeout (bumping the
// epoch, which fences the producer) and finishes prepared ones a previous
// leader left behind.
//
// Produce verification (VerifyPartition) and DescribeTransactions read
// under a read lease (core/readlease, kept by coordraft.Loop), and a new
// leader of a shard writes markers only readlease.Wait after it learned it
// leads (Config.ElectionTimeout): a coordinator cut off from its peers can
// then no longer tell a partition leader that a transaction its successor
// aborted is still open.
package txn

import "context"

// TopicPartition names one partition a transaction wrote to.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Markers is the outcome of one transaction, to be written wherever the
// transaction wrote: a control batch in each partition, and the offsets it
// committed for each group (TxnOffsetCommit) made visible or dropped.
type Markers struct {
	TransactionalID string
	ProducerID      int64
	// ProducerEpoch is the epoch the markers carry: the transaction's, or
	// a bumped one that also fences the producer (an abort on timeout or
	// on InitProducerId).
	ProducerEpoch int16
	Commit        bool
	Partitions    []TopicPartition
	Groups        []string
}

// MarkerWriter writes a transaction's markers. Writing is idempotent: a
// partition where the producer has no open transaction, or a group without
// pending offsets of the producer, is left as it is. WriteMarkers returns
// nil once every marker is written; after an error some may not be, and the
// caller repeats the call (with the same Markers) until it succeeds.
type MarkerWriter interface {
	WriteMarkers(ctx context.Context, m Markers) error
}

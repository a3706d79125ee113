// Package partition is the partition service: it appends record batches to a
// partition's Raft shard, reads them back from the local replica, answers
// offset queries and wakes long-polling fetchers. It routes to the local
// replica or answers ErrNotLeader.
package partition

import (
	"errors"

	"github.com/chronik-go/chronik/raftsm"
)

// Errors of the partition service; kafka maps them to error codes in one place.
var (
	ErrUnknownPartition     = errors.New("partition: unknown topic or partition")
	ErrNotLeader            = errors.New("partition: not the leader for this partition")
	ErrLeaderNotAvailable   = errors.New("partition: leader not available")
	ErrTimeout              = errors.New("partition: request timed out")
	ErrBusy                 = errors.New("partition: too many in-flight requests, retry")
	ErrOffsetOutOfRange     = errors.New("partition: offset out of range")
	ErrOutOfOrderSequence   = errors.New("partition: out of order sequence number")
	ErrInvalidProducerEpoch = errors.New("partition: invalid (fenced) producer epoch")
	ErrUnknownProducerID    = errors.New("partition: unknown producer id")
	ErrMessageTooLarge      = errors.New("partition: message too large")
	ErrStopped              = errors.New("partition: broker is shutting down")
	// ErrElectionNotNeeded: the preferred replica leads already.
	ErrElectionNotNeeded = errors.New("partition: the preferred replica is already the leader")
	// ErrPreferredNotAvailable: the preferred replica cannot take over now.
	ErrPreferredNotAvailable = errors.New("partition: preferred leader not available")
)

// TP names one partition of one topic.
type TP struct {
	Topic     string
	Partition int32
}

// State is the live state of a local partition replica.
type State struct {
	Leader         int32 // broker ID of the Raft leader, -1 if unknown
	LeaderEpoch    int32 // the Raft term of the current leader
	LogStartOffset int64
	// LocalStartOffset is the first offset stored locally; below it, down
	// to LogStartOffset, data is in tiered storage only.
	LocalStartOffset int64
	HighWatermark    int64 // committed and applied end offset
	LastStableOffset int64 // below the earliest open transaction (read_committed's end)
	SizeBytes        int64 // bytes of the batches stored locally
	TieredEnd        int64 // offset after the last tiered segment, 0 if none
}

// Producer is an idempotent producer a partition knows (DescribeProducers):
// its ID and epoch, the sequence of its last record (-1 if unknown) and
// the time of its last append (ms, -1 if unknown).
type Producer = raftsm.ProducerInfo

// AbortedTxn is an aborted transaction: its producer and first offset.
type AbortedTxn = raftsm.AbortedTxn

// AppendResult is the outcome of one produce to one partition.
type AppendResult struct {
	BaseOffset     int64
	LogAppendTime  int64 // -1 unless the topic uses LogAppendTime
	LogStartOffset int64
	// Duplicate is true when the state machine recognised an idempotent
	// retry and returned the original offsets.
	Duplicate bool
}

// ReadResult is what one partition returns for a fetch.
type ReadResult struct {
	HighWatermark int64
	// LastStableOffset is where read_committed consumers stop: the first
	// offset of the earliest open transaction, else the high watermark.
	LastStableOffset int64
	LogStartOffset   int64
	// Records is the stored batches concatenated, exactly as produced except
	// for baseOffset and partitionLeaderEpoch.
	Records []byte
}

// EpochEnd answers OffsetForLeaderEpoch.
type EpochEnd struct {
	LeaderEpoch int32 // the largest epoch ≤ the requested one, -1 if none
	EndOffset   int64 // the first offset of the next epoch, or the high watermark
}

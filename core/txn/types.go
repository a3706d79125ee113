package txn

import (
	"context"
	"errors"
	"regexp"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// Errors of the transaction coordinator; kafka maps them to error codes in
// one place (kafka/errors.go).
var (
	ErrNotCoordinator          = errors.New("txn: this broker is not the transactional ID's coordinator")
	ErrCoordinatorNotAvailable = errors.New("txn: the transactional ID's coordinator shard has no leader")
	ErrLoadInProgress          = errors.New("txn: the coordinator is still loading the transactional ID's shard")
	ErrInvalidTransactionalID  = errors.New("txn: the transactional ID is empty")
	// ErrInvalidTransactionTimeout: the timeout is not in (0, MaxTimeout].
	ErrInvalidTransactionTimeout = errors.New("txn: transaction timeout outside (0, transaction.max.timeout.ms]")
	// ErrConcurrentTransactions: the previous transaction is still ending
	// (its markers are being written); the client retries.
	ErrConcurrentTransactions = errors.New("txn: the producer's previous transaction is still completing, retry")
	// ErrProducerFenced: the producer's epoch is not the transactional ID's
	// current one: a newer producer with this ID exists (or the
	// transaction was aborted on timeout with an epoch bump). Old client
	// versions get INVALID_PRODUCER_EPOCH for it (kafka decides).
	ErrProducerFenced           = errors.New("txn: producer fenced: a newer epoch of this transactional ID exists")
	ErrInvalidProducerIDMapping = errors.New("txn: the producer ID is not the transactional ID's")
	ErrInvalidTxnState          = errors.New("txn: the request does not fit the transaction's state")
	ErrTransactionalIDNotFound  = errors.New("txn: unknown transactional ID")
)

// Defaults of Config, mostly Kafka's broker defaults.
const (
	DefaultMaxTimeout          = 15 * time.Minute      // transaction.max.timeout.ms
	DefaultExpiration          = 7 * 24 * time.Hour    // transactional.id.expiration.ms
	DefaultCheckInterval       = time.Second           // timed-out and unfinished transactions are looked for this often
	DefaultProposalTimeout     = 10 * time.Second      // bound on one Raft proposal
	DefaultMarkerTimeout       = 10 * time.Second      // bound on one WriteMarkers attempt
	DefaultLeaderCheckInterval = 50 * time.Millisecond // how often shard leadership is polled
)

// Config is the coordinator's behaviour; zero fields get the defaults.
type Config struct {
	// NodeID is this broker; its replica ID in every coordinator shard.
	NodeID int32
	// MaxTimeout bounds InitProducerId's transaction timeout
	// (transaction.max.timeout.ms).
	MaxTimeout time.Duration
	// Expiration is how long a transactional ID's record outlives its last
	// change when no transaction is open in it
	// (transactional.id.expiration.ms); an expired ID starts over with a
	// new producer ID.
	Expiration time.Duration
	// CheckInterval is how often each led shard is scanned for
	// transactions past their timeout (aborted) and for prepared ends
	// whose markers are not written (finished). Kafka scans every 10 s
	// (transaction.abort.timed.out.transaction.cleanup.interval.ms).
	CheckInterval time.Duration
	// ProposalTimeout bounds each Raft proposal.
	ProposalTimeout time.Duration
	// MarkerTimeout bounds one MarkerWriter.WriteMarkers call.
	MarkerTimeout time.Duration
	// LeaderCheckInterval is how often shard leadership is polled.
	LeaderCheckInterval time.Duration
	// ElectionTimeout is the coordinator shards' Raft election timeout,
	// which sizes the read leases produce verification and
	// DescribeTransactions are answered under, and the wait of a new
	// coordinator before it writes markers (core/readlease); 0 leaves the
	// leases out (tests on coordraft.Fake).
	ElectionTimeout time.Duration
	// Meter records the coordinator's metrics (metrics.go); nil records
	// none.
	Meter metric.Meter
}

func (c *Config) setDefaults() {
	if c.MaxTimeout <= 0 {
		c.MaxTimeout = DefaultMaxTimeout
	}
	if c.Expiration <= 0 {
		c.Expiration = DefaultExpiration
	}
	if c.CheckInterval <= 0 {
		c.CheckInterval = DefaultCheckInterval
	}
	if c.ProposalTimeout <= 0 {
		c.ProposalTimeout = DefaultProposalTimeout
	}
	if c.MarkerTimeout <= 0 {
		c.MarkerTimeout = DefaultMarkerTimeout
	}
	if c.LeaderCheckInterval <= 0 {
		c.LeaderCheckInterval = DefaultLeaderCheckInterval
	}
}

// PIDAllocator hands out fresh producer IDs (epoch 0); core/cluster's
// Service.InitProducerID, which allocates from the meta shard's blocks.
type PIDAllocator interface {
	InitProducerID(ctx context.Context) (id int64, epoch int16, err error)
}

// Description answers DescribeTransactions for one transactional ID.
type Description struct {
	TransactionalID string
	// State is Kafka's name: Empty, Ongoing, PrepareCommit, PrepareAbort,
	// CompleteCommit, CompleteAbort.
	State         string
	ProducerID    int64
	ProducerEpoch int16
	TimeoutMs     int32
	// StartMs is when the current (or last) transaction began, -1 if
	// none did.
	StartMs    int64
	Partitions []TopicPartition
	Groups     []string
}

// Listing is one transactional ID in ListTransactions.
type Listing struct {
	TransactionalID string
	ProducerID      int64
	State           string
}

// ListFilter narrows ListTransactions; empty slices match everything.
type ListFilter struct {
	States      []string // Kafka's state names, case-insensitive
	ProducerIDs []int64
	// RunningLongerThan, when positive, lists only the transactional IDs
	// whose transaction began more than that long ago, as Kafka does (one
	// without an open transaction counts as begun long ago).
	RunningLongerThan time.Duration
	// IDPattern, when not nil, lists only the transactional IDs it matches
	// whole.
	IDPattern *regexp.Regexp
}

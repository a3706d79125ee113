package group

import (
	"errors"
	"fmt"
	"time"
)

// Errors of the group coordinator; kafka maps them to error codes in one
// place (kafka/errors.go).
var (
	ErrNotCoordinator          = errors.New("group: this broker is not the group's coordinator")
	ErrCoordinatorNotAvailable = errors.New("group: the group's coordinator shard has no leader")
	ErrLoadInProgress          = errors.New("group: the coordinator is still loading the group's shard")
	ErrInvalidGroupID          = errors.New("group: the group ID is empty")
	ErrUnknownMember           = errors.New("group: unknown member ID")
	ErrIllegalGeneration       = errors.New("group: the generation is not the group's current one")
	ErrRebalanceInProgress     = errors.New("group: the group is rebalancing, rejoin")
	ErrMemberIDRequired        = errors.New("group: member ID required: rejoin with the member ID returned")
	ErrInconsistentProtocol    = errors.New("group: the member's protocol type or protocols do not match the group's")
	ErrInvalidSessionTimeout   = errors.New("group: session timeout outside the broker's allowed range")
	ErrFencedInstanceID        = errors.New("group: another member with this group.instance.id has joined")
	ErrGroupNotFound           = errors.New("group: group not found")
	ErrNonEmptyGroup           = errors.New("group: the group still has members")
	ErrGroupSubscribedToTopic  = errors.New("group: the group's members are subscribed to the topic")
	ErrOffsetMetadataTooLarge  = errors.New("group: offset metadata too large")
	// ErrInvalidProducerEpoch: a TxnOffsetCommit from a producer epoch
	// older than one the group has seen (a fenced zombie producer).
	ErrInvalidProducerEpoch = errors.New("group: the producer epoch is older than one the group has seen for this producer")

	// Consumer groups (KIP-848, consumer.go).
	ErrInvalidRequest       = errors.New("group: invalid request")
	ErrInvalidRegex         = errors.New("group: invalid topic regular expression")
	ErrUnsupportedAssignor  = errors.New("group: unknown server assignor")
	ErrFencedMemberEpoch    = errors.New("group: the member epoch is fenced")
	ErrStaleMemberEpoch     = errors.New("group: the member epoch is stale")
	ErrUnreleasedInstanceID = errors.New("group: the instance ID is still held by another member")
	ErrUnsupportedVersion   = errors.New("group: unsupported version")
	// ErrGroupMaxSizeReached: a new member would take the group past
	// Config.MaxSize (classic) or Config.ConsumerMaxSize.
	ErrGroupMaxSizeReached = errors.New("group: the group has reached its maximum size")
)

// Defaults of Config, mostly Kafka's broker defaults.
const (
	DefaultShards                 = 8
	DefaultInitialRebalanceDelay  = 3 * time.Second       // group.initial.rebalance.delay.ms
	DefaultMinSessionTimeout      = 6 * time.Second       // group.min.session.timeout.ms
	DefaultMaxSessionTimeout      = 30 * time.Minute      // group.max.session.timeout.ms
	DefaultOffsetsRetention       = 7 * 24 * time.Hour    // offsets.retention.minutes
	DefaultRetentionCheckInterval = 10 * time.Minute      // offsets.retention.check.interval.ms
	DefaultMaxMetadataBytes       = 4096                  // offset.metadata.max.bytes
	DefaultProposalTimeout        = 10 * time.Second      // bound on one Raft proposal
	DefaultLeaderCheckInterval    = 50 * time.Millisecond // how often shard leadership is polled
	// KIP-848 consumer groups.
	DefaultConsumerSessionTimeout    = 45 * time.Second // group.consumer.session.timeout.ms
	DefaultConsumerHeartbeatInterval = 5 * time.Second  // group.consumer.heartbeat.interval.ms
)

// Config is the coordinator's behaviour; zero fields get the defaults.
type Config struct {
	// NodeID is this broker; its replica ID in every coordinator shard.
	NodeID int32
	// Shards is the number of coordinator shards (N in ARCHITECTURE.md §2).
	Shards int
	// InitialRebalanceDelay is how long the first rebalance of an empty
	// group waits for more members (extended by each newcomer, up to the
	// rebalance timeout). Negative means zero.
	InitialRebalanceDelay time.Duration
	// MinSessionTimeout and MaxSessionTimeout bound JoinGroup's session
	// timeout (INVALID_SESSION_TIMEOUT outside).
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// OffsetsRetention is how long offsets outlive an empty group (or, for
	// simple consumers, their commit).
	OffsetsRetention time.Duration
	// RetentionCheckInterval is how often the leader proposes expiry.
	RetentionCheckInterval time.Duration
	// MaxMetadataBytes bounds the metadata string of a committed offset.
	MaxMetadataBytes int
	// ProposalTimeout bounds each Raft proposal.
	ProposalTimeout time.Duration
	// LeaderCheckInterval is how often shard leadership is polled to load
	// and unload groups.
	LeaderCheckInterval time.Duration
	// ElectionTimeout is the coordinator shards' Raft election timeout,
	// which sizes the read leases OffsetFetch is answered under and the
	// wait of a new coordinator before it acknowledges commits
	// (core/readlease); 0 leaves the leases out (tests on coordraft.Fake).
	ElectionTimeout time.Duration
	// ConsumerSessionTimeout is how long a consumer-group (KIP-848)
	// member stays without a heartbeat; ConsumerHeartbeatInterval is the
	// interval members are told to heartbeat at.
	ConsumerSessionTimeout, ConsumerHeartbeatInterval time.Duration
	// Topics lists the cluster's topics sorted by name (a shared list the
	// group coordinator does not modify), which consumer groups subscribe
	// to by name or regular expression; nil lists none.
	Topics func() []TopicMeta
	// ConsumerGroups reports whether consumer groups are served (the
	// Kafka APIs check it); nil serves them.
	ConsumerGroups func() bool
	// MixedGroups reports whether consumer groups may host members on
	// the classic protocol (every broker stores them); nil allows them.
	// Without it a classic member cannot join a consumer group that has
	// members and no group is converted between the protocols.
	MixedGroups func() bool
	// Migration is Kafka's group.consumer.migration.policy.
	Migration MigrationPolicy
	// MaxSize and ConsumerMaxSize bound the members of a classic and of a
	// consumer group (Kafka's group.max.size, group.consumer.max.size):
	// a new member beyond them gets ErrGroupMaxSizeReached, and a group
	// that would exceed the other type's bound is not converted. Zero or
	// less is no bound.
	MaxSize, ConsumerMaxSize int
}

// full reports whether a group of n members may take no new one.
func full(n, maxSize int) bool { return maxSize > 0 && n >= maxSize }

// MigrationPolicy says which groups change protocol as their members
// switch (Kafka's group.consumer.migration.policy); the zero value is
// Kafka's default, bidirectional.
type MigrationPolicy uint8

// Migration policies.
const (
	// MigrateBidirectional upgrades and downgrades.
	MigrateBidirectional MigrationPolicy = iota
	// MigrateUpgrade turns a classic group with members into a consumer
	// group when a member on the consumer protocol joins it.
	MigrateUpgrade
	// MigrateDowngrade turns a consumer group into a classic one when its
	// last member on the consumer protocol leaves and classic ones remain.
	MigrateDowngrade
	// MigrateDisabled does neither.
	MigrateDisabled
)

// ParseMigrationPolicy reads a policy as Kafka names it.
func ParseMigrationPolicy(s string) (MigrationPolicy, error) {
	switch s {
	case "bidirectional":
		return MigrateBidirectional, nil
	case "upgrade":
		return MigrateUpgrade, nil
	case "downgrade":
		return MigrateDowngrade, nil
	case "disabled":
		return MigrateDisabled, nil
	}
	return 0, fmt.Errorf("unknown group migration policy %q", s)
}

func (p MigrationPolicy) upgrades() bool { return p == MigrateBidirectional || p == MigrateUpgrade }

func (p MigrationPolicy) downgrades() bool { return p == MigrateBidirectional || p == MigrateDowngrade }

func (c *Config) setDefaults() {
	if c.Shards <= 0 {
		c.Shards = DefaultShards
	}
	if c.InitialRebalanceDelay < 0 {
		c.InitialRebalanceDelay = 0
	}
	if c.MinSessionTimeout <= 0 {
		c.MinSessionTimeout = DefaultMinSessionTimeout
	}
	if c.MaxSessionTimeout <= 0 {
		c.MaxSessionTimeout = DefaultMaxSessionTimeout
	}
	if c.OffsetsRetention <= 0 {
		c.OffsetsRetention = DefaultOffsetsRetention
	}
	if c.RetentionCheckInterval <= 0 {
		c.RetentionCheckInterval = DefaultRetentionCheckInterval
	}
	if c.MaxMetadataBytes <= 0 {
		c.MaxMetadataBytes = DefaultMaxMetadataBytes
	}
	if c.ProposalTimeout <= 0 {
		c.ProposalTimeout = DefaultProposalTimeout
	}
	if c.LeaderCheckInterval <= 0 {
		c.LeaderCheckInterval = DefaultLeaderCheckInterval
	}
	if c.ConsumerSessionTimeout <= 0 {
		c.ConsumerSessionTimeout = DefaultConsumerSessionTimeout
	}
	if c.ConsumerHeartbeatInterval <= 0 {
		c.ConsumerHeartbeatInterval = DefaultConsumerHeartbeatInterval
	}
}

// State is a group's state in the classic protocol, named as Kafka names it
// in DescribeGroups and ListGroups.
type State int

// Group states.
const (
	Empty State = iota
	PreparingRebalance
	CompletingRebalance
	Stable
	Dead
)

func (s State) String() string {
	switch s {
	case Empty:
		return "Empty"
	case PreparingRebalance:
		return "PreparingRebalance"
	case CompletingRebalance:
		return "CompletingRebalance"
	case Stable:
		return "Stable"
	default:
		return "Dead"
	}
}

// Protocol is one (assignor) protocol a member supports, with its opaque
// metadata.
type Protocol struct {
	Name     string
	Metadata []byte
}

// JoinRequest is a JoinGroup.
type JoinRequest struct {
	Group      string
	MemberID   string // empty on a member's first join
	InstanceID string // group.instance.id; empty for dynamic members
	ClientID   string
	ClientHost string
	// SessionTimeout and RebalanceTimeout are the member's; JoinGroup v0
	// has no rebalance timeout and passes the session timeout.
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	ProtocolType     string
	Protocols        []Protocol // in the member's order of preference
	// RequireKnownMemberID (JoinGroup v4+) makes a join without member ID
	// fail with ErrMemberIDRequired and a member ID to rejoin with.
	RequireKnownMemberID bool
}

// JoinResult answers a JoinGroup. With ErrMemberIDRequired only MemberID is
// set.
type JoinResult struct {
	Generation   int32
	ProtocolType string
	Protocol     string
	LeaderID     string
	MemberID     string
	// Members is set for the leader only: every member with its metadata
	// for the selected protocol.
	Members []JoinMember
}

// JoinMember is one member as the leader sees it in a JoinGroup response.
type JoinMember struct {
	MemberID   string
	InstanceID string
	Metadata   []byte
}

// SyncRequest is a SyncGroup.
type SyncRequest struct {
	Group      string
	MemberID   string
	InstanceID string
	Generation int32
	// ProtocolType and Protocol (SyncGroup v5+) must match the group's when
	// set.
	ProtocolType *string
	Protocol     *string
	// Assignments come from the leader: member ID → assignment.
	Assignments map[string][]byte
}

// SyncResult answers a SyncGroup.
type SyncResult struct {
	ProtocolType string
	Protocol     string
	Assignment   []byte
}

// HeartbeatRequest is a Heartbeat.
type HeartbeatRequest struct {
	Group      string
	MemberID   string
	InstanceID string
	Generation int32
}

// LeaveMember is one member leaving (LeaveGroup v3+ carries many). A static
// member may be named by its instance ID alone.
type LeaveMember struct {
	MemberID   string
	InstanceID string
}

// TopicPartition names one partition of one topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// CommitRequest is an OffsetCommit for one group.
type CommitRequest struct {
	Group string
	// Generation -1 with an empty MemberID is a simple (assign()) consumer
	// storing offsets in a group without members.
	Generation int32
	MemberID   string
	InstanceID string
	// Retention (OffsetCommit v2–v4) overrides offsets.retention.minutes
	// for these offsets when positive.
	Retention time.Duration
	Offsets   []CommitOffset
	// Version is the OffsetCommit version: members of consumer groups
	// (KIP-848) must commit with version 9 or later, where Generation is
	// their member epoch.
	Version int16
}

// TxnCommitRequest is a TxnOffsetCommit: offsets held pending for a
// transactional producer until its transaction ends (EndTxnOffsets).
type TxnCommitRequest struct {
	Group         string
	ProducerID    int64
	ProducerEpoch int16
	// Generation, MemberID and InstanceID (TxnOffsetCommit v3+, KIP-447)
	// are checked against the group when set; generation -1 with no
	// member ID skips the check.
	Generation int32
	MemberID   string
	InstanceID string
	Offsets    []CommitOffset
}

// CommitOffset is one partition's committed position.
type CommitOffset struct {
	TopicPartition
	Offset      int64
	LeaderEpoch int32
	Metadata    string
}

// FetchedOffset is one partition's committed offset; Offset and
// LeaderEpoch are -1 when there is none.
type FetchedOffset struct {
	TopicPartition
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	// Unstable is set when an open transaction has an offset of the
	// partition pending (OffsetFetch's RequireStable answers
	// UNSTABLE_OFFSET_COMMIT).
	Unstable bool
}

// ListFilter narrows ListGroups. Empty slices match everything; matching is
// case-insensitive.
type ListFilter struct {
	States []string
	Types  []string // group types: "classic", "consumer"
}

// Listing is one group in ListGroups.
type Listing struct {
	Group        string
	ProtocolType string
	// State is named as Kafka names it for the group's type: Empty,
	// PreparingRebalance, CompletingRebalance, Stable, Dead for classic
	// groups; Empty, Assigning, Reconciling, Stable, Dead for consumer
	// groups.
	State string
	Type  string // "classic" or "consumer"
}

// Description answers DescribeGroups for one group.
type Description struct {
	Group        string
	State        State
	ProtocolType string
	Protocol     string // empty unless Stable
	Members      []MemberDescription
}

// MemberDescription is one member in DescribeGroups. Metadata and
// Assignment are only set while the group is Stable, as in Kafka.
type MemberDescription struct {
	MemberID   string
	InstanceID string
	ClientID   string
	ClientHost string
	Metadata   []byte
	Assignment []byte
}

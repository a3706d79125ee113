package broker

import (
	"context"
	"fmt"
	"slices"
	"time"

	sm "github.com/lni/dragonboat/v4/statemachine"
	"go.opentelemetry.io/otel/metric"

	"github.com/chronik-go/chronik/core/config"
	"github.com/chronik-go/chronik/core/group"
	"github.com/chronik-go/chronik/core/txn"
	"github.com/chronik-go/chronik/kafka"
	"github.com/chronik-go/chronik/raftsm"
)

// The config bound and the shard-ID space must agree.
var (
	_ [config.MaxCoordinatorShards - raftsm.MaxCoordinatorShards]struct{}
	_ [raftsm.MaxCoordinatorShards - config.MaxCoordinatorShards]struct{}
)

// startGroups starts this node's replica of every coordinator shard
// (replica ID = node ID, members = the meta voters, so a single node is the
// only member) and the group coordinator over them. A single node waits
// until every shard has elected itself and loaded its groups, so its first
// clients never see COORDINATOR_NOT_AVAILABLE; a cluster member does not
// wait for peers that may not be up yet.
func (b *Broker) startGroups(ctx context.Context, meter metric.Meter) error {
	n := b.cfg.Raft.CoordinatorShards
	if err := b.store.CheckCoordinatorShards(n); err != nil {
		return fmt.Errorf("raft.coordinator-shards: %w", err)
	}
	sms := make([]*raftsm.Coordinator, n)
	for i := range sms {
		shardID := raftsm.FirstCoordinatorShardID + uint64(i)
		c := raftsm.NewCoordinator(b.store, shardID)
		sms[i] = c
		create := func(uint64, uint64) sm.IOnDiskStateMachine { return c }
		if _, err := b.startSystemReplica(shardID, create); err != nil {
			return fmt.Errorf("cannot start coordinator shard %d: %w", shardID, err)
		}
	}
	b.dr.coords = sms
	migration, err := group.ParseMigrationPolicy(b.cfg.Kafka.GroupConsumerMigrationPolicy)
	if err != nil {
		return err
	}
	b.groups = group.NewService(b.nh, sms, group.Config{
		NodeID:                    b.cfg.NodeID,
		ElectionTimeout:           b.cfg.Raft.RTT * time.Duration(b.cfg.Raft.ElectionRTT),
		InitialRebalanceDelay:     time.Duration(b.cfg.Kafka.GroupInitialRebalanceDelayMs) * time.Millisecond,
		OffsetsRetention:          time.Duration(b.cfg.Kafka.OffsetsRetentionMinutes) * time.Minute,
		ConsumerSessionTimeout:    b.cfg.Kafka.GroupConsumerSessionTimeout,
		ConsumerHeartbeatInterval: b.cfg.Kafka.GroupConsumerHeartbeatInterval,
		Topics:                    b.groupTopics,
		ConsumerGroups:            b.consumerGroups,
		MixedGroups:               b.mixedGroups,
		Migration:                 migration,
		MaxSize:                   int(b.cfg.Kafka.GroupMaxSize),
		ConsumerMaxSize:           int(b.cfg.Kafka.GroupConsumerMaxSize),
	}, b.log)
	b.groups.Start()
	// The transaction coordinator shares the shards (core/txn).
	b.txns = txn.NewService(b.nh, sms, txn.Config{
		NodeID:          b.cfg.NodeID,
		ElectionTimeout: b.cfg.Raft.RTT * time.Duration(b.cfg.Raft.ElectionRTT),
		MaxTimeout:      b.cfg.Kafka.TransactionMaxTimeout,
		Expiration:      b.cfg.Kafka.TransactionalIDExpiration,
		Meter:           meter,
	}, producerIDs{b}, txnMarkers{b}, b.log)
	b.txns.Start()
	b.parts.SetTxnVerifier(txnVerifier{b})
	if len(b.cfg.Nodes) > 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if err := b.groups.WaitLoaded(ctx); err != nil {
		return fmt.Errorf("coordinator shards did not come up within %s: %w", startTimeout, err)
	}
	if err := b.txns.WaitLoaded(ctx); err != nil {
		return fmt.Errorf("coordinator shards did not load their transactions within %s: %w", startTimeout, err)
	}
	return nil
}

// groupTopics lists the topics consumer groups subscribe to, sorted by
// name (shared: not to be modified).
func (b *Broker) groupTopics() []group.TopicMeta {
	if b.cluster == nil {
		return nil
	}
	return b.cluster.TopicSizes()
}

// consumerGroups reports whether KIP-848 consumer groups are served:
// kafka.group-rebalance-protocols lists "consumer" and every broker runs a
// release that stores them (raftsm.LevelConsumerGroups), so no replica of
// a coordinator shard refuses their records.
func (b *Broker) consumerGroups() bool {
	return slices.Contains(b.cfg.Kafka.GroupRebalanceProtocols, "consumer") &&
		b.cluster != nil && b.cluster.RequireLevel(raftsm.LevelConsumerGroups, "consumer groups") == nil
}

// mixedGroups reports whether consumer groups may host classic members
// (KIP-848's online upgrade and downgrade): consumer groups are served and
// every broker stores such members (raftsm.LevelMixedGroups).
func (b *Broker) mixedGroups() bool {
	return b.consumerGroups() && b.cluster.RequireLevel(raftsm.LevelMixedGroups, "classic members in consumer groups") == nil
}

// producerIDs allocates producer IDs through the cluster service, which
// starts after the coordinator shards.
type producerIDs struct{ b *Broker }

func (p producerIDs) InitProducerID(ctx context.Context) (int64, int16, error) {
	if p.b.cluster == nil {
		return -1, -1, txn.ErrCoordinatorNotAvailable
	}
	return p.b.cluster.InitProducerID(ctx)
}

// leveledTxns is the transaction coordinator as the Kafka APIs see it:
// InitProducerId for a transactional ID fails (UNSUPPORTED_VERSION, with
// the brokers to upgrade) until every broker applies the transaction
// commands, so no transaction starts in a cluster being upgraded.
type leveledTxns struct {
	*txn.Service
	b *Broker
}

func (t leveledTxns) InitProducerID(ctx context.Context, txnID string, timeoutMs int32, pid int64, epoch int16) (int64, int16, error) {
	if t.b.cluster == nil {
		return -1, -1, txn.ErrCoordinatorNotAvailable
	}
	if err := t.b.cluster.RequireLevel(raftsm.LevelTransactions, "transactions"); err != nil {
		return -1, -1, err
	}
	return t.Service.InitProducerID(ctx, txnID, timeoutMs, pid, epoch)
}

// EndTxn bumps the epoch (EndTxn v5+, KIP-890 part 2) only once every
// broker stores the records of such ends (raftsm.LevelTxnV2).
func (t leveledTxns) EndTxn(ctx context.Context, txnID string, pid int64, epoch int16, commit, bump bool) (int64, int16, error) {
	return t.Service.EndTxn(ctx, txnID, pid, epoch, commit, bump && t.b.txnV2())
}

// AddGroup asks the transactional ID's coordinator, here or on another
// broker, to add the group (TxnOffsetCommit v5+).
func (t leveledTxns) AddGroup(ctx context.Context, txnID string, pid int64, epoch int16, group string) error {
	return txnVerifier{t.b}.AddGroup(ctx, txnID, pid, epoch, group)
}

// TransactionVersion is the level UpdateFeatures set for the cluster, else
// kafka.transaction-version's; 2 only once every broker serves KIP-890
// part 2. The epoch of a level set for the cluster is above 2, the one a
// config's 2 gets, so that clients take it.
func (t leveledTxns) TransactionVersion() (int16, int64) {
	if t.b.cluster == nil {
		return 0, -1
	}
	level, epoch := int16(0), int64(-1)
	if t.b.cfg.Kafka.TransactionVersion >= 2 {
		level = 2
	}
	f := t.b.cluster.Features() // one view: the level and its epoch together
	if l, ok := f.Levels[kafka.TransactionVersionFeature]; ok {
		level, epoch = l, f.Epoch+2
	}
	if level >= 2 && !t.b.txnV2() {
		level = 0
	}
	if epoch < 0 && level > 0 {
		epoch = int64(level)
	}
	return level, epoch
}

// SetTransactionVersion finalizes transaction.version for the cluster.
func (t leveledTxns) SetTransactionVersion(ctx context.Context, level int16) error {
	if t.b.cluster == nil {
		return txn.ErrCoordinatorNotAvailable
	}
	return t.b.cluster.SetFeature(ctx, kafka.TransactionVersionFeature, level)
}

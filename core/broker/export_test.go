package broker

import (
	"time"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/kafka"
)

// ACLStoreOf is the cluster's ACLs as b's Kafka listener sees them
// (whatever kafka.authorizer says), for tests that manage ACLs without
// the Kafka API.
func ACLStoreOf(b *Broker) kafka.ACLStore { return aclStore{b.cluster} }

// QuotaStoreOf is the cluster's client quotas as b's Kafka listener sees
// them, for tests that manage quotas without the Kafka API.
func QuotaStoreOf(b *Broker) kafka.QuotaStore { return quotaStore{b.cluster} }

// ClusterOf is b's cluster service, for tests that change the registry.
func ClusterOf(b *Broker) *cluster.Service { return b.cluster }

// StuckTransactions runs the check of stuck last stable offsets with the
// clock at at, and returns the longest time one has stayed put and how
// many led partitions have a transaction open.
func StuckTransactions(b *Broker, at time.Time) (time.Duration, int) {
	b.stable.mu.Lock()
	b.stable.now = func() time.Time { return at }
	b.stable.mu.Unlock()
	b.stable.check()
	return b.stable.oldest()
}

// WrapTxnVerifier replaces the verifier of b's transactional produces with
// what wrap makes of the real one.
func WrapTxnVerifier(b *Broker, wrap func(partition.TxnVerifier) partition.TxnVerifier) {
	b.parts.SetTxnVerifier(wrap(txnVerifier{b}))
}

// PartitionsOf is b's partition service.
func PartitionsOf(b *Broker) *partition.Service { return b.parts }

// HoldLeaderReports holds b's reports of the partitions it comes to lead
// (queued) until called with false.
func HoldLeaderReports(b *Broker, held bool) { b.reporter.SetHeld(held) }

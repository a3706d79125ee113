package kafka

import (
	"context"

	"github.com/chronik-go/chronik/core/quota"
)

// QuotaStore keeps the client quotas, the same on every broker
// (core/cluster: the meta shard). Each broker enforces them on its own
// traffic, as Kafka's brokers do.
type QuotaStore interface {
	// Quotas returns the current quotas: the same *quota.Set until they
	// change.
	Quotas() *quota.Set
	// AlterQuotas applies the alterations, all or none.
	AlterQuotas(ctx context.Context, alts []quota.Alteration) error
}

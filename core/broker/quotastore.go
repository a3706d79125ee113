package broker

import (
	"context"
	"slices"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/quota"
	"github.com/chronik-go/chronik/kafka"
	"github.com/chronik-go/chronik/raftsm"
)

// quotaStore is kafka.QuotaStore over the cluster's meta shard.
type quotaStore struct{ c *cluster.Service }

func (s quotaStore) Quotas() *quota.Set { return s.c.Quotas() }

func (s quotaStore) AlterQuotas(ctx context.Context, alts []quota.Alteration) error {
	if err := requireQuotaLevel(s.c, alts); err != nil {
		return err
	}
	return s.c.AlterQuotas(ctx, alts)
}

// requireQuotaLevel fails (cluster.ErrOldBrokers) while a broker runs a
// release whose meta shard would not apply alts the way this one does:
// one without quota changes, or, when alts set or remove
// controller_mutation_rate, one that refuses that key (the replicas would
// diverge).
func requireQuotaLevel(c *cluster.Service, alts []quota.Alteration) error {
	if err := c.RequireLevel(raftsm.LevelSecurity, "quota changes"); err != nil {
		return err
	}
	if altersKey(alts, quota.ControllerMutationRate) {
		return c.RequireLevel(raftsm.LevelTxnVerification, quota.ControllerMutationRate+" quotas")
	}
	return nil
}

// altersKey reports whether an op of alts sets or removes key.
func altersKey(alts []quota.Alteration, key string) bool {
	return slices.ContainsFunc(alts, func(a quota.Alteration) bool {
		return slices.ContainsFunc(a.Ops, func(op quota.Op) bool { return op.Key == key })
	})
}

var _ kafka.QuotaStore = quotaStore{}

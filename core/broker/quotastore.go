package broker

import (
	"context"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/quota"
	"github.com/chronik-go/chronik/kafka"
	"github.com/chronik-go/chronik/raftsm"
)

// quotaStore is kafka.QuotaStore over the cluster's meta shard.
type quotaStore struct{ c *cluster.Service }

func (s quotaStore) Quotas() *quota.Set { return s.c.Quotas() }

func (s quotaStore) AlterQuotas(ctx context.Context, alts []quota.Alteration) error {
	if err := s.c.RequireLevel(raftsm.LevelSecurity, "quota changes"); err != nil {
		return err
	}
	return s.c.AlterQuotas(ctx, alts)
}

var _ kafka.QuotaStore = quotaStore{}

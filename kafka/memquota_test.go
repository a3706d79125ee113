package kafka

import (
	"context"
	"sync"

	"github.com/chronik-go/chronik/core/quota"
)

// memQuotas is a QuotaStore in memory, for tests of the listener alone
// (the real one is the meta shard: core/cluster, raftsm/quotas.go).
type memQuotas struct {
	mu  sync.Mutex
	set *quota.Set
}

var _ QuotaStore = (*memQuotas)(nil)

func newMemQuotas(quotas ...map[quota.Entity]map[string]float64) *memQuotas {
	all := map[quota.Entity]map[string]float64{}
	for _, q := range quotas {
		for e, v := range q {
			all[e] = v
		}
	}
	return &memQuotas{set: quota.NewSet(all)}
}

func (m *memQuotas) Quotas() *quota.Set {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.set
}

func (m *memQuotas) AlterQuotas(_ context.Context, alts []quota.Alteration) error {
	for _, a := range alts {
		if err := a.Validate(); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.set = m.set.Apply(alts)
	return nil
}

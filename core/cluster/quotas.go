package cluster

import (
	"context"
	"fmt"

	"github.com/chronik-go/chronik/core/quota"
	"github.com/chronik-go/chronik/raftsm"
)

// Client quotas live in the meta shard (raftsm/quotas.go), so a quota
// altered through any broker applies on all of them; each enforces it on
// its own traffic.
//
// AlterQuotas goes through proposeRetrying, which may apply the command
// twice when an attempt committed but its answer was lost. That is
// harmless: setting a quota to a value twice leaves that value, and
// removing one twice leaves it removed. The one difference a retry can
// make is to order: an alteration of the same quota committed by someone
// else between the two applications is overwritten by the retry, as if
// the retried call had come last, which it did.

// Quotas returns the committed client quotas: the same *quota.Set until
// they change, never nil.
func (s *Service) Quotas() *quota.Set { return s.meta.View().Quotas }

// AlterQuotas commits the alterations, all or none. An invalid alteration
// fails the whole call with the reason Validate gives.
func (s *Service) AlterQuotas(ctx context.Context, alts []quota.Alteration) error {
	for _, a := range alts {
		if err := a.Validate(); err != nil {
			return fmt.Errorf("cluster: quotas of %s: %w", a.Entity, err)
		}
	}
	res, err := s.proposeRetrying(ctx, raftsm.EncodeAlterQuotas(alts))
	if err != nil {
		return err
	}
	if st := raftsm.ResultStatus(res.Data); st != raftsm.StatusOK {
		return fmt.Errorf("cluster: alter quotas: %s", st)
	}
	return nil
}

package cluster

import (
	"context"
	"fmt"

	"github.com/chronik-go/chronik/raftsm"
)

// Features returns the finalized feature levels set on the cluster
// (UpdateFeatures) and the epoch of the last change.
func (s *Service) Features() raftsm.FeatureLevels { return s.meta.View().Features }

// SetFeature sets a feature's finalized level for the whole cluster. The
// caller validates the feature and level; it needs every broker on a
// release that applies the command (raftsm.LevelTxnV2).
func (s *Service) SetFeature(ctx context.Context, name string, level int16) error {
	if err := s.RequireLevel(raftsm.LevelTxnV2, "feature levels"); err != nil {
		return err
	}
	res, err := s.proposeRetrying(ctx, raftsm.EncodeSetFeature(name, level))
	if err != nil {
		return err
	}
	if st := raftsm.ResultStatus(res.Data); st != raftsm.StatusOK {
		return fmt.Errorf("cluster: set feature %s to %d: %s", name, level, st)
	}
	return nil
}

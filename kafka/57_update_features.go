package kafka

// UpdateFeatures, key 57: versions 0–2 (KIP-584; kafka-features.sh
// upgrade / downgrade / disable).
//
//   - The one feature is transaction.version (levels 0–2; 2 turns on
//     KIP-890 part 2, see EndTxn): the level set is the cluster's, in the
//     meta shard, and overrides every broker's kafka.transaction-version.
//     Other features get INVALID_UPDATE_VERSION.
//   - A level below the one in effect is a downgrade: it needs
//     AllowDowngrade (v0, or v1+ with UpgradeType 0) or UpgradeType 2 or 3
//     (safe or unsafe downgrade, v1+), else INVALID_UPDATE_VERSION; a level below 1 turns the feature
//     off (0). Level 2 needs every broker on a release that serves it
//     (INVALID_UPDATE_VERSION naming the others). A feature named twice is
//     INVALID_REQUEST.
//   - All or nothing: when one update is refused none is applied, and the
//     top-level error is that refusal (v2 has only that). ValidateOnly
//     (v1+) checks without applying.
//   - With ACLs (authz.go): ALTER on the cluster
//     (CLUSTER_AUTHORIZATION_FAILED).

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/acl"
	"github.com/chronik-go/chronik/core/cluster"
)

// maxTransactionVersion is the highest transaction.version served.
const maxTransactionVersion = 2

func handleUpdateFeatures(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.UpdateFeaturesRequest)
	resp := req.ResponseKind().(*kmsg.UpdateFeaturesResponse)
	fail := func(code int16, msg string) kmsg.Response {
		resp.ErrorCode, resp.ErrorMessage = code, kmsg.StringPtr(msg)
		if req.Version < 2 {
			for _, u := range req.FeatureUpdates {
				resp.Results = append(resp.Results, kmsg.UpdateFeaturesResponseResult{Feature: u.Feature, ErrorCode: code, ErrorMessage: kmsg.StringPtr(msg)})
			}
		}
		return resp
	}
	if !s.authorized(r, kmsg.ACLOperationAlter, kmsg.ACLResourceTypeCluster, acl.ClusterName) {
		return fail(kerr.ClusterAuthorizationFailed.Code, "updating features needs ALTER on the cluster")
	}
	level := int16(-1)
	for i, u := range req.FeatureUpdates {
		for _, other := range req.FeatureUpdates[:i] {
			if other.Feature == u.Feature {
				return fail(kerr.InvalidRequest.Code, fmt.Sprintf("feature %q is updated more than once", u.Feature))
			}
		}
		if u.Feature != TransactionVersionFeature {
			return fail(kerr.InvalidUpdateVersion.Code, fmt.Sprintf("unknown feature %q: this cluster has %s (0–%d)", u.Feature, TransactionVersionFeature, maxTransactionVersion))
		}
		want := max(u.MaxVersionLevel, 0)
		if want > maxTransactionVersion {
			return fail(kerr.InvalidUpdateVersion.Code, fmt.Sprintf("%s %d is not served: at most %d", u.Feature, want, maxTransactionVersion))
		}
		downgrade := u.AllowDowngrade
		if req.Version >= 1 {
			switch u.UpgradeType {
			case 0: // unset (kadm leaves it): AllowDowngrade decides
			case 1:
				downgrade = false
			case 2, 3:
				downgrade = true
			default:
				return fail(kerr.InvalidRequest.Code, fmt.Sprintf("unknown upgrade type %d for %s", u.UpgradeType, u.Feature))
			}
		}
		if cur, _ := s.cfg.Txns.TransactionVersion(); want < cur && !downgrade {
			return fail(kerr.InvalidUpdateVersion.Code, fmt.Sprintf("%s is at %d: lowering it to %d is a downgrade (kafka-features.sh downgrade)", u.Feature, cur, want))
		}
		level = want
	}
	if level < 0 || req.ValidateOnly {
		return featureResults(req, resp)
	}
	if err := s.cfg.Txns.SetTransactionVersion(ctx, level); err != nil {
		code := s.errCode("UpdateFeatures", err)
		if errors.Is(err, cluster.ErrOldBrokers) {
			code = kerr.InvalidUpdateVersion.Code
		}
		return fail(code, err.Error())
	}
	return featureResults(req, resp)
}

// featureResults answers every update of req as done.
func featureResults(req *kmsg.UpdateFeaturesRequest, resp *kmsg.UpdateFeaturesResponse) kmsg.Response {
	if req.Version < 2 {
		for _, u := range req.FeatureUpdates {
			resp.Results = append(resp.Results, kmsg.UpdateFeaturesResponseResult{Feature: u.Feature})
		}
	}
	return resp
}

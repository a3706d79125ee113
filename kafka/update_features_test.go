package kafka

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

func featureUpdate(version int16, validateOnly bool, updates ...kmsg.UpdateFeaturesRequestFeatureUpdate) *kmsg.UpdateFeaturesRequest {
	req := kmsg.NewPtrUpdateFeaturesRequest()
	req.Version, req.ValidateOnly, req.TimeoutMillis, req.FeatureUpdates = version, validateOnly, 5000, updates
	return req
}

func tvUpdate(level int16, upgradeType int8, allowDowngrade bool) kmsg.UpdateFeaturesRequestFeatureUpdate {
	return kmsg.UpdateFeaturesRequestFeatureUpdate{Feature: "transaction.version", MaxVersionLevel: level, UpgradeType: upgradeType, AllowDowngrade: allowDowngrade}
}

func TestUpdateFeatures(t *testing.T) {
	txns := &fakeTxns{}
	ts := startServer(t, Config{Txns: txns}, nil)
	c := ts.dial(t)
	code := func(req *kmsg.UpdateFeaturesRequest) int16 {
		t.Helper()
		resp := c.do(req).(*kmsg.UpdateFeaturesResponse)
		if req.Version < 2 && len(resp.Results) != len(req.FeatureUpdates) {
			t.Fatalf("v%d: %d results for %d updates", req.Version, len(resp.Results), len(req.FeatureUpdates))
		}
		for _, r := range resp.Results {
			if r.ErrorCode != resp.ErrorCode {
				t.Fatalf("v%d: result %+v against top-level %d (all or nothing)", req.Version, r, resp.ErrorCode)
			}
		}
		return resp.ErrorCode
	}
	other := kmsg.UpdateFeaturesRequestFeatureUpdate{Feature: "metadata.version", MaxVersionLevel: 20, UpgradeType: 1}
	for name, tc := range map[string]struct {
		req  *kmsg.UpdateFeaturesRequest
		want int16
	}{
		"downgrade without the type":    {featureUpdate(1, false, tvUpdate(0, 1, false)), kerr.InvalidUpdateVersion.Code},
		"v0 downgrade without allowing": {featureUpdate(0, false, tvUpdate(1, 0, false)), kerr.InvalidUpdateVersion.Code},
		"unknown feature":               {featureUpdate(1, false, tvUpdate(2, 1, false), other), kerr.InvalidUpdateVersion.Code},
		"level not served":              {featureUpdate(1, false, tvUpdate(3, 1, false)), kerr.InvalidUpdateVersion.Code},
		"named twice":                   {featureUpdate(1, false, tvUpdate(2, 1, false), tvUpdate(2, 1, false)), kerr.InvalidRequest.Code},
		"unknown upgrade type":          {featureUpdate(1, false, tvUpdate(2, 7, false)), kerr.InvalidRequest.Code},
		"validate only":                 {featureUpdate(1, true, tvUpdate(0, 2, false)), 0},
		"v2 refusal":                    {featureUpdate(2, false, tvUpdate(0, 1, false)), kerr.InvalidUpdateVersion.Code},
	} {
		if got := code(tc.req); got != tc.want {
			t.Errorf("%s: %v, want %v", name, kerr.ErrorForCode(got), kerr.ErrorForCode(tc.want))
		}
	}
	if calls := txns.take(); len(calls) != 0 {
		t.Fatalf("refused or validate-only updates applied: %+v", calls)
	}
	// A safe downgrade to 0 applies, and ApiVersions then finalizes nothing
	// under a newer epoch; an upgrade back (v0 semantics) finalizes 2.
	if got := code(featureUpdate(1, false, tvUpdate(0, 2, false))); got != 0 {
		t.Fatalf("safe downgrade: %v", kerr.ErrorForCode(got))
	}
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version, av.ClientSoftwareName, av.ClientSoftwareVersion = 4, "test", "1"
	if r := c.do(av).(*kmsg.ApiVersionsResponse); r.FinalizedFeaturesEpoch != 3 || len(r.FinalizedFeatures) != 0 {
		t.Fatalf("after the downgrade: epoch %d, finalized %+v", r.FinalizedFeaturesEpoch, r.FinalizedFeatures)
	}
	if got := code(featureUpdate(0, false, tvUpdate(2, 0, false))); got != 0 {
		t.Fatalf("v0 upgrade: %v", kerr.ErrorForCode(got))
	}
	if r := c.do(av).(*kmsg.ApiVersionsResponse); r.FinalizedFeaturesEpoch != 4 || len(r.FinalizedFeatures) != 1 || r.FinalizedFeatures[0].MaxVersionLevel != 2 {
		t.Fatalf("after the upgrade: epoch %d, finalized %+v", r.FinalizedFeaturesEpoch, r.FinalizedFeatures)
	}
	if calls := txns.take(); !reflect.DeepEqual(calls, []txnCall{{Op: "feature", Epoch: 0}, {Op: "feature", Epoch: 2}}) {
		t.Fatalf("applied %+v", calls)
	}
	txns.setErr(errNoTxns)
	if got := code(featureUpdate(1, false, tvUpdate(2, 1, false))); got != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("failed update: %v", kerr.ErrorForCode(got))
	}
}

// TestUpdateFeaturesNeedsClusterAlter: without ALTER on the cluster the
// update is refused and nothing is applied.
func TestUpdateFeaturesNeedsClusterAlter(t *testing.T) {
	txns := &fakeTxns{}
	ts := aclServerWith(t, newMemACLs(), false, func(c *Config) { c.Txns = txns })
	bob := newKgoClient(t, ts, kgo.SASL(plain.Auth{User: "bob", Pass: "bob-secret"}.AsMechanism()), kgo.RequestRetries(0))
	resp, err := featureUpdate(1, false, tvUpdate(2, 1, false)).RequestWith(t.Context(), bob)
	if err != nil || resp.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("bob updates features: %v %+v", err, resp)
	}
	if calls := txns.take(); len(calls) != 0 {
		t.Fatalf("applied %+v", calls)
	}
}

package opsctl

import (
	"context"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// keyUpdateFeatures is UpdateFeatures (kafka-features.sh).
const keyUpdateFeatures = 57

// FeatureChange is the result of `cluster set-feature`.
type FeatureChange struct {
	Feature string `json:"feature"`
	Level   int16  `json:"level"`
	// Previous is the level finalized before (0 when none was).
	Previous int16 `json:"previous"`
	// DryRun is set when the brokers only validated the change.
	DryRun bool `json:"dry_run"`
}

// SetFeature finalizes a feature at a level for the whole cluster, as
// kafka-features.sh upgrade|downgrade does (UpdateFeatures). A level below
// the finalized one needs allowDowngrade; dryRun has the brokers validate
// the change without making it. The brokers refuse unknown features,
// levels they do not support, and (naming them) a change while some broker
// runs a release that cannot apply it.
func (c *Client) SetFeature(ctx context.Context, name string, level int16, allowDowngrade, dryRun bool) (*FeatureChange, error) {
	if name == "" || level < 0 {
		return nil, invalidf("feature %q at level %d: give NAME=LEVEL with a level of 0 or more, e.g. transaction.version=2", name, level)
	}
	if err := c.require("set feature levels", keyUpdateFeatures); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	req := kmsg.NewPtrUpdateFeaturesRequest()
	req.Version = 1 // per-feature results with the brokers' messages (v2 drops them)
	req.TimeoutMillis, req.ValidateOnly = int32(c.timeout.Milliseconds()), dryRun
	u := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
	u.Feature, u.MaxVersionLevel, u.UpgradeType = name, level, 1
	if allowDowngrade {
		u.UpgradeType = 2 // safe downgrade
	}
	req.FeatureUpdates = append(req.FeatureUpdates, u)
	resp, err := req.RequestWith(ctx, c.kgo)
	if err != nil {
		return nil, c.explain(err)
	}
	s := subject{"feature", name}
	fail := func(code int16, msg *string) error {
		m := deref(msg)
		if !allowDowngrade && level < c.features[name] {
			m += fmt.Sprintf(" (finalized at %d now: add --allow-downgrade to lower it)", c.features[name])
		}
		return c.fail(kerr.ErrorForCode(code), m, s)
	}
	if resp.ErrorCode != 0 {
		return nil, fail(resp.ErrorCode, resp.ErrorMessage)
	}
	for _, r := range resp.Results {
		if r.ErrorCode != 0 {
			return nil, fail(r.ErrorCode, r.ErrorMessage)
		}
	}
	return &FeatureChange{Feature: name, Level: level, Previous: c.features[name], DryRun: dryRun}, nil
}

// WriteTable implements Report.
func (r *FeatureChange) WriteTable(w io.Writer) error {
	status := "set"
	if r.DryRun {
		status = "valid (dry run: nothing changed)"
	}
	t := newTable(w, "FEATURE", "LEVEL", "PREVIOUS", "STATUS")
	t.row(r.Feature, itoa(r.Level), itoa(r.Previous), status)
	return t.flush()
}

package kafka

// DescribeClientQuotas, key 48: versions 0–1 (KIP-546; flexible from v1),
// as Kafka serves them.
//
//   - Without Config.Quotas the answer is UNKNOWN_SERVER_ERROR ("this
//     broker keeps no quotas").
//   - The principal needs DESCRIBE_CONFIGS on the cluster (super users
//     have it), else the top-level error is CLUSTER_AUTHORIZATION_FAILED.
//   - Each component selects entities by one part: MatchType 0 the named
//     user or client ID, 1 the default, 2 any of that type (the default
//     included); Strict leaves out entities with a part the filter does
//     not name (quota.Filter). Only user and client-id entities exist
//     here: an ip component (connection_creation_rate), an unknown type, a
//     type twice, an unknown match type or an EXACT match without a name
//     is a top-level INVALID_REQUEST with the reason.
//   - The entries are the matching entities, sorted (the default before
//     names), each with the user before the client ID (a nil name is the
//     default) and its quotas sorted by key (consumer_byte_rate,
//     controller_mutation_rate, producer_byte_rate). Kafka's order is a hash
//     map's; clients do not depend on it.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/quota"
)

const (
	keyDescribeClientQuotas int16 = 48
	keyAlterClientQuotas    int16 = 49
)

// noQuotaStore is the message of the quota APIs without Config.Quotas.
const noQuotaStore = "this broker keeps no quotas"

func handleDescribeClientQuotas(_ context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.DescribeClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	fail := func(code int16, msg string) kmsg.Response {
		resp.ErrorCode, resp.ErrorMessage = code, kmsg.StringPtr(msg)
		return resp
	}
	if s.cfg.Quotas == nil {
		return fail(kerr.UnknownServerError.Code, noQuotaStore)
	}
	if !s.authorizedCluster(r, kmsg.ACLOperationDescribeConfigs) {
		return fail(kerr.ClusterAuthorizationFailed.Code,
			r.principal+" may not DESCRIBE_CONFIGS the cluster, which DescribeClientQuotas needs")
	}
	f := quota.Filter{Strict: req.Strict}
	for _, c := range req.Components {
		if err := quota.CheckType(c.EntityType); err != nil {
			return fail(kerr.InvalidRequest.Code, "invalid filter: "+err.Error())
		}
		comp := quota.Component{Type: c.EntityType, Match: quota.MatchKind(c.MatchType)}
		if c.MatchType == kmsg.QuotasMatchTypeExact {
			if c.Match == nil {
				return fail(kerr.InvalidRequest.Code, "invalid filter: an EXACT match of "+c.EntityType+" needs a name")
			}
			comp.Name = *c.Match
		}
		f.Components = append(f.Components, comp)
	}
	if err := f.Validate(); err != nil {
		return fail(kerr.InvalidRequest.Code, "invalid filter: "+err.Error())
	}
	set := s.cfg.Quotas.Quotas()
	for _, e := range set.Match(f) {
		entry := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, p := range e.Wire() {
			we := kmsg.NewDescribeClientQuotasResponseEntryEntity()
			we.Type, we.Name = p.Type, p.Name
			entry.Entity = append(entry.Entity, we)
		}
		q := set.Quotas(e)
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v := kmsg.NewDescribeClientQuotasResponseEntryValue()
			v.Key, v.Value = k, q[k]
			entry.Values = append(entry.Values, v)
		}
		resp.Entries = append(resp.Entries, entry)
	}
	return resp
}

package kafka

// AlterClientQuotas, key 49: versions 0–1 (KIP-546; flexible from v1), as
// Kafka serves them. One result per entry, in request order, echoing the
// entry's entity.
//
//   - Without Config.Quotas every result is UNKNOWN_SERVER_ERROR ("this
//     broker keeps no quotas").
//   - The principal needs ALTER_CONFIGS on the cluster (super users have
//     it), else every result is CLUSTER_AUTHORIZATION_FAILED.
//   - An entity is user and/or client-id components, a nil name being the
//     default. An ip entity (connection_creation_rate), an unknown type, a
//     type twice or no component at all is INVALID_REQUEST with the
//     reason. So is an op quota.Alteration.Validate rejects: a key other
//     than producer_byte_rate, consumer_byte_rate and
//     controller_mutation_rate (request_percentage is not enforced here,
//     so it is refused rather than kept and ignored), a byte rate that is
//     not a whole, positive number of bytes/s, a controller_mutation_rate
//     that is not a positive number of partitions/s (fractions allowed),
//     a key altered twice in the entry. The other entries still apply.
//   - With ValidateOnly nothing changes; the answer is what it would be.
//   - The valid entries apply together, in order, in one call to the
//     quota store (one change to the meta shard): all or none. If the
//     store fails, each of them gets its error: UNSUPPORTED_VERSION
//     (core/broker/quotastore.go) while a broker runs a release that does
//     not apply quota changes, or, when one of them sets or removes
//     controller_mutation_rate, a release that does not know that key.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/quota"
)

func handleAlterClientQuotas(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.AlterClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	resp.Entries = make([]kmsg.AlterClientQuotasResponseEntry, len(req.Entries))
	for i, e := range req.Entries {
		re := &resp.Entries[i]
		re.Default()
		for _, p := range e.Entity {
			we := kmsg.NewAlterClientQuotasResponseEntryEntity()
			we.Type, we.Name = p.Type, p.Name
			re.Entity = append(re.Entity, we)
		}
	}
	set := entryErrors(func(i int, code int16, msg *string) {
		resp.Entries[i].ErrorCode, resp.Entries[i].ErrorMessage = code, msg
	})
	if s.cfg.Quotas == nil {
		set.all(len(resp.Entries), kerr.UnknownServerError.Code, noQuotaStore)
		return resp
	}
	if !s.authorizedCluster(r, kmsg.ACLOperationAlterConfigs) {
		set.all(len(resp.Entries), kerr.ClusterAuthorizationFailed.Code, r.principal+" may not ALTER_CONFIGS the cluster, which AlterClientQuotas needs")
		return resp
	}
	valid, at := validEntries(len(req.Entries), set, "", func(i int) (quota.Alteration, error) {
		e := &req.Entries[i]
		parts := make([]quota.WirePart, len(e.Entity))
		for j, p := range e.Entity {
			parts[j] = quota.WirePart{Type: p.Type, Name: p.Name}
		}
		entity, err := quota.ParseEntity(parts)
		if err != nil {
			return quota.Alteration{}, fmt.Errorf("invalid entity: %w", err)
		}
		alt := quota.Alteration{Entity: entity, Ops: make([]quota.Op, len(e.Ops))}
		for j, op := range e.Ops {
			alt.Ops[j] = quota.Op{Key: op.Key, Value: op.Value, Remove: op.Remove}
		}
		return alt, alt.Validate()
	})
	if len(valid) == 0 || req.ValidateOnly {
		return resp
	}
	if err := s.cfg.Quotas.AlterQuotas(ctx, valid); err != nil {
		set.failed(s, "AlterClientQuotas", at, err)
	}
	return resp
}

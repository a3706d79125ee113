package kafka

// CreateAcls, key 30: versions 0–3 (KIP-140; pattern types from v1,
// KIP-290; flexible from v2). Versions as DescribeAcls
// (29_describe_acls.go). One result per creation, in request order.
//
//   - Without Config.ACLs every result is SECURITY_DISABLED ("No
//     Authorizer is configured.").
//   - The principal needs ALTER on the cluster (super users have it), else
//     every result is CLUSTER_AUTHORIZATION_FAILED.
//   - A v0 creation has no pattern type and is LITERAL.
//   - A creation that acl.Binding.Validate rejects (an ANY or UNKNOWN
//     value, a MATCH pattern, an empty name, a CLUSTER resource not named
//     kafka-cluster, a PREFIXED "*", an operation the resource type does
//     not have, a principal not of the form Type:name, an empty host) is
//     INVALID_REQUEST with the reason, as Kafka answers invalid ACLs; the
//     others are still created.
//   - The valid ones are created together, in one call to the ACL store
//     (one change to the meta shard); a binding that exists already is no
//     error. If the store fails, each of them gets its error.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/acl"
)

func handleCreateACLs(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	resp.Results = make([]kmsg.CreateACLsResponseResult, len(req.Creations))
	set := entryErrors(func(i int, code int16, msg *string) {
		resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = code, msg
	})
	for i := range resp.Results {
		resp.Results[i].Default()
	}
	if !s.mayAlterACLs(r, "CreateAcls", len(resp.Results), set) {
		return resp
	}
	valid, at := validEntries(len(req.Creations), set, "invalid ACL: ", func(i int) (acl.Binding, error) {
		c := &req.Creations[i]
		b := acl.Binding{
			ResourceType: c.ResourceType,
			ResourceName: c.ResourceName,
			PatternType:  c.ResourcePatternType,
			Principal:    c.Principal,
			Host:         c.Host,
			Operation:    c.Operation,
			Permission:   c.PermissionType,
		}
		if req.Version == 0 {
			b.PatternType = kmsg.ACLResourcePatternTypeLiteral
		}
		return b, b.Validate()
	})
	if len(valid) == 0 {
		return resp
	}
	if err := s.cfg.ACLs.CreateACLs(ctx, valid); err != nil {
		set.failed(s, "CreateAcls", at, err)
	}
	return resp
}

package kafka

// DeleteAcls, key 31: versions 0–3 (KIP-140; pattern types from v1,
// KIP-290; flexible from v2). Versions as DescribeAcls
// (29_describe_acls.go). One result per filter, in request order.
//
//   - Without Config.ACLs every result is SECURITY_DISABLED ("No
//     Authorizer is configured.").
//   - The principal needs ALTER on the cluster (super users have it), else
//     every result is CLUSTER_AUTHORIZATION_FAILED.
//   - A v0 filter has no pattern type and selects LITERAL bindings only
//     (Kafka's v0 rule).
//   - A filter with an enumeration value that is UNKNOWN or out of range is
//     INVALID_REQUEST with the reason; the other filters still delete.
//   - The valid filters delete together, atomically, in one call to the
//     ACL store. Each result's MatchingACLs are the bindings its filter
//     selected, so a binding two filters select is listed under both (as
//     Kafka's controller does). If the store fails, each valid filter gets
//     its error.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/acl"
)

func handleDeleteACLs(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	resp.Results = make([]kmsg.DeleteACLsResponseResult, len(req.Filters))
	set := entryErrors(func(i int, code int16, msg *string) {
		resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = code, msg
	})
	for i := range resp.Results {
		resp.Results[i].Default()
	}
	if !s.mayAlterACLs(r, "DeleteAcls", len(resp.Results), set) {
		return resp
	}
	valid, at := validEntries(len(req.Filters), set, "invalid filter: ", func(i int) (acl.Filter, error) {
		kf := &req.Filters[i]
		f := acl.Filter{
			ResourceType: kf.ResourceType,
			ResourceName: kf.ResourceName,
			PatternType:  kf.ResourcePatternType,
			Principal:    kf.Principal,
			Host:         kf.Host,
			Operation:    kf.Operation,
			Permission:   kf.PermissionType,
		}
		if req.Version == 0 {
			f.PatternType = kmsg.ACLResourcePatternTypeLiteral
		}
		return f, f.Validate()
	})
	if len(valid) == 0 {
		return resp
	}
	deleted, err := s.cfg.ACLs.DeleteACLs(ctx, valid)
	if err == nil && len(deleted) != len(valid) {
		err = fmt.Errorf("kafka: the ACL store answered %d results to %d filters", len(deleted), len(valid))
	}
	if err != nil {
		set.failed(s, "DeleteAcls", at, err)
		return resp
	}
	for j, i := range at {
		for _, b := range deleted[j] {
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName, m.ResourcePatternType = b.ResourceType, b.ResourceName, b.PatternType
			m.Principal, m.Host, m.Operation, m.PermissionType = b.Principal, b.Host, b.Operation, b.Permission
			resp.Results[i].MatchingACLs = append(resp.Results[i].MatchingACLs, m)
		}
	}
	return resp
}

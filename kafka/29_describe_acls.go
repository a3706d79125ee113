package kafka

// DescribeAcls, key 29: versions 0–3 (KIP-140; pattern types from v1,
// KIP-290; flexible from v2). Kafka 3.x serves 0–3; 4.0 dropped v0
// (KIP-896), but it costs one line here, so clients that still send it
// work.
//
//   - Without Config.ACLs the answer is SECURITY_DISABLED ("No Authorizer
//     is configured."), as Kafka answers without an authorizer.
//   - The principal needs DESCRIBE on the cluster (super users have it),
//     else CLUSTER_AUTHORIZATION_FAILED.
//   - A filter with an enumeration value that is UNKNOWN or out of range is
//     INVALID_REQUEST with the reason. v0 has no pattern type: its filter
//     selects LITERAL bindings only (Kafka's v0 rule), so a v0 response,
//     which cannot say PREFIXED, never lists a prefixed binding.
//   - The matching bindings are grouped into one resource per (type,
//     pattern, name), sorted by type, pattern, then name, and within a
//     resource by principal, host, operation and permission (Kafka's order
//     is a hash map's; clients do not depend on it).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/acl"
)

// noAuthorizer is Kafka's message for the ACL APIs when authorization is
// off (SECURITY_DISABLED).
const noAuthorizer = "No Authorizer is configured."

func handleDescribeACLs(_ context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.DescribeACLsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	fail := func(code int16, msg string) kmsg.Response {
		resp.ErrorCode, resp.ErrorMessage = code, kmsg.StringPtr(msg)
		return resp
	}
	if !s.aclsEnabled() {
		return fail(kerr.SecurityDisabled.Code, noAuthorizer)
	}
	if !s.authorizedCluster(r, kmsg.ACLOperationDescribe) {
		return fail(kerr.ClusterAuthorizationFailed.Code, r.principal+" may not DESCRIBE the cluster, which DescribeAcls needs")
	}
	f := acl.Filter{
		ResourceType: req.ResourceType,
		ResourceName: req.ResourceName,
		PatternType:  req.ResourcePatternType,
		Principal:    req.Principal,
		Host:         req.Host,
		Operation:    req.Operation,
		Permission:   req.PermissionType,
	}
	if req.Version == 0 {
		f.PatternType = kmsg.ACLResourcePatternTypeLiteral
	}
	if err := f.Validate(); err != nil {
		return fail(kerr.InvalidRequest.Code, "invalid filter: "+err.Error())
	}
	resp.Resources = describedResources(s.cfg.ACLs.ACLs().Match(f))
	return resp
}

// describedResources groups bindings, sorted as acl.Set.Match returns
// them (resource first), into DescribeAcls resources.
func describedResources(bindings []acl.Binding) []kmsg.DescribeACLsResponseResource {
	var out []kmsg.DescribeACLsResponseResource
	for i, b := range bindings {
		if i == 0 || b.ResourceType != bindings[i-1].ResourceType || b.PatternType != bindings[i-1].PatternType ||
			b.ResourceName != bindings[i-1].ResourceName {
			res := kmsg.NewDescribeACLsResponseResource()
			res.ResourceType, res.ResourceName, res.ResourcePatternType = b.ResourceType, b.ResourceName, b.PatternType
			out = append(out, res)
		}
		a := kmsg.NewDescribeACLsResponseResourceACL()
		a.Principal, a.Host, a.Operation, a.PermissionType = b.Principal, b.Host, b.Operation, b.Permission
		res := &out[len(out)-1]
		res.ACLs = append(res.ACLs, a)
	}
	return out
}

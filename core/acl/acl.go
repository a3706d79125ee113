// Package acl holds Kafka's access control lists: the bindings an operator
// creates (CreateAcls), the filters that describe and delete them
// (DescribeAcls, DeleteAcls), and the decision whether a principal may do an
// operation on a resource, by the rules of Kafka's StandardAuthorizer.
//
// It is pure and shared: the meta shard stores the bindings (raftsm/acls.go)
// and deletes by filter there, the Kafka listener decides with a Set
// (kafka/authz.go). Resource types, pattern types, operations and
// permissions are kmsg's enumerations, numbered as on the wire.
package acl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Names with a meaning of their own.
const (
	// Wildcard as a literal resource name matches every resource of its
	// type; as a host, every host.
	Wildcard = "*"
	// WildcardPrincipal matches every user.
	WildcardPrincipal = "User:*"
	// ClusterName is the only name of the cluster resource.
	ClusterName = "kafka-cluster"
)

// Binding is one access control entry on a resource pattern: Principal
// connecting from Host is allowed or denied Operation on the resources
// ResourceName names (literally, or as a prefix).
type Binding struct {
	ResourceType kmsg.ACLResourceType
	ResourceName string
	PatternType  kmsg.ACLResourcePatternType
	Principal    string
	Host         string
	Operation    kmsg.ACLOperation
	Permission   kmsg.ACLPermissionType
}

func (b Binding) String() string {
	return fmt.Sprintf("(%s %s %s) %s from %s: %s %s", b.ResourceType, b.PatternType, b.ResourceName,
		b.Principal, b.Host, b.Permission, b.Operation)
}

// supported lists the operations that mean something on each resource type
// (Kafka's AclEntry.supportedOperations); ALL is accepted on every type.
var supported = map[kmsg.ACLResourceType][]kmsg.ACLOperation{
	kmsg.ACLResourceTypeTopic: {
		kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationCreate, kmsg.ACLOperationDescribe,
		kmsg.ACLOperationDelete, kmsg.ACLOperationAlter, kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs,
	},
	kmsg.ACLResourceTypeGroup: {kmsg.ACLOperationRead, kmsg.ACLOperationDescribe, kmsg.ACLOperationDelete},
	kmsg.ACLResourceTypeCluster: {
		kmsg.ACLOperationCreate, kmsg.ACLOperationClusterAction, kmsg.ACLOperationDescribeConfigs,
		kmsg.ACLOperationAlterConfigs, kmsg.ACLOperationIdempotentWrite, kmsg.ACLOperationAlter,
		kmsg.ACLOperationDescribe,
	},
	kmsg.ACLResourceTypeTransactionalId: {kmsg.ACLOperationDescribe, kmsg.ACLOperationWrite},
	kmsg.ACLResourceTypeDelegationToken: {kmsg.ACLOperationDescribe},
	kmsg.ACLResourceTypeUser:            {kmsg.ACLOperationCreateTokens, kmsg.ACLOperationDescribeTokens},
}

// Validate reports why b cannot be created, as CreateAcls' error message.
func (b Binding) Validate() error {
	ops, ok := supported[b.ResourceType]
	switch {
	case !ok:
		return fmt.Errorf("resource type %s cannot have ACLs", b.ResourceType)
	case b.PatternType != kmsg.ACLResourcePatternTypeLiteral && b.PatternType != kmsg.ACLResourcePatternTypePrefixed:
		return fmt.Errorf("pattern type %s: an ACL is LITERAL or PREFIXED", b.PatternType)
	case b.ResourceName == "":
		return errors.New("empty resource name")
	case b.ResourceType == kmsg.ACLResourceTypeCluster && b.ResourceName != ClusterName:
		return fmt.Errorf("the only name of the CLUSTER resource is %s, not %q", ClusterName, b.ResourceName)
	case b.PatternType == kmsg.ACLResourcePatternTypePrefixed && b.ResourceName == Wildcard:
		return errors.New("a PREFIXED ACL cannot name the wildcard resource \"*\"; use LITERAL")
	case b.Operation != kmsg.ACLOperationAll && !contains(ops, b.Operation):
		return fmt.Errorf("operation %s does not apply to resource type %s", b.Operation, b.ResourceType)
	case b.Permission != kmsg.ACLPermissionTypeAllow && b.Permission != kmsg.ACLPermissionTypeDeny:
		return fmt.Errorf("permission %s: an ACL is ALLOW or DENY", b.Permission)
	case b.Host == "":
		return errors.New("empty host (use \"*\" for every host)")
	}
	return ValidatePrincipal(b.Principal)
}

// ValidatePrincipal reports whether p is "Type:name" with both parts set.
func ValidatePrincipal(p string) error {
	typ, name, ok := strings.Cut(p, ":")
	if !ok || typ == "" || name == "" {
		return fmt.Errorf("principal %q is not of the form Type:name (User:alice)", p)
	}
	return nil
}

func contains(ops []kmsg.ACLOperation, op kmsg.ACLOperation) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

// Filter selects bindings (DescribeAcls, DeleteAcls). ANY matches every
// value of an enumeration; a nil string matches every string. PatternType
// MATCH selects the bindings that apply to the resource ResourceName names:
// literal ones with that name or the wildcard, prefixed ones with a prefix
// of it.
type Filter struct {
	ResourceType kmsg.ACLResourceType
	ResourceName *string
	PatternType  kmsg.ACLResourcePatternType
	Principal    *string
	Host         *string
	Operation    kmsg.ACLOperation
	Permission   kmsg.ACLPermissionType
}

// Validate reports why f cannot be used: a value of an enumeration that is
// unknown (Kafka answers INVALID_REQUEST).
func (f Filter) Validate() error {
	switch {
	case f.ResourceType <= kmsg.ACLResourceTypeUnknown || f.ResourceType > kmsg.ACLResourceTypeUser:
		return fmt.Errorf("unknown resource type %d", f.ResourceType)
	case f.PatternType <= kmsg.ACLResourcePatternTypeUnknown || f.PatternType > kmsg.ACLResourcePatternTypePrefixed:
		return fmt.Errorf("unknown pattern type %d", f.PatternType)
	case f.Operation <= kmsg.ACLOperationUnknown || f.Operation > kmsg.ACLOperationDescribeTokens:
		return fmt.Errorf("unknown operation %d", f.Operation)
	case f.Permission <= kmsg.ACLPermissionTypeUnknown || f.Permission > kmsg.ACLPermissionTypeAllow:
		return fmt.Errorf("unknown permission %d", f.Permission)
	}
	return nil
}

// Matches reports whether f selects b.
func (f Filter) Matches(b Binding) bool {
	return f.matchesPattern(b) &&
		(f.Principal == nil || *f.Principal == b.Principal) &&
		(f.Host == nil || *f.Host == b.Host) &&
		(f.Operation == kmsg.ACLOperationAny || f.Operation == b.Operation) &&
		(f.Permission == kmsg.ACLPermissionTypeAny || f.Permission == b.Permission)
}

func (f Filter) matchesPattern(b Binding) bool {
	if f.ResourceType != kmsg.ACLResourceTypeAny && f.ResourceType != b.ResourceType {
		return false
	}
	switch f.PatternType {
	case kmsg.ACLResourcePatternTypeAny:
	case kmsg.ACLResourcePatternTypeMatch:
		if f.ResourceName == nil {
			return true
		}
		name := *f.ResourceName
		if b.PatternType == kmsg.ACLResourcePatternTypePrefixed {
			return strings.HasPrefix(name, b.ResourceName)
		}
		return b.ResourceName == name || b.ResourceName == Wildcard
	default:
		if f.PatternType != b.PatternType {
			return false
		}
	}
	return f.ResourceName == nil || *f.ResourceName == b.ResourceName
}

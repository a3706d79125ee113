package acl

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicACL is a valid binding: alice may read topic t from every host.
func topicACL() Binding {
	return Binding{
		ResourceType: kmsg.ACLResourceTypeTopic, ResourceName: "t", PatternType: kmsg.ACLResourcePatternTypeLiteral,
		Principal: "User:alice", Host: Wildcard, Operation: kmsg.ACLOperationRead, Permission: kmsg.ACLPermissionTypeAllow,
	}
}

func TestBindingValidate(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*Binding)
		errHas string // "" means valid
	}{
		{"valid", func(*Binding) {}, ""},
		{"prefixed", func(b *Binding) { b.PatternType = kmsg.ACLResourcePatternTypePrefixed }, ""},
		{"literal wildcard", func(b *Binding) { b.ResourceName = Wildcard }, ""},
		{"deny", func(b *Binding) { b.Permission = kmsg.ACLPermissionTypeDeny }, ""},
		{"ALL on a topic", func(b *Binding) { b.Operation = kmsg.ACLOperationAll }, ""},
		{"every user", func(b *Binding) { b.Principal = WildcardPrincipal }, ""},
		{"one host", func(b *Binding) { b.Host = "10.0.0.1" }, ""},
		{"cluster", func(b *Binding) {
			b.ResourceType, b.ResourceName, b.Operation = kmsg.ACLResourceTypeCluster, ClusterName, kmsg.ACLOperationIdempotentWrite
		}, ""},
		{"group read", func(b *Binding) { b.ResourceType = kmsg.ACLResourceTypeGroup }, ""},
		{"transactional id write", func(b *Binding) {
			b.ResourceType, b.Operation = kmsg.ACLResourceTypeTransactionalId, kmsg.ACLOperationWrite
		}, ""},
		{"delegation token describe", func(b *Binding) {
			b.ResourceType, b.Operation = kmsg.ACLResourceTypeDelegationToken, kmsg.ACLOperationDescribe
		}, ""},
		{"user create tokens", func(b *Binding) {
			b.ResourceType, b.Operation = kmsg.ACLResourceTypeUser, kmsg.ACLOperationCreateTokens
		}, ""},

		{"resource type ANY", func(b *Binding) { b.ResourceType = kmsg.ACLResourceTypeAny }, "resource type"},
		{"resource type UNKNOWN", func(b *Binding) { b.ResourceType = kmsg.ACLResourceTypeUnknown }, "resource type"},
		{"resource type out of range", func(b *Binding) { b.ResourceType = 99 }, "resource type"},
		{"pattern ANY", func(b *Binding) { b.PatternType = kmsg.ACLResourcePatternTypeAny }, "pattern type"},
		{"pattern MATCH", func(b *Binding) { b.PatternType = kmsg.ACLResourcePatternTypeMatch }, "pattern type"},
		{"pattern UNKNOWN", func(b *Binding) { b.PatternType = kmsg.ACLResourcePatternTypeUnknown }, "pattern type"},
		{"empty name", func(b *Binding) { b.ResourceName = "" }, "empty resource name"},
		{"cluster named otherwise", func(b *Binding) {
			b.ResourceType, b.ResourceName, b.Operation = kmsg.ACLResourceTypeCluster, "other", kmsg.ACLOperationAlter
		}, "kafka-cluster"},
		{"prefixed wildcard", func(b *Binding) {
			b.PatternType, b.ResourceName = kmsg.ACLResourcePatternTypePrefixed, Wildcard
		}, "PREFIXED"},
		{"operation ANY", func(b *Binding) { b.Operation = kmsg.ACLOperationAny }, "operation"},
		{"operation UNKNOWN", func(b *Binding) { b.Operation = kmsg.ACLOperationUnknown }, "operation"},
		{"operation not on the type", func(b *Binding) { b.Operation = kmsg.ACLOperationIdempotentWrite }, "does not apply"},
		{"group write", func(b *Binding) {
			b.ResourceType, b.Operation = kmsg.ACLResourceTypeGroup, kmsg.ACLOperationWrite
		}, "does not apply"},
		{"permission ANY", func(b *Binding) { b.Permission = kmsg.ACLPermissionTypeAny }, "permission"},
		{"permission UNKNOWN", func(b *Binding) { b.Permission = kmsg.ACLPermissionTypeUnknown }, "permission"},
		{"empty host", func(b *Binding) { b.Host = "" }, "empty host"},
		{"principal without type", func(b *Binding) { b.Principal = "alice" }, "Type:name"},
		{"principal with empty name", func(b *Binding) { b.Principal = "User:" }, "Type:name"},
		{"principal with empty type", func(b *Binding) { b.Principal = ":alice" }, "Type:name"},
		{"empty principal", func(b *Binding) { b.Principal = "" }, "Type:name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := topicACL()
			tt.edit(&b)
			err := b.Validate()
			switch {
			case tt.errHas == "" && err != nil:
				t.Fatalf("%v: unexpected error %v", b, err)
			case tt.errHas != "" && err == nil:
				t.Fatalf("%v: valid, want an error containing %q", b, tt.errHas)
			case tt.errHas != "" && !strings.Contains(err.Error(), tt.errHas):
				t.Fatalf("%v: error %q does not contain %q", b, err, tt.errHas)
			}
		})
	}
}

// anyFilter matches every binding.
func anyFilter() Filter {
	return Filter{
		ResourceType: kmsg.ACLResourceTypeAny, PatternType: kmsg.ACLResourcePatternTypeAny,
		Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny,
	}
}

func TestFilterValidate(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*Filter)
		errHas string
	}{
		{"any", func(*Filter) {}, ""},
		{"match", func(f *Filter) { f.PatternType = kmsg.ACLResourcePatternTypeMatch }, ""},
		{"concrete", func(f *Filter) {
			f.ResourceType, f.PatternType = kmsg.ACLResourceTypeUser, kmsg.ACLResourcePatternTypePrefixed
			f.Operation, f.Permission = kmsg.ACLOperationDescribeTokens, kmsg.ACLPermissionTypeAllow
		}, ""},
		// A filter may name an operation that no ACL of the type can have:
		// it matches nothing, as in Kafka.
		{"operation not on the type", func(f *Filter) {
			f.ResourceType, f.Operation = kmsg.ACLResourceTypeGroup, kmsg.ACLOperationWrite
		}, ""},

		{"resource type UNKNOWN", func(f *Filter) { f.ResourceType = kmsg.ACLResourceTypeUnknown }, "resource type"},
		{"resource type past USER", func(f *Filter) { f.ResourceType = kmsg.ACLResourceTypeUser + 1 }, "resource type"},
		{"resource type negative", func(f *Filter) { f.ResourceType = -1 }, "resource type"},
		{"pattern UNKNOWN", func(f *Filter) { f.PatternType = kmsg.ACLResourcePatternTypeUnknown }, "pattern type"},
		{"pattern past PREFIXED", func(f *Filter) { f.PatternType = kmsg.ACLResourcePatternTypePrefixed + 1 }, "pattern type"},
		{"operation UNKNOWN", func(f *Filter) { f.Operation = kmsg.ACLOperationUnknown }, "operation"},
		{"operation past DESCRIBE_TOKENS", func(f *Filter) { f.Operation = kmsg.ACLOperationDescribeTokens + 1 }, "operation"},
		{"permission UNKNOWN", func(f *Filter) { f.Permission = kmsg.ACLPermissionTypeUnknown }, "permission"},
		{"permission past ALLOW", func(f *Filter) { f.Permission = kmsg.ACLPermissionTypeAllow + 1 }, "permission"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := anyFilter()
			tt.edit(&f)
			err := f.Validate()
			switch {
			case tt.errHas == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.errHas != "" && err == nil:
				t.Fatalf("valid, want an error containing %q", tt.errHas)
			case tt.errHas != "" && !strings.Contains(err.Error(), tt.errHas):
				t.Fatalf("error %q does not contain %q", err, tt.errHas)
			}
		})
	}
}

func TestFilterMatches(t *testing.T) {
	str := kmsg.StringPtr
	literal := topicACL() // topic t, alice, *, READ, ALLOW
	wildcard := literal
	wildcard.ResourceName = Wildcard
	prefixed := literal
	prefixed.ResourceName, prefixed.PatternType = "lo", kmsg.ACLResourcePatternTypePrefixed
	named := func(name string) Binding { b := literal; b.ResourceName = name; return b }
	group := literal
	group.ResourceType = kmsg.ACLResourceTypeGroup

	tests := []struct {
		name string
		edit func(*Filter)
		b    Binding
		want bool
	}{
		{"ANY everything: literal", func(*Filter) {}, literal, true},
		{"ANY everything: prefixed", func(*Filter) {}, prefixed, true},
		{"ANY everything: wildcard", func(*Filter) {}, wildcard, true},
		{"ANY named: same name", func(f *Filter) { f.ResourceName = str("t") }, literal, true},
		{"ANY named: prefixed of that name", func(f *Filter) { f.ResourceName = str("lo") }, prefixed, true},
		{"ANY named: other name", func(f *Filter) { f.ResourceName = str("u") }, literal, false},
		// ANY compares names exactly: "*" is only the wildcard binding.
		{"ANY named: wildcard binding is not t", func(f *Filter) { f.ResourceName = str("t") }, wildcard, false},
		{"ANY named *: wildcard binding", func(f *Filter) { f.ResourceName = str(Wildcard) }, wildcard, true},
		{"ANY named *: literal binding", func(f *Filter) { f.ResourceName = str(Wildcard) }, literal, false},

		{"MATCH without a name", func(f *Filter) { f.PatternType = kmsg.ACLResourcePatternTypeMatch }, prefixed, true},
		{"MATCH literal same name", func(f *Filter) {
			f.PatternType, f.ResourceName = kmsg.ACLResourcePatternTypeMatch, str("t")
		}, literal, true},
		{"MATCH literal other name", func(f *Filter) {
			f.PatternType, f.ResourceName = kmsg.ACLResourcePatternTypeMatch, str("tt")
		}, literal, false},
		{"MATCH wildcard binding", func(f *Filter) {
			f.PatternType, f.ResourceName = kmsg.ACLResourcePatternTypeMatch, str("anything")
		}, wildcard, true},
		{"MATCH prefixed binding, longer name", func(f *Filter) {
			f.PatternType, f.ResourceName = kmsg.ACLResourcePatternTypeMatch, str("logs")
		}, prefixed, true},
		{"MATCH prefixed binding, the prefix itself", func(f *Filter) {
			f.PatternType, f.ResourceName = kmsg.ACLResourcePatternTypeMatch, str("lo")
		}, prefixed, true},
		{"MATCH prefixed binding, shorter name", func(f *Filter) {
			f.PatternType, f.ResourceName = kmsg.ACLResourcePatternTypeMatch, str("l")
		}, prefixed, false},
		{"MATCH prefixed binding, other name", func(f *Filter) {
			f.PatternType, f.ResourceName = kmsg.ACLResourcePatternTypeMatch, str("xlogs")
		}, prefixed, false},
		{"MATCH type still applies", func(f *Filter) {
			f.PatternType, f.ResourceName = kmsg.ACLResourcePatternTypeMatch, str("t")
			f.ResourceType = kmsg.ACLResourceTypeGroup
		}, literal, false},

		{"LITERAL: literal", func(f *Filter) { f.PatternType = kmsg.ACLResourcePatternTypeLiteral }, literal, true},
		{"LITERAL: wildcard", func(f *Filter) { f.PatternType = kmsg.ACLResourcePatternTypeLiteral }, wildcard, true},
		{"LITERAL: prefixed", func(f *Filter) { f.PatternType = kmsg.ACLResourcePatternTypeLiteral }, prefixed, false},
		{"LITERAL named: exact", func(f *Filter) {
			f.PatternType, f.ResourceName = kmsg.ACLResourcePatternTypeLiteral, str("t")
		}, literal, true},
		{"LITERAL named: no wildcard expansion", func(f *Filter) {
			f.PatternType, f.ResourceName = kmsg.ACLResourcePatternTypeLiteral, str("t")
		}, wildcard, false},
		{"LITERAL named: a longer name", func(f *Filter) {
			f.PatternType, f.ResourceName = kmsg.ACLResourcePatternTypeLiteral, str("t")
		}, named("tt"), false},
		{"PREFIXED: prefixed", func(f *Filter) { f.PatternType = kmsg.ACLResourcePatternTypePrefixed }, prefixed, true},
		{"PREFIXED: literal", func(f *Filter) { f.PatternType = kmsg.ACLResourcePatternTypePrefixed }, literal, false},
		{"PREFIXED named: exact", func(f *Filter) {
			f.PatternType, f.ResourceName = kmsg.ACLResourcePatternTypePrefixed, str("lo")
		}, prefixed, true},
		{"PREFIXED named: not by prefix", func(f *Filter) {
			f.PatternType, f.ResourceName = kmsg.ACLResourcePatternTypePrefixed, str("logs")
		}, prefixed, false},

		{"resource type", func(f *Filter) { f.ResourceType = kmsg.ACLResourceTypeTopic }, literal, true},
		{"other resource type", func(f *Filter) { f.ResourceType = kmsg.ACLResourceTypeTopic }, group, false},
		{"principal", func(f *Filter) { f.Principal = str("User:alice") }, literal, true},
		{"other principal", func(f *Filter) { f.Principal = str("User:bob") }, literal, false},
		// Filters compare principals as strings: User:* selects only the
		// bindings for every user.
		{"principal User:* is a name", func(f *Filter) { f.Principal = str(WildcardPrincipal) }, literal, false},
		{"host", func(f *Filter) { f.Host = str(Wildcard) }, literal, true},
		{"other host", func(f *Filter) { f.Host = str("10.0.0.1") }, literal, false},
		{"operation", func(f *Filter) { f.Operation = kmsg.ACLOperationRead }, literal, true},
		{"other operation", func(f *Filter) { f.Operation = kmsg.ACLOperationDescribe }, literal, false},
		{"permission", func(f *Filter) { f.Permission = kmsg.ACLPermissionTypeAllow }, literal, true},
		{"other permission", func(f *Filter) { f.Permission = kmsg.ACLPermissionTypeDeny }, literal, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := anyFilter()
			tt.edit(&f)
			if got := f.Matches(tt.b); got != tt.want {
				t.Fatalf("filter %+v on %v: %v, want %v", f, tt.b, got, tt.want)
			}
		})
	}
}

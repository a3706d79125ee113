package opsctl_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/acl"
	"github.com/chronik-go/chronik/core/opsctl"
)

// aclReports are rendered like reports (render_test.go), against
// testdata/NAME.table and testdata/NAME.json.
var aclReports = []namedReport{
	{"acl_list", &opsctl.ACLList{ACLs: []opsctl.ACL{
		{ResourceType: "CLUSTER", PatternType: "LITERAL", ResourceName: "kafka-cluster", Principal: "User:ops", Host: "*", Operation: "DESCRIBE_CONFIGS", Permission: "ALLOW"},
		{ResourceType: "GROUP", PatternType: "PREFIXED", ResourceName: "billing-", Principal: "User:alice", Host: "*", Operation: "READ", Permission: "ALLOW"},
		{ResourceType: "TOPIC", PatternType: "LITERAL", ResourceName: "*", Principal: "User:*", Host: "10.0.0.9", Operation: "ALL", Permission: "DENY"},
		{ResourceType: "TOPIC", PatternType: "PREFIXED", ResourceName: "orders-", Principal: "User:alice", Host: "*", Operation: "READ", Permission: "ALLOW"},
	}}},
	{"acl_list_empty", &opsctl.ACLList{ACLs: []opsctl.ACL{}}},
	{"acl_create", &opsctl.ACLChange{Action: "created", ACLs: []opsctl.ACL{
		{ResourceType: "TOPIC", PatternType: "LITERAL", ResourceName: "orders", Principal: "User:alice", Host: "*", Operation: "READ", Permission: "ALLOW"},
		{ResourceType: "TOPIC", PatternType: "LITERAL", ResourceName: "orders", Principal: "User:alice", Host: "*", Operation: "WRITE", Permission: "ALLOW"},
	}}},
	{"acl_delete", &opsctl.ACLChange{Action: "deleted", ACLs: []opsctl.ACL{
		{ResourceType: "TOPIC", PatternType: "PREFIXED", ResourceName: "orders-", Principal: "User:alice", Host: "*", Operation: "READ", Permission: "ALLOW"},
	}}},
	{"acl_delete_none", &opsctl.ACLChange{Action: "deleted", ACLs: []opsctl.ACL{}}},
}

func TestACLRenderGolden(t *testing.T) {
	renderGolden(t, aclReports, func(t *testing.T, name string, v any) { checkKeys(t, name, v, false) })
}

func TestACLBindings(t *testing.T) {
	b := func(typ kmsg.ACLResourceType, name string, pattern kmsg.ACLResourcePatternType, principal string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) acl.Binding {
		return acl.Binding{ResourceType: typ, ResourceName: name, PatternType: pattern, Principal: principal, Host: "*", Operation: op, Permission: perm}
	}
	const (
		topic   = kmsg.ACLResourceTypeTopic
		literal = kmsg.ACLResourcePatternTypeLiteral
		allow   = kmsg.ACLPermissionTypeAllow
	)
	tests := []struct {
		name  string
		flags opsctl.ACLFlags
		want  []acl.Binding
		err   string
	}{
		{
			name:  "principals × operations",
			flags: opsctl.ACLFlags{Topic: ptr("orders"), Principals: []string{"User:alice,User:bob"}, Operations: []string{"read", "Write"}},
			want: []acl.Binding{
				b(topic, "orders", literal, "User:alice", kmsg.ACLOperationRead, allow),
				b(topic, "orders", literal, "User:alice", kmsg.ACLOperationWrite, allow),
				b(topic, "orders", literal, "User:bob", kmsg.ACLOperationRead, allow),
				b(topic, "orders", literal, "User:bob", kmsg.ACLOperationWrite, allow),
			},
		},
		{
			name:  "operation spellings, duplicates once",
			flags: opsctl.ACLFlags{Topic: ptr("t"), Principals: []string{"User:a"}, Operations: []string{"describe-configs", "DescribeConfigs", "DESCRIBE_CONFIGS"}},
			want:  []acl.Binding{b(topic, "t", literal, "User:a", kmsg.ACLOperationDescribeConfigs, allow)},
		},
		{
			name:  "prefixed deny on a group",
			flags: opsctl.ACLFlags{Group: ptr("billing-"), PatternType: "PREFIXED", Principals: []string{"User:*"}, Operations: []string{"read"}, Deny: true},
			want:  []acl.Binding{b(kmsg.ACLResourceTypeGroup, "billing-", kmsg.ACLResourcePatternTypePrefixed, "User:*", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeDeny)},
		},
		{
			name:  "cluster with a host",
			flags: opsctl.ACLFlags{Cluster: true, Principals: []string{"User:ops"}, Operations: []string{"alter"}, Host: ptr("10.0.0.1")},
			want: []acl.Binding{{
				ResourceType: kmsg.ACLResourceTypeCluster, ResourceName: acl.ClusterName, PatternType: literal,
				Principal: "User:ops", Host: "10.0.0.1", Operation: kmsg.ACLOperationAlter, Permission: allow,
			}},
		},
		{
			name:  "certificate principal keeps its commas",
			flags: opsctl.ACLFlags{TransactionalID: ptr("tx"), Principals: []string{"User:CN=alice,OU=eng, User:bob"}, Operations: []string{"write"}},
			want: []acl.Binding{
				b(kmsg.ACLResourceTypeTransactionalId, "tx", literal, "User:CN=alice,OU=eng", kmsg.ACLOperationWrite, allow),
				b(kmsg.ACLResourceTypeTransactionalId, "tx", literal, "User:bob", kmsg.ACLOperationWrite, allow),
			},
		},
		{name: "no resource", flags: opsctl.ACLFlags{Principals: []string{"User:a"}, Operations: []string{"read"}}, err: "say which resource"},
		{name: "two resources", flags: opsctl.ACLFlags{Topic: ptr("t"), Cluster: true, Principals: []string{"User:a"}, Operations: []string{"read"}}, err: "--topic and --cluster cannot be combined"},
		{name: "empty name", flags: opsctl.ACLFlags{Group: ptr(""), Principals: []string{"User:a"}, Operations: []string{"read"}}, err: "--group: give a name"},
		{name: "no principal", flags: opsctl.ACLFlags{Topic: ptr("t"), Operations: []string{"read"}}, err: "--principal is required"},
		{name: "bad principal", flags: opsctl.ACLFlags{Topic: ptr("t"), Principals: []string{"alice"}, Operations: []string{"read"}}, err: `principal "alice" is not of the form Type:name`},
		{name: "no operation", flags: opsctl.ACLFlags{Topic: ptr("t"), Principals: []string{"User:a"}}, err: "--operation is required"},
		{name: "unknown operation", flags: opsctl.ACLFlags{Topic: ptr("t"), Principals: []string{"User:a"}, Operations: []string{"reed"}}, err: `--operation "reed": use all, read, write`},
		{name: "any is a filter", flags: opsctl.ACLFlags{Topic: ptr("t"), Principals: []string{"User:a"}, Operations: []string{"any"}}, err: `--operation "any"`},
		{name: "operation not on type", flags: opsctl.ACLFlags{Group: ptr("g"), Principals: []string{"User:a"}, Operations: []string{"write"}}, err: "operation WRITE does not apply to resource type GROUP"},
		{name: "match is a filter", flags: opsctl.ACLFlags{Topic: ptr("t"), PatternType: "match", Principals: []string{"User:a"}, Operations: []string{"read"}}, err: `--pattern-type "match": use literal or prefixed`},
		{name: "permission is a filter", flags: opsctl.ACLFlags{Topic: ptr("t"), Permission: "deny", Principals: []string{"User:a"}, Operations: []string{"read"}}, err: "give --deny"},
		{name: "prefixed wildcard", flags: opsctl.ACLFlags{Topic: ptr("*"), PatternType: "prefixed", Principals: []string{"User:a"}, Operations: []string{"read"}}, err: "cannot name the wildcard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.flags.Bindings()
			checkInvalid(t, err, tt.err)
			if tt.err == "" && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}

func TestACLFilter(t *testing.T) {
	anyFilter := acl.Filter{
		ResourceType: kmsg.ACLResourceTypeAny, PatternType: kmsg.ACLResourcePatternTypeAny,
		Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny,
	}
	with := func(change func(*acl.Filter)) acl.Filter {
		f := anyFilter
		change(&f)
		return f
	}
	tests := []struct {
		name       string
		flags      opsctl.ACLFlags
		want       acl.Filter
		everything bool
		err        string
	}{
		{name: "no flag matches everything", want: anyFilter, everything: true},
		{name: "match alone matches everything", flags: opsctl.ACLFlags{PatternType: "match"}, want: with(func(f *acl.Filter) { f.PatternType = kmsg.ACLResourcePatternTypeMatch }), everything: true},
		{
			name:  "topic matching",
			flags: opsctl.ACLFlags{Topic: ptr("orders-1"), PatternType: "match"},
			want: with(func(f *acl.Filter) {
				f.ResourceType, f.ResourceName, f.PatternType = kmsg.ACLResourceTypeTopic, ptr("orders-1"), kmsg.ACLResourcePatternTypeMatch
			}),
		},
		{
			name:  "principal, host, operation, permission",
			flags: opsctl.ACLFlags{Principals: []string{"User:alice"}, Host: ptr("*"), Operations: []string{"describe_configs"}, Permission: "Deny"},
			want: with(func(f *acl.Filter) {
				f.Principal, f.Host, f.Operation, f.Permission = ptr("User:alice"), ptr("*"), kmsg.ACLOperationDescribeConfigs, kmsg.ACLPermissionTypeDeny
			}),
		},
		{name: "operation any", flags: opsctl.ACLFlags{Operations: []string{"any"}}, want: anyFilter, everything: true},
		{name: "literal without a name", flags: opsctl.ACLFlags{PatternType: "literal"}, want: with(func(f *acl.Filter) { f.PatternType = kmsg.ACLResourcePatternTypeLiteral })},
		{
			name:  "cluster",
			flags: opsctl.ACLFlags{Cluster: true},
			want: with(func(f *acl.Filter) {
				f.ResourceType, f.ResourceName = kmsg.ACLResourceTypeCluster, ptr(acl.ClusterName)
			}),
		},
		{name: "bad pattern type", flags: opsctl.ACLFlags{PatternType: "glob"}, err: `--pattern-type "glob": use literal, prefixed, match or any`},
		{name: "bad permission", flags: opsctl.ACLFlags{Permission: "maybe"}, err: `--permission "maybe": use allow, deny or any`},
		{name: "deny is for create", flags: opsctl.ACLFlags{Deny: true}, err: "--permission deny"},
		{name: "two principals", flags: opsctl.ACLFlags{Principals: []string{"User:a,User:b"}}, err: "give one principal to filter by, not 2"},
		{name: "bad principal", flags: opsctl.ACLFlags{Principals: []string{"bob"}}, err: "not of the form"},
		{name: "two operations", flags: opsctl.ACLFlags{Operations: []string{"read", "write"}}, err: "give one operation to filter by, not 2"},
		{name: "unknown operation", flags: opsctl.ACLFlags{Operations: []string{"eat"}}, err: `--operation "eat": use any, all, read`},
		{name: "two resources", flags: opsctl.ACLFlags{Group: ptr("g"), TransactionalID: ptr("t")}, err: "--group and --transactional-id cannot be combined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.flags.Filter()
			checkInvalid(t, err, tt.err)
			if tt.err != "" {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if e := opsctl.MatchesEverything(got); e != tt.everything {
				t.Fatalf("MatchesEverything = %v, want %v", e, tt.everything)
			}
		})
	}
}

func TestDescribeFilter(t *testing.T) {
	f, err := opsctl.ACLFlags{Topic: ptr("orders-"), PatternType: "prefixed", Principals: []string{"User:alice"}}.Filter()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := opsctl.DescribeFilter(f), `the ACLs of topic "orders-", pattern prefixed, principal User:alice`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := opsctl.DescribeFilter(acl.Filter{ResourceType: kmsg.ACLResourceTypeAny, PatternType: kmsg.ACLResourcePatternTypeAny, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny}); got != "every ACL" {
		t.Fatalf("got %q", got)
	}
}

// checkInvalid checks err against a substring; an error must be
// ErrInvalidInput, as every flag problem is found before any request.
func checkInvalid(t *testing.T, err error, substr string) {
	t.Helper()
	switch {
	case substr == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case substr == "":
	case err == nil:
		t.Fatalf("no error, want one containing %q", substr)
	case !strings.Contains(err.Error(), substr):
		t.Fatalf("error %q does not contain %q", err, substr)
	case !errors.Is(err, opsctl.ErrInvalidInput):
		t.Fatalf("error %q is not ErrInvalidInput", err)
	}
}

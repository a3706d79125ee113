package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/acl"
	"github.com/chronik-go/chronik/core/cluster"
)

// A test connection without SASL is User:ANONYMOUS.
var anonymousSuperUser = []string{anonymous}

func aclBinding(rt kmsg.ACLResourceType, pt kmsg.ACLResourcePatternType, name, principal, host string,
	op kmsg.ACLOperation, perm kmsg.ACLPermissionType,
) acl.Binding {
	return acl.Binding{
		ResourceType: rt, PatternType: pt, ResourceName: name, Principal: principal, Host: host,
		Operation: op, Permission: perm,
	}
}

func wantACLs(t *testing.T, what string, got []acl.Binding, want ...acl.Binding) {
	t.Helper()
	want = acl.NewSet(want).Bindings()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
	}
}

func newACLAdmin(t *testing.T, ts *testServer) (*kadm.Client, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return kadm.NewClient(newKgoClient(t, ts)), ctx
}

// The three ACL APIs through franz-go's admin client, as a super user.
func TestACLsKadm(t *testing.T) {
	store := newMemACLs()
	ts := startServer(t, Config{ACLs: store, SuperUsers: anonymousSuperUser}, nil)
	adm, ctx := newACLAdmin(t, ts)

	readLogs := aclBinding(kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeLiteral, "logs", "User:alice", "*",
		kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow)
	writeLogs := readLogs
	writeLogs.Operation = kmsg.ACLOperationWrite
	denyLo := aclBinding(kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypePrefixed, "lo", "User:bob", "10.0.0.1",
		kmsg.ACLOperationAll, kmsg.ACLPermissionTypeDeny)
	alterCluster := aclBinding(kmsg.ACLResourceTypeCluster, kmsg.ACLResourcePatternTypeLiteral, acl.ClusterName, "User:ops", "*",
		kmsg.ACLOperationAlter, kmsg.ACLPermissionTypeAllow)
	readGroups := aclBinding(kmsg.ACLResourceTypeGroup, kmsg.ACLResourcePatternTypeLiteral, "*", "User:alice", "*",
		kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow)

	for _, b := range []*kadm.ACLBuilder{
		kadm.NewACLs().Topics("logs").Allow("User:alice").Operations(kadm.OpRead, kadm.OpWrite),
		kadm.NewACLs().Topics("lo").ResourcePatternType(kadm.ACLPatternPrefixed).
			Deny("User:bob").DenyHosts("10.0.0.1").Operations(kadm.OpAll),
		kadm.NewACLs().Clusters().Allow("User:ops").Operations(kadm.OpAlter),
		kadm.NewACLs().Groups("*").Allow("User:alice").Operations(kadm.OpRead),
	} {
		res, err := adm.CreateACLs(ctx, b)
		if err != nil || len(res) == 0 {
			t.Fatalf("CreateACLs: %v, %d results", err, len(res))
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("CreateACLs %s %s: %v %s", r.Name, r.Operation, r.Err, r.ErrMessage)
			}
		}
	}
	// Creating one again is no error and no duplicate.
	if res, err := adm.CreateACLs(ctx, kadm.NewACLs().Topics("logs").Allow("User:alice").Operations(kadm.OpRead)); err != nil || res[0].Err != nil {
		t.Fatalf("CreateACLs again: %v %v", err, res)
	}
	wantACLs(t, "store after creating", store.ACLs().Bindings(), readLogs, writeLogs, denyLo, alterCluster, readGroups)

	described := func(b *kadm.ACLBuilder) []acl.Binding {
		t.Helper()
		res, err := adm.DescribeACLs(ctx, b)
		if err != nil {
			t.Fatalf("DescribeACLs: %v", err)
		}
		var out []acl.Binding
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("DescribeACLs: %v %s", r.Err, r.ErrMessage)
			}
			for _, d := range r.Described {
				out = append(out, acl.Binding{
					ResourceType: d.Type, ResourceName: d.Name, PatternType: d.Pattern, Principal: d.Principal,
					Host: d.Host, Operation: d.Operation, Permission: d.Permission,
				})
			}
		}
		return out
	}
	everything := func() *kadm.ACLBuilder {
		return kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).
			Allow().AllowHosts().Deny().DenyHosts().Operations()
	}
	wantACLs(t, "describe everything", described(everything()), readLogs, writeLogs, denyLo, alterCluster, readGroups)
	wantACLs(t, "describe what applies to topic logs",
		described(kadm.NewACLs().Topics("logs").ResourcePatternType(kadm.ACLPatternMatch).
			Allow().AllowHosts().Deny().DenyHosts().Operations()),
		readLogs, writeLogs, denyLo)
	wantACLs(t, "describe alice's literal topic ACLs",
		described(kadm.NewACLs().Topics().Allow("User:alice").AllowHosts("*").Operations()),
		readLogs, writeLogs)
	wantACLs(t, "describe the cluster's",
		described(kadm.NewACLs().Clusters().Allow().AllowHosts().Operations(kadm.OpAlter)),
		alterCluster)
	if got := described(kadm.NewACLs().Topics("metrics").Allow().AllowHosts().Deny().DenyHosts().Operations()); len(got) != 0 {
		t.Fatalf("describe topic metrics (literal): %v", got)
	}

	del, err := adm.DeleteACLs(ctx, kadm.NewACLs().Topics("logs").Allow("User:alice").AllowHosts("*").Operations(kadm.OpRead))
	if err != nil || len(del) != 1 || del[0].Err != nil || len(del[0].Deleted) != 1 {
		t.Fatalf("DeleteACLs: %v %+v", err, del)
	}
	if d := del[0].Deleted[0]; d.Err != nil || d.Name != "logs" || d.Type != kmsg.ACLResourceTypeTopic ||
		d.Pattern != kmsg.ACLResourcePatternTypeLiteral || d.Principal != "User:alice" || d.Host != "*" ||
		d.Operation != kmsg.ACLOperationRead || d.Permission != kmsg.ACLPermissionTypeAllow {
		t.Fatalf("deleted %+v", d)
	}
	wantACLs(t, "store after deleting", store.ACLs().Bindings(), writeLogs, denyLo, alterCluster, readGroups)
	wantACLs(t, "describe after deleting", described(everything()), writeLogs, denyLo, alterCluster, readGroups)

	del, err = adm.DeleteACLs(ctx, everything())
	if err != nil || len(del) != 1 || del[0].Err != nil || len(del[0].Deleted) != 4 {
		t.Fatalf("DeleteACLs everything: %v %+v", err, del)
	}
	if store.ACLs().Len() != 0 {
		t.Fatalf("store after deleting everything: %v", store.ACLs().Bindings())
	}
	if got := described(everything()); len(got) != 0 {
		t.Fatalf("describe after deleting everything: %v", got)
	}
}

// DescribeAcls groups bindings by resource, in order, at the newest
// version; v0 sees literal bindings only, as it cannot say PREFIXED.
func TestDescribeACLsResources(t *testing.T) {
	topic, group := kmsg.ACLResourceTypeTopic, kmsg.ACLResourceTypeGroup
	lit, pre := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
	read, write := kmsg.ACLOperationRead, kmsg.ACLOperationWrite
	allow, deny := kmsg.ACLPermissionTypeAllow, kmsg.ACLPermissionTypeDeny
	bindings := []acl.Binding{
		aclBinding(group, lit, "g", "User:alice", "*", read, allow),
		aclBinding(topic, pre, "a", "User:alice", "*", write, allow),
		aclBinding(topic, lit, "b", "User:bob", "*", read, allow),
		aclBinding(topic, lit, "a", "User:bob", "*", read, allow),
		aclBinding(topic, lit, "a", "User:alice", "10.0.0.1", read, deny),
		aclBinding(topic, lit, "a", "User:alice", "*", read, allow),
	}
	ts := startServer(t, Config{ACLs: newMemACLs(bindings...), SuperUsers: anonymousSuperUser}, nil)
	c := ts.dial(t)

	type entry struct {
		principal, host string
		op              kmsg.ACLOperation
		perm            kmsg.ACLPermissionType
	}
	type resource struct {
		rt   kmsg.ACLResourceType
		pt   kmsg.ACLResourcePatternType
		name string
		acls []entry
	}
	flatten := func(resp *kmsg.DescribeACLsResponse) []resource {
		var out []resource
		for _, r := range resp.Resources {
			res := resource{r.ResourceType, r.ResourcePatternType, r.ResourceName, nil}
			for _, a := range r.ACLs {
				res.acls = append(res.acls, entry{a.Principal, a.Host, a.Operation, a.PermissionType})
			}
			out = append(out, res)
		}
		return out
	}
	all := []resource{
		{topic, lit, "a", []entry{{"User:alice", "*", read, allow}, {"User:alice", "10.0.0.1", read, deny}, {"User:bob", "*", read, allow}}},
		{topic, lit, "b", []entry{{"User:bob", "*", read, allow}}},
		{topic, pre, "a", []entry{{"User:alice", "*", write, allow}}},
		{group, lit, "g", []entry{{"User:alice", "*", read, allow}}},
	}
	for _, tt := range []struct {
		version int16
		pattern kmsg.ACLResourcePatternType
		want    []resource
	}{
		{3, kmsg.ACLResourcePatternTypeAny, all},
		{1, kmsg.ACLResourcePatternTypeAny, all},
		{2, lit, []resource{all[0], all[1], all[3]}},
		{3, pre, []resource{all[2]}},
		// v0 has no pattern type on the wire: LITERAL, whatever the
		// struct says.
		{0, kmsg.ACLResourcePatternTypeAny, []resource{all[0], all[1], all[3]}},
	} {
		req := kmsg.NewPtrDescribeACLsRequest()
		req.Version = tt.version
		req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, tt.pattern
		req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		resp := c.do(req).(*kmsg.DescribeACLsResponse)
		what := fmt.Sprintf("v%d %s", tt.version, tt.pattern)
		wantCode(t, what, resp.ErrorCode, nil)
		if resp.ErrorMessage != nil {
			t.Fatalf("%s: message %q", what, *resp.ErrorMessage)
		}
		got := flatten(resp)
		if tt.version == 0 { // the v0 response has no pattern type either
			for i := range got {
				got[i].pt = lit
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Fatalf("%s:\n got %v\nwant %v", what, got, tt.want)
		}
	}

	// MATCH by name, and a principal and host filter.
	req := kmsg.NewPtrDescribeACLsRequest()
	req.Version = 3
	req.ResourceType, req.ResourcePatternType, req.ResourceName = topic, kmsg.ACLResourcePatternTypeMatch, kmsg.StringPtr("ab")
	req.Principal, req.Host = kmsg.StringPtr("User:alice"), kmsg.StringPtr("*")
	req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	resp := c.do(req).(*kmsg.DescribeACLsResponse)
	if got, want := flatten(resp), []resource{{topic, pre, "a", []entry{{"User:alice", "*", write, allow}}}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("MATCH ab for alice from *:\n got %v\nwant %v", got, want)
	}
}

func TestDescribeACLsInvalidFilter(t *testing.T) {
	ts := startServer(t, Config{ACLs: newMemACLs(), SuperUsers: anonymousSuperUser}, nil)
	c := ts.dial(t)
	for _, tt := range []struct {
		name   string
		edit   func(*kmsg.DescribeACLsRequest)
		errHas string
	}{
		{"resource type UNKNOWN", func(r *kmsg.DescribeACLsRequest) { r.ResourceType = kmsg.ACLResourceTypeUnknown }, "resource type"},
		{"resource type 99", func(r *kmsg.DescribeACLsRequest) { r.ResourceType = 99 }, "resource type"},
		{"pattern UNKNOWN", func(r *kmsg.DescribeACLsRequest) { r.ResourcePatternType = kmsg.ACLResourcePatternTypeUnknown }, "pattern type"},
		{"pattern 5", func(r *kmsg.DescribeACLsRequest) { r.ResourcePatternType = 5 }, "pattern type"},
		{"operation UNKNOWN", func(r *kmsg.DescribeACLsRequest) { r.Operation = kmsg.ACLOperationUnknown }, "operation"},
		{"operation 15", func(r *kmsg.DescribeACLsRequest) { r.Operation = 15 }, "operation"},
		{"permission UNKNOWN", func(r *kmsg.DescribeACLsRequest) { r.PermissionType = kmsg.ACLPermissionTypeUnknown }, "permission"},
		{"permission 4", func(r *kmsg.DescribeACLsRequest) { r.PermissionType = 4 }, "permission"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := kmsg.NewPtrDescribeACLsRequest()
			req.Version = 3
			req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
			req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			tt.edit(req)
			resp := c.do(req).(*kmsg.DescribeACLsResponse)
			wantCode(t, tt.name, resp.ErrorCode, kerr.InvalidRequest)
			if resp.ErrorMessage == nil || !strings.Contains(*resp.ErrorMessage, tt.errHas) {
				t.Fatalf("message %v, want one containing %q", resp.ErrorMessage, tt.errHas)
			}
			if len(resp.Resources) != 0 {
				t.Fatalf("resources with an error: %v", resp.Resources)
			}
		})
	}
}

// Invalid creations are INVALID_REQUEST with the reason; the valid ones in
// the same request are created.
func TestCreateACLsInvalid(t *testing.T) {
	store := newMemACLs()
	ts := startServer(t, Config{ACLs: store, SuperUsers: anonymousSuperUser}, nil)
	c := ts.dial(t)
	valid := aclBinding(kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypePrefixed, "lo", "User:alice", "*",
		kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow)
	clusterACL := aclBinding(kmsg.ACLResourceTypeCluster, kmsg.ACLResourcePatternTypeLiteral, acl.ClusterName, "User:ops", "*",
		kmsg.ACLOperationAlter, kmsg.ACLPermissionTypeAllow)
	creations := []struct {
		b      acl.Binding
		errHas string // "" means created
	}{
		{valid, ""},
		{func() acl.Binding { b := clusterACL; b.ResourceName = "other"; return b }(), "kafka-cluster"},
		{func() acl.Binding { b := valid; b.Operation = kmsg.ACLOperationAny; return b }(), "operation"},
		{func() acl.Binding { b := valid; b.Operation = kmsg.ACLOperationClusterAction; return b }(), "does not apply"},
		{func() acl.Binding { b := valid; b.PatternType = kmsg.ACLResourcePatternTypeMatch; return b }(), "pattern type"},
		{func() acl.Binding { b := valid; b.ResourceType = kmsg.ACLResourceTypeAny; return b }(), "resource type"},
		{func() acl.Binding { b := valid; b.Permission = kmsg.ACLPermissionTypeAny; return b }(), "permission"},
		{func() acl.Binding { b := valid; b.Principal = "alice"; return b }(), "Type:name"},
		{func() acl.Binding { b := valid; b.ResourceName = ""; return b }(), "empty resource name"},
		{func() acl.Binding { b := valid; b.ResourceName = "*"; return b }(), "PREFIXED"},
		{func() acl.Binding { b := valid; b.Host = ""; return b }(), "empty host"},
		{clusterACL, ""},
	}
	req := kmsg.NewPtrCreateACLsRequest()
	req.Version = 3
	for _, cr := range creations {
		kc := kmsg.NewCreateACLsRequestCreation()
		b := cr.b
		kc.ResourceType, kc.ResourceName, kc.ResourcePatternType = b.ResourceType, b.ResourceName, b.PatternType
		kc.Principal, kc.Host, kc.Operation, kc.PermissionType = b.Principal, b.Host, b.Operation, b.Permission
		req.Creations = append(req.Creations, kc)
	}
	resp := c.do(req).(*kmsg.CreateACLsResponse)
	if len(resp.Results) != len(creations) {
		t.Fatalf("%d results to %d creations", len(resp.Results), len(creations))
	}
	for i, cr := range creations {
		r := resp.Results[i]
		what := fmt.Sprintf("creation %d (%v)", i, cr.b)
		if cr.errHas == "" {
			wantCode(t, what, r.ErrorCode, nil)
			if r.ErrorMessage != nil {
				t.Fatalf("%s: message %q", what, *r.ErrorMessage)
			}
			continue
		}
		wantCode(t, what, r.ErrorCode, kerr.InvalidRequest)
		if r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, cr.errHas) {
			t.Fatalf("%s: message %v, want one containing %q", what, r.ErrorMessage, cr.errHas)
		}
	}
	wantACLs(t, "store", store.ACLs().Bindings(), valid, clusterACL)

	// v0 has no pattern type: the creation is LITERAL, whatever the
	// struct says.
	v0 := kmsg.NewPtrCreateACLsRequest()
	v0.Version = 0
	kc := kmsg.NewCreateACLsRequestCreation()
	kc.ResourceType, kc.ResourceName, kc.ResourcePatternType = kmsg.ACLResourceTypeGroup, "g", kmsg.ACLResourcePatternTypePrefixed
	kc.Principal, kc.Host, kc.Operation, kc.PermissionType = "User:alice", "*", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
	v0.Creations = append(v0.Creations, kc)
	if r := c.do(v0).(*kmsg.CreateACLsResponse); len(r.Results) != 1 || r.Results[0].ErrorCode != 0 {
		t.Fatalf("v0 create: %+v", r.Results)
	}
	wantACLs(t, "store after v0", store.ACLs().Bindings(), valid, clusterACL,
		aclBinding(kmsg.ACLResourceTypeGroup, kmsg.ACLResourcePatternTypeLiteral, "g", "User:alice", "*",
			kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow))

	// No creations, no results.
	if r := c.do(kmsg.NewPtrCreateACLsRequest()).(*kmsg.CreateACLsResponse); len(r.Results) != 0 {
		t.Fatalf("empty create: %+v", r.Results)
	}
}

// Two filters that select the same binding both list it; an invalid filter
// in the same request deletes nothing and does not stop the others.
func TestDeleteACLsOverlappingFilters(t *testing.T) {
	topic, lit, pre := kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
	read, write := kmsg.ACLOperationRead, kmsg.ACLOperationWrite
	allow := kmsg.ACLPermissionTypeAllow
	aliceRead := aclBinding(topic, lit, "logs", "User:alice", "*", read, allow)
	aliceWrite := aclBinding(topic, lit, "logs", "User:alice", "*", write, allow)
	bobRead := aclBinding(topic, lit, "logs", "User:bob", "*", read, allow)
	bobPrefix := aclBinding(topic, pre, "lo", "User:bob", "*", read, allow)
	other := aclBinding(topic, lit, "metrics", "User:carol", "*", read, allow)
	store := newMemACLs(aliceRead, aliceWrite, bobRead, bobPrefix, other)
	ts := startServer(t, Config{ACLs: store, SuperUsers: anonymousSuperUser}, nil)
	c := ts.dial(t)

	filter := func(name *string, pt kmsg.ACLResourcePatternType, principal *string, op kmsg.ACLOperation) kmsg.DeleteACLsRequestFilter {
		f := kmsg.NewDeleteACLsRequestFilter()
		f.ResourceType, f.ResourceName, f.ResourcePatternType = topic, name, pt
		f.Principal, f.Operation, f.PermissionType = principal, op, kmsg.ACLPermissionTypeAny
		return f
	}
	req := kmsg.NewPtrDeleteACLsRequest()
	req.Version = 3
	req.Filters = []kmsg.DeleteACLsRequestFilter{
		filter(kmsg.StringPtr("logs"), kmsg.ACLResourcePatternTypeMatch, nil, read), // alice's, bob's and bob's prefix READs
		filter(nil, kmsg.ACLResourcePatternTypeAny, kmsg.StringPtr("User:bob"), kmsg.ACLOperationAny),
		filter(nil, kmsg.ACLResourcePatternTypeAny, nil, kmsg.ACLOperationUnknown), // invalid: would match everything
		filter(kmsg.StringPtr("nothing"), lit, nil, kmsg.ACLOperationAny),
	}
	resp := c.do(req).(*kmsg.DeleteACLsResponse)
	if len(resp.Results) != 4 {
		t.Fatalf("%d results to 4 filters", len(resp.Results))
	}
	matched := func(r kmsg.DeleteACLsResponseResult) []acl.Binding {
		var out []acl.Binding
		for _, m := range r.MatchingACLs {
			if m.ErrorCode != 0 || m.ErrorMessage != nil {
				t.Fatalf("matching ACL with an error: %+v", m)
			}
			out = append(out, aclBinding(m.ResourceType, m.ResourcePatternType, m.ResourceName, m.Principal, m.Host, m.Operation, m.PermissionType))
		}
		return out
	}
	for i, r := range resp.Results {
		if i != 2 && (r.ErrorCode != 0 || r.ErrorMessage != nil) {
			t.Fatalf("filter %d: %v %v", i, kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
		}
	}
	wantACLs(t, "filter 0", matched(resp.Results[0]), aliceRead, bobRead, bobPrefix)
	wantACLs(t, "filter 1", matched(resp.Results[1]), bobRead, bobPrefix)
	wantCode(t, "filter 2", resp.Results[2].ErrorCode, kerr.InvalidRequest)
	if m := resp.Results[2].ErrorMessage; m == nil || !strings.Contains(*m, "operation") || len(resp.Results[2].MatchingACLs) != 0 {
		t.Fatalf("filter 2: %v %+v", m, resp.Results[2].MatchingACLs)
	}
	if len(resp.Results[3].MatchingACLs) != 0 {
		t.Fatalf("filter 3 matched %+v", resp.Results[3].MatchingACLs)
	}
	wantACLs(t, "store", store.ACLs().Bindings(), aliceWrite, other)

	// v0 filters are LITERAL: a prefixed binding stays.
	store2 := newMemACLs(bobRead, bobPrefix)
	ts2 := startServer(t, Config{ACLs: store2, SuperUsers: anonymousSuperUser}, nil)
	v0 := kmsg.NewPtrDeleteACLsRequest()
	v0.Version = 0
	v0.Filters = []kmsg.DeleteACLsRequestFilter{filter(nil, kmsg.ACLResourcePatternTypeAny, nil, kmsg.ACLOperationAny)}
	r0 := ts2.dial(t).do(v0).(*kmsg.DeleteACLsResponse)
	if len(r0.Results) != 1 || r0.Results[0].ErrorCode != 0 {
		t.Fatalf("v0 delete: %+v", r0.Results)
	}
	got := matched(r0.Results[0])
	for i := range got { // the v0 response has no pattern type: LITERAL
		if got[i].PatternType != lit {
			t.Fatalf("v0 matching ACL %v", got[i])
		}
	}
	wantACLs(t, "v0 deleted", got, bobRead)
	wantACLs(t, "store after v0", store2.ACLs().Bindings(), bobPrefix)
}

// Without an ACL store Kafka answers SECURITY_DISABLED, at every version.
func TestACLsSecurityDisabled(t *testing.T) {
	ts := startServer(t, Config{SuperUsers: anonymousSuperUser}, nil)
	c := ts.dial(t)
	wantDisabled := func(what string, code int16, msg *string) {
		t.Helper()
		wantCode(t, what, code, kerr.SecurityDisabled)
		if msg == nil || *msg != noAuthorizer {
			t.Fatalf("%s: message %v", what, msg)
		}
	}
	for _, v := range []int16{0, 3} {
		d := kmsg.NewPtrDescribeACLsRequest()
		d.Version = v
		d.ResourceType, d.Operation, d.PermissionType = kmsg.ACLResourceTypeAny, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		dr := c.do(d).(*kmsg.DescribeACLsResponse)
		wantDisabled(fmt.Sprintf("DescribeAcls v%d", v), dr.ErrorCode, dr.ErrorMessage)

		cr := kmsg.NewPtrCreateACLsRequest()
		cr.Version = v
		cr.Creations = make([]kmsg.CreateACLsRequestCreation, 2)
		for i := range cr.Creations {
			cr.Creations[i].Default()
		}
		crr := c.do(cr).(*kmsg.CreateACLsResponse)
		if len(crr.Results) != 2 {
			t.Fatalf("CreateAcls v%d: %d results", v, len(crr.Results))
		}
		for _, r := range crr.Results {
			wantDisabled(fmt.Sprintf("CreateAcls v%d", v), r.ErrorCode, r.ErrorMessage)
		}

		del := kmsg.NewPtrDeleteACLsRequest()
		del.Version = v
		del.Filters = make([]kmsg.DeleteACLsRequestFilter, 3)
		for i := range del.Filters {
			del.Filters[i].Default()
		}
		delr := c.do(del).(*kmsg.DeleteACLsResponse)
		if len(delr.Results) != 3 {
			t.Fatalf("DeleteAcls v%d: %d results", v, len(delr.Results))
		}
		for _, r := range delr.Results {
			wantDisabled(fmt.Sprintf("DeleteAcls v%d", v), r.ErrorCode, r.ErrorMessage)
		}
	}
}

// Describing needs DESCRIBE on the cluster, creating and deleting ALTER:
// by default (ACLs, none for the principal) everything is refused.
func TestACLsClusterAuthorization(t *testing.T) {
	other := aclBinding(kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeLiteral, "t", "User:alice", "*",
		kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow)
	describeCluster := aclBinding(kmsg.ACLResourceTypeCluster, kmsg.ACLResourcePatternTypeLiteral, acl.ClusterName, anonymous, "*",
		kmsg.ACLOperationDescribe, kmsg.ACLPermissionTypeAllow)
	alterCluster := describeCluster
	alterCluster.Operation = kmsg.ACLOperationAlter

	for _, tt := range []struct {
		name                 string
		cfg                  Config
		mayDescribe, mayEdit bool
	}{
		{"no ACLs, default deny", Config{ACLs: newMemACLs(other)}, false, false},
		{"no ACLs on the cluster, allow if none", Config{ACLs: newMemACLs(other), AllowIfNoACL: true}, true, true},
		{"another principal's ACL on the cluster", Config{ACLs: newMemACLs(other, func() acl.Binding {
			b := alterCluster
			b.Principal = "User:ops"
			return b
		}()), AllowIfNoACL: true}, false, false},
		{"DESCRIBE on the cluster", Config{ACLs: newMemACLs(other, describeCluster)}, true, false},
		{"ALTER on the cluster implies DESCRIBE", Config{ACLs: newMemACLs(other, alterCluster)}, true, true},
		{"a super user", Config{ACLs: newMemACLs(other), SuperUsers: anonymousSuperUser}, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := tt.cfg.ACLs.(*memACLs)
			before := store.ACLs().Bindings()
			ts := startServer(t, tt.cfg, nil)
			adm, ctx := newACLAdmin(t, ts)

			desc, err := adm.DescribeACLs(ctx, kadm.NewACLs().Topics("t").Allow().AllowHosts().Operations())
			if err != nil || len(desc) != 1 {
				t.Fatalf("DescribeACLs: %v %+v", err, desc)
			}
			if tt.mayDescribe {
				if desc[0].Err != nil || len(desc[0].Described) != 1 || desc[0].Described[0].Principal != "User:alice" {
					t.Fatalf("DescribeACLs: %+v", desc[0])
				}
			} else if !errors.Is(desc[0].Err, kerr.ClusterAuthorizationFailed) || !strings.Contains(desc[0].ErrMessage, anonymous) ||
				len(desc[0].Described) != 0 {
				t.Fatalf("DescribeACLs: %+v, want CLUSTER_AUTHORIZATION_FAILED", desc[0])
			}

			created, err := adm.CreateACLs(ctx, kadm.NewACLs().Topics("u", "v").Allow("User:bob").Operations(kadm.OpWrite))
			if err != nil || len(created) != 2 {
				t.Fatalf("CreateACLs: %v %+v", err, created)
			}
			deleted, err := adm.DeleteACLs(ctx, kadm.NewACLs().Topics("t").Allow().AllowHosts().Operations())
			if err != nil || len(deleted) != 1 {
				t.Fatalf("DeleteACLs: %v %+v", err, deleted)
			}
			if tt.mayEdit {
				if created[0].Err != nil || created[1].Err != nil || deleted[0].Err != nil || len(deleted[0].Deleted) != 1 {
					t.Fatalf("create %+v, delete %+v", created, deleted)
				}
				if store.ACLs().Len() != len(before)+1 { // +u, +v, -t
					t.Fatalf("store: %v", store.ACLs().Bindings())
				}
				return
			}
			for _, r := range created {
				if !errors.Is(r.Err, kerr.ClusterAuthorizationFailed) || !strings.Contains(r.ErrMessage, "ALTER") {
					t.Fatalf("CreateACLs: %+v, want CLUSTER_AUTHORIZATION_FAILED", r)
				}
			}
			if !errors.Is(deleted[0].Err, kerr.ClusterAuthorizationFailed) || len(deleted[0].Deleted) != 0 {
				t.Fatalf("DeleteACLs: %+v, want CLUSTER_AUTHORIZATION_FAILED", deleted[0])
			}
			wantACLs(t, "store", store.ACLs().Bindings(), before...)
		})
	}
}

// failingACLs is an ACL store whose changes fail with err, or whose
// deletions answer short when short is set.
type failingACLs struct {
	*memACLs
	err   error
	short bool
}

func (f *failingACLs) CreateACLs(context.Context, []acl.Binding) error { return f.err }

func (f *failingACLs) DeleteACLs(ctx context.Context, filters []acl.Filter) ([][]acl.Binding, error) {
	if f.short {
		out, err := f.memACLs.DeleteACLs(ctx, filters)
		return out[:len(out)-1], err
	}
	return nil, f.err
}

// A store's error is each valid entry's, mapped like every backend error;
// the invalid ones keep INVALID_REQUEST.
func TestACLsStoreErrors(t *testing.T) {
	for _, tt := range []struct {
		name  string
		store *failingACLs
		code  *kerr.Error
		msg   string
	}{
		{"not controller", &failingACLs{memACLs: newMemACLs(), err: fmt.Errorf("meta: %w", cluster.ErrNotController)}, kerr.NotController, "meta: "},
		{"unexpected", &failingACLs{memACLs: newMemACLs(), err: errors.New("disk on fire")}, kerr.UnknownServerError, "disk on fire"},
		{"timeout", &failingACLs{memACLs: newMemACLs(), err: context.DeadlineExceeded}, kerr.RequestTimedOut, "deadline"},
		{"short answer", &failingACLs{memACLs: newMemACLs(), short: true, err: errors.New("unused")}, kerr.UnknownServerError, "1 results to 2 filters"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, Config{ACLs: tt.store, SuperUsers: anonymousSuperUser}, nil)
			c := ts.dial(t)
			if !tt.store.short {
				cr := kmsg.NewPtrCreateACLsRequest()
				cr.Version = 3
				for _, op := range []kmsg.ACLOperation{kmsg.ACLOperationRead, kmsg.ACLOperationAny, kmsg.ACLOperationWrite} {
					kc := kmsg.NewCreateACLsRequestCreation()
					kc.ResourceType, kc.ResourceName, kc.Principal, kc.Host = kmsg.ACLResourceTypeTopic, "t", "User:alice", "*"
					kc.Operation, kc.PermissionType = op, kmsg.ACLPermissionTypeAllow
					cr.Creations = append(cr.Creations, kc)
				}
				resp := c.do(cr).(*kmsg.CreateACLsResponse)
				for i, r := range resp.Results {
					want, msg := tt.code, tt.msg
					if i == 1 {
						want, msg = kerr.InvalidRequest, "operation"
					}
					wantCode(t, fmt.Sprintf("creation %d", i), r.ErrorCode, want)
					if r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, msg) {
						t.Fatalf("creation %d: message %v, want one containing %q", i, r.ErrorMessage, msg)
					}
				}
			}
			del := kmsg.NewPtrDeleteACLsRequest()
			del.Version = 3
			for _, op := range []kmsg.ACLOperation{kmsg.ACLOperationAny, kmsg.ACLOperationUnknown, kmsg.ACLOperationRead} {
				f := kmsg.NewDeleteACLsRequestFilter()
				f.ResourceType, f.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
				f.Operation, f.PermissionType = op, kmsg.ACLPermissionTypeAny
				del.Filters = append(del.Filters, f)
			}
			resp := c.do(del).(*kmsg.DeleteACLsResponse)
			for i, r := range resp.Results {
				want, msg := tt.code, tt.msg
				if i == 1 {
					want, msg = kerr.InvalidRequest, "operation"
				}
				wantCode(t, fmt.Sprintf("filter %d", i), r.ErrorCode, want)
				if r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, msg) || len(r.MatchingACLs) != 0 {
					t.Fatalf("filter %d: message %v, want one containing %q; matching %v", i, r.ErrorMessage, msg, r.MatchingACLs)
				}
			}
		})
	}
}

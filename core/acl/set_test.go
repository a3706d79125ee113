package acl

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// bind is a binding from its parts: type, pattern and name; principal and
// host; operation and permission.
func bind(rt kmsg.ACLResourceType, pt kmsg.ACLResourcePatternType, name, principal, host string,
	op kmsg.ACLOperation, perm kmsg.ACLPermissionType,
) Binding {
	return Binding{
		ResourceType: rt, PatternType: pt, ResourceName: name, Principal: principal, Host: host,
		Operation: op, Permission: perm,
	}
}

const (
	topic    = kmsg.ACLResourceTypeTopic
	group    = kmsg.ACLResourceTypeGroup
	cluster  = kmsg.ACLResourceTypeCluster
	literal  = kmsg.ACLResourcePatternTypeLiteral
	prefixed = kmsg.ACLResourcePatternTypePrefixed
	allow    = kmsg.ACLPermissionTypeAllow
	deny     = kmsg.ACLPermissionTypeDeny
	alice    = "User:alice"
	bob      = "User:bob"
	aliceIP  = "10.0.0.1"
)

func TestSetAuthorize(t *testing.T) {
	read, write, describe := kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe
	req := func(op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) Request {
		return Request{Principal: alice, Host: aliceIP, Operation: op, ResourceType: rt, Name: name}
	}
	tests := []struct {
		name     string
		bindings []Binding
		req      Request
		// want is the decision with allowIfNone false, wantIfNone with it
		// true: they differ only where no binding is on the resource.
		want, wantIfNone bool
	}{
		{"no bindings at all", nil, req(read, topic, "t"), false, true},
		{
			"bindings only on another type",
			[]Binding{bind(group, literal, "t", alice, Wildcard, read, allow)},
			req(read, topic, "t"), false, true,
		},
		{
			"bindings only on another topic",
			[]Binding{bind(topic, literal, "u", alice, Wildcard, read, allow)},
			req(read, topic, "t"), false, true,
		},
		{
			"a prefix that does not cover the name",
			[]Binding{bind(topic, prefixed, "tx", alice, Wildcard, read, allow)},
			req(read, topic, "t"), false, true,
		},
		{
			"a binding for another principal is found: default deny",
			[]Binding{bind(topic, literal, "t", bob, Wildcard, read, allow)},
			req(read, topic, "t"), false, false,
		},
		{
			"a binding for another host is found: default deny",
			[]Binding{bind(topic, literal, "t", alice, "10.9.9.9", read, allow)},
			req(read, topic, "t"), false, false,
		},
		{
			"a binding for another operation is found: default deny",
			[]Binding{bind(topic, literal, "t", alice, Wildcard, write, allow)},
			req(kmsg.ACLOperationCreate, topic, "t"), false, false,
		},

		{
			"literal allow",
			[]Binding{bind(topic, literal, "t", alice, Wildcard, read, allow)},
			req(read, topic, "t"), true, true,
		},
		{
			"allow from the exact host",
			[]Binding{bind(topic, literal, "t", alice, aliceIP, read, allow)},
			req(read, topic, "t"), true, true,
		},
		{
			"allow for User:*",
			[]Binding{bind(topic, literal, "t", WildcardPrincipal, Wildcard, read, allow)},
			req(read, topic, "t"), true, true,
		},
		{
			"allow on the literal wildcard resource",
			[]Binding{bind(topic, literal, Wildcard, alice, Wildcard, read, allow)},
			req(read, topic, "t"), true, true,
		},
		{
			"allow on a prefix",
			[]Binding{bind(topic, prefixed, "lo", alice, Wildcard, read, allow)},
			req(read, topic, "logs"), true, true,
		},
		{
			"allow on the whole name as a prefix",
			[]Binding{bind(topic, prefixed, "logs", alice, Wildcard, read, allow)},
			req(read, topic, "logs"), true, true,
		},
		{
			"ALL allows read",
			[]Binding{bind(topic, literal, "t", alice, Wildcard, kmsg.ACLOperationAll, allow)},
			req(read, topic, "t"), true, true,
		},
		{
			"ALL allows cluster actions",
			[]Binding{bind(cluster, literal, ClusterName, alice, Wildcard, kmsg.ACLOperationAll, allow)},
			req(kmsg.ACLOperationClusterAction, cluster, ClusterName), true, true,
		},

		{
			"READ implies DESCRIBE",
			[]Binding{bind(topic, literal, "t", alice, Wildcard, read, allow)},
			req(describe, topic, "t"), true, true,
		},
		{
			"WRITE implies DESCRIBE",
			[]Binding{bind(topic, literal, "t", alice, Wildcard, write, allow)},
			req(describe, topic, "t"), true, true,
		},
		{
			"DELETE implies DESCRIBE",
			[]Binding{bind(topic, literal, "t", alice, Wildcard, kmsg.ACLOperationDelete, allow)},
			req(describe, topic, "t"), true, true,
		},
		{
			"ALTER implies DESCRIBE",
			[]Binding{bind(topic, literal, "t", alice, Wildcard, kmsg.ACLOperationAlter, allow)},
			req(describe, topic, "t"), true, true,
		},
		{
			"CREATE does not imply DESCRIBE",
			[]Binding{bind(topic, literal, "t", alice, Wildcard, kmsg.ACLOperationCreate, allow)},
			req(describe, topic, "t"), false, false,
		},
		{
			"ALTER_CONFIGS implies DESCRIBE_CONFIGS",
			[]Binding{bind(topic, literal, "t", alice, Wildcard, kmsg.ACLOperationAlterConfigs, allow)},
			req(kmsg.ACLOperationDescribeConfigs, topic, "t"), true, true,
		},
		{
			"DESCRIBE_CONFIGS does not imply ALTER_CONFIGS",
			[]Binding{bind(topic, literal, "t", alice, Wildcard, kmsg.ACLOperationDescribeConfigs, allow)},
			req(kmsg.ACLOperationAlterConfigs, topic, "t"), false, false,
		},
		{
			"DESCRIBE does not imply READ",
			[]Binding{bind(topic, literal, "t", alice, Wildcard, describe, allow)},
			req(read, topic, "t"), false, false,
		},
		{
			"READ does not imply WRITE",
			[]Binding{bind(topic, literal, "t", alice, Wildcard, read, allow)},
			req(write, topic, "t"), false, false,
		},

		{
			"deny beats allow",
			[]Binding{
				bind(topic, literal, "t", alice, Wildcard, read, allow),
				bind(topic, literal, "t", alice, Wildcard, read, deny),
			},
			req(read, topic, "t"), false, false,
		},
		{
			"deny on the wildcard beats a literal allow",
			[]Binding{
				bind(topic, literal, "t", alice, Wildcard, read, allow),
				bind(topic, literal, Wildcard, alice, Wildcard, read, deny),
			},
			req(read, topic, "t"), false, false,
		},
		{
			"deny on a prefix beats a literal allow",
			[]Binding{
				bind(topic, literal, "logs", alice, Wildcard, read, allow),
				bind(topic, prefixed, "lo", alice, Wildcard, read, deny),
			},
			req(read, topic, "logs"), false, false,
		},
		{
			"deny ALL beats allow",
			[]Binding{
				bind(topic, literal, "t", alice, Wildcard, read, allow),
				bind(topic, literal, "t", alice, Wildcard, kmsg.ACLOperationAll, deny),
			},
			req(read, topic, "t"), false, false,
		},
		{
			"deny for User:* beats a named allow",
			[]Binding{
				bind(topic, literal, "t", alice, Wildcard, read, allow),
				bind(topic, literal, "t", WildcardPrincipal, Wildcard, read, deny),
			},
			req(read, topic, "t"), false, false,
		},
		{
			"deny from the exact host beats allow from every host",
			[]Binding{
				bind(topic, literal, "t", alice, Wildcard, read, allow),
				bind(topic, literal, "t", alice, aliceIP, read, deny),
			},
			req(read, topic, "t"), false, false,
		},
		{
			"deny from another host does not apply",
			[]Binding{
				bind(topic, literal, "t", alice, Wildcard, read, allow),
				bind(topic, literal, "t", alice, "10.9.9.9", read, deny),
			},
			req(read, topic, "t"), true, true,
		},
		{
			"deny for another principal does not apply",
			[]Binding{
				bind(topic, literal, "t", alice, Wildcard, read, allow),
				bind(topic, literal, "t", bob, Wildcard, read, deny),
			},
			req(read, topic, "t"), true, true,
		},
		{
			"deny of another operation does not apply",
			[]Binding{
				bind(topic, literal, "t", alice, Wildcard, read, allow),
				bind(topic, literal, "t", alice, Wildcard, write, deny),
			},
			req(read, topic, "t"), true, true,
		},
		{
			"deny of READ does not deny DESCRIBE",
			[]Binding{
				bind(topic, literal, "t", alice, Wildcard, describe, allow),
				bind(topic, literal, "t", alice, Wildcard, read, deny),
			},
			req(describe, topic, "t"), true, true,
		},
		{
			"deny of READ leaves DESCRIBE to the default",
			[]Binding{bind(topic, literal, "t", alice, Wildcard, read, deny)},
			req(describe, topic, "t"), false, false,
		},
		{
			"deny of ALTER_CONFIGS does not deny DESCRIBE_CONFIGS",
			[]Binding{
				bind(topic, literal, "t", alice, Wildcard, kmsg.ACLOperationDescribeConfigs, allow),
				bind(topic, literal, "t", alice, Wildcard, kmsg.ACLOperationAlterConfigs, deny),
			},
			req(kmsg.ACLOperationDescribeConfigs, topic, "t"), true, true,
		},
		{
			"a prefixed deny of another name does not apply",
			[]Binding{
				bind(topic, literal, "t", alice, Wildcard, read, allow),
				bind(topic, prefixed, "tx", alice, Wildcard, read, deny),
			},
			req(read, topic, "t"), true, true,
		},
		{
			"a literal deny of a longer name does not apply",
			[]Binding{
				bind(topic, prefixed, "t", alice, Wildcard, read, allow),
				bind(topic, literal, "tx", alice, Wildcard, read, deny),
			},
			req(read, topic, "ty"), true, true,
		},
		{
			"User:* does not name a group principal",
			[]Binding{bind(topic, literal, "t", WildcardPrincipal, Wildcard, read, allow)},
			Request{Principal: "Group:ops", Host: aliceIP, Operation: read, ResourceType: topic, Name: "t"},
			false, false,
		},
		{
			"a request for the resource named * sees the wildcard once",
			[]Binding{bind(topic, literal, Wildcard, alice, Wildcard, read, allow)},
			req(read, topic, Wildcard), true, true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, b := range tt.bindings {
				if err := b.Validate(); err != nil {
					t.Fatalf("test binding %v: %v", b, err)
				}
			}
			s := NewSet(tt.bindings)
			if got := s.Authorize(tt.req, false); got != tt.want {
				t.Errorf("allowIfNone=false: %v, want %v", got, tt.want)
			}
			if got := s.Authorize(tt.req, true); got != tt.wantIfNone {
				t.Errorf("allowIfNone=true: %v, want %v", got, tt.wantIfNone)
			}
		})
	}
}

func TestSetAuthorizeNil(t *testing.T) {
	var s *Set
	r := Request{Principal: alice, Operation: kmsg.ACLOperationRead, ResourceType: topic, Name: "t"}
	if s.Authorize(r, false) || !s.Authorize(r, true) {
		t.Fatal("a nil set must leave every decision to allowIfNone")
	}
	if s.AuthorizeAny(r, false) || !s.AuthorizeAny(r, true) {
		t.Fatal("a nil set must leave AuthorizeAny to allowIfNone")
	}
	if s.Len() != 0 || s.Bindings() != nil || s.Contains(topicACL()) || s.Match(anyFilter()) != nil {
		t.Fatal("a nil set must be empty")
	}
	var zero Set
	if zero.Authorize(r, false) || !zero.Authorize(r, true) || zero.Len() != 0 {
		t.Fatal("the zero set must be empty")
	}
}

func TestSetAuthorizeAny(t *testing.T) {
	write := kmsg.ACLOperationWrite
	r := Request{Principal: alice, Host: aliceIP, Operation: write, ResourceType: topic}
	tests := []struct {
		name             string
		bindings         []Binding
		want, wantIfNone bool
	}{
		{"no bindings", nil, false, true},
		{
			"no bindings of the type",
			[]Binding{bind(group, literal, "g", alice, Wildcard, kmsg.ACLOperationRead, allow)},
			false, true,
		},
		{
			"allow on some topic",
			[]Binding{bind(topic, literal, "t", alice, Wildcard, write, allow)},
			true, true,
		},
		{
			"allow on a prefix",
			[]Binding{bind(topic, prefixed, "lo", alice, Wildcard, write, allow)},
			true, true,
		},
		{
			"allow ALL",
			[]Binding{bind(topic, literal, "t", alice, Wildcard, kmsg.ACLOperationAll, allow)},
			true, true,
		},
		{
			"allow for User:* from the exact host",
			[]Binding{bind(topic, literal, "t", WildcardPrincipal, aliceIP, write, allow)},
			true, true,
		},
		{
			"allow for another principal",
			[]Binding{bind(topic, literal, "t", bob, Wildcard, write, allow)},
			false, true,
		},
		{
			"allow from another host",
			[]Binding{bind(topic, literal, "t", alice, "10.9.9.9", write, allow)},
			false, true,
		},
		{
			"allow of another operation",
			[]Binding{bind(topic, literal, "t", alice, Wildcard, kmsg.ACLOperationRead, allow)},
			false, true,
		},
		{
			"deny on the literal wildcard wins",
			[]Binding{
				bind(topic, literal, "t", alice, Wildcard, write, allow),
				bind(topic, literal, Wildcard, alice, Wildcard, write, deny),
			},
			false, false,
		},
		{
			"deny ALL on the literal wildcard wins",
			[]Binding{
				bind(topic, literal, "t", alice, Wildcard, write, allow),
				bind(topic, literal, Wildcard, WildcardPrincipal, Wildcard, kmsg.ACLOperationAll, deny),
			},
			false, false,
		},
		// Kafka's authorizeByResourceType first authorizes a resource
		// named "hardcode", which none of these bindings are on: with
		// allow.everyone.if.no.acl.found, the principal may write there.
		{
			"a prefixed deny covering the literal allow",
			[]Binding{
				bind(topic, literal, "logs", alice, Wildcard, write, allow),
				bind(topic, prefixed, "lo", alice, Wildcard, write, deny),
			},
			false, true,
		},
		{
			"a prefixed deny covering the prefixed allow",
			[]Binding{
				bind(topic, prefixed, "logs", alice, Wildcard, write, allow),
				bind(topic, prefixed, "lo", alice, Wildcard, write, deny),
			},
			false, true,
		},
		{
			"a prefixed deny narrower than the prefixed allow",
			[]Binding{
				bind(topic, prefixed, "lo", alice, Wildcard, write, allow),
				bind(topic, prefixed, "logs", alice, Wildcard, write, deny),
			},
			true, true,
		},
		{
			"a literal deny of the same name",
			[]Binding{
				bind(topic, literal, "t", alice, Wildcard, write, allow),
				bind(topic, literal, "t", alice, Wildcard, write, deny),
			},
			false, true,
		},
		{
			"a literal allow not covered by a deny on another name",
			[]Binding{
				bind(topic, literal, "t", alice, Wildcard, write, allow),
				bind(topic, literal, "u", alice, Wildcard, write, deny),
			},
			true, true,
		},
		{
			"a literal deny does not cover a prefixed allow",
			[]Binding{
				bind(topic, prefixed, "t", alice, Wildcard, write, allow),
				bind(topic, literal, "t", alice, Wildcard, write, deny),
			},
			true, true,
		},
		{
			"one covered allow, one not",
			[]Binding{
				bind(topic, literal, "logs", alice, Wildcard, write, allow),
				bind(topic, literal, "metrics", alice, Wildcard, write, allow),
				bind(topic, prefixed, "lo", alice, Wildcard, write, deny),
			},
			true, true,
		},
		{
			"a deny for another principal covers nothing",
			[]Binding{
				bind(topic, literal, "t", alice, Wildcard, write, allow),
				bind(topic, literal, Wildcard, bob, Wildcard, write, deny),
			},
			true, true,
		},
		// With allowIfNone the decision above is true wherever some
		// topic, "hardcode" as Kafka picks it, has no bindings: the
		// principal may write to that one.
		{
			"only a deny on one topic",
			[]Binding{bind(topic, literal, "t", alice, Wildcard, write, deny)},
			false, true,
		},
		{
			"only bindings for others",
			[]Binding{bind(topic, literal, "t", bob, Wildcard, write, allow)},
			false, true,
		},
		{
			"bindings on the probe resource too",
			[]Binding{
				bind(topic, literal, "logs", alice, Wildcard, write, allow),
				bind(topic, prefixed, "lo", alice, Wildcard, write, deny),
				bind(topic, prefixed, "hard", bob, Wildcard, write, allow),
			},
			false, false,
		},
		{
			"bindings for others on every topic",
			[]Binding{bind(topic, literal, Wildcard, bob, Wildcard, write, allow)},
			false, false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSet(tt.bindings)
			if got := s.AuthorizeAny(r, false); got != tt.want {
				t.Errorf("allowIfNone=false: %v, want %v", got, tt.want)
			}
			if got := s.AuthorizeAny(r, true); got != tt.wantIfNone {
				t.Errorf("allowIfNone=true: %v, want %v", got, tt.wantIfNone)
			}
		})
	}
}

func TestNewSetSortsAndDedupes(t *testing.T) {
	read := kmsg.ACLOperationRead
	a := bind(topic, literal, "a", alice, Wildcard, read, allow)
	b := bind(topic, literal, "b", alice, Wildcard, read, allow)
	p := bind(topic, prefixed, "a", alice, Wildcard, read, allow)
	g := bind(group, literal, "a", alice, Wildcard, read, allow)
	d := bind(topic, literal, "a", alice, Wildcard, read, deny)
	in := []Binding{g, d, b, a, p, a, g}
	orig := slices.Clone(in)
	s := NewSet(in)
	want := []Binding{d, a, b, p, g} // type, pattern, name, …, permission (DENY 2, ALLOW 3)
	if got := s.Bindings(); !slices.Equal(got, want) {
		t.Fatalf("Bindings:\n got %v\nwant %v", got, want)
	}
	if s.Len() != len(want) {
		t.Fatalf("Len %d, want %d", s.Len(), len(want))
	}
	if !slices.Equal(in, orig) {
		t.Fatal("NewSet modified its argument")
	}
	for _, x := range want {
		if !s.Contains(x) {
			t.Errorf("Contains(%v) = false", x)
		}
	}
	other := a
	other.Host = aliceIP
	if s.Contains(other) {
		t.Errorf("Contains(%v) = true", other)
	}
	if got := NewSet(nil); got.Len() != 0 || len(got.Bindings()) != 0 {
		t.Fatalf("NewSet(nil) has %d bindings", got.Len())
	}
}

func TestCompare(t *testing.T) {
	base := bind(topic, literal, "t", alice, Wildcard, kmsg.ACLOperationRead, allow)
	if Compare(base, base) != 0 {
		t.Fatal("a binding differs from itself")
	}
	// Each edit makes a binding that sorts after base, field by field in
	// Compare's order, whatever the later fields say.
	later := []func(*Binding){
		func(b *Binding) { b.ResourceType, b.ResourceName = group, "a" },
		func(b *Binding) { b.PatternType, b.ResourceName = prefixed, "a" },
		func(b *Binding) { b.ResourceName, b.Principal = "u", "User:a" },
		func(b *Binding) { b.Principal, b.Host = bob, "" },
		func(b *Binding) { b.Host, b.Operation = aliceIP, kmsg.ACLOperationAll },
		func(b *Binding) { b.Operation, b.Permission = kmsg.ACLOperationWrite, deny },
		func(b *Binding) { b.Permission = allow + 1 },
	}
	for i, edit := range later {
		b := base
		edit(&b)
		if Compare(base, b) >= 0 || Compare(b, base) <= 0 {
			t.Errorf("edit %d: %v does not sort after %v", i, b, base)
		}
	}
}

func TestSetMatch(t *testing.T) {
	read, write := kmsg.ACLOperationRead, kmsg.ACLOperationWrite
	lit := bind(topic, literal, "logs", alice, Wildcard, read, allow)
	wild := bind(topic, literal, Wildcard, bob, Wildcard, write, deny)
	pre := bind(topic, prefixed, "lo", alice, Wildcard, write, allow)
	other := bind(topic, literal, "metrics", alice, Wildcard, read, allow)
	grp := bind(group, literal, "logs", alice, Wildcard, read, allow)
	s := NewSet([]Binding{grp, other, pre, wild, lit})

	f := anyFilter()
	if got := s.Match(f); !slices.Equal(got, s.Bindings()) {
		t.Fatalf("ANY filter: %v", got)
	}
	f.ResourceType, f.PatternType, f.ResourceName = topic, kmsg.ACLResourcePatternTypeMatch, kmsg.StringPtr("logs")
	if got, want := s.Match(f), []Binding{wild, lit, pre}; !slices.Equal(got, want) {
		t.Fatalf("MATCH logs:\n got %v\nwant %v", got, want)
	}
	f.Principal = kmsg.StringPtr(alice)
	if got, want := s.Match(f), []Binding{lit, pre}; !slices.Equal(got, want) {
		t.Fatalf("MATCH logs for alice:\n got %v\nwant %v", got, want)
	}
	f.Operation = write
	if got, want := s.Match(f), []Binding{pre}; !slices.Equal(got, want) {
		t.Fatalf("MATCH logs for alice, WRITE:\n got %v\nwant %v", got, want)
	}
	f.Permission = deny
	if got := s.Match(f); got != nil {
		t.Fatalf("MATCH logs for alice, WRITE, DENY: %v", got)
	}
}

package raftsm

import (
	"reflect"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/acl"
)

// aclTopic is an ALLOW binding of op on a topic for principal from every
// host.
func aclTopic(pattern kmsg.ACLResourcePatternType, name, principal string, op kmsg.ACLOperation) acl.Binding {
	return acl.Binding{
		ResourceType: kmsg.ACLResourceTypeTopic, ResourceName: name, PatternType: pattern,
		Principal: principal, Host: "*", Operation: op, Permission: kmsg.ACLPermissionTypeAllow,
	}
}

// openMetaForACLs opens a meta state machine on a fresh in-memory store.
func openMetaForACLs(t *testing.T, name string) (*Meta, *Store) {
	t.Helper()
	st, err := openStore(name, vfs.NewMem())
	if err != nil {
		t.Fatal(err)
	}
	m := NewMeta(st, nil)
	if _, err := m.Open(nil); err != nil {
		t.Fatal(err)
	}
	return m, st
}

func TestACLsCreate(t *testing.T) {
	m, st := openMetaForACLs(t, "state")
	empty := m.View().ACLs
	if empty == nil || empty.Len() != 0 {
		t.Fatalf("initial ACLs = %v, want an empty set", empty)
	}
	update := applier(t, &m)
	lit := kmsg.ACLResourcePatternTypeLiteral
	alice := aclTopic(lit, "orders", "User:alice", kmsg.ACLOperationWrite)
	bob := aclTopic(kmsg.ACLResourcePatternTypePrefixed, "logs-", "User:bob", kmsg.ACLOperationRead)
	bad := alice
	bad.Principal = "alice" // not Type:name

	res := update(EncodeCreateACLs([]acl.Binding{alice, alice}), EncodeCreateACLs([]acl.Binding{bob, bad}),
		[]byte{commandVersion, cmdCreateACLs, 1, 2})
	for i, want := range []Status{StatusOK, StatusMalformed, StatusMalformed} {
		if got := ResultStatus(res[i].Data); got != want {
			t.Errorf("command %d: %v, want %v", i, got, want)
		}
	}
	first := m.View().ACLs
	if !reflect.DeepEqual(first.Bindings(), []acl.Binding{alice}) {
		t.Fatalf("after create: %v (the invalid command must add none of its bindings)", first.Bindings())
	}

	// Creating what exists changes nothing, and keeps the published set.
	if st := ResultStatus(update(EncodeCreateACLs([]acl.Binding{alice}), EncodeCreateTopic(&CreateTopicCommand{Name: "t", Nodes: [][]int32{{1}}}))[0].Data); st != StatusOK {
		t.Fatalf("idempotent create: %v", st)
	}
	if m.View().ACLs != first {
		t.Fatal("an unchanged set was published anew")
	}
	update(EncodeCreateACLs([]acl.Binding{bob}))
	if got := m.View().ACLs; got == first || got.Len() != 2 || !got.Contains(bob) {
		t.Fatalf("after a second create: %v", got.Bindings())
	}

	// Reopened from the store.
	reopened := NewMeta(st, nil)
	if _, err := reopened.Open(nil); err != nil {
		t.Fatal(err)
	}
	if got := reopened.View().ACLs.Bindings(); !reflect.DeepEqual(got, m.View().ACLs.Bindings()) {
		t.Fatalf("reopened: %v, want %v", got, m.View().ACLs.Bindings())
	}
}

func TestACLsDelete(t *testing.T) {
	lit, pre := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
	orders := aclTopic(lit, "orders", "User:alice", kmsg.ACLOperationWrite)
	ordersBob := aclTopic(lit, "orders", "User:bob", kmsg.ACLOperationRead)
	prefix := aclTopic(pre, "ord", "User:alice", kmsg.ACLOperationRead)
	wildcard := aclTopic(lit, "*", "User:carol", kmsg.ACLOperationDescribe)
	other := aclTopic(lit, "payments", "User:alice", kmsg.ACLOperationWrite)
	group := acl.Binding{
		ResourceType: kmsg.ACLResourceTypeGroup, ResourceName: "g1", PatternType: lit,
		Principal: "User:alice", Host: "10.0.0.1", Operation: kmsg.ACLOperationRead, Permission: kmsg.ACLPermissionTypeDeny,
	}
	all := []acl.Binding{orders, ordersBob, prefix, wildcard, other, group}
	str := func(s string) *string { return &s }
	anyTopic := func(pattern kmsg.ACLResourcePatternType, name *string) acl.Filter {
		return acl.Filter{
			ResourceType: kmsg.ACLResourceTypeTopic, ResourceName: name, PatternType: pattern,
			Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny,
		}
	}
	everything := acl.Filter{
		ResourceType: kmsg.ACLResourceTypeAny, PatternType: kmsg.ACLResourcePatternTypeAny,
		Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny,
	}
	alice := everything
	alice.Principal = str("User:alice")

	for _, tc := range []struct {
		name    string
		filters []acl.Filter
		deleted [][]acl.Binding // per filter, sorted (acl.Compare)
	}{
		{"literal", []acl.Filter{anyTopic(lit, str("orders"))}, [][]acl.Binding{{orders, ordersBob}}},
		{"prefixed", []acl.Filter{anyTopic(pre, str("ord"))}, [][]acl.Binding{{prefix}}},
		{"prefixed names a pattern, not a prefix", []acl.Filter{anyTopic(pre, str("orders"))}, [][]acl.Binding{nil}},
		{"match", []acl.Filter{anyTopic(kmsg.ACLResourcePatternTypeMatch, str("orders"))}, [][]acl.Binding{{wildcard, orders, ordersBob, prefix}}},
		{"any name", []acl.Filter{anyTopic(kmsg.ACLResourcePatternTypeAny, nil)}, [][]acl.Binding{{wildcard, orders, ordersBob, other, prefix}}},
		{"any", []acl.Filter{everything}, [][]acl.Binding{all}},
		{"overlapping filters", []acl.Filter{alice, anyTopic(lit, str("orders"))}, [][]acl.Binding{{orders, other, prefix, group}, {orders, ordersBob}}},
		{"none", []acl.Filter{anyTopic(lit, str("nothing"))}, [][]acl.Binding{nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := openMetaForACLs(t, "state")
			update := applier(t, &m)
			update(EncodeCreateACLs(all))
			before := m.View().ACLs
			res := update(EncodeDeleteACLs(tc.filters))
			got, err := DecodeDeletedACLs(res[0].Data)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.deleted) {
				t.Fatalf("deleted %v, want %v", got, tc.deleted)
			}
			gone := map[acl.Binding]bool{}
			for i, want := range tc.deleted {
				slices.SortFunc(want, acl.Compare)
				if !slices.Equal(got[i], want) {
					t.Errorf("filter %d deleted %v, want %v", i, got[i], want)
				}
				for _, x := range want {
					gone[x] = true
				}
			}
			after := m.View().ACLs
			if len(gone) == 0 && after != before {
				t.Error("deleting nothing published a new set")
			}
			for _, x := range all {
				if after.Contains(x) == gone[x] {
					t.Errorf("%v: left %v, want deleted %v", x, after.Contains(x), gone[x])
				}
			}
		})
	}
}

func TestACLsDeleteRejectsBadFilters(t *testing.T) {
	m, _ := openMetaForACLs(t, "state")
	update := applier(t, &m)
	b := aclTopic(kmsg.ACLResourcePatternTypeLiteral, "orders", "User:alice", kmsg.ACLOperationWrite)
	update(EncodeCreateACLs([]acl.Binding{b}))
	good := acl.Filter{
		ResourceType: kmsg.ACLResourceTypeAny, PatternType: kmsg.ACLResourcePatternTypeAny,
		Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny,
	}
	bad := good
	bad.Operation = kmsg.ACLOperationUnknown
	res := update(EncodeDeleteACLs([]acl.Filter{good, bad}), []byte{commandVersion, cmdDeleteACLs, 1, 2, 1, 1, 1, 7})
	for i, r := range res {
		if st := ResultStatus(r.Data); st != StatusMalformed {
			t.Errorf("command %d: %v, want %v", i, st, StatusMalformed)
		}
		if _, err := DecodeDeletedACLs(r.Data); err == nil {
			t.Errorf("command %d: decoding a malformed result succeeded", i)
		}
	}
	if !m.View().ACLs.Contains(b) {
		t.Fatal("a rejected deletion deleted")
	}
}

// TestACLsSnapshot: the bindings travel in the meta shard's snapshots.
func TestACLsSnapshot(t *testing.T) {
	m, _ := openMetaForACLs(t, "state")
	update := applier(t, &m)
	kept := aclTopic(kmsg.ACLResourcePatternTypePrefixed, "orders-", "User:alice", kmsg.ACLOperationWrite)
	update(EncodeCreateACLs([]acl.Binding{kept}))
	buf := snapshotOf(t, m)

	restored, _ := openMetaForACLs(t, "other")
	stale := aclTopic(kmsg.ACLResourcePatternTypeLiteral, "stale", "User:bob", kmsg.ACLOperationRead)
	applier(t, &restored)(EncodeCreateACLs([]acl.Binding{stale}))
	if err := restored.RecoverFromSnapshot(buf, nil); err != nil {
		t.Fatal(err)
	}
	if got := restored.View().ACLs.Bindings(); !reflect.DeepEqual(got, []acl.Binding{kept}) {
		t.Fatalf("recovered from a snapshot: %v, want %v", got, []acl.Binding{kept})
	}
}

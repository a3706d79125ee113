package kafka

import (
	"context"
	"slices"
	"sync"

	"github.com/chronik-go/chronik/core/acl"
)

// memACLs is an ACLStore in memory, for tests of the listener alone (the
// real one is the meta shard: core/cluster, raftsm/acls.go).
type memACLs struct {
	mu  sync.Mutex
	set *acl.Set
}

var _ ACLStore = (*memACLs)(nil)

func newMemACLs(bindings ...acl.Binding) *memACLs { return &memACLs{set: acl.NewSet(bindings)} }

func (m *memACLs) ACLs() *acl.Set {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.set
}

func (m *memACLs) CreateACLs(_ context.Context, bindings []acl.Binding) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.set = acl.NewSet(append(slices.Clone(m.set.Bindings()), bindings...))
	return nil
}

func (m *memACLs) DeleteACLs(_ context.Context, filters []acl.Filter) ([][]acl.Binding, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([][]acl.Binding, len(filters))
	var keep []acl.Binding
	for _, b := range m.set.Bindings() {
		deleted := false
		for i, f := range filters {
			if f.Matches(b) {
				out[i] = append(out[i], b)
				deleted = true
			}
		}
		if !deleted {
			keep = append(keep, b)
		}
	}
	m.set = acl.NewSet(keep)
	return out, nil
}

package broker

import (
	"context"

	"github.com/chronik-go/chronik/core/acl"
	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/kafka"
	"github.com/chronik-go/chronik/raftsm"
)

// aclStore is kafka.ACLStore over the cluster's meta shard.
type aclStore struct{ c *cluster.Service }

func (s aclStore) ACLs() *acl.Set { return s.c.ACLs() }

func (s aclStore) CreateACLs(ctx context.Context, bindings []acl.Binding) error {
	if err := s.c.RequireLevel(raftsm.LevelSecurity, "ACL changes"); err != nil {
		return err
	}
	return s.c.CreateACLs(ctx, bindings)
}

func (s aclStore) DeleteACLs(ctx context.Context, filters []acl.Filter) ([][]acl.Binding, error) {
	if err := s.c.RequireLevel(raftsm.LevelSecurity, "ACL changes"); err != nil {
		return nil, err
	}
	return s.c.DeleteACLs(ctx, filters)
}

var _ kafka.ACLStore = aclStore{}

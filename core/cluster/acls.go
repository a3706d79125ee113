package cluster

import (
	"context"
	"fmt"

	"github.com/chronik-go/chronik/core/acl"
	"github.com/chronik-go/chronik/raftsm"
)

// Access control lists live in the meta shard (raftsm/acls.go), so a
// binding created or deleted through any broker applies on all of them.
//
// Both proposals go through proposeRetrying, which may apply a command
// twice when an attempt committed but its answer was lost. That is
// harmless for both: creating a binding that exists changes nothing, and
// a deletion applied again finds nothing left to delete. The cost is in
// the answer of such a retried deletion alone: it reports what the second
// application deleted (nothing, or what was created in between), not what
// the first one did.

// ACLs returns the committed bindings: the same *acl.Set until they
// change, never nil.
func (s *Service) ACLs() *acl.Set { return s.meta.View().ACLs }

// CreateACLs commits the bindings the cluster lacks, all or none; one that
// exists is not an error. An invalid binding fails the whole call with
// the reason Validate gives.
func (s *Service) CreateACLs(ctx context.Context, bindings []acl.Binding) error {
	for _, b := range bindings {
		if err := b.Validate(); err != nil {
			return fmt.Errorf("cluster: ACL %s: %w", b, err)
		}
	}
	res, err := s.proposeRetrying(ctx, raftsm.EncodeCreateACLs(bindings))
	if err != nil {
		return err
	}
	if st := raftsm.ResultStatus(res.Data); st != raftsm.StatusOK {
		return fmt.Errorf("cluster: create ACLs: %s", st)
	}
	return nil
}

// DeleteACLs commits, in one step, the deletion of every binding one of
// filters selects, and returns the deleted bindings per filter (a binding
// that several filters select is listed under each). An invalid filter
// fails the whole call with the reason Validate gives.
func (s *Service) DeleteACLs(ctx context.Context, filters []acl.Filter) ([][]acl.Binding, error) {
	for i, f := range filters {
		if err := f.Validate(); err != nil {
			return nil, fmt.Errorf("cluster: ACL filter %d: %w", i, err)
		}
	}
	res, err := s.proposeRetrying(ctx, raftsm.EncodeDeleteACLs(filters))
	if err != nil {
		return nil, err
	}
	deleted, err := raftsm.DecodeDeletedACLs(res.Data)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return deleted, nil
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/chronik-go/chronik/raftsm"
)

// Delegation tokens live in the meta shard (raftsm/delegationtokens.go), so
// a token created through any broker authenticates on all of them.

// ErrNoSuchToken is the renewal or removal of a token that does not exist.
var ErrNoSuchToken = errors.New("cluster: no such delegation token")

// Token returns the token with ID id.
func (s *Service) Token(id string) (raftsm.DelegationToken, bool) {
	t, ok := s.meta.View().Tokens[id]
	return t, ok
}

// Tokens returns every token, by ID.
func (s *Service) Tokens() []raftsm.DelegationToken {
	view := s.meta.View().Tokens
	out := make([]raftsm.DelegationToken, 0, len(view))
	for _, t := range view {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// CreateToken commits a new token.
func (s *Service) CreateToken(ctx context.Context, t raftsm.DelegationToken) error {
	return s.proposeToken(ctx, raftsm.EncodeCreateToken(t), t.ID)
}

// RenewToken commits a token's new expiry (Unix ms; the state machine
// keeps it within the token's maximum lifetime).
func (s *Service) RenewToken(ctx context.Context, id string, expires int64) error {
	return s.proposeToken(ctx, raftsm.EncodeRenewToken(id, expires), id)
}

// DeleteToken commits the removal of a token.
func (s *Service) DeleteToken(ctx context.Context, id string) error {
	return s.proposeToken(ctx, raftsm.EncodeDeleteToken(id), id)
}

func (s *Service) proposeToken(ctx context.Context, cmd []byte, id string) error {
	return s.proposeNamed(ctx, cmd, raftsm.StatusUnknownToken, fmt.Errorf("%w: %q", ErrNoSuchToken, id), fmt.Sprintf("delegation token %q", id))
}

// RemoveExpiredTokens removes, when this broker leads the meta shard, the
// tokens past their expiry (they no longer authenticate anyway), as
// Kafka's delegation.token.expiry.check.interval.ms does, and returns how
// many it removed.
func (s *Service) RemoveExpiredTokens(ctx context.Context) (int, error) {
	tokens := s.meta.View().Tokens
	if len(tokens) == 0 || s.ControllerID() != s.set.NodeID {
		return 0, nil
	}
	now, removed := time.Now().UnixMilli(), 0
	for id, t := range tokens {
		if t.Expires >= now {
			continue
		}
		if err := s.DeleteToken(ctx, id); err != nil && !errors.Is(err, ErrNoSuchToken) {
			return removed, err
		}
		removed++
	}
	return removed, nil
}

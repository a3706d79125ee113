package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/chronik-go/chronik/raftsm"
)

// SCRAM credentials live in the meta shard (raftsm/scramcreds.go), so a
// user added or changed through any broker authenticates on all of them.

// ErrNoSuchCredential is the deletion of a credential that does not exist.
var ErrNoSuchCredential = errors.New("cluster: no such SCRAM credential")

// ScramCredential returns user's credential for mech.
func (s *Service) ScramCredential(user string, mech raftsm.ScramMechanism) (raftsm.ScramCredential, bool) {
	c, ok := s.meta.View().Scram[user][mech]
	return c, ok
}

// ScramUsers returns every user with a credential: user → mechanism →
// iterations.
func (s *Service) ScramUsers() map[string]map[raftsm.ScramMechanism]int32 {
	view := s.meta.View().Scram
	out := make(map[string]map[raftsm.ScramMechanism]int32, len(view))
	for user, mechs := range view {
		out[user] = make(map[raftsm.ScramMechanism]int32, len(mechs))
		for m, c := range mechs {
			out[user][m] = c.Iterations
		}
	}
	return out
}

// ScramCredentials returns every stored credential, by user and
// mechanism (backups).
func (s *Service) ScramCredentials() []raftsm.ScramCredential {
	var out []raftsm.ScramCredential
	for _, mechs := range s.meta.View().Scram {
		for _, c := range mechs {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].User < out[j].User || out[i].User == out[j].User && out[i].Mechanism < out[j].Mechanism
	})
	return out
}

// SetScram commits a new or replaced credential.
func (s *Service) SetScram(ctx context.Context, c raftsm.ScramCredential) error {
	return s.proposeScram(ctx, raftsm.EncodeSetScram(c), c.User)
}

// DeleteScram commits the removal of user's credential for mech.
func (s *Service) DeleteScram(ctx context.Context, user string, mech raftsm.ScramMechanism) error {
	return s.proposeScram(ctx, raftsm.EncodeDeleteScram(user, mech), user)
}

func (s *Service) proposeScram(ctx context.Context, cmd []byte, user string) error {
	return s.proposeNamed(ctx, cmd, raftsm.StatusUnknownScram, fmt.Errorf("%w: user %q", ErrNoSuchCredential, user),
		fmt.Sprintf("SCRAM credential of %q", user))
}

// proposeNamed commits cmd about one named thing (what, for errors): the
// state machine's unknown status is notFound, any other failure an error
// naming what.
func (s *Service) proposeNamed(ctx context.Context, cmd []byte, unknown raftsm.Status, notFound error, what string) error {
	res, err := s.proposeRetrying(ctx, cmd)
	if err != nil {
		return err
	}
	switch st := raftsm.ResultStatus(res.Data); st {
	case raftsm.StatusOK:
		return nil
	case unknown:
		return notFound
	default:
		return fmt.Errorf("cluster: %s: %s", what, st)
	}
}

package broker

import (
	"context"
	"errors"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/kafka"
	"github.com/chronik-go/chronik/raftsm"
)

// scramStore is kafka.CredentialStore over the cluster's meta shard.
type scramStore struct{ c *cluster.Service }

var _ kafka.CredentialStore = scramStore{}

// scramMechanisms maps the SASL mechanism names to the stored numbers.
var scramMechanisms = map[string]raftsm.ScramMechanism{
	kafka.MechanismScramSHA256: raftsm.ScramSHA256,
	kafka.MechanismScramSHA512: raftsm.ScramSHA512,
}

func scramMechanismName(m raftsm.ScramMechanism) string {
	for name, n := range scramMechanisms {
		if n == m {
			return name
		}
	}
	return ""
}

func (s scramStore) ScramCredential(user, mechanism string) (kafka.ScramCredential, bool) {
	m, ok := scramMechanisms[mechanism]
	if !ok {
		return kafka.ScramCredential{}, false
	}
	c, ok := s.c.ScramCredential(user, m)
	if !ok {
		return kafka.ScramCredential{}, false
	}
	return kafka.ScramCredential{Salt: c.Salt, Iterations: int(c.Iterations), StoredKey: c.StoredKey, ServerKey: c.ServerKey}, true
}

func (s scramStore) ScramUsers() map[string]map[string]int {
	users := s.c.ScramUsers()
	out := make(map[string]map[string]int, len(users))
	for user, mechs := range users {
		out[user] = make(map[string]int, len(mechs))
		for m, iterations := range mechs {
			out[user][scramMechanismName(m)] = int(iterations)
		}
	}
	return out
}

func (s scramStore) SetScram(ctx context.Context, user, mechanism string, c kafka.ScramCredential) error {
	if err := s.c.RequireLevel(raftsm.LevelSecurity, "SCRAM credential changes"); err != nil {
		return err
	}
	return s.c.SetScram(ctx, raftsm.ScramCredential{
		User: user, Mechanism: scramMechanisms[mechanism], Iterations: int32(c.Iterations),
		Salt: c.Salt, StoredKey: c.StoredKey, ServerKey: c.ServerKey,
	})
}

func (s scramStore) DeleteScram(ctx context.Context, user, mechanism string) error {
	if err := s.c.RequireLevel(raftsm.LevelSecurity, "SCRAM credential changes"); err != nil {
		return err
	}
	err := s.c.DeleteScram(ctx, user, scramMechanisms[mechanism])
	if errors.Is(err, cluster.ErrNoSuchCredential) {
		return kafka.ErrNoSuchCredential
	}
	return err
}

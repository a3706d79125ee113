package broker

import (
	"context"
	"errors"
	"time"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/kafka"
	"github.com/chronik-go/chronik/raftsm"
)

// tokenStore is kafka.TokenStore over the cluster's meta shard.
type tokenStore struct{ c *cluster.Service }

var _ kafka.TokenStore = tokenStore{}

func tokenOf(t raftsm.DelegationToken) kafka.DelegationToken {
	return kafka.DelegationToken{
		ID: t.ID, Owner: t.Owner, Requester: t.Requester, Renewers: t.Renewers,
		Issued: t.Issued, Expires: t.Expires, MaxLifetime: t.MaxLifetime,
	}
}

func (s tokenStore) Token(id string) (kafka.DelegationToken, bool) {
	t, ok := s.c.Token(id)
	return tokenOf(t), ok
}

func (s tokenStore) Tokens() []kafka.DelegationToken {
	all := s.c.Tokens()
	out := make([]kafka.DelegationToken, len(all))
	for i, t := range all {
		out[i] = tokenOf(t)
	}
	return out
}

func (s tokenStore) CreateToken(ctx context.Context, t kafka.DelegationToken) error {
	if err := s.c.RequireLevel(raftsm.LevelDelegationTokens, "delegation tokens"); err != nil {
		return err
	}
	return s.c.CreateToken(ctx, raftsm.DelegationToken{
		ID: t.ID, Owner: t.Owner, Requester: t.Requester, Renewers: t.Renewers,
		Issued: t.Issued, Expires: t.Expires, MaxLifetime: t.MaxLifetime,
	})
}

func (s tokenStore) RenewToken(ctx context.Context, id string, expires int64) error {
	return noSuchToken(s.c.RenewToken(ctx, id, expires))
}

func (s tokenStore) DeleteToken(ctx context.Context, id string) error {
	return noSuchToken(s.c.DeleteToken(ctx, id))
}

func noSuchToken(err error) error {
	if errors.Is(err, cluster.ErrNoSuchToken) {
		return kafka.ErrNoSuchToken
	}
	return err
}

// tokenCheckInterval is how often expired delegation tokens are removed
// (Kafka's delegation.token.expiry.check.interval.ms is an hour; expired
// tokens never authenticate, so this only bounds how long they are listed).
const tokenCheckInterval = 5 * time.Second

// removeExpiredTokens removes expired delegation tokens (every
// tokenCheckInterval); only the broker leading the meta shard acts
// (cluster.Service.RemoveExpiredTokens).
func (b *Broker) removeExpiredTokens(ctx context.Context) {
	n, err := b.cluster.RemoveExpiredTokens(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		b.log.Warn("broker: removing expired delegation tokens", "err", err)
	case n > 0:
		b.log.Info("broker: removed expired delegation tokens", "count", n)
	}
}

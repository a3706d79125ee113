package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/chronik-go/chronik/core/opsctl"
)

func newTokenCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list, renew and expire delegation tokens",
		Long: `Manage delegation tokens (KIP-48, as kafka-delegation-tokens.sh): a user who
authenticated with Kerberos, a password, a bearer token or a client
certificate creates a token, and the workers of its jobs authenticate with it
through SCRAM (the token ID as user, its HMAC as password, the tokenauth
extension) as that user. The brokers need kafka.delegation-token-secret-key.
The token's owner and its renewers may renew or expire it. See docs/cli.md
and docs/security.md.`,
		Example: `  chronik token create --renewer etl --sasl-mechanism GSSAPI
  chronik token list --sasl-mechanism GSSAPI
  chronik token renew --hmac "$HMAC" --period 12h --sasl-mechanism GSSAPI
  chronik token expire --hmac "$HMAC" --sasl-mechanism GSSAPI`,
		Args: cobra.ArbitraryArgs,
		RunE: parentRun,
	}
	f.register(cmd)
	cmd.AddCommand(newTokenCreateCmd(&f), newTokenListCmd(&f), newTokenRenewCmd(&f), newTokenExpireCmd(&f))
	return cmd
}

func newTokenCreateCmd(f *clusterFlags) *cobra.Command {
	var (
		owner       string
		renewers    []string
		maxLifetime time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a delegation token and print its ID and HMAC",
		Long: `Create a token owned by the principal you connect as (or --owner, which needs
CREATE_TOKENS on that user), renewable by each --renewer, and print its ID and
HMAC (base64): a worker's SCRAM user and password. It lasts the brokers'
kafka.delegation-token-expiry-time unless renewed, and at most --max-lifetime
(or kafka.delegation-token-max-lifetime).`,
		Example: `  chronik token create --renewer etl --max-lifetime 72h --sasl-mechanism GSSAPI --format json`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.CreateToken(ctx, owner, renewers, maxLifetime)
			})
		},
	}
	cmd.Flags().StringVar(&owner, "owner", "", "the `user` the token authenticates as (default: you)")
	cmd.Flags().StringSliceVar(&renewers, "renewer", nil, "`users` who may renew the token besides its owner, comma-separated or repeated")
	cmd.Flags().DurationVar(&maxLifetime, "max-lifetime", 0, "the longest the token may live, renewals included (default: the brokers' kafka.delegation-token-max-lifetime)")
	return cmd
}

func newTokenListCmd(f *clusterFlags) *cobra.Command {
	var owners []string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the delegation tokens you may see",
		Long: `List the tokens you own, requested or may renew, and with ACLs those of users you
have DESCRIBE_TOKENS on (without ACLs, every token), with their HMACs.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.ListTokens(ctx, owners)
			})
		},
	}
	cmd.Flags().StringSliceVar(&owners, "owner", nil, "only the tokens of these `users`")
	return cmd
}

func newTokenRenewCmd(f *clusterFlags) *cobra.Command {
	var (
		hmac   string
		period time.Duration
	)
	cmd := &cobra.Command{
		Use:   "renew",
		Short: "Renew a delegation token",
		Long: `Move the expiry of the token whose HMAC is --hmac to now + --period (default: the
brokers' kafka.delegation-token-expiry-time), never past its maximum lifetime.
Only its owner and renewers may.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.RenewToken(ctx, hmac, period)
			})
		},
	}
	cmd.Flags().StringVar(&hmac, "hmac", "", "the token's `HMAC`, base64, as token create and token list print it")
	cmd.Flags().DurationVar(&period, "period", 0, "how long from now the token lasts")
	return cmd
}

func newTokenExpireCmd(f *clusterFlags) *cobra.Command {
	var (
		hmac   string
		period time.Duration
	)
	cmd := &cobra.Command{
		Use:   "expire",
		Short: "End a delegation token, now or after a period",
		Long: `End the token whose HMAC is --hmac: now (it is removed and no longer
authenticates; connections already authenticated with it stay open), or
after --period. Only its owner and renewers may.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.ExpireToken(ctx, hmac, period)
			})
		},
	}
	cmd.Flags().StringVar(&hmac, "hmac", "", "the token's `HMAC`, base64, as token create and token list print it")
	cmd.Flags().DurationVar(&period, "period", 0, "end the token this long from now instead of now")
	return cmd
}

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/chronik-go/chronik/core/opsctl"
)

func newUserCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "user",
		Short: "List, set and delete users' SCRAM credentials kept by the cluster",
		Long: `Manage the SCRAM credentials the cluster keeps for its users (Kafka's
AlterUserScramCredentials, as kafka-configs.sh --entity-type users uses): a
credential set through any broker authenticates the user on every broker at
once, and takes precedence over the password of kafka.sasl-users-file for its
mechanism (and for PLAIN). Only the principals of the brokers'
kafka.super-users may manage them: connect as one with --sasl-mechanism,
--sasl-user and CHRONIK_SASL_PASSWORD. See docs/cli.md.`,
		Example: `  CHRONIK_SASL_PASSWORD=… chronik user list --sasl-mechanism SCRAM-SHA-512 --sasl-user admin
  printf '%s\n' "$BOB_PASSWORD" | chronik user set bob --sasl-mechanism SCRAM-SHA-512 --sasl-user admin
  chronik user delete bob --mechanism SCRAM-SHA-256 --sasl-mechanism SCRAM-SHA-512 --sasl-user admin`,
		Args: cobra.ArbitraryArgs,
		RunE: parentRun,
	}
	f.register(cmd)
	cmd.AddCommand(newUserListCmd(&f), newUserSetCmd(&f), newUserDeleteCmd(&f))
	return cmd
}

func newUserListCmd(f *clusterFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the users with credentials and their mechanisms",
		Long: `List the users the cluster keeps SCRAM credentials for, with each mechanism and
its iteration count (never a password or key). Users that exist only in a
broker's kafka.sasl-users-file are not listed.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.ListUsers(ctx)
			})
		},
	}
}

func newUserSetCmd(f *clusterFlags) *cobra.Command {
	var (
		mechanisms []string
		iterations int32
	)
	cmd := &cobra.Command{
		Use:   "set USER",
		Short: "Create a user or give it a new password",
		Long: `Give USER a SCRAM credential for each --mechanism, derived from a password
with a random salt (the broker keeps only the derived keys), replacing the
ones it had. The password comes from ` + opsctl.EnvUserPassword + `, else from the
first line of standard input; never from a flag, which the process list would
show.`,
		Example: `  ` + opsctl.EnvUserPassword + `=s3cret chronik user set bob --config cluster.toml --sasl-mechanism SCRAM-SHA-512 --sasl-user admin
  printf '%s\n' "$BOB_PASSWORD" | chronik user set bob --mechanism SCRAM-SHA-512 --sasl-mechanism SCRAM-SHA-512 --sasl-user admin`,
		Args: nameArg("user"),
		RunE: func(cmd *cobra.Command, args []string) error {
			password, err := userPassword(cmd.InOrStdin())
			if err != nil {
				return err
			}
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.SetUser(ctx, args[0], password, mechanisms, iterations)
			})
		},
	}
	cmd.Flags().StringSliceVar(&mechanisms, "mechanism", opsctl.ScramMechanisms, "SCRAM `mechanisms` to set: SCRAM-SHA-512, SCRAM-SHA-256 or both, comma-separated")
	cmd.Flags().Int32Var(&iterations, "iterations", opsctl.DefaultScramIterations, "PBKDF2 iterations, 4096 to 16384")
	return cmd
}

func newUserDeleteCmd(f *clusterFlags) *cobra.Command {
	var mechanisms []string
	cmd := &cobra.Command{
		Use:   "delete USER",
		Short: "Delete a user's credentials",
		Long: `Delete USER's credentials for each --mechanism, or all of them. The user can then
no longer authenticate, unless kafka.sasl-users-file lists it. Connections
already authenticated stay open.`,
		Example: `  chronik user delete bob --sasl-mechanism SCRAM-SHA-512 --sasl-user admin`,
		Args:    nameArg("user"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.DeleteUser(ctx, args[0], mechanisms)
			})
		},
	}
	cmd.Flags().StringSliceVar(&mechanisms, "mechanism", nil, "SCRAM `mechanisms` to delete (default: every one the user has)")
	return cmd
}

// userPassword reads the password of `user set`: the environment, else
// the first line of in.
func userPassword(in io.Reader) (string, error) {
	if p := os.Getenv(opsctl.EnvUserPassword); p != "" {
		return p, nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	if p := strings.TrimRight(line, "\r\n"); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("no password: set %s, or give it as the first line of stdin", opsctl.EnvUserPassword)
}

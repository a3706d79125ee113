package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/chronik-go/chronik/core/config"
	"github.com/chronik-go/chronik/core/opsctl"
)

func newRestoreCmd() *cobra.Command {
	var from, id, format string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "restore --from URL (--data-dir DIR | --config FILE --node-id N)",
		Short: "Prepare an empty data dir to rebuild the cluster from a backup",
		Long: `Rebuild a cluster whose disks are lost from its object store
(docs/disaster-recovery.md). restore downloads a backup (the newest complete
one unless --backup names another), verifies every object's SHA-256 and
decodes it, checks that the tiered segments it refers to are still in the
store, prints what it will restore, and writes it as a restore plan into the
data dir, which must be empty. Nothing is written if anything fails.

Then start the broker as usual on that data dir: before it serves, it
creates the topics with their original UUIDs and configs, restores the
committed offsets of every group, and gives each partition its tiered
segments back (offsets from the earliest to the last tiered one), logging
its progress; then it deletes the plan. Restoring is idempotent: a broker
interrupted part way finishes on its next start.

In a cluster, restore every node's data dir with the same backup (same
--backup ID) and start them all; each node restores the partitions it holds.`,
		Example: `  chronik restore --from file:///mnt/bucket --data-dir /var/lib/chronik
  chronik restore --from s3://bucket/chronik?region=eu-west-1 --config cluster.toml --node-id 2
  chronik restore --from s3://bucket/chronik --backup 20261125T235900Z-3fa2 --data-dir ./data`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := opsctl.ParseFormat(format)
			if err != nil {
				return err
			}
			cfg, err := config.Load(cmd.Flags(), os.Getenv)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("data-dir") && !cmd.Flags().Changed(config.FileFlag) && os.Getenv(config.EnvName("data-dir")) == "" && os.Getenv(config.EnvName(config.FileFlag)) == "" {
				return errors.New("give the data dir to restore into: --data-dir DIR (single node), or --config FILE --node-id N (cluster)")
			}
			if from == "" {
				from = cfg.Tier.URL
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			r, err := opsctl.PrepareRestore(ctx, opsctl.RestoreOptions{From: from, Backup: id, DataDir: cfg.DataDir})
			if err != nil {
				return err
			}
			return printReport(cmd, f, r)
		},
	}
	config.BindFlags(cmd.Flags())
	cmd.Flags().StringVar(&from, "from", "", "object-store `URL` holding the backups: the lost cluster's tier.url (default: tier.url of --config)")
	cmd.Flags().StringVar(&id, "backup", "", "backup `ID` to restore (chronik backup list --from URL); default the newest complete one")
	cmd.Flags().StringVar(&format, "format", string(opsctl.Table), "output `format`: table or json")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long downloading and verifying the backup may take")
	return cmd
}

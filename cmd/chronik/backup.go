package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/chronik-go/chronik/core/backup"
	"github.com/chronik-go/chronik/core/opsctl"
)

func init() { backup.Version = version }

// backupTimeout is the default --timeout of backup now: a backup reads
// every coordinator shard and writes several objects.
const backupTimeout = 5 * time.Minute

func newBackupCmd() *cobra.Command {
	var f clusterFlags
	var from string
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Take, list and inspect disaster-recovery backups in the object store",
		Long: `Disaster-recovery backups (docs/disaster-recovery.md) export the cluster's
topics (names, UUIDs, configs), committed consumer-group offsets and the
manifests of the partitions' tiered segments to backups/<id>/ in the store
of [tier] url. Record data is not copied: it is already there as tiered
segments. chronik restore rebuilds a cluster from a backup.

Brokers take backups on the schedule of the [backup] config table; these
commands reach a broker's admin API on --http-addr (else the [[nodes]] http
addresses of --config, else 127.0.0.1:9644). list and show read the store
directly with --from URL when no broker runs.`,
		Example: `  chronik backup now --config cluster.toml
  chronik backup list
  chronik backup list --from s3://bucket/chronik?region=eu-west-1
  chronik backup show 20261125T235900Z-3fa2 --format json`,
		Args: cobra.ArbitraryArgs,
		RunE: parentRun,
	}
	f.registerAdmin(cmd, "how long to wait for the brokers' answers (backup now: at least 5m)")
	addrs := f.resolveAdmin
	now := &cobra.Command{
		Use:   "now",
		Short: "Take a backup now and print its manifest",
		Long: `Ask a broker to take a backup now. It reads the meta and coordinator shards
after a ReadIndex (so the backup holds everything committed before it
started), collects every partition's tiered manifest, writes the objects and
then manifest.json, and deletes backups beyond [backup] keep.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := f.outputFormat()
			if err != nil {
				return err
			}
			a, err := addrs()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), max(f.timeout, backupTimeout))
			defer cancel()
			r, err := opsctl.BackupNow(ctx, a)
			if err != nil {
				return err
			}
			return printReport(cmd, format, r)
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the backups in the store, oldest first",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := f.outputFormat()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			var r *opsctl.BackupListReport
			if from != "" {
				r, err = opsctl.BackupListFrom(ctx, nil, from)
			} else {
				var a opsctl.Admin
				if a, err = addrs(); err != nil {
					return err
				}
				r, err = opsctl.BackupList(ctx, a)
			}
			if err != nil {
				return err
			}
			return printReport(cmd, format, r)
		},
	}
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a backup's manifest: objects, checksums, per-partition recovery point",
		Args:  nameArg("backup ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := f.outputFormat()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			var r *opsctl.BackupReport
			if from != "" {
				r, err = opsctl.BackupShowFrom(ctx, nil, from, args[0])
			} else {
				var a opsctl.Admin
				if a, err = addrs(); err != nil {
					return err
				}
				r, err = opsctl.BackupShow(ctx, a, args[0])
			}
			if err != nil {
				return err
			}
			return printReport(cmd, format, r)
		},
	}
	for _, c := range []*cobra.Command{list, show} {
		c.Flags().StringVar(&from, "from", "", "read the object store at this `URL` (the cluster's tier.url) instead of asking a broker")
	}
	cmd.AddCommand(now, list, show)
	return cmd
}

package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/chronik-go/chronik/core/opsctl"
)

func newTopicDeleteRecordsCmd(f *clusterFlags) *cobra.Command {
	var (
		partitions string
		before     int64
	)
	cmd := &cobra.Command{
		Use:   "delete-records TOPIC --before OFFSET",
		Short: "Delete every record below an offset (advance the log start offset)",
		Long: `Delete the records of TOPIC below --before in the partitions named by
--partitions (default: all) with the Kafka DeleteRecords API. Consumers
starting from the earliest offset then begin at --before. --before -1 deletes
everything up to each partition's high watermark. Deleting beyond the high
watermark fails with OFFSET_OUT_OF_RANGE.`,
		Example: `  chronik topic delete-records orders --before 1000 --partitions 0,1
  chronik topic delete-records orders --before -1`,
		Args: nameArg("topic"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ps, err := opsctl.ParsePartitions("--partitions", partitions)
			if err != nil {
				return err
			}
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.DeleteRecords(ctx, args[0], ps, before)
			})
		},
	}
	cmd.Flags().StringVar(&partitions, "partitions", "", "comma-separated `partitions` (default: all)")
	cmd.Flags().Int64Var(&before, "before", -2, "delete records below this `offset`; -1 means the high watermark")
	_ = cmd.MarkFlagRequired("before")
	return cmd
}

func newClusterDescribeCmd(f *clusterFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "describe",
		Short:   "Cluster ID, controller, and every broker with the partitions and bytes it stores",
		Example: `  chronik cluster describe --brokers 127.0.0.1:9092 --format json`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.DescribeCluster(ctx)
			})
		},
	}
}

func newClusterSetFeatureCmd(f *clusterFlags) *cobra.Command {
	var allowDowngrade, dryRun bool
	cmd := &cobra.Command{
		Use:   "set-feature NAME=LEVEL [--allow-downgrade] [--dry-run]",
		Short: "Finalize a feature level for the whole cluster (kafka-features.sh upgrade|downgrade)",
		Long: `Set the level ApiVersions finalizes for a feature on every broker, kept in the
cluster's metadata (and in backups): transaction.version 0-2 (2: KIP-890
part 2, an epoch bump with every transaction). It overrides the brokers'
kafka.transaction-version. Lowering a level needs --allow-downgrade; --dry-run
has the brokers validate the change without making it. The brokers refuse a
change while some broker runs a release that cannot apply it, naming it.
` + "`chronik cluster describe`" + ` shows the finalized levels.`,
		Example: `  chronik cluster set-feature transaction.version=1 --allow-downgrade --config cluster.toml
  chronik cluster set-feature transaction.version=2 --dry-run`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("give one NAME=LEVEL: %s\nrun '%s --help' for usage", cmd.UseLine(), cmd.CommandPath())
			}
			_, _, err := parseFeature(args[0])
			return err
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			name, level, _ := parseFeature(args[0])
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.SetFeature(ctx, name, level, allowDowngrade, dryRun)
			})
		},
	}
	cmd.Flags().BoolVar(&allowDowngrade, "allow-downgrade", false, "allow a level below the finalized one")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only validate the change")
	return cmd
}

// parseFeature parses NAME=LEVEL.
func parseFeature(arg string) (string, int16, error) {
	name, v, ok := strings.Cut(arg, "=")
	level, err := strconv.ParseInt(v, 10, 16)
	if !ok || name == "" || err != nil || level < 0 {
		return "", 0, fmt.Errorf("%q is not NAME=LEVEL with a level of 0 or more, e.g. transaction.version=2", arg)
	}
	return name, int16(level), nil
}

package main

import (
	"context"

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

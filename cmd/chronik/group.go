package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/chronik-go/chronik/core/opsctl"
)

func newGroupCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "group",
		Short: "List, describe, reset offsets of and delete consumer groups",
		Long: `Inspect and manage the consumer groups of a running cluster through its Kafka API.

The cluster is found with --brokers, else CHRONIK_BROKERS, else the Kafka
address a broker started with --config (or CHRONIK_CONFIG) would advertise,
else 127.0.0.1:9092. Every command prints a table, or one JSON document with
--format json. See docs/cli.md.`,
		Example: `  chronik group list
  chronik group describe billing
  chronik group reset-offsets billing --topic orders --to-earliest --execute`,
		Args: cobra.ArbitraryArgs,
		RunE: parentRun,
	}
	f.register(cmd)
	cmd.AddCommand(
		newGroupListCmd(&f),
		newGroupDescribeCmd(&f),
		newGroupResetOffsetsCmd(&f),
		newGroupDeleteCmd(&f),
	)
	return cmd
}

func newGroupListCmd(f *clusterFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List groups with their state, protocol and member count",
		Example: `  chronik group list
  chronik group list --format json | jq -r '.groups[] | select(.state == "Empty") | .name'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.ListGroups(ctx)
			})
		},
	}
}

func newGroupDescribeCmd(f *clusterFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe GROUP",
		Short: "Show a group's members, committed offsets and lag",
		Long: `Show a group's state and members (client ID, host, assigned partitions), then
per partition the committed offset, the end offset and the lag between them,
and the total lag. A partition without a commit shows "-" and its lag counts
from the log start.`,
		Example: `  chronik group describe billing
  chronik group describe billing --format json | jq .total_lag`,
		Args: nameArg("group"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.DescribeGroup(ctx, args[0])
			})
		},
	}
}

func newGroupResetOffsetsCmd(f *clusterFlags) *cobra.Command {
	var (
		spec                 opsctl.ResetSpec
		toOffset, shiftBy    int64
		toDatetime           string
		toEarliest, toLatest bool
		partitions           string
	)
	cmd := &cobra.Command{
		Use:   "reset-offsets GROUP --topic TOPIC (--to-earliest | --to-latest | --to-offset N | --to-datetime T | --shift-by N)",
		Short: "Move a group's committed offsets on a topic (dry run unless --execute)",
		Long: `Move the committed offsets of a group on one topic. Without --execute the
command only prints the plan: each partition's committed and new offset.

New offsets are kept within each partition's log (start to end); the NOTE
column says when an offset was moved there. The group must have no active
members — stop its consumers first — otherwise the command refuses.`,
		Example: `  chronik group reset-offsets billing --topic orders --to-earliest
  chronik group reset-offsets billing --topic orders --to-datetime 2024-05-01T00:00:00Z --execute
  chronik group reset-offsets billing --topic orders --partitions 0,1 --shift-by -100 --execute`,
		Args: nameArg("group"),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec.Group = args[0]
			var err error
			if spec.Partitions, err = opsctl.ParsePartitions("--partitions", partitions); err != nil {
				return err
			}
			fs := cmd.Flags()
			spec.Target = opsctl.ResetTarget{Earliest: toEarliest, Latest: toLatest}
			if fs.Changed("to-offset") {
				spec.Target.Offset = &toOffset
			}
			if fs.Changed("to-datetime") {
				spec.Target.Datetime = &toDatetime
			}
			if fs.Changed("shift-by") {
				spec.Target.ShiftBy = &shiftBy
			}
			if err := spec.Validate(); err != nil {
				return err
			}
			format, err := f.outputFormat()
			if err != nil {
				return err
			}
			cl, err := f.dial(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			r, err := cl.ResetOffsets(cmd.Context(), spec)
			if err != nil {
				return err
			}
			if err := printReport(cmd, format, r); err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.ErrOrStderr(), r.Summary())
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&spec.Topic, "topic", "", "`topic` whose offsets to move (required)")
	fs.StringVar(&partitions, "partitions", "", "only these `partitions`, comma-separated, e.g. 0,1 (default: all)")
	fs.BoolVar(&toEarliest, "to-earliest", false, "move to the log start")
	fs.BoolVar(&toLatest, "to-latest", false, "move to the end: skip everything not yet consumed")
	fs.Int64Var(&toOffset, "to-offset", 0, "move to offset `N`")
	fs.StringVar(&toDatetime, "to-datetime", "", "move to the first record at or after an RFC 3339 `time`, e.g. 2024-05-01T12:00:00Z")
	fs.Int64Var(&shiftBy, "shift-by", 0, "move by `N` from the committed offset (negative goes back)")
	fs.BoolVar(&spec.Execute, "execute", false, "commit the new offsets (default: only show the plan)")
	return cmd
}

func newGroupDeleteCmd(f *clusterFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete GROUP",
		Short: "Delete a group and its committed offsets",
		Long: `Delete a group and its committed offsets. The group must have no active
members; the broker refuses otherwise.`,
		Example: `  chronik group delete billing`,
		Args:    nameArg("group"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.DeleteGroup(ctx, args[0])
			})
		},
	}
}

package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/chronik-go/chronik/core/opsctl"
)

// topicConfigNote explains the one flag whose meaning differs on create
// and alter.
const topicConfigNote = `
On this command --config sets a topic config (key=value, repeatable); to take
the cluster address from a broker config file, set CHRONIK_CONFIG instead.`

func newTopicCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "topic",
		Short: "Create, list, describe, alter and delete topics; list their producers",
		Long: `Manage the topics of a running cluster through its Kafka API.

The cluster is found with --brokers, else CHRONIK_BROKERS, else the Kafka
address a broker started with --config (or CHRONIK_CONFIG) would advertise,
else 127.0.0.1:9092. Every command prints a table, or one JSON document with
--format json. See docs/cli.md.`,
		Example: `  chronik topic create orders --partitions 6 --config retention.ms=86400000
  chronik topic list --brokers 10.0.0.1:9092,10.0.0.2:9092
  chronik topic describe orders --format json
  chronik topic producers orders`,
		Args: cobra.ArbitraryArgs,
		RunE: parentRun,
	}
	f.register(cmd)
	cmd.AddCommand(
		newTopicCreateCmd(&f),
		newTopicListCmd(&f),
		newTopicDescribeCmd(&f),
		newTopicProducersCmd(&f),
		newTopicAlterCmd(&f),
		newTopicDeleteCmd(&f),
		newTopicDeleteRecordsCmd(&f), // records.go
	)
	return cmd
}

func newTopicCreateCmd(f *clusterFlags) *cobra.Command {
	var (
		spec    opsctl.TopicSpec
		configs []string
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a topic",
		Long: `Create a topic with a partition count, a replication factor and topic configs.
Without --partitions or --replication-factor the broker's defaults apply
(kafka.default-partitions, kafka.default-replication-factor).` + "\n" + topicConfigNote,
		Example: `  chronik topic create orders
  chronik topic create orders --partitions 12 --replication-factor 3
  chronik topic create audit --config retention.ms=604800000 --config cleanup.policy=compact`,
		Args: nameArg("topic"),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec.Name = args[0]
			var err error
			if spec.Configs, err = opsctl.ParseConfigs("--config", configs); err != nil {
				return err
			}
			if err := spec.Validate(); err != nil {
				return err
			}
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.CreateTopic(ctx, spec)
			})
		},
	}
	fs := cmd.Flags()
	fs.Int32Var(&spec.Partitions, "partitions", -1, "`number` of partitions; -1 means the broker default")
	fs.Int16Var(&spec.ReplicationFactor, "replication-factor", -1, "`replicas` per partition; -1 means the broker default")
	fs.StringArrayVar(&configs, "config", nil, "topic config `key=value`, repeatable (e.g. retention.ms=86400000)")
	return cmd
}

func newTopicListCmd(f *clusterFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List topics with their partition count, replication factor and ID",
		Example: `  chronik topic list
  chronik topic list --format json | jq -r '.topics[].name'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.ListTopics(ctx)
			})
		},
	}
}

func newTopicDescribeCmd(f *clusterFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a topic's partitions, offsets and configs",
		Long: `Show a topic's partitions (leader, leader epoch, replicas, in-sync replicas,
log start and end offsets), then its configs with their source: "set" on
this topic or the "default".`,
		Example: `  chronik topic describe orders
  chronik topic describe orders --format json | jq '.partitions[] | {partition, end_offset}'`,
		Args: nameArg("topic"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.DescribeTopic(ctx, args[0])
			})
		},
	}
}

func newTopicProducersCmd(f *clusterFlags) *cobra.Command {
	var partitions string
	cmd := &cobra.Command{
		Use:   "producers NAME",
		Short: "Show the idempotent producers writing to a topic",
		Long: `Show who writes to a topic: per partition, the idempotent producers its
leader knows, with their producer ID, epoch, the sequence number of their
last record, the time of their last write (UTC) and TXN-START: the first
offset of the producer's open transaction on the partition ("-" when none
is open). read_committed consumers stop at the earliest TXN-START, so one
that does not move is a hanging transaction ("chronik transaction abort"
ends it). A producer is listed until a
day after its last write. Like kafka-transactions.sh describe-producers;
the principal needs READ on the topic.`,
		Example: `  chronik topic producers orders
  chronik topic producers orders --partitions 0,2
  chronik topic producers orders --format json | jq '.partitions[].producers[].producer_id'`,
		Args: nameArg("topic"),
		RunE: func(cmd *cobra.Command, args []string) error {
			parts, err := opsctl.ParsePartitions("--partitions", partitions)
			if err != nil {
				return err
			}
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.DescribeProducers(ctx, args[0], parts)
			})
		},
	}
	cmd.Flags().StringVar(&partitions, "partitions", "", "only these `partitions`, comma-separated, e.g. 0,2 (default: all)")
	return cmd
}

func newTopicAlterCmd(f *clusterFlags) *cobra.Command {
	var (
		alter            opsctl.TopicAlter
		configs, deletes []string
	)
	cmd := &cobra.Command{
		Use:   "alter NAME",
		Short: "Change a topic's configs or add partitions",
		Long: `Set topic configs (--config key=value), revert them to their defaults
(--delete-config key), or grow the partition count (--partitions N; a topic
never shrinks). Other configs are left alone. When configs and partitions
change together, the broker validates both before applying either.` + "\n" + topicConfigNote,
		Example: `  chronik topic alter orders --config retention.ms=3600000
  chronik topic alter orders --delete-config retention.ms
  chronik topic alter orders --partitions 12`,
		Args: nameArg("topic"),
		RunE: func(cmd *cobra.Command, args []string) error {
			alter.Name = args[0]
			var err error
			if alter.Set, err = opsctl.ParseConfigs("--config", configs); err != nil {
				return err
			}
			if alter.Delete, err = opsctl.ParseConfigKeys("--delete-config", deletes); err != nil {
				return err
			}
			if err := alter.Validate(); err != nil {
				return err
			}
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.AlterTopic(ctx, alter)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&configs, "config", nil, "topic config to set, `key=value`, repeatable")
	fs.StringArrayVar(&deletes, "delete-config", nil, "topic config `key` to revert to its default, repeatable")
	fs.Int32Var(&alter.Partitions, "partitions", 0, "new partition `count`, larger than the current one")
	return cmd
}

// stdinIsTerminal decides whether topic delete may prompt; tests replace it.
var stdinIsTerminal = opsctl.IsTerminal

func newTopicDeleteCmd(f *clusterFlags) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a topic and all its records",
		Long: `Delete a topic and all its records. This cannot be undone.

On a terminal the command shows the topic and asks you to type its name;
elsewhere (scripts, pipes) it refuses unless --yes is given.`,
		Example: `  chronik topic delete orders
  chronik topic delete orders --yes`,
		Args: nameArg("topic"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			interactive := stdinIsTerminal(cmd.InOrStdin())
			if err := opsctl.RequireConfirmation(yes, interactive, fmt.Sprintf("delete topic %q", name)); err != nil {
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
			if !yes {
				s, err := cl.TopicSummary(cmd.Context(), name)
				if err != nil {
					return err
				}
				prompt := fmt.Sprintf("Delete topic %q (%d partitions, ID %s) and all its records? This cannot be undone.\nType the topic name to confirm: ",
					s.Name, s.PartitionCount, s.ID)
				if err := opsctl.Confirm(cmd.InOrStdin(), cmd.ErrOrStderr(), prompt, name); err != nil {
					return err
				}
			}
			r, err := cl.DeleteTopic(cmd.Context(), name)
			if err != nil {
				return err
			}
			return printReport(cmd, format, r)
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking")
	return cmd
}

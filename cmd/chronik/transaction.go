package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/chronik-go/chronik/core/opsctl"
)

func newTransactionCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:     "transaction",
		Aliases: []string{"txn"},
		Short:   "List and describe the transactional IDs of producers (Kafka transactions)",
		Long: `Inspect the transactions of a running cluster through its Kafka API, like
kafka-transactions.sh list and describe: the transactional IDs the cluster's
transaction coordinators know, their state and producer, and what an open
transaction has written to.

To find a hanging transaction (one that holds read_committed consumers of a
partition back): "chronik topic producers TOPIC" shows each partition's
open transactions with the offset each began at (TXN-START) and its
producer ID; "chronik transaction list --producer-id ID" names that
producer's transactional ID, and "chronik transaction describe ID" shows
since when its transaction is open and its partitions. An Ongoing one open
for long is aborted by its coordinator after the producer's
transaction.timeout.ms; a partition's open transaction that its
coordinator does not list (not Ongoing, or not among its partitions)
will not be ended by it: kafka-transactions.sh abort ends it.

The cluster is found with --brokers, else CHRONIK_BROKERS, else the Kafka
address a broker started with --config (or CHRONIK_CONFIG) would advertise,
else 127.0.0.1:9092. Every command prints a table, or one JSON document with
--format json. See docs/cli.md.`,
		Example: `  chronik transaction list
  chronik transaction list --state Ongoing
  chronik transaction list --producer-id 1003
  chronik txn describe payments-1`,
		Args: cobra.ArbitraryArgs,
		RunE: parentRun,
	}
	f.register(cmd)
	cmd.AddCommand(
		newTransactionListCmd(&f),
		newTransactionDescribeCmd(&f),
	)
	return cmd
}

func newTransactionListCmd(f *clusterFlags) *cobra.Command {
	var states, producerIDs []string
	cmd := &cobra.Command{
		Use:     "list [--state STATE,...] [--producer-id ID,...]",
		Aliases: []string{"ls"},
		Short:   "List transactional IDs with their state and producer ID",
		Long: `List every transactional ID the cluster's transaction coordinators know
(every broker is asked), with its state and producer ID, sorted by ID; like
kafka-transactions.sh list. States are Empty (no transaction begun since the
producer started), Ongoing (open), PrepareCommit and PrepareAbort (ending:
markers being written), CompleteCommit and CompleteAbort (the last
transaction's outcome). With ACLs, only the IDs the principal may DESCRIBE
are listed.`,
		Example: `  chronik transaction list
  chronik transaction list --state Ongoing,PrepareCommit,PrepareAbort
  chronik transaction list --producer-id 1000
  chronik transaction list --format json | jq -r '.transactions[] | select(.state == "Ongoing") | .transactional_id'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := opsctl.ParseTxnFilter(states, producerIDs)
			if err != nil {
				return err
			}
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.ListTransactions(ctx, filter)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&states, "state", nil, "only IDs in these `states`, comma-separated: Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort (any case)")
	fs.StringSliceVar(&producerIDs, "producer-id", nil, "only IDs of these producer `IDs`, comma-separated")
	return cmd
}

func newTransactionDescribeCmd(f *clusterFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe ID [ID...]",
		Short: "Show transactional IDs' state, producer, timeout, start time and partitions",
		Long: `Show each transactional ID's state, producer ID and epoch, coordinator
broker, transaction timeout (the producer's transaction.timeout.ms), when
its current (else last) transaction began (UTC) and, while one is open,
for how long, and the partitions the open transaction wrote to; like
kafka-transactions.sh describe. An unknown ID is an error
(TRANSACTIONAL_ID_NOT_FOUND); with ACLs the principal needs DESCRIBE on
the transactional ID.`,
		Example: `  chronik transaction describe payments-1
  chronik transaction describe payments-1 payments-2
  chronik transaction describe payments-1 --format json | jq .transactions[0].open_for_ms`,
		Args: idsArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.DescribeTransactions(ctx, args)
			})
		},
	}
}

// idsArg accepts one or more transactional IDs, none of them empty.
func idsArg(cmd *cobra.Command, args []string) error {
	if len(args) == 0 || slices.Contains(args, "") {
		return fmt.Errorf("give the transactional ID: %s\nrun '%s --help' for usage", cmd.UseLine(), cmd.CommandPath())
	}
	return nil
}

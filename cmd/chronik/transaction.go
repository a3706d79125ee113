package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/chronik-go/chronik/core/opsctl"
)

func newTransactionCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:     "transaction",
		Aliases: []string{"txn"},
		Short:   "List and describe the transactional IDs of producers (Kafka transactions); abort a hanging transaction",
		Long: `Inspect the transactions of a running cluster through its Kafka API, like
kafka-transactions.sh list, describe and abort: the transactional IDs the
cluster's transaction coordinators know, their state and producer, and
what an open transaction has written to; and end a hanging transaction.

To find a hanging transaction (one that holds read_committed consumers of a
partition back): "chronik topic producers TOPIC" shows each partition's
open transactions with the offset each began at (TXN-START) and its
producer ID; "chronik transaction list --producer-id ID" names that
producer's transactional ID, and "chronik transaction describe ID" shows
since when its transaction is open and its partitions. An Ongoing one open
for long is aborted by its coordinator after the producer's
transaction.timeout.ms; a partition's open transaction that its
coordinator does not list (not Ongoing, or not among its partitions)
will not be ended by it: "chronik transaction abort" ends it.

The cluster is found with --brokers, else CHRONIK_BROKERS, else the Kafka
address a broker started with --config (or CHRONIK_CONFIG) would advertise,
else 127.0.0.1:9092. Every command prints a table, or one JSON document with
--format json. See docs/cli.md.`,
		Example: `  chronik transaction list
  chronik transaction list --state Ongoing
  chronik transaction list --producer-id 1003
  chronik txn describe payments-1
  chronik transaction abort --topic orders --partition 0 --start-offset 5120`,
		Args: cobra.ArbitraryArgs,
		RunE: parentRun,
	}
	f.register(cmd)
	cmd.AddCommand(
		newTransactionListCmd(&f),
		newTransactionDescribeCmd(&f),
		newTransactionAbortCmd(&f),
	)
	return cmd
}

func newTransactionListCmd(f *clusterFlags) *cobra.Command {
	var (
		states, producerIDs []string
		pattern             string
	)
	cmd := &cobra.Command{
		Use:     "list [--state STATE,...] [--producer-id ID,...] [--pattern REGEX]",
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
  chronik transaction list --pattern 'payments-.*'
  chronik transaction list --format json | jq -r '.transactions[] | select(.state == "Ongoing") | .transactional_id'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := opsctl.ParseTxnFilter(states, producerIDs, pattern)
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
	fs.StringVar(&pattern, "pattern", "", "only transactional IDs this `regex` (RE2 syntax) matches whole, as kafka-transactions.sh list --transactional-id-pattern")
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

func newTransactionAbortCmd(f *clusterFlags) *cobra.Command {
	var (
		a             opsctl.TxnAbort
		partition     int32
		startOffset   int64
		producerID    int64
		producerEpoch int16
	)
	cmd := &cobra.Command{
		Use:   "abort --topic TOPIC --partition N (--start-offset OFFSET | --producer-id ID [--producer-epoch E])",
		Short: "Abort a hanging transaction on a partition (write its abort marker)",
		Long: `Abort a transaction that a partition holds open, like kafka-transactions.sh
abort: write its producer's abort marker on the partition (WriteTxnMarkers,
sent to the partition's leader). It is for a hanging transaction: one the
partition holds open that no transaction coordinator will end. It holds
the partition's last stable offset, so read_committed consumers and
tiering stop at its first record. "chronik topic producers TOPIC" shows
each partition's open transactions: the offset each began at (TXN-START)
and its producer (PRODUCER-ID).

Name the transaction by the offset it began at (--start-offset, its
TXN-START) or by its producer (--producer-id). The command first asks the
partition's leader for its producers (DescribeProducers) and takes the
producer whose open transaction began at that offset, or the one with that
ID, and its epoch; when none matches it fails, listing the start offsets
of the transactions open on the partition. With --producer-epoch (only
with --producer-id) the marker has that epoch and is written even if the
partition shows no open transaction of the producer; a partition appends
nothing then, and a marker older than the open transaction's epoch is
refused before it is sent, since it would not end it.

The aborted records stay in the log, but read_committed consumers skip
them, and the partition's last stable offset moves on to the next open
transaction (or the high watermark). The command prints the producer, the
marker's epoch, the transaction's start offset and the outcome: aborted,
or no open transaction.

Abort hanging transactions only. If the transaction's coordinator still
tracks it ("chronik transaction list --producer-id ID" shows its
transactional ID Ongoing, and "chronik transaction describe ID" lists this
partition), aborting it here makes that producer's later commit fail for
this partition: what it wrote here stays aborted while its other
partitions commit. Such a transaction ends by itself: its coordinator
aborts it after the producer's transaction.timeout.ms.

With ACLs the principal needs READ on the topic (DescribeProducers) and
CLUSTER_ACTION on the cluster (WriteTxnMarkers), as with Kafka; a refusal
says CLUSTER_AUTHORIZATION_FAILED.`,
		Example: `  # find it: the open transaction that began at offset 5120 on partition 0
  chronik topic producers orders --partitions 0
  chronik transaction abort --topic orders --partition 0 --start-offset 5120

  # by producer, with its epoch as the partition's leader reports it
  chronik transaction abort --topic orders --partition 0 --producer-id 1003

  # by producer at a given epoch, written even if no transaction shows open
  chronik transaction abort --topic orders --partition 0 --producer-id 1003 --producer-epoch 2

  # let a principal write markers
  chronik acl create --cluster --operation cluster-action --principal User:ops

  chronik transaction abort --topic orders --partition 0 --start-offset 5120 --format json | jq .outcome`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			a.Partition = flagValue(fs, "partition", &partition)
			a.StartOffset = flagValue(fs, "start-offset", &startOffset)
			a.ProducerID = flagValue(fs, "producer-id", &producerID)
			a.ProducerEpoch = flagValue(fs, "producer-epoch", &producerEpoch)
			if err := a.Validate(); err != nil {
				return err
			}
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.AbortTransaction(ctx, a)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&a.Topic, "topic", "", "`topic` of the partition holding the transaction open (required)")
	fs.Int32Var(&partition, "partition", 0, "`partition` holding the transaction open (required)")
	fs.Int64Var(&startOffset, "start-offset", 0, "abort the transaction that began at this `offset` (TXN-START in chronik topic producers)")
	fs.Int64Var(&producerID, "producer-id", 0, "abort the open transaction of this producer `ID` (PRODUCER-ID in chronik topic producers)")
	fs.Int16Var(&producerEpoch, "producer-epoch", 0, "with --producer-id: write the marker at this `epoch`, even if no transaction of the producer shows open")
	return cmd
}

// flagValue returns v if the flag name was given, else nil.
func flagValue[T any](fs *pflag.FlagSet, name string, v *T) *T {
	if fs.Changed(name) {
		return v
	}
	return nil
}

package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
)

func newClusterCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show cluster health and move partition leadership",
		Long: `Inspect a running cluster: its brokers, every partition's leader and leader
epoch, how far each replica lags its leader, and which partitions are
under-replicated or leaderless; move a partition's leadership by hand.

Partition placement and leaders come from the Kafka API (--brokers); replica
progress comes from each broker's admin API on its HTTP address: --http-addr,
else every [[nodes]] http address of --config, else 127.0.0.1:9644.`,
		Example: `  chronik cluster status --config cluster.toml
  chronik cluster transfer-leader orders 0 --to 2 --config cluster.toml`,
		Args: cobra.ArbitraryArgs,
		RunE: parentRun,
	}
	f.register(cmd)
	f.registerHTTP(cmd)
	resolve := f.resolveAdmin

	status := &cobra.Command{
		Use:   "status",
		Short: "Brokers, partition leaders and epochs, replica lag, under-replicated and leaderless partitions",
		Example: `  chronik cluster status --config cluster.toml
  chronik cluster status --brokers 10.0.0.1:9092 --http-addr 10.0.0.1:9644,10.0.0.2:9644 --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := f.outputFormat()
			if err != nil {
				return err
			}
			addrs, err := resolve()
			if err != nil {
				return err
			}
			cl, err := f.dial(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			r, err := cl.ClusterStatus(cmd.Context(), addrs)
			if err != nil {
				return err
			}
			return printReport(cmd, format, r)
		},
	}

	var to int32
	transfer := &cobra.Command{
		Use:   "transfer-leader TOPIC PARTITION --to NODE",
		Short: "Make a broker the leader of one partition and wait until it is",
		Long: `Ask the partition's Raft group to hand leadership to broker NODE, which must
hold a replica and be caught up, then wait (up to --timeout) until Metadata
shows it leading, printing progress to stderr. The leadership balancer moves
leaders back to each partition's preferred replica every 10 seconds, so a
transfer away from the preferred replica is temporary.`,
		Example: `  chronik cluster transfer-leader orders 0 --to 2 --config cluster.toml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("give the topic and the partition: %s\nrun '%s --help' for usage", cmd.UseLine(), cmd.CommandPath())
			}
			if _, err := strconv.ParseInt(args[1], 10, 32); err != nil {
				return fmt.Errorf("partition %q is not a number", args[1])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := f.outputFormat()
			if err != nil {
				return err
			}
			if to <= 0 {
				return fmt.Errorf("--to NODE is required: the broker ID that should lead")
			}
			p, _ := strconv.ParseInt(args[1], 10, 32)
			addrs, err := resolve()
			if err != nil {
				return err
			}
			cl, err := f.dial(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			r, err := cl.TransferLeader(cmd.Context(), addrs, args[0], int32(p), to, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return printReport(cmd, format, r)
		},
	}
	transfer.Flags().Int32Var(&to, "to", 0, "broker `ID` that should lead the partition")
	cmd.AddCommand(status, transfer, newClusterDescribeCmd(&f), newClusterSetFeatureCmd(&f))
	cmd.AddCommand(newMembershipCmds(&f, resolve)...) // cluster_membership.go
	return cmd
}

package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/opsctl"
)

// newMembershipCmds returns `cluster add-node`, `remove-node`, `reassign`
// and `reassignments`; they use the brokers' admin API only.
func newMembershipCmds(f *clusterFlags, resolve func() (opsctl.Admin, error)) []*cobra.Command {
	withAddrs := func(cmd *cobra.Command, timeout time.Duration, run func(ctx context.Context, addrs opsctl.Admin) (opsctl.Report, error)) error {
		format, err := f.outputFormat()
		if err != nil {
			return err
		}
		addrs, err := resolve()
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
		defer cancel()
		r, err := run(ctx, addrs)
		if err != nil {
			return err
		}
		return printReport(cmd, format, r)
	}

	var rec cluster.BrokerRecord
	add := &cobra.Command{
		Use:   "add-node --id N --kafka HOST:PORT --raft HOST:PORT --http HOST:PORT [--rack R]",
		Short: "Register a new broker so that it can join the running cluster",
		Long: `Register broker N in the cluster's meta shard. Then start it with the same
cluster.toml and its own addresses; it joins the meta and coordinator shards as
a non-voting replica and can host partition replicas: move some onto it with
'chronik cluster reassign'. A decommissioned ID can never be registered again.`,
		Example: `  chronik cluster add-node --id 4 --kafka 10.0.0.4:9092 --raft 10.0.0.4:9095 --http 10.0.0.4:9644 --rack c --config cluster.toml
  chronik serve --config cluster.toml --node-id 4 --kafka-addr 10.0.0.4:9092 --raft-addr 10.0.0.4:9095 --http-addr 10.0.0.4:9644`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAddrs(cmd, f.timeout, func(ctx context.Context, addrs opsctl.Admin) (opsctl.Report, error) {
				return opsctl.RegisterNode(ctx, addrs, rec)
			})
		},
	}
	add.Flags().Int32Var(&rec.ID, "id", 0, "the new broker's `ID`")
	add.Flags().StringVar(&rec.Kafka, "kafka", "", "its advertised Kafka `host:port`")
	add.Flags().StringVar(&rec.Raft, "raft", "", "its Raft `host:port`")
	add.Flags().StringVar(&rec.HTTP, "http", "", "its admin HTTP `host:port`")
	add.Flags().StringVar(&rec.Rack, "rack", "", "its `rack`, for rack-aware placement")

	var wait time.Duration
	remove := &cobra.Command{
		Use:   "remove-node NODE",
		Short: "Decommission a broker: move every replica off it, then deregister it",
		Long: `Move every partition replica of broker NODE onto the other brokers (rack-aware,
least loaded first; each new replica is added as non-voting, catches up, is
promoted, and only then is the old one removed), printing progress, then
deregister NODE: it leaves the meta and coordinator shards and can be stopped.
Refused when fewer brokers would remain than some partition has replicas.`,
		Example: `  chronik cluster remove-node 3 --config cluster.toml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("give the broker ID: %s", cmd.UseLine())
			}
			if _, err := strconv.ParseInt(args[0], 10, 32); err != nil {
				return fmt.Errorf("broker ID %q is not a number", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			id, _ := strconv.ParseInt(args[0], 10, 32)
			return withAddrs(cmd, wait, func(ctx context.Context, addrs opsctl.Admin) (opsctl.Report, error) {
				return opsctl.Decommission(ctx, addrs, int32(id), cmd.ErrOrStderr())
			})
		},
	}
	remove.Flags().DurationVar(&wait, "wait", 30*time.Minute, "how long to wait for the moves")

	var replicas string
	var reassignWait time.Duration
	reassign := &cobra.Command{
		Use:   "reassign TOPIC PARTITION --replicas N,N,N",
		Short: "Move a partition's replicas to the given brokers (preferred leader first)",
		Example: `  chronik cluster reassign orders 0 --replicas 4,1,2 --config cluster.toml
  chronik cluster reassign orders 0 --replicas 4,1,2 --wait 10m`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("give the topic and the partition: %s", cmd.UseLine())
			}
			if _, err := strconv.ParseInt(args[1], 10, 32); err != nil {
				return fmt.Errorf("partition %q is not a number", args[1])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var nodes []int32
			for s := range strings.SplitSeq(replicas, ",") {
				n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
				if err != nil {
					return fmt.Errorf("--replicas %q: give broker IDs such as 4,1,2", replicas)
				}
				nodes = append(nodes, int32(n))
			}
			p, _ := strconv.ParseInt(args[1], 10, 32)
			timeout := max(f.timeout, reassignWait)
			return withAddrs(cmd, timeout, func(ctx context.Context, addrs opsctl.Admin) (opsctl.Report, error) {
				if err := opsctl.Reassign(ctx, addrs, args[0], int32(p), nodes); err != nil {
					return nil, err
				}
				if reassignWait > 0 {
					moving := func(m cluster.Reassignment) bool { return m.Topic == args[0] && m.Partition == int32(p) }
					if err := opsctl.WaitReassignments(ctx, addrs, moving, cmd.ErrOrStderr()); err != nil {
						return nil, err
					}
				}
				return opsctl.ListReassignments(ctx, addrs)
			})
		},
	}
	reassign.Flags().StringVar(&replicas, "replicas", "", "target broker `IDs`, preferred leader first")
	reassign.Flags().DurationVar(&reassignWait, "wait", 0, "wait up to this long for the move to finish (0: return once started)")

	list := &cobra.Command{
		Use:     "reassignments",
		Short:   "Partitions being moved, with each new replica's progress",
		Example: `  chronik cluster reassignments --config cluster.toml`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAddrs(cmd, f.timeout, func(ctx context.Context, addrs opsctl.Admin) (opsctl.Report, error) {
				return opsctl.ListReassignments(ctx, addrs)
			})
		},
	}
	return []*cobra.Command{add, remove, reassign, list}
}

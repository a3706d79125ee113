package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/chronik-go/chronik/core/opsctl"
	"github.com/chronik-go/chronik/core/quota"
)

func newQuotaCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "quota",
		Short: "List, set and delete client quotas (byte and partition mutation rates per user and client ID)",
		Long: `Manage the cluster's client quotas (Kafka's DescribeClientQuotas and
AlterClientQuotas, as kafka-configs.sh --entity-type users|clients uses):
producer_byte_rate and consumer_byte_rate, in bytes per second per broker,
and controller_mutation_rate, in partitions created or deleted per second per
broker (KIP-599), for a user, a client ID or a user's client ID, each possibly
the default (the quota of every one without a quota of its own). A request
gets the most specific quota that applies, in Kafka's order; a client over a
byte rate is throttled, not refused; one over its mutation rate is throttled,
and its topics are refused with THROTTLING_QUOTA_EXCEEDED when its client
knows that error. With kafka.authorizer = "acl" only the principals of
the brokers' kafka.super-users, or principals an ACL allows DESCRIBE_CONFIGS
(list) or ALTER_CONFIGS (set, delete) on the cluster, may manage them. See
docs/cli.md.`,
		Example: `  chronik quota set --user-default --producer-byte-rate 10MiB --consumer-byte-rate 20MiB
  chronik quota set --user alice --client-id etl --consumer-byte-rate 100MiB
  chronik quota set --user-default --controller-mutation-rate 10
  chronik quota list --user alice
  chronik quota delete --user alice --client-id etl`,
		Args: cobra.ArbitraryArgs,
		RunE: parentRun,
	}
	f.register(cmd)
	cmd.AddCommand(newQuotaListCmd(&f), newQuotaSetCmd(&f), newQuotaDeleteCmd(&f))
	return cmd
}

// quotaFlags are the flags that name an entity, shared by list, set and
// delete; build turns them into opsctl's form, a name not given being nil.
type quotaFlags struct {
	fs                           *pflag.FlagSet
	user, clientID               string
	userDefault, clientIDDefault bool
	strict                       bool
}

// register adds the entity flags; list says whether they select quotas
// (and --strict is there) or name the entity to change.
func (q *quotaFlags) register(fs *pflag.FlagSet, list bool) {
	q.fs = fs
	verb := "the quota's"
	if list {
		verb = "the quotas of"
	}
	fs.StringVar(&q.user, "user", "", verb+" user `name` (the SASL user; ANONYMOUS without SASL)")
	fs.BoolVar(&q.userDefault, "user-default", false, verb+" default user: every user without a quota of its own")
	fs.StringVar(&q.clientID, "client-id", "", verb+" client `id`")
	fs.BoolVar(&q.clientIDDefault, "client-id-default", false, verb+" default client ID: every client ID without a quota of its own")
	if list {
		fs.BoolVar(&q.strict, "strict", false, "only entities with no part other than those given (--user alice --strict: not alice's client IDs)")
	}
}

// build returns the flags as opsctl reads them.
func (q *quotaFlags) build() opsctl.QuotaFlags {
	given := func(name string, v *string) *string {
		if q.fs.Changed(name) {
			return v
		}
		return nil
	}
	return opsctl.QuotaFlags{
		User: given("user", &q.user), ClientID: given("client-id", &q.clientID),
		UserDefault: q.userDefault, ClientIDDefault: q.clientIDDefault, Strict: q.strict,
	}
}

func newQuotaListCmd(f *clusterFlags) *cobra.Command {
	var q quotaFlags
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List client quotas, all or those of a user or client ID",
		Long: `List the cluster's client quotas, or those of the entities the flags select:
--user alice lists alice's quotas and those of her client IDs, --strict only
hers; --user-default and --client-id-default select the defaults. <default>
marks a default part, - an absent one.`,
		Example: `  chronik quota list
  chronik quota list --user alice --strict
  chronik quota list --client-id-default --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := q.build().Filter()
			if err != nil {
				return err
			}
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.ListQuotas(ctx, filter)
			})
		},
	}
	q.register(cmd.Flags(), true)
	return cmd
}

func newQuotaSetCmd(f *clusterFlags) *cobra.Command {
	var (
		q                            quotaFlags
		producer, consumer, mutation string
	)
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Set a user's or client ID's byte rates and mutation rate",
		Long: `Set the producer and/or consumer byte rate and/or the controller mutation rate
of one entity: a user (--user or --user-default), a client ID (--client-id or
--client-id-default), or both for a user's client ID. Byte rates are bytes per
second per broker, optionally with KiB, MiB or GiB; the mutation rate is
partitions created or deleted per second per broker, fractions allowed; a
rate not given stays as it is.`,
		Example: `  chronik quota set --user alice --producer-byte-rate 5MiB --consumer-byte-rate 10MiB
  chronik quota set --user-default --client-id-default --producer-byte-rate 1MiB
  chronik quota set --client-id etl --consumer-byte-rate 1073741824
  chronik quota set --user-default --controller-mutation-rate 0.5`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			entity, err := q.build().Entity()
			if err != nil {
				return err
			}
			rates := map[string]float64{}
			for _, r := range []struct {
				flag, key, value string
				parse            func(flag, s string) (float64, error)
			}{
				{"producer-byte-rate", quota.ProducerByteRate, producer, opsctl.ParseRate},
				{"consumer-byte-rate", quota.ConsumerByteRate, consumer, opsctl.ParseRate},
				{"controller-mutation-rate", quota.ControllerMutationRate, mutation, opsctl.ParseMutationRate},
			} {
				if !cmd.Flags().Changed(r.flag) {
					continue
				}
				if rates[r.key], err = r.parse(r.flag, r.value); err != nil {
					return err
				}
			}
			if len(rates) == 0 {
				return errors.New(opsctl.NoRatesToSet)
			}
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.SetQuotas(ctx, entity, rates)
			})
		},
	}
	q.register(cmd.Flags(), false)
	cmd.Flags().StringVar(&producer, "producer-byte-rate", "", "`bytes` per second the entity may produce to each broker (10MiB)")
	cmd.Flags().StringVar(&consumer, "consumer-byte-rate", "", "`bytes` per second the entity may fetch from each broker (10MiB)")
	cmd.Flags().StringVar(&mutation, "controller-mutation-rate", "", "`partitions` per second the entity may create or delete through each broker (0.5, 10)")
	return cmd
}

func newQuotaDeleteCmd(f *clusterFlags) *cobra.Command {
	var (
		q                            quotaFlags
		producer, consumer, mutation bool
	)
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete an entity's quotas",
		Long: `Delete the named quotas of one entity (the flags as for quota set), or all its
quotas when no rate flag (--producer-byte-rate, --consumer-byte-rate,
--controller-mutation-rate) is given.
The entity's clients then get the next quota that applies, if any (a
default's, say). Deleting a quota it does not have is no error.`,
		Example: `  chronik quota delete --user alice
  chronik quota delete --user-default --producer-byte-rate`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			entity, err := q.build().Entity()
			if err != nil {
				return err
			}
			var keys []string
			if producer {
				keys = append(keys, quota.ProducerByteRate)
			}
			if consumer {
				keys = append(keys, quota.ConsumerByteRate)
			}
			if mutation {
				keys = append(keys, quota.ControllerMutationRate)
			}
			return f.report(cmd, func(ctx context.Context, cl *opsctl.Client) (opsctl.Report, error) {
				return cl.DeleteQuotas(ctx, entity, keys)
			})
		},
	}
	q.register(cmd.Flags(), false)
	cmd.Flags().BoolVar(&producer, "producer-byte-rate", false, "delete the producer byte rate")
	cmd.Flags().BoolVar(&consumer, "consumer-byte-rate", false, "delete the consumer byte rate")
	cmd.Flags().BoolVar(&mutation, "controller-mutation-rate", false, "delete the controller mutation rate")
	return cmd
}

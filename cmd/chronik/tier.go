package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/chronik-go/chronik/core/opsctl"
)

func newTierCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "tier",
		Short: "Show tiered storage: what is local, what is in the object store, upload lag",
		Long: `Inspect tiered storage. Closed segments of topics with remote.storage.enable
are uploaded by each partition's leader to the object store of [tier] url;
reads below a partition's local start are served from there.

Everything comes from each broker's admin API (GET /v1/tier) on its HTTP
address: --http-addr, else every [[nodes]] http address of --config (or
CHRONIK_CONFIG), else 127.0.0.1:9644; brokers added at runtime are found
through the registry. See docs/cli.md.`,
		Example: `  chronik tier status --config cluster.toml
  chronik tier status --http-addr 10.0.0.1:9644 --topic orders --format json`,
		Args: cobra.ArbitraryArgs,
		RunE: parentRun,
	}
	f.registerAdmin(cmd, "how long to wait for the brokers' answers")

	var opts opsctl.TierStatusOptions
	status := &cobra.Command{
		Use:   "status",
		Short: "Per partition: local and remote offset ranges, upload lag, last upload and last error",
		Long: `Show the tiered-storage state of every partition, as its leader reports it.
Only topics with remote.storage.enable=true (or with data left in the object
store) are listed unless --all or --topic is given. Unreachable brokers are
listed with their error; the command fails only when no broker answers.

The first table lists the brokers and the object store each one tiers to.
The second has one row per partition:

  LEADER        broker leading the partition, whose row this is; ? when no
                answering broker leads it (the row is then a follower's, and
                its upload state is not current)
  LOG-START     first readable offset (retention.ms/bytes move it)
  LOCAL-START   first offset on the leader's disk; reads of offsets from
                LOG-START up to LOCAL-START are served from the object store
  REMOTE-RANGE  offsets held in the object store, first-last inclusive; - when
                nothing is tiered
  HW            high watermark: the end of the committed log
  SEGMENTS      segments in the object store
  REMOTE        bytes in the object store
  LOCAL         bytes on the leader's disk (local.retention.ms/bytes bound
                those already uploaded)
  LAG           bytes on disk not uploaded yet / how long the oldest of them
                has waited; - when the topic is not tiered
  LAST-UPLOAD   how long ago the leader last uploaded a segment; - when none
                since that broker started
  LAST-ERROR    the latest failed upload, retention or sweep and how long ago
                (it stays after later successes: compare with LAST-UPLOAD)

Ages are measured against this machine's clock.

Enable tiering on a topic with
  chronik topic alter TOPIC --config remote.storage.enable=true
and bound its local disk with local.retention.ms / local.retention.bytes.

Broker settings ([tier] table of the broker config; docs/configuration.md):
  tier.url                object store: file:///…, s3://…, minio://…, gs://…,
                          azblob://…; empty means <data-dir>/tier
  tier.check-interval     how often leaders look for a segment to upload (1s)
  tier.max-pending-bytes  per-partition bytes not yet uploaded at which
                          produce fails with KAFKA_STORAGE_ERROR (4 GiB)
  tier.upload-timeout     bound of one segment upload (5m)
  tier.cache-bytes        bound of the cache of chunks read back (1 GiB),
                          kept in tier.cache-dir
  tier.sweep-interval     how often unreferenced objects are deleted (10m),
                          once older than tier.orphan-grace (1h)`,
		Example: `  chronik tier status --config cluster.toml
  chronik tier status --topic orders,audit
  chronik tier status --all --http-addr 10.0.0.1:9644,10.0.0.2:9644 --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := f.outputFormat()
			if err != nil {
				return err
			}
			addrs, err := f.resolveAdmin()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			r, err := opsctl.TierStatus(ctx, addrs, opts)
			if err != nil {
				return err
			}
			return printReport(cmd, format, r)
		},
	}
	status.Flags().StringSliceVar(&opts.Topics, "topic", nil, "show only these `topics` (repeatable or comma-separated), tiered or not")
	status.Flags().BoolVar(&opts.All, "all", false, "include topics without remote.storage.enable")
	cmd.AddCommand(status)
	return cmd
}

package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/config"
	"github.com/chronik-go/chronik/core/telemetry"
)

// watchStop calls exit when the stop that begins once ctx ends has not
// finished (done closed) within timeout; a timeout of 0 never calls it.
func watchStop(ctx context.Context, done <-chan struct{}, timeout time.Duration, exit func()) {
	<-ctx.Done()
	if timeout <= 0 {
		return
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		exit()
	}
}

func newServeCmd() *cobra.Command {
	var recoverFrom string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a broker node",
		Long: `Run a Chronik broker node until SIGINT or SIGTERM, then shut down cleanly
(within --shutdown-timeout; a second signal ends the process at once).

With no flags this is a complete single-node broker:
  node ID 1, data in ./data, tiered segments under ./data/tier,
  Kafka on :9092 (advertised as 127.0.0.1:9092), Raft on 127.0.0.1:9095,
  HTTP /metrics, /healthz, /readyz and /debug/pprof/ on :9644,
  topics created automatically on first use.

Every flag below is also an environment variable (shown with each flag) and a
key of the TOML file named by --config. Precedence: flag > environment >
config file > default; an empty environment variable counts as unset. Only the
file sets the [kafka] and [raft] tables. See docs/configuration.md.

--recover-from URL makes a node with an empty data dir rebuild itself from
the newest backup in that store when no live cluster answers (a single node
always does); with a data dir that has state it is ignored. See
docs/disaster-recovery.md.`,
		Example: `  chronik serve
  chronik serve --data-dir /var/lib/chronik --log-level debug
  CHRONIK_NODE_ID=2 chronik serve --config cluster.toml
  chronik serve --data-dir /var/lib/chronik --recover-from s3://bucket/chronik?region=eu-west-1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cmd.Flags(), os.Getenv)
			if err != nil {
				return err
			}
			logger, err := telemetry.NewLogger(cfg.LogLevel, os.Stderr)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if recoverFrom != "" {
				if _, err := broker.PrepareRecovery(ctx, cfg, recoverFrom, logger); err != nil {
					return err
				}
			}
			done := make(chan struct{})
			defer close(done) // before stop(): the watch below then ends
			go func() {
				// After the first signal, restore the default handling so
				// that a second one kills a shutdown that hangs, and bound
				// the stop by shutdown-timeout.
				<-ctx.Done()
				stop()
				watchStop(ctx, done, cfg.ShutdownTimeout, func() {
					logger.Error("the stop did not finish within shutdown-timeout; exiting as after a crash (acknowledged records are in the Raft log and replay at the next start)",
						"shutdown-timeout", cfg.ShutdownTimeout)
					os.Exit(1)
				})
			}()
			err = broker.Run(ctx, cfg, logger)
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return nil // stopped by a signal: a clean exit
			}
			return err
		},
	}
	config.BindFlags(cmd.Flags())
	cmd.Flags().StringVar(&recoverFrom, "recover-from", "",
		"cold start: with an empty data dir and no live cluster answering, restore the newest backup in the object store at this `URL` first (docs/disaster-recovery.md)")
	return cmd
}

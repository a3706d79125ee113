// Package broker wires one Chronik node together: the Dragonboat NodeHost,
// the shared state Pebble, the meta and partition shards, the Kafka listener
// and the telemetry endpoint. Start it with Run.
package broker

import (
	"context"
	"errors"
	"log/slog"

	"github.com/chronik-go/chronik/core/config"
)

// Run starts the node described by cfg and serves until ctx is cancelled,
// then shuts down cleanly: in-flight requests are answered, the NodeHost and
// Pebble are closed. It returns an error if the node cannot start.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	_ = ctx
	_ = cfg
	_ = log
	return errors.New("broker: not implemented yet")
}

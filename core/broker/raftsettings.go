package broker

import (
	"log/slog"

	dbconfig "github.com/lni/dragonboat/v4/config"

	"github.com/chronik-go/chronik/core/config"
)

// RaftSettings returns the Dragonboat NodeHost config a broker started with
// cfg uses and the config it gives each shard replica, and routes
// Dragonboat's logs to log as Start does. bench runs Dragonboat alone with
// exactly these settings (its "Raft alone" ceiling; no event listener), so a change to the
// broker's Raft settings moves both sides of that comparison.
func RaftSettings(cfg config.Config, log *slog.Logger) (dbconfig.NodeHostConfig, func(shardID, replicaID uint64) dbconfig.Config) {
	installRaftLogger(log)
	if cfg.Raft.LogDB == "" { // as on a new data dir (claimLogDB)
		cfg.Raft.LogDB = newDataDirLogDB
	}
	b := &Broker{cfg: cfg}
	return nodeHostConfig(cfg, nil, log), b.shardConfig
}

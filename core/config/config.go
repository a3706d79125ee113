// Package config owns the broker's configuration: the TOML file format, the
// CHRONIK_* environment overlay, command-line flags, defaults and Validate().
//
// Precedence is flag > env > file > default (ARCHITECTURE.md §7).
package config

import "time"

// Config is the complete configuration of one broker process.
type Config struct {
	// NodeID identifies this broker in the cluster. It is written into the
	// data directory on first start and checked on every later start.
	NodeID int32 `toml:"node-id"`
	// DataDir holds the Raft log (raft/), the state Pebble (state/) and the
	// node identity file.
	DataDir string `toml:"data-dir"`
	// KafkaAddr is the Kafka listener's bind address.
	KafkaAddr string `toml:"kafka-addr"`
	// AdvertiseAddr is the host:port clients are told to connect to; empty
	// means KafkaAddr (with 0.0.0.0 / :: replaced by 127.0.0.1).
	AdvertiseAddr string `toml:"advertise-addr"`
	// RaftAddr is the Dragonboat transport address; it may not change once a
	// data directory exists.
	RaftAddr string `toml:"raft-addr"`
	// HTTPAddr serves /metrics, /healthz, /readyz, /debug/pprof and the admin API.
	HTTPAddr string `toml:"http-addr"`
	// Tier is the object-store URL for tiered storage (file:///…, s3://…);
	// empty means <data-dir>/tier.
	Tier string `toml:"tier"`
	// LogLevel is one of debug, info, warn, error.
	LogLevel string `toml:"log-level"`

	Kafka KafkaConfig `toml:"kafka"`
	Raft  RaftConfig  `toml:"raft"`
}

// KafkaConfig holds Kafka-protocol behaviour.
type KafkaConfig struct {
	// MaxRequestBytes is the largest request frame accepted; larger frames
	// close the connection without allocating the claimed size.
	MaxRequestBytes int32 `toml:"max-request-bytes"`
	// AutoCreateTopics creates unknown topics on Metadata and Produce.
	AutoCreateTopics bool `toml:"auto-create-topics"`
	// DefaultPartitions is the partition count of auto-created topics and of
	// CreateTopics requests that pass -1.
	DefaultPartitions int32 `toml:"default-partitions"`
	// DefaultReplicationFactor is used when a CreateTopics request passes -1.
	DefaultReplicationFactor int16 `toml:"default-replication-factor"`
	// MaxPartitionsPerTopic bounds CreateTopics; absurd counts get INVALID_PARTITIONS.
	MaxPartitionsPerTopic int32 `toml:"max-partitions-per-topic"`
	// ClusterID is reported in Metadata and DescribeCluster.
	ClusterID string `toml:"cluster-id"`
}

// RaftConfig holds Dragonboat settings. LogDBShards and ExecShards are fixed
// once a data directory exists (Dragonboat stores them as hard settings).
type RaftConfig struct {
	RTT         time.Duration `toml:"rtt"`
	ElectionRTT uint64        `toml:"election-rtt"`
	HeartbeatRTT uint64       `toml:"heartbeat-rtt"`
	// SnapshotEntries triggers a (metadata-only) snapshot every N applied entries.
	SnapshotEntries uint64 `toml:"snapshot-entries"`
	// CompactionOverhead keeps this many entries behind a snapshot so that a
	// lagging follower catches up from the log rather than a snapshot stream.
	CompactionOverhead uint64 `toml:"compaction-overhead"`
	// MaxInMemLogSize bounds unapplied bytes per shard; beyond it produce gets
	// a retriable error (backpressure).
	MaxInMemLogSize uint64 `toml:"max-in-mem-log-size"`
	LogDBShards     uint64 `toml:"logdb-shards"`
	ExecShards      uint64 `toml:"exec-shards"`
}

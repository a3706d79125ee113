// Package config owns the broker's configuration: the TOML file format, the
// CHRONIK_* environment overlay, command-line flags, defaults and Validate().
//
// Precedence is flag > env > file > default (ARCHITECTURE.md §7).
package config

import (
	"math"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

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
	// LogLevel is one of debug, info, warn, error.
	LogLevel string `toml:"log-level"`
	// ShutdownTimeout bounds the stop after SIGINT or SIGTERM: past it the
	// process exits as after a crash (what was acknowledged is in the Raft
	// log). 0 waits for the stop however long it takes.
	ShutdownTimeout time.Duration `toml:"shutdown-timeout"`

	// HTTP secures the HTTP address (TLS, the admin API's token).
	HTTP  HTTPConfig  `toml:"http"`
	Kafka KafkaConfig `toml:"kafka"`
	Raft  RaftConfig  `toml:"raft"`
	Tier  TierConfig  `toml:"tier"`
	// Backup schedules disaster-recovery backups to the tier store.
	Backup BackupConfig `toml:"backup"`
	// Storage guards the data directory's file system.
	Storage StorageConfig `toml:"storage"`
	// Tracing exports spans of the Kafka requests to an OTLP collector.
	Tracing TracingConfig `toml:"tracing"`

	// Nodes lists every broker of a static cluster ([[nodes]] tables). Empty
	// means a single node. With Nodes set, this node's entry (by NodeID)
	// supplies kafka-addr, advertise-addr, raft-addr and http-addr unless
	// a flag or environment variable sets them.
	Nodes []NodeConfig `toml:"nodes"`

	// Joining is set by Load for a node-id not listed in Nodes whose
	// kafka-addr and raft-addr are given explicitly (flags or environment):
	// a broker added at runtime with `chronik cluster add-node`.
	Joining bool `toml:"-"`
}

// HTTPConfig secures the HTTP address (metrics, probes, pprof and the
// admin API). Brokers call each other's admin API, so every broker of a
// cluster needs the same settings.
type HTTPConfig struct {
	// TLSCertFile and TLSKeyFile (PEM, both or neither) make the HTTP
	// address speak TLS only; reloaded when they change.
	TLSCertFile string `toml:"tls-cert-file"`
	TLSKeyFile  string `toml:"tls-key-file"`
	// TLSCAFile (PEM) holds the CAs this broker trusts for the other
	// brokers' HTTP certificates; unset means the system's.
	TLSCAFile string `toml:"tls-ca-file"`
	// TokenFile holds the bearer token every request but /metrics,
	// /healthz and /readyz must carry (core/adminhttp); reloaded when it
	// changes.
	TokenFile string `toml:"token-file"`
}

// TracingConfig exports traces (OpenTelemetry, OTLP over HTTP).
type TracingConfig struct {
	// OTLPEndpoint is the collector's base URL (http://collector:4318);
	// empty turns tracing off.
	OTLPEndpoint string `toml:"otlp-endpoint"`
	// SampleRatio is the share of requests traced, 0 to 1.
	SampleRatio float64 `toml:"sample-ratio"`
}

// NodeConfig is one broker of a static cluster.
type NodeConfig struct {
	ID int32 `toml:"id"`
	// Kafka is the address clients connect to (also this node's listen
	// address unless --kafka-addr says otherwise).
	Kafka string `toml:"kafka"`
	// Raft is the node's Raft transport address.
	Raft string `toml:"raft"`
	// HTTP is the node's metrics/admin address.
	HTTP string `toml:"http"`
	// Rack, when set, spreads replicas across racks.
	Rack string `toml:"rack"`
}

// ReplicationFactor resolves DefaultReplicationFactor: 0 means 3, or the
// number of brokers when there are fewer.
func (c Config) ReplicationFactor() int16 {
	if c.Kafka.DefaultReplicationFactor > 0 {
		return c.Kafka.DefaultReplicationFactor
	}
	return int16(min(3, max(1, len(c.Nodes))))
}

// Node returns the entry of id in Nodes.
func (c Config) Node(id int32) (NodeConfig, bool) {
	for _, n := range c.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return NodeConfig{}, false
}

// KafkaConfig holds Kafka-protocol behaviour.
type KafkaConfig struct {
	// MaxRequestBytes is the largest request frame accepted; larger frames
	// close the connection without allocating the claimed size.
	MaxRequestBytes int32 `toml:"max-request-bytes"`
	// AutoCreateTopics creates unknown topics requested through Metadata
	// (as Kafka does; Produce to an unknown topic gets UNKNOWN_TOPIC_OR_PARTITION).
	AutoCreateTopics bool `toml:"auto-create-topics"`
	// DefaultPartitions is the partition count of auto-created topics and of
	// CreateTopics requests that pass -1.
	DefaultPartitions int32 `toml:"default-partitions"`
	// DefaultReplicationFactor is used when a CreateTopics request passes
	// -1; 0 means automatic: 3, or the number of brokers if fewer.
	DefaultReplicationFactor int16 `toml:"default-replication-factor"`
	// MaxPartitionsPerTopic bounds CreateTopics; absurd counts get INVALID_PARTITIONS.
	MaxPartitionsPerTopic int32 `toml:"max-partitions-per-topic"`
	// ClusterID is reported in Metadata and DescribeCluster.
	ClusterID string `toml:"cluster-id"`
	// OffsetsRetentionMinutes is how long committed offsets outlive an empty
	// consumer group (or, for simple consumers, their commit): Kafka's
	// offsets.retention.minutes.
	OffsetsRetentionMinutes int32 `toml:"offsets-retention-minutes"`
	// GroupInitialRebalanceDelayMs is how long the first rebalance of an
	// empty group waits for more members: group.initial.rebalance.delay.ms.
	GroupInitialRebalanceDelayMs int32 `toml:"group-initial-rebalance-delay-ms"`
	// GroupRebalanceProtocols are the group protocols served: "classic"
	// (JoinGroup/SyncGroup) always, "consumer" (KIP-848,
	// ConsumerGroupHeartbeat) when listed: Kafka's
	// group.coordinator.rebalance.protocols.
	GroupRebalanceProtocols []string `toml:"group-rebalance-protocols"`
	// GroupConsumerSessionTimeout is how long a KIP-848 consumer group's
	// member stays without a heartbeat: group.consumer.session.timeout.ms.
	GroupConsumerSessionTimeout time.Duration `toml:"group-consumer-session-timeout"`
	// GroupConsumerHeartbeatInterval is how often KIP-848 members are told
	// to heartbeat: group.consumer.heartbeat.interval.ms.
	GroupConsumerHeartbeatInterval time.Duration `toml:"group-consumer-heartbeat-interval"`
	// GroupConsumerMigrationPolicy is Kafka's group.consumer.migration.policy:
	// whether a running classic group becomes a KIP-848 consumer group when
	// a member on the consumer protocol joins ("upgrade"), a consumer group
	// whose last member on the consumer protocol leaves becomes a classic
	// group again ("downgrade"), both ("bidirectional") or neither
	// ("disabled").
	GroupConsumerMigrationPolicy string `toml:"group-consumer-migration-policy"`
	// GroupMaxSize and GroupConsumerMaxSize bound the members of a classic
	// and of a KIP-848 consumer group: Kafka's group.max.size and
	// group.consumer.max.size.
	GroupMaxSize         int32 `toml:"group-max-size"`
	GroupConsumerMaxSize int32 `toml:"group-consumer-max-size"`
	// LogRetentionCheckInterval is how often each partition leader applies
	// retention.ms and retention.bytes to a topic without remote storage:
	// Kafka's log.retention.check.interval.ms. (Topics with
	// remote.storage.enable apply retention every tier.check-interval.)
	LogRetentionCheckInterval time.Duration `toml:"log-retention-check-interval"`
	// LogCleanerEnable runs the log cleaner, which compacts the topics whose
	// cleanup.policy includes compact: Kafka's log.cleaner.enable.
	LogCleanerEnable bool `toml:"log-cleaner-enable"`
	// LogCleanerBackoff is how often each partition leader looks for a
	// compacted topic's partition to compact: Kafka's log.cleaner.backoff.ms.
	LogCleanerBackoff time.Duration `toml:"log-cleaner-backoff"`
	// TransactionMaxTimeout is the longest transaction timeout a
	// transactional producer may ask for: transaction.max.timeout.ms.
	TransactionMaxTimeout time.Duration `toml:"transaction-max-timeout"`
	// TransactionalIDExpiration is how long a transactional ID without an
	// open transaction is remembered after its last use:
	// transactional.id.expiration.ms.
	TransactionalIDExpiration time.Duration `toml:"transactional-id-expiration"`
	// TransactionPartitionVerification makes a partition leader ask the
	// transaction coordinator, before a transactional produce opens the
	// producer's transaction in the partition, whether the transaction
	// added it (KIP-890): Kafka's transaction.partition.verification.enable.
	TransactionPartitionVerification bool `toml:"transaction-partition-verification"`
	// TransactionVersion is the transaction.version feature level
	// ApiVersions finalizes for clients (Kafka's kafka-features.sh
	// transaction.version): 2 lets clients use KIP-890 part 2 (an epoch
	// bump with every transaction, partitions and groups added by the
	// produce and offset commit themselves) once every broker runs a
	// release that serves it; 0 or 1 keep them on the earlier protocol.
	TransactionVersion int16 `toml:"transaction-version"`
	// LogCleanerIOMaxBytesPerSecond bounds what compaction reads and writes
	// on a broker, per second (Kafka's log.cleaner.io.max.bytes.per.second);
	// 0 means no bound.
	LogCleanerIOMaxBytesPerSecond int64 `toml:"log-cleaner-io-max-bytes-per-second"`
	// TLSCertFile and TLSKeyFile (PEM) make the Kafka listener speak TLS
	// only; they are read again when they change, so a renewed certificate
	// needs no restart. TLSClientCAFile (PEM) then also requires every
	// client to present a certificate it signed (Kafka's
	// ssl.client.auth=required); the principal is the certificate's subject.
	TLSCertFile     string `toml:"tls-cert-file"`
	TLSKeyFile      string `toml:"tls-key-file"`
	TLSClientCAFile string `toml:"tls-client-ca-file"`
	// SASLMechanisms, when not empty, requires every Kafka connection to
	// authenticate with one of these before anything else: PLAIN,
	// SCRAM-SHA-256 or SCRAM-SHA-512 against the users of SASLUsersFile and
	// those with SCRAM credentials set through AlterUserScramCredentials,
	// OAUTHBEARER with a token (OAuthBearer*), GSSAPI with a Kerberos
	// ticket (SASLKerberos*).
	SASLMechanisms []string `toml:"sasl-mechanisms"`
	SASLUsersFile  string   `toml:"sasl-users-file"`
	// SuperUsers are the principals ("User:alice") allowed to describe and
	// alter users' SCRAM credentials (Kafka's super.users); with Authorizer
	// "acl" they may do everything, whatever the ACLs say.
	SuperUsers []string `toml:"super-users"`
	// Authorizer is AuthorizerACL to check every request against the
	// cluster's access control lists (Kafka's StandardAuthorizer), or ""
	// to let every authenticated principal do everything (the ACL APIs then
	// answer SECURITY_DISABLED).
	Authorizer string `toml:"authorizer"`
	// AllowEveryoneIfNoACLFound, with Authorizer "acl", allows every
	// principal what no ACL governs: an operation on a resource that no
	// binding applies to (Kafka's allow.everyone.if.no.acl.found).
	AllowEveryoneIfNoACLFound bool `toml:"allow-everyone-if-no-acl-found"`
	// OAuthBearerJWKSURL (https://, http:// or file://) holds the keys
	// OAUTHBEARER tokens are signed with (a JWK set, as identity
	// providers publish); OAuthBearerIssuer and OAuthBearerAudience, when
	// set, must match the tokens' iss and aud; OAuthBearerSubClaim names
	// the claim that is the user [sub].
	OAuthBearerJWKSURL  string `toml:"oauthbearer-jwks-url"`
	OAuthBearerIssuer   string `toml:"oauthbearer-issuer"`
	OAuthBearerAudience string `toml:"oauthbearer-audience"`
	OAuthBearerSubClaim string `toml:"oauthbearer-sub-claim"`
	// SASLKerberosKeytab is the keytab with the broker's Kerberos key, of
	// the principal SASLKerberosServiceName/<host>@<REALM> (Kafka's
	// sasl.kerberos.service.name, "kafka" by default) that GSSAPI clients
	// get tickets for; read again when it changes (a new key version needs
	// no restart). A client is in as its principal's first component
	// (alice/admin@REALM is User:alice) when it is of the broker's realm.
	SASLKerberosKeytab      string `toml:"sasl-kerberos-keytab"`
	SASLKerberosServiceName string `toml:"sasl-kerberos-service-name"`
	// SASLKerberosPrincipalToLocalRules map Kerberos principals to users
	// (Kafka's sasl.kerberos.principal.to.local.rules; core/kerberos
	// Rules): the first that applies gives the user; none maps, refused.
	SASLKerberosPrincipalToLocalRules []string `toml:"sasl-kerberos-principal-to-local-rules"`
	// DelegationTokenSecretKey, when set, enables delegation tokens
	// (KIP-48; Kafka's delegation.token.secret.key): the secret their
	// HMACs derive from, the same on every broker. Clients authenticate
	// with a token through SCRAM, so SASLMechanisms must hold a SCRAM
	// mechanism. A token lasts DelegationTokenExpiryTime from its creation
	// or renewal, and never more than DelegationTokenMaxLifetime (Kafka's
	// delegation.token.expiry.time.ms, delegation.token.max.lifetime.ms).
	DelegationTokenSecretKey   string        `toml:"delegation-token-secret-key"`
	DelegationTokenMaxLifetime time.Duration `toml:"delegation-token-max-lifetime"`
	DelegationTokenExpiryTime  time.Duration `toml:"delegation-token-expiry-time"`
	// ConnectionsMaxReauth, when > 0, bounds every SASL authentication
	// (Kafka's connections.max.reauth.ms, KIP-368): the client must
	// authenticate again on its connection within it, or within its
	// OAUTHBEARER token's lifetime if shorter, or the connection is
	// closed at its next request. 0: an authentication lasts as long as
	// its connection.
	ConnectionsMaxReauth time.Duration `toml:"connections-max-reauth"`
	// MaxConnections and MaxConnectionsPerIP bound the Kafka connections
	// served at once, in all and from one address (Kafka's
	// max.connections, max.connections.per.ip); 0: no limit.
	MaxConnections      int `toml:"max-connections"`
	MaxConnectionsPerIP int `toml:"max-connections-per-ip"`
	// ConnectionsMaxIdle closes a Kafka connection idle this long
	// (Kafka's connections.max.idle.ms); 0: never.
	ConnectionsMaxIdle time.Duration `toml:"connections-max-idle"`
}

// RaftConfig holds Dragonboat settings. LogDBShards and ExecShards are fixed
// once a data directory exists (Dragonboat stores them as hard settings).
type RaftConfig struct {
	// RTT is Dragonboat's tick (its RTTMillisecond), in whole milliseconds;
	// ElectionRTT and HeartbeatRTT count in these ticks. It must be well
	// above the real round trip between nodes.
	RTT          time.Duration `toml:"rtt"`
	ElectionRTT  uint64        `toml:"election-rtt"`
	HeartbeatRTT uint64        `toml:"heartbeat-rtt"`
	// SnapshotEntries triggers a (metadata-only) snapshot every N applied entries.
	SnapshotEntries uint64 `toml:"snapshot-entries"`
	// CompactionOverhead keeps this many entries behind a snapshot so that a
	// lagging follower catches up from the log rather than a snapshot stream.
	CompactionOverhead uint64 `toml:"compaction-overhead"`
	// SnapshotBytes also snapshots a partition once it has applied this many
	// bytes of entries since its last such snapshot, compacting its Raft log
	// to CompactionOverheadBytes behind (core/partition LogCompaction); 0
	// leaves the log to the entry counts alone.
	SnapshotBytes           int64 `toml:"snapshot-bytes"`
	CompactionOverheadBytes int64 `toml:"compaction-overhead-bytes"`
	// MaxInMemLogSize bounds unapplied bytes per shard; beyond it produce gets
	// a retriable error (backpressure).
	MaxInMemLogSize uint64 `toml:"max-in-mem-log-size"`
	// LogDBShards and ExecShards are 1 so that every shard on a node shares
	// one fsync stream (ARCHITECTURE.md §2). The sharedlog and tan stores
	// have no LogDB shards, so LogDBShards applies to the pebble LogDB
	// only; ExecShards to all three.
	LogDBShards uint64 `toml:"logdb-shards"`
	// TLSCAFile, TLSCertFile and TLSKeyFile (PEM, all three or none) turn
	// on mutual TLS between the brokers' Raft transports (Dragonboat's
	// MutualTLS): every broker of a cluster needs them, with certificates
	// signed by the same CA.
	TLSCAFile   string `toml:"tls-ca-file"`
	TLSCertFile string `toml:"tls-cert-file"`
	TLSKeyFile  string `toml:"tls-key-file"`
	ExecShards  uint64 `toml:"exec-shards"`
	// LogDB is Dragonboat's Raft log store: "sharedlog" (core/sharedlog:
	// one log for all of the node's replicas, one fdatasync per save
	// round), "tan" (one log file per replica, each fsynced) or "pebble"
	// (an LSM that flushes and compacts the log: about three times the
	// bytes written). Empty (the default) means the one the data dir was
	// created with, and sharedlog for a new data dir. The broker
	// records the choice in the data dir; a different value fails start-up.
	LogDB string `toml:"logdb"`
	// DirectWrites lets the sharedlog store write the whole pages of its
	// large save rounds with O_DIRECT (core/sharedlog direct.go); false
	// writes everything through the page cache.
	DirectWrites bool `toml:"direct-writes"`
	// CoordinatorShards is the number of consumer-group coordinator shards
	// (N in ARCHITECTURE.md §2); a group's shard depends on it, so it is
	// fixed once a data directory exists.
	CoordinatorShards int `toml:"coordinator-shards"`
}

// TierConfig configures tiered storage: where closed segments go and how the
// broker uploads, caches and cleans them. Topics opt in with
// remote.storage.enable.
type TierConfig struct {
	// URL is the object store (file:///…, s3://…, minio://…, gs://…,
	// azblob://…, mem://); empty means the local directory <data-dir>/tier.
	URL string `toml:"url"`
	// CacheDir holds an on-disk cache of remote chunks; empty means
	// <data-dir>/tier-cache.
	CacheDir string `toml:"cache-dir"`
	// CacheBytes bounds that cache.
	CacheBytes int64 `toml:"cache-bytes"`
	// CheckInterval is how often each leader checks for a segment to roll
	// or upload and applies retention.
	CheckInterval time.Duration `toml:"check-interval"`
	// SweepInterval is how often leaders list their partitions' objects and
	// delete the unreferenced ones.
	SweepInterval time.Duration `toml:"sweep-interval"`
	// OrphanGrace spares an unreferenced object younger than this: its
	// upload may still commit.
	OrphanGrace time.Duration `toml:"orphan-grace"`
	// MaxPendingBytes is the local-disk watermark per tiered partition: once
	// this many bytes are not yet tiered (say, the store is unreachable),
	// produce fails with KAFKA_STORAGE_ERROR until uploads catch up. 0 means
	// no limit.
	MaxPendingBytes int64 `toml:"max-pending-bytes"`
	// UploadTimeout bounds one segment PUT.
	UploadTimeout time.Duration `toml:"upload-timeout"`
}

// StorageConfig guards the file system that holds the data directory.
type StorageConfig struct {
	// MinFreeBytes refuses produce (KAFKA_STORAGE_ERROR, retriable) while
	// the data directory's file system has less than this many bytes free,
	// so that a full disk never fails a Raft log or state store write (which
	// would stop the broker). 0 turns the guard off.
	MinFreeBytes int64 `toml:"min-free-bytes"`
	// BatchPageCacheBytes bounds how much of the record batches it wrote
	// last the broker leaves in the page cache; the pages of older ones are
	// dropped once on disk. 0 leaves them all to the kernel.
	BatchPageCacheBytes int64 `toml:"batch-page-cache-bytes"`
}

// BackupConfig schedules disaster-recovery backups (docs/disaster-recovery.md):
// topics, committed offsets and partition manifests exported to
// backups/<id>/ in the tier.url store. Only the meta shard's leader takes
// scheduled backups.
type BackupConfig struct {
	// Interval between scheduled backups; 0 turns the time trigger off.
	Interval time.Duration `toml:"interval"`
	// LogGrowthEntries takes a backup once the meta and coordinator shards
	// applied this many Raft entries (topic changes, offset commits) since
	// the last one; 0 turns the trigger off.
	LogGrowthEntries uint64 `toml:"log-growth-entries"`
	// Keep is how many complete backups are kept; older ones are deleted
	// after each successful backup.
	Keep int `toml:"keep"`
	// Compression of the backup objects: zstd, gzip or none.
	Compression string `toml:"compression"`
}

// ResolvedURL is URL, or when it is empty a file:// URL of the absolute
// directory <dataDir>/tier.
func (t TierConfig) ResolvedURL(dataDir string) string {
	if t.URL != "" {
		return t.URL
	}
	dir := filepath.ToSlash(absPath(filepath.Join(dataDir, "tier")))
	if !strings.HasPrefix(dir, "/") {
		dir = "/" + dir // C:/x: file:///C:/x, not a host named C:
	}
	return (&url.URL{Scheme: "file", Path: dir}).String()
}

// ResolvedCacheDir is CacheDir, or when it is empty <dataDir>/tier-cache.
func (t TierConfig) ResolvedCacheDir(dataDir string) string {
	if t.CacheDir != "" {
		return t.CacheDir
	}
	return filepath.Join(dataDir, "tier-cache")
}

// absPath is filepath.Abs(p), or p itself if the working directory is gone.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// MaxCoordinatorShards bounds raft.coordinator-shards: coordinator shard
// IDs (2 … 1+N) stay below the first partition shard ID (raftsm).
const MaxCoordinatorShards = 1022

// SASLMechanisms are the values kafka.sasl-mechanisms accepts (the kafka
// package implements them; a test there keeps the lists equal).
var SASLMechanisms = []string{"SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN", "OAUTHBEARER", "GSSAPI"}

// AuthorizerACL is the kafka.authorizer that checks requests against ACLs.
const AuthorizerACL = "acl"

// Size units for byte-valued settings.
const (
	KiB = 1 << 10
	MiB = 1 << 20
	GiB = 1 << 30
)

// Default returns the configuration of `chronik serve` with no flags: a
// single node keeping its data in ./data, Kafka on :9092, Raft on
// 127.0.0.1:9095, HTTP on :9644, topics auto-created.
func Default() Config {
	return Config{
		NodeID:    1,
		DataDir:   "./data",
		KafkaAddr: ":9092",
		RaftAddr:  "127.0.0.1:9095",
		HTTPAddr:  ":9644",
		LogLevel:  "info",

		ShutdownTimeout: 2 * time.Minute,
		Kafka: KafkaConfig{
			MaxRequestBytes:          100 * MiB,
			AutoCreateTopics:         true,
			DefaultPartitions:        1,
			DefaultReplicationFactor: 0,
			MaxPartitionsPerTopic:    10000,
			ClusterID:                "chronik",

			OffsetsRetentionMinutes:           7 * 24 * 60,
			GroupInitialRebalanceDelayMs:      3000,
			GroupRebalanceProtocols:           []string{"classic", "consumer"},
			GroupConsumerMigrationPolicy:      "bidirectional",
			GroupMaxSize:                      math.MaxInt32,
			GroupConsumerMaxSize:              math.MaxInt32,
			GroupConsumerSessionTimeout:       45 * time.Second,
			GroupConsumerHeartbeatInterval:    5 * time.Second,
			LogRetentionCheckInterval:         5 * time.Minute,
			LogCleanerEnable:                  true,
			LogCleanerBackoff:                 15 * time.Second,
			TransactionMaxTimeout:             15 * time.Minute,
			TransactionalIDExpiration:         7 * 24 * time.Hour,
			TransactionPartitionVerification:  true,
			TransactionVersion:                2,
			OAuthBearerSubClaim:               "sub",
			SASLKerberosServiceName:           "kafka",
			SASLKerberosPrincipalToLocalRules: []string{"DEFAULT"},
			DelegationTokenMaxLifetime:        7 * 24 * time.Hour,
			DelegationTokenExpiryTime:         24 * time.Hour,
			ConnectionsMaxIdle:                10 * time.Minute,
		},
		Raft: RaftConfig{
			// Every replica is ticked each RTT and every leader heartbeats
			// each HeartbeatRTT ticks, idle or not: with a 10 ms tick and
			// 20 ms heartbeats an idle RF3 replica cost ~1.4 ms of CPU a
			// second (0.43 of a core per broker for 300 partitions), with
			// these half that. The election timeout stays 200 ms, so
			// failover and restarts are as fast (bench/README.md "Idle
			// CPU").
			RTT:                     25 * time.Millisecond,
			ElectionRTT:             8,
			HeartbeatRTT:            2,
			SnapshotEntries:         10000,
			CompactionOverhead:      50000,
			SnapshotBytes:           64 * MiB,
			CompactionOverheadBytes: 512 * MiB,
			MaxInMemLogSize:         256 * MiB,
			LogDBShards:             1,
			ExecShards:              1,
			LogDB:                   "", // the data dir's own; sharedlog for a new one
			DirectWrites:            true,
			CoordinatorShards:       8,
		},
		Tier: TierConfig{
			CacheBytes:      1 * GiB,
			CheckInterval:   time.Second,
			SweepInterval:   10 * time.Minute,
			OrphanGrace:     time.Hour,
			MaxPendingBytes: 4 * GiB,
			UploadTimeout:   5 * time.Minute,
		},
		Storage: StorageConfig{MinFreeBytes: 1 * GiB, BatchPageCacheBytes: 512 * MiB},
		Tracing: TracingConfig{SampleRatio: 0.01},
		Backup: BackupConfig{
			Interval:    time.Hour,
			Keep:        7,
			Compression: "zstd",
		},
	}
}

// AdvertisedKafkaAddr is the host:port clients are told to connect to:
// AdvertiseAddr if set, else KafkaAddr with an empty or wildcard host
// (0.0.0.0, ::) replaced by 127.0.0.1, which is right for a single local
// node and wrong for anything else — clusters set AdvertiseAddr.
func (c Config) AdvertisedKafkaAddr() string {
	addr := c.AdvertiseAddr
	if addr == "" {
		addr = c.KafkaAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr // Validate reports it; nothing better to advertise.
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

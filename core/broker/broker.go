// Package broker wires one Chronik node together: the Dragonboat NodeHost,
// the shared state Pebble, the meta and partition shards, the reconciler,
// the Kafka listener and the telemetry endpoint. Run serves until its
// context ends; Start/Stop do the same in two steps for in-process tests.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lni/dragonboat/v4"
	dbconfig "github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/plugin/tan"
	"github.com/lni/dragonboat/v4/raftio"
	sm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/lni/vfs"
	"go.opentelemetry.io/otel/metric"

	"github.com/chronik-go/chronik/core/adminhttp"
	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/config"
	"github.com/chronik-go/chronik/core/group"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/core/sharedlog"
	"github.com/chronik-go/chronik/core/telemetry"
	"github.com/chronik-go/chronik/core/tier"
	"github.com/chronik-go/chronik/core/txn"
	"github.com/chronik-go/chronik/kafka"
	_ "github.com/chronik-go/chronik/plugins/localstore" // the default tier, <data-dir>/tier; cmd/chronik links the others
	"github.com/chronik-go/chronik/raftsm"
	"github.com/chronik-go/chronik/tiering"
)

// leaderBalanceInterval is how often a cluster broker moves leadership
// back to preferred replicas; evacuateTimeout bounds controlled shutdown
// and finalSnapshotTimeout its snapshots of busy partitions;
// logCompactionInterval is how often the local replicas' applied bytes are
// checked against raft.snapshot-bytes (often enough that, at a few hundred
// MB/s, snapshots come every snapshot-bytes rather than every interval).
const (
	controllerInterval    = 250 * time.Millisecond
	leaderBalanceInterval = 10 * time.Second
	evacuateTimeout       = 10 * time.Second
	finalSnapshotTimeout  = 10 * time.Second
	logCompactionInterval = 250 * time.Millisecond
)

// startTimeout bounds how long a broker waits for its meta shard to elect a
// leader before giving up.
const startTimeout = 60 * time.Second

// Broker is one running node.
type Broker struct {
	cfg      config.Config
	log      *slog.Logger
	provider *telemetry.Provider
	store    *raftsm.Store
	nh       *dragonboat.NodeHost
	meta     *raftsm.Meta
	parts    *partition.Service
	cluster  *cluster.Service
	rec      *cluster.Reconciler
	ctrl     *cluster.Controller
	reporter *cluster.LeaderReporter
	lead     *cluster.Leadership
	groups   *group.Service
	txns     *txn.Service // the transaction coordinator, on the coordinator shards
	tier     *tier.Manager
	dr       recovery // backups and restore (backup.go)
	kafka    *kafka.Server
	http     *telemetry.HTTPServer
	admin    *adminhttp.Client  // calls the other brokers' admin APIs
	tracing  *telemetry.Tracing // nil: tracing off

	stopRec context.CancelFunc
	// reporterDone closes when the leader reporter (stopped with stopRec)
	// has returned: it proposes to the NodeHost closed after it.
	reporterDone chan struct{}
	// compactor snapshots the partitions' Raft logs; compactorDone closes
	// when its loop (stopped with stopRec) has returned.
	compactor     *partition.LogCompactor
	compactorDone chan struct{}
	stopGuard     context.CancelFunc // the free-space guard (diskguard.go)
	// stable watches stuck last stable offsets (txnwatch.go);
	// stopStableWatch stops it.
	stable          *stableWatch
	stopStableWatch context.CancelFunc
	stopSweeper     func() // deleted topics' objects (deletedtopics.go); waits for a sweep in progress
	stopCleaner     func() // the log cleaner (compaction.go); waits for a check in progress
	served          chan error
	stopOnce        sync.Once
	stopErr         error
}

// Run starts the node described by cfg and serves until ctx is cancelled,
// then shuts down cleanly: in-flight requests are answered, the NodeHost and
// Pebble are closed. It returns an error if the node cannot start.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	b, err := Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case err := <-b.served:
		log.Error("kafka listener failed", "err", err)
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return b.Stop(sctx)
}

// Options are seams for in-process tests; the zero value is production.
type Options struct {
	// TransportFactory replaces Dragonboat's TCP transport, e.g. with one
	// that drops, delays or cuts links to inject network faults.
	TransportFactory dbconfig.TransportFactory
}

// Start brings a node up and returns once it serves Kafka requests.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger) (*Broker, error) {
	return StartWithOptions(ctx, cfg, log, Options{})
}

// StartWithOptions is Start with test seams.
func StartWithOptions(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) (_ *Broker, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	clientTLS, err := kafkaTLS(cfg.Kafka, log) // before anything starts: a bad file fails fast
	if err != nil {
		return nil, err
	}
	if err := checkRaftTLS(cfg.Raft); err != nil {
		return nil, err
	}
	httpOpts, admin, err := httpSecurity(cfg.HTTP, log)
	if err != nil {
		return nil, err
	}
	clientSASL, err := kafkaSASL(cfg.Kafka, log)
	if err != nil {
		return nil, err
	}
	if err := claimDataDir(cfg.DataDir, cfg.NodeID); err != nil {
		return nil, err
	}
	if cfg.Raft.LogDB, err = claimLogDB(cfg.DataDir, cfg.Raft.LogDB); err != nil {
		return nil, err
	}
	// Port 0 picks a free port: bind now, so that the port clients are told
	// to connect to (Metadata, the broker record) is the one we got.
	kafkaLn, err := listenIfPortZero(&cfg)
	if err != nil {
		return nil, err
	}
	installRaftLogger(log)
	b := &Broker{cfg: cfg, log: log, admin: admin, served: make(chan error, 1)}
	defer func() {
		if err != nil && kafkaLn != nil && b.kafka == nil {
			kafkaLn.Close()
		}
		if err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = b.Stop(sctx)
		}
	}()

	if b.provider, err = telemetry.NewProvider(); err != nil {
		return nil, err
	}
	if b.tracing, err = telemetry.NewTracing(telemetry.TracingOptions{
		Endpoint: cfg.Tracing.OTLPEndpoint, SampleRatio: cfg.Tracing.SampleRatio, NodeID: cfg.NodeID, Log: log,
	}); err != nil {
		return nil, err
	}
	meter := b.provider.Meter("github.com/chronik-go/chronik")
	metrics, err := telemetry.NewMetrics(meter)
	if err != nil {
		return nil, err
	}
	onSync, err := stateSyncTiming(meter)
	if err != nil {
		return nil, err
	}
	if b.store, err = raftsm.OpenStore(cfg.DataDir, raftsm.StoreOptions{
		BatchPageCacheBytes: cfg.Storage.BatchPageCacheBytes, OnSync: onSync, CompactionBytesPerSec: cfg.Kafka.LogCleanerIOMaxBytesPerSecond,
	}); err != nil {
		return nil, err
	}
	b.reporter = cluster.NewLeaderReporter(cfg.NodeID, func() *cluster.Service { return b.cluster }, log)
	events := &raftEvents{reporter: b.reporter}
	nhc := nodeHostConfig(cfg, events, b.log)
	nhc.Expert.TransportFactory = opts.TransportFactory
	if err := timeLogDB(&nhc, meter); err != nil {
		return nil, err
	}
	if b.nh, err = dragonboat.NewNodeHost(nhc); err != nil {
		return nil, fmt.Errorf("cannot start Raft node host in %s: %w", filepath.Join(cfg.DataDir, "raft"), err)
	}
	b.parts = partition.NewService(b.nh, int(cfg.Kafka.MaxRequestBytes), metrics, log)
	b.parts.SetElectionTimeout(cfg.Raft.RTT * time.Duration(cfg.Raft.ElectionRTT))
	events.parts.Store(b.parts)
	// The meta shard applies (and calls this hook) on Dragonboat's apply
	// goroutine from the moment it starts, before the reconciler exists.
	var rec atomic.Pointer[cluster.Reconciler]
	b.meta = raftsm.NewMeta(b.store, func(*raftsm.MetaView) {
		if r := rec.Load(); r != nil {
			r.Notify()
		}
	})
	if err := b.startMeta(ctx); err != nil {
		return nil, err
	}
	if err := b.startGroups(ctx, meter); err != nil {
		return nil, err
	}
	b.cluster = cluster.NewService(b.nh, b.meta, b.parts, b.settings(), log)
	b.rec = cluster.NewReconciler(b.nh, b.store, b.meta, b.parts, cfg.NodeID, b.raftAddr, b.shardConfig, log)
	b.rec.SetReplacer(b.cluster.ReplaceReplica)
	rec.Store(b.rec)
	b.ctrl = cluster.NewController(b.cluster, b.store, b.admin, log)
	rctx, cancel := context.WithCancel(context.Background())
	b.stopRec = cancel
	b.reporterDone = make(chan struct{})
	go func() {
		defer close(b.reporterDone)
		b.reporter.Run(rctx)
	}()
	go b.rec.Run(rctx)
	if cfg.Kafka.DelegationTokenSecretKey != "" {
		go every(rctx, tokenCheckInterval, func() { b.removeExpiredTokens(rctx) })
	}
	if len(cfg.Nodes) > 0 {
		go b.ctrl.Run(rctx, controllerInterval)
		go b.registerSelf(rctx)
	}
	compactor := b.parts.NewLogCompactor(partition.LogCompaction{
		SnapshotBytes: cfg.Raft.SnapshotBytes, KeepBytes: cfg.Raft.CompactionOverheadBytes,
		SnapshotEntries: cfg.Raft.SnapshotEntries, KeepEntries: cfg.Raft.CompactionOverhead,
	})
	b.compactor, b.compactorDone = compactor, make(chan struct{})
	go func() {
		defer close(b.compactorDone)
		every(rctx, logCompactionInterval, compactor.Check)
	}()
	b.lead = cluster.NewLeadership(b.nh, b.meta, b.parts, cfg.NodeID, b.raftAddr, log)
	if len(cfg.Nodes) > 0 {
		go b.lead.RunBalancer(rctx, leaderBalanceInterval)
	}
	select {
	case <-b.rec.Ready():
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if len(cfg.Nodes) == 0 {
		// A single node elects its own leaders; in a cluster they may wait
		// for brokers that are not up yet, and clients retry meanwhile.
		if err := b.waitPartitionLeaders(ctx); err != nil {
			return nil, err
		}
	}
	if err := b.restoreFromPlan(ctx); err != nil { // before tiering: its sweeper must see restored manifests
		return nil, err
	}
	if err := b.startTier(ctx, meter); err != nil {
		return nil, err
	}
	if err := b.startBackups(meter); err != nil {
		return nil, err
	}
	if err := b.startStableWatch(meter); err != nil {
		return nil, err
	}
	if err := b.startDiskGuard(meter); err != nil {
		return nil, err
	}
	if err := b.diskUsageMeters(meter); err != nil {
		return nil, err
	}
	if err := b.pageCacheMeters(meter); err != nil {
		return nil, err
	}
	if err := b.startDeletedTopicSweeper(meter); err != nil {
		return nil, err
	}
	if err := b.startCleaner(meter); err != nil {
		return nil, err
	}
	if _, err := meter.Int64ObservableGauge("partitions_led", metric.WithDescription("Partition replicas on this broker that lead their Raft group"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(b.parts.LeaderCount())
			return nil
		})); err != nil {
		return nil, err
	}

	credentials := scramStore{b.cluster}
	if clientSASL != nil {
		clientSASL.Stored = credentials.ScramCredential
		if k := cfg.Kafka; k.DelegationTokenSecretKey != "" {
			clientSASL.Tokens = &kafka.Tokens{
				Store: tokenStore{b.cluster}, Secret: []byte(k.DelegationTokenSecretKey),
				MaxLifetime: k.DelegationTokenMaxLifetime, Expiry: k.DelegationTokenExpiryTime,
			}
		}
	}
	var acls kafka.ACLStore // nil: no authorization
	if cfg.Kafka.Authorizer == config.AuthorizerACL {
		acls = aclStore{b.cluster}
		if len(cfg.Kafka.SuperUsers) == 0 && b.cluster.ACLs().Len() == 0 && !cfg.Kafka.AllowEveryoneIfNoACLFound {
			log.Warn("kafka.authorizer is \"acl\" but there are no ACLs and kafka.super-users is empty: every request will be refused, " +
				"and only a principal an ACL allows ALTER on the cluster could create ACLs; add an administrator to kafka.super-users")
		}
	}
	b.kafka = kafka.New(kafka.Config{
		Addr:                     cfg.KafkaAddr,
		MaxRequestBytes:          cfg.Kafka.MaxRequestBytes,
		AutoCreateTopics:         cfg.Kafka.AutoCreateTopics,
		DefaultPartitions:        cfg.Kafka.DefaultPartitions,
		DefaultReplicationFactor: cfg.ReplicationFactor(),
		MaxPartitionsPerTopic:    cfg.Kafka.MaxPartitionsPerTopic,
		Groups:                   b.groups,
		Txns:                     leveledTxns{b.txns, b},
		Listener:                 kafkaLn,
		TLS:                      clientTLS,
		SASL:                     clientSASL,
		Tracer:                   b.tracing.Tracer("github.com/chronik-go/chronik/kafka"),
		Credentials:              credentials,
		SuperUsers:               cfg.Kafka.SuperUsers,
		MaxConnections:           cfg.Kafka.MaxConnections,
		MaxConnectionsPerIP:      cfg.Kafka.MaxConnectionsPerIP,
		ConnectionsMaxIdle:       cfg.Kafka.ConnectionsMaxIdle,
		ACLs:                     acls,
		AllowIfNoACL:             cfg.Kafka.AllowEveryoneIfNoACLFound,
		Quotas:                   quotaStore{b.cluster}, // always on, as in Kafka: with no quotas, nothing is throttled
	}, &backend{b.cluster, b.parts, b.tier}, metrics, log)
	if err := b.kafka.Listen(); err != nil {
		return nil, fmt.Errorf("cannot listen for Kafka clients on %s: %w", cfg.KafkaAddr, err)
	}
	go func() { b.served <- b.kafka.Serve(context.Background()) }()
	if b.http, err = telemetry.StartHTTP(cfg.HTTPAddr, b.provider, b.ready, log, httpOpts); err != nil {
		return nil, fmt.Errorf("cannot serve HTTP on %s: %w", cfg.HTTPAddr, err)
	}
	b.registerAdminAPI(b.http.Mux())
	log.Info("chronik broker serving",
		"node", cfg.NodeID, "kafka", b.kafka.Addr().String(), "advertised", cfg.AdvertisedKafkaAddr(),
		"http", b.http.Addr(), "raft", cfg.RaftAddr, "data", cfg.DataDir, "topics", len(b.meta.View().Topics))
	return b, nil
}

// KafkaAddr is the bound Kafka listener address.
func (b *Broker) KafkaAddr() string { return b.kafka.Addr().String() }

// HTTPAddr is the bound HTTP address.
func (b *Broker) HTTPAddr() string { return b.http.Addr() }

// ready reports whether the node can serve: the meta shard and every local
// partition replica have a leader.
func (b *Broker) ready() error {
	if _, _, ok, err := b.nh.GetLeaderID(raftsm.MetaShardID); err != nil || !ok {
		return errors.New("meta shard has no leader")
	}
	if n := b.parts.Leaderless(); n > 0 {
		return fmt.Errorf("%d partition replicas have no leader yet", n)
	}
	return nil
}

// waitPartitionLeaders holds startup until every local partition replica
// has a leader, so clients never see LEADER_NOT_AVAILABLE from a node that
// just said it was serving. It logs progress while it waits.
func (b *Broker) waitPartitionLeaders(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	last := time.Now()
	for {
		n := b.parts.Leaderless()
		if n == 0 {
			return nil
		}
		if time.Since(last) > 5*time.Second {
			b.log.Info("waiting for partition leaders", "leaderless", n)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d partition replicas elected no leader within %s: %w", n, startTimeout, ctx.Err())
		case <-tick.C:
		}
	}
}

// Stop shuts the node down: Kafka first (in-flight requests are answered),
// then the reconciler, the NodeHost and Pebble.
func (b *Broker) Stop(ctx context.Context) error {
	b.stopOnce.Do(func() { b.stopErr = b.stop(ctx) })
	return b.stopErr
}

func (b *Broker) stop(ctx context.Context) error {
	if b.lead != nil && len(b.cfg.Nodes) > 0 {
		// Controlled shutdown: hand leadership over while still serving,
		// so clients reroute instead of waiting out an election.
		ectx, cancel := context.WithTimeout(ctx, evacuateTimeout)
		if n := b.lead.Evacuate(ectx); n > 0 {
			b.log.Warn("stopping while still leading some shards; they will elect new leaders", "shards", n)
		} else {
			b.log.Info("moved leadership to other brokers before stopping")
		}
		cancel()
	}
	var errs []error
	if b.kafka != nil {
		errs = append(errs, b.kafka.Close(ctx))
	}
	if b.http != nil {
		errs = append(errs, b.http.Close(ctx))
	}
	if b.txns != nil {
		b.txns.Close()
	}
	if b.groups != nil {
		b.groups.Close()
	}
	b.stopBackups()
	if b.stopGuard != nil {
		b.stopGuard()
	}
	if b.stopStableWatch != nil {
		b.stopStableWatch()
	}
	if b.stopSweeper != nil {
		b.stopSweeper()
	}
	if b.stopCleaner != nil {
		b.stopCleaner()
	}
	if b.tier != nil {
		errs = append(errs, b.tier.Close())
	}
	if b.stopRec != nil {
		b.stopRec()
		<-b.reporterDone
		b.rec.Wait()
		if len(b.cfg.Nodes) > 0 {
			b.ctrl.Wait() // it uses the store closed below
		}
	}
	if b.compactor != nil {
		// A snapshot of every busy partition, so the next start does not
		// read their logs since the last one again.
		<-b.compactorDone
		fctx, cancel := context.WithTimeout(ctx, finalSnapshotTimeout)
		start := time.Now()
		b.compactor.Final(fctx)
		cancel()
		b.log.Debug("final snapshots taken", "took", time.Since(start))
	}
	if b.nh != nil {
		b.nh.Close()
	}
	if b.store != nil {
		errs = append(errs, b.store.Close())
	}
	if b.provider != nil {
		errs = append(errs, b.provider.Shutdown(ctx))
	}
	if b.tracing != nil {
		// The last spans go out now; an unreachable collector delays the
		// stop by at most tracingFlushTimeout and does not fail it.
		tctx, cancel := context.WithTimeout(ctx, tracingFlushTimeout)
		if err := b.tracing.Shutdown(tctx); err != nil {
			b.log.Warn("the last spans were not exported", "err", err)
		}
		cancel()
	}
	err := errors.Join(errs...)
	if err == nil {
		b.log.Info("broker stopped", "node", b.cfg.NodeID)
	}
	return err
}

// tracingFlushTimeout bounds the export of the last spans at a stop.
const tracingFlushTimeout = 5 * time.Second

// listenIfPortZero binds the Kafka listener when cfg.KafkaAddr asks for
// any free port (port 0) and replaces the address with the one bound; it
// returns nil otherwise (the Kafka server binds later).
func listenIfPortZero(cfg *config.Config) (net.Listener, error) {
	if _, port, err := net.SplitHostPort(cfg.KafkaAddr); err != nil || port != "0" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.KafkaAddr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen for Kafka clients on %s: %w", cfg.KafkaAddr, err)
	}
	cfg.KafkaAddr = ln.Addr().String()
	return ln, nil
}

// startTier opens the object store and starts tiered storage. Topics tier
// only with remote.storage.enable, so a store that is never used costs
// nothing but the open.
func (b *Broker) startTier(ctx context.Context, meter metric.Meter) error {
	cfg := b.cfg
	url := cfg.Tier.ResolvedURL(cfg.DataDir)
	store, err := tiering.Default.OpenURL(ctx, url, tiering.WithMeter(meter), tiering.WithLogger(b.log))
	if err != nil {
		return fmt.Errorf("cannot open the tiered-storage store %s (tier.url): %w", tiering.Redact(url), err)
	}
	b.dr.store = store
	meters, err := tier.NewMeters(meter)
	if err != nil {
		return err
	}
	b.tier, err = tier.New(tier.Config{
		CacheDir:        cfg.Tier.ResolvedCacheDir(cfg.DataDir),
		CacheBytes:      cfg.Tier.CacheBytes,
		TempDir:         filepath.Join(cfg.DataDir, "tier-tmp"),
		CheckInterval:   cfg.Tier.CheckInterval,
		SweepInterval:   cfg.Tier.SweepInterval,
		OrphanGrace:     cfg.Tier.OrphanGrace,
		UploadTimeout:   cfg.Tier.UploadTimeout,
		MaxPendingBytes: cfg.Tier.MaxPendingBytes,

		RetentionInterval: cfg.Kafka.LogRetentionCheckInterval,
		Tracer:            b.tracing.Tracer("github.com/chronik-go/chronik/core/tier"),
	}, store, b.parts, b.cluster, meters, b.log)
	if err != nil {
		return err
	}
	b.tier.Start()
	b.log.Info("tiered storage ready", "store", store.String())
	return nil
}

func nodeHostConfig(cfg config.Config, events raftio.IRaftEventListener, log *slog.Logger) dbconfig.NodeHostConfig {
	logdb := dbconfig.GetSmallMemLogDBConfig()
	logdb.Shards = cfg.Raft.LogDBShards
	engine := dbconfig.GetDefaultEngineConfig()
	engine.ExecShards = cfg.Raft.ExecShards
	nhc := dbconfig.NodeHostConfig{
		NodeHostDir:       filepath.Join(cfg.DataDir, "raft"),
		RTTMillisecond:    uint64(cfg.Raft.RTT / time.Millisecond),
		RaftAddress:       cfg.RaftAddr,
		DeploymentID:      1,
		RaftEventListener: events,
		Expert:            dbconfig.ExpertConfig{LogDB: logdb, Engine: engine},
	}
	if r := cfg.Raft; r.TLSCAFile != "" {
		nhc.MutualTLS, nhc.CAFile, nhc.CertFile, nhc.KeyFile = true, r.TLSCAFile, r.TLSCertFile, r.TLSKeyFile
	}
	switch cfg.Raft.LogDB { // else Dragonboat's default, Pebble
	case sharedlog.Name:
		opts := sharedlog.Options{Logger: log}
		if !cfg.Raft.DirectWrites {
			opts.DirectBytes = -1
		}
		nhc.Expert.LogDBFactory = sharedlog.Factory{Options: opts}
	case "tan":
		nhc.Expert.LogDBFactory = tan.Factory
		nhc.Expert.FS = tanFS{vfs.Default}
		// Tan allocates 16 staging buffers of this size up front, where
		// Pebble sizes its memtables with it. Only the first is used with
		// exec-shards 1; a larger update allocates its own.
		nhc.Expert.LogDB.KVWriteBufferSize = tanWriteBuffer
	}
	return nhc
}

func (b *Broker) shardConfig(shardID, replicaID uint64) dbconfig.Config {
	r := b.cfg.Raft
	snapshotEntries := r.SnapshotEntries
	if shardID >= raftsm.FirstPartitionShardID {
		// The log compactor snapshots partitions by entries as well as by
		// bytes, flushing the state store before it asks (Dragonboat's own
		// snapshot flushes it while the partition can apply nothing).
		snapshotEntries = 0
	}
	return dbconfig.Config{
		ShardID:             shardID,
		ReplicaID:           replicaID,
		ElectionRTT:         r.ElectionRTT,
		HeartbeatRTT:        r.HeartbeatRTT,
		CheckQuorum:         true,
		PreVote:             true, // a node that lost contact must not depose a healthy leader when it returns
		SnapshotEntries:     snapshotEntries,
		CompactionOverhead:  r.CompactionOverhead,
		OrderedConfigChange: true,
		MaxInMemLogSize:     r.MaxInMemLogSize,
	}
}

// maxMetaVoters bounds the meta shard's voting replicas; further brokers
// would join as non-voting replicas.
const maxMetaVoters = 5

// metaVoters returns the node IDs that vote in the meta shard: the first
// maxMetaVoters configured nodes by ID, or this node alone.
func (b *Broker) metaVoters() []int32 {
	if len(b.cfg.Nodes) == 0 {
		return []int32{b.cfg.NodeID}
	}
	ids := make([]int32, 0, len(b.cfg.Nodes))
	for _, n := range b.cfg.Nodes {
		ids = append(ids, n.ID)
	}
	slices.Sort(ids)
	return ids[:min(len(ids), maxMetaVoters)]
}

// raftAddr is the Raft address of a broker: from the registry in the
// meta shard (brokers added at runtime), else the static config.
func (b *Broker) raftAddr(node int32) string {
	if r, ok := b.meta.View().Brokers[node]; ok && r.Raft != "" {
		return r.Raft
	}
	if n, ok := b.cfg.Node(node); ok {
		return n.Raft
	}
	return b.cfg.RaftAddr
}

// startMeta starts this node's meta replica (replica ID = node ID) and
// waits for the shard to have a leader: a single node gives up after
// startTimeout, a cluster member waits for its peers as long as it takes,
// saying so every few seconds. A broker that is not among the static meta
// voters joins as a non-voting replica, which the meta leader adds once the
// broker is registered (chronik cluster add-node).
func (b *Broker) startMeta(ctx context.Context) error {
	voters := b.metaVoters()
	if err := b.checkWiped(ctx); err != nil {
		return err
	}
	joining, err := b.startSystemReplica(raftsm.MetaShardID, func(uint64, uint64) sm.IOnDiskStateMachine { return b.meta })
	if err != nil {
		return fmt.Errorf("cannot start meta shard: %w", err)
	}
	if len(b.cfg.Nodes) == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	last := start
	for {
		if _, _, ok, err := b.nh.GetLeaderID(raftsm.MetaShardID); err == nil && ok {
			return nil
		}
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			if joining {
				b.log.Info("waiting to be added to the cluster: register this broker with chronik cluster add-node on any member",
					"node", b.cfg.NodeID, "kafka", b.cfg.AdvertisedKafkaAddr(), "raft", b.cfg.RaftAddr, "http", b.cfg.HTTPAddr,
					"waited", time.Since(start).Round(time.Second).String())
			} else {
				b.log.Info("waiting for the meta shard to elect a leader: a majority of its voters must be up",
					"voters", voters, "waited", time.Since(start).Round(time.Second).String())
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("meta shard elected no leader (voters %v): %w", voters, ctx.Err())
		case <-tick.C:
		}
	}
}

// startSystemReplica starts this node's replica (ID = node ID) of the meta
// shard or a coordinator shard: a restart when Raft state exists (in the
// role last recorded), a new member of the initial group when this node is
// a static meta voter, else a joining non-voting replica; it reports
// whether it joins.
func (b *Broker) startSystemReplica(shardID uint64, create sm.CreateOnDiskStateMachineFunc) (joining bool, err error) {
	gen := b.store.Generation()
	id := raftsm.SystemReplicaID(b.cfg.NodeID, gen)
	voters := b.metaVoters()
	cfg := b.shardConfig(shardID, id)
	var members map[uint64]dragonboat.Target
	switch {
	case b.nh.HasNodeInfo(shardID, id):
		cfg.IsNonVoting = b.store.NonVoting(shardID)
	case gen == 0 && slices.Contains(voters, b.cfg.NodeID):
		members = map[uint64]dragonboat.Target{}
		for _, v := range voters {
			members[uint64(v)] = b.raftAddr(v)
		}
	case len(b.cfg.Nodes) == 0:
		return false, fmt.Errorf("node %d is not a meta voter", b.cfg.NodeID)
	default:
		joining = true
		cfg.IsNonVoting = true
		if err := b.store.SetNonVoting(shardID, true); err != nil {
			return false, err
		}
	}
	return joining, b.nh.StartOnDiskReplica(members, joining, create, cfg)
}

// checkWiped runs before a cluster broker without meta state starts its
// system replicas: if a peer's registry already knows this broker, the
// cluster ran with it before and its data dir was wiped. Its old replica
// IDs may never come back empty (Raft would lose acknowledged state;
// Dragonboat panics), so it asks for a new generation: it rejoins the meta
// and coordinator shards as non-voting replicas under new IDs, which the
// meta leader adds (and promotes) after deleting the old ones, and its
// partition replicas are replaced by the reconciler. With no peer
// answering (a new cluster starting) it bootstraps as before.
func (b *Broker) checkWiped(ctx context.Context) error {
	gen := b.store.Generation()
	if len(b.cfg.Nodes) == 0 || b.nh.HasNodeInfo(raftsm.MetaShardID, raftsm.SystemReplicaID(b.cfg.NodeID, gen)) {
		return nil
	}
	known := false
	var lastErr error
	deadline := time.Now().Add(startTimeout)
	for {
		for _, n := range b.cfg.Nodes {
			if n.ID == b.cfg.NodeID || n.HTTP == "" {
				continue
			}
			rec, ok, err := peerRecord(ctx, b.admin, n.HTTP, b.cfg.NodeID)
			if errors.Is(err, errPeerUnauthorized) {
				// The peer is up: starting as if the cluster never had
				// this broker could bootstrap a second one.
				return fmt.Errorf("asking broker %d (%s) whether the cluster knows this broker: %w", n.ID, n.HTTP, err)
			}
			if err != nil {
				continue
			}
			if !ok && !known {
				return nil // the cluster never had this broker: a first start
			}
			known = true
			if rec.Removed {
				return fmt.Errorf("broker %d was decommissioned; its ID can never rejoin the cluster: start this node with a new --node-id registered with chronik cluster add-node", b.cfg.NodeID)
			}
			newGen, err := peerRejoin(ctx, b.admin, n.HTTP, b.cfg.NodeID)
			if err != nil {
				lastErr = fmt.Errorf("through %s: %w", n.HTTP, err)
				continue
			}
			b.log.Warn("data dir is empty but the cluster knows this broker: rejoining the meta and coordinator shards under new replica IDs",
				"node", b.cfg.NodeID, "generation", newGen, "meta_replica", raftsm.SystemReplicaID(b.cfg.NodeID, newGen))
			return b.store.SetGeneration(newGen)
		}
		if !known {
			return nil // no peer answers: a new cluster starting together
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("this broker's data dir is empty but the cluster knows broker %d, and it could not rejoin under a new replica ID: %w", b.cfg.NodeID, lastErr)
		}
		b.log.Info("data dir is empty but the cluster knows this broker: retrying to rejoin under a new replica ID", "err", lastErr)
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// registerSelf records this broker's addresses in the meta shard's
// registry (idempotent; a broker added with add-node is registered
// already and keeps the addresses given there).
func (b *Broker) registerSelf(ctx context.Context) {
	r := cluster.BrokerRecord{ID: b.cfg.NodeID, Kafka: b.cfg.AdvertisedKafkaAddr(), Raft: b.cfg.RaftAddr, HTTP: b.cfg.HTTPAddr, Level: raftsm.CommandLevel}
	if n, ok := b.cfg.Node(b.cfg.NodeID); ok {
		r = cluster.BrokerRecord{ID: n.ID, Kafka: n.Kafka, Raft: n.Raft, HTTP: n.HTTP, Rack: n.Rack, Level: raftsm.CommandLevel}
	} else {
		// A broker added at run time was registered (with its rack) by
		// `chronik cluster add-node`. Its replica of the meta shard may
		// still be catching up, so look only after a ReadIndex barrier:
		// registering from a stale view would overwrite that record.
		if err := b.barrier(ctx, raftsm.MetaShardID); err != nil {
			return
		}
		if old, ok := b.meta.View().Brokers[b.cfg.NodeID]; ok {
			// Keep the addresses add-node gave; record this release's level.
			r = old
			r.Level = raftsm.CommandLevel
		}
	}
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if old, ok := b.meta.View().Brokers[b.cfg.NodeID]; ok {
			r.Generation = old.Generation
			if old.Removed || old == r {
				return
			}
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := b.cluster.RegisterBroker(rctx, r)
		cancel()
		if err == nil {
			return
		}
		if attempt%10 == 9 {
			b.log.Warn("cannot register this broker in the meta shard; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (b *Broker) settings() cluster.Settings {
	c := b.cfg
	entry := func(name, value string) cluster.ConfigEntry {
		return cluster.ConfigEntry{Name: name, Value: value, ReadOnly: true}
	}
	var brokers []cluster.Broker
	for _, n := range c.Nodes {
		host, port, _ := net.SplitHostPort(n.Kafka)
		p, _ := strconv.Atoi(port)
		brokers = append(brokers, cluster.Broker{ID: n.ID, Host: host, Port: int32(p), Rack: n.Rack})
	}
	slices.SortFunc(brokers, func(a, b cluster.Broker) int { return int(a.ID - b.ID) })
	var static []cluster.BrokerRecord
	for _, n := range c.Nodes {
		static = append(static, cluster.BrokerRecord{ID: n.ID, Kafka: n.Kafka, Raft: n.Raft, HTTP: n.HTTP, Rack: n.Rack})
	}
	self, _ := c.Node(c.NodeID)
	return cluster.Settings{
		Brokers:                  brokers,
		Static:                   static,
		CoordinatorShards:        c.Raft.CoordinatorShards,
		Rack:                     self.Rack,
		ClusterID:                c.Kafka.ClusterID,
		NodeID:                   c.NodeID,
		AdvertisedAddr:           c.AdvertisedKafkaAddr(),
		DefaultPartitions:        c.Kafka.DefaultPartitions,
		DefaultReplicationFactor: c.ReplicationFactor(),
		MaxPartitionsPerTopic:    c.Kafka.MaxPartitionsPerTopic,
		BrokerConfigs: []cluster.ConfigEntry{
			entry("auto.create.topics.enable", strconv.FormatBool(c.Kafka.AutoCreateTopics)),
			entry("broker.id", strconv.Itoa(int(c.NodeID))),
			entry("default.replication.factor", strconv.Itoa(int(c.ReplicationFactor()))),
			entry("log.dirs", c.DataDir),
			entry("message.max.bytes", strconv.Itoa(int(c.Kafka.MaxRequestBytes))),
			entry("num.partitions", strconv.Itoa(int(c.Kafka.DefaultPartitions))),
			entry("socket.request.max.bytes", strconv.Itoa(int(c.Kafka.MaxRequestBytes))),
		},
	}
}

// every calls fn every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

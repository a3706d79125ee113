package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LogLevels are the accepted values of log-level.
var LogLevels = []string{"debug", "info", "warn", "error"}

// Validate reports every invalid setting at once, one line each, naming
// the key, the value and what to do about it.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: "+format, args...))
	}
	// where tells the user the three places a top-level key can be set.
	where := func(key string) string {
		return fmt.Sprintf("set --%s, %s or %s in the config file", key, EnvName(key), key)
	}

	if c.NodeID < 1 {
		bad("node-id is %d; it must be >= 1 and unique in the cluster (%s)", c.NodeID, where("node-id"))
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("data-dir is empty; give the directory for this node's data (%s)", where("data-dir"))
	}
	if err := checkAddr(c.KafkaAddr, false); err != nil {
		bad("kafka-addr %q: %v (%s, e.g. :9092)", c.KafkaAddr, err, where("kafka-addr"))
	}
	if c.AdvertiseAddr != "" {
		if err := checkAddr(c.AdvertiseAddr, true); err != nil {
			bad("advertise-addr %q: %v; clients must be able to dial it (%s, e.g. broker1.example.com:9092)",
				c.AdvertiseAddr, err, where("advertise-addr"))
		}
	}
	if err := checkAddr(c.RaftAddr, true); err != nil {
		bad("raft-addr %q: %v; it is this node's identity for its peers (%s, e.g. 127.0.0.1:9095)",
			c.RaftAddr, err, where("raft-addr"))
	}
	if err := checkAddr(c.HTTPAddr, false); err != nil {
		bad("http-addr %q: %v (%s, e.g. :9644)", c.HTTPAddr, err, where("http-addr"))
	}
	if len(c.Nodes) > 0 {
		ids, rafts := map[int32]bool{}, map[string]bool{}
		for i, n := range c.Nodes {
			if n.ID < 1 || ids[n.ID] {
				bad("nodes[%d]: id %d must be >= 1 and unique", i, n.ID)
			}
			ids[n.ID] = true
			if err := checkAddr(n.Kafka, true); err != nil {
				bad("nodes[%d] (id %d): kafka %q: %v; clients dial it", i, n.ID, n.Kafka, err)
			}
			if err := checkAddr(n.Raft, true); err != nil || rafts[n.Raft] {
				bad("nodes[%d] (id %d): raft %q must be a dialable host:port, unique per node", i, n.ID, n.Raft)
			}
			rafts[n.Raft] = true
			if n.HTTP != "" {
				if err := checkAddr(n.HTTP, true); err != nil {
					bad("nodes[%d] (id %d): http %q: %v", i, n.ID, n.HTTP, err)
				}
			}
		}
		if !ids[c.NodeID] && !c.Joining {
			bad("node-id %d is not listed in [[nodes]]; start with --node-id set to one of the listed ids (%s), or, for a broker added at runtime with `chronik cluster add-node`, give its own --kafka-addr and --raft-addr (and --http-addr)", c.NodeID, where("node-id"))
		}
		if c.Joining {
			for _, n := range c.Nodes {
				if n.Raft == c.RaftAddr {
					bad("raft-addr %q is the raft address of nodes entry %d; a broker added at runtime needs its own", c.RaftAddr, n.ID)
				}
			}
		}
	}
	if !isLogLevel(c.LogLevel) {
		bad("log-level %q is not one of %s (%s)", c.LogLevel, strings.Join(LogLevels, ", "), where("log-level"))
	}
	if c.ShutdownTimeout < 0 {
		bad("shutdown-timeout is %s; it must be >= 0 (0: wait for the stop however long) (%s)", c.ShutdownTimeout, where("shutdown-timeout"))
	}

	k := c.Kafka
	if k.MaxRequestBytes < KiB || k.MaxRequestBytes > GiB {
		bad("kafka.max-request-bytes is %d; it must be between %d (1 KiB) and %d (1 GiB)", k.MaxRequestBytes, KiB, GiB)
	}
	if k.MaxPartitionsPerTopic < 1 {
		bad("kafka.max-partitions-per-topic is %d; it must be >= 1", k.MaxPartitionsPerTopic)
	}
	if k.DefaultPartitions < 1 {
		bad("kafka.default-partitions is %d; it must be >= 1", k.DefaultPartitions)
	} else if k.MaxPartitionsPerTopic >= 1 && k.DefaultPartitions > k.MaxPartitionsPerTopic {
		bad("kafka.default-partitions (%d) exceeds kafka.max-partitions-per-topic (%d); lower the first or raise the second",
			k.DefaultPartitions, k.MaxPartitionsPerTopic)
	}
	if k.DefaultReplicationFactor < 0 {
		bad("kafka.default-replication-factor is %d; it must be >= 1, or 0 for automatic (3, or the number of brokers if fewer)", k.DefaultReplicationFactor)
	}
	if strings.TrimSpace(k.ClusterID) == "" {
		bad("kafka.cluster-id is empty; clients use it to tell clusters apart, set any stable name such as \"chronik\"")
	}

	r := c.Raft
	if r.RTT < time.Millisecond || r.RTT%time.Millisecond != 0 {
		bad("raft.rtt is %v; it must be a whole number of milliseconds >= 1ms, such as \"10ms\"", r.RTT)
	}
	if r.HeartbeatRTT < 1 {
		bad("raft.heartbeat-rtt is %d; it must be >= 1 (ticks of raft.rtt)", r.HeartbeatRTT)
	}
	if r.ElectionRTT <= 2*r.HeartbeatRTT {
		bad("raft.election-rtt (%d) must be greater than 2 × raft.heartbeat-rtt (%d); 4 to 10 × is recommended, e.g. election-rtt = %d",
			r.ElectionRTT, r.HeartbeatRTT, 4*max(r.HeartbeatRTT, 1))
	}
	if r.MaxInMemLogSize != 0 && r.MaxInMemLogSize < uint64(k.MaxRequestBytes) && k.MaxRequestBytes > 0 {
		bad("raft.max-in-mem-log-size (%d) is smaller than kafka.max-request-bytes (%d), so the largest produce request could never be proposed; raise it, or set 0 for no limit",
			r.MaxInMemLogSize, k.MaxRequestBytes)
	}
	if r.LogDBShards < 1 {
		bad("raft.logdb-shards is %d; it must be >= 1 (1 shares one fsync stream among all shards)", r.LogDBShards)
	}
	if r.LogDB != "" && r.LogDB != "pebble" && r.LogDB != "tan" && r.LogDB != "sharedlog" {
		bad("raft.logdb %q: use sharedlog, tan or pebble, or leave it unset (fixed once the data directory exists)", r.LogDB)
	}
	if tr := c.Tracing; tr.SampleRatio < 0 || tr.SampleRatio > 1 {
		bad("tracing.sample-ratio is %v; it must be between 0 and 1 (0.01 traces one request in a hundred)", tr.SampleRatio)
	}
	if e := c.Tracing.OTLPEndpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("tracing.otlp-endpoint %q: want the collector's OTLP/HTTP URL, such as http://otel-collector:4318", e)
		}
	}
	if h := c.HTTP; (h.TLSCertFile == "") != (h.TLSKeyFile == "") {
		bad("http.tls-cert-file and http.tls-key-file go together: set both for an HTTPS admin address, or neither")
	}
	if c.HTTP.TLSCAFile != "" && c.HTTP.TLSCertFile == "" {
		bad("http.tls-ca-file needs http.tls-cert-file and http.tls-key-file: the brokers call each other over https only when they serve it")
	}
	if (k.TLSCertFile == "") != (k.TLSKeyFile == "") {
		bad("kafka.tls-cert-file and kafka.tls-key-file go together: set both for a TLS listener, or neither")
	}
	if k.TLSClientCAFile != "" && k.TLSCertFile == "" {
		bad("kafka.tls-client-ca-file needs kafka.tls-cert-file and kafka.tls-key-file: client certificates are checked on a TLS listener only")
	}
	for _, m := range k.SASLMechanisms {
		if !slices.Contains(SASLMechanisms, m) {
			bad("kafka.sasl-mechanisms: %q is not one of %s", m, strings.Join(SASLMechanisms, ", "))
		}
	}
	for _, u := range k.SuperUsers {
		if name, ok := strings.CutPrefix(u, "User:"); !ok || name == "" {
			bad("kafka.super-users: %q is not a principal; write it as User:<name>, e.g. \"User:admin\"", u)
		}
	}
	if k.MaxConnections < 0 || k.MaxConnectionsPerIP < 0 {
		bad("kafka.max-connections (%d) and kafka.max-connections-per-ip (%d) are limits: 0 for none, or a positive number", k.MaxConnections, k.MaxConnectionsPerIP)
	}
	if k.ConnectionsMaxIdle < 0 {
		bad("kafka.connections-max-idle is %s; use 0 (never close idle connections) or a positive duration such as \"10m\"", k.ConnectionsMaxIdle)
	}
	if k.ConnectionsMaxReauth < 0 {
		bad("kafka.connections-max-reauth is %s; use 0 (sessions last as long as their connections) or a positive duration such as \"1h\"", k.ConnectionsMaxReauth)
	}
	if k.Authorizer != "" && k.Authorizer != AuthorizerACL {
		bad("kafka.authorizer %q: use %q to authorize requests with ACLs, or leave it unset (\"\") to let every authenticated principal do everything", k.Authorizer, AuthorizerACL)
	}
	passwords := slices.ContainsFunc(k.SASLMechanisms, func(m string) bool { return m != "OAUTHBEARER" && m != "GSSAPI" })
	// Without a users file, the password mechanisms know only the SCRAM
	// credentials and delegation tokens that users of another mechanism
	// set: there must be one.
	others := slices.ContainsFunc(k.SASLMechanisms, func(m string) bool { return m == "OAUTHBEARER" || m == "GSSAPI" })
	if k.SASLUsersFile != "" && !passwords || passwords && k.SASLUsersFile == "" && !others {
		bad("kafka.sasl-users-file goes with the password mechanisms of kafka.sasl-mechanisms (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512): the users they authenticate as; set both or neither (without it, OAUTHBEARER or GSSAPI beside them must let in the users who set SCRAM credentials and delegation tokens)")
	}
	scram := slices.ContainsFunc(k.SASLMechanisms, func(m string) bool { return strings.HasPrefix(m, "SCRAM-") })
	if k.DelegationTokenSecretKey != "" && !scram {
		bad("kafka.delegation-token-secret-key enables delegation tokens, which clients present through SCRAM: add SCRAM-SHA-512 or SCRAM-SHA-256 to kafka.sasl-mechanisms")
	}
	if s := k.DelegationTokenSecretKey; s != "" && len(s) < 16 {
		bad("kafka.delegation-token-secret-key is %d characters: use a random secret of at least 16 (32 or more is better), the same on every broker", len(s))
	}
	if k.DelegationTokenMaxLifetime <= 0 || k.DelegationTokenExpiryTime <= 0 {
		bad("kafka.delegation-token-max-lifetime (%s) and kafka.delegation-token-expiry-time (%s) must be positive durations, such as \"168h\" and \"24h\"", k.DelegationTokenMaxLifetime, k.DelegationTokenExpiryTime)
	}
	if slices.Contains(k.SASLMechanisms, "OAUTHBEARER") != (k.OAuthBearerJWKSURL != "") {
		bad("kafka.oauthbearer-jwks-url goes with OAUTHBEARER in kafka.sasl-mechanisms: the keys its tokens are signed with; set both or neither")
	}
	if slices.Contains(k.SASLMechanisms, "GSSAPI") != (k.SASLKerberosKeytab != "") {
		bad("kafka.sasl-kerberos-keytab goes with GSSAPI in kafka.sasl-mechanisms: the broker's Kerberos key; set both or neither")
	}
	if k.SASLKerberosServiceName == "" || strings.ContainsAny(k.SASLKerberosServiceName, "/@") {
		bad("kafka.sasl-kerberos-service-name %q: the first component of the broker's Kerberos principal, such as \"kafka\" (the default)", k.SASLKerberosServiceName)
	}
	if u := k.OAuthBearerJWKSURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && p.Scheme != "http" && p.Scheme != "file") || (p.Scheme != "file" && p.Host == "") || (p.Scheme == "file" && p.Path == "") {
			bad("kafka.oauthbearer-jwks-url %q: want the identity provider's JWK set URL (https://…) or a file:///path", u)
		}
	}
	if n := countSet(r.TLSCAFile, r.TLSCertFile, r.TLSKeyFile); n != 0 && n != 3 {
		bad("raft.tls-ca-file, raft.tls-cert-file and raft.tls-key-file go together: set all three for mutual TLS between brokers, or none")
	}
	if r.SnapshotBytes < 0 {
		bad("raft.snapshot-bytes is %d; it must be >= 0 (0 snapshots by raft.snapshot-entries alone)", r.SnapshotBytes)
	}
	if r.CompactionOverheadBytes < 0 {
		bad("raft.compaction-overhead-bytes is %d; it must be >= 0", r.CompactionOverheadBytes)
	}
	if r.ExecShards < 1 {
		bad("raft.exec-shards is %d; it must be >= 1", r.ExecShards)
	}
	if r.CoordinatorShards < 1 || r.CoordinatorShards > MaxCoordinatorShards {
		bad("raft.coordinator-shards is %d; it must be between 1 and %d (8 suits most clusters; it cannot change once the data directory exists)",
			r.CoordinatorShards, MaxCoordinatorShards)
	}
	c.Tier.validate(bad)
	c.Backup.validate(bad)

	if k.OffsetsRetentionMinutes < 1 {
		bad("kafka.offsets-retention-minutes is %d; it must be >= 1 (Kafka's default is 10080, 7 days)", k.OffsetsRetentionMinutes)
	}
	if k.GroupInitialRebalanceDelayMs < 0 {
		bad("kafka.group-initial-rebalance-delay-ms is %d; it must be >= 0 (0 rebalances as soon as the first member joins)", k.GroupInitialRebalanceDelayMs)
	}
	classic := false
	for _, p := range k.GroupRebalanceProtocols {
		switch p {
		case "classic":
			classic = true
		case "consumer":
		default:
			bad("kafka.group-rebalance-protocols lists %q; it may list \"classic\" and \"consumer\" (KIP-848)", p)
		}
	}
	if !classic {
		bad("kafka.group-rebalance-protocols is %q; it must list \"classic\" (and \"consumer\" to serve KIP-848 consumer groups)", k.GroupRebalanceProtocols)
	}
	if k.GroupMaxSize < 1 {
		bad("kafka.group-max-size is %d; it must be >= 1 (Kafka's group.max.size; 2147483647, the default, is no bound)", k.GroupMaxSize)
	}
	if k.GroupConsumerMaxSize < 1 {
		bad("kafka.group-consumer-max-size is %d; it must be >= 1 (Kafka's group.consumer.max.size; 2147483647, the default, is no bound)", k.GroupConsumerMaxSize)
	}
	switch k.GroupConsumerMigrationPolicy {
	case "bidirectional", "upgrade", "downgrade", "disabled":
	default:
		bad("kafka.group-consumer-migration-policy is %q; it must be \"bidirectional\", \"upgrade\", \"downgrade\" or \"disabled\" (Kafka's group.consumer.migration.policy)", k.GroupConsumerMigrationPolicy)
	}
	if k.GroupConsumerSessionTimeout < time.Second || k.GroupConsumerSessionTimeout > time.Hour {
		bad("kafka.group-consumer-session-timeout is %v; it must be between 1s and 1h, such as \"45s\" (Kafka's group.consumer.session.timeout.ms)", k.GroupConsumerSessionTimeout)
	}
	if k.GroupConsumerHeartbeatInterval < 100*time.Millisecond || k.GroupConsumerHeartbeatInterval >= k.GroupConsumerSessionTimeout {
		bad("kafka.group-consumer-heartbeat-interval is %v; it must be at least 100ms and below kafka.group-consumer-session-timeout (%v), such as \"5s\" (Kafka's group.consumer.heartbeat.interval.ms)",
			k.GroupConsumerHeartbeatInterval, k.GroupConsumerSessionTimeout)
	}
	if c.Storage.MinFreeBytes < 0 {
		bad("storage.min-free-bytes is %d; it must be >= 0 (0 turns the free-space guard off), e.g. 1073741824 for 1 GiB", c.Storage.MinFreeBytes)
	}
	if b := c.Storage.BatchPageCacheBytes; b != 0 && b < MiB {
		bad("storage.batch-page-cache-bytes is %d; it must be 0 (leave the pages to the kernel) or at least 1048576 (1 MiB), e.g. 268435456 for 256 MiB", b)
	}
	if k.LogRetentionCheckInterval < 10*time.Millisecond || k.LogRetentionCheckInterval > 24*time.Hour {
		bad("kafka.log-retention-check-interval is %v; it must be between 10ms and 24h, such as \"5m\" (Kafka's log.retention.check.interval.ms)", k.LogRetentionCheckInterval)
	}
	if k.LogCleanerIOMaxBytesPerSecond < 0 || k.LogCleanerIOMaxBytesPerSecond > 0 && k.LogCleanerIOMaxBytesPerSecond < MiB {
		bad("kafka.log-cleaner-io-max-bytes-per-second is %d; it must be 0 (no bound) or at least 1048576 (1 MiB/s), e.g. 52428800 for 50 MiB/s", k.LogCleanerIOMaxBytesPerSecond)
	}
	if k.TransactionMaxTimeout < time.Second || k.TransactionMaxTimeout > 7*24*time.Hour {
		bad("kafka.transaction-max-timeout is %v; it must be between 1s and 168h, such as \"15m\" (Kafka's transaction.max.timeout.ms)", k.TransactionMaxTimeout)
	}
	if k.TransactionalIDExpiration < time.Second {
		bad("kafka.transactional-id-expiration is %v; it must be at least 1s, such as \"168h\" (Kafka's transactional.id.expiration.ms)", k.TransactionalIDExpiration)
	}
	if k.TransactionVersion < 0 || k.TransactionVersion > 2 {
		bad("kafka.transaction-version is %d; it must be 0, 1 or 2 (Kafka's transaction.version feature: 2 turns on KIP-890 part 2)", k.TransactionVersion)
	}
	if k.LogCleanerBackoff < 10*time.Millisecond || k.LogCleanerBackoff > 24*time.Hour {
		bad("kafka.log-cleaner-backoff is %v; it must be between 10ms and 24h, such as \"15s\" (Kafka's log.cleaner.backoff.ms)", k.LogCleanerBackoff)
	}

	return errors.Join(errs...)
}

// validate reports the problems of the [tier] section through bad.
func (t TierConfig) validate(bad func(format string, args ...any)) {
	if t.URL != "" {
		if u, err := url.Parse(t.URL); err != nil || u.Scheme == "" {
			bad("tier.url %q is not an object-store URL; use e.g. file:///var/lib/chronik/tier or s3://bucket/prefix, or leave it empty for <data-dir>/tier (set --tier, %s or url in the [tier] section of the config file)",
				t.URL, EnvName("tier"))
		}
	}
	if t.CacheBytes < MiB {
		bad("tier.cache-bytes is %d; it must be >= %d (1 MiB), e.g. 1073741824 for 1 GiB", t.CacheBytes, MiB)
	}
	if t.CheckInterval < 10*time.Millisecond || t.CheckInterval > time.Hour {
		bad("tier.check-interval is %v; it must be between 10ms and 1h, such as \"1s\"", t.CheckInterval)
	}
	if t.SweepInterval < time.Second {
		bad("tier.sweep-interval is %v; it must be >= 1s, such as \"10m\" (each sweep lists every object of the leader's partitions)", t.SweepInterval)
	}
	if t.OrphanGrace < time.Second {
		bad("tier.orphan-grace is %v; it must be >= 1s, such as \"1h\"", t.OrphanGrace)
	}
	if t.MaxPendingBytes != 0 && t.MaxPendingBytes < MiB {
		bad("tier.max-pending-bytes is %d; it must be 0 (no limit) or >= %d (1 MiB)", t.MaxPendingBytes, MiB)
	}
	if t.UploadTimeout < time.Second {
		bad("tier.upload-timeout is %v; it must be >= 1s, such as \"5m\"", t.UploadTimeout)
	} else if t.OrphanGrace >= time.Second && t.OrphanGrace <= t.UploadTimeout {
		bad("tier.orphan-grace (%v) must be longer than tier.upload-timeout (%v), or a sweep may delete an upload that is about to commit; raise the first or lower the second",
			t.OrphanGrace, t.UploadTimeout)
	}
}

// checkAddr checks that addr is host:port with a numeric port. dialable
// additionally requires a concrete host (not empty, 0.0.0.0 or ::) and a
// non-zero port, because others connect to it.
func checkAddr(addr string, dialable bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("not host:port")
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if dialable {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			return errors.New("needs a concrete host (not empty, 0.0.0.0 or [::])")
		}
		if p == 0 {
			return errors.New("needs a fixed port, not 0")
		}
	}
	return nil
}

func isLogLevel(s string) bool {
	for _, l := range LogLevels {
		if strings.EqualFold(s, l) {
			return true
		}
	}
	return false
}

// validate reports the problems of the [backup] section through bad.
func (b BackupConfig) validate(bad func(format string, args ...any)) {
	if b.Interval != 0 && b.Interval < time.Minute {
		bad("backup.interval is %v; it must be 0 (no scheduled backups) or >= 1m, such as \"1h\"", b.Interval)
	}
	if b.Keep < 1 {
		bad("backup.keep is %d; it must be >= 1 (how many complete backups to keep)", b.Keep)
	}
	switch b.Compression {
	case "zstd", "gzip", "none":
	default:
		bad("backup.compression %q: use zstd, gzip or none", b.Compression)
	}
}

// countSet counts the non-empty strings.
func countSet(vals ...string) int {
	n := 0
	for _, v := range vals {
		if v != "" {
			n++
		}
	}
	return n
}

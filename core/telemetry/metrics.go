// Package telemetry sets up OpenTelemetry metrics (exported in Prometheus
// format), the slog logger, and the broker's HTTP endpoint (/metrics,
// /healthz, /readyz, /debug/pprof). Instruments are created once here and
// passed to the packages that record them; nothing is global.
package telemetry

import (
	"go.opentelemetry.io/otel/metric"
)

// Metrics holds every instrument the broker records on hot paths. Metric
// names are low-cardinality and prefixed chronik_ by the exporter namespace.
type Metrics struct {
	// Requests counts Kafka requests by api (name) and error (kerr name or "none").
	Requests metric.Int64Counter
	// RequestDuration is the request latency in seconds by api.
	RequestDuration metric.Float64Histogram
	// BytesIn and BytesOut count Kafka frame bytes read and written.
	BytesIn  metric.Int64Counter
	BytesOut metric.Int64Counter
	// Proposals counts Raft proposals by shard kind (meta, partition) and outcome.
	Proposals metric.Int64Counter
	// SizeSnapshots counts the Raft log snapshots the log compactor requested
	// (raft.snapshot-bytes, and raft.snapshot-entries for partitions) by
	// outcome (compacted, snapshot_only, rejected, failed).
	SizeSnapshots metric.Int64Counter
	// ConnectionsRefused counts Kafka connections closed on accept for
	// kafka.max-connections or kafka.max-connections-per-ip.
	ConnectionsRefused metric.Int64Counter
	// Throttle is the time Kafka connections were throttled for by quota
	// (producer_byte_rate, consumer_byte_rate, controller_mutation_rate), in
	// seconds.
	Throttle metric.Float64Counter
	// TxnVerifications counts the transactional appends a partition leader
	// checked with the transaction's coordinator (KIP-890), by outcome
	// (verified, added, refused, unavailable).
	TxnVerifications metric.Int64Counter
	// LeaderConfirm is how long a partition replica that became leader
	// took to apply everything committed before its term, in seconds:
	// reads wait for it (core/partition/readiness.go).
	LeaderConfirm metric.Float64Histogram
	// LeaseConfirmations counts the ReadIndex requests partition leaders
	// issued to start or renew their read leases, by outcome (confirmed,
	// failed: dropped or timed out, retried while the replica leads).
	LeaseConfirmations metric.Int64Counter
}

// NewMetrics creates the instruments on m.
func NewMetrics(m metric.Meter) (*Metrics, error) {
	var (
		x   Metrics
		err error
	)
	if x.Requests, err = m.Int64Counter("kafka_requests", metric.WithDescription("Kafka requests by API and error code")); err != nil {
		return nil, err
	}
	if x.RequestDuration, err = m.Float64Histogram("kafka_request_duration", metric.WithUnit("s"),
		metric.WithDescription("Kafka request latency from frame read to response queued"),
		metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)); err != nil {
		return nil, err
	}
	if x.BytesIn, err = m.Int64Counter("kafka_bytes_in", metric.WithUnit("By"), metric.WithDescription("Kafka request bytes read")); err != nil {
		return nil, err
	}
	if x.BytesOut, err = m.Int64Counter("kafka_bytes_out", metric.WithUnit("By"), metric.WithDescription("Kafka response bytes written")); err != nil {
		return nil, err
	}
	if x.Proposals, err = m.Int64Counter("raft_proposals", metric.WithDescription("Raft proposals by shard kind and outcome")); err != nil {
		return nil, err
	}
	if x.SizeSnapshots, err = m.Int64Counter("raft_log_size_snapshots", metric.WithDescription(
		"Snapshots a partition replica requested after raft.snapshot-bytes or raft.snapshot-entries of Raft log, by outcome: compacted (the log was cut to raft.compaction-overhead-bytes behind), rejected (a snapshot at that index existed), failed")); err != nil {
		return nil, err
	}
	if x.ConnectionsRefused, err = m.Int64Counter("kafka_connections_refused", metric.WithDescription(
		"Kafka connections closed as soon as accepted because kafka.max-connections or kafka.max-connections-per-ip was reached")); err != nil {
		return nil, err
	}
	if x.Throttle, err = m.Float64Counter("kafka_throttle", metric.WithUnit("s"), metric.WithDescription(
		"Time Kafka connections were throttled for by client quota (producer_byte_rate: produce request bytes, consumer_byte_rate: fetch response bytes, controller_mutation_rate: partitions created or deleted), by quota")); err != nil {
		return nil, err
	}
	if x.TxnVerifications, err = m.Int64Counter("transaction_verifications", metric.WithDescription(
		"Transactional produces a partition leader checked with the transaction coordinator before opening the transaction in the partition (KIP-890), by outcome: verified, added (Produce v12+, KIP-890 part 2: the coordinator added the partition to the transaction; one per partition), refused (the transaction does not include the partition, or the producer is fenced), unavailable (the coordinator could not be asked; the producer retries)")); err != nil {
		return nil, err
	}
	if x.LeaderConfirm, err = m.Float64Histogram("partition_leader_confirm", metric.WithUnit("s"), metric.WithDescription(
		"Time from a partition replica becoming leader to its having applied everything its predecessors committed (one ReadIndex in its term); Fetch, ListOffsets and OffsetForLeaderEpoch at a new leader wait for it, at most an election timeout"),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)); err != nil {
		return nil, err
	}
	if x.LeaseConfirmations, err = m.Int64Counter("partition_read_lease_confirmations", metric.WithDescription(
		"ReadIndex requests partition leaders issued to start or renew the read lease they answer Fetch, ListOffsets and OffsetForLeaderEpoch under (commits renew it for free, so mostly for partitions read but not written), by outcome: confirmed, failed (dropped or timed out: retried while the replica leads; a cut-off leader's fail until it steps down)")); err != nil {
		return nil, err
	}
	return &x, nil
}

package tier

import (
	"context"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// PartitionStatus is one local replica's tiered-storage state, as
// `chronik tier status` and GET /v1/tier report it. Offsets are Kafka
// offsets; ranges are half-open.
type PartitionStatus struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Leader    bool   `json:"leader"`
	Remote    bool   `json:"remote_storage_enable"`
	// LogStart..HighWatermark is the readable log; LocalStart..HighWatermark
	// is on local disk; RemoteStart..TieredEnd is in the object store.
	LogStart      int64 `json:"log_start_offset"`
	LocalStart    int64 `json:"local_start_offset"`
	RemoteStart   int64 `json:"remote_start_offset"` // -1 when nothing is tiered
	TieredEnd     int64 `json:"tiered_end_offset"`
	HighWatermark int64 `json:"high_watermark"`
	Segments      int   `json:"remote_segments"`
	RemoteBytes   int64 `json:"remote_bytes"`
	LocalBytes    int64 `json:"local_bytes"`
	// UploadLagBytes is local data not yet tiered; UploadLagSeconds how
	// long the oldest of it has waited (0 when none is waiting).
	UploadLagBytes   int64   `json:"upload_lag_bytes"`
	UploadLagSeconds float64 `json:"upload_lag_seconds"`
	// HeldAt is the first offset of the partition's earliest open
	// transaction, which tiering does not pass (upload.go, buildSegment);
	// nil when none is open or the topic is not tiered.
	HeldAt      *int64    `json:"held_by_transaction_at,omitempty"`
	LastUpload  time.Time `json:"last_upload,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// Status reports every local replica, sorted by topic and partition.
func (m *Manager) Status() []PartitionStatus {
	remote := *m.remote.Load()
	now := time.Now()
	var out []PartitionStatus
	for _, r := range m.parts.LocalReplicas() {
		lg := r.Log
		segs := lg.Segments()
		_, isRemote := remote[r.Topic]
		ps := PartitionStatus{
			Topic: r.Topic, Partition: r.Partition, Leader: r.IsLeader, Remote: isRemote,
			LogStart: lg.LogStartOffset(), LocalStart: lg.LocalStartOffset(), RemoteStart: -1, TieredEnd: lg.TieredEnd(),
			HighWatermark: lg.HighWatermark(), LocalBytes: lg.SizeBytes(), UploadLagBytes: lg.UntieredBytes(),
		}
		for _, s := range segs {
			if s.EndOffset <= ps.LogStart {
				continue
			}
			if ps.RemoteStart < 0 {
				ps.RemoteStart = max(s.BaseOffset, ps.LogStart)
			}
			ps.Segments++
			ps.RemoteBytes += s.DataBytes
		}
		if !isRemote {
			ps.UploadLagBytes = 0
		} else if lso := lg.LastStableOffset(); lso < ps.HighWatermark {
			ps.HeldAt = &lso
		}
		if st := m.peek(r.TP); st != nil {
			stat := st.stat.Load()
			ps.LastUpload, ps.LastError, ps.LastErrorAt = stat.lastUpload, stat.lastError, stat.lastErrorAt
			if ps.UploadLagBytes > 0 {
				since := stat.lastUpload
				if p := st.pendingSince.Load(); p != nil && (since.IsZero() || p.Before(since)) {
					since = *p
				}
				if !since.IsZero() {
					ps.UploadLagSeconds = now.Sub(since).Seconds()
				}
			}
		}
		out = append(out, ps)
	}
	slices.SortFunc(out, func(a, b PartitionStatus) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return out
}

// Meters are the tiered-storage instruments, created once per process.
type Meters struct {
	uploads   metric.Int64Counter
	upBytes   metric.Int64Counter
	upSeconds metric.Float64Histogram
	errs      metric.Int64Counter
	reads     metric.Int64Counter
	readBytes metric.Int64Counter
	corrupt   metric.Int64Counter
	orphans   metric.Int64Counter
	retention metric.Int64Counter
	meter     metric.Meter
}

// NewMeters creates the instruments on meter.
func NewMeters(meter metric.Meter) (*Meters, error) {
	m := &Meters{meter: meter}
	var err error
	mk := func(name, desc, unit string) metric.Int64Counter {
		if err != nil {
			return nil
		}
		var c metric.Int64Counter
		c, err = meter.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		return c
	}
	m.uploads = mk("tier_segments_uploaded", "Segments uploaded and committed to the manifest.", "{segment}")
	m.upBytes = mk("tier_uploaded_bytes", "Bytes of segment objects uploaded and committed.", "By")
	m.errs = mk("tier_errors", "Failed tiered-storage operations, by operation (upload, retention, sweep).", "{error}")
	m.reads = mk("tier_remote_reads", "Fetches served from tiered storage.", "{read}")
	m.readBytes = mk("tier_remote_read_bytes", "Bytes served to consumers from tiered storage.", "By")
	m.corrupt = mk("tier_corrupt_chunks", "Remote chunks or indexes that failed checksum verification (never served).", "{chunk}")
	m.orphans = mk("tier_orphans_deleted", "Unreferenced segment objects the sweeper deleted.", "{object}")
	m.retention = mk("retention_deleted_records", "Records retention.ms/retention.bytes deleted from led partitions without remote storage.", "{record}")
	if err != nil {
		return nil, err
	}
	m.upSeconds, err = meter.Float64Histogram("tier_upload_duration_seconds",
		metric.WithDescription("Time to build, upload and commit one segment."), metric.WithUnit("s"))
	return m, err
}

// metrics are the Meters bound to one manager (its gauges read Status).
type metrics struct {
	*Meters
}

func (ms *Meters) bind(m *Manager) *metrics {
	if ms == nil {
		return &metrics{}
	}
	tp := func(p PartitionStatus) metric.ObserveOption {
		return metric.WithAttributes(attribute.String("topic", p.Topic), attribute.Int("partition", int(p.Partition)))
	}
	lagB, err1 := ms.meter.Int64ObservableGauge("tier_upload_lag_bytes", metric.WithDescription("Local bytes of led tiered partitions not yet uploaded."), metric.WithUnit("By"))
	lagS, err2 := ms.meter.Float64ObservableGauge("tier_upload_lag_seconds", metric.WithDescription("How long the oldest not-yet-uploaded data of a led tiered partition has waited."), metric.WithUnit("s"))
	remote, err3 := ms.meter.Int64ObservableGauge("tier_remote_bytes", metric.WithDescription("Bytes of a led partition held in tiered storage."), metric.WithUnit("By"))
	local, err4 := ms.meter.Int64ObservableGauge("tier_local_bytes", metric.WithDescription("Bytes of a led tiered partition held on local disk."), metric.WithUnit("By"))
	if err1 == nil && err2 == nil && err3 == nil && err4 == nil {
		_, _ = ms.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
			for _, p := range m.Status() {
				if !p.Leader || !p.Remote {
					continue
				}
				o.ObserveInt64(lagB, p.UploadLagBytes, tp(p))
				o.ObserveFloat64(lagS, p.UploadLagSeconds, tp(p))
				o.ObserveInt64(remote, p.RemoteBytes, tp(p))
				o.ObserveInt64(local, p.LocalBytes, tp(p))
			}
			return nil
		}, lagB, lagS, remote, local)
	}
	return &metrics{ms}
}

func (m *metrics) uploaded(ctx context.Context, size int64, d time.Duration) {
	if m.Meters == nil {
		return
	}
	m.uploads.Add(ctx, 1)
	m.upBytes.Add(ctx, size)
	m.upSeconds.Record(ctx, d.Seconds())
}

func (m *metrics) errors(op string) {
	if m.Meters != nil {
		m.errs.Add(context.Background(), 1, metric.WithAttributes(attribute.String("op", op)))
	}
}

func (m *metrics) read(ctx context.Context, n int64) {
	if m.Meters != nil {
		m.reads.Add(ctx, 1)
		m.readBytes.Add(ctx, n)
	}
}

func (m *metrics) corrupted() {
	if m.Meters != nil {
		m.corrupt.Add(context.Background(), 1)
	}
}

func (m *metrics) retained(topic string, records int64) {
	if m.Meters != nil {
		m.retention.Add(context.Background(), records, metric.WithAttributes(attribute.String("topic", topic)))
	}
}

func (m *metrics) swept(ctx context.Context) {
	if m.Meters != nil {
		m.orphans.Add(ctx, 1)
	}
}

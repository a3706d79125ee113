// Package bench is Chronik's benchmark suite and the workload library it
// shares with `chronik bench`: produce, consume and end-to-end workloads
// driven by a real Kafka client (franz-go) against any Kafka-compatible
// broker, and the peers and ceilings every benchmark is compared with in the
// same run (Dragonboat alone, the disk's write+fdatasync bandwidth; the
// kfake in-memory broker lives in the test files so the chronik binary does
// not link it).
//
// Every number on a shared 2-core machine is noisy, so the benchmarks report
// ratios to a peer or ceiling measured in the same run (units x_kfake,
// x_disk, x_raft …); see README.md.
package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
)

// Workload describes one run of Produce, Consume or EndToEnd. Field values
// are literal (a zero Linger means no linger); start from DefaultWorkload,
// which holds franz-go's producer defaults, and change what differs.
type Workload struct {
	Brokers []string
	// TLS, when set, is used for every connection to the brokers; SASL,
	// when set, authenticates them.
	TLS   *tls.Config
	SASL  sasl.Mechanism
	Topic string
	// Partitions is used when the topic has to be created (0 = the broker's
	// default); an existing topic is used as it is.
	Partitions int32
	// ReplicationFactor for a topic that has to be created (-1 = broker default).
	ReplicationFactor int16

	RecordSize int  // value bytes per record (incompressible: no two records share bytes)
	Keyed      bool // give every record a distinct key (spread by hash)

	// Producers is the number of independent clients, each with its own
	// connections (and its own producer ID when idempotent).
	Producers int
	// Outstanding bounds the unacknowledged records of one producer; 0 means
	// only the client's buffer (MaxBufferedRecords) bounds them, 1 makes
	// every producer send one record and wait for its ack.
	Outstanding int
	// MaxInFlight is the produce requests in flight per broker connection;
	// 0 keeps the client default (5 when idempotent). Only with Idempotent
	// false.
	MaxInFlight int
	// Acks is -1 (all), 1 (leader) or 0 (none).
	Acks int16
	// Idempotent enables the idempotent producer (needs Acks -1).
	Idempotent bool
	// Compression is none, gzip, snappy, lz4 or zstd.
	Compression string
	// Linger is how long a partition's batch waits for more records.
	Linger time.Duration
	// MaxBufferedRecords bounds the client's buffer; Produce blocks when it
	// is full.
	MaxBufferedRecords int

	// Rate is the target records/s over all producers; 0 sends as fast as
	// the client accepts. Fixed-rate latencies are measured from each
	// record's intended send time, so a stall is charged to every record
	// that should have been sent during it (no coordinated omission).
	Rate float64
	// Records stops the run after this many records (0 = no limit).
	Records int64
	// Duration stops the run after this long (0 = no limit). At least one
	// of Records and Duration must be set.
	Duration time.Duration

	// TransactionRecords, when > 0, makes every producer transactional: it
	// sends its records in transactions of this many (BeginTransaction,
	// produce, EndTransaction with commit), and a record counts as produced
	// once its transaction committed, with its latency measured from its
	// (intended) send time to the commit's return. Needs Idempotent and
	// Acks -1. The run's last transaction may be shorter.
	TransactionRecords int
	// TransactionalID is the prefix of the producers' transactional IDs:
	// producer i uses "<TransactionalID>-<i>". Two runs at once with the
	// same prefix fence each other.
	TransactionalID string
	// AbortEvery, when > 0, aborts every AbortEvery-th transaction of each
	// producer instead of committing it (records sent, then aborted: for
	// testing read_committed consumers). Aborted records do not count as
	// produced, nor towards Records. At least 2.
	AbortEvery int

	// Consumers is the number of consuming clients (Consume, EndToEnd);
	// partitions are split between them without a consumer group.
	Consumers int
	// Isolation is the consumers' isolation level: read_uncommitted (also
	// "") sees every record, read_committed only those not in an open or
	// aborted transaction.
	Isolation string

	// Progress receives a line every second; nil for none.
	Progress io.Writer
}

// DefaultWorkload is franz-go's producer defaults (idempotent, acks=all,
// snappy, linger 10 ms, 50,000 buffered records) with 256-byte unkeyed
// records, one producer and one consumer, on topic "bench" at
// 127.0.0.1:9092.
func DefaultWorkload() Workload {
	return Workload{
		Brokers:            []string{"127.0.0.1:9092"},
		Topic:              "bench",
		ReplicationFactor:  -1,
		RecordSize:         256,
		Producers:          1,
		Acks:               -1,
		Idempotent:         true,
		Compression:        "snappy",
		Linger:             10 * time.Millisecond,
		MaxBufferedRecords: 50000,
		TransactionalID:    "chronik-bench",
		Consumers:          1,
		Isolation:          ReadUncommitted,
	}
}

// SmallBatchWorkload is the shape other brokers publish for latency-bound
// producers: no linger and 128 producers that each send one record and wait
// for its ack, so there are 128 concurrent single-record requests.
func SmallBatchWorkload() Workload {
	w := DefaultWorkload()
	w.Linger = 0
	w.Producers = 128
	w.Outstanding = 1
	return w
}

// Validate reports what is wrong with w.
func (w Workload) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(w.Brokers) == 0 {
		bad("no brokers: give at least one host:port")
	}
	if w.Topic == "" {
		bad("no topic")
	}
	if w.RecordSize < 0 || w.RecordSize > valuePoolSize/4 {
		bad("record size %d: use 0 to %d bytes", w.RecordSize, valuePoolSize/4)
	}
	if w.Producers < 1 {
		bad("producers %d: need at least 1", w.Producers)
	}
	if w.Consumers < 1 {
		bad("consumers %d: need at least 1", w.Consumers)
	}
	if w.Outstanding < 0 || w.MaxInFlight < 0 || w.MaxBufferedRecords < 0 {
		bad("outstanding, in-flight and buffered-records may not be negative")
	}
	switch w.Acks {
	case -1, 0, 1:
	default:
		bad("acks %d: use -1 (all), 1 or 0", w.Acks)
	}
	if w.Idempotent && w.Acks != -1 {
		bad("the idempotent producer needs acks=all (-1); disable idempotence for acks=%d", w.Acks)
	}
	if w.Idempotent && w.MaxInFlight != 0 {
		bad("in-flight requests can only be set with idempotence disabled (the idempotent producer uses 5)")
	}
	if _, err := codec(w.Compression); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, w.validateTransactions()...)
	if _, err := isolation(w.Isolation); err != nil {
		errs = append(errs, err)
	}
	if w.Linger < 0 || w.Rate < 0 || w.Records < 0 || w.Duration < 0 {
		bad("linger, rate, records and duration may not be negative")
	}
	if w.Records == 0 && w.Duration == 0 {
		bad("give a record count or a duration")
	}
	return errors.Join(errs...)
}

// validateTransactions reports what is wrong with w's transaction fields.
func (w Workload) validateTransactions() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if w.TransactionRecords < 0 || w.AbortEvery < 0 {
		bad("transaction records and abort-every may not be negative")
	}
	if w.TransactionRecords == 0 {
		if w.AbortEvery > 0 {
			bad("abort-every %d needs transactions: give transaction records", w.AbortEvery)
		}
		return errs
	}
	if !w.Idempotent {
		bad("transactions need the idempotent producer: do not disable idempotence")
	}
	if w.Acks != -1 {
		bad("transactions need acks=all (-1), not acks=%d", w.Acks)
	}
	if w.TransactionalID == "" {
		bad("transactions need a transactional ID prefix")
	}
	if w.AbortEvery == 1 {
		bad("abort-every 1 would abort every transaction and commit nothing: use 0 (never) or at least 2")
	}
	return errs
}

// Isolation levels of Workload.Isolation.
const (
	ReadUncommitted = "read_uncommitted"
	ReadCommitted   = "read_committed"
)

func isolation(name string) (kgo.IsolationLevel, error) {
	switch name {
	case ReadUncommitted, "":
		return kgo.ReadUncommitted(), nil
	case ReadCommitted:
		return kgo.ReadCommitted(), nil
	}
	return kgo.ReadUncommitted(), fmt.Errorf("isolation %q: use %s or %s", name, ReadUncommitted, ReadCommitted)
}

func codec(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("compression %q: use none, gzip, snappy, lz4 or zstd", name)
}

// clientOpts are the options every client of w starts from: the brokers,
// the client ID, TLS and SASL.
func (w Workload) clientOpts() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(w.Brokers...), kgo.ClientID("chronik-bench")}
	if w.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(w.TLS))
	}
	if w.SASL != nil {
		opts = append(opts, kgo.SASL(w.SASL))
	}
	return opts
}

// producerOpts are the client options of producer i of w.
func (w Workload) producerOpts(i int) []kgo.Opt {
	c, _ := codec(w.Compression)
	opts := append(w.clientOpts(),
		kgo.DefaultProduceTopic(w.Topic),
		kgo.ProducerBatchCompression(c),
		kgo.ProducerLinger(w.Linger),
	)
	if w.TransactionRecords > 0 {
		opts = append(opts, kgo.TransactionalID(w.TransactionalID+"-"+strconv.Itoa(i)))
	}
	if w.MaxBufferedRecords > 0 {
		opts = append(opts, kgo.MaxBufferedRecords(w.MaxBufferedRecords))
	}
	if !w.Idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
		switch w.Acks {
		case 1:
			opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
		case 0:
			opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
		}
		if w.MaxInFlight > 0 {
			opts = append(opts, kgo.MaxProduceRequestsInflightPerBroker(w.MaxInFlight))
		}
	}
	return opts
}

// EnsureTopic creates w.Topic if it does not exist and waits until every
// partition has a leader. It returns the partition count.
func EnsureTopic(ctx context.Context, w Workload) (int32, error) {
	cl, err := kgo.NewClient(w.clientOpts()...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	parts := w.Partitions
	if parts == 0 {
		parts = -1
	}
	rf := w.ReplicationFactor
	if rf == 0 {
		rf = -1
	}
	if _, err := adm.CreateTopic(ctx, parts, rf, nil, w.Topic); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return 0, fmt.Errorf("create topic %s: %w", w.Topic, err)
	}
	for {
		n, ready, err := topicLeaders(ctx, adm, w.Topic)
		if err == nil && ready {
			return n, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("topic %s: partitions without a leader", w.Topic)
			}
			return 0, fmt.Errorf("%w (%w)", err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func topicLeaders(ctx context.Context, adm *kadm.Client, topic string) (int32, bool, error) {
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return 0, false, err
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		if ok {
			err = td.Err
		}
		return 0, false, err
	}
	for _, p := range td.Partitions {
		if p.Err != nil || p.Leader < 0 {
			return int32(len(td.Partitions)), false, nil
		}
	}
	return int32(len(td.Partitions)), len(td.Partitions) > 0, nil
}

// valuePoolSize is the random data record values are cut from: far larger
// than a batch (1 MB by default), so no batch repeats itself and snappy,
// lz4 or zstd cannot shrink it — the broker stores what the workload says.
const valuePoolSize = 16 << 20

var valuePool = sync.OnceValue(func() []byte { return payload(valuePoolSize, 1) })

// payload returns n incompressible bytes (a fixed seed, so runs and peers
// send identical data).
func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x6368726f6e696b))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/chronik-go/chronik/bench"
	"github.com/chronik-go/chronik/core/config"
	"github.com/chronik-go/chronik/core/opsctl"
)

// benchFlags are the flags of `chronik bench produce|consume|e2e`; the
// workloads themselves live in package bench (shared with go test -bench).
type benchFlags struct {
	brokers    string
	configFile string
	format     string
	acks       string
	security   securityFlags
	w          bench.Workload
}

func newBenchCmd() *cobra.Command {
	f := &benchFlags{w: bench.DefaultWorkload()}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-test any Kafka-compatible cluster: produce, consume, end-to-end latency",
		Long: `Drive a Kafka-compatible cluster with franz-go and report records/s, MB/s and
latency percentiles (p50/p90/p99/p99.9/max). A progress line goes to stderr every
second; the summary goes to stdout (--format json for one JSON document).

Defaults are franz-go's producer defaults (idempotent, acks=all, snappy, linger
10ms) with 256-byte incompressible records. With --rate, latencies are measured
from each record's intended send time, so stalls are not hidden (no coordinated
omission). Without --records or --duration, produce and e2e run for 10s and
consume reads what the topic held when it started.

With --transaction-records N, producer i is transactional (ID
<--transactional-id>-i) and sends its records in transactions of N, each
committed before the next begins; a record counts once its transaction has
committed, its latency runs from its send to the commit's return (what a
read_committed consumer waits for), and the summary adds transactions/s and
the commit (EndTransaction) latency. --abort-every K aborts every K-th
transaction instead; its records do not count. The run's last transaction is
committed when --records or --duration is reached. Transactions need acks=all
and the idempotent producer. consume --isolation read_committed reads back
only the committed records.`,
		Example: `  chronik bench produce --records 1000000
  chronik bench produce --linger 0 --producers 128 --outstanding 1 --duration 30s
  chronik bench consume --topic bench --format json
  chronik bench e2e --rate 5000 --duration 1m --partitions 4 --keyed
  chronik bench produce --transaction-records 100 --producers 4 --duration 30s
  chronik bench produce --transaction-records 100 --abort-every 10 --records 100000
  chronik bench consume --isolation read_committed`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f.register(cmd)
	for _, k := range []struct {
		name, short string
		run         func(context.Context, bench.Workload) (bench.Result, error)
		create      bool
	}{
		{"produce", "Produce as fast as possible or at --rate and report the ack latency", bench.Produce, true},
		{"consume", "Read a topic from the start of every partition and report the catch-up rate", bench.Consume, false},
		{"e2e", "Produce at --rate while consuming the same topic and report send-to-consume latency", bench.EndToEnd, true},
	} {
		cmd.AddCommand(&cobra.Command{
			Use:   k.name,
			Short: k.short,
			Args:  noArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return f.run(cmd, k.name, k.run, k.create)
			},
		})
	}
	return cmd
}

func (f *benchFlags) register(cmd *cobra.Command) {
	fs := cmd.PersistentFlags()
	w := &f.w
	fs.StringVar(&f.brokers, "brokers", "",
		"Kafka `addresses` of the cluster, host:port[,host:port...] (env "+opsctl.EnvBrokers+
			"; default: the Kafka address a broker started with --config would advertise, else 127.0.0.1:9092)")
	fs.StringVar(&f.configFile, config.FileFlag, "",
		"broker TOML config `file` to find the cluster's Kafka address in (env "+config.EnvName(config.FileFlag)+")")
	fs.StringVar(&f.format, "format", "text", "summary `format`: text or json")
	fs.StringVar(&w.Topic, "topic", w.Topic, "topic to use (produce and e2e create it if missing)")
	fs.Int32Var(&w.Partitions, "partitions", 0, "partitions of a topic the command creates (0 = broker default)")
	fs.Int16Var(&w.ReplicationFactor, "replication-factor", w.ReplicationFactor, "replication factor of a topic the command creates (-1 = broker default)")
	fs.IntVar(&w.RecordSize, "record-size", w.RecordSize, "value `bytes` per record (incompressible)")
	fs.BoolVar(&w.Keyed, "keyed", w.Keyed, "give every record a distinct key (spread over partitions by hash)")
	fs.IntVar(&w.Producers, "producers", w.Producers, "independent producer clients")
	fs.IntVar(&w.Outstanding, "outstanding", w.Outstanding, "unacknowledged records per producer (0 = bounded by --max-buffered-records only; 1 = one at a time)")
	fs.IntVar(&w.MaxInFlight, "in-flight", w.MaxInFlight, "produce requests in flight per connection (0 = client default; needs --idempotent=false)")
	fs.StringVar(&f.acks, "acks", "all", "acks: all, 1 or 0 (1 and 0 turn idempotence off unless --idempotent is given)")
	fs.BoolVar(&w.Idempotent, "idempotent", w.Idempotent, "idempotent producer (needs --acks all)")
	fs.StringVar(&w.Compression, "compression", w.Compression, "batch compression: none, gzip, snappy, lz4 or zstd")
	fs.DurationVar(&w.Linger, "linger", w.Linger, "how long a batch waits for more records")
	fs.IntVar(&w.MaxBufferedRecords, "max-buffered-records", w.MaxBufferedRecords, "records a producer buffers before blocking")
	fs.Float64Var(&w.Rate, "rate", 0, "target records/s over all producers (0 = as fast as possible)")
	fs.Int64Var(&w.Records, "records", 0, "stop after this many records")
	fs.DurationVar(&w.Duration, "duration", 0, "stop after this long")
	fs.IntVar(&w.Consumers, "consumers", w.Consumers, "consumer clients (consume, e2e); partitions are split between them")
	fs.IntVar(&w.TransactionRecords, "transaction-records", 0,
		"records per transaction: make every producer transactional (0 = no transactions; needs --acks all and idempotence)")
	fs.StringVar(&w.TransactionalID, "transactional-id", w.TransactionalID,
		"transactional ID `prefix`: producer i uses PREFIX-i (runs at once need different prefixes)")
	fs.IntVar(&w.AbortEvery, "abort-every", 0,
		"abort every K-th transaction of each producer instead of committing it (0 = never; needs --transaction-records)")
	fs.StringVar(&w.Isolation, "isolation", w.Isolation, "consumers' isolation level (consume, e2e): read_uncommitted or read_committed")
	f.security.register(fs)
}

// transactionFlags refuses the flags that contradict --transaction-records
// (transactions need the idempotent producer, so acks=all and at most 5
// requests in flight), naming the flag rather than the workload field.
func transactionFlags(cmd *cobra.Command, w bench.Workload) error {
	switch {
	case w.Acks != -1:
		return fmt.Errorf("--transaction-records needs --acks all (transactions use the idempotent producer), not --acks %s", cmd.Flags().Lookup("acks").Value)
	case !w.Idempotent:
		return errors.New("--transaction-records needs the idempotent producer: drop --idempotent=false")
	case w.MaxInFlight > 0:
		return fmt.Errorf("--transaction-records takes no --in-flight (the idempotent producer keeps up to 5 requests in flight per connection), not --in-flight %d", w.MaxInFlight)
	}
	return nil
}

func (f *benchFlags) run(cmd *cobra.Command, kind string, run func(context.Context, bench.Workload) (bench.Result, error), create bool) error {
	if f.format != "text" && f.format != "json" {
		return fmt.Errorf("--format %q: use text or json", f.format)
	}
	w := f.w
	switch strings.ToLower(f.acks) {
	case "all", "-1":
		w.Acks = -1
	case "1", "leader":
		w.Acks = 1
	case "0", "none":
		w.Acks = 0
	default:
		return fmt.Errorf("--acks %q: use all, 1 or 0", f.acks)
	}
	if w.TransactionRecords > 0 {
		if err := transactionFlags(cmd, w); err != nil {
			return err
		}
	}
	if w.Acks != -1 && !cmd.Flags().Changed("idempotent") {
		w.Idempotent = false
	}
	if w.MaxInFlight > 0 && !cmd.Flags().Changed("idempotent") {
		w.Idempotent = false
	}
	if kind != "consume" && w.Records == 0 && w.Duration == 0 {
		w.Duration = 10 * time.Second
	}
	brokers, err := opsctl.ResolveBrokers(f.brokers, f.configFile, os.Getenv)
	if err != nil {
		return err
	}
	w.Brokers = brokers
	if w.TLS, w.SASL, err = f.security.client(); err != nil {
		return err
	}
	w.Progress = cmd.ErrOrStderr()
	if kind != "consume" {
		if err := w.Validate(); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if create {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		_, err := bench.EnsureTopic(cctx, w)
		cancel()
		if err != nil {
			return fmt.Errorf("%w\nis a broker running at %s? (--brokers)", err, strings.Join(brokers, ","))
		}
	}
	res, runErr := run(ctx, w)
	if res.Kind == "" && runErr != nil {
		return runErr
	}
	var perr error
	if f.format == "json" {
		perr = res.WriteJSON(cmd.OutOrStdout())
	} else {
		perr = res.WriteText(cmd.OutOrStdout())
	}
	if errors.Is(runErr, context.Canceled) && ctx.Err() != nil {
		runErr = nil // stopped by a signal: the summary covers what ran
	}
	return errors.Join(runErr, perr)
}

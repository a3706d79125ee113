// Package bench is Chronik's benchmark suite and the workload library it
// shares with `chronik bench`: a produce workload driven by a real Kafka
// client (franz-go) against any Kafka-compatible broker.
package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ProduceWorkload describes a produce run.
type ProduceWorkload struct {
	Brokers    []string
	Topic      string
	Records    int           // how many records to produce
	RecordSize int           // value bytes per record
	Keyed      bool          // give every record a key (spread by hash)
	Linger     time.Duration // producer linger; 0 = franz-go default
	AcksAll    bool          // acks=all (idempotent) when true, acks=1 otherwise
}

// ProduceResult is what a run measured.
type ProduceResult struct {
	Records  int
	Bytes    int64
	Duration time.Duration
}

// RecordsPerSec is the acknowledged record rate.
func (r ProduceResult) RecordsPerSec() float64 { return float64(r.Records) / r.Duration.Seconds() }

// MBPerSec is the acknowledged payload rate in MB/s (10^6 bytes).
func (r ProduceResult) MBPerSec() float64 { return float64(r.Bytes) / 1e6 / r.Duration.Seconds() }

// Produce runs w with one franz-go producer and returns once every record
// was acknowledged, or the first error.
func Produce(ctx context.Context, w ProduceWorkload) (ProduceResult, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(w.Brokers...), kgo.DefaultProduceTopic(w.Topic), kgo.MaxBufferedRecords(1 << 16)}
	if w.Linger > 0 {
		opts = append(opts, kgo.ProducerLinger(w.Linger))
	}
	if !w.AcksAll {
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return ProduceResult{}, err
	}
	defer cl.Close()
	value := make([]byte, w.RecordSize)
	for i := range value {
		value[i] = byte(i)
	}
	var (
		wg       sync.WaitGroup
		firstErr atomic.Pointer[error]
	)
	start := time.Now()
	for i := 0; i < w.Records; i++ {
		r := &kgo.Record{Value: value}
		if w.Keyed {
			r.Key = []byte(fmt.Sprintf("k%d", i))
		}
		wg.Add(1)
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	res := ProduceResult{Records: w.Records, Bytes: int64(w.Records) * int64(w.RecordSize), Duration: time.Since(start)}
	if p := firstErr.Load(); p != nil {
		return res, *p
	}
	return res, nil
}

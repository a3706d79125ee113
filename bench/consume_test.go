package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/config"
)

// BenchmarkConsume is consume catch-up: b.N records are produced with the
// default workload (untimed, but measured: x_produce), then one consumer
// with franz-go defaults reads them from the start (timed). One op is one
// consumed record. Target: ≥ 2× the produce records/s. kfake catches up
// from the same data in the same run (x_kfake).
func BenchmarkConsume(b *testing.B) {
	if probeRound(b) {
		return
	}
	ctx := benchContext(b)
	addr, _ := startChronik(b, nil)
	w := DefaultWorkload()
	w.Records = int64(b.N)
	prod, cons := catchUp(ctx, b, on(ctx, b, addr, w), true)
	reportRun(b, cons)
	reportRatio(b, "produce", cons.RecordsPerSec, prod.RecordsPerSec, "records/s")

	_, kcons := catchUp(ctx, b, on(ctx, b, startKfake(b), w), false)
	reportRatio(b, "kfake", cons.RecordsPerSec, kcons.RecordsPerSec, "records/s")
}

// BenchmarkRemoteFetch is the tiering target: catch-up from the tiered
// store (local-directory backend) ≥ 0.5× local fetch MB/s. b.N records go
// to a topic with remote.storage.enable, 1 MiB segments and
// local.retention.bytes=0, so once uploads have caught up everything but
// the active segment is read from the store (timed, with a cold chunk
// cache); the same workload on a topic without tiering is the local
// baseline, in the same run (x_local).
func BenchmarkRemoteFetch(b *testing.B) {
	if probeRound(b) {
		return
	}
	ctx := benchContext(b)
	br, _ := startBroker(b, func(c *config.Config) { c.Tier.CheckInterval = 50 * time.Millisecond })
	w := DefaultWorkload()
	w.Records = int64(b.N)
	w.Topic = "remote"
	w = on(ctx, b, br.KafkaAddr(), w)
	alterTopic(ctx, b, br.KafkaAddr(), w.Topic, map[string]string{
		"remote.storage.enable": "true", "segment.bytes": "1048576", "local.retention.bytes": "0",
	})
	_, err := Produce(ctx, w)
	must(b, err)
	waitTiered(ctx, b, br.HTTPAddr(), w.Topic) // the bound port: cfg says 0
	b.SetBytes(int64(w.RecordSize))
	b.ReportAllocs()
	b.ResetTimer()
	remote, err := Consume(ctx, w)
	b.StopTimer()
	must(b, err)
	reportRun(b, remote)

	lw := w
	lw.Topic = "local"
	_, local := catchUp(ctx, b, on(ctx, b, br.KafkaAddr(), lw), false)
	reportRatio(b, "local", remote.MBPerSec, local.MBPerSec, "MB/s")
}

// alterTopic sets configs of topic.
func alterTopic(ctx context.Context, b *testing.B, addr, topic string, configs map[string]string) {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	must(b, err)
	defer cl.Close()
	var alts []kadm.AlterConfig
	for k, v := range configs {
		alts = append(alts, kadm.AlterConfig{Name: k, Value: kadm.StringPtr(v)})
	}
	resps, err := kadm.NewClient(cl).AlterTopicConfigs(ctx, alts, topic)
	if err == nil {
		for _, r := range resps {
			err = errors.Join(err, r.Err)
		}
	}
	must(b, err)
}

// waitTiered polls the broker's GET /v1/tier until every partition of
// topic has uploaded all but its active segment and dropped it locally.
func waitTiered(ctx context.Context, b *testing.B, httpAddr, topic string) {
	b.Helper()
	for {
		resp, err := http.Get("http://" + httpAddr + "/v1/tier")
		must(b, err)
		var st struct {
			Partitions []struct {
				Topic          string `json:"topic"`
				Leader         bool   `json:"leader"`
				LocalStart     int64  `json:"local_start_offset"`
				TieredEnd      int64  `json:"tiered_end_offset"`
				UploadLagBytes int64  `json:"upload_lag_bytes"`
			} `json:"partitions"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		must(b, err)
		done, n := true, 0
		for _, p := range st.Partitions {
			if p.Topic != topic {
				continue
			}
			n++
			done = done && p.Leader && p.UploadLagBytes < 1<<20 && p.LocalStart == p.TieredEnd && p.TieredEnd > 0
		}
		if done && n > 0 {
			return
		}
		select {
		case <-ctx.Done():
			must(b, fmt.Errorf("topic %s not tiered: %+v", topic, st.Partitions))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// catchUp produces w, then consumes it from the start; timed says whether
// the consume is the benchmark's timed section.
func catchUp(ctx context.Context, b *testing.B, w Workload, timed bool) (prod, cons Result) {
	prod, err := Produce(ctx, w)
	must(b, err)
	if timed {
		b.SetBytes(int64(w.RecordSize))
		b.ReportAllocs()
		b.ResetTimer()
	}
	cons, err = Consume(ctx, w)
	if timed {
		b.StopTimer()
	}
	must(b, err)
	if cons.Records != prod.Records {
		must(b, fmt.Errorf("consumed %d of %d records", cons.Records, prod.Records))
	}
	return prod, cons
}

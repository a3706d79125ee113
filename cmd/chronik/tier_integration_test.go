//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/opsctl"
	"github.com/chronik-go/chronik/core/tier"
)

// TestTierStatus tiers a topic with small segments on a real broker and
// reads it back through `chronik tier status`, checking on the way that
// opsctl's copy of the GET /v1/tier shape matches the broker's.
func TestTierStatus(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Tier.CheckInterval = 50 * time.Millisecond
	b := brokertest.Start(t, cfg)
	t.Setenv("CHRONIK_CONFIG", "")
	t.Setenv("CHRONIK_BROKERS", "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// tierCmd runs `chronik tier …` against the broker's admin address.
	tierCmd := func(args ...string) (stdout, stderr string, code int) {
		t.Helper()
		var out, errOut bytes.Buffer
		code = run(append([]string{"tier"}, args...), &out, &errOut)
		return out.String(), errOut.String(), code
	}
	tierOK := func(args ...string) string {
		t.Helper()
		out, errOut, code := tierCmd(append(args, "--http-addr", b.HTTPAddr())...)
		if code != 0 {
			t.Fatalf("chronik tier %s: exit %d\nstderr: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	tierJSON := func(args ...string) opsctl.TierReport {
		t.Helper()
		out := tierOK(append(args, "--format", "json")...)
		var r opsctl.TierReport
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("chronik tier %s --format json: %v\n%s", strings.Join(args, " "), err, out)
		}
		return r
	}

	help, _, _ := tierCmd("status", "--help")
	for _, want := range []string{"LOCAL-START", "served from the object store", "chronik topic alter TOPIC --config remote.storage.enable=true", "tier.url", "tier.max-pending-bytes"} {
		if !strings.Contains(help, want) {
			t.Errorf("tier status --help does not mention %q:\n%s", want, help)
		}
	}

	cli := &opsCLI{t: t, brokers: b.KafkaAddr()}
	cli.ok("topic", "create", "cold", "--config", "remote.storage.enable=true", "--config", "segment.bytes=16384")
	cli.ok("topic", "create", "hot")

	// ~200 KiB of incompressible records in batches below segment.bytes,
	// so that a dozen segments close and are uploaded.
	cl := cli.client(kgo.DefaultProduceTopic("cold"), kgo.ProducerBatchMaxBytes(8<<10), kgo.ProducerBatchCompression(kgo.NoCompression()))
	rng := rand.New(rand.NewPCG(1, 2))
	recs := make([]*kgo.Record, 200)
	for i := range recs {
		v := make([]byte, 1<<10)
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		recs[i] = &kgo.Record{Value: v}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	cli.produce(ctx, "hot", 0, 3)

	var p opsctl.TierPartition
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := tierJSON("status")
		if len(r.Nodes) != 1 || !r.Nodes[0].Up || r.Nodes[0].Node != 1 || !strings.HasPrefix(r.Nodes[0].Store, "file://") {
			t.Fatalf("nodes: %+v, want broker 1 tiering to a file:// store", r.Nodes)
		}
		if len(r.Partitions) != 1 || r.Partitions[0].Topic != "cold" {
			t.Fatalf("partitions %+v, want only cold/0 (hot is not tiered)", r.Partitions)
		}
		// Settled: every closed segment uploaded, only the active one
		// (below segment.bytes, with segment.ms days away) left, so the
		// table below shows the same state.
		if p = r.Partitions[0]; p.Segments > 0 && p.TieredEnd > 0 && p.UploadLagBytes < 16384 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("uploads not settled after 20s: %+v", p)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if p.Leader != 1 || p.ReportedBy != 1 || !p.Remote || p.HighWatermark != 200 || p.RemoteStart != 0 ||
		p.TieredEnd > p.HighWatermark || p.RemoteBytes <= 0 || p.LastUpload == nil || p.LastError != "" {
		t.Fatalf("cold/0: %+v", p)
	}
	t.Logf("cold/0: %d segments, remote [%d, %d) %d bytes, local from %d, %d bytes, lag %d bytes",
		p.Segments, p.RemoteStart, p.TieredEnd, p.RemoteBytes, p.LocalStart, p.LocalBytes, p.UploadLagBytes)

	table := tierOK("status")
	t.Logf("chronik tier status:\n%s", table)
	var row []string
	for line := range strings.SplitSeq(table, "\n") {
		if strings.HasPrefix(line, "cold ") {
			row = strings.Fields(line)
		}
	}
	// TOPIC PARTITION LEADER LOG-START LOCAL-START REMOTE-RANGE HW SEGMENTS …
	if want := []string{"cold", "0", "1", "0", fmt.Sprint(p.LocalStart), fmt.Sprintf("0-%d", p.TieredEnd-1), "200"}; len(row) < len(want) ||
		strings.Join(row[:len(want)], " ") != strings.Join(want, " ") || !strings.Contains(table, "file://") {
		t.Errorf("table row %q, want it to start with %q and the store listed:\n%s", row, want, table)
	}
	if strings.Contains(table, "hot") {
		t.Errorf("table lists the untiered topic hot:\n%s", table)
	}
	if all := tierOK("status", "--all"); !strings.Contains(all, "\nhot ") || !strings.Contains(all, "\ncold ") {
		t.Errorf("--all does not list both topics:\n%s", all)
	}
	if r := tierJSON("status", "--topic", "hot"); len(r.Partitions) != 1 || r.Partitions[0].Topic != "hot" || r.Partitions[0].Remote {
		t.Errorf("--topic hot: %+v", r.Partitions)
	}
	if _, errOut, code := tierCmd("status", "--topic", "nope", "--http-addr", b.HTTPAddr()); code != 1 || !strings.Contains(errOut, `no answering broker has a replica of topic "nope"`) {
		t.Errorf("--topic nope: exit %d, stderr %q", code, errOut)
	}

	// An unreachable broker is listed, not fatal; none answering is.
	dead := brokertest.FreeAddr(t)
	out, errOut, code := tierCmd("status", "--http-addr", b.HTTPAddr()+","+dead)
	if code != 0 || !strings.Contains(out, "?     "+dead) || !strings.Contains(out, "1 of 2 brokers not answering") {
		t.Errorf("one broker down: exit %d, stderr %q\n%s", code, errOut, out)
	}
	if _, errOut, code := tierCmd("status", "--http-addr", dead); code != 1 || !strings.Contains(errOut, "chronik: no broker admin API answered GET /v1/tier") {
		t.Errorf("no broker up: exit %d, stderr %q", code, errOut)
	}

	checkTierWireShape(t, b.HTTPAddr())
}

// checkTierWireShape fails when opsctl's copy of the GET /v1/tier shape
// (TierNodeStatus, TierReplica) drifts from the broker's: the live answer
// and a fully set row must decode with no unknown field and re-encode to
// the same JSON.
func checkTierWireShape(t *testing.T, httpAddr string) {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/v1/tier")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var live opsctl.TierNodeStatus
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&live); err != nil {
		t.Fatalf("GET /v1/tier into opsctl.TierNodeStatus: %v", err)
	}

	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	full := broker.TierStatus{Node: 2, Store: "mem://", Partitions: []tier.PartitionStatus{{
		Topic: "t", Partition: 3, Leader: true, Remote: true, LogStart: 1, LocalStart: 2, RemoteStart: 3, TieredEnd: 4,
		HighWatermark: 5, Segments: 6, RemoteBytes: 7, LocalBytes: 8, UploadLagBytes: 9, UploadLagSeconds: 10.5,
		LastUpload: at, LastError: "upload: boom", LastErrorAt: at.Add(time.Second),
	}}}
	want, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var mirror opsctl.TierNodeStatus
	dec = json.NewDecoder(bytes.NewReader(want))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&mirror); err != nil {
		t.Fatalf("broker.TierStatus into opsctl.TierNodeStatus: %v", err)
	}
	got, err := json.Marshal(mirror)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("opsctl.TierNodeStatus drifted from broker.TierStatus:\n got %s\nwant %s", got, want)
	}
}

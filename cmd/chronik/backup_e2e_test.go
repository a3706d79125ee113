//go:build e2e

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/adminhttp"
	"github.com/chronik-go/chronik/core/backup"
	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/opsctl"
	"github.com/chronik-go/chronik/plugins/azurestore"
	"github.com/chronik-go/chronik/plugins/emulatortest"
)

// Issue 7's acceptance test: a 3-node cluster tiering to S3 (gofakes3 in
// this process) is backed up, every node and data dir is lost, and three
// fresh nodes are restored from the bucket with chronik restore.
const (
	drBucket       = "chronik-dr"
	drRecords      = 100_000
	drRecordBytes  = 200
	drSegmentBytes = 256 << 10
	drGroup        = "dr-group"
)

// drTopicParts are the topics' partition counts; dr-single has one replica
// per partition, so the broker taking the backup reads the manifests of
// the partitions it does not hold from their leaders, and each restored
// node restores only its own.
var (
	drTopicParts = map[string]int32{"dr-orders": 3, "dr-audit": 2, "dr-single": 3}
	drTopicRF    = map[string]int16{"dr-orders": 3, "dr-audit": 3, "dr-single": 1}
)

func startDRS3(t *testing.T) string {
	t.Helper()
	backend := s3mem.New()
	faker := gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog()), gofakes3.WithUnimplementedPageError())
	if err := backend.CreateBucket(drBucket); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: faker.Server()}
	go srv.Serve(l) //nolint:errcheck // ends with ErrServerClosed at cleanup
	t.Cleanup(func() { srv.Close() })
	return fmt.Sprintf("s3://%s/cluster?endpoint=http://%s&path_style=true&region=us-east-1&access_key_id=test&secret_access_key=test", drBucket, l.Addr())
}

// startDRGCS runs fake-gcs-server in this process (the brokers inherit
// STORAGE_EMULATOR_HOST) and returns the bucket's URL.
func startDRGCS(t *testing.T) string {
	t.Helper()
	srv := emulatortest.StartFakeGCS(t)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: drBucket})
	return "gs://" + drBucket + "/cluster"
}

// startDRAzure runs Azurite and returns a container's URL.
func startDRAzure(t *testing.T) string {
	t.Helper()
	addr := emulatortest.StartAzurite(t)
	cfg := azurestore.NewConfig()
	cfg.ConnectionString = azurestore.DevConnectionString(addr)
	admin, err := azurestore.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateContainer(t.Context(), drBucket, nil); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("azblob://%s/cluster?account=%s&endpoint=http://%s/%s", drBucket, azurestore.DevAccount, addr, azurestore.DevAccount)
}

// TestE2EDisasterRecovery runs the round trip against each object-store
// emulator: S3 (gofakes3), GCS (fake-gcs-server) and Azure Blob (Azurite).
func TestE2EDisasterRecovery(t *testing.T) {
	for _, store := range []struct {
		name  string
		start func(*testing.T) string
	}{{"s3", startDRS3}, {"gcs", startDRGCS}, {"azure", startDRAzure}} {
		t.Run(store.name, func(t *testing.T) { testDisasterRecovery(t, store.start(t)) })
	}
}

func testDisasterRecovery(t *testing.T, from string) {
	c := startClusterWith(t, 3, fmt.Sprintf("[tier]\nurl = %q\ncheck-interval = \"100ms\"\n\n[backup]\ninterval = \"0s\"\n", from))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	cl := newClient(t, c.addrs[0].kafka)
	adm := kadm.NewClient(cl)
	seg := fmt.Sprint(drSegmentBytes)
	for name, parts := range drTopicParts {
		resp, err := adm.CreateTopic(ctx, parts, drTopicRF[name], map[string]*string{
			"remote.storage.enable": kadm.StringPtr("true"), "segment.bytes": &seg, "segment.ms": kadm.StringPtr("1000"),
			"local.retention.bytes": kadm.StringPtr(fmt.Sprint(2 * drSegmentBytes)),
		}, name)
		if err != nil || resp.Err != nil {
			t.Fatalf("create %s: %v %v", name, err, resp.Err)
		}
	}
	start := time.Now()
	produced := map[string][]*kgo.Record{}
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for name := range drTopicParts {
		for _, r := range brokertest.Produce(ctx, t, c.seeds(), name, drTopicParts[name], drRecords/len(drTopicParts), drRecordBytes, base) {
			k := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
			produced[k] = append(produced[k], r)
		}
	}
	t.Logf("produced %d records in %s", drRecords, time.Since(start).Round(time.Millisecond))
	admin := opsctl.Admin{Addrs: []string{c.addrs[0].http, c.addrs[1].http, c.addrs[2].http}, HTTP: adminhttp.Plain(0)}
	waitUntil(t, 3*time.Minute, "every partition tiered to its end", func() (bool, string) {
		r, err := opsctl.TierStatus(ctx, admin, opsctl.TierStatusOptions{})
		if err != nil {
			return false, err.Error()
		}
		if len(r.Partitions) != len(produced) {
			return false, fmt.Sprintf("%d partitions reported, %d produced to", len(r.Partitions), len(produced))
		}
		for _, p := range r.Partitions {
			if want := int64(len(produced[fmt.Sprintf("%s/%d", p.Topic, p.Partition)])); p.Leader < 0 || p.TieredEnd != want {
				return false, fmt.Sprintf("%s/%d tiered end %d of %d", p.Topic, p.Partition, p.TieredEnd, want)
			}
		}
		return true, ""
	})

	committed := brokertest.ConsumeAndCommit(ctx, t, c.seeds(), drGroup, "dr-orders", 30000)
	before := brokertest.DescribeTopics(ctx, t, adm)
	cl.Close()

	var m backup.Manifest
	out := chronikCLI(t, "backup", "now", "--http-addr", c.addrs[1].http, "--format", "json")
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("backup now: %v\n%s", err, out)
	}
	t.Logf("backup %s taken by node %d: %d bytes of objects, %d segments (%d MB) referenced, in %.0f ms",
		m.ID, m.Node, m.SizeBytes, m.Segments, m.SegmentBytes>>20, m.DurationSeconds*1000)
	if m.Topics != 3 || m.Partitions != 8 || m.Groups != 1 {
		t.Fatalf("manifest: %s", out)
	}

	// Disaster: every node and every data dir is gone.
	for _, n := range c.nodes {
		stop(n)
	}
	for _, d := range c.dirs {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}
	start = time.Now()
	for i := range c.nodes {
		out := chronikCLI(t, "restore", "--from", from, "--backup", m.ID, "--config", c.config, "--node-id", strconv.Itoa(i+1), "--data-dir", c.dirs[i])
		if i == 0 {
			t.Logf("chronik restore:\n%s", out)
		}
	}
	for i := range c.nodes {
		c.nodes[i] = c.launch(i)
	}
	for i := range c.nodes {
		c.waitReady(i, start)
	}
	t.Logf("recovery: 3 data dirs restored and the cluster ready in %s", time.Since(start).Round(time.Millisecond))

	cl2 := newClient(t, c.addrs[2].kafka)
	defer cl2.Close()
	adm2 := kadm.NewClient(cl2)
	if after := brokertest.DescribeTopics(ctx, t, adm2); !reflect.DeepEqual(before, after) {
		t.Errorf("topics after restore differ:\nbefore %v\nafter  %v", before, after)
	}
	for k, recs := range produced {
		i := strings.LastIndexByte(k, '/')
		p, _ := strconv.Atoi(k[i+1:])
		brokertest.CheckPartition(ctx, t, c.seeds(), k[:i], int32(p), recs)
	}
	got, err := adm2.FetchOffsets(ctx, drGroup)
	if err != nil {
		t.Fatal(err)
	}
	for p, off := range committed {
		if o, ok := got.Lookup("dr-orders", p); !ok || o.At != off {
			t.Errorf("group offset of dr-orders/%d after restore: %+v, want %d", p, o, off)
		}
	}
	t.Logf("every record byte-identical at its offset; group offsets %v restored", committed)
}

// TestE2ERecoverFrom is the cold start: a single node started with
// --recover-from on an empty data dir restores the newest backup by
// itself; started again on its (now full) data dir, the flag is ignored.
func TestE2ERecoverFrom(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bucket := t.TempDir()
	from := "file://" + bucket
	dir := t.TempDir()
	a := freeAddrs(t)
	n := startNode(t, dir, a, "--tier", from)
	cl := newClient(t, a.kafka)
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, map[string]*string{
		"remote.storage.enable": kadm.StringPtr("true"), "segment.bytes": kadm.StringPtr("65536"), "segment.ms": kadm.StringPtr("200"),
	}, "cold")
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	produced := map[int32][]*kgo.Record{}
	for _, r := range brokertest.Produce(ctx, t, []string{a.kafka}, "cold", 2, 4000, drRecordBytes, time.Now().Add(-time.Hour).Truncate(time.Millisecond)) {
		produced[r.Partition] = append(produced[r.Partition], r)
	}
	cl.Close()
	waitUntil(t, time.Minute, "everything tiered", func() (bool, string) {
		r, err := opsctl.TierStatus(ctx, opsctl.Admin{Addrs: []string{a.http}, HTTP: adminhttp.Plain(0)}, opsctl.TierStatusOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, p := range r.Partitions {
			if p.TieredEnd != int64(len(produced[p.Partition])) {
				return false, fmt.Sprintf("partition %d tiered to %d", p.Partition, p.TieredEnd)
			}
		}
		return len(r.Partitions) == 2, ""
	})
	chronikCLI(t, "backup", "now", "--http-addr", a.http)
	stop(n)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	n = startNode(t, dir, a, "--tier", from, "--recover-from", from)
	t.Logf("cold start with --recover-from: serving in %s", time.Since(start).Round(time.Millisecond))
	for p, recs := range produced {
		brokertest.CheckPartition(ctx, t, []string{a.kafka}, "cold", p, recs)
	}
	stop(n)
	if log := readFile(t, n.logPath); !strings.Contains(log, "restore complete") {
		t.Fatalf("the node did not log its restore")
	}
	n = startNode(t, dir, a, "--tier", from, "--recover-from", from)
	if log := readFile(t, n.logPath); !strings.Contains(log, "--recover-from is ignored") {
		t.Errorf("a restart with state did not ignore --recover-from")
	}
	brokertest.CheckPartition(ctx, t, []string{a.kafka}, "cold", 0, produced[0])
}

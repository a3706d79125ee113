package opsctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronik-go/chronik/core/adminhttp"
	"github.com/chronik-go/chronik/core/backup"
	"github.com/chronik-go/chronik/core/opsctl"
	_ "github.com/chronik-go/chronik/plugins/memstore"
	"github.com/chronik-go/chronik/tiering"
)

var backupAt = time.Date(2026, 11, 25, 23, 59, 0, 0, time.UTC)

func sampleManifest() *backup.Manifest {
	return &backup.Manifest{
		Format: 1, ID: "20261125T235900Z-3fa2", ClusterID: "prod", Node: 2, ChronikVersion: "v0.9.0",
		CreatedAt: backupAt, DurationSeconds: 0.4213, Compression: "zstd", NextProducerID: 3000,
		Features: []backup.Feature{{Name: "transaction.version", Level: 1}},
		Objects: []backup.Object{
			{Name: "topics.json.zst", Kind: "topics", Compression: "zstd", Size: 412, SHA256: strings.Repeat("ab", 32), RawSize: 1210, Items: 2},
			{Name: "groups.json.zst", Kind: "groups", Compression: "zstd", Size: 301, SHA256: strings.Repeat("cd", 32), RawSize: 905, Items: 1},
			{Name: "partitions.json.zst", Kind: "partitions", Compression: "zstd", Size: 20480, SHA256: strings.Repeat("ef", 32), RawSize: 96000, Items: 3},
		},
		SizeBytes: 21193, Topics: 2, Partitions: 3, Segments: 310, SegmentBytes: 20 << 20, Groups: 1, Offsets: 3,
		RecoveryPoint: []backup.RecoveryPoint{
			{Topic: "orders", Partition: 0, LogStart: 0, TieredEnd: 9800, HighWatermark: 10000},
			{Topic: "orders", Partition: 1, LogStart: 1200, TieredEnd: 9900, HighWatermark: 9900},
			{Topic: "plain", Partition: 0, LogStart: 0, TieredEnd: 0, HighWatermark: 310},
		},
	}
}

var backupReports = []namedReport{
	{"backup_show", &opsctl.BackupReport{Manifest: sampleManifest()}},
	{"backup_list", &opsctl.BackupListReport{Backups: []backup.Summary{
		{ID: "20261125T235900Z-3fa2", Complete: true, Manifest: sampleManifest()},
		{ID: "20261126T005900Z-77c1", Error: "no manifest.json: incomplete (interrupted while being written)"},
	}}},
	{"backup_list_empty", &opsctl.BackupListReport{Backups: []backup.Summary{}}},
	{"restore_plan", &opsctl.RestoreReport{DataDir: "/var/lib/chronik", Plan: &backup.Plan{
		Format: 1, Source: "s3://bucket/chronik", CreatedAt: backupAt.Add(time.Hour), Manifest: sampleManifest(),
		Notes: []string{"orders/1: 2 segments below offset 1200 are gone from the store (retention); the log starts there"},
		Data: &backup.Data{
			Topics: []backup.Topic{
				{Name: "orders", ID: "00112233445566778899aabbccddeeff", Configs: map[string]string{"remote.storage.enable": "true"}, Partitions: 2, ReplicationFactor: 3},
				{Name: "plain", ID: "ffeeddccbbaa99887766554433221100", Configs: map[string]string{}, Partitions: 1, ReplicationFactor: 3},
			},
			Groups: []backup.Group{{Group: "billing", ProtocolType: "consumer", Generation: 7, Offsets: []backup.Offset{
				{Topic: "orders", Partition: 0, Offset: 5000, LeaderEpoch: 3, CommitTimestamp: 1, ExpireTimestamp: -1},
				{Topic: "orders", Partition: 1, Offset: 4000, LeaderEpoch: 3, CommitTimestamp: 1, ExpireTimestamp: -1},
				{Topic: "plain", Partition: 0, Offset: 300, LeaderEpoch: 3, CommitTimestamp: 1, ExpireTimestamp: -1},
			}}},
			Partitions: []backup.Partition{
				{Topic: "orders", Partition: 0, TieredEnd: 9800, HighWatermark: 10000, Segments: []backup.Segment{
					{Base: 0, End: 5000, Key: "k0", Size: 5 << 20}, {Base: 5000, End: 9800, Key: "k1", Size: 5 << 20},
				}},
				{Topic: "orders", Partition: 1, LogStart: 1200, TieredEnd: 9900, HighWatermark: 9900, Segments: []backup.Segment{
					{Base: 1000, End: 9900, Key: "k2", Size: 9 << 20},
				}},
				{Topic: "plain", Partition: 0, HighWatermark: 310, Segments: []backup.Segment{}},
			},
		},
	}}},
}

func TestBackupRenderGolden(t *testing.T) {
	renderGolden(t, backupReports, func(t *testing.T, name string, v any) { checkKeys(t, name, v, true) })
}

func TestBackupAPIClient(t *testing.T) {
	m := sampleManifest()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/backups", func(w http.ResponseWriter, _ *http.Request) { _ = json.NewEncoder(w).Encode(m) })
	mux.HandleFunc("GET /v1/backups", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode([]backup.Summary{{ID: m.ID, Complete: true, Manifest: m}})
	})
	mux.HandleFunc("GET /v1/backups/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != m.ID {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "backup: no such backup"})
			return
		}
		_ = json.NewEncoder(w).Encode(m)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	addrs := opsctl.Admin{Addrs: []string{deadAddr(t), strings.TrimPrefix(srv.URL, "http://")}, HTTP: adminhttp.Plain(0)}
	ctx := context.Background()
	if r, err := opsctl.BackupNow(ctx, addrs); err != nil || r.ID != m.ID || len(r.Objects) != 3 {
		t.Fatalf("now: %+v %v", r, err)
	}
	if r, err := opsctl.BackupList(ctx, addrs); err != nil || len(r.Backups) != 1 || !r.Backups[0].Complete {
		t.Fatalf("list: %+v %v", r, err)
	}
	if r, err := opsctl.BackupShow(ctx, addrs, m.ID); err != nil || r.SizeBytes != m.SizeBytes {
		t.Fatalf("show: %+v %v", r, err)
	}
	if _, err := opsctl.BackupShow(ctx, addrs, "20261125T235900Z-0000"); !errors.Is(err, opsctl.ErrRejected) || !strings.Contains(err.Error(), "no such backup") {
		t.Fatalf("show unknown: %v", err)
	}
	if _, err := opsctl.BackupShow(ctx, addrs, "latest"); !errors.Is(err, opsctl.ErrInvalidInput) {
		t.Fatalf("show latest: %v", err)
	}
}

// TestPrepareRestore restores from a shared in-memory bucket: a good
// backup becomes a plan; a damaged one, or a non-empty data dir, fails with
// a clear error and writes nothing.
func TestPrepareRestore(t *testing.T) {
	ctx := context.Background()
	url := "mem://restore-test/cluster"
	store, err := tiering.Default.OpenURL(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	d := &backup.Data{
		Topics:     []backup.Topic{{Name: "t", ID: "00112233445566778899aabbccddeeff", Configs: map[string]string{}, Partitions: 1, ReplicationFactor: 1}},
		Groups:     []backup.Group{},
		Partitions: []backup.Partition{{Topic: "t", TieredEnd: 10, HighWatermark: 12, Segments: []backup.Segment{{Base: 0, End: 10, Key: "t-x/0/a.seg", Size: 3}}}},
	}
	if err := store.Put(ctx, "segments/t-x/0/a.seg", bytes.NewReader([]byte("abc")), 3); err != nil {
		t.Fatal(err)
	}
	id := backup.NewID(time.Now())
	if _, err := backup.Write(ctx, store, id, backup.Info{ClusterID: "c"}, backup.Zstd, d, time.Now()); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "data")
	r, err := opsctl.PrepareRestore(ctx, opsctl.RestoreOptions{From: url, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if r.Plan.Manifest.ID != id || len(r.Plan.Data.Partitions) != 1 {
		t.Fatalf("plan %+v", r.Plan)
	}
	if _, err := os.Stat(backup.PlanPath(dir)); err != nil {
		t.Fatal(err)
	}
	if _, err := opsctl.PrepareRestore(ctx, opsctl.RestoreOptions{From: url, DataDir: dir}); !errors.Is(err, opsctl.ErrInvalidInput) || !strings.Contains(err.Error(), "is not empty") {
		t.Fatalf("into a non-empty dir: %v", err)
	}

	key := "backups/" + id + "/topics.json.zst"
	b, _ := store.ReadAll(ctx, key)
	b[0] ^= 0xff
	if err := store.Put(ctx, key, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	_, err = opsctl.PrepareRestore(ctx, opsctl.RestoreOptions{From: url, DataDir: empty})
	if !errors.Is(err, backup.ErrCorrupt) || !strings.Contains(err.Error(), "topics.json.zst fails its SHA-256 check") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("corrupt backup: %v", err)
	}
	if _, err := os.Stat(empty); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("data dir created by a failed restore: %v", err)
	}
	if _, err := opsctl.PrepareRestore(ctx, opsctl.RestoreOptions{From: url, DataDir: empty, Backup: "20200101T000000Z-0000"}); !errors.Is(err, backup.ErrNotFound) {
		t.Fatalf("unknown backup: %v", err)
	}
}

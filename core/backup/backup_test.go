package backup_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/acl"
	"github.com/chronik-go/chronik/core/backup"
	"github.com/chronik-go/chronik/core/quota"
	_ "github.com/chronik-go/chronik/plugins/memstore"
	"github.com/chronik-go/chronik/tiering"
)

func openStore(t *testing.T) *tiering.Store {
	t.Helper()
	s, err := tiering.Default.OpenURL(context.Background(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sample() *backup.Data {
	return &backup.Data{
		NextProducerID: 5000,
		Topics: []backup.Topic{
			{Name: "orders", ID: "00112233445566778899aabbccddeeff", Configs: map[string]string{"remote.storage.enable": "true", "segment.bytes": "65536"}, Partitions: 2, ReplicationFactor: 1},
			{Name: "plain", ID: "ffeeddccbbaa99887766554433221100", Configs: map[string]string{}, Partitions: 1, ReplicationFactor: 1},
		},
		Groups: []backup.Group{{Group: "g1", ProtocolType: "consumer", Generation: 3, Offsets: []backup.Offset{
			{Topic: "orders", Partition: 0, Offset: 150, LeaderEpoch: 2, Metadata: "m", CommitTimestamp: 1700000000000, ExpireTimestamp: -1},
		}}},
		Partitions: []backup.Partition{
			{Topic: "orders", Partition: 0, LogStart: 0, TieredEnd: 200, HighWatermark: 230, Segments: []backup.Segment{
				{Base: 0, End: 100, Key: "orders-00112233445566778899aabbccddeeff/0/a.seg", Size: 10, IndexPos: 5, DataBytes: 5, LeaderEpoch: 1},
				{Base: 100, End: 200, Key: "orders-00112233445566778899aabbccddeeff/0/b.seg", Size: 12, IndexPos: 5, DataBytes: 7, LeaderEpoch: 2},
			}},
			{Topic: "orders", Partition: 1, HighWatermark: 5, Segments: []backup.Segment{}},
			{Topic: "plain", Partition: 0, HighWatermark: 9, Segments: []backup.Segment{}},
		},
	}
}

func putSegments(t *testing.T, s *tiering.Store, d *backup.Data) {
	t.Helper()
	for _, p := range d.Partitions {
		for _, sg := range p.Segments {
			if err := s.Put(context.Background(), "segments/"+sg.Key, bytes.NewReader(make([]byte, sg.Size)), sg.Size); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestUsersRoundTrip: SCRAM credentials travel in a users object, which a
// backup without any does not have; a damaged one is refused.
func TestUsersRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	d := sample()
	putSegments(t, s, d)
	d.Users = []backup.User{
		{Name: "bob", Mechanism: "SCRAM-SHA-512", Iterations: 8192, Salt: []byte("salt"), StoredKey: []byte("stored"), ServerKey: []byte("server")},
		{Name: "bob", Mechanism: "SCRAM-SHA-256", Iterations: 4096, Salt: []byte("salt2"), StoredKey: []byte("stored2"), ServerKey: []byte("server2")},
	}
	id := backup.NewID(time.Now())
	m, err := backup.Write(ctx, s, id, backup.Info{ClusterID: "c1", Node: 1}, backup.Zstd, d, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if m.Users != 2 || len(m.Objects) != 4 {
		t.Fatalf("manifest %+v", m)
	}
	_, loaded, err := backup.Load(ctx, s, id)
	if err != nil || !reflect.DeepEqual(loaded.Users, d.Users) {
		t.Fatalf("loaded users %+v, %v", loaded, err)
	}
	d.Users = append(d.Users, d.Users[0])
	if err := d.Validate(); !errors.Is(err, backup.ErrCorrupt) {
		t.Fatalf("a credential listed twice: %v", err)
	}
	d.Users = []backup.User{{Name: "carol", Mechanism: "SCRAM-SHA-1", Iterations: 4096, Salt: []byte("s"), StoredKey: []byte("k"), ServerKey: []byte("k")}}
	if err := d.Validate(); !errors.Is(err, backup.ErrCorrupt) {
		t.Fatalf("an unknown mechanism: %v", err)
	}
}

// TestACLsRoundTrip: ACLs travel in an acls object, by name, which a
// backup without any does not have; an unknown name, an invalid binding and
// a duplicate are refused.
func TestACLsRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	d := sample()
	putSegments(t, s, d)
	alice := acl.Binding{
		ResourceType: kmsg.ACLResourceTypeTopic, ResourceName: "orders-", PatternType: kmsg.ACLResourcePatternTypePrefixed,
		Principal: "User:alice", Host: "*", Operation: kmsg.ACLOperationWrite, Permission: kmsg.ACLPermissionTypeAllow,
	}
	txn := acl.Binding{
		ResourceType: kmsg.ACLResourceTypeTransactionalId, ResourceName: "tx", PatternType: kmsg.ACLResourcePatternTypeLiteral,
		Principal: "User:bob", Host: "10.0.0.1", Operation: kmsg.ACLOperationDescribe, Permission: kmsg.ACLPermissionTypeDeny,
	}
	d.ACLs = []backup.ACL{backup.ACLOf(alice), backup.ACLOf(txn)}
	id := backup.NewID(time.Now())
	m, err := backup.Write(ctx, s, id, backup.Info{ClusterID: "c1", Node: 1}, backup.None, d, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if m.ACLs != 2 || m.Users != 0 || len(m.Objects) != 4 {
		t.Fatalf("manifest %+v", m)
	}
	raw, err := s.ReadAll(ctx, "backups/"+id+"/acls.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"resource_type":"TOPIC"`, `"pattern_type":"PREFIXED"`, `"operation":"WRITE"`, `"permission":"ALLOW"`, `"resource_type":"TRANSACTIONAL_ID"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("acls.json lacks %s: %s", want, raw)
		}
	}
	_, loaded, err := backup.Load(ctx, s, id)
	if err != nil || !reflect.DeepEqual(loaded.ACLs, d.ACLs) {
		t.Fatalf("loaded ACLs %+v, %v", loaded, err)
	}
	for i, want := range []acl.Binding{alice, txn} {
		if got, err := loaded.ACLs[i].Binding(); err != nil || got != want {
			t.Errorf("ACL %d parses back as %v, %v; want %v", i, got, err, want)
		}
	}

	for _, tc := range []struct {
		name   string
		mutate func(a *backup.ACL)
	}{
		{"unknown operation", func(a *backup.ACL) { a.Operation = "FLY" }},
		{"invalid binding", func(a *backup.ACL) { a.Principal = "alice" }},
		{"operation of another resource type", func(a *backup.ACL) { a.Operation = "CLUSTER_ACTION" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := &backup.Data{ACLs: []backup.ACL{backup.ACLOf(alice)}}
			tc.mutate(&bad.ACLs[0])
			if err := bad.Validate(); !errors.Is(err, backup.ErrCorrupt) {
				t.Errorf("Validate() = %v, want %v", err, backup.ErrCorrupt)
			}
		})
	}
	d.ACLs = []backup.ACL{backup.ACLOf(alice), backup.ACLOf(alice)}
	if err := d.Validate(); !errors.Is(err, backup.ErrCorrupt) {
		t.Fatalf("an ACL listed twice: %v", err)
	}
}

// TestQuotasRoundTrip: client quotas travel in a quotas object, one item
// per entity, each part named or explicitly the default; a backup without
// any has none. A malformed entity, a bad quota and a duplicate are refused.
func TestQuotasRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	d := sample()
	putSegments(t, s, d)
	p, c := quota.ProducerByteRate, quota.ConsumerByteRate
	entities := []quota.Entity{
		{User: quota.Name("alice")},
		{User: quota.Name("<default>")}, // a user so named is not the default
		{User: quota.DefaultPart, ClientID: quota.Name("")},
		{ClientID: quota.DefaultPart},
	}
	values := []map[string]float64{{p: 1048576, c: 2.5e6}, {p: 1}, {c: 512}, {p: 4096}}
	for i, e := range entities {
		d.Quotas = append(d.Quotas, backup.QuotaOf(e, values[i]))
	}
	id := backup.NewID(time.Now())
	m, err := backup.Write(ctx, s, id, backup.Info{ClusterID: "c1", Node: 1}, backup.None, d, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if m.Quotas != 4 || m.ACLs != 0 || len(m.Objects) != 4 {
		t.Fatalf("manifest %+v", m)
	}
	raw, err := s.ReadAll(ctx, "backups/"+id+"/quotas.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`{"user":{"name":"alice"},"quotas":{"consumer_byte_rate":2500000,"producer_byte_rate":1048576}}`,
		`{"user":{"name":"\u003cdefault\u003e"},"quotas":{"producer_byte_rate":1}}`,
		`{"user":{"default":true},"client_id":{"name":""},"quotas":{"consumer_byte_rate":512}}`,
		`{"client_id":{"default":true},"quotas":{"producer_byte_rate":4096}}`,
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("quotas.json lacks %s: %s", want, raw)
		}
	}
	_, loaded, err := backup.Load(ctx, s, id)
	if err != nil || !reflect.DeepEqual(loaded.Quotas, d.Quotas) {
		t.Fatalf("loaded quotas %+v, %v", loaded, err)
	}
	for i, want := range entities {
		if got, err := loaded.Quotas[i].Entity(); err != nil || got != want {
			t.Errorf("quotas %d parse back as %v, %v; want %v", i, got, err, want)
		}
	}

	name := "bob"
	for _, tc := range []struct {
		name   string
		mutate func(q *backup.Quota)
	}{
		{"no part", func(q *backup.Quota) { q.User = nil }},
		{"a part neither named nor default", func(q *backup.Quota) { q.User = &backup.QuotaPart{} }},
		{"a part both named and default", func(q *backup.Quota) { q.User = &backup.QuotaPart{Name: &name, Default: true} }},
		{"no quotas", func(q *backup.Quota) { q.Quotas = nil }},
		{"an unknown quota", func(q *backup.Quota) { q.Quotas = map[string]float64{"request_percentage": 50} }},
		{"a rate of zero", func(q *backup.Quota) { q.Quotas = map[string]float64{p: 0} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := &backup.Data{Quotas: []backup.Quota{backup.QuotaOf(entities[0], values[0])}}
			tc.mutate(&bad.Quotas[0])
			if err := bad.Validate(); !errors.Is(err, backup.ErrCorrupt) {
				t.Errorf("Validate() = %v, want %v", err, backup.ErrCorrupt)
			}
		})
	}
	d.Quotas = []backup.Quota{backup.QuotaOf(entities[0], values[0]), backup.QuotaOf(entities[0], values[1])}
	if err := d.Validate(); !errors.Is(err, backup.ErrCorrupt) {
		t.Fatalf("an entity listed twice: %v", err)
	}
}

func TestWriteLoadRoundTrip(t *testing.T) {
	for _, c := range []string{backup.Zstd, backup.Gzip, backup.None} {
		t.Run(c, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t)
			d := sample()
			putSegments(t, s, d)
			id := backup.NewID(time.Now())
			m, err := backup.Write(ctx, s, id, backup.Info{ClusterID: "c1", Node: 1}, c, d, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if m.Topics != 2 || m.Partitions != 3 || m.Groups != 1 || m.Offsets != 1 || m.Segments != 2 || m.SegmentBytes != 22 || len(m.Objects) != 3 || m.SizeBytes == 0 || m.NextProducerID != 5000 {
				t.Fatalf("manifest %+v", m)
			}
			shown, err := backup.Show(ctx, s, id)
			if err != nil || shown.ID != id || shown.ClusterID != "c1" || len(shown.RecoveryPoint) != 3 {
				t.Fatalf("show: %+v %v", shown, err)
			}
			p, err := backup.Prepare(ctx, s, "") // the latest
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Data, d) || p.Manifest.ID != id || len(p.Notes) != 0 {
				t.Fatalf("loaded %+v\nwant %+v (notes %v)", p.Data, d, p.Notes)
			}
		})
	}
}

// corrupt rewrites one stored object.
func corrupt(t *testing.T, s *tiering.Store, key string, fn func([]byte) []byte) {
	t.Helper()
	ctx := context.Background()
	b, err := s.ReadAll(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b = fn(b)
	if err := s.Put(ctx, key, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRejectsDamage(t *testing.T) {
	tests := []struct {
		name, want string
		damage     func(t *testing.T, s *tiering.Store, dir string)
	}{
		{"flipped byte", "partitions.json.zst fails its SHA-256 check", func(t *testing.T, s *tiering.Store, dir string) {
			corrupt(t, s, dir+"partitions.json.zst", func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
		}},
		{"truncated", "topics.json.zst has", func(t *testing.T, s *tiering.Store, dir string) {
			corrupt(t, s, dir+"topics.json.zst", func(b []byte) []byte { return b[:len(b)-1] })
		}},
		{"missing object", "groups.json.zst is missing", func(t *testing.T, s *tiering.Store, dir string) {
			if err := s.Delete(context.Background(), dir+"groups.json.zst"); err != nil {
				t.Fatal(err)
			}
		}},
		{"missing segment in the middle", "segment object segments/orders-00112233445566778899aabbccddeeff/0/b.seg (offsets 100-199) is missing", func(t *testing.T, s *tiering.Store, _ string) {
			if err := s.Delete(context.Background(), "segments/orders-00112233445566778899aabbccddeeff/0/b.seg"); err != nil {
				t.Fatal(err)
			}
		}},
		{"bad manifest", "manifest.json", func(t *testing.T, s *tiering.Store, dir string) {
			corrupt(t, s, dir+"manifest.json", func(b []byte) []byte { return b[:10] })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t)
			d := sample()
			putSegments(t, s, d)
			id := backup.NewID(time.Now())
			if _, err := backup.Write(ctx, s, id, backup.Info{}, backup.Zstd, d, time.Now()); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, s, "backups/"+id+"/")
			_, err := backup.Prepare(ctx, s, id)
			if !errors.Is(err, backup.ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrCorrupt mentioning %q", err, tt.want)
			}
		})
	}
}

func TestRetentionRaisesLogStart(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	d := sample()
	putSegments(t, s, d)
	if err := s.Delete(ctx, "segments/"+d.Partitions[0].Segments[0].Key); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Write(ctx, s, backup.NewID(time.Now()), backup.Info{}, backup.None, d, time.Now()); err != nil {
		t.Fatal(err)
	}
	p, err := backup.Prepare(ctx, s, "")
	if err != nil {
		t.Fatal(err)
	}
	got := p.Data.Partitions[0]
	if got.LogStart != 100 || len(got.Segments) != 1 || len(p.Notes) != 1 {
		t.Fatalf("partition %+v notes %v", got, p.Notes)
	}
}

func TestListLatestPrune(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	d := sample()
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 4 {
		id := backup.NewID(base.Add(time.Duration(i) * time.Hour))
		ids = append(ids, id)
		if _, err := backup.Write(ctx, s, id, backup.Info{}, backup.Zstd, d, base); err != nil {
			t.Fatal(err)
		}
	}
	// An interrupted backup: objects without a manifest, newest of all.
	partial := backup.NewID(base.Add(5 * time.Hour))
	if err := s.Put(ctx, "backups/"+partial+"/topics.json.zst", bytes.NewReader([]byte("x")), 1); err != nil {
		t.Fatal(err)
	}
	all, err := backup.List(ctx, s)
	if err != nil || len(all) != 5 || all[4].Complete || all[4].Error == "" || !all[0].Complete {
		t.Fatalf("list: %+v %v", all, err)
	}
	if latest, err := backup.Latest(ctx, s); err != nil || latest != ids[3] {
		t.Fatalf("latest %q %v, want %q", latest, err, ids[3])
	}
	deleted, err := backup.Prune(ctx, s, 2)
	if err != nil || !reflect.DeepEqual(deleted, ids[:2]) {
		t.Fatalf("pruned %v %v, want %v", deleted, err, ids[:2])
	}
	all, _ = backup.List(ctx, s)
	if len(all) != 3 || all[0].ID != ids[2] {
		t.Fatalf("after prune: %+v", all)
	}
	if _, err := backup.Show(ctx, s, ids[0]); !errors.Is(err, backup.ErrNotFound) {
		t.Fatalf("show pruned: %v", err)
	}
	if _, err := backup.Show(ctx, s, "../etc"); err == nil || !strings.Contains(err.Error(), "not a backup ID") {
		t.Fatalf("show ../etc: %v", err)
	}
}

func TestPlanFile(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	d := sample()
	putSegments(t, s, d)
	if _, err := backup.Write(ctx, s, backup.NewID(time.Now()), backup.Info{}, backup.Zstd, d, time.Now()); err != nil {
		t.Fatal(err)
	}
	p, err := backup.Prepare(ctx, s, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	if _, ok, err := backup.ReadPlan(dir); ok || err != nil {
		t.Fatalf("no plan yet: %v %v", ok, err)
	}
	if err := backup.WritePlan(dir, p); err != nil {
		t.Fatal(err)
	}
	got, ok, err := backup.ReadPlan(dir)
	if err != nil || !ok || !reflect.DeepEqual(got.Data, d) {
		t.Fatalf("read plan: %v %v", ok, err)
	}
	if err := backup.WritePlan(dir, p); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Fatalf("second plan into a non-empty dir: %v", err)
	}
	if err := backup.RemovePlan(dir); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left %v", entries)
	}
}

func TestServiceBackupAndKeep(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	calls := 0
	svc, err := backup.NewService(backup.Config{Keep: 2, Compression: backup.Gzip}, s, backup.Info{ClusterID: "c"},
		func(context.Context) (*backup.Data, error) { calls++; return sample(), nil }, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := svc.Backup(ctx); err != nil {
			t.Fatal(err)
		}
	}
	all, err := backup.List(ctx, s)
	if err != nil || len(all) != 2 || calls != 3 || all[1].Manifest.Compression != backup.Gzip {
		t.Fatalf("after 3 backups keeping 2: %d listed, %d collected, %v", len(all), calls, err)
	}
	if _, err := backup.NewService(backup.Config{Compression: "lz4"}, s, backup.Info{}, nil, nil, nil); err == nil {
		t.Fatal("lz4 accepted")
	}
}

// The scheduler backs up only while leader() holds, on log growth.
func TestServiceRunLogGrowth(t *testing.T) {
	s := openStore(t)
	var leader, grown atomic.Bool
	var entries atomic.Uint64
	svc, err := backup.NewService(backup.Config{LogGrowthEntries: 100}, s, backup.Info{},
		func(context.Context) (*backup.Data, error) { return sample(), nil }, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.Run(ctx, leader.Load, func() uint64 {
			if grown.Load() {
				return entries.Load() + 150
			}
			return entries.Load()
		})
	}()
	defer func() { cancel(); <-done }()
	count := func() int {
		all, err := backup.List(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		return len(all)
	}
	grown.Store(true) // growth while not leading: nothing
	time.Sleep(1500 * time.Millisecond)
	if n := count(); n != 0 {
		t.Fatalf("%d backups taken by a follower", n)
	}
	grown.Store(false)
	leader.Store(true)
	time.Sleep(1500 * time.Millisecond)
	if n := count(); n != 0 {
		t.Fatalf("%d backups taken without growth", n)
	}
	grown.Store(true)
	deadline := time.Now().Add(5 * time.Second)
	for count() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no backup after the log grew past log-growth-entries")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFeaturesRoundTrip: the cluster's feature levels travel in the
// manifest and come back; a negative level or an empty name is refused.
func TestFeaturesRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	d := sample()
	putSegments(t, s, d)
	d.Features = []backup.Feature{{Name: "transaction.version", Level: 1}}
	id := backup.NewID(time.Now())
	m, err := backup.Write(ctx, s, id, backup.Info{ClusterID: "c1", Node: 1}, backup.None, d, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Objects) != 3 || !reflect.DeepEqual(m.Features, d.Features) {
		t.Fatalf("manifest %+v", m)
	}
	if _, loaded, err := backup.Load(ctx, s, id); err != nil || !reflect.DeepEqual(loaded.Features, d.Features) {
		t.Fatalf("loaded features %+v, %v", loaded, err)
	}
	for _, bad := range [][]backup.Feature{{{Name: "transaction.version", Level: -1}}, {{Level: 1}}, {{Name: "a", Level: 1}, {Name: "a", Level: 2}}} {
		if err := (&backup.Data{Features: bad}).Validate(); !errors.Is(err, backup.ErrCorrupt) {
			t.Errorf("Validate(%v) = %v, want %v", bad, err, backup.ErrCorrupt)
		}
	}
}

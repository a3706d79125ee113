//go:build integration

package broker_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/chronik-go/chronik/core/acl"
	"github.com/chronik-go/chronik/core/adminhttp"
	"github.com/chronik-go/chronik/core/backup"
	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/config"
	"github.com/chronik-go/chronik/core/opsctl"
	"github.com/chronik-go/chronik/core/quota"
	"github.com/chronik-go/chronik/core/tier"
)

// drTopics are the round trip's topics: partitions each.
var drTopics = map[string]int32{"dr-orders": 2, "dr-audit": 1}

// TestBackupRestoreRoundTrip is the single-node disaster recovery of issue
// 7 on the local-directory backend: tiered topics and a consumer group are
// backed up, the data dir is deleted (the bucket, outside it, survives), a
// restore plan is written into a fresh data dir and the broker started on
// it: every record reads back identical at the same offset, the group
// resumes from its committed offsets, and the topics keep their UUIDs and
// configs. A corrupted backup object fails the restore and writes nothing.
func TestBackupRestoreRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bucket := t.TempDir()
	from := (&url.URL{Scheme: "file", Path: filepath.ToSlash(bucket)}).String()
	cfg := drConfig(t, from)
	cfg.Kafka.SuperUsers = []string{"User:ANONYMOUS"} // no SASL here: may manage credentials
	b, err := broker.Start(ctx, cfg, brokertest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = b.Stop(context.Background())
		}
	}()

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	seg := fmt.Sprint(tierSegmentBytes)
	for name, parts := range drTopics {
		resp, err := adm.CreateTopic(ctx, parts, 1, map[string]*string{
			"remote.storage.enable": kadm.StringPtr("true"),
			"segment.bytes":         &seg,
			"segment.ms":            kadm.StringPtr("300"), // the tail is uploaded too: everything is recoverable
			"local.retention.bytes": kadm.StringPtr(fmt.Sprint(tierLocalBytes)),
			"retention.ms":          kadm.StringPtr("-1"),
			"cleanup.policy":        kadm.StringPtr("delete"),
		}, name)
		if err != nil || resp.Err != nil {
			t.Fatalf("create %s: %v %v", name, err, resp.Err)
		}
	}
	produced := map[string][]*kgo.Record{} // topic/partition → records in offset order
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for name := range drTopics {
		for _, r := range brokertest.Produce(ctx, t, []string{b.KafkaAddr()}, name, drTopics[name], 10000, 180, base) {
			k := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
			produced[k] = append(produced[k], r)
		}
	}
	for k, recs := range produced {
		topic, p := splitTP(t, k)
		waitTier(t, b.HTTPAddr(), topic, p, "everything tiered", func(ps tier.PartitionStatus) bool {
			return ps.TieredEnd == int64(len(recs)) && ps.HighWatermark == int64(len(recs))
		})
	}

	// A SCRAM user, set through the Kafka API.
	if r, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "bob", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "bob-secret"}}); err != nil || r.Error() != nil {
		t.Fatalf("set a SCRAM credential: %v %v", err, r.Error())
	}
	// An ACL.
	bobReads := acl.Binding{
		ResourceType: kmsg.ACLResourceTypeTopic, ResourceName: "dr-", PatternType: kmsg.ACLResourcePatternTypePrefixed,
		Principal: "User:bob", Host: "*", Operation: kmsg.ACLOperationRead, Permission: kmsg.ACLPermissionTypeAllow,
	}
	if err := broker.ACLStoreOf(b).CreateACLs(ctx, []acl.Binding{bobReads}); err != nil {
		t.Fatalf("create an ACL: %v", err)
	}
	// A client quota, far above what the test produces.
	bobQuota := quota.Entity{User: quota.Name("bob"), ClientID: quota.DefaultPart}
	bobRates := map[string]float64{quota.ProducerByteRate: 64 << 20, quota.ConsumerByteRate: 128 << 20}
	if err := broker.QuotaStoreOf(b).AlterQuotas(ctx, []quota.Alteration{{Entity: bobQuota, Ops: []quota.Op{
		{Key: quota.ProducerByteRate, Value: bobRates[quota.ProducerByteRate]},
		{Key: quota.ConsumerByteRate, Value: bobRates[quota.ConsumerByteRate]},
	}}}); err != nil {
		t.Fatalf("set a client quota: %v", err)
	}

	// A feature level set for the cluster (kafka-features.sh downgrade).
	uf := kmsg.NewPtrUpdateFeaturesRequest()
	uf.Version, uf.TimeoutMillis = 1, 5000
	uf.FeatureUpdates = []kmsg.UpdateFeaturesRequestFeatureUpdate{{Feature: "transaction.version", MaxVersionLevel: 1, UpgradeType: 2}}
	if r, err := uf.RequestWith(ctx, cl); err != nil || r.ErrorCode != 0 {
		t.Fatalf("set transaction.version 1: %v %+v", err, r)
	}

	// A group reads part of dr-orders and commits.
	const group = "dr-group"
	committed := brokertest.ConsumeAndCommit(ctx, t, []string{b.KafkaAddr()}, group, "dr-orders", 3000)
	before := brokertest.DescribeTopics(ctx, t, adm)
	cl.Close()

	// Back up through the admin API, as chronik backup now does.
	m, err := opsctl.BackupNow(ctx, opsctl.Admin{Addrs: []string{b.HTTPAddr()}, HTTP: adminhttp.Plain(0)})
	if err != nil {
		t.Fatal(err)
	}
	if m.Topics != 2 || m.Partitions != 3 || m.Groups != 1 || m.Offsets != 2 || m.Users != 1 || m.ACLs != 1 || m.Quotas != 1 ||
		!reflect.DeepEqual(m.Features, []backup.Feature{{Name: "transaction.version", Level: 1}}) {
		t.Fatalf("manifest: %+v", m.Manifest)
	}
	t.Logf("backup %s: %d objects, %d bytes (%s), %d segments (%d bytes) referenced, took %.0f ms",
		m.ID, len(m.Objects), m.SizeBytes, m.Compression, m.Segments, m.SegmentBytes, m.DurationSeconds*1000)
	if list, err := opsctl.BackupList(ctx, opsctl.Admin{Addrs: []string{b.HTTPAddr()}, HTTP: adminhttp.Plain(0)}); err != nil || len(list.Backups) != 1 || list.Backups[0].ID != m.ID {
		t.Fatalf("list: %+v %v", list, err)
	}
	if got := metricsText(t, b.HTTPAddr()); !strings.Contains(got, "\nchronik_backup_size_bytes") || !strings.Contains(got, "\nchronik_backup_last_success_timestamp_seconds") {
		t.Errorf("backup metrics missing from /metrics")
	}

	// Records tiered after the backup are restored too: the recovery
	// point is the last segment upload.
	produced["dr-audit/0"] = append(produced["dr-audit/0"], brokertest.Produce(ctx, t, []string{b.KafkaAddr()}, "dr-audit", 1, 2000, 180, base)...)
	waitTier(t, b.HTTPAddr(), "dr-audit", 0, "records after the backup tiered", func(ps tier.PartitionStatus) bool {
		return ps.TieredEnd == int64(len(produced["dr-audit/0"]))
	})

	// The manifests a broker serves its peers match the backup's.
	resp, err := http.Get("http://" + b.HTTPAddr() + "/v1/tier/manifests")
	if err != nil {
		t.Fatal(err)
	}
	var led []struct {
		backup.Partition
		Leader bool `json:"leader"`
	}
	err = json.NewDecoder(resp.Body).Decode(&led)
	resp.Body.Close()
	if err != nil || len(led) != 3 || len(led[0].Segments) == 0 || led[0].TieredEnd != int64(len(produced[led[0].Topic+"/0"])) || led[0].Topic != "dr-audit" || !led[0].Leader {
		t.Fatalf("GET /v1/tier/manifests: %d partitions, %v", len(led), err)
	}

	// Disaster: the broker and its disk are gone; the bucket survives.
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if err := os.RemoveAll(cfg.DataDir); err != nil {
		t.Fatal(err)
	}

	// A corrupted object: the restore fails naming it and writes nothing.
	obj := filepath.Join(bucket, "backups", m.ID, "partitions.json.zst")
	good, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 0x40
	if err := os.WriteFile(obj, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	fresh := drConfig(t, from)
	fresh.Kafka.SuperUsers = cfg.Kafka.SuperUsers
	_, err = opsctl.PrepareRestore(ctx, opsctl.RestoreOptions{From: from, DataDir: fresh.DataDir})
	if !errors.Is(err, backup.ErrCorrupt) || !strings.Contains(err.Error(), "partitions.json.zst fails its SHA-256 check") {
		t.Fatalf("restore of a corrupt backup: %v", err)
	}
	if entries, _ := os.ReadDir(fresh.DataDir); len(entries) != 0 {
		t.Fatalf("a failed restore wrote into the data dir: %v", entries)
	}
	if err := os.WriteFile(obj, good, 0o644); err != nil {
		t.Fatal(err)
	}

	// Restore into the fresh data dir, then start on it.
	t0 := time.Now()
	r, err := opsctl.PrepareRestore(ctx, opsctl.RestoreOptions{From: from, DataDir: fresh.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	prepared := time.Since(t0)
	if notes := strings.Join(r.Plan.Notes, "\n"); !strings.Contains(notes, "dr-audit/0:") || !strings.Contains(notes, "uploaded after the backup extend it to offset 12000") {
		t.Errorf("the plan does not extend dr-audit/0 with the segments uploaded after the backup; notes:\n%s", notes)
	}
	var out bytes.Buffer
	if err := r.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	t.Logf("restore plan:\n%s", &out)
	planBytes, err := os.ReadFile(backup.PlanPath(fresh.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	b2 := brokertest.Start(t, fresh)
	started := time.Since(t1)
	t.Logf("recovery time: verify+plan %v, broker start with restore %v, total %v", prepared.Round(time.Millisecond), started.Round(time.Millisecond), (prepared + started).Round(time.Millisecond))
	if _, err := os.Stat(backup.PlanPath(fresh.DataDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the restore plan was not deleted: %v", err)
	}

	cl2, err := kgo.NewClient(kgo.SeedBrokers(b2.KafkaAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	adm2 := kadm.NewClient(cl2)
	if after := brokertest.DescribeTopics(ctx, t, adm2); !reflect.DeepEqual(before, after) {
		t.Errorf("topics after restore differ:\nbefore %v\nafter  %v", before, after)
	}
	for k, recs := range produced {
		topic, p := splitTP(t, k)
		brokertest.CheckPartition(ctx, t, []string{b2.KafkaAddr()}, topic, p, recs)
	}
	got, err := adm2.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for p, off := range committed {
		o, ok := got.Lookup("dr-orders", p)
		if !ok || o.At != off {
			t.Errorf("group offset of dr-orders/%d after restore: %+v, want %d", p, o, off)
		}
	}
	resumeGroup(ctx, t, b2.KafkaAddr(), group, "dr-orders", committed, produced)
	if users, err := adm2.DescribeUserSCRAMs(ctx); err != nil || len(users["bob"].CredInfos) != 1 || users["bob"].CredInfos[0].Iterations != 8192 {
		t.Errorf("SCRAM credentials after restore: %+v, %v", users, err)
	}
	if got := broker.ACLStoreOf(b2).ACLs().Bindings(); !reflect.DeepEqual(got, []acl.Binding{bobReads}) {
		t.Errorf("ACLs after restore: %v, want %v", got, bobReads)
	}
	if got := broker.QuotaStoreOf(b2).Quotas(); got.Len() != 1 || !maps.Equal(got.Quotas(bobQuota), bobRates) {
		t.Errorf("client quotas after restore: %v %v, want %s %v", got.Entities(), got.Quotas(bobQuota), bobQuota, bobRates)
	}
	av := kmsg.NewPtrApiVersionsRequest()
	av.ClientSoftwareName, av.ClientSoftwareVersion = "test", "1"
	if r, err := av.RequestWith(ctx, cl2); err != nil || !slices.ContainsFunc(r.FinalizedFeatures, func(f kmsg.ApiVersionsResponseFinalizedFeature) bool {
		return f.Name == "transaction.version" && f.MaxVersionLevel == 1
	}) {
		t.Errorf("feature levels after restore: %v %+v, want transaction.version 1", err, r)
	}
	// Changed since: a second apply of the plan leaves it alone.
	bobRates = map[string]float64{quota.ProducerByteRate: 32 << 20}
	if err := broker.QuotaStoreOf(b2).AlterQuotas(ctx, []quota.Alteration{{Entity: bobQuota, Ops: []quota.Op{
		{Key: quota.ProducerByteRate, Value: bobRates[quota.ProducerByteRate]}, {Key: quota.ConsumerByteRate, Remove: true},
	}}}); err != nil {
		t.Fatalf("alter a restored client quota: %v", err)
	}

	// The restored log takes new records at its end.
	pr := &kgo.Record{Topic: "dr-audit", Partition: 0, Value: []byte("after restore")}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(b2.KafkaAddr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	if err := pcl.ProduceSync(ctx, pr).FirstErr(); err != nil || pr.Offset != int64(len(produced["dr-audit/0"])) {
		t.Fatalf("produce after restore: offset %d, %v", pr.Offset, err)
	}
	pcl.Close()
	cl2.Close()

	// A plan applied again (a broker that crashed before deleting it)
	// changes nothing: every step applies only to empty targets.
	if err := b2.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(backup.PlanPath(fresh.DataDir)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(backup.PlanPath(fresh.DataDir), planBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	b3 := brokertest.Start(t, fresh)
	if _, err := os.Stat(backup.PlanPath(fresh.DataDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the re-applied plan was not deleted: %v", err)
	}
	cl3, err := kgo.NewClient(kgo.SeedBrokers(b3.KafkaAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl3.Close()
	adm3 := kadm.NewClient(cl3)
	if after := brokertest.DescribeTopics(ctx, t, adm3); !reflect.DeepEqual(before, after) {
		t.Errorf("topics after a second apply differ:\nbefore %v\nafter  %v", before, after)
	}
	ends, err := adm3.ListEndOffsets(ctx, "dr-audit")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("dr-audit", 0); o.Offset != int64(len(produced["dr-audit/0"]))+1 {
		t.Errorf("dr-audit/0 ends at %d after a second apply, want %d", o.Offset, len(produced["dr-audit/0"])+1)
	}
	if got, err := adm3.FetchOffsets(ctx, group); err != nil {
		t.Fatal(err)
	} else {
		for p, off := range committed {
			if o, ok := got.Lookup("dr-orders", p); !ok || o.At != off {
				t.Errorf("group offset of dr-orders/%d after a second apply: %+v, want %d", p, o, off)
			}
		}
	}
	if got := broker.ACLStoreOf(b3).ACLs().Bindings(); !reflect.DeepEqual(got, []acl.Binding{bobReads}) {
		t.Errorf("ACLs after a second apply: %v, want %v", got, bobReads)
	}
	if got := broker.QuotaStoreOf(b3).Quotas(); got.Len() != 1 || !maps.Equal(got.Quotas(bobQuota), bobRates) {
		t.Errorf("client quotas after a second apply: %v %v, want %s %v (as altered since the restore)", got.Entities(), got.Quotas(bobQuota), bobQuota, bobRates)
	}
	brokertest.CheckPartition(ctx, t, []string{b3.KafkaAddr()}, "dr-orders", 1, produced["dr-orders/1"])
}

func drConfig(t *testing.T, from string) config.Config {
	t.Helper()
	cfg := brokertest.Config(t)
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Tier.URL = from
	cfg.Tier.CheckInterval = 50 * time.Millisecond
	cfg.Backup.Interval = 0
	return cfg
}

func splitTP(t *testing.T, k string) (string, int32) {
	t.Helper()
	i := strings.LastIndexByte(k, '/')
	var p int32
	if _, err := fmt.Sscan(k[i+1:], &p); err != nil {
		t.Fatal(err)
	}
	return k[:i], p
}

// resumeGroup joins the group again and checks that each partition's first
// record is the one at its committed offset.
func resumeGroup(ctx context.Context, t *testing.T, addr, group, topic string, committed map[int32]int64, produced map[string][]*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	first := map[int32]int64{}
	for len(first) < len(committed) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("resumed group saw %v, want the first record of %d partitions: %v", first, len(committed), err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("resumed group fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			if _, ok := first[r.Partition]; !ok {
				first[r.Partition] = r.Offset
				w := produced[fmt.Sprintf("%s/%d", topic, r.Partition)][r.Offset]
				if !bytes.Equal(r.Value, w.Value) {
					t.Errorf("resumed record %d/%d differs", r.Partition, r.Offset)
				}
			}
		})
	}
	for p, off := range committed {
		if first[p] != off {
			t.Errorf("group resumed dr-orders/%d at %d, want the committed %d", p, first[p], off)
		}
	}
}

// TestBackupRestoreTokens: a delegation token survives the loss of the
// broker's disk: it is in the backup (its metadata; the HMAC comes from
// the secret), and after a restore onto brokers with the same secret a
// worker logs in with it again. A token expired by then is not restored.
func TestBackupRestoreTokens(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bucket := t.TempDir()
	from := (&url.URL{Scheme: "file", Path: filepath.ToSlash(bucket)}).String()
	withTokens := func(cfg *config.Config) {
		brokertest.SASLUsers(t, cfg, []string{"SCRAM-SHA-512"}, "alice")
		cfg.Kafka.DelegationTokenSecretKey = "a secret shared by every broker"
	}
	cfg := drConfig(t, from)
	withTokens(&cfg)
	b, err := broker.Start(ctx, cfg, brokertest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	alice, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()), kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	create := kmsg.NewPtrCreateDelegationTokenRequest()
	token, err := create.RequestWith(ctx, alice)
	if err != nil || token.ErrorCode != 0 {
		t.Fatalf("create: %+v, %v", token, err)
	}
	create.MaxLifetimeMillis = 2000
	short, err := create.RequestWith(ctx, alice)
	if err != nil || short.ErrorCode != 0 {
		t.Fatalf("create a short token: %+v, %v", short, err)
	}
	alice.Close()
	m, err := opsctl.BackupNow(ctx, opsctl.Admin{Addrs: []string{b.HTTPAddr()}, HTTP: adminhttp.Plain(0)})
	if err != nil || m.Tokens != 2 {
		t.Fatalf("backup: %+v, %v", m, err)
	}
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(cfg.DataDir); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(time.UnixMilli(short.MaxTimestamp).Add(10 * time.Millisecond)))

	fresh := drConfig(t, from)
	withTokens(&fresh)
	if _, err := opsctl.PrepareRestore(ctx, opsctl.RestoreOptions{From: from, DataDir: fresh.DataDir}); err != nil {
		t.Fatal(err)
	}
	b2 := brokertest.Start(t, fresh)
	worker, err := kgo.NewClient(kgo.SeedBrokers(b2.KafkaAddr()), kgo.RequestRetries(0),
		kgo.SASL(scram.Auth{User: token.TokenID, Pass: base64.StdEncoding.EncodeToString(token.HMAC), IsToken: true}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Close()
	if _, err := kadm.NewClient(worker).ListTopics(ctx); err != nil {
		t.Fatalf("a worker with the restored token: %v", err)
	}
	admin, err := kgo.NewClient(kgo.SeedBrokers(b2.KafkaAddr()), kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	described, err := kmsg.NewPtrDescribeDelegationTokenRequest().RequestWith(ctx, admin)
	if err != nil || described.ErrorCode != 0 || len(described.TokenDetails) != 1 || described.TokenDetails[0].TokenID != token.TokenID {
		t.Fatalf("tokens after the restore (want only the live one): %+v, %v", described, err)
	}
}

//go:build integration

package broker_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/chronik-go/chronik/core/acl"
	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/config"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/core/quota"
	"github.com/chronik-go/chronik/raftsm"
)

// TestACLsKeptByTheCluster: with kafka.authorizer = "acl", ACLs created
// through the broker's ACL store (as CreateAcls will) are listed by filter,
// decide what alice and bob may produce while the super user may do
// everything, survive a restart, and are deleted by filter.
//
// The ACLs are managed through broker.ACLStoreOf, not kadm: the Kafka ACL
// APIs are served separately (kafka/29_*, 30_*, 31_*).
func TestACLsKeptByTheCluster(t *testing.T) {
	cfg := brokertest.Config(t)
	brokertest.SASLUsers(t, &cfg, []string{"PLAIN"}, "admin", "alice", "bob")
	cfg.Kafka.SuperUsers = []string{"User:admin"}
	cfg.Kafka.Authorizer = "acl"
	cfg.Kafka.AutoCreateTopics = false
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := broker.Start(ctx, cfg, brokertest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Stop(context.Background()) }()
	client := func(user string) *kgo.Client {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()),
			kgo.SASL(plain.Auth{User: user, Pass: user + "-secret"}.AsMechanism()), kgo.RequestRetries(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}

	allow := func(rt kmsg.ACLResourceType, pattern kmsg.ACLResourcePatternType, name string, op kmsg.ACLOperation) acl.Binding {
		return acl.Binding{
			ResourceType: rt, ResourceName: name, PatternType: pattern,
			Principal: "User:alice", Host: "*", Operation: op, Permission: kmsg.ACLPermissionTypeAllow,
		}
	}
	want := []acl.Binding{
		allow(kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypePrefixed, "orders-", kmsg.ACLOperationWrite),
		allow(kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypePrefixed, "orders-", kmsg.ACLOperationDescribe),
		allow(kmsg.ACLResourceTypeGroup, kmsg.ACLResourcePatternTypeLiteral, "g1", kmsg.ACLOperationRead),
	}
	slices.SortFunc(want, acl.Compare)
	store := broker.ACLStoreOf(b)
	before := store.ACLs()
	if before == nil || before.Len() != 0 {
		t.Fatalf("a new cluster has ACLs: %v", before.Bindings())
	}
	if err := store.CreateACLs(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := store.CreateACLs(ctx, want[:1]); err != nil {
		t.Fatalf("creating an existing ACL again: %v", err)
	}
	invalid := want[0]
	invalid.Principal = "alice"
	if err := store.CreateACLs(ctx, []acl.Binding{want[0], invalid}); err == nil {
		t.Fatal("an invalid ACL was accepted")
	}
	str := func(s string) *string { return &s }
	alices := acl.Filter{
		ResourceType: kmsg.ACLResourceTypeAny, PatternType: kmsg.ACLResourcePatternTypeAny, Principal: str("User:alice"),
		Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny,
	}
	if got := store.ACLs().Match(alices); !slices.Equal(got, want) {
		t.Fatalf("alice's ACLs: %v, want %v", got, want)
	}

	// The listener decides with them: the super user creates the topic,
	// alice may produce to it, bob may not.
	if r, err := kadm.NewClient(client("admin")).CreateTopic(ctx, 1, 1, nil, "orders-eu"); err != nil || r.Err != nil {
		t.Fatalf("create a topic as the super user: %v %v", err, r.Err)
	}
	produce := func(user string) error {
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
		defer pcancel()
		return client(user).ProduceSync(pctx, &kgo.Record{Topic: "orders-eu", Value: []byte(user)}).FirstErr()
	}
	if err := produce("alice"); err != nil {
		t.Errorf("alice produces to orders-eu: %v", err)
	}
	if err := produce("bob"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("bob produces to orders-eu: %v, want %v", err, kerr.TopicAuthorizationFailed)
	}

	// Through the Kafka API on the real broker: the super user lets alice
	// read the topics too; she consumes in group g1 (JoinGroup, SyncGroup,
	// OffsetCommit against the real coordinator) and is refused group g2.
	adm := kadm.NewClient(client("admin"))
	readOrders := kadm.NewACLs().Allow("User:alice").Topics("orders-").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpRead)
	if res, err := adm.CreateACLs(ctx, readOrders); err != nil || res[0].Err != nil {
		t.Fatalf("CreateAcls through the Kafka API: %v %+v", err, res)
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()),
		kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()),
		kgo.ConsumerGroup("g1"), kgo.ConsumeTopics("orders-eu"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
	fetches := consumer.PollFetches(cctx)
	ccancel()
	if err := fetches.Err(); err != nil || fetches.NumRecords() != 1 || string(fetches.Records()[0].Value) != "alice" {
		t.Fatalf("alice consumes orders-eu in g1: %v, %d records", err, fetches.NumRecords())
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("alice commits in g1: %v", err)
	}
	consumer.Close()
	committed, err := kadm.NewClient(client("alice")).FetchOffsets(ctx, "g1")
	if err != nil {
		t.Fatalf("alice fetches g1's offsets: %v", err)
	}
	if o, ok := committed.Lookup("orders-eu", 0); !ok || o.At != 1 {
		t.Fatalf("g1's offset on orders-eu/0: %+v (found %v), want 1", o, ok)
	}
	if _, err := kadm.NewClient(client("alice")).FetchOffsets(ctx, "g2"); !errors.Is(err, kerr.GroupAuthorizationFailed) {
		t.Fatalf("alice fetches g2's offsets: %v, want %v", err, kerr.GroupAuthorizationFailed)
	}
	if res, err := adm.DeleteACLs(ctx, readOrders.AllowHosts("*")); err != nil || len(res) != 1 || res[0].Err != nil || len(res[0].Deleted) != 1 {
		t.Fatalf("DeleteAcls through the Kafka API: %v %+v", err, res)
	}

	// ACLs are cluster state: they survive a restart.
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if b, err = broker.Start(ctx, cfg, brokertest.Logger()); err != nil {
		t.Fatal(err)
	}
	store = broker.ACLStoreOf(b)
	if got := store.ACLs().Bindings(); !slices.Equal(got, want) {
		t.Fatalf("ACLs after a restart: %v, want %v", got, want)
	}

	groups := acl.Filter{
		ResourceType: kmsg.ACLResourceTypeGroup, PatternType: kmsg.ACLResourcePatternTypeMatch, ResourceName: str("g1"),
		Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny,
	}
	deleted, err := store.DeleteACLs(ctx, []acl.Filter{groups, alices})
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 2 || !slices.Equal(deleted[0], want[2:]) || !slices.Equal(deleted[1], want) {
		t.Fatalf("deleted %v; want %v then %v", deleted, want[2:], want)
	}
	if n := store.ACLs().Len(); n != 0 {
		t.Fatalf("%d ACLs left after deleting them all", n)
	}
}

// TestACLsAndQuotasAcrossBrokers: an ACL and a quota set through one broker
// of three hold on the others too (the meta shard applies them on every
// broker): bob, denied a topic through broker 1, is refused its metadata by
// each broker; a quota set through broker 3 throttles a producer at the
// brokers leading the topic's partitions.
func TestACLsAndQuotasAcrossBrokers(t *testing.T) {
	brokers, nodes := brokertest.StartCluster(t, 3, func(cfg *config.Config) {
		brokertest.SASLUsers(t, cfg, []string{"PLAIN"}, "admin", "bob")
		cfg.Kafka.SuperUsers = []string{"User:admin"}
		cfg.Kafka.Authorizer = "acl"
		cfg.Kafka.AllowEveryoneIfNoACLFound = true
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := func(user, seed string, opts ...kgo.Opt) *kgo.Client {
		t.Helper()
		cl, err := kgo.NewClient(append([]kgo.Opt{
			kgo.SeedBrokers(seed),
			kgo.SASL(plain.Auth{User: user, Pass: user + "-secret"}.AsMechanism()),
		}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	// Each broker registers with this release's command level, which the
	// ACL and quota changes below need of all of them.
	deadline := time.Now().Add(10 * time.Second)
	for _, n := range nodes {
		for {
			r, _ := broker.ClusterOf(brokers[0]).RegistryRecord(n.ID)
			if r.Level == raftsm.CommandLevel {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("broker %d registered as %+v, want level %d", n.ID, r, raftsm.CommandLevel)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	adm := kadm.NewClient(client("admin", nodes[0].Kafka))
	if r, err := adm.CreateTopic(ctx, 3, 3, nil, "spread"); err != nil || r.Err != nil {
		t.Fatalf("create: %v %v", err, r.Err)
	}
	if res, err := adm.CreateACLs(ctx, kadm.NewACLs().Deny("User:bob").DenyHosts("*").Topics("spread").Operations(kadm.OpAll)); err != nil || res[0].Err != nil {
		t.Fatalf("CreateAcls through broker 1: %v %+v", err, res)
	}
	bob := client("bob", nodes[0].Kafka)
	for _, n := range nodes {
		deadline = time.Now().Add(10 * time.Second)
		for {
			req := kmsg.NewPtrMetadataRequest()
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr("spread")
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, bob.Broker(int(n.ID)))
			if err != nil {
				t.Fatalf("broker %d: %v", n.ID, err)
			}
			if resp.Topics[0].ErrorCode == kerr.TopicAuthorizationFailed.Code {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("broker %d does not enforce the ACL made through broker 1: %v", n.ID, kerr.ErrorForCode(resp.Topics[0].ErrorCode))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// A quota set through broker 3 holds wherever the partitions lead.
	adm3 := kadm.NewClient(client("admin", nodes[2].Kafka))
	entity := kadm.ClientQuotaEntity{{Type: "client-id", Name: kmsg.StringPtr("slow")}}
	if res, err := adm3.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: entity, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1000}},
	}}); err != nil || res[0].Err != nil {
		t.Fatalf("AlterClientQuotas through broker 3: %v %+v", err, res)
	}
	var throttled atomic.Int64
	slow := client("admin", nodes[1].Kafka, kgo.ClientID("slow"), kgo.DefaultProduceTopic("spread"),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.WithHooks(throttleHook{&throttled}))
	value := []byte(strings.Repeat("q", 25_000)) // 2.5× the 10 s allowance at 1000 B/s
	deadline = time.Now().Add(20 * time.Second)
	for throttled.Load() == 0 {
		if err := slow.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no broker throttled by the quota set through broker 3")
		}
	}
}

// throttleHook counts the throttles brokers report to a client.
type throttleHook struct{ n *atomic.Int64 }

func (h throttleHook) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	if d > 0 {
		h.n.Add(1)
	}
}

// TestMetaChangesWaitForUpgradedBrokers: ACL, quota and SCRAM changes are
// refused (UNSUPPORTED_VERSION, naming the broker) while a registered
// broker last started with a release that does not apply their meta
// commands, and allowed once it registers with this release's level; so
// are transactions (InitProducerId with a transactional ID) while a broker
// lacks the transaction commands (level 1), and the verification of
// transactional produces and controller_mutation_rate quotas while a broker
// lacks the append guard (level 2).
// TestACLsAndQuotasAcrossBrokers checks that brokers register their level.
func TestMetaChangesWaitForUpgradedBrokers(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Kafka.Authorizer = "acl"
	cfg.Kafka.SuperUsers = []string{"User:ANONYMOUS"}
	b := brokertest.Start(t, cfg)
	c := broker.ClusterOf(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seed := cl.SeedBrokers()[0] // the registry below does not list this single node
	// Produce v13 addresses topics by ID: stay below it to name "lv".
	pcl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()), kgo.MaxVersions(kversion.V3_7_0()))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	pseed := pcl.SeedBrokers()[0]
	if _, err := kadm.NewClient(pcl).CreateTopic(ctx, 1, 1, nil, "lv"); err != nil {
		t.Fatal(err)
	}
	createACL := func() int16 {
		t.Helper()
		req := kmsg.NewPtrCreateACLsRequest()
		cr := kmsg.NewCreateACLsRequestCreation()
		cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = kmsg.ACLResourceTypeTopic, "t", kmsg.ACLResourcePatternTypeLiteral
		cr.Principal, cr.Host, cr.Operation, cr.PermissionType = "User:alice", "*", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
		req.Creations = append(req.Creations, cr)
		resp, err := req.RequestWith(ctx, seed)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Results[0].ErrorCode != 0 && !strings.Contains(*resp.Results[0].ErrorMessage, "broker(s) 9") {
			t.Errorf("the refusal does not name broker 9: %s", *resp.Results[0].ErrorMessage)
		}
		return resp.Results[0].ErrorCode
	}
	// A broker of an older release (level 0).
	if err := c.RegisterBroker(ctx, cluster.BrokerRecord{ID: 9, Kafka: "127.0.0.9:9092", Raft: "127.0.0.9:9095"}); err != nil {
		t.Fatal(err)
	}
	if code := createACL(); code != kerr.UnsupportedVersion.Code {
		t.Fatalf("CreateAcls with broker 9 on an older release: %v", kerr.ErrorForCode(code))
	}
	alterQuota := func(key string) int16 {
		t.Helper()
		req := kmsg.NewPtrAlterClientQuotasRequest()
		entry := kmsg.NewAlterClientQuotasRequestEntry()
		ent := kmsg.NewAlterClientQuotasRequestEntryEntity()
		ent.Type, ent.Name = "user", kmsg.StringPtr("alice")
		op := kmsg.NewAlterClientQuotasRequestEntryOp()
		op.Key, op.Value = key, 1000
		entry.Entity, entry.Ops = append(entry.Entity, ent), append(entry.Ops, op)
		req.Entries = append(req.Entries, entry)
		resp, err := req.RequestWith(ctx, seed)
		if err != nil {
			t.Fatal(err)
		}
		if code := resp.Entries[0].ErrorCode; code != 0 && !strings.Contains(*resp.Entries[0].ErrorMessage, "broker(s) 9") {
			t.Errorf("the refusal of %s does not name broker 9: %s", key, *resp.Entries[0].ErrorMessage)
		}
		return resp.Entries[0].ErrorCode
	}
	if code := alterQuota(quota.ProducerByteRate); code != kerr.UnsupportedVersion.Code {
		t.Fatalf("AlterClientQuotas with broker 9 on an older release: %v", kerr.ErrorForCode(code))
	}
	scram := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	up := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
	up.Name, up.Mechanism, up.Iterations, up.Salt, up.SaltedPassword = "alice", 1, 4096, []byte("salt"), make([]byte, 32)
	scram.Upsertions = append(scram.Upsertions, up)
	if resp, err := scram.RequestWith(ctx, seed); err != nil || resp.Results[0].ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("AlterUserScramCredentials with broker 9 on an older release: %v %+v", err, resp)
	}
	var pid int64
	var epoch int16
	initTxn := func() int16 {
		t.Helper()
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr("tx"), 60000
		resp, err := req.RequestWith(ctx, seed)
		if err != nil {
			t.Fatal(err)
		}
		pid, epoch = resp.ProducerID, resp.ProducerEpoch
		return resp.ErrorCode
	}
	// Broker 9 on a release with ACLs, but without transactions.
	if err := c.RegisterBroker(ctx, cluster.BrokerRecord{ID: 9, Kafka: "127.0.0.9:9092", Raft: "127.0.0.9:9095", Level: raftsm.LevelSecurity}); err != nil {
		t.Fatal(err)
	}
	if code := createACL(); code != 0 {
		t.Fatalf("CreateAcls once broker 9 applies them: %v", kerr.ErrorForCode(code))
	}
	if code := initTxn(); code != kerr.UnsupportedVersion.Code {
		t.Fatalf("transactional InitProducerId with broker 9 on a release without transactions: %v", kerr.ErrorForCode(code))
	}
	// Broker 9 on a release with transactions, without the append guard:
	// transactional produces are not verified with the coordinator.
	if err := c.RegisterBroker(ctx, cluster.BrokerRecord{ID: 9, Kafka: "127.0.0.9:9092", Raft: "127.0.0.9:9095", Level: raftsm.LevelTransactions}); err != nil {
		t.Fatal(err)
	}
	if code := initTxn(); code != 0 {
		t.Fatalf("transactional InitProducerId once broker 9 has transactions: %v", kerr.ErrorForCode(code))
	}
	// Quotas, but not yet controller_mutation_rate, which broker 9's meta
	// shard would refuse.
	if code := alterQuota(quota.ProducerByteRate); code != 0 {
		t.Fatalf("producer_byte_rate once broker 9 applies quotas: %v", kerr.ErrorForCode(code))
	}
	if code := alterQuota(quota.ControllerMutationRate); code != kerr.UnsupportedVersion.Code {
		t.Fatalf("controller_mutation_rate with broker 9 on a release without it: %v", kerr.ErrorForCode(code))
	}
	// Nor KIP-890 part 2: transaction.version is not finalized, and
	// EndTxn v5 does not bump (an abort with nothing open is refused as
	// before).
	finalizedTV := func() int16 {
		t.Helper()
		resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, seed)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range resp.FinalizedFeatures {
			if f.Name == "transaction.version" {
				return f.MaxVersionLevel
			}
		}
		return 0
	}
	endV5 := func() (int16, int16) {
		t.Helper()
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = "tx", pid, epoch
		resp, err := req.RequestWith(ctx, seed)
		if err != nil || resp.Version < 5 {
			t.Fatalf("EndTxn v5: %v (version %d)", err, resp.Version)
		}
		return resp.ErrorCode, resp.ProducerEpoch
	}
	if tv := finalizedTV(); tv != 0 {
		t.Fatalf("transaction.version %d finalized with broker 9 on a release without it", tv)
	}
	if code, e := endV5(); code != kerr.InvalidTxnState.Code || e != -1 {
		t.Fatalf("EndTxn v5 abort with nothing open, broker 9 without KIP-890 part 2: %v, epoch %d", kerr.ErrorForCode(code), e)
	}
	setTV := func(level int16, upgradeType int8) (int16, string) {
		t.Helper()
		req := kmsg.NewPtrUpdateFeaturesRequest()
		req.Version, req.TimeoutMillis = 1, 5000
		req.FeatureUpdates = []kmsg.UpdateFeaturesRequestFeatureUpdate{{Feature: "transaction.version", MaxVersionLevel: level, UpgradeType: upgradeType}}
		resp, err := req.RequestWith(ctx, seed)
		if err != nil {
			t.Fatal(err)
		}
		return resp.ErrorCode, derefMsg(resp.ErrorMessage)
	}
	if code, msg := setTV(2, 1); code != kerr.InvalidUpdateVersion.Code || !strings.Contains(msg, "broker(s) 9") {
		t.Fatalf("UpdateFeatures transaction.version=2 with broker 9 on an older release: %v %q", kerr.ErrorForCode(code), msg)
	}
	lv := partition.TP{Topic: "lv"}
	if code := txnProduce(ctx, t, pseed, "tx", lv, pid, epoch, 0); code != 0 {
		t.Fatalf("transactional produce, not verified while broker 9 lacks the guard: %v", kerr.ErrorForCode(code))
	}
	// Nor KIP-848 consumer groups, even on a release with KIP-890 part 2:
	// ApiVersions leaves their APIs out and a heartbeat is refused.
	if err := c.RegisterBroker(ctx, cluster.BrokerRecord{ID: 9, Kafka: "127.0.0.9:9092", Raft: "127.0.0.9:9095", Level: raftsm.LevelTxnV2}); err != nil {
		t.Fatal(err)
	}
	// A new connection each time: a client keeps the ApiVersions its
	// connection got, and kgo does not send an API the broker left out.
	consumerGroups := func() (listed bool, err error) {
		t.Helper()
		fresh := newClient(t, b.KafkaAddr(), kgo.RequestRetries(0)).SeedBrokers()[0]
		resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, fresh)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range resp.ApiKeys {
			listed = listed || k.ApiKey == int16(kmsg.ConsumerGroupHeartbeat)
		}
		hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		hb.Group, hb.MemberID, hb.RebalanceTimeoutMillis, hb.SubscribedTopicNames = "cg", "m", 30000, []string{"lv"}
		hb.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		r, err := hb.RequestWith(ctx, fresh)
		if err == nil {
			err = kerr.ErrorForCode(r.ErrorCode)
		}
		return listed, err
	}
	if listed, err := consumerGroups(); listed || err == nil {
		t.Fatalf("consumer groups with broker 9 on a release without them: listed %v, heartbeat %v", listed, err)
	}
	// classicJoin is a classic member joining the consumer group "cg"
	// that consumerGroups' heartbeat made.
	classicJoin := func() error {
		md := kmsg.NewConsumerMemberMetadata()
		md.Topics = []string{"lv"}
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.ProtocolType, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = "cg", "consumer", 30000, 30000
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: md.AppendTo(nil)}}
		r, err := req.RequestWith(ctx, seed)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(r.ErrorCode)
	}
	// Broker 9 restarts with the release that brought consumer groups:
	// they are served, but classic members cannot join them yet.
	if err := c.RegisterBroker(ctx, cluster.BrokerRecord{ID: 9, Kafka: "127.0.0.9:9092", Raft: "127.0.0.9:9095", Level: raftsm.LevelConsumerGroups}); err != nil {
		t.Fatal(err)
	}
	if listed, err := consumerGroups(); !listed || err != nil {
		t.Fatalf("consumer groups with broker 9 at their level: listed %v, heartbeat %v", listed, err)
	}
	if err := classicJoin(); !errors.Is(err, kerr.InconsistentGroupProtocol) {
		t.Fatalf("classic member joining a consumer group with broker 9 before mixed groups: %v", err)
	}
	// Broker 9 restarts with this release and registers its level.
	if err := c.RegisterBroker(ctx, cluster.BrokerRecord{ID: 9, Kafka: "127.0.0.9:9092", Raft: "127.0.0.9:9095", Level: raftsm.CommandLevel}); err != nil {
		t.Fatal(err)
	}
	if err := classicJoin(); !errors.Is(err, kerr.MemberIDRequired) {
		t.Fatalf("classic member joining a consumer group once every broker is upgraded: %v, want MEMBER_ID_REQUIRED (it may join)", err)
	}
	if code := initTxn(); code != 0 {
		t.Fatalf("transactional InitProducerId once broker 9 is upgraded: %v", kerr.ErrorForCode(code))
	}
	if code := alterQuota(quota.ControllerMutationRate); code != 0 {
		t.Fatalf("controller_mutation_rate once broker 9 is upgraded: %v", kerr.ErrorForCode(code))
	}
	if got := c.Quotas().Quotas(quota.Entity{User: quota.Name("alice")}); got[quota.ControllerMutationRate] != 1000 {
		t.Fatalf("alice's quotas after the upgrade: %v", got)
	}
	if code := txnProduce(ctx, t, pseed, "tx", lv, pid, epoch, 0); code != kerr.InvalidTxnState.Code {
		t.Fatalf("transactional produce to a partition not added, every broker upgraded: %v, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
	}
	if tv := finalizedTV(); tv != 2 {
		t.Fatalf("transaction.version %d once every broker is upgraded, want 2", tv)
	}
	if code, e := endV5(); code != 0 || e != epoch+1 {
		t.Fatalf("EndTxn v5 abort with nothing open, every broker upgraded: %v, epoch %d, want %d", kerr.ErrorForCode(code), e, epoch+1)
	}
	if listed, err := consumerGroups(); !listed || err != nil {
		t.Fatalf("consumer groups once every broker is upgraded: listed %v, heartbeat %v", listed, err)
	}
	// kafka-features.sh downgrade, then upgrade, for the whole cluster.
	if code, msg := setTV(0, 2); code != 0 || finalizedTV() != 0 {
		t.Fatalf("UpdateFeatures safe downgrade to 0: %v %q; finalized %d", kerr.ErrorForCode(code), msg, finalizedTV())
	}
	if code, msg := setTV(2, 1); code != 0 || finalizedTV() != 2 {
		t.Fatalf("UpdateFeatures upgrade to 2: %v %q; finalized %d", kerr.ErrorForCode(code), msg, finalizedTV())
	}
}

func derefMsg(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

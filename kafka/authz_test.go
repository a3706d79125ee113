package kafka

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/chronik-go/chronik/core/acl"
)

// aclServer is a listener with PLAIN users admin (a super user), alice and
// bob, authorizing against acls; it has topics orders-1 and payments.
func aclServer(t *testing.T, acls *memACLs, allowIfNone bool) *testServer {
	t.Helper()
	return aclServerWith(t, acls, allowIfNone, nil)
}

// aclServerWith is aclServer with tweak applied to its Config.
func aclServerWith(t *testing.T, acls *memACLs, allowIfNone bool, tweak func(*Config)) *testServer {
	t.Helper()
	users := map[string]string{"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret"}
	cfg := Config{
		SASL: &SASL{
			Mechanisms: []string{MechanismPlain},
			Password:   func(u string) (string, bool) { p, ok := users[u]; return p, ok },
		},
		SuperUsers:   []string{"User:admin"},
		ACLs:         acls,
		AllowIfNoACL: allowIfNone,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	ts := startServer(t, cfg, nil)
	admin := aclClient(t, ts, "admin")
	for _, topic := range []string{"orders-1", "payments"} {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 1, -1
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(context.Background(), admin)
		if err != nil || resp.Topics[0].ErrorCode != 0 {
			t.Fatalf("admin creates %s: %v %+v", topic, err, resp)
		}
	}
	return ts
}

func aclClient(t *testing.T, ts *testServer, user string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return newKgoClient(t, ts, append([]kgo.Opt{
		kgo.SASL(plain.Auth{User: user, Pass: user + "-secret"}.AsMechanism()),
		kgo.RequestRetries(0), kgo.RecordRetries(1), kgo.ProduceRequestTimeout(5 * time.Second),
		kgo.MaxVersions(kversion.V2_8_0()), // topics by name
	}, opts...)...)
}

func allow(principal string, rt kmsg.ACLResourceType, pattern kmsg.ACLResourcePatternType, name string, op kmsg.ACLOperation) acl.Binding {
	return acl.Binding{
		ResourceType: rt, ResourceName: name, PatternType: pattern, Principal: principal, Host: acl.Wildcard,
		Operation: op, Permission: kmsg.ACLPermissionTypeAllow,
	}
}

// produceCode sends one record to topic partition 0 with a raw Produce
// (no idempotence: InitProducerId is tested on its own) and returns the
// partition's error code.
func produceCode(t *testing.T, cl *kgo.Client, topic string) int16 {
	t.Helper()
	resp, err := produceRequest(9, topic, 0, makeBatch(1700000000000, "v")).RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

// fetchCode fetches topic partition 0 from offset 0 and returns its error
// code.
func fetchCode(t *testing.T, cl *kgo.Client, topic string) int16 {
	t.Helper()
	resp, err := fetchRequest(12, topic, 0, 0).RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatalf("fetch %s: %v", topic, err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

func metadataTopics(t *testing.T, cl *kgo.Client, topics ...string) map[string]int16 {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	if topics != nil {
		req.Topics = []kmsg.MetadataRequestTopic{}
		for _, name := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(name)
			req.Topics = append(req.Topics, rt)
		}
	}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int16{}
	for _, mt := range resp.Topics {
		out[*mt.Topic] = mt.ErrorCode
	}
	return out
}

func codeName(c int16) string {
	if c == 0 {
		return "none"
	}
	return kerr.ErrorForCode(c).Error()
}

// With ACLs, each API answers a denial with its *_AUTHORIZATION_FAILED code
// and goes on serving: Kafka's rules (prefixes, implied DESCRIBE, deny over
// allow, super users, default deny) decide, and a change of the ACLs takes
// effect on open connections.
func TestACLEnforcement(t *testing.T) {
	acls := newMemACLs(
		allow("User:alice", kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypePrefixed, "orders-", kmsg.ACLOperationWrite),
		allow("User:bob", kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeLiteral, "orders-1", kmsg.ACLOperationRead),
		allow("User:bob", kmsg.ACLResourceTypeGroup, kmsg.ACLResourcePatternTypeLiteral, "g1", kmsg.ACLOperationRead),
	)
	ts := aclServer(t, acls, false)
	admin, alice, bob := aclClient(t, ts, "admin"), aclClient(t, ts, "alice"), aclClient(t, ts, "bob")
	check := func(what string, got, want int16) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %s, want %s", what, codeName(got), codeName(want))
		}
	}
	failed := kerr.TopicAuthorizationFailed.Code

	check("alice produces to orders-1", produceCode(t, alice, "orders-1"), 0)
	check("alice produces to payments", produceCode(t, alice, "payments"), failed)
	check("alice produces to a missing topic", produceCode(t, alice, "nope"), failed) // existence not told
	check("bob produces to orders-1", produceCode(t, bob, "orders-1"), failed)
	check("admin produces to payments", produceCode(t, admin, "payments"), 0)
	check("bob fetches orders-1", fetchCode(t, bob, "orders-1"), 0)
	txnProduce := func(cl *kgo.Client, topic string) int16 {
		req := produceRequest(9, topic, 0, makeBatch(1700000000000, "v"))
		req.TransactionID = kmsg.StringPtr("tx-1")
		resp, err := req.RequestWith(context.Background(), cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	check("alice produces to orders-1 as transactional ID tx-1", txnProduce(alice, "orders-1"), kerr.TransactionalIDAuthorizationFailed.Code)
	check("admin produces as transactional ID tx-1", txnProduce(admin, "payments"), 0)
	check("alice fetches orders-1", fetchCode(t, alice, "orders-1"), failed)

	// Metadata: all topics lists the describable ones (WRITE and READ
	// imply DESCRIBE); a named one alice may not see is refused.
	if got := metadataTopics(t, alice); len(got) != 1 || got["orders-1"] != 0 {
		t.Errorf("alice's topics %v, want orders-1 only", got)
	}
	if got := metadataTopics(t, admin); len(got) != 2 {
		t.Errorf("admin's topics %v, want both", got)
	}
	if got := metadataTopics(t, alice, "payments", "orders-1"); got["payments"] != failed || got["orders-1"] != 0 {
		t.Errorf("alice's named topics %v", got)
	}

	// Creating needs CREATE; once granted on the prefix it works.
	create := func(cl *kgo.Client, topic string) kmsg.CreateTopicsResponseTopic {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 1, -1
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(context.Background(), cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0]
	}
	check("alice creates orders-2", create(alice, "orders-2").ErrorCode, failed)
	if err := acls.CreateACLs(context.Background(), []acl.Binding{
		allow("User:alice", kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypePrefixed, "orders-", kmsg.ACLOperationCreate),
	}); err != nil {
		t.Fatal(err)
	}
	created := create(alice, "orders-2")
	check("alice creates orders-2 with CREATE", created.ErrorCode, 0)
	// Its configs need DESCRIBE_CONFIGS, which alice lacks.
	check("alice sees orders-2's configs", created.ConfigErrorCode, failed)
	if len(created.Configs) != 0 {
		t.Errorf("alice got orders-2's configs: %v", created.Configs)
	}

	// A DENY beats the prefix's ALLOW, on a connection that already
	// decided (its cache follows the ACLs).
	deny := allow("User:alice", kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeLiteral, "orders-2", kmsg.ACLOperationAll)
	deny.Permission = kmsg.ACLPermissionTypeDeny
	check("alice produces to orders-2", produceCode(t, alice, "orders-2"), 0)
	if err := acls.CreateACLs(context.Background(), []acl.Binding{deny}); err != nil {
		t.Fatal(err)
	}
	check("alice produces to orders-2 denied", produceCode(t, alice, "orders-2"), failed)
	check("alice still produces to orders-1", produceCode(t, alice, "orders-1"), 0)

	// Groups: bob may read g1, not g2.
	join := func(cl *kgo.Client, g string) int16 {
		req := joinRequest(5)
		req.Group = g
		resp, err := req.RequestWith(context.Background(), cl.Broker(int(ts.b.nodeID))) // no coordinator here
		if err != nil {
			t.Fatal(err)
		}
		return resp.ErrorCode
	}
	if code := join(bob, "g1"); code == kerr.GroupAuthorizationFailed.Code {
		t.Errorf("bob joins g1: %s", codeName(code))
	}
	check("bob joins g2", join(bob, "g2"), kerr.GroupAuthorizationFailed.Code)
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.Generation = "g2", -1
	ct := kmsg.NewOffsetCommitRequestTopic()
	ct.Topic, ct.Partitions = "orders-1", []kmsg.OffsetCommitRequestTopicPartition{kmsg.NewOffsetCommitRequestTopicPartition()}
	commit.Topics = append(commit.Topics, ct)
	if resp, err := commit.RequestWith(context.Background(), bob.Broker(int(ts.b.nodeID))); err != nil {
		t.Fatal(err)
	} else {
		check("bob commits in g2", resp.Topics[0].Partitions[0].ErrorCode, kerr.GroupAuthorizationFailed.Code)
	}
	find := kmsg.NewPtrFindCoordinatorRequest()
	find.CoordinatorKey = "g2"
	if resp, err := find.RequestWith(context.Background(), alice.Broker(int(ts.b.nodeID))); err != nil {
		t.Fatal(err)
	} else {
		check("alice finds g2's coordinator", resp.ErrorCode, kerr.GroupAuthorizationFailed.Code)
	}

	// Cluster-level APIs.
	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.IncludeClusterAuthorizedOperations = true
	if resp, err := dc.RequestWith(context.Background(), alice); err != nil {
		t.Fatal(err)
	} else {
		check("alice describes the cluster", resp.ErrorCode, kerr.ClusterAuthorizationFailed.Code)
	}
	if resp, err := dc.RequestWith(context.Background(), admin); err != nil {
		t.Fatal(err)
	} else if want := acl.OperationBits(acl.Operations(kmsg.ACLResourceTypeCluster)); resp.ErrorCode != 0 || resp.ClusterAuthorizedOperations != want {
		t.Errorf("admin describes the cluster: %s, operations %b want %b", codeName(resp.ErrorCode), resp.ClusterAuthorizedOperations, want)
	}
	cfg := kmsg.NewPtrDescribeConfigsRequest()
	for _, r := range []struct {
		typ  kmsg.ConfigResourceType
		name string
	}{{kmsg.ConfigResourceTypeBroker, ""}, {kmsg.ConfigResourceTypeTopic, "orders-1"}} {
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = r.typ, r.name
		cfg.Resources = append(cfg.Resources, rr)
	}
	if resp, err := cfg.RequestWith(context.Background(), alice); err != nil {
		t.Fatal(err)
	} else {
		check("alice describes the broker's configs", resp.Resources[0].ErrorCode, kerr.ClusterAuthorizationFailed.Code)
		check("alice describes orders-1's configs", resp.Resources[1].ErrorCode, failed)
	}

	// Idempotent producers: WRITE on some topic is enough (alice), none
	// is not (bob).
	ipid := kmsg.NewPtrInitProducerIDRequest()
	if resp, err := ipid.RequestWith(context.Background(), alice); err != nil {
		t.Fatal(err)
	} else {
		check("alice's InitProducerId", resp.ErrorCode, 0)
	}
	if resp, err := ipid.RequestWith(context.Background(), bob); err != nil {
		t.Fatal(err)
	} else {
		check("bob's InitProducerId", resp.ErrorCode, kerr.ClusterAuthorizationFailed.Code)
	}
	// And a default (idempotent) kgo producer of bob's fails clearly.
	producer := aclClient(t, ts, "bob", kgo.DefaultProduceTopic("orders-1"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := producer.ProduceSync(ctx, kgo.StringRecord("x")).FirstErr(); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Errorf("bob's idempotent produce: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
	}
}

// allow-everyone-if-no-acl-found: a resource without any ACL is open to
// all, one with an ACL only to whom it allows.
func TestACLAllowIfNoneFound(t *testing.T) {
	acls := newMemACLs(allow("User:alice", kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeLiteral, "orders-1", kmsg.ACLOperationWrite))
	ts := aclServer(t, acls, true)
	bob := aclClient(t, ts, "bob")
	if code := produceCode(t, bob, "payments"); code != 0 {
		t.Errorf("bob produces to payments (no ACL): %s", codeName(code))
	}
	if code := produceCode(t, bob, "orders-1"); code != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("bob produces to orders-1 (alice's ACL): %s", codeName(code))
	}
}

// The decision cache is per connection and follows the ACLs: the same
// question costs one map lookup while they stay the same.
func TestAuthzCache(t *testing.T) {
	acls := newMemACLs(allow("User:alice", kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeLiteral, "t", kmsg.ACLOperationWrite))
	s := &Server{cfg: Config{ACLs: acls}}
	r := &request{principal: "User:alice", conn: &conn{host: "127.0.0.1"}}
	if !s.authorized(r, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic, "t") {
		t.Fatal("alice may not write t")
	}
	if s.authorized(r, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, "t") {
		t.Fatal("alice may read t")
	}
	if n := len(r.conn.authz.decisions); n != 2 {
		t.Fatalf("%d cached decisions, want 2", n)
	}
	if err := acls.CreateACLs(context.Background(), []acl.Binding{
		allow("User:alice", kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeLiteral, "t", kmsg.ACLOperationRead),
	}); err != nil {
		t.Fatal(err)
	}
	if !s.authorized(r, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, "t") {
		t.Fatal("alice may not read t once allowed")
	}
	if n := len(r.conn.authz.decisions); n != 1 {
		t.Fatalf("%d cached decisions after the change, want 1", n)
	}
	allocs := testing.AllocsPerRun(100, func() { s.authorized(r, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, "t") })
	if allocs != 0 {
		t.Errorf("a cached decision allocates %.0f times", allocs)
	}
}

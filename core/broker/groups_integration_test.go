//go:build integration

package broker_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/chronik-go/chronik/core/broker"
	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/config"
)

// newClient returns a kgo client for b, closed at cleanup.
func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// pinned returns a client that sends key at version v: kgo otherwise uses
// the highest version both sides know, whatever the request says.
func pinned(t *testing.T, addr string, key, v int16) *kgo.Client {
	t.Helper()
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(key, v)
	return newClient(t, addr, kgo.MaxVersions(vs))
}

// byName returns a client whose OffsetCommit and OffsetFetch stay below
// v10, which names topics by ID: the tests' raw requests name them.
func byName(t *testing.T, addr string) *kgo.Client {
	t.Helper()
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(int16(kmsg.OffsetCommit), 9)
	vs.SetMaxKeyVersion(int16(kmsg.OffsetFetch), 9)
	return newClient(t, addr, kgo.MaxVersions(vs))
}

func createTopic(t *testing.T, cl *kgo.Client, name string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, name); err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v", name, err, resp.Err)
	}
}

// produceN produces n records with values "0".."n-1" and returns the end
// offset of every partition.
func produceN(t *testing.T, addr, topic string, n int) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Value: []byte(strconv.Itoa(i))}
	}
	res := cl.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	ends := map[int32]int64{}
	for _, r := range res {
		ends[r.Record.Partition] = max(ends[r.Record.Partition], r.Record.Offset+1)
	}
	return ends
}

type tpo struct {
	p   int32
	off int64
}

// TestConsumerGroupResumesFromCommits: a kgo group consumer processes part
// of 10k records and commits exactly what it processed; a second client in
// the same group resumes from the committed offsets, so together they see
// every record exactly once.
func TestConsumerGroupResumesFromCommits(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const topic, grp, total = "resume", "resume-group", 10000
	createTopic(t, newClient(t, b.KafkaAddr()), topic, 3)
	ends := produceN(t, b.KafkaAddr(), topic, total)

	seen := map[tpo]int{}
	consume := func(limit int) int {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()), kgo.ConsumerGroup(grp), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		n := 0
		for n < limit {
			fs := cl.PollRecords(ctx, 700)
			if err := fs.Err0(); err != nil {
				t.Fatalf("poll: %v", err)
			}
			var done []*kgo.Record
			for _, r := range fs.Records() {
				if n == limit {
					break // the rest of this poll is neither processed nor committed
				}
				seen[tpo{r.Partition, r.Offset}]++
				done = append(done, r)
				n++
			}
			if err := cl.CommitRecords(ctx, done...); err != nil {
				t.Fatalf("commit: %v", err)
			}
		}
		return n
	}
	first := consume(6000)

	adm := kadm.NewClient(newClient(t, b.KafkaAddr()))
	committed, err := adm.FetchOffsets(ctx, grp)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	committed.Each(func(o kadm.OffsetResponse) { sum += o.At })
	if sum != int64(first) {
		t.Fatalf("committed offsets add up to %d, want the %d processed records", sum, first)
	}

	second := consume(total - first)
	if len(seen) != total {
		t.Fatalf("saw %d distinct records, want %d", len(seen), total)
	}
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("partition %d offset %d consumed %d times", k.p, k.off, c)
		}
	}
	committed, err = adm.FetchOffsets(ctx, grp)
	if err != nil {
		t.Fatal(err)
	}
	for p, end := range ends {
		if o, _ := committed.Lookup(topic, p); o.At != end {
			t.Fatalf("partition %d committed at %d, want %d", p, o.At, end)
		}
	}
	t.Logf("first client consumed %d, second %d", first, second)
}

// req sends a group request to the group's coordinator (kgo routes it).
func req[R kmsg.Response](t *testing.T, cl *kgo.Client, r kmsg.Request) R {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := cl.Request(ctx, r)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(r.Key()), err)
	}
	return resp.(R)
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	wantCode := int16(0)
	if want != nil {
		wantCode = want.Code
	}
	if got != wantCode {
		t.Fatalf("%s: error %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

// rawMember joins a group with raw requests (v9: MEMBER_ID_REQUIRED first).
type rawMember struct {
	t     *testing.T
	cl    *kgo.Client
	group string
	id    string
	gen   int32
}

func consumerProtocol(topics ...string) []kmsg.JoinGroupRequestProtocol {
	md := kmsg.NewConsumerMemberMetadata()
	md.Topics = topics
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", md.AppendTo(nil)
	return []kmsg.JoinGroupRequestProtocol{p}
}

func (m *rawMember) join() *kmsg.JoinGroupResponse {
	m.t.Helper()
	for {
		j := kmsg.NewPtrJoinGroupRequest()
		j.Group, j.MemberID, j.ProtocolType = m.group, m.id, "consumer"
		j.SessionTimeoutMillis, j.RebalanceTimeoutMillis = 30000, 30000
		j.Protocols = consumerProtocol("bad-input")
		resp := req[*kmsg.JoinGroupResponse](m.t, m.cl, j)
		if resp.ErrorCode == kerr.MemberIDRequired.Code {
			m.id = resp.MemberID
			continue
		}
		wantCode(m.t, "join", resp.ErrorCode, nil)
		m.id, m.gen = resp.MemberID, resp.Generation
		return resp
	}
}

func (m *rawMember) sync(assign map[string]string) *kmsg.SyncGroupResponse {
	m.t.Helper()
	s := kmsg.NewPtrSyncGroupRequest()
	s.Group, s.MemberID, s.Generation = m.group, m.id, m.gen
	for id, a := range assign {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = id, []byte(a)
		s.GroupAssignment = append(s.GroupAssignment, ga)
	}
	return req[*kmsg.SyncGroupResponse](m.t, m.cl, s)
}

func (m *rawMember) heartbeat(gen int32) int16 {
	m.t.Helper()
	h := kmsg.NewPtrHeartbeatRequest()
	h.Group, h.MemberID, h.Generation = m.group, m.id, gen
	return req[*kmsg.HeartbeatResponse](m.t, m.cl, h).ErrorCode
}

func commitReq(group, member string, gen int32, topic string, partition int32, offset int64) *kmsg.OffsetCommitRequest {
	c := kmsg.NewPtrOffsetCommitRequest()
	c.Group, c.MemberID, c.Generation = group, member, gen
	ct := kmsg.NewOffsetCommitRequestTopic()
	ct.Topic = topic
	cp := kmsg.NewOffsetCommitRequestTopicPartition()
	cp.Partition, cp.Offset, cp.LeaderEpoch, cp.Metadata = partition, offset, 0, kmsg.StringPtr("md")
	ct.Partitions = append(ct.Partitions, cp)
	c.Topics = append(c.Topics, ct)
	return c
}

func fetchReq(group string, version int16, topic string, partitions ...int32) *kmsg.OffsetFetchRequest {
	f := kmsg.NewPtrOffsetFetchRequest()
	f.Version = version
	if version >= 8 {
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group = group
		gt := kmsg.NewOffsetFetchRequestGroupTopic()
		gt.Topic, gt.Partitions = topic, partitions
		g.Topics = append(g.Topics, gt)
		f.Groups = append(f.Groups, g)
		return f
	}
	f.Group = group
	ft := kmsg.NewOffsetFetchRequestTopic()
	ft.Topic, ft.Partitions = topic, partitions
	f.Topics = append(f.Topics, ft)
	return f
}

// TestGroupBadInput checks the error codes clients rely on: unknown group,
// wrong generation, unknown member, rebalance in progress, and that simple
// consumers commit with generation -1.
func TestGroupBadInput(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t))
	cl := byName(t, b.KafkaAddr())
	const topic = "bad-input"
	createTopic(t, cl, topic, 2)

	// FindCoordinator answers this broker, single and batched; transactions are unsupported.
	host, port, _ := net.SplitHostPort(b.KafkaAddr())
	for _, v := range []int16{0, 3} {
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.Version, fc.CoordinatorKey = v, "g"
		resp := req[*kmsg.FindCoordinatorResponse](t, pinned(t, b.KafkaAddr(), fc.Key(), v), fc)
		if resp.ErrorCode != 0 || resp.NodeID != 1 || resp.Host != host || strconv.Itoa(int(resp.Port)) != port {
			t.Fatalf("FindCoordinator v%d: %+v", v, resp)
		}
	}
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorKeys = 6, []string{"a", "b", "c"}
	for _, c := range req[*kmsg.FindCoordinatorResponse](t, cl, fc).Coordinators {
		if c.ErrorCode != 0 || c.NodeID != 1 || c.Host != host {
			t.Fatalf("batched FindCoordinator: %+v", c)
		}
	}
	fc.CoordinatorType = 1 // transactional IDs share the coordinator shards
	for _, c := range req[*kmsg.FindCoordinatorResponse](t, cl, fc).Coordinators {
		if c.ErrorCode != 0 || c.NodeID != 1 || c.Host != host {
			t.Fatalf("batched FindCoordinator for transactional IDs: %+v", c)
		}
	}
	fc.CoordinatorType = 2 // share groups: not served (INVALID_REQUEST, as Kafka answers an unknown type)
	for _, c := range req[*kmsg.FindCoordinatorResponse](t, cl, fc).Coordinators {
		wantCode(t, "share coordinator", c.ErrorCode, kerr.InvalidRequest)
	}

	// Unknown group.
	for _, v := range []int16{0, 5, 6} {
		dg := kmsg.NewPtrDescribeGroupsRequest()
		dg.Version, dg.Groups = v, []string{"nope"}
		g := req[*kmsg.DescribeGroupsResponse](t, pinned(t, b.KafkaAddr(), dg.Key(), v), dg).Groups[0]
		if v < 6 {
			if g.ErrorCode != 0 || g.State != "Dead" {
				t.Fatalf("DescribeGroups v%d of an unknown group: %+v", v, g)
			}
		} else {
			wantCode(t, "DescribeGroups v6 unknown group", g.ErrorCode, kerr.GroupIDNotFound)
		}
	}
	dl := kmsg.NewPtrDeleteGroupsRequest()
	dl.Groups = []string{"nope"}
	wantCode(t, "DeleteGroups unknown group", req[*kmsg.DeleteGroupsResponse](t, cl, dl).Groups[0].ErrorCode, kerr.GroupIDNotFound)
	unknown := &rawMember{t: t, cl: cl, group: "nope", id: "someone", gen: 1}
	wantCode(t, "Heartbeat unknown group", unknown.heartbeat(1), kerr.UnknownMemberID)
	for _, v := range []int16{1, 7, 8} {
		resp := req[*kmsg.OffsetFetchResponse](t, pinned(t, b.KafkaAddr(), 9, v), fetchReq("nope", v, topic, 0, 1))
		var offs []int64
		if v >= 8 {
			wantCode(t, "OffsetFetch unknown group", resp.Groups[0].ErrorCode, nil)
			for _, p := range resp.Groups[0].Topics[0].Partitions {
				offs = append(offs, p.Offset)
			}
		} else {
			wantCode(t, "OffsetFetch unknown group", resp.ErrorCode, nil)
			for _, p := range resp.Topics[0].Partitions {
				offs = append(offs, p.Offset)
			}
		}
		if len(offs) != 2 || offs[0] != -1 || offs[1] != -1 {
			t.Fatalf("OffsetFetch v%d of an unknown group: %v", v, offs)
		}
	}

	// Simple consumer: generation -1, no member.
	oc := req[*kmsg.OffsetCommitResponse](t, cl, commitReq("simple", "", -1, topic, 1, 42))
	wantCode(t, "simple commit", oc.Topics[0].Partitions[0].ErrorCode, nil)
	oc = req[*kmsg.OffsetCommitResponse](t, cl, commitReq("simple", "", -1, "no-such-topic", 0, 1))
	wantCode(t, "commit to unknown topic", oc.Topics[0].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)
	of := req[*kmsg.OffsetFetchResponse](t, pinned(t, b.KafkaAddr(), 9, 5), fetchReq("simple", 5, topic, 0, 1))
	if p := of.Topics[0].Partitions; p[0].Offset != -1 || p[1].Offset != 42 || p[1].LeaderEpoch != 0 || *p[1].Metadata != "md" {
		t.Fatalf("simple consumer's offsets: %+v", p)
	}

	// A member, then wrong generation and unknown member.
	a := &rawMember{t: t, cl: cl, group: "g"}
	if j := a.join(); j.Generation != 1 || j.LeaderID != a.id {
		t.Fatalf("join: %+v", j)
	}
	wantCode(t, "leader sync", a.sync(map[string]string{a.id: "p0,p1"}).ErrorCode, nil)
	wantCode(t, "heartbeat", a.heartbeat(1), nil)
	wantCode(t, "heartbeat with a wrong generation", a.heartbeat(7), kerr.IllegalGeneration)
	ghost := &rawMember{t: t, cl: cl, group: "g", id: "ghost", gen: 1}
	wantCode(t, "heartbeat of an unknown member", ghost.heartbeat(1), kerr.UnknownMemberID)
	oc = req[*kmsg.OffsetCommitResponse](t, cl, commitReq("g", a.id, 7, topic, 0, 5))
	wantCode(t, "commit with a wrong generation", oc.Topics[0].Partitions[0].ErrorCode, kerr.IllegalGeneration)
	oc = req[*kmsg.OffsetCommitResponse](t, cl, commitReq("g", "ghost", 1, topic, 0, 5))
	wantCode(t, "commit of an unknown member", oc.Topics[0].Partitions[0].ErrorCode, kerr.UnknownMemberID)
	oc = req[*kmsg.OffsetCommitResponse](t, cl, commitReq("g", "", -1, topic, 0, 5))
	wantCode(t, "simple commit to an active group", oc.Topics[0].Partitions[0].ErrorCode, kerr.UnknownMemberID)
	oc = req[*kmsg.OffsetCommitResponse](t, cl, commitReq("g", a.id, 1, topic, 0, 5))
	wantCode(t, "member commit", oc.Topics[0].Partitions[0].ErrorCode, nil)
	dl.Groups = []string{"g"}
	wantCode(t, "DeleteGroups of an active group", req[*kmsg.DeleteGroupsResponse](t, cl, dl).Groups[0].ErrorCode, kerr.NonEmptyGroup)
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "g"
	odt := kmsg.NewOffsetDeleteRequestTopic()
	odt.Topic = topic
	odt.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}
	od.Topics = append(od.Topics, odt)
	wantCode(t, "OffsetDelete of a subscribed topic", req[*kmsg.OffsetDeleteResponse](t, cl, od).Topics[0].Partitions[0].ErrorCode, kerr.GroupSubscribedToTopic)

	// A second member joining puts the group into a rebalance.
	bm := &rawMember{t: t, cl: newClient(t, b.KafkaAddr()), group: "g"}
	bJoined := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { bJoined <- bm.join() }()
	deadline := time.Now().Add(20 * time.Second)
	for a.heartbeat(1) != kerr.RebalanceInProgress.Code {
		if time.Now().After(deadline) {
			t.Fatal("heartbeat never reported REBALANCE_IN_PROGRESS")
		}
		time.Sleep(5 * time.Millisecond)
	}
	wantCode(t, "sync during the join phase", a.sync(nil).ErrorCode, kerr.RebalanceInProgress)
	if j := a.join(); j.Generation != 2 || len(j.Members) != 2 {
		t.Fatalf("rejoin: %+v", j)
	}
	if j := <-bJoined; j.Generation != 2 || j.LeaderID != a.id {
		t.Fatalf("second member's join: %+v", j)
	}
	stale := &rawMember{t: t, cl: cl, group: "g", id: a.id, gen: 1}
	wantCode(t, "sync with an old generation", stale.sync(nil).ErrorCode, kerr.IllegalGeneration)
	oc = req[*kmsg.OffsetCommitResponse](t, cl, commitReq("g", a.id, 2, topic, 0, 6))
	wantCode(t, "commit between join and sync", oc.Topics[0].Partitions[0].ErrorCode, kerr.RebalanceInProgress)
	bSynced := make(chan *kmsg.SyncGroupResponse, 1)
	go func() { bSynced <- bm.sync(nil) }()
	wantCode(t, "leader sync", a.sync(map[string]string{a.id: "p0", bm.id: "p1"}).ErrorCode, nil)
	if s := <-bSynced; s.ErrorCode != 0 || string(s.MemberAssignment) != "p1" {
		t.Fatalf("follower sync: %+v", s)
	}

	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{"g"}
	d := req[*kmsg.DescribeGroupsResponse](t, cl, dg).Groups[0]
	if d.State != "Stable" || d.Protocol != "range" || d.ProtocolType != "consumer" || len(d.Members) != 2 || d.Members[0].ClientHost == "" {
		t.Fatalf("describe: %+v", d)
	}
	lg := kmsg.NewPtrListGroupsRequest()
	lg.StatesFilter = []string{"Stable"}
	if l := req[*kmsg.ListGroupsResponse](t, cl, lg); l.ErrorCode != 0 || len(l.Groups) != 1 || l.Groups[0].Group != "g" {
		t.Fatalf("list stable groups: %+v", l)
	}

	// LeaveGroup v3+: a batch, one unknown.
	lv := kmsg.NewPtrLeaveGroupRequest()
	lv.Group = "g"
	for _, id := range []string{a.id, bm.id, "ghost"} {
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID = id
		lv.Members = append(lv.Members, m)
	}
	lr := req[*kmsg.LeaveGroupResponse](t, cl, lv)
	if lr.ErrorCode != 0 || lr.Members[0].ErrorCode != 0 || lr.Members[1].ErrorCode != 0 || lr.Members[2].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("leave: %+v", lr)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		wantCode(t, "OffsetDelete of an empty group", req[*kmsg.OffsetDeleteResponse](t, cl, od).ErrorCode, nil)
		if req[*kmsg.DeleteGroupsResponse](t, cl, dl).Groups[0].ErrorCode == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("empty group could not be deleted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	wantCode(t, "heartbeat after delete", a.heartbeat(2), kerr.UnknownMemberID)
}

// TestCommittedOffsetsSurviveRestart: offsets and the group's generation
// come back after the broker restarts on the same data directory.
func TestCommittedOffsetsSurviveRestart(t *testing.T) {
	cfg := brokertest.Config(t)
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const topic = "bad-input" // rawMember subscribes to it
	cl := byName(t, b.KafkaAddr())
	createTopic(t, cl, topic, 3)

	m := &rawMember{t: t, cl: cl, group: "durable"}
	m.join()
	wantCode(t, "sync", m.sync(map[string]string{m.id: "everything"}).ErrorCode, nil)
	for p := int32(0); p < 3; p++ {
		oc := req[*kmsg.OffsetCommitResponse](t, cl, commitReq("durable", m.id, m.gen, topic, p, 100+int64(p)))
		wantCode(t, "commit", oc.Topics[0].Partitions[0].ErrorCode, nil)
	}
	oc := req[*kmsg.OffsetCommitResponse](t, cl, commitReq("simple-durable", "", -1, topic, 2, 7))
	wantCode(t, "simple commit", oc.Topics[0].Partitions[0].ErrorCode, nil)
	cl.Close()

	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	if err := b.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	scancel()
	b2 := restart(t, cfg)

	cl2 := byName(t, b2.KafkaAddr())
	f := req[*kmsg.OffsetFetchResponse](t, cl2, fetchReq("durable", 8, topic, 0, 1, 2))
	for i, p := range f.Groups[0].Topics[0].Partitions {
		if p.Offset != 100+int64(i) || p.LeaderEpoch != 0 || *p.Metadata != "md" {
			t.Fatalf("partition %d after restart: %+v", i, p)
		}
	}
	f = req[*kmsg.OffsetFetchResponse](t, cl2, fetchReq("simple-durable", 8, topic, 2))
	if p := f.Groups[0].Topics[0].Partitions[0]; p.Offset != 7 {
		t.Fatalf("simple consumer's offset after restart: %+v", p)
	}
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{"durable"}
	d := req[*kmsg.DescribeGroupsResponse](t, cl2, dg).Groups[0]
	if d.State != "Stable" || len(d.Members) != 1 || d.Members[0].MemberID != m.id || string(d.Members[0].MemberAssignment) != "everything" {
		t.Fatalf("group after restart: %+v", d)
	}
	// The member is still known and the generation continues.
	m.cl = cl2
	wantCode(t, "heartbeat after restart", m.heartbeat(1), nil)
	if j := m.join(); j.Generation != 2 {
		t.Fatalf("generation after restart: %d, want 2", j.Generation)
	}
}

// restart starts a broker on cfg's data directory, retrying while the
// previous broker's ports are still being released.
func restart(t *testing.T, cfg config.Config) *broker.Broker {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		b, err := broker.Start(ctx, cfg, brokertest.Logger())
		cancel()
		if err == nil {
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := b.Stop(ctx); err != nil {
					t.Errorf("stop broker: %v", err)
				}
			})
			return b
		}
		var opErr *net.OpError
		if !errors.As(err, &opErr) || time.Now().After(deadline) {
			t.Fatalf("restart broker: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestConsumerGroupsTurnedOff: with kafka.group-rebalance-protocols
// = ["classic"] ApiVersions leaves the KIP-848 APIs out, finalizes no
// group.version, and franz-go's ServerSideBalancer falls back to the
// classic protocol.
func TestConsumerGroupsTurnedOff(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Kafka.GroupRebalanceProtocols = []string{"classic"}
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := newClient(t, b.KafkaAddr())
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1"
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey == int16(kmsg.ConsumerGroupHeartbeat) || k.ApiKey == int16(kmsg.ConsumerGroupDescribe) {
			t.Fatalf("%s listed with consumer groups turned off", kmsg.NameForKey(k.ApiKey))
		}
	}
	for _, f := range resp.FinalizedFeatures {
		if f.Name == "group.version" {
			t.Fatalf("group.version finalized with consumer groups turned off: %+v", f)
		}
	}
	createTopic(t, cl, "off", 2)
	produceN(t, b.KafkaAddr(), "off", 10)
	c := newClient(t, b.KafkaAddr(), kgo.ConsumerGroup("off-group"), kgo.ConsumeTopics("off"), kgo.ServerSideBalancer(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	n := 0
	for n < 10 {
		fs := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of 10: %v", n, err)
		}
		n += len(fs.Records())
	}
	listed, err := kadm.NewClient(cl).ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := listed["off-group"]; !ok || g.GroupType != "classic" {
		t.Fatalf("off-group listed as %+v", listed)
	}
}

// TestOffsetsByTopicID: OffsetCommit and OffsetFetch v10 (KIP-848) name
// topics by ID: commits by ID are fetched by ID and by name, an unknown ID
// is UNKNOWN_TOPIC_ID, and "every partition" names topics by ID.
func TestOffsetsByTopicID(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config(t))
	const topic, g = "by-id", "by-id-group"
	createTopic(t, newClient(t, b.KafkaAddr()), topic, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	details, err := kadm.NewClient(newClient(t, b.KafkaAddr())).ListTopics(ctx, topic)
	if err != nil || details[topic].Err != nil {
		t.Fatalf("list topics: %v %v", err, details[topic].Err)
	}
	id, unknown := [16]byte(details[topic].ID), [16]byte{9, 9, 9}

	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version, commit.Group, commit.Generation = 10, g, -1
	for _, tid := range [][16]byte{id, unknown} {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.TopicID = tid
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = 0, 42
		rt.Partitions = append(rt.Partitions, rp)
		commit.Topics = append(commit.Topics, rt)
	}
	cr := req[*kmsg.OffsetCommitResponse](t, pinned(t, b.KafkaAddr(), commit.Key(), 10), commit)
	if len(cr.Topics) != 2 || cr.Topics[0].TopicID != id || cr.Topics[1].TopicID != unknown {
		t.Fatalf("OffsetCommit v10 topics: %+v", cr.Topics)
	}
	wantCode(t, "commit by ID", cr.Topics[0].Partitions[0].ErrorCode, nil)
	wantCode(t, "commit to an unknown ID", cr.Topics[1].Partitions[0].ErrorCode, kerr.UnknownTopicID)

	fetch := func(topics []kmsg.OffsetFetchRequestGroupTopic) kmsg.OffsetFetchResponseGroup {
		t.Helper()
		f := kmsg.NewPtrOffsetFetchRequest()
		f.Version = 10
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group, rg.Topics = g, topics
		f.Groups = append(f.Groups, rg)
		resp := req[*kmsg.OffsetFetchResponse](t, pinned(t, b.KafkaAddr(), f.Key(), 10), f)
		if len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 {
			t.Fatalf("OffsetFetch v10: %+v", resp)
		}
		return resp.Groups[0]
	}
	got := fetch([]kmsg.OffsetFetchRequestGroupTopic{{TopicID: id, Partitions: []int32{0, 1}}, {TopicID: unknown, Partitions: []int32{0}}})
	if len(got.Topics) != 2 || got.Topics[0].TopicID != id || len(got.Topics[0].Partitions) != 2 ||
		got.Topics[0].Partitions[0].Offset != 42 || got.Topics[0].Partitions[1].Offset != -1 {
		t.Fatalf("OffsetFetch v10 by ID: %+v", got.Topics)
	}
	if u := got.Topics[1]; u.TopicID != unknown || len(u.Partitions) != 1 || u.Partitions[0].ErrorCode != kerr.UnknownTopicID.Code || u.Partitions[0].Offset != -1 {
		t.Fatalf("OffsetFetch v10 of an unknown ID: %+v", u)
	}
	all := fetch(nil)
	if len(all.Topics) != 1 || all.Topics[0].TopicID != id || len(all.Topics[0].Partitions) != 1 || all.Topics[0].Partitions[0].Offset != 42 {
		t.Fatalf("OffsetFetch v10 of every partition: %+v", all.Topics)
	}
	// The same offset by name (v9).
	byName := kmsg.NewPtrOffsetFetchRequest()
	byName.Version = 9
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group, rg.Topics = g, []kmsg.OffsetFetchRequestGroupTopic{{Topic: topic, Partitions: []int32{0}}}
	byName.Groups = append(byName.Groups, rg)
	nr := req[*kmsg.OffsetFetchResponse](t, pinned(t, b.KafkaAddr(), byName.Key(), 9), byName)
	if len(nr.Groups) != 1 || len(nr.Groups[0].Topics) != 1 || nr.Groups[0].Topics[0].Partitions[0].Offset != 42 {
		t.Fatalf("OffsetFetch v9 by name: %+v", nr)
	}
}

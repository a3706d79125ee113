//go:build integration

package broker_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/config"
)

// ledger records which member consumed which record.
type ledger struct {
	mu     sync.Mutex
	seen   map[tpo][]string
	counts map[string]map[int32]int // member → partition → records
}

func newLedger() *ledger {
	return &ledger{seen: map[tpo][]string{}, counts: map[string]map[int32]int{}}
}

func (l *ledger) add(member string, p int32, off int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[tpo{p, off}] = append(l.seen[tpo{p, off}], member)
	if l.counts[member] == nil {
		l.counts[member] = map[int32]int{}
	}
	l.counts[member][p]++
}

// byPartition returns a copy of one member's per-partition counts.
func (l *ledger) byPartition(member string) map[int32]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int32]int{}
	for p, n := range l.counts[member] {
		out[p] = n
	}
	return out
}

func (l *ledger) total(member string) int {
	n := 0
	for _, c := range l.byPartition(member) {
		n += c
	}
	return n
}

// covered reports whether every offset below ends was consumed.
func (l *ledger) covered(ends map[int32]int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, end := range ends {
		for off := int64(0); off < end; off++ {
			if len(l.seen[tpo{p, off}]) == 0 {
				return false
			}
		}
	}
	return true
}

// check fails the test unless every offset below ends was consumed exactly
// once and nothing else was.
func (l *ledger) check(t *testing.T, ends map[int32]int64) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	want := 0
	for p, end := range ends {
		want += int(end)
		for off := int64(0); off < end; off++ {
			switch who := l.seen[tpo{p, off}]; len(who) {
			case 0:
				t.Errorf("partition %d offset %d was never consumed", p, off)
			case 1:
			default:
				t.Errorf("partition %d offset %d was consumed %d times (by %v)", p, off, len(who), who)
			}
		}
	}
	if len(l.seen) != want {
		t.Errorf("consumed %d distinct records, %d were produced", len(l.seen), want)
	}
}

// waitUntil polls cond every few milliseconds until it holds.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startProducer produces small batches continuously until the returned
// stop function is called.
func startProducer(t *testing.T, addr, topic string) (stop func()) {
	t.Helper()
	cl := newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			recs := make([]*kgo.Record, 8)
			for j := range recs {
				recs[j] = &kgo.Record{Value: []byte(strconv.Itoa(i*8 + j))}
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil && ctx.Err() == nil {
				t.Errorf("produce: %v", err)
				return
			}
		}
	}()
	return func() { cancel(); <-done }
}

// memberStarter starts one group member named name that records what it
// consumes in l and commits it before it can lose the partition; stop
// leaves the group.
type memberStarter func(t *testing.T, addr, group, topic, name string, l *ledger) (stop func())

// runRebalance is the acceptance scenario: while records are
// produced continuously, member a consumes alone, b joins (rebalance), a
// leaves (rebalance), b consumes to the end. With commits after
// processing, no record may be lost or consumed twice.
func runRebalance(t *testing.T, start memberStarter) {
	runRebalanceOn(t, brokertest.Config(t), start, start, nil)
}

// runRebalanceOn is runRebalance on a broker with the given config, a and
// b started by their own starters; whileBoth, if set, runs while both
// members consume.
func runRebalanceOn(t *testing.T, cfg config.Config, startA, startB memberStarter, whileBoth func(addr, group string)) {
	b := brokertest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const topic, grp, partitions = "rebalance", "rebalance-group", 4
	adm := kadm.NewClient(newClient(t, b.KafkaAddr()))
	if _, err := adm.CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	l := newLedger()
	stopProducer := startProducer(t, b.KafkaAddr(), topic)
	defer stopProducer()

	stopA := startA(t, b.KafkaAddr(), grp, topic, "a", l)
	waitUntil(t, time.Minute, "a to consume", func() bool { return l.total("a") >= 200 })

	stopB := startB(t, b.KafkaAddr(), grp, topic, "b", l)
	aBefore := l.total("a")
	waitUntil(t, time.Minute, "both members to consume after b joined", func() bool {
		return l.total("b") >= 200 && l.total("a") >= aBefore+200
	})
	if n := len(l.byPartition("b")); n == 0 || n == partitions {
		t.Fatalf("after the join rebalance b consumed from %d partitions, want some but not all", n)
	}
	if whileBoth != nil {
		whileBoth(b.KafkaAddr(), grp)
	}

	stopA()
	bBefore := l.byPartition("b")
	waitUntil(t, time.Minute, "b to take over every partition after a left", func() bool {
		now := l.byPartition("b")
		for p := int32(0); p < partitions; p++ {
			if now[p] <= bBefore[p] {
				return false
			}
		}
		return true
	})

	stopProducer()
	endOffs, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	ends := map[int32]int64{}
	endOffs.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	waitUntil(t, time.Minute, "b to consume to the end", func() bool { return l.covered(ends) })
	stopB()
	l.check(t, ends)

	committed, err := adm.FetchOffsets(ctx, grp)
	if err != nil {
		t.Fatal(err)
	}
	for p, end := range ends {
		if o, ok := committed.Lookup(topic, p); !ok || o.At != end {
			t.Errorf("partition %d committed at %d, want %d", p, o.At, end)
		}
	}
	t.Logf("a consumed %d, b consumed %d; end offsets %v", l.total("a"), l.total("b"), ends)
}

// startKgoMember is a franz-go consumer with the cooperative-sticky
// balancer. Rebalances are blocked while a poll is processed, and every
// poll is committed synchronously before rebalances are allowed again, so
// a partition is never revoked with processed but uncommitted records.
func startKgoMember(t *testing.T, addr, group, topic, name string, l *ledger) func() {
	return kgoMember()(t, addr, group, topic, name, l)
}

// kgoMember is startKgoMember with more client options.
func kgoMember(opts ...kgo.Opt) memberStarter {
	return func(t *testing.T, addr, group, topic, name string, l *ledger) func() {
		return startKgoMemberWith(t, addr, group, topic, name, l, opts...)
	}
}

func startKgoMemberWith(t *testing.T, addr, group, topic, name string, l *ledger, opts ...kgo.Opt) func() {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(addr), kgo.ClientID(name),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.HeartbeatInterval(100 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			recs := cl.PollRecords(ctx, 200).Records()
			for _, r := range recs {
				l.add(name, r.Partition, r.Offset)
			}
			if len(recs) > 0 {
				commitKgo(t, cl, recs)
			}
			cl.AllowRebalance()
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
			cl.Close() // leaves the group
		})
	}
	t.Cleanup(stop)
	return stop
}

// commitKgo commits records, retrying what a rebalance makes retriable.
func commitKgo(t *testing.T, cl *kgo.Client, recs []*kgo.Record) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		err := cl.CommitRecords(ctx, recs...)
		if err == nil {
			return
		}
		if retriable := kerr.IsRetriable(err) || errors.Is(err, kerr.RebalanceInProgress); ctx.Err() != nil || !retriable {
			t.Errorf("commit: %v", err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRebalanceKgoCooperativeSticky(t *testing.T) {
	runRebalance(t, startKgoMember)
}

// TestRebalanceKgoConsumerProtocol runs the same scenario on a KIP-848
// consumer group: franz-go's ServerSideBalancer, the broker assigning with
// its uniform assignor and members heartbeating every 200 ms.
func TestRebalanceKgoConsumerProtocol(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Kafka.GroupConsumerHeartbeatInterval = 200 * time.Millisecond
	kip848 := kgoMember(kgo.ServerSideBalancer())
	runRebalanceOn(t, cfg, kip848, kip848, func(addr, group string) {
		// The group is a consumer group, its two members on the consumer
		// protocol, sharing the four partitions.
		cl := newClient(t, addr)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups = []string{group}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		g := resp.Groups[0]
		if g.ErrorCode != 0 || len(g.Members) != 2 || g.AssignorName != "uniform" || g.Epoch < 2 {
			t.Fatalf("ConsumerGroupDescribe: %+v", g)
		}
		n := 0
		for _, m := range g.Members {
			if m.MemberType != 1 || len(m.SubscribedTopics) != 1 {
				t.Fatalf("member %+v", m)
			}
			for _, tp := range m.TargetAssignment.TopicPartitions {
				n += len(tp.Partitions)
			}
		}
		if n != 4 {
			t.Fatalf("targets cover %d partitions, want 4: %+v", n, g.Members)
		}
		listed, err := kadm.NewClient(cl).ListGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if lg, ok := listed[group]; !ok || lg.ProtocolType != "consumer" {
			t.Fatalf("listed %+v", listed)
		}
		lreq := kmsg.NewPtrListGroupsRequest()
		lreq.TypesFilter = []string{"consumer"}
		lresp, err := lreq.RequestWith(ctx, cl)
		if err != nil || len(lresp.Groups) != 1 || lresp.Groups[0].GroupType != "consumer" {
			t.Fatalf("ListGroups of type consumer: %+v %v", lresp, err)
		}
	})
}

// TestRebalanceMixedProtocolUpgrade: the scenario as a rolling switch to
// KIP-848 (kafka.group-consumer-migration-policy "bidirectional"): a
// consumes on the classic protocol (cooperative-sticky), b joins on the
// consumer protocol and the running classic group becomes a consumer
// group that keeps a as a classic member, assigned by the broker; a
// leaves and b takes every partition. No record lost or read twice.
func TestRebalanceMixedProtocolUpgrade(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Kafka.GroupConsumerHeartbeatInterval = 200 * time.Millisecond
	runRebalanceOn(t, cfg, startKgoMember, kgoMember(kgo.ServerSideBalancer()), func(addr, group string) {
		checkMixedGroup(t, addr, group, map[string]int8{"a": 0, "b": 1})
	})
}

// TestRebalanceMixedProtocolDowngrade: the other way round: a consumes on
// the consumer protocol, b joins the consumer group as a classic member;
// when a (the last member on the consumer protocol) leaves, the group
// becomes classic again and b's classic rebalance takes every partition.
func TestRebalanceMixedProtocolDowngrade(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.Kafka.GroupConsumerHeartbeatInterval = 200 * time.Millisecond
	var addr string
	runRebalanceOn(t, cfg, kgoMember(kgo.ServerSideBalancer()), startKgoMember, func(a, group string) {
		addr = a
		checkMixedGroup(t, addr, group, map[string]int8{"a": 1, "b": 0})
	})
	// b left last, as a classic member: the group is classic (and empty).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := kmsg.NewPtrListGroupsRequest()
	resp, err := req.RequestWith(ctx, newClient(t, addr))
	if err != nil || len(resp.Groups) != 1 || resp.Groups[0].GroupType != "classic" {
		t.Fatalf("ListGroups after the downgrade: %+v %v", resp, err)
	}
}

// checkMixedGroup checks with ConsumerGroupDescribe that a group is a
// consumer group whose members (by client ID) are of the given types (0
// classic, 1 consumer protocol), each assigned some of the four
// partitions, none twice.
func checkMixedGroup(t *testing.T, addr, group string, types map[string]int8) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx, newClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	g := resp.Groups[0]
	if g.ErrorCode != 0 || len(g.Members) != len(types) {
		t.Fatalf("ConsumerGroupDescribe: %+v", g)
	}
	seen := map[int32]bool{}
	for _, m := range g.Members {
		if want, ok := types[m.ClientID]; !ok || m.MemberType != want {
			t.Fatalf("member %s of type %d, want %v", m.ClientID, m.MemberType, types)
		}
		n := 0
		for _, tp := range m.Assignment.TopicPartitions {
			for _, p := range tp.Partitions {
				if seen[p] {
					t.Fatalf("partition %d assigned twice: %+v", p, g.Members)
				}
				seen[p] = true
				n++
			}
		}
		if n == 0 {
			t.Fatalf("member %s has no partition: %+v", m.ClientID, g.Members)
		}
	}
}

// saramaHandler records and marks each message and commits synchronously
// (auto-commit is off) after every few; Cleanup commits what is left when a
// session ends, before the member rejoins.
type saramaHandler struct {
	name string
	l    *ledger
}

func (h saramaHandler) Setup(sarama.ConsumerGroupSession) error { return nil }

func (h saramaHandler) Cleanup(s sarama.ConsumerGroupSession) error {
	s.Commit()
	return nil
}

func (h saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	take := func(m *sarama.ConsumerMessage) {
		h.l.add(h.name, m.Partition, m.Offset)
		s.MarkMessage(m, "")
	}
	for {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				return nil
			}
			take(m)
		drain:
			for range 100 {
				select {
				case m, ok := <-c.Messages():
					if !ok {
						break drain
					}
					take(m)
				default:
					break drain
				}
			}
			s.Commit()
		case <-s.Context().Done():
			return nil
		}
	}
}

// saramaMember returns a starter for a sarama consumer with the range
// strategy at the given protocol version (nil: sarama's default, 2.1.0).
func saramaMember(version *sarama.KafkaVersion) memberStarter {
	return func(t *testing.T, addr, group, topic, name string, l *ledger) func() {
		cfg := sarama.NewConfig()
		if version != nil {
			cfg.Version = *version
		}
		cfg.ClientID = name
		cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
		cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
		cfg.Consumer.Offsets.AutoCommit.Enable = false
		cfg.Consumer.Group.Heartbeat.Interval = 100 * time.Millisecond
		cfg.Consumer.Return.Errors = true
		grp, err := sarama.NewConsumerGroup([]string{addr}, group, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			for err := range grp.Errors() {
				t.Logf("sarama %s: %v", name, err)
			}
		}()
		go func() {
			defer close(done)
			for ctx.Err() == nil {
				if err := grp.Consume(ctx, []string{topic}, saramaHandler{name: name, l: l}); err != nil && ctx.Err() == nil {
					t.Logf("sarama %s: consume: %v", name, err)
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
		var once sync.Once
		stop := func() {
			once.Do(func() {
				cancel()
				<-done
				if err := grp.Close(); err != nil {
					t.Errorf("sarama %s: close: %v", name, err)
				}
			})
		}
		t.Cleanup(stop)
		return stop
	}
}

func TestRebalanceSaramaRange(t *testing.T) {
	for _, v := range []struct {
		name    string
		version *sarama.KafkaVersion
	}{
		{"v3.6", &sarama.V3_6_0_0},
		{"default-version", nil},
	} {
		t.Run(v.name, func(t *testing.T) { runRebalance(t, saramaMember(v.version)) })
	}
}

//go:build e2e && cgo

package compat

// KIP-848's rolling switch between the group protocols with two client
// implementations: librdkafka (confluent-kafka-go) and franz-go, each on
// one side, against the chronik binary. Kafka's online upgrade and
// downgrade (core/group/mixed.go) must work with clients as they are.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// mixedLedger records which member read each record.
type mixedLedger struct {
	mu   sync.Mutex
	read map[string]map[int32]map[int64]bool // member → partition → offsets
}

func (l *mixedLedger) add(member string, p int32, o int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.read[member] == nil {
		l.read[member] = map[int32]map[int64]bool{}
	}
	if l.read[member][p] == nil {
		l.read[member][p] = map[int64]bool{}
	}
	l.read[member][p][o] = true
}

// count is how many records a member read.
func (l *mixedLedger) count(member string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, offs := range l.read[member] {
		n += len(offs)
	}
	return n
}

// beyond reports whether a member read a record past from[p] on every
// partition.
func (l *mixedLedger) beyond(member string, from map[int32]int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, f := range from {
		past := false
		for o := range l.read[member][p] {
			past = past || o >= f
		}
		if !past {
			return false
		}
	}
	return true
}

// missing describes the records below end that no member read, by
// partition: "" when every one was read.
func (l *mixedLedger) missing(end map[int32]int64) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for p := range int32(len(end)) {
		n, first := 0, int64(-1)
		for o := range end[p] {
			read := false
			for _, m := range l.read {
				read = read || m[p][o]
			}
			if !read {
				if n == 0 {
					first = o
				}
				n++
			}
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("partition %d: %d records from offset %d", p, n, first))
		}
	}
	return strings.Join(out, "; ")
}

// ranges lists each member's runs of consecutive offsets per partition.
func (l *mixedLedger) ranges() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, member := range []string{"classic", "consumer"} {
		for p := range int32(4) {
			var offs []int64
			for o := range l.read[member][p] {
				offs = append(offs, o)
			}
			slices.Sort(offs)
			var runs []string
			for i := 0; i < len(offs); {
				j := i
				for j+1 < len(offs) && offs[j+1] == offs[j]+1 {
					j++
				}
				runs = append(runs, fmt.Sprintf("%d-%d", offs[i], offs[j]))
				i = j + 1
			}
			out = append(out, fmt.Sprintf("%s p%d %v", member, p, runs))
		}
	}
	return strings.Join(out, "; ")
}

// twice counts the records both members read.
func (l *mixedLedger) twice() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for p, offs := range l.read["classic"] {
		for o := range offs {
			if l.read["consumer"][p][o] {
				n++
			}
		}
	}
	return n
}

// mixedMember consumes topic in group until stopped (closing the client,
// which leaves the group); classic picks the protocol.
type mixedMember func(t *testing.T, addr, group, topic, name string, classic bool, l *mixedLedger) (stop func())

// rdkMember is a librdkafka consumer: cooperative-sticky on the classic
// protocol, or group.protocol=consumer. Offsets are stored for auto-commit
// once a message is recorded (enable.auto.offset.store=false and
// StoreMessage, librdkafka's at-least-once pattern): with the automatic
// store, a consumer closed between polls committed a few records past the
// last one ReadMessage returned, on either protocol, and the next owner of
// the partition skipped them.
func rdkMember(t *testing.T, addr, group, topic, name string, classic bool, l *mixedLedger) func() {
	cm := kafka.ConfigMap{
		"bootstrap.servers": addr, "client.id": name, "group.id": group,
		"auto.offset.reset": "earliest", "enable.auto.commit": true, "auto.commit.interval.ms": 200,
		"enable.auto.offset.store": false,
	}
	if classic {
		cm["partition.assignment.strategy"] = "cooperative-sticky"
		cm["heartbeat.interval.ms"] = 500
	} else {
		cm["group.protocol"] = "consumer"
	}
	c, err := kafka.NewConsumer(&cm)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SubscribeTopics([]string{topic}, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			m, err := c.ReadMessage(100 * time.Millisecond)
			if err != nil {
				var kerr kafka.Error
				if errors.As(err, &kerr) && kerr.IsFatal() {
					t.Errorf("%s: %v", name, err)
					return
				}
				continue
			}
			l.add(name, m.TopicPartition.Partition, int64(m.TopicPartition.Offset))
			if _, err := c.StoreMessage(m); err != nil {
				t.Errorf("%s: store offset: %v", name, err)
			}
		}
	}()
	return stopper(t, name, cancel, done, c.Close)
}

// stopper returns a member's stop: end its read loop (cancel, then wait
// for done), then close its client; once, and at the end of t at the
// latest.
func stopper(t *testing.T, name string, cancel func(), done <-chan struct{}, closeClient func() error) func() {
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
			if err := closeClient(); err != nil {
				t.Errorf("%s close: %v", name, err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// kgoMixedMember is a franz-go consumer: cooperative-sticky on the classic
// protocol, or the consumer protocol (ServerSideBalancer).
func kgoMixedMember(t *testing.T, addr, group, topic, name string, classic bool, l *mixedLedger) func() {
	protocol := kgo.ServerSideBalancer()
	if classic {
		protocol = kgo.Balancers(kgo.CooperativeStickyBalancer())
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID(name), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		protocol, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.HeartbeatInterval(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollRecords(ctx, 500).EachRecord(func(r *kgo.Record) { l.add(name, r.Partition, r.Offset) })
		}
	}()
	return stopper(t, name, cancel, done, func() error { cl.Close(); return nil })
}

// TestE2EMixedGroupProtocols: a rolling switch of group.protocol in both
// directions with librdkafka on one side and franz-go on the other. While
// records are produced, the classic member consumes alone; the
// consumer-protocol member joins (the running classic group becomes a
// consumer group hosting the classic member: ConsumerGroupDescribe lists a
// member of each type, each with partitions); the consumer-protocol member
// leaves (the group becomes classic again and the classic member takes
// every partition); every record produced is read.
func TestE2EMixedGroupProtocols(t *testing.T) {
	t.Parallel() // beside the matrix's rows, on a broker of its own
	b := startBroker(t)
	for _, c := range []struct {
		name              string
		classic, consumer mixedMember
	}{
		{"librdkafka classic, franz-go consumer", rdkMember, kgoMixedMember},
		{"franz-go classic, librdkafka consumer", kgoMixedMember, rdkMember},
	} {
		t.Run(c.name, func(t *testing.T) {
			runMixedGroup(t, b.addr, c.classic, c.consumer)
		})
	}
}

func runMixedGroup(t *testing.T, addr string, classicMember, consumerMember mixedMember) {
	const partitions = 4
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	topic, group := "mixed-"+suffix, "mixed-group-"+suffix
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	pctx, stopProducing := context.WithCancel(ctx)
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; pctx.Err() == nil; i++ {
			recs := make([]*kgo.Record, 20)
			for j := range recs {
				recs[j] = &kgo.Record{Key: []byte(strconv.Itoa(i*20 + j)), Value: []byte("v")}
			}
			if err := cl.ProduceSync(pctx, recs...).FirstErr(); err != nil && pctx.Err() == nil {
				t.Errorf("produce: %v", err)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() { stopProducing(); <-produced }()

	l := &mixedLedger{read: map[string]map[int32]map[int64]bool{}}
	var missing string // what the last check found unread
	wait := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if ctx.Err() != nil {
				committed, _ := adm.FetchOffsets(context.Background(), group)
				var at []string
				committed.Each(func(o kadm.OffsetResponse) { at = append(at, fmt.Sprintf("%d:%d", o.Partition, o.At)) })
				t.Fatalf("timed out waiting for %s (classic read %d, consumer read %d; unread: %s; committed %v; read ranges %s)", what, l.count("classic"), l.count("consumer"), missing, at, l.ranges())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	stopClassic := classicMember(t, addr, group, topic, "classic", true, l)
	wait("the classic member to read", func() bool { return l.count("classic") >= 200 })
	stopConsumer := consumerMember(t, addr, group, topic, "consumer", false, l)

	// The group is a consumer group with one member of each protocol,
	// both reading.
	var described string
	wait("a consumer group with a classic and a consumer-protocol member, both with partitions", func() bool {
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups = []string{group}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 || len(resp.Groups[0].Members) != 2 {
			return false
		}
		types := map[string]int8{}
		for _, m := range resp.Groups[0].Members {
			n := 0
			for _, tp := range m.Assignment.TopicPartitions {
				n += len(tp.Partitions)
			}
			if n == 0 {
				return false
			}
			types[m.ClientID] = m.MemberType
		}
		described = fmt.Sprint(types)
		return types["classic"] == 0 && types["consumer"] == 1
	})
	consumerBefore := l.count("consumer")
	wait("the consumer-protocol member to read", func() bool { return l.count("consumer") > consumerBefore })
	t.Logf("mixed group: member types %s; classic read %d, consumer read %d", described, l.count("classic"), l.count("consumer"))

	// The consumer-protocol member leaves: the group is classic again and
	// its member takes every partition.
	stopConsumer()
	wait("the group to be classic again", func() bool {
		resp, err := kmsg.NewPtrListGroupsRequest().RequestWith(ctx, cl)
		if err != nil {
			return false
		}
		for _, g := range resp.Groups {
			if g.Group == group {
				return g.GroupType == "classic"
			}
		}
		return false
	})
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("end offsets: %v %v", err, ends.Error())
	}
	from := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { from[o.Partition] = o.Offset })
	wait("the classic member to read every partition after the downgrade", func() bool { return l.beyond("classic", from) })

	stopProducing()
	<-produced
	if ends, err = adm.ListEndOffsets(ctx, topic); err != nil || ends.Error() != nil {
		t.Fatalf("end offsets: %v %v", err, ends.Error())
	}
	end := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { end[o.Partition] = o.Offset })
	wait("every record to be read", func() bool { missing = l.missing(end); return missing == "" })
	stopClassic()
	t.Logf("end offsets %v; classic read %d, consumer read %d, both %d", end, l.count("classic"), l.count("consumer"), l.twice())
}

package kafka

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kgoLogger sends franz-go's warnings and errors to t.Log.
type kgoLogger struct{ t testing.TB }

func (l kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }
func (l kgoLogger) Log(level kgo.LogLevel, msg string, kv ...any) {
	l.t.Logf("kgo %s: %s %v", level, msg, kv)
}

func newKgoClient(t *testing.T, ts *testServer, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{
		kgo.SeedBrokers(ts.addr),
		kgo.WithLogger(kgoLogger{t}),
		kgo.RequestTimeoutOverhead(5 * time.Second),
	}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// A default franz-go producer (idempotent, newest versions, topic IDs) and a
// direct consumer work end to end through the handlers.
func TestKgoProduceConsume(t *testing.T) {
	// The authorizer sees every request: record the versions kgo chose.
	var mu sync.Mutex
	used := map[int16]int16{}
	ts := startServer(t, Config{Authorizer: AuthorizerFunc(func(_ context.Context, _ string, key int16, req kmsg.Request) error {
		mu.Lock()
		defer mu.Unlock()
		used[key] = max(used[key], req.GetVersion())
		return nil
	})}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	admin := newKgoClient(t, ts)
	create := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "kgo", 3, -1
	create.Topics = append(create.Topics, rt)
	create.TimeoutMillis = 5000
	resp, err := create.RequestWith(ctx, admin)
	if err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create: %v %+v", err, resp)
	}

	producer := newKgoClient(t, ts, kgo.DefaultProduceTopic("kgo"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	var want []string
	for i := range 30 {
		v := fmt.Sprintf("value-%02d", i)
		want = append(want, v)
		if err := producer.ProduceSync(ctx, kgo.StringRecord(v)).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	// A batch of several records in one request.
	var recs []*kgo.Record
	for i := range 20 {
		v := fmt.Sprintf("batch-%02d", i)
		want = append(want, v)
		recs = append(recs, kgo.StringRecord(v))
	}
	if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce batch: %v", err)
	}

	consumer := newKgoClient(t, ts, kgo.ConsumeTopics("kgo"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500*time.Millisecond))
	var got []string
	for len(got) < len(want) {
		fs := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before the deadline: %v", len(got), len(want), fs.Errors())
		}
		for _, e := range fs.Errors() {
			t.Fatalf("fetch error: %v", e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got = append(got, string(r.Value))
			if r.LeaderEpoch != 3 {
				t.Errorf("record leader epoch %d", r.LeaderEpoch)
			}
		})
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("consumed %v\nwant %v", got, want)
	}

	mu.Lock()
	for _, a := range apis {
		switch a.key {
		case keyProduce, keyFetch, keyMetadata, keyListOffsets, keyInitProducerID, keyAPIVersions, keyCreateTopics:
			if used[a.key] != a.max {
				t.Errorf("kgo used %s v%d, want our max v%d", kmsg.NameForKey(a.key), used[a.key], a.max)
			}
		}
	}
	mu.Unlock()

	// Data produced while the consumer long-polls arrives.
	if err := producer.ProduceSync(ctx, kgo.StringRecord("late")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	fs := consumer.PollFetches(ctx)
	if fs.NumRecords() != 1 || string(fs.Records()[0].Value) != "late" {
		t.Fatalf("late record: %v %v", fs.Records(), fs.Errors())
	}
}

// franz-go creates a topic through Metadata auto-creation when both sides
// allow it.
func TestKgoAutoCreate(t *testing.T) {
	ts := startServer(t, Config{AutoCreateTopics: true}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := newKgoClient(t, ts, kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "auto", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if _, ok := ts.b.Topic("auto"); !ok {
		t.Fatal("topic not created")
	}
}

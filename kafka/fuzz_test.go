package kafka

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/partition"
)

var update = flag.Bool("update", false, "rewrite the seed corpus under testdata/fuzz")

const fuzzMaxRequest = 1 << 16

// seedRequests are valid requests of every served key at its oldest and
// newest version, with some content.
func seedRequests() []kmsg.Request {
	var out []kmsg.Request
	for _, a := range apis {
		for _, v := range []int16{a.min, a.max} {
			req := kmsg.RequestForKey(a.key)
			req.SetVersion(v)
			switch r := req.(type) {
			case *kmsg.ProduceRequest:
				r.Acks, r.TimeoutMillis = -1, 1000
				rt := kmsg.NewProduceRequestTopic()
				rt.Topic, rt.TopicID = "t", [16]byte{1}
				rp := kmsg.NewProduceRequestTopicPartition()
				rp.Records = makeBatch(1, "a", "b")
				rt.Partitions = append(rt.Partitions, rp)
				r.Topics = append(r.Topics, rt)
			case *kmsg.FetchRequest:
				rt := kmsg.NewFetchRequestTopic()
				rt.Topic, rt.TopicID = "t", [16]byte{1}
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.PartitionMaxBytes = 1000
				rt.Partitions = append(rt.Partitions, rp)
				r.Topics = append(r.Topics, rt)
			case *kmsg.MetadataRequest:
				rt := kmsg.NewMetadataRequestTopic()
				rt.Topic = kmsg.StringPtr("t")
				r.Topics = append(r.Topics, rt)
			case *kmsg.ListOffsetsRequest:
				rt := kmsg.NewListOffsetsRequestTopic()
				rt.Topic = "t"
				rt.Partitions = append(rt.Partitions, kmsg.NewListOffsetsRequestTopicPartition())
				r.Topics = append(r.Topics, rt)
			case *kmsg.CreateTopicsRequest:
				rt := kmsg.NewCreateTopicsRequestTopic()
				rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "n", 2, 1
				r.Topics = append(r.Topics, rt)
			case *kmsg.DeleteTopicsRequest:
				r.TopicNames = []string{"t"}
				dt := kmsg.NewDeleteTopicsRequestTopic()
				dt.Topic = kmsg.StringPtr("t")
				r.Topics = append(r.Topics, dt)
			case *kmsg.DescribeConfigsRequest:
				res := kmsg.NewDescribeConfigsRequestResource()
				res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "t"
				r.Resources = append(r.Resources, res)
			case *kmsg.OffsetForLeaderEpochRequest:
				rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
				rt.Topic = "t"
				rt.Partitions = append(rt.Partitions, kmsg.NewOffsetForLeaderEpochRequestTopicPartition())
				r.Topics = append(r.Topics, rt)
			case *kmsg.DeleteRecordsRequest:
				rt := kmsg.NewDeleteRecordsRequestTopic()
				rt.Topic = "t"
				rp := kmsg.NewDeleteRecordsRequestTopicPartition()
				rp.Offset = 1
				rt.Partitions = append(rt.Partitions, rp)
				r.Topics = append(r.Topics, rt)
			case *kmsg.AlterConfigsRequest:
				res := kmsg.NewAlterConfigsRequestResource()
				res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "t"
				cf := kmsg.NewAlterConfigsRequestResourceConfig()
				cf.Name, cf.Value = "retention.ms", kmsg.StringPtr("1000")
				res.Configs = append(res.Configs, cf)
				r.Resources = append(r.Resources, res)
			case *kmsg.IncrementalAlterConfigsRequest:
				res := kmsg.NewIncrementalAlterConfigsRequestResource()
				res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "t"
				cf := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
				cf.Name, cf.Op, cf.Value = "cleanup.policy", kmsg.IncrementalAlterConfigOpAppend, kmsg.StringPtr("compact")
				res.Configs = append(res.Configs, cf)
				r.Resources = append(r.Resources, res)
			case *kmsg.CreatePartitionsRequest:
				rt := kmsg.NewCreatePartitionsRequestTopic()
				rt.Topic, rt.Count = "t", 3
				r.Topics = append(r.Topics, rt)
			case *kmsg.DescribeLogDirsRequest:
				rt := kmsg.NewDescribeLogDirsRequestTopic()
				rt.Topic, rt.Partitions = "t", []int32{0}
				r.Topics = append(r.Topics, rt)
			case *kmsg.DescribeACLsRequest:
				r.ResourceType, r.ResourcePatternType, r.ResourceName = kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeMatch, kmsg.StringPtr("t")
				r.Operation, r.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			case *kmsg.CreateACLsRequest:
				c := kmsg.NewCreateACLsRequestCreation()
				c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, "t", kmsg.ACLResourcePatternTypePrefixed
				c.Principal, c.Host = "User:alice", "*"
				c.Operation, c.PermissionType = kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
				r.Creations = append(r.Creations, c)
			case *kmsg.DeleteACLsRequest:
				f := kmsg.NewDeleteACLsRequestFilter()
				f.ResourceType, f.ResourcePatternType, f.Principal = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny, kmsg.StringPtr("User:alice")
				f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
				r.Filters = append(r.Filters, f)
			case *kmsg.DescribeClientQuotasRequest:
				c := kmsg.NewDescribeClientQuotasRequestComponent()
				c.EntityType, c.MatchType, c.Match = "user", kmsg.QuotasMatchTypeExact, kmsg.StringPtr("alice")
				r.Components = append(r.Components, c)
				c = kmsg.NewDescribeClientQuotasRequestComponent()
				c.EntityType, c.MatchType = "client-id", kmsg.QuotasMatchTypeAny
				r.Components = append(r.Components, c)
			case *kmsg.AlterClientQuotasRequest:
				e := kmsg.NewAlterClientQuotasRequestEntry()
				for _, typ := range []string{"user", "client-id"} {
					p := kmsg.NewAlterClientQuotasRequestEntryEntity()
					p.Type = typ // nil name: the default
					e.Entity = append(e.Entity, p)
				}
				for _, key := range []string{"producer_byte_rate", "consumer_byte_rate"} {
					op := kmsg.NewAlterClientQuotasRequestEntryOp()
					op.Key, op.Value = key, 1<<20
					e.Ops = append(e.Ops, op)
				}
				r.Entries = append(r.Entries, e)
			}
			out = append(out, req)
		}
	}
	return out
}

// fuzzSeeds are whole frames: valid ones, two in a row, truncated ones, and
// frames with bad sizes, keys and versions.
func fuzzSeeds() [][]byte {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("seed"))
	var seeds [][]byte
	for i, req := range seedRequests() {
		frame := f.AppendRequest(nil, req, int32(i))
		seeds = append(seeds, frame, frame[:len(frame)/2], frame[:len(frame)-1])
	}
	api := f.AppendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 1)
	seeds = append(seeds, append(append([]byte(nil), api...), api...))
	future := kmsg.NewPtrApiVersionsRequest()
	future.Version = 5
	seeds = append(seeds,
		f.AppendRequest(nil, future, 2),
		[]byte{0x7f, 0xff, 0xff, 0xff, 0, 18, 0, 0},
		[]byte{0, 0, 0, 8, 0, 10, 0, 0, 0, 0, 0, 1},
		[]byte{0, 0, 0, 4, 0, 0, 0, 0},
	)
	return seeds
}

// TestFuzzSeedCorpus keeps testdata/fuzz/FuzzReadRequest in sync with
// fuzzSeeds; run with -update to rewrite it.
func TestFuzzSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzReadRequest")
	for i, seed := range fuzzSeeds() {
		path := filepath.Join(dir, fmt.Sprintf("seed-%03d", i))
		content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(seed)) + ")\n"
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("%s is stale or missing (err %v): run go test ./kafka -run TestFuzzSeedCorpus -update", path, err)
		}
	}
}

// FuzzReadRequest feeds arbitrary bytes to the frame and header reader: it
// must never panic, never return a request outside the served table, and
// every request it returns must be answerable.
func FuzzReadRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		var lastClientID *string
		for {
			r, err := readRequest(br, fuzzMaxRequest, lastClientID)
			if r != nil && r.clientID != nil {
				lastClientID = r.clientID
			}
			if err != nil {
				if r != nil && r.msg != nil {
					t.Fatalf("error %v with a parsed body", err)
				}
				return
			}
			a := lookupAPI(r.key)
			if a == nil || r.version < a.min || r.version > a.max || r.msg == nil ||
				r.msg.Key() != r.key || r.msg.GetVersion() != r.version || r.size > fuzzMaxRequest+4 {
				t.Fatalf("bad request: %+v", r)
			}
			_ = r.msg.AppendTo(nil)
			_ = appendResponse(nil, r, r.msg.ResponseKind())
		}
	})
}

// FuzzHandlers runs every handler on whatever parses, against an in-memory
// backend with one topic: client input must never panic the broker.
func FuzzHandlers(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := newMemBackend()
		if _, err := b.CreateTopic(context.Background(), clusterSpec("t", 2), false); err != nil {
			t.Fatal(err)
		}
		b.produceForFuzz()
		// The principal of a request read without a connection is "":
		// a super user here, so the credential, ACL and quota APIs run to
		// their stores.
		s := New(Config{
			MaxPartitionsPerTopic: 8, AutoCreateTopics: true, Credentials: newMemCredentials(), ACLs: newMemACLs(),
			Quotas: newMemQuotas(), SuperUsers: []string{""},
		}, b, testMetrics(t), slog.New(slog.DiscardHandler))
		s.appendTo = b.appendRecords
		br := bufio.NewReader(bytes.NewReader(data))
		for {
			r, err := readRequest(br, fuzzMaxRequest, nil)
			if err != nil {
				return
			}
			if fr, ok := r.msg.(*kmsg.FetchRequest); ok {
				fr.MaxWaitMillis = 0 // no long polls in a fuzzer
			}
			a := lookupAPI(r.key)
			var resp kmsg.Response
			if a.begin != nil {
				if finish := a.begin(s, r); finish != nil {
					resp = finish(context.Background())
				}
			} else {
				resp = a.handle(context.Background(), s, r)
			}
			if resp != nil {
				if resp.Key() != r.key || resp.GetVersion() != r.version {
					t.Fatalf("%s v%d answered with %s v%d", kmsg.NameForKey(r.key), r.version, kmsg.NameForKey(resp.Key()), resp.GetVersion())
				}
				_ = appendResponse(nil, r, resp)
				_ = firstErrorCode(resp)
			}
		}
	})
}

func (b *memBackend) produceForFuzz() {
	_, _ = b.appendRecords(tp("t", 0), partition.TxnProduce{}, makeBatch(1, "x", "y")).Wait(context.Background())
}

// memCredentials is a CredentialStore in a map, for handler tests (the
// broker's is the meta shard, tested in core/broker).
type memCredentials struct {
	mu    sync.Mutex
	creds map[[2]string]ScramCredential
}

func newMemCredentials() *memCredentials {
	return &memCredentials{creds: map[[2]string]ScramCredential{}}
}

func (m *memCredentials) ScramCredential(user, mechanism string) (ScramCredential, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.creds[[2]string{user, mechanism}]
	return c, ok
}

func (m *memCredentials) ScramUsers() map[string]map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]map[string]int{}
	for k, c := range m.creds {
		if out[k[0]] == nil {
			out[k[0]] = map[string]int{}
		}
		out[k[0]][k[1]] = c.Iterations
	}
	return out
}

func (m *memCredentials) SetScram(_ context.Context, user, mechanism string, c ScramCredential) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.creds[[2]string{user, mechanism}] = c
	return nil
}

func (m *memCredentials) DeleteScram(_ context.Context, user, mechanism string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.creds[[2]string{user, mechanism}]; !ok {
		return ErrNoSuchCredential
	}
	delete(m.creds, [2]string{user, mechanism})
	return nil
}

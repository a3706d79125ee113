package kafka

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// describePartitions sends one DescribeTopicPartitions and returns its
// topics as "name:code:p0,p1,…" and the next cursor ("" for none).
func describePartitions(t *testing.T, cl *kgo.Client, topics []string, limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor) ([]string, string) {
	t.Helper()
	req := kmsg.NewPtrDescribeTopicPartitionsRequest()
	for _, name := range topics {
		rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
		rt.Topic = name
		req.Topics = append(req.Topics, rt)
	}
	req.ResponsePartitionLimit, req.Cursor = limit, cursor
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rt := range resp.Topics {
		var ps []string
		for _, p := range rt.Partitions {
			if p.ErrorCode != 0 || p.LeaderID != 1 || !slices.Equal(p.Replicas, []int32{1}) || !slices.Equal(p.ISR, []int32{1}) || len(p.OfflineReplicas) != 0 || p.LeaderEpoch < 0 {
				t.Errorf("%s/%d: %+v", *rt.Topic, p.Partition, p)
			}
			ps = append(ps, fmt.Sprint(p.Partition))
		}
		got = append(got, fmt.Sprintf("%s:%d:%s", *rt.Topic, rt.ErrorCode, strings.Join(ps, ",")))
	}
	next := ""
	if c := resp.NextCursor; c != nil {
		next = fmt.Sprintf("%s/%d", c.Topic, c.Partition)
	}
	return got, next
}

func TestDescribeTopicPartitions(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "b", 2)
	ts.createTopic(t, "a", 3)
	ts.createTopic(t, "c", 1)
	cl := newKgoClient(t, ts)
	unknown := kerr.UnknownTopicOrPartition.Code
	for _, tc := range []struct {
		name   string
		topics []string
		limit  int32
		cursor *kmsg.DescribeTopicPartitionsRequestCursor
		want   []string
		next   string
	}{
		{"all", nil, 0, nil, []string{"a:0:0,1,2", "b:0:0,1", "c:0:0"}, ""},
		{"all, first page", nil, 4, nil, []string{"a:0:0,1,2", "b:0:0"}, "b/1"},
		{"all, second page", nil, 4, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "b", Partition: 1}, []string{"b:0:1", "c:0:0"}, ""},
		{"a page ending with a topic", nil, 3, nil, []string{"a:0:0,1,2"}, "b/0"},
		{"cursor past a deleted topic", nil, 0, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "bb", Partition: 7}, []string{"c:0:0"}, ""},
		{"named, sorted, unknown", []string{"c", "missing", "a", "c"}, 0, nil, []string{"a:0:0,1,2", "c:0:0", fmt.Sprintf("missing:%d:", unknown)}, ""},
		{"named, paged", []string{"c", "a"}, 2, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "a", Partition: 1}, []string{"a:0:1,2"}, "c/0"},
		{"cursor on a topic not named", []string{"a"}, 0, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "b"}, []string{fmt.Sprintf("a:%d:", kerr.InvalidRequest.Code)}, ""},
	} {
		got, next := describePartitions(t, cl, tc.topics, tc.limit, tc.cursor)
		if !slices.Equal(got, tc.want) || next != tc.next {
			t.Errorf("%s: %q next %q, want %q next %q", tc.name, got, next, tc.want, tc.next)
		}
	}
}

// TestDescribeTopicPartitionsACLs: listing every topic lists the
// describable ones; a named topic that is not gets
// TOPIC_AUTHORIZATION_FAILED, before its existence is told.
func TestDescribeTopicPartitionsACLs(t *testing.T) {
	acls := newMemACLs(allow("User:bob", kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeLiteral, "orders-1", kmsg.ACLOperationRead))
	ts := aclServerWith(t, acls, false, nil)
	bob := newKgoClient(t, ts, kgo.SASL(plain.Auth{User: "bob", Pass: "bob-secret"}.AsMechanism()), kgo.RequestRetries(0))
	denied := kerr.TopicAuthorizationFailed.Code
	if got, _ := describePartitions(t, bob, nil, 0, nil); !slices.Equal(got, []string{"orders-1:0:0"}) {
		t.Fatalf("bob lists %q, want only orders-1", got)
	}
	want := []string{"orders-1:0:0", fmt.Sprintf("payments:%d:", denied), fmt.Sprintf("secret:%d:", denied)}
	if got, _ := describePartitions(t, bob, []string{"payments", "orders-1", "secret"}, 0, nil); !slices.Equal(got, want) {
		t.Fatalf("bob names topics: %q, want %q", got, want)
	}
}

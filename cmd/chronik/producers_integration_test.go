//go:build integration

package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-go/chronik/core/opsctl"
)

// TestTopicProducersCommand: an idempotent producer that wrote ten records
// one at a time is listed with its producer ID and last sequence 9; a topic
// nobody wrote to says so; --partitions and unknown topics are checked.
func TestTopicProducersCommand(t *testing.T) {
	cli := newOpsCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cli.ok("topic", "create", "t", "--partitions", "1")
	cl := cli.client(kgo.DefaultProduceTopic("t"))
	before := time.Now().Add(-time.Second)
	for i := range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "v%d", i)}).FirstErr(); err != nil {
			t.Fatalf("produce record %d: %v", i, err)
		}
	}
	id, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatalf("producer ID: %v", err)
	}

	got := opsJSON[opsctl.TopicProducers](cli, "topic", "producers", "t")
	if got.Topic != "t" || len(got.Partitions) != 1 || got.Partitions[0].Error != "" || len(got.Partitions[0].Producers) != 1 {
		t.Fatalf("topic producers t: %+v, want one partition with one producer", got)
	}
	p := got.Partitions[0].Producers[0]
	if p.ProducerID != id || p.Epoch != epoch || p.LastSequence != 9 || p.LastWrite == nil || p.TxnStartOffset != nil ||
		p.LastWrite.Before(before) || p.LastWrite.After(time.Now().Add(time.Second)) {
		t.Fatalf("producer %+v (last write %v), want ID %d, epoch %d, last sequence 9, written just now", p, p.LastWrite, id, epoch)
	}
	table := cli.ok("topic", "producers", "t", "--partitions", "0")
	want := fmt.Sprintf("PARTITION  PRODUCER-ID  EPOCH  LAST-SEQUENCE  LAST-WRITE            TXN-START\n0          %-11d  %-5d  9              %s  -\n",
		id, epoch, p.LastWrite.UTC().Format(time.RFC3339))
	if table != want {
		t.Fatalf("topic producers table:\n%s\nwant:\n%s", table, want)
	}

	cli.ok("topic", "create", "quiet", "--partitions", "3")
	if out := cli.ok("topic", "producers", "quiet"); out != "no producers: no idempotent producer wrote to topic \"quiet\" on partitions 0,1,2 in the last day\n" {
		t.Fatalf("topic producers of a topic nobody wrote to:\n%s", out)
	}
	none := opsJSON[opsctl.TopicProducers](cli, "topic", "producers", "quiet", "--partitions", "2,1")
	if len(none.Partitions) != 2 || none.Partitions[0].Partition != 1 || none.Partitions[1].Partition != 2 ||
		none.Partitions[0].Producers == nil || len(none.Partitions[0].Producers) != 0 {
		t.Fatalf("topic producers quiet --partitions 2,1: %+v", none)
	}
	cli.fails(`--partitions 3: topic "quiet" has partitions 0 to 2`, "topic", "producers", "quiet", "--partitions", "0,3")
	cli.fails(`topic "nope" does not exist — `+"`chronik topic list`", "topic", "producers", "nope")
}

// TestTopicProducersNeedsRead: with ACLs, a principal is told it needs
// READ on the topic, both when it may not see the topic at all and when it
// may only DESCRIBE it; READ lets it list the producers.
func TestTopicProducersNeedsRead(t *testing.T) {
	c, as := aclBrokerCLI(t)
	c.ok(as("admin", "topic", "create", "orders")...)

	t.Setenv(opsctl.EnvSASLPassword, "alice-secret")
	const needsRead = `the broker refused to show the producers of topic "orders" (TOPIC_AUTHORIZATION_FAILED): the principal you connect as needs READ on the topic — grant it with ` +
		"`chronik acl create --operation read --topic orders"
	c.fails(needsRead, as("alice", "topic", "producers", "orders")...)

	t.Setenv(opsctl.EnvSASLPassword, "admin-secret")
	c.ok(as("admin", "acl", "create", "--topic", "orders", "--principal", "User:alice", "--operation", "describe")...)
	t.Setenv(opsctl.EnvSASLPassword, "alice-secret")
	c.fails(needsRead, as("alice", "topic", "producers", "orders")...)

	t.Setenv(opsctl.EnvSASLPassword, "admin-secret")
	c.ok(as("admin", "acl", "create", "--topic", "orders", "--principal", "User:alice", "--operation", "read")...)
	t.Setenv(opsctl.EnvSASLPassword, "alice-secret")
	if out := c.ok(as("alice", "topic", "producers", "orders")...); !strings.HasPrefix(out, "no producers:") {
		t.Fatalf("topic producers with READ:\n%s", out)
	}
}

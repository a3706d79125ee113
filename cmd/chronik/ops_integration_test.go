//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/chronik-go/chronik/core/broker/brokertest"
	"github.com/chronik-go/chronik/core/config"
	"github.com/chronik-go/chronik/core/kerberos/kdctest"
	"github.com/chronik-go/chronik/core/opsctl"
	"github.com/chronik-go/chronik/core/testtls"
)

// opsCLI runs chronik commands in-process against one broker, the way a
// person would type them, with --brokers added.
type opsCLI struct {
	t       *testing.T
	brokers string
}

func newOpsCLI(t *testing.T) *opsCLI {
	t.Helper()
	return opsCLIFor(t, brokertest.Config(t))
}

// opsCLIFor starts a broker with cfg and returns a CLI for it.
func opsCLIFor(t *testing.T, cfg config.Config) *opsCLI {
	t.Helper()
	b := brokertest.Start(t, cfg)
	t.Setenv("CHRONIK_CONFIG", "")
	t.Setenv("CHRONIK_BROKERS", "")
	return &opsCLI{t: t, brokers: b.KafkaAddr()}
}

// exec runs one command line with stdin and returns stdout, stderr and the
// exit code, printing errors as run does.
func (c *opsCLI) exec(stdin string, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetArgs(append(args, "--brokers", c.brokers))
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	if err := root.Execute(); err != nil {
		for line := range strings.SplitSeq(err.Error(), "\n") {
			fmt.Fprintln(&errOut, "chronik: "+line)
		}
		code = 1
	}
	return out.String(), errOut.String(), code
}

// ok runs a command that must succeed and returns its stdout.
func (c *opsCLI) ok(args ...string) string {
	c.t.Helper()
	out, errOut, code := c.exec("", args...)
	if code != 0 {
		c.t.Fatalf("chronik %s: exit %d\nstderr: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// fails runs a command that must fail with stderr containing want.
func (c *opsCLI) fails(want string, args ...string) {
	c.t.Helper()
	out, errOut, code := c.exec("", args...)
	if code != 1 || !strings.Contains(errOut, want) {
		c.t.Fatalf("chronik %s: exit %d, stderr %q; want exit 1 and %q\nstdout: %s", strings.Join(args, " "), code, errOut, want, out)
	}
	if strings.Contains(errOut, "Usage:") {
		c.t.Fatalf("chronik %s: a runtime error printed the usage:\n%s", strings.Join(args, " "), errOut)
	}
}

// json runs a command with --format json and decodes its one document.
func opsJSON[T any](c *opsCLI, args ...string) T {
	c.t.Helper()
	out := c.ok(append(args, "--format", "json")...)
	var v T
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		c.t.Fatalf("chronik %s: decoding JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		c.t.Fatalf("chronik %s: more than one JSON document:\n%s", strings.Join(args, " "), out)
	}
	return v
}

func (c *opsCLI) client(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.brokers)}, opts...)...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(cl.Close)
	return cl
}

// produce writes n records to one partition and waits for the acks.
func (c *opsCLI) produce(ctx context.Context, topic string, partition int32, n int) {
	c.t.Helper()
	cl := c.client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Partition: partition, Value: fmt.Appendf(nil, "v%d", i)}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		c.t.Fatalf("produce to %s/%d: %v", topic, partition, err)
	}
}

func configOf(d opsctl.TopicDescription, name string) opsctl.ConfigEntry {
	for _, e := range d.Configs {
		if e.Name == name {
			return e
		}
	}
	return opsctl.ConfigEntry{}
}

// TestTopicCommands: create, list, describe and delete through the CLI,
// with the errors a person hits on the way.
func TestTopicCommands(t *testing.T) {
	cli := newOpsCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	created := opsJSON[opsctl.CreatedTopic](cli, "topic", "create", "orders", "--partitions", "3",
		"--config", "retention.ms=3600000", "--config", "cleanup.policy=delete")
	if created.Name != "orders" || created.PartitionCount != 3 || created.ReplicationFactor != 1 || created.ID == "" {
		t.Fatalf("create: %+v", created)
	}
	if created.Configs["retention.ms"] != "3600000" {
		t.Fatalf("create configs: %v", created.Configs)
	}
	if out := cli.ok("topic", "create", "defaults"); !strings.Contains(out, "defaults  1 ") {
		t.Fatalf("create with broker defaults:\n%s", out)
	}
	cli.fails(`topic "orders" already exists`, "topic", "create", "orders")
	cli.fails("INVALID_CONFIG", "topic", "create", "bad", "--config", "retention.ms=soon")
	cli.fails("INVALID_CONFIG", "topic", "create", "bad", "--config", "no.such.config=1")
	cli.fails("INVALID_REPLICATION_FACTOR", "topic", "create", "bad", "--replication-factor", "3")

	list := opsJSON[opsctl.TopicList](cli, "topic", "list")
	var names []string
	for _, s := range list.Topics {
		names = append(names, s.Name)
		if s.Name == "orders" && (s.ID != created.ID || s.PartitionCount != 3 || s.ReplicationFactor != 1) {
			t.Fatalf("list: %+v, created %+v", s, created)
		}
	}
	if strings.Join(names, ",") != "defaults,orders" {
		t.Fatalf("list names %q, want defaults,orders (sorted)", names)
	}
	table := cli.ok("topic", "list")
	if want := "TOPIC     PARTITIONS  REPLICAS  ID\ndefaults  1           1         "; !strings.HasPrefix(table, want) {
		t.Fatalf("list table:\n%s", table)
	}

	cli.produce(ctx, "orders", 1, 5)
	d := opsJSON[opsctl.TopicDescription](cli, "topic", "describe", "orders")
	if d.ID != created.ID || d.PartitionCount != 3 || len(d.Partitions) != 3 {
		t.Fatalf("describe: %+v", d)
	}
	for _, p := range d.Partitions {
		wantEnd := int64(0)
		if p.Partition == 1 {
			wantEnd = 5
		}
		if p.Leader != 1 || p.LeaderEpoch < 1 || len(p.Replicas) != 1 || len(p.ISR) != 1 || p.Error != "" ||
			p.StartOffset == nil || *p.StartOffset != 0 || p.EndOffset == nil || *p.EndOffset != wantEnd {
			t.Fatalf("describe partition %d: %+v (end %v), want leader 1, start 0, end %d", p.Partition, p, p.EndOffset, wantEnd)
		}
	}
	if e := configOf(d, "retention.ms"); e.Source != "set" || e.Value == nil || *e.Value != "3600000" {
		t.Fatalf("retention.ms: %+v", e)
	}
	if e := configOf(d, "segment.bytes"); e.Source != "default" || e.Value == nil {
		t.Fatalf("segment.bytes: %+v", e)
	}
	table = cli.ok("topic", "describe", "orders")
	for _, want := range []string{"TOPIC       orders\n", "PARTITION  LEADER  EPOCH", "\nretention.ms ", " set\n", " default\n"} {
		if !strings.Contains(table, want) {
			t.Fatalf("describe table has no %q:\n%s", want, table)
		}
	}
	cli.fails(`topic "nope" does not exist — `+"`chronik topic list`", "topic", "describe", "nope")

	// delete: refused without --yes off a terminal, asks on one.
	cli.fails("stdin is not a terminal — pass --yes", "topic", "delete", "orders")
	stdinIsTerminal = func(io.Reader) bool { return true }
	t.Cleanup(func() { stdinIsTerminal = opsctl.IsTerminal })
	out, errOut, code := cli.exec("order\n", "topic", "delete", "orders")
	if code != 1 || !strings.Contains(errOut, `Delete topic "orders" (3 partitions, ID `+created.ID+`)`) ||
		!strings.Contains(errOut, `not confirmed (got "order", want "orders")`) {
		t.Fatalf("delete with a wrong answer: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	out, errOut, code = cli.exec("orders\n", "topic", "delete", "orders")
	if code != 0 || !strings.Contains(out, "orders  deleted") {
		t.Fatalf("delete confirmed: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	stdinIsTerminal = opsctl.IsTerminal
	del := opsJSON[opsctl.DeletedTopic](cli, "topic", "delete", "defaults", "--yes")
	if !del.Deleted || del.Name != "defaults" {
		t.Fatalf("delete --yes: %+v", del)
	}
	if l := opsJSON[opsctl.TopicList](cli, "topic", "list"); len(l.Topics) != 0 {
		t.Fatalf("topics left after delete: %+v", l.Topics)
	}
	cli.fails(`topic "orders" does not exist`, "topic", "delete", "orders", "--yes")
}

// TestTopicAlterCommand: configs set and reverted (IncrementalAlterConfigs)
// and partitions added (CreatePartitions).
func TestTopicAlterCommand(t *testing.T) {
	cli := newOpsCLI(t)
	cli.ok("topic", "create", "orders", "--partitions", "2", "--config", "retention.ms=3600000")

	altered := opsJSON[opsctl.AlteredTopic](cli, "topic", "alter", "orders", "--config", "retention.ms=1000", "--config", "segment.ms=600000")
	if len(altered.Configs) != 2 || altered.Partitions != nil {
		t.Fatalf("alter: %+v", altered)
	}
	d := opsJSON[opsctl.TopicDescription](cli, "topic", "describe", "orders")
	if e := configOf(d, "retention.ms"); e.Source != "set" || *e.Value != "1000" {
		t.Fatalf("retention.ms after alter: %+v", e)
	}
	if e := configOf(d, "segment.ms"); e.Source != "set" || *e.Value != "600000" {
		t.Fatalf("segment.ms after alter: %+v", e)
	}

	out := cli.ok("topic", "alter", "orders", "--delete-config", "retention.ms")
	if !strings.Contains(out, "orders  delete  retention.ms  (default)") {
		t.Fatalf("alter --delete-config table:\n%s", out)
	}
	d = opsJSON[opsctl.TopicDescription](cli, "topic", "describe", "orders")
	if e := configOf(d, "retention.ms"); e.Source != "default" {
		t.Fatalf("retention.ms after delete-config: %+v", e)
	}
	if e := configOf(d, "segment.ms"); e.Source != "set" {
		t.Fatalf("segment.ms changed by an unrelated delete-config: %+v", e)
	}
	cli.fails("INVALID_CONFIG", "topic", "alter", "orders", "--config", "retention.ms=soon")

	altered = opsJSON[opsctl.AlteredTopic](cli, "topic", "alter", "orders", "--partitions", "4")
	if altered.Partitions == nil || altered.Partitions.From != 2 || altered.Partitions.To != 4 {
		t.Fatalf("alter --partitions: %+v", altered)
	}
	if d := opsJSON[opsctl.TopicDescription](cli, "topic", "describe", "orders"); d.PartitionCount != 4 {
		t.Fatalf("partitions after alter: %d", d.PartitionCount)
	}
	cli.fails("INVALID_PARTITIONS", "topic", "alter", "orders", "--partitions", "3")

	// A bad config with a partition change changes neither.
	cli.fails("INVALID_CONFIG", "topic", "alter", "orders", "--partitions", "6", "--config", "retention.ms=soon")
	if d := opsJSON[opsctl.TopicDescription](cli, "topic", "describe", "orders"); d.PartitionCount != 4 {
		t.Fatalf("a rejected alter added partitions: %d", d.PartitionCount)
	}
	cli.fails(`topic "nope" does not exist`, "topic", "alter", "nope", "--config", "retention.ms=1")
}

// TestGroupCommands: a real kgo consumer group commits, then list,
// describe (lag), reset-offsets (refused while active, dry run, execute,
// every target) and delete.
// TestConsumerGroupCommands: `chronik group list|describe|reset-offsets|delete`
// on a KIP-848 consumer group (franz-go's ServerSideBalancer).
func TestConsumerGroupCommands(t *testing.T) {
	cli := newOpsCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cli.ok("topic", "create", "payments", "--partitions", "2")
	cli.produce(ctx, "payments", 0, 4)
	cli.produce(ctx, "payments", 1, 4)
	consumer := cli.client(
		kgo.ConsumerGroup("ledger"), kgo.ConsumeTopics("payments"), kgo.ClientID("ledger-app"), kgo.ServerSideBalancer(),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond),
	)
	var got []*kgo.Record
	pollCtx, pollCancel := context.WithTimeout(ctx, time.Minute)
	for len(got) < 8 {
		fs := consumer.PollFetches(pollCtx)
		if err := pollCtx.Err(); err != nil {
			pollCancel()
			t.Fatalf("consumer got %d of 8 records before the deadline; fetch errors: %v", len(got), fs.Errors())
		}
		got = append(got, fs.Records()...)
	}
	pollCancel()
	if err := consumer.CommitRecords(ctx, got...); err != nil {
		t.Fatalf("commit: %v", err)
	}
	cli.produce(ctx, "payments", 1, 2) // lag 2 on partition 1

	list := opsJSON[opsctl.GroupList](cli, "group", "list")
	if len(list.Groups) != 1 || list.Groups[0].Type != "consumer" || list.Groups[0].State != "Stable" ||
		list.Groups[0].MemberCount != 1 || list.Groups[0].Protocol != "uniform" {
		t.Fatalf("group list: %+v", list.Groups)
	}
	d := opsJSON[opsctl.GroupDescription](cli, "group", "describe", "ledger")
	if d.Type != "consumer" || d.State != "Stable" || d.Epoch < 1 || d.AssignmentEpoch != d.Epoch || len(d.Members) != 1 {
		t.Fatalf("describe: %+v", d)
	}
	m := d.Members[0]
	if m.ClientID != "ledger-app" || m.MemberEpoch == nil || *m.MemberEpoch != d.Epoch || m.Protocol != "consumer" ||
		len(m.Assigned) != 1 || len(m.Assigned[0].Partitions) != 2 || fmt.Sprint(m.Target) != fmt.Sprint(m.Assigned) {
		t.Fatalf("member: %+v", m)
	}
	if len(d.Offsets) != 2 || d.TotalLag != 2 || *d.Offsets[1].CommittedOffset != 4 || *d.Offsets[1].EndOffset != 6 || d.Offsets[1].MemberID != m.MemberID {
		t.Fatalf("offsets: %+v (total lag %d)", d.Offsets, d.TotalLag)
	}
	if out := cli.ok("group", "describe", "ledger"); !strings.Contains(out, "TYPE              consumer") || !strings.Contains(out, "payments:0,1") {
		t.Fatalf("describe table:\n%s", out)
	}
	cli.fails(`group "ledger" has 1 active member (state Stable)`, "group", "reset-offsets", "ledger", "--topic", "payments", "--to-earliest", "--execute")
	cli.fails(`group "ledger" still has active members`, "group", "delete", "ledger")

	consumer.Close() // leaves the group
	opsWaitUntil(t, 30*time.Second, "the group to become Empty", func() bool {
		out, _, code := cli.exec("", "group", "describe", "ledger", "--format", "json")
		var g opsctl.GroupDescription
		return code == 0 && json.Unmarshal([]byte(out), &g) == nil && g.State == "Empty"
	})
	if plan := opsJSON[opsctl.ResetPlan](cli, "group", "reset-offsets", "ledger", "--topic", "payments", "--to-earliest", "--execute"); !plan.Executed {
		t.Fatalf("reset of the empty consumer group: %+v", plan)
	}
	if d := opsJSON[opsctl.GroupDescription](cli, "group", "describe", "ledger"); *d.Offsets[0].CommittedOffset != 0 || *d.Offsets[1].CommittedOffset != 0 {
		t.Fatalf("after reset: %+v", d.Offsets)
	}
	cli.ok("group", "delete", "ledger")
	cli.fails(`group "ledger" does not exist`, "group", "describe", "ledger")
}

func TestGroupCommands(t *testing.T) {
	cli := newOpsCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cli.ok("topic", "create", "events", "--partitions", "2")
	before := time.Now().Add(-time.Hour)
	cli.produce(ctx, "events", 0, 5)
	cli.produce(ctx, "events", 1, 5)

	consumer := cli.client(
		kgo.ConsumerGroup("billing"),
		kgo.ConsumeTopics("events"),
		kgo.ClientID("billing-app"),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	var got []*kgo.Record
	pollCtx, pollCancel := context.WithTimeout(ctx, time.Minute)
	for len(got) < 10 {
		fs := consumer.PollFetches(pollCtx)
		if err := pollCtx.Err(); err != nil {
			pollCancel()
			t.Fatalf("group consumer got %d of 10 records before the deadline; fetch errors: %v", len(got), fs.Errors())
		}
		got = append(got, fs.Records()...)
	}
	pollCancel()
	if err := consumer.CommitRecords(ctx, got...); err != nil {
		t.Fatalf("commit: %v", err)
	}
	cli.produce(ctx, "events", 0, 3) // lag 3 on partition 0

	list := opsJSON[opsctl.GroupList](cli, "group", "list")
	if len(list.Groups) != 1 || list.Groups[0].Name != "billing" || list.Groups[0].State != "Stable" ||
		list.Groups[0].MemberCount != 1 || list.Groups[0].ProtocolType != "consumer" || list.Groups[0].Protocol == "" {
		t.Fatalf("group list: %+v", list.Groups)
	}
	if out := cli.ok("group", "list"); !strings.Contains(out, "billing  classic  Stable  consumer/") {
		t.Fatalf("group list table:\n%s", out)
	}

	d := opsJSON[opsctl.GroupDescription](cli, "group", "describe", "billing")
	if d.State != "Stable" || len(d.Members) != 1 || d.Members[0].ClientID != "billing-app" || d.Members[0].ClientHost == "" {
		t.Fatalf("describe members: %+v", d)
	}
	if a := d.Members[0].Assigned; len(a) != 1 || a[0].Topic != "events" || len(a[0].Partitions) != 2 {
		t.Fatalf("assigned: %+v", a)
	}
	wantOffsets := []struct{ committed, end, lag int64 }{{5, 8, 3}, {5, 5, 0}}
	if len(d.Offsets) != 2 {
		t.Fatalf("offsets: %+v", d.Offsets)
	}
	for i, w := range wantOffsets {
		o := d.Offsets[i]
		if o.Partition != int32(i) || o.CommittedOffset == nil || *o.CommittedOffset != w.committed ||
			o.EndOffset == nil || *o.EndOffset != w.end || o.Lag == nil || *o.Lag != w.lag || o.MemberID != d.Members[0].MemberID {
			t.Fatalf("partition %d: %+v, want committed %d end %d lag %d", i, o, w.committed, w.end, w.lag)
		}
	}
	if d.TotalLag != 3 {
		t.Fatalf("total lag %d, want 3", d.TotalLag)
	}
	if out := cli.ok("group", "describe", "billing"); !strings.Contains(out, "TOTAL-LAG    3\n") || !strings.Contains(out, "events:0,1") {
		t.Fatalf("describe table:\n%s", out)
	}

	// An active group: no reset, no delete.
	cli.fails(`group "billing" has 1 active member (state Stable)`, "group", "reset-offsets", "billing", "--topic", "events", "--to-earliest", "--execute")
	cli.fails(`group "billing" still has active members`, "group", "delete", "billing")

	consumer.Close() // leaves the group
	opsWaitUntil(t, 30*time.Second, "the group to become Empty", func() bool {
		out, _, code := cli.exec("", "group", "describe", "billing", "--format", "json")
		var g opsctl.GroupDescription
		return code == 0 && json.Unmarshal([]byte(out), &g) == nil && g.State == "Empty"
	})

	committed := func() [2]int64 {
		t.Helper()
		g := opsJSON[opsctl.GroupDescription](cli, "group", "describe", "billing")
		var c [2]int64
		for _, o := range g.Offsets {
			if o.CommittedOffset == nil {
				t.Fatalf("no commit on partition %d: %+v", o.Partition, o)
			}
			c[o.Partition] = *o.CommittedOffset
		}
		return c
	}
	reset := func(args ...string) opsctl.ResetPlan {
		t.Helper()
		return opsJSON[opsctl.ResetPlan](cli, append([]string{"group", "reset-offsets", "billing", "--topic", "events"}, args...)...)
	}
	newOffsets := func(p opsctl.ResetPlan) []int64 {
		var o []int64
		for _, m := range p.Partitions {
			o = append(o, m.NewOffset)
		}
		return o
	}

	// Dry run by default: a plan, nothing committed.
	plan := reset("--to-earliest")
	if plan.Executed || plan.Strategy != "to-earliest" || fmt.Sprint(newOffsets(plan)) != "[0 0]" ||
		*plan.Partitions[0].CommittedOffset != 5 {
		t.Fatalf("dry run: %+v", plan)
	}
	if c := committed(); c != [2]int64{5, 5} {
		t.Fatalf("a dry run committed: %v", c)
	}
	_, errOut, _ := cli.exec("", "group", "reset-offsets", "billing", "--topic", "events", "--to-earliest")
	if !strings.Contains(errOut, "dry run: nothing changed; add --execute") {
		t.Fatalf("dry run note missing from stderr: %q", errOut)
	}

	for _, step := range []struct {
		args []string
		want [2]int64
	}{
		{[]string{"--to-earliest"}, [2]int64{0, 0}},
		{[]string{"--to-latest"}, [2]int64{8, 5}},
		{[]string{"--shift-by", "-2", "--partitions", "0"}, [2]int64{6, 5}},
		{[]string{"--to-offset", "4"}, [2]int64{4, 4}},
		{[]string{"--to-offset", "7"}, [2]int64{7, 5}}, // partition 1 ends at 5
		{[]string{"--shift-by", "-100"}, [2]int64{0, 0}},
		{[]string{"--to-datetime", before.UTC().Format(time.RFC3339)}, [2]int64{0, 0}},
		{[]string{"--to-datetime", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, [2]int64{8, 5}},
	} {
		plan := reset(append(step.args, "--execute")...)
		if !plan.Executed {
			t.Fatalf("%v: not executed: %+v", step.args, plan)
		}
		if c := committed(); c != step.want {
			t.Fatalf("%v: committed %v, want %v (plan %+v)", step.args, c, step.want, plan)
		}
	}
	plan = reset("--to-offset", "7")
	if plan.Partitions[1].NewOffset != 5 || !strings.Contains(plan.Partitions[1].Note, "past the end") {
		t.Fatalf("clamped move: %+v", plan.Partitions[1])
	}
	cli.fails("--partitions 9: topic \"events\" has partitions 0 to 1", "group", "reset-offsets", "billing", "--topic", "events", "--to-earliest", "--partitions", "9")
	cli.fails(`topic "nope" does not exist`, "group", "reset-offsets", "billing", "--topic", "nope", "--to-earliest")

	del := opsJSON[opsctl.DeletedGroup](cli, "group", "delete", "billing")
	if !del.Deleted {
		t.Fatalf("delete: %+v", del)
	}
	if l := opsJSON[opsctl.GroupList](cli, "group", "list"); len(l.Groups) != 0 {
		t.Fatalf("groups after delete: %+v", l.Groups)
	}
	cli.fails(`group "billing" does not exist`, "group", "describe", "billing")
	cli.fails(`group "billing" does not exist`, "group", "delete", "billing")

	// Offsets for a group that never ran can be set up ahead of its start.
	fresh := opsJSON[opsctl.ResetPlan](cli, "group", "reset-offsets", "fresh", "--topic", "events", "--to-latest", "--execute")
	if !fresh.Executed || fresh.Partitions[0].CommittedOffset != nil {
		t.Fatalf("reset of a new group: %+v", fresh)
	}
	adm := kadm.NewClient(cli.client())
	offs, err := adm.FetchOffsets(ctx, "fresh")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup("events", 0); o.At != 8 {
		t.Fatalf("fresh group committed %d on partition 0, want 8", o.At)
	}
}

func opsWaitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestOpsCLISecurity: against a broker whose Kafka listener requires TLS,
// client certificates and SCRAM, topic commands work with --tls-ca-file, a
// client certificate and --sasl-*, fail with a clear error without the
// certificate or the password, and chronik bench produces the same way.
func TestOpsCLISecurity(t *testing.T) {
	ca := testtls.NewCA(t, "cli")
	cfg := brokertest.Config(t)
	cfg.Kafka.TLSCertFile, cfg.Kafka.TLSKeyFile = ca.Issue("broker")
	cfg.Kafka.TLSClientCAFile = ca.File
	brokertest.SASLUsers(t, &cfg, []string{"SCRAM-SHA-256"}, "ops")
	b := brokertest.Start(t, cfg)
	t.Setenv("CHRONIK_CONFIG", "")
	t.Setenv("CHRONIK_BROKERS", "")
	t.Setenv(opsctl.EnvSASLPassword, "ops-secret")
	c := &opsCLI{t: t, brokers: b.KafkaAddr()}
	cert, key := ca.Issue("operator")
	creds := []string{
		"--tls-ca-file", ca.File, "--tls-cert-file", cert, "--tls-key-file", key,
		"--sasl-mechanism", "SCRAM-SHA-256", "--sasl-user", "ops",
	}

	c.ok(append([]string{"topic", "create", "secure", "--partitions", "2", "--timeout", "5s"}, creds...)...)
	if out := c.ok(append([]string{"topic", "list", "--timeout", "5s"}, creds...)...); !strings.Contains(out, "secure") {
		t.Fatalf("topic list over TLS does not show the topic:\n%s", out)
	}
	_, errOut, code := c.exec("", "topic", "list", "--tls-ca-file", ca.File, "--timeout", "3s")
	if code == 0 {
		t.Fatal("topic list without a client certificate succeeded against a broker that requires one")
	}
	if !strings.Contains(errOut, "certificate") {
		t.Fatalf("the error does not say a certificate is missing:\n%s", errOut)
	}
	t.Setenv(opsctl.EnvSASLPassword, "wrong")
	_, errOut, code = c.exec("", append([]string{"topic", "list", "--timeout", "3s"}, creds...)...)
	if code == 0 || !strings.Contains(errOut, "SASL") {
		t.Fatalf("topic list with a wrong SASL password: exit %d\n%s", code, errOut)
	}
	t.Setenv(opsctl.EnvSASLPassword, "ops-secret")
	out := c.ok(append([]string{"bench", "produce", "--topic", "secure", "--records", "1000", "--format", "json"}, creds...)...)
	var res struct {
		Records int64 `json:"records"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Records != 1000 {
		t.Fatalf("bench produce over TLS: %v\n%s", err, out)
	}
}

// TestOpsCLIKerberos: against a broker that takes only GSSAPI (a real MIT
// KDC), the CLI logs in with a keytab, or with the tickets kinit left in the
// credentials cache; without tickets it says to run kinit.
func TestOpsCLIKerberos(t *testing.T) {
	kdc := kdctest.Start(t)
	kdc.AddPrincipal(t, "kafka/127.0.0.1", "")
	kdc.AddPrincipal(t, "ops", "")
	cfg := brokertest.Config(t)
	cfg.Kafka.SASLMechanisms = []string{"GSSAPI"}
	cfg.Kafka.SASLKerberosKeytab = kdc.Keytab(t, "kafka.keytab", "kafka/127.0.0.1")
	b := brokertest.Start(t, cfg)
	t.Setenv("CHRONIK_CONFIG", "")
	t.Setenv("CHRONIK_BROKERS", "")
	t.Setenv("KRB5_CONFIG", kdc.Conf)
	cache := filepath.Join(t.TempDir(), "ccache")
	t.Setenv("KRB5CCNAME", "FILE:"+cache)
	c := &opsCLI{t: t, brokers: b.KafkaAddr()}
	keytab := kdc.Keytab(t, "ops.keytab", "ops")

	c.ok("topic", "create", "kerberized", "--partitions", "2", "--timeout", "5s",
		"--sasl-mechanism", "GSSAPI", "--sasl-kerberos-keytab", keytab, "--sasl-user", "ops")
	c.fails("run kinit", "topic", "list", "--timeout", "3s", "--sasl-mechanism", "GSSAPI")
	kinit := exec.Command("kinit", "-kt", keytab, "ops")
	kinit.Env = append(os.Environ(), "KRB5_CONFIG="+kdc.Conf, "KRB5CCNAME=FILE:"+cache)
	if out, err := kinit.CombinedOutput(); err != nil {
		t.Fatalf("kinit: %v\n%s", err, out)
	}
	if out := c.ok("topic", "list", "--timeout", "5s", "--sasl-mechanism", "GSSAPI"); !strings.Contains(out, "kerberized") {
		t.Fatalf("topic list with kinit's tickets does not show the topic:\n%s", out)
	}
	c.fails("SASL", "topic", "list", "--timeout", "3s", "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "ops")
}

// TestTokenCommands: `chronik token create | list | renew | expire` against a
// broker with delegation tokens; a client logs in with the token the CLI
// printed; a renewer renews it, another user may not; a token the CLI
// expired no longer logs in.
func TestTokenCommands(t *testing.T) {
	cfg := brokertest.Config(t)
	brokertest.SASLUsers(t, &cfg, []string{"SCRAM-SHA-512"}, "alice", "etl", "carol")
	cfg.Kafka.DelegationTokenSecretKey = "a secret shared by every broker"
	b := brokertest.Start(t, cfg)
	t.Setenv("CHRONIK_CONFIG", "")
	t.Setenv("CHRONIK_BROKERS", "")
	c := &opsCLI{t: t, brokers: b.KafkaAddr()}
	as := func(user string) []string {
		t.Setenv(opsctl.EnvSASLPassword, user+"-secret")
		return []string{"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", user, "--timeout", "5s"}
	}
	created := opsJSON[opsctl.TokenList](c, append([]string{"token", "create", "--renewer", "etl", "--max-lifetime", "72h"}, as("alice")...)...)
	if len(created.Tokens) != 1 || created.Tokens[0].Owner != "User:alice" || created.Tokens[0].HMAC == "" ||
		len(created.Tokens[0].Renewers) != 1 || created.Tokens[0].Renewers[0] != "User:etl" {
		t.Fatalf("token create: %+v", created)
	}
	tok := created.Tokens[0]
	login := func() error {
		cl := c.client(kgo.RequestRetries(0), kgo.SASL(scram.Auth{User: tok.ID, Pass: tok.HMAC, IsToken: true}.AsSha512Mechanism()))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := kadm.NewClient(cl).ListTopics(ctx)
		return err
	}
	if err := login(); err != nil {
		t.Fatalf("a login with the printed token: %v", err)
	}
	if out := c.ok(append([]string{"token", "list"}, as("alice")...)...); !strings.Contains(out, tok.ID) || !strings.Contains(out, "User:etl") {
		t.Fatalf("token list:\n%s", out)
	}
	c.fails("only the token's owner and its renewers", append([]string{"token", "renew", "--hmac", tok.HMAC}, as("carol")...)...)
	c.ok(append([]string{"token", "renew", "--hmac", tok.HMAC, "--period", "1h"}, as("etl")...)...)
	c.ok(append([]string{"token", "expire", "--hmac", tok.HMAC}, as("alice")...)...)
	if err := login(); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("a login with the expired token: %v", err)
	}
	c.fails("no such token", append([]string{"token", "renew", "--hmac", tok.HMAC}, as("alice")...)...)
	c.fails("--hmac", append([]string{"token", "renew", "--hmac", "not base64!"}, as("alice")...)...)
}

// TestUserCommands: `chronik user set | list | delete` as a super user, the
// password from stdin or the environment; the user then authenticates with
// SCRAM; a principal that is not a super user is told so.
func TestUserCommands(t *testing.T) {
	cfg := brokertest.Config(t)
	brokertest.SASLUsers(t, &cfg, []string{"SCRAM-SHA-512", "SCRAM-SHA-256"}, "admin", "alice")
	cfg.Kafka.SuperUsers = []string{"User:admin"}
	b := brokertest.Start(t, cfg)
	t.Setenv("CHRONIK_CONFIG", "")
	t.Setenv("CHRONIK_BROKERS", "")
	t.Setenv(opsctl.EnvUserPassword, "")
	t.Setenv(opsctl.EnvSASLPassword, "admin-secret")
	c := &opsCLI{t: t, brokers: b.KafkaAddr()}
	admin := []string{"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "admin", "--timeout", "5s"}

	if _, errOut, code := c.exec("bob-secret\n", append([]string{"user", "set", "bob"}, admin...)...); code != 0 {
		t.Fatalf("user set with the password on stdin: %s", errOut)
	}
	t.Setenv(opsctl.EnvUserPassword, "carol-secret")
	c.ok(append([]string{"user", "set", "carol", "--mechanism", "SCRAM-SHA-256", "--iterations", "4096"}, admin...)...)
	t.Setenv(opsctl.EnvUserPassword, "")
	out := c.ok(append([]string{"user", "list", "--format", "json"}, admin...)...)
	var list opsctl.UserList
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Users) != 2 || list.Users[0].Name != "bob" ||
		len(list.Users[0].Credentials) != 2 || list.Users[1].Credentials[0] != (opsctl.UserCredential{Mechanism: "SCRAM-SHA-256", Iterations: 4096}) {
		t.Fatalf("user list: %v\n%s", err, out)
	}
	if table := c.ok(append([]string{"user", "list"}, admin...)...); !strings.Contains(table, "SCRAM-SHA-512 (8192 iterations), SCRAM-SHA-256 (8192 iterations)") {
		t.Fatalf("user list table:\n%s", table)
	}
	t.Setenv(opsctl.EnvSASLPassword, "bob-secret")
	c.ok("topic", "list", "--sasl-mechanism", "SCRAM-SHA-256", "--sasl-user", "bob", "--timeout", "5s")

	t.Setenv(opsctl.EnvSASLPassword, "alice-secret")
	c.fails("kafka.super-users", "user", "list", "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "alice", "--timeout", "5s")
	t.Setenv(opsctl.EnvSASLPassword, "admin-secret")
	c.fails("no password", append([]string{"user", "set", "dave"}, admin...)...)
	t.Setenv(opsctl.EnvUserPassword, "dave-secret")
	c.fails("--iterations 100", append([]string{"user", "set", "dave", "--iterations", "100"}, admin...)...)
	t.Setenv(opsctl.EnvUserPassword, "")
	c.ok(append([]string{"user", "delete", "bob"}, admin...)...)
	c.fails(`user "bob" has no credential`, append([]string{"user", "delete", "bob"}, admin...)...)
	t.Setenv(opsctl.EnvSASLPassword, "bob-secret")
	c.fails("SASL", "topic", "list", "--sasl-mechanism", "SCRAM-SHA-256", "--sasl-user", "bob", "--timeout", "3s")
}

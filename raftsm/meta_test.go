package raftsm

import (
	"bytes"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestMetaTopicsAndCounters(t *testing.T) {
	st, err := openStore("state", vfs.NewMem())
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	m := NewMeta(st, func(*MetaView) { changes++ })
	if _, err := m.Open(nil); err != nil {
		t.Fatal(err)
	}
	update := applier(t, &m)
	create := &CreateTopicCommand{Name: "orders", ID: [16]byte{1}, Configs: map[string]string{"retention.ms": "1"}, Nodes: [][]int32{{1}, {1}}}
	res := update(EncodeCreateTopic(create), EncodeCreateTopic(create), EncodeAllocProducerIDs(1000), EncodeAllocProducerIDs(1000), []byte{commandVersion, 99}, nil)
	wantStatus := []Status{StatusOK, StatusTopicExists, StatusOK, StatusOK, StatusUnsupportedCmd, StatusUnsupportedCmd}
	for i, w := range wantStatus {
		if got := ResultStatus(res[i].Data); got != w {
			t.Errorf("command %d: %s, want %s", i, got, w)
		}
	}
	if res[3].Value != res[2].Value+1000 {
		t.Errorf("producer ID blocks overlap: %d then %d", res[2].Value, res[3].Value)
	}
	topic := m.View().Topics["orders"]
	if topic == nil || len(topic.Partitions) != 2 || topic.Partitions[0].ShardID != FirstPartitionShardID ||
		topic.Partitions[1].ShardID != FirstPartitionShardID+1 || topic.Partitions[0].Replicas[0] == topic.Partitions[1].Replicas[0] {
		t.Fatalf("topic placement = %+v", topic)
	}
	if changes == 0 {
		t.Fatal("onChange not called")
	}

	// Snapshot, then delete, then restore: the topic and counters come back.
	snap, _ := m.PrepareSnapshot()
	var buf bytes.Buffer
	if err := m.SaveSnapshot(snap, &buf, nil); err != nil {
		t.Fatal(err)
	}
	if r := update(EncodeDeleteTopic("orders"), EncodeDeleteTopic("orders")); ResultStatus(r[0].Data) != StatusOK || ResultStatus(r[1].Data) != StatusUnknownTopic {
		t.Fatalf("delete results %v", r)
	}
	if len(m.View().Topics) != 0 {
		t.Fatal("topic survived delete")
	}
	if err := m.RecoverFromSnapshot(&buf, nil); err != nil {
		t.Fatal(err)
	}
	if m.View().Topics["orders"] == nil {
		t.Fatal("snapshot did not restore the topic")
	}
	// Reopen from disk: shard IDs keep growing, never reused.
	m2 := NewMeta(st, nil)
	if _, err := m2.Open(nil); err != nil {
		t.Fatal(err)
	}
	m = m2
	create.Name = "second"
	update(EncodeCreateTopic(create))
	if got := m.View().Topics["second"].Partitions[0].ShardID; got != FirstPartitionShardID+2 {
		t.Fatalf("next shard ID %d, want %d", got, FirstPartitionShardID+2)
	}
}

func TestMetaLeaderReports(t *testing.T) {
	st, err := openStore("state", vfs.NewMem())
	if err != nil {
		t.Fatal(err)
	}
	m := NewMeta(st, nil)
	if _, err := m.Open(nil); err != nil {
		t.Fatal(err)
	}
	apply := applier(t, &m)
	apply(EncodeCreateTopic(&CreateTopicCommand{Name: "t", Nodes: [][]int32{{1, 2}}}))
	shard := m.View().Topics["t"].Partitions[0].ShardID
	apply(EncodeReportLeader(shard, 2, 5), EncodeReportLeader(shard, 1, 4)) // the stale report loses
	if got := m.View().Leaders[shard]; got != (LeaderRecord{Node: 2, Term: 5}) {
		t.Fatalf("leader = %+v, want node 2 term 5", got)
	}
	m2 := NewMeta(st, nil)
	if _, err := m2.Open(nil); err != nil {
		t.Fatal(err)
	}
	if got := m2.View().Leaders[shard]; got.Node != 2 {
		t.Fatalf("leader after reopen = %+v", got)
	}
	m = m2
	apply(EncodeDeleteTopic("t"))
	if _, ok := m.View().Leaders[shard]; ok {
		t.Fatal("leader record of a deleted topic survived")
	}
}

func TestMetaTransactionalIDsBumpEpochs(t *testing.T) {
	st, err := openStore("state", vfs.NewMem())
	if err != nil {
		t.Fatal(err)
	}
	m := NewMeta(st, nil)
	if _, err := m.Open(nil); err != nil {
		t.Fatal(err)
	}
	apply := applier(t, &m)
	r := apply(EncodeInitTransactional("tx"), EncodeInitTransactional("tx"), EncodeInitTransactional("other"), EncodeInitTransactional(""))
	if r[0].Value != r[1].Value || TransactionalEpoch(r[0].Data) != 0 || TransactionalEpoch(r[1].Data) != 1 {
		t.Fatalf("same id must keep its producer ID and bump the epoch: %v %v", r[0], r[1])
	}
	if r[2].Value == r[0].Value {
		t.Fatal("two transactional IDs share a producer ID")
	}
	if ResultStatus(r[3].Data) != StatusMalformed {
		t.Fatal("empty transactional ID accepted")
	}
	m2 := NewMeta(st, nil)
	if _, err := m2.Open(nil); err != nil {
		t.Fatal(err)
	}
	m = m2
	first := r[0].Value
	if r := apply(EncodeInitTransactional("tx")); r[0].Value != first || TransactionalEpoch(r[0].Data) != 2 {
		t.Fatalf("after reopen: id %d epoch %d, want id %d epoch 2", r[0].Value, TransactionalEpoch(r[0].Data), first)
	}
}

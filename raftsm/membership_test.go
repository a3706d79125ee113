package raftsm

import (
	"bytes"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

func newTestMeta(t *testing.T) (*Meta, func(cmds ...[]byte) []sm.Result) {
	t.Helper()
	st, err := openStore("state", vfs.NewMem())
	if err != nil {
		t.Fatal(err)
	}
	m := NewMeta(st, nil)
	if _, err := m.Open(nil); err != nil {
		t.Fatal(err)
	}
	return m, applier(t, &m)
}

func wantStatuses(t *testing.T, res []sm.Result, want ...Status) {
	t.Helper()
	for i, w := range want {
		if got := ResultStatus(res[i].Data); got != w {
			t.Errorf("command %d: %s, want %s", i, got, w)
		}
	}
}

func TestMetaBrokerRegistry(t *testing.T) {
	m, update := newTestMeta(t)
	b4 := BrokerRecord{ID: 4, Kafka: "h:1", Raft: "h:2", HTTP: "h:3", Rack: "d"}
	res := update(EncodeRegisterBroker(b4), EncodeRegisterBroker(b4), EncodeRegisterBroker(BrokerRecord{ID: 0, Raft: "x"}),
		EncodeRemoveBroker(4), EncodeRegisterBroker(b4), EncodeRemoveBroker(4))
	wantStatuses(t, res, StatusOK, StatusOK, StatusMalformed, StatusOK, StatusBrokerRemoved, StatusOK)
	// Rejoin bumps the generation; re-registering keeps it.
	b5 := BrokerRecord{ID: 5, Kafka: "h:5", Raft: "h:6"}
	res = update(EncodeRegisterBroker(b5), EncodeRejoinBroker(5), EncodeRejoinBroker(5), EncodeRegisterBroker(b5), EncodeRejoinBroker(9))
	wantStatuses(t, res, StatusOK, StatusOK, StatusOK, StatusOK, StatusUnknownBroker)
	if res[1].Value != 1 || res[2].Value != 2 || m.View().Brokers[5].Generation != 2 {
		t.Fatalf("generations %d, %d, record %+v", res[1].Value, res[2].Value, m.View().Brokers[5])
	}
	if id := SystemReplicaID(5, 2); BrokerOfReplica(id) != 5 || id == 5 {
		t.Fatalf("SystemReplicaID(5, 2) = %d", id)
	}
	got := m.View().Brokers[4]
	b4.Removed = true
	if got != b4 {
		t.Fatalf("broker 4 = %+v, want %+v", got, b4)
	}
	// Survives a snapshot round trip.
	snap, _ := m.PrepareSnapshot()
	var buf bytes.Buffer
	if err := m.SaveSnapshot(snap, &buf, nil); err != nil {
		t.Fatal(err)
	}
	m2, _ := newTestMeta(t)
	if err := m2.RecoverFromSnapshot(&buf, nil); err != nil {
		t.Fatal(err)
	}
	if got := m2.View().Brokers[4]; got != b4 {
		t.Fatalf("after snapshot broker 4 = %+v", got)
	}
}

// A broker's command level is registered with it, a new level replaces
// the old one (a broker restarted with a newer release), and records or
// commands from before levels read as level 0.
func TestMetaBrokerLevel(t *testing.T) {
	m, update := newTestMeta(t)
	b := BrokerRecord{ID: 3, Kafka: "h:1", Raft: "h:2"}
	wantStatuses(t, update(EncodeRegisterBroker(b)), StatusOK)
	if got := m.View().Brokers[3].Level; got != 0 {
		t.Fatalf("level %d, want 0", got)
	}
	b.Level = CommandLevel
	wantStatuses(t, update(EncodeRegisterBroker(b)), StatusOK)
	if got := m.View().Brokers[3].Level; got != CommandLevel {
		t.Fatalf("level after re-registering %d, want %d", got, CommandLevel)
	}
	// A command of a release before levels: no level bytes at the end.
	old := EncodeRegisterBroker(BrokerRecord{ID: 4, Kafka: "h:3", Raft: "h:4"})
	wantStatuses(t, update(old[:len(old)-2]), StatusOK)
	if got, ok := m.View().Brokers[4]; !ok || got.Level != 0 || got.Raft != "h:4" {
		t.Fatalf("broker from an older release: %+v", got)
	}
}

func TestMetaReassignment(t *testing.T) {
	m, update := newTestMeta(t)
	update(EncodeCreateTopic(&CreateTopicCommand{Name: "t", ID: [16]byte{7}, Nodes: [][]int32{{1, 2, 3}}}))
	p := m.View().Topics["t"].Partitions[0]
	if !slices.Equal(p.Replicas, []uint64{1, 2, 3}) || p.Reassigning() {
		t.Fatalf("placement %+v", p)
	}
	alter := &ReassignCommand{Topic: "t", ID: [16]byte{7}, ExpectReplicas: p.Replicas, Target: []int32{4, 1, 2}}
	stale := *alter
	stale.ExpectReplicas = []uint64{9}
	wrongID := *alter
	wrongID.ID = [16]byte{8}
	dup := *alter
	dup.Target = []int32{1, 1}
	res := update(EncodeAlterReassignment(alter), EncodeAlterReassignment(alter), EncodeAlterReassignment(&stale), EncodeAlterReassignment(&wrongID), EncodeAlterReassignment(&dup))
	wantStatuses(t, res, StatusOK, StatusConflict, StatusConflict, StatusUnknownTopic, StatusMalformed)
	p = m.View().Topics["t"].Partitions[0]
	if !slices.Equal(p.Target, []int32{4, 1, 2}) || !slices.Equal(p.TargetReplicas, []uint64{4, 1, 2}) {
		t.Fatalf("target %v %v, want nodes 4,1,2 with replicas 4 (new), 1, 2", p.Target, p.TargetReplicas)
	}
	// Re-target while moving: node 4 keeps its new replica, node 1 is replaced.
	re := &ReassignCommand{Topic: "t", ID: [16]byte{7}, ExpectReplicas: p.Replicas, ExpectTarget: p.TargetReplicas, Target: []int32{4, 1, 3}, Fresh: []int32{1}}
	wantStatuses(t, update(EncodeAlterReassignment(re)), StatusOK)
	p = m.View().Topics["t"].Partitions[0]
	if !slices.Equal(p.TargetReplicas, []uint64{4, 5, 3}) {
		t.Fatalf("target replicas %v, want 4 5 3", p.TargetReplicas)
	}
	// Encoded with the target and decoded back (record v2).
	if got, err := decodeTopic(encodeTopic(m.View().Topics["t"])); err != nil || !slices.Equal(got.Partitions[0].TargetReplicas, p.TargetReplicas) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	done := &ReassignCommand{Topic: "t", ID: [16]byte{7}, ExpectReplicas: p.Replicas, ExpectTarget: []uint64{4, 2, 3}}
	wantStatuses(t, update(EncodeCompleteReassignment(done)), StatusConflict)
	done.ExpectTarget = p.TargetReplicas
	wantStatuses(t, update(EncodeCompleteReassignment(done), EncodeCompleteReassignment(done)), StatusOK, StatusConflict)
	p = m.View().Topics["t"].Partitions[0]
	if !slices.Equal(p.Nodes, []int32{4, 1, 3}) || !slices.Equal(p.Replicas, []uint64{4, 5, 3}) || p.Reassigning() {
		t.Fatalf("after completion %+v", p)
	}
	if got, err := decodeTopic(encodeTopic(m.View().Topics["t"])); err != nil || got.Partitions[0].Reassigning() {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	// A tombstoned broker cannot be a target.
	update(EncodeRemoveBroker(2))
	bad := &ReassignCommand{Topic: "t", ID: [16]byte{7}, ExpectReplicas: p.Replicas, Target: []int32{1, 2, 3}}
	wantStatuses(t, update(EncodeAlterReassignment(bad)), StatusUnknownBroker)
}

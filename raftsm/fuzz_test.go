package raftsm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	sm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/acl"
	"github.com/chronik-go/chronik/core/quota"
)

// FuzzStateMachines applies arbitrary Raft entries to each of the three
// state machines. A command is whatever a proposer, a newer or older build,
// or a bug put in the log, and every replica applies it: a panic or an
// Update error there would stop every replica of the shard at the same
// entry, on every restart. So for any input:
//
//   - Update neither panics nor fails;
//   - the machine is deterministic however Dragonboat batches the entries:
//     a replica that applies them all in one Update and one that applies
//     them one Update each return the same results and store the same
//     keys and values;
//   - a replica reopened from its store opens without error.
//
// The input is a sequence of commands, each prefixed by its length as a
// uvarint; the seeds are valid commands of every kind.
func FuzzStateMachines(f *testing.F) {
	for _, cmds := range fuzzSeeds() {
		f.Add(frameCommands(cmds))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cmds := unframeCommands(data)
		if len(cmds) == 0 || len(cmds) > 64 {
			return
		}
		for _, kind := range []string{"partition", "meta", "coordinator"} {
			together, storeA, machineA := applyFresh(t, kind, cmds, len(cmds))
			oneByOne, storeB, machineB := applyFresh(t, kind, cmds, 1)
			for i := range cmds {
				if together[i].Value != oneByOne[i].Value || !bytes.Equal(together[i].Data, oneByOne[i].Data) {
					t.Fatalf("%s: command %d (%x): result %d %x in one Update, %d %x one per Update",
						kind, i, cmds[i], together[i].Value, together[i].Data, oneByOne[i].Value, oneByOne[i].Data)
				}
			}
			if a, b := dumpStore(t, storeA), dumpStore(t, storeB); a != b {
				t.Fatalf("%s: stores differ after %d commands applied in one Update and one per Update:\n%s\n---\n%s", kind, len(cmds), a, b)
			}
			// A pending compaction pass's worker reads the store: the
			// machines close (stopping it) before the stores do.
			closeMachines(machineA, machineB)
			reopened := openMachine(kind, storeA)
			if _, err := reopened.Open(nil); err != nil {
				t.Fatalf("%s: reopen after %d commands: %v", kind, len(cmds), err)
			}
			if kind == "partition" {
				// The batches themselves are in files, outside the dump.
				other := openMachine(kind, storeB)
				a, b := readLocal(reopened.(*Partition)), readLocal(other.(*Partition))
				if a != b {
					t.Fatalf("partition: batches read back differ:\n%s\n---\n%s", a, b)
				}
				closeMachines(other)
			}
			closeMachines(reopened)
			abandon(storeA)
			abandon(storeB)
		}
	})
}

// applyFresh applies cmds to a new state machine of kind on a new in-memory
// store, per Update at most perUpdate entries, and returns the results.
func applyFresh(t *testing.T, kind string, cmds [][]byte, perUpdate int) ([]sm.Result, *Store, sm.IOnDiskStateMachine) {
	t.Helper()
	st, err := openStore("state", vfs.NewMem())
	if err != nil {
		t.Fatal(err)
	}
	m := openMachine(kind, st)
	if _, err := m.Open(nil); err != nil {
		t.Fatal(err)
	}
	var res []sm.Result
	for i := 0; i < len(cmds); i += perUpdate {
		ents := make([]sm.Entry, 0, perUpdate)
		for j := i; j < min(i+perUpdate, len(cmds)); j++ {
			// Update may keep the command (Dragonboat hands it over), so
			// each replica gets its own copy.
			ents = append(ents, sm.Entry{Index: uint64(j + 1), Cmd: bytes.Clone(cmds[j])})
		}
		out, err := m.Update(ents)
		if err != nil {
			t.Fatalf("%s: Update of commands %d..%d: %v", kind, i, i+len(ents)-1, err)
		}
		for _, e := range out {
			res = append(res, e.Result)
		}
	}
	return res, st, m
}

func closeMachines(ms ...sm.IOnDiskStateMachine) {
	for _, m := range ms {
		_ = m.Close()
	}
}

func openMachine(kind string, st *Store) sm.IOnDiskStateMachine {
	switch kind {
	case "partition":
		return NewPartition(st, 2000, nil)
	case "meta":
		return NewMeta(st, nil)
	default:
		return NewCoordinator(st, 7)
	}
}

// readLocal opens p and returns every batch it stores locally, with the
// read's error, as text.
func readLocal(p *Partition) string {
	if _, err := p.Open(nil); err != nil {
		return err.Error()
	}
	got, err := p.Read(nil, max(p.LogStartOffset(), p.LocalStartOffset()), 1<<30)
	return fmt.Sprintf("%x %v", got, err)
}

// dumpStore lists every key and value in the store.
func dumpStore(t *testing.T, st *Store) string {
	t.Helper()
	it, err := st.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var b bytes.Buffer
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%x=%x\n", it.Key(), v)
	}
	return b.String()
}

func frameCommands(cmds [][]byte) []byte {
	var out []byte
	for _, c := range cmds {
		out = binary.AppendUvarint(out, uint64(len(c)))
		out = append(out, c...)
	}
	return out
}

// unframeCommands splits data into commands; a length past the end takes
// what is left.
func unframeCommands(data []byte) [][]byte {
	var cmds [][]byte
	for len(data) > 0 {
		n, k := binary.Uvarint(data)
		if k <= 0 {
			return cmds
		}
		data = data[k:]
		n = min(n, uint64(len(data)))
		cmds = append(cmds, data[:n])
		data = data[n:]
	}
	return cmds
}

// fuzzSeeds are short histories of valid commands for each machine.
func fuzzSeeds() [][][]byte {
	id := [16]byte{1, 2, 3}
	seg := &SegmentRecord{BaseOffset: 0, EndOffset: 3, Key: "s/0", Size: 100, IndexPos: 80, DataBytes: 60, MaxTimestamp: 10, LeaderEpoch: 1, UploadedAt: 5}
	name := "t-1"
	reassign := &ReassignCommand{Topic: "t", ID: id, Partition: 0, Target: []int32{2, 3}, Fresh: []int32{3}}
	return [][][]byte{
		{
			appendCmd(1, plain(2, 10, "ab")),
			appendCmd(1, idem(7, 0, 0, 3, "xyz"), idem(7, 0, 3, 1, "w")),
			EncodeAppendOptions(nil, &AppendCommand{LeaderEpoch: 2, Timestamp: 99, Batches: []AppendBatch{plain(1, 20, "c")}}, AppendOptions{LogAppendTime: true}),
			EncodeDeleteRecords(2),
			EncodeSegmentTiered(seg, 3),
			EncodeTrim(1, 3),
		},
		{EncodeRestorePartition(0, []SegmentRecord{*seg}, nil), appendCmd(1, plain(1, 30, "d"))},
		{
			keyedAppend(rec("a", "1", 10), rec("b", "2", 10)),
			keyedAppend(rec("a", "3", 20), tomb("b", 20)),
			mark(20),
			EncodeCompactBegin(15, 100),
			keyedAppend(rec("c", "4", 30)),
			EncodeCompactEnd(1),
			EncodeCompactBegin(25, 100),
			EncodeCompactEnd(2),
			EncodeCompactBegin(25, 100), // left pending
		},
		{
			appendCmd(1, txnBatch(5, 0, 0, 2, "t5")),
			keyedTxnAppend(6, 0, rec("a", "1", 10)),
			marker(5, 0, true),
			EncodeCompactBegin(15, 100), // 6 is open: its batch and what follows are copied whole
			marker(6, 0, false),
			marker(6, 0, false), // a repeat appends nothing
			marker(5, 1, false), // fences 5's epoch 0
			mark(20),
			EncodeCompactBegin(15, 100),
			EncodeCompactEnd(1),
			EncodeTrim(4, 4),
		},
		{
			guarded(0, txnBatch(5, 0, 0, 1, "verified")),
			marker(5, 0, true),
			guarded(1, txnBatch(5, 0, 1, 1, "late")), // refused: a marker since its guard
			marker(9, 0, false),                      // a producer the partition never saw
			guarded(4, txnBatch(9, 0, 0, 1, "next")),
			guarded(1, txnBatch(9, 0, 1, 1, "more")), // continues the open transaction
		},
		{
			EncodeRegisterBroker(BrokerRecord{ID: 1, Kafka: "k:1", Raft: "r:1", HTTP: "h:1", Rack: "a"}),
			EncodeRegisterBroker(BrokerRecord{ID: 2, Kafka: "k:2", Raft: "r:2", HTTP: "h:2"}),
			EncodeCreateTopic(&CreateTopicCommand{Name: "t", ID: id, Configs: map[string]string{"retention.ms": "1", "cleanup.policy": "delete"}, Nodes: [][]int32{{1, 2}, {2, 1}}}),
			EncodeCreatePartitions(&CreatePartitionsCommand{Name: "t", ID: id, From: 2, Nodes: [][]int32{{1}}}),
			EncodeAlterTopicConfigs(&AlterTopicConfigsCommand{Name: "t", ID: id, Expect: map[string]string{"retention.ms": "1", "cleanup.policy": "delete"}, Configs: map[string]string{"retention.ms": "2"}}),
			EncodeReportLeader(1024, 1, 3),
			EncodeAllocProducerIDs(10),
			EncodeInitTransactional("tx"),
			EncodeAlterReassignment(reassign),
			EncodeCompleteReassignment(reassign),
			EncodeRemoveBroker(2),
			EncodeRejoinBroker(2),
			EncodeDeleteTopic("t"),
			EncodeForgetDeletedTopic(id),
		},
		{
			EncodeCreateACLs([]acl.Binding{aclTopic(kmsg.ACLResourcePatternTypePrefixed, "t-", "User:a", kmsg.ACLOperationWrite)}),
			EncodeCreateACLs([]acl.Binding{aclTopic(kmsg.ACLResourcePatternTypeLiteral, "t", "User:b", kmsg.ACLOperationRead)}),
			EncodeDeleteACLs([]acl.Filter{{
				ResourceType: kmsg.ACLResourceTypeTopic, PatternType: kmsg.ACLResourcePatternTypeMatch, ResourceName: &name,
				Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny,
			}}),
			EncodeAlterQuotas([]quota.Alteration{
				setQuota(quota.Entity{User: quota.Name("a")}, quota.ProducerByteRate, 1024),
				setQuota(quota.Entity{User: quota.DefaultPart, ClientID: quota.Name("c")}, quota.ConsumerByteRate, 2048),
			}),
			EncodeAlterQuotas([]quota.Alteration{removeQuota(quota.Entity{User: quota.Name("a")}, quota.ProducerByteRate)}),
			EncodeSetFeature("transaction.version", 2),
			EncodeSetFeature("transaction.version", 0),
		},
		{
			commit("g", 5, off("t", 0, 1), off("t", 1, 9)),
			EncodeStoreGroup(groupRec("g", 1, 6, "m1", "m2")),
			EncodeStoreGroup(consumerGroupRec("cg", 3)),
			EncodeDeleteOffsets("g", []TopicPartition{{"t", 1}}),
			EncodeExpireOffsets(100, 10),
			EncodeDeleteGroup("g"),
		},
		{
			EncodePutTxn(txnRec("tx", 7, 0, TxnEmpty), 0),
			EncodePutTxn(&TxnRecord{TransactionalID: "tx", ProducerID: 7, State: TxnOngoing, Partitions: []TopicPartition{{"t", 0}}, Groups: []string{"g"}}, 1),
			EncodePutTxn(txnRec("tx", 7, 1, TxnPrepareAbort), 1),
			EncodeTxnCommitOffsets("g", 7, 0, []CommittedOffset{off("t", 0, 3)}),
			EncodeEndTxnOffsets("g", 7, 1, false),
			EncodeTxnCommitOffsets("g", 7, 0, []CommittedOffset{off("t", 0, 4)}),
			EncodeTxnCommitOffsets("g", 8, 2, []CommittedOffset{off("t", 1, 5)}),
			EncodeEndTxnOffsets("g", 8, 2, true),
			EncodeExpireOffsets(1000, 10),
			EncodePutTxn(txnRec("idle", 9, 0, TxnCompleteCommit), 0),
			EncodePutTxn(&TxnRecord{TransactionalID: "v2", ProducerID: 11, ProducerEpoch: 0, LastProducerID: 10, LastProducerEpoch: 32766, State: TxnPrepareCommit, Partitions: []TopicPartition{{"t", 0}}, EndedV2: true}, 0),
			EncodeExpireTxns([]TxnVersion{{"idle", 1}, {"tx", 2}}),
		},
	}
}

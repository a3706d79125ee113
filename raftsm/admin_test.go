package raftsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"maps"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	sm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/batch"
)

// metaHarness applies commands to a Meta as Dragonboat would.
type metaHarness struct {
	t     *testing.T
	store *Store
	m     *Meta
	index uint64
}

func newMetaHarness(t *testing.T) *metaHarness {
	t.Helper()
	st, err := openStore("state", vfs.NewMem())
	if err != nil {
		t.Fatal(err)
	}
	h := &metaHarness{t: t, store: st, m: NewMeta(st, nil)}
	if _, err := h.m.Open(nil); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *metaHarness) update(cmds ...[]byte) []Status {
	h.t.Helper()
	ents := make([]sm.Entry, len(cmds))
	for i, c := range cmds {
		h.index++
		ents[i] = sm.Entry{Index: h.index, Cmd: c}
	}
	out, err := h.m.Update(ents)
	if err != nil {
		h.t.Fatal(err)
	}
	st := make([]Status, len(out))
	for i := range out {
		st[i] = ResultStatus(out[i].Result.Data)
	}
	return st
}

func TestMetaCreatePartitions(t *testing.T) {
	h := newMetaHarness(t)
	id := [16]byte{7}
	h.update(EncodeCreateTopic(&CreateTopicCommand{Name: "t", ID: id, Nodes: [][]int32{{1}, {1}}}))
	before := h.m.View()

	grow := func(from int32, tid [16]byte, n int) []byte {
		nodes := make([][]int32, n)
		for i := range nodes {
			nodes[i] = []int32{1}
		}
		return EncodeCreatePartitions(&CreatePartitionsCommand{Name: "t", ID: tid, From: from, Nodes: nodes})
	}
	got := h.update(
		grow(2, id, 3),          // 2 → 5
		grow(2, id, 1),          // stale count: conflict
		grow(5, [16]byte{8}, 1), // another topic's ID
		EncodeCreatePartitions(&CreatePartitionsCommand{Name: "missing", ID: id, From: 0, Nodes: [][]int32{{1}}}),
		EncodeCreatePartitions(&CreatePartitionsCommand{Name: "t", ID: id, From: 5}), // no partitions: malformed
	)
	want := []Status{StatusOK, StatusConflict, StatusUnknownTopic, StatusUnknownTopic, StatusMalformed}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("command %d: %s, want %s", i, got[i], want[i])
		}
	}
	parts := h.m.View().Topics["t"].Partitions
	if len(parts) != 5 {
		t.Fatalf("%d partitions after growing, want 5", len(parts))
	}
	seen := map[uint64]bool{}
	for i, p := range parts {
		if p.ShardID != FirstPartitionShardID+uint64(i) || seen[p.Replicas[0]] {
			t.Fatalf("partition %d: shard %d replicas %v; want shard %d and a fresh replica ID", i, p.ShardID, p.Replicas, FirstPartitionShardID+uint64(i))
		}
		seen[p.Replicas[0]] = true
	}
	if len(before.Topics["t"].Partitions) != 2 {
		t.Fatal("an earlier published view was mutated")
	}

	// Reopen: the grown topic and the shard counter are on disk.
	h.m = NewMeta(h.store, nil)
	if _, err := h.m.Open(nil); err != nil {
		t.Fatal(err)
	}
	if n := len(h.m.View().Topics["t"].Partitions); n != 5 {
		t.Fatalf("after reopen: %d partitions", n)
	}
	h.update(grow(5, id, 1))
	if s := h.m.View().Topics["t"].Partitions[5].ShardID; s != FirstPartitionShardID+5 {
		t.Fatalf("shard after reopen %d, want %d", s, FirstPartitionShardID+5)
	}
}

func TestMetaAlterTopicConfigs(t *testing.T) {
	h := newMetaHarness(t)
	id := [16]byte{1}
	h.update(EncodeCreateTopic(&CreateTopicCommand{Name: "t", ID: id, Configs: map[string]string{"retention.ms": "1"}, Nodes: [][]int32{{1}}}))
	before := h.m.View()
	alter := func(expect, configs map[string]string) []byte {
		return EncodeAlterTopicConfigs(&AlterTopicConfigsCommand{Name: "t", ID: id, Expect: expect, Configs: configs})
	}
	next := map[string]string{"retention.ms": "2", "cleanup.policy": "compact"}
	got := h.update(
		alter(map[string]string{"retention.ms": "1"}, next),
		alter(map[string]string{"retention.ms": "1"}, map[string]string{}), // stale: conflict
		EncodeAlterTopicConfigs(&AlterTopicConfigsCommand{Name: "t", ID: [16]byte{2}, Expect: next}),
		[]byte{commandVersion, cmdAlterTopicConfigs, 0},
	)
	want := []Status{StatusOK, StatusConflict, StatusUnknownTopic, StatusMalformed}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("command %d: %s, want %s", i, got[i], want[i])
		}
	}
	if c := h.m.View().Topics["t"].Configs; !maps.Equal(c, next) {
		t.Fatalf("configs %v, want %v", c, next)
	}
	if c := before.Topics["t"].Configs; c["retention.ms"] != "1" || len(c) != 1 {
		t.Fatalf("an earlier published view was mutated: %v", c)
	}
	// Removing every config, then reopening.
	if got := h.update(alter(next, nil)); got[0] != StatusOK {
		t.Fatalf("clear configs: %s", got[0])
	}
	h.m = NewMeta(h.store, nil)
	if _, err := h.m.Open(nil); err != nil {
		t.Fatal(err)
	}
	if c := h.m.View().Topics["t"].Configs; len(c) != 0 {
		t.Fatalf("after reopen configs %v, want none", c)
	}
}

// storedBatches returns the base offsets of the batches stored for p,
// including any below the log start that were not deleted.
func storedBatches(t *testing.T, p *Partition) []int64 {
	t.Helper()
	var out []int64
	if err := p.scan(keyBatch, func(k, _ []byte) error {
		out = append(out, int64(binary.BigEndian.Uint64(k)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func deleteCmd(off int64) []byte { return EncodeDeleteRecords(off) }

func TestPartitionDeleteRecords(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	// Batches at offsets 0-2, 3-4, 5, 6-9.
	h.update(appendCmd(1, plain(3, 10, "a")), appendCmd(1, plain(2, 20, "bb")), appendCmd(1, plain(1, 30, "c")), appendCmd(1, plain(4, 40, "dddd")))
	total := int64(4*batchHeaderSize + 1 + 2 + 1 + 4)
	if got := h.p.SizeBytes(); got != total {
		t.Fatalf("size %d, want %d", got, total)
	}

	res := h.update(deleteCmd(4), deleteCmd(11), deleteCmd(2), deleteCmd(-7))
	if ResultStatus(res[0].Data) != StatusOK || res[0].Value != 4 {
		t.Fatalf("delete to 4: %s %d", ResultStatus(res[0].Data), res[0].Value)
	}
	if ResultStatus(res[1].Data) != StatusOffsetOutOfRange {
		t.Fatalf("delete beyond HW: %s", ResultStatus(res[1].Data))
	}
	if ResultStatus(res[2].Data) != StatusOK || res[2].Value != 4 {
		t.Fatalf("delete below log start must keep it: %s %d", ResultStatus(res[2].Data), res[2].Value)
	}
	if ResultStatus(res[3].Data) != StatusMalformed {
		t.Fatalf("negative offset: %s", ResultStatus(res[3].Data))
	}
	if got := h.p.LogStartOffset(); got != 4 {
		t.Fatalf("log start %d, want 4", got)
	}
	// The batch holding 4 (base 3) stays; the one below goes.
	if got := storedBatches(t, h.p); len(got) != 3 || got[0] != 3 {
		t.Fatalf("stored batches %v, want [3 5 6]", got)
	}
	if got, want := h.p.SizeBytes(), total-(batchHeaderSize+1); got != want {
		t.Fatalf("size after delete %d, want %d", got, want)
	}
	if _, err := h.p.Read(nil, 3, 1<<20); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below log start: %v", err)
	}
	out, err := h.p.Read(nil, 4, 1<<20)
	if err != nil || binary.BigEndian.Uint64(out) != 3 {
		t.Fatalf("read at log start: %v, first base %d", err, binary.BigEndian.Uint64(out))
	}
	// Lookups by time skip nothing that remains.
	var bases []int64
	_ = h.p.BatchesFromTime(0, func(b []byte) bool { bases = append(bases, int64(binary.BigEndian.Uint64(b))); return true })
	if len(bases) != 3 || bases[0] != 3 {
		t.Fatalf("BatchesFromTime(0) bases %v, want [3 5 6]", bases)
	}

	// An append and a delete-to-HW in one Update: the delete sees the new batch.
	res = h.update(appendCmd(1, plain(2, 50, "ee")), deleteCmd(-1))
	if res[1].Value != 12 || h.p.LogStartOffset() != 12 || h.p.HighWatermark() != 12 {
		t.Fatalf("delete to HW: value %d start %d HW %d; want 12", res[1].Value, h.p.LogStartOffset(), h.p.HighWatermark())
	}
	if got := storedBatches(t, h.p); len(got) != 0 {
		t.Fatalf("batches %v survived a delete to the high watermark", got)
	}
	if h.p.SizeBytes() != 0 {
		t.Fatalf("size %d after deleting everything", h.p.SizeBytes())
	}
	if out, err := h.p.Read(nil, 12, 100); err != nil || len(out) != 0 {
		t.Fatalf("read at HW after delete: %d bytes, %v", len(out), err)
	}
	if b, err := h.p.MaxTimestampBatch(); err != nil || b != nil {
		t.Fatalf("max timestamp batch of an empty log: %d bytes, %v", len(b), err)
	}

	// The log start survives a reopen and a snapshot.
	h.update(appendCmd(1, plain(1, 60, "f")))
	p2 := NewPartition(h.store, 2000, nil)
	if _, err := p2.Open(nil); err != nil {
		t.Fatal(err)
	}
	if p2.LogStartOffset() != 12 || p2.HighWatermark() != 13 || p2.SizeBytes() != batchHeaderSize+1 {
		t.Fatalf("reopened: start %d HW %d size %d", p2.LogStartOffset(), p2.HighWatermark(), p2.SizeBytes())
	}
	ctx, _ := p2.PrepareSnapshot()
	var buf bytes.Buffer
	if err := p2.SaveSnapshot(ctx, &buf, nil); err != nil {
		t.Fatal(err)
	}
	other := NewPartition(h.store, 2001, nil)
	if err := other.RecoverFromSnapshot(&buf, nil); err != nil {
		t.Fatal(err)
	}
	if other.LogStartOffset() != 12 || other.HighWatermark() != 13 {
		t.Fatalf("from snapshot: start %d HW %d", other.LogStartOffset(), other.HighWatermark())
	}
}

// Deletes far into a log of large batches use the sparse position index
// and still keep the size exact.
func TestPartitionDeleteRecordsSizeWithPositionIndex(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	sizes := appendGrowing(h, 40)
	sum := func(from int) int64 { return sumFrom(sizes, int64(from)) }
	if h.p.SizeBytes() != sum(0) {
		t.Fatalf("size %d, want %d", h.p.SizeBytes(), sum(0))
	}
	entries := 0
	_ = h.p.scan(keyPosition, func([]byte, []byte) error { entries++; return nil })
	if entries < 3 {
		t.Fatalf("%d position entries for %d bytes, want one per MiB", entries, sum(0))
	}
	for _, to := range []int64{7, 8, 23, 39} {
		h.update(deleteCmd(to))
		if got, want := h.p.SizeBytes(), sum(int(to)); got != want {
			t.Fatalf("after delete to %d: size %d, want %d", to, got, want)
		}
	}
	n := 0
	_ = h.p.scan(keyPosition, func(k, _ []byte) error {
		if int64(binary.BigEndian.Uint64(k)) < 39 {
			t.Errorf("position entry for offset %d below the log start's batch", binary.BigEndian.Uint64(k))
		}
		n++
		return nil
	})
	if n > 1 {
		t.Fatalf("%d position entries left", n)
	}
}

// appendGrowing appends n one-record batches of 100 KB + 1 KB × i (about
// 4 MB for 40: several position-index entries) and returns their sizes.
func appendGrowing(h *harness, n int) []int64 {
	sizes := make([]int64, n)
	for i := range sizes {
		payload := strings.Repeat("x", 100_000+i*1000)
		h.update(appendCmd(1, plain(1, int64(i), payload)))
		sizes[i] = int64(batchHeaderSize + len(payload))
	}
	return sizes
}

// sumFrom is the total size of the batches from index from on.
func sumFrom(sizes []int64, from int64) (n int64) {
	for _, s := range sizes[from:] {
		n += s
	}
	return n
}

// realBatch builds a valid uncompressed v2 batch with the given record
// timestamps.
func realBatch(timestamps ...int64) []byte {
	var records []byte
	for i, ts := range timestamps {
		r := kmsg.NewRecord()
		r.OffsetDelta = int32(i)
		r.TimestampDelta64 = ts - timestamps[0]
		r.Value = []byte("v" + strconv.Itoa(i))
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		records = r.AppendTo(records)
	}
	b := kmsg.NewRecordBatch()
	b.Magic = 2
	b.LastOffsetDelta = int32(len(timestamps) - 1)
	b.FirstTimestamp = timestamps[0]
	for _, ts := range timestamps {
		b.MaxTimestamp = max(b.MaxTimestamp, ts)
	}
	b.ProducerID, b.ProducerEpoch, b.FirstSequence = -1, -1, -1
	b.NumRecords = int32(len(timestamps))
	b.Records = records
	b.Length = int32(batchHeaderSize - 12 + len(records))
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

func realAppend(data []byte) AppendBatch {
	h, err := batch.ParseHeader(data)
	if err != nil {
		panic(err)
	}
	return AppendBatch{Data: data, Meta: BatchMeta{LastOffsetDelta: h.LastOffsetDelta, MaxTimestamp: h.MaxTimestamp, ProducerID: -1}}
}

func TestPartitionLogAppendTime(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	const appendTS = 1_800_000_000_000
	create := realBatch(100, 105, 103)
	lat := realBatch(200, 201)
	c := &AppendCommand{LeaderEpoch: 1, Timestamp: appendTS, Batches: []AppendBatch{realAppend(lat)}}
	plainCmd := EncodeAppendOptions(nil, &AppendCommand{LeaderEpoch: 1, Timestamp: appendTS, Batches: []AppendBatch{realAppend(create)}}, AppendOptions{})
	if plainCmd[1] != cmdAppend {
		t.Fatal("default options must encode a plain append")
	}
	latCmd := EncodeAppendOptions(nil, c, AppendOptions{LogAppendTime: true})
	res := h.update(plainCmd, latCmd, latCmd[:len(latCmd)-1])
	if ResultStatus(res[0].Data) != StatusOK || ResultStatus(res[1].Data) != StatusOK || res[1].Value != 3 {
		t.Fatalf("appends: %s, %s at %d", ResultStatus(res[0].Data), ResultStatus(res[1].Data), res[1].Value)
	}
	if ResultStatus(res[2].Data) != StatusMalformed {
		t.Fatalf("options command without its flags byte: %s", ResultStatus(res[2].Data))
	}

	out, err := h.p.Read(nil, 3, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := batch.Validate(out, 0)
	if err != nil {
		t.Fatalf("stored LogAppendTime batch fails validation: %v", err)
	}
	if hdr.TimestampType() != batch.LogAppendTime || hdr.MaxTimestamp != appendTS || hdr.FirstTimestamp != 200 {
		t.Fatalf("stored header: type %s max %d first %d", hdr.TimestampType(), hdr.MaxTimestamp, hdr.FirstTimestamp)
	}
	_ = batch.Records(out, func(r batch.Record) error {
		if r.Timestamp != appendTS {
			t.Errorf("record %d timestamp %d, want the append time", r.Offset, r.Timestamp)
		}
		return nil
	})
	// The CreateTime batch is stored as produced, apart from offset and epoch.
	first, _ := h.p.Read(nil, 0, 1)
	if !bytes.Equal(first[offAttributes:], create[offAttributes:]) {
		t.Fatal("CreateTime batch changed")
	}
	if _, err := batch.Validate(first, 0); err != nil {
		t.Fatal(err)
	}

	// The time index knows the append time: the LogAppendTime batch holds
	// the max timestamp.
	mb, err := h.p.MaxTimestampBatch()
	if err != nil || binary.BigEndian.Uint64(mb) != 3 {
		t.Fatalf("max timestamp batch base %d, %v; want 3", binary.BigEndian.Uint64(mb), err)
	}
	var bases []int64
	_ = h.p.BatchesFromTime(appendTS, func(b []byte) bool { bases = append(bases, int64(binary.BigEndian.Uint64(b))); return true })
	if len(bases) != 1 || bases[0] != 3 {
		t.Fatalf("BatchesFromTime(append time) = %v, want [3]", bases)
	}
}

func TestPartitionMaxTimestampAfterDelete(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	h.update(appendCmd(1, realAppend(realBatch(500, 900))), appendCmd(1, realAppend(realBatch(600))), appendCmd(1, realAppend(realBatch(700, 650))))
	mb, err := h.p.MaxTimestampBatch()
	if err != nil || binary.BigEndian.Uint64(mb) != 0 {
		t.Fatalf("max timestamp batch %d, %v; want 0", binary.BigEndian.Uint64(mb), err)
	}
	// Deleting the batch with the max timestamp falls back to a scan.
	h.update(deleteCmd(2))
	mb, err = h.p.MaxTimestampBatch()
	if err != nil || binary.BigEndian.Uint64(mb) != 3 {
		t.Fatalf("after delete: max timestamp batch %d, %v; want 3", binary.BigEndian.Uint64(mb), err)
	}
}

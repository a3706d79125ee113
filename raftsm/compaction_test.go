package raftsm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/chronik-go/chronik/core/batch"
)

// kv is one record of keyedBatch: value nil is a tombstone, key "" no key.
type kv struct {
	key   string
	value *string
	ts    int64
}

func rec(key, value string, ts int64) kv { return kv{key: key, value: &value, ts: ts} }
func tomb(key string, ts int64) kv       { return kv{key: key, ts: ts} }

// keyedBatch encodes a real, uncompressed RecordBatch v2 of recs.
func keyedBatch(recs ...kv) []byte {
	var records []byte
	first, maxTS := recs[0].ts, recs[0].ts
	for i, r := range recs {
		var body []byte
		body = append(body, 0) // attributes
		body = binary.AppendVarint(body, r.ts-first)
		body = binary.AppendVarint(body, int64(i))
		if r.key == "" {
			body = binary.AppendVarint(body, -1)
		} else {
			body = binary.AppendVarint(body, int64(len(r.key)))
			body = append(body, r.key...)
		}
		if r.value == nil {
			body = binary.AppendVarint(body, -1)
		} else {
			body = binary.AppendVarint(body, int64(len(*r.value)))
			body = append(body, *r.value...)
		}
		body = binary.AppendVarint(body, 0) // headers
		records = binary.AppendVarint(records, int64(len(body)))
		records = append(records, body...)
		maxTS = max(maxTS, r.ts)
	}
	b := make([]byte, batchHeaderSize, batchHeaderSize+len(records))
	binary.BigEndian.PutUint32(b[8:], uint32(batchHeaderSize-12+len(records)))
	b[16] = 2 // magic
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(len(recs)-1))
	binary.BigEndian.PutUint64(b[27:], uint64(first))
	binary.BigEndian.PutUint64(b[35:], uint64(maxTS))
	binary.BigEndian.PutUint64(b[43:], ^uint64(0)) // producer ID -1
	binary.BigEndian.PutUint16(b[51:], ^uint16(0))
	binary.BigEndian.PutUint32(b[53:], ^uint32(0))
	binary.BigEndian.PutUint32(b[57:], uint32(len(recs)))
	b = append(b, records...)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// mark appends a batch of its own: a pass copies its input's last batch
// whole (compaction.go), so tests end the input with one.
func mark(ts int64) []byte { return keyedAppend(rec("~", "end", ts)) }

func keyedAppend(recs ...kv) []byte {
	data := keyedBatch(recs...)
	return appendCmd(1, AppendBatch{Data: data, Meta: BatchMeta{LastOffsetDelta: int32(len(recs) - 1), MaxTimestamp: recs[len(recs)-1].ts, ProducerID: -1}})
}

// readRecords returns "offset:key=value" for every record readable from
// offset 0 ("key=-" for a tombstone, "-=value" without a key).
func readRecords(t *testing.T, p *Partition) []string {
	t.Helper()
	data, err := p.Read(nil, p.LogStartOffset(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for len(data) > 0 {
		h, err := batch.ParseHeader(data)
		if err != nil {
			t.Fatal(err)
		}
		one := data[:h.Size()]
		data = data[h.Size():]
		if crc32.Checksum(one[21:], crc32.MakeTable(crc32.Castagnoli)) != h.CRC {
			t.Fatalf("stored batch at %d fails its CRC", h.BaseOffset)
		}
		if err := batch.Records(one, func(r batch.Record) error {
			k, v := "-", "-"
			if r.Key != nil {
				k = string(r.Key)
			}
			if r.Value != nil {
				v = string(r.Value)
			}
			out = append(out, fmt.Sprintf("%d:%s=%s", r.Offset, k, v))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// runPass begins and ends a compaction pass as a leader would: begin, wait
// for the worker, end.
func runPass(t *testing.T, h *harness, tombCutoff, lagCutoff int64, between ...[]byte) uint64 {
	t.Helper()
	res := h.update(EncodeCompactBegin(tombCutoff, lagCutoff))
	if st := ResultStatus(res[0].Data); st != StatusOK {
		t.Fatalf("begin: %s", st)
	}
	pass := res[0].Value
	if len(between) > 0 {
		h.update(between...)
	}
	for !h.p.Compaction().WorkerDone {
		<-h.p.job.done
	}
	res = h.update(EncodeCompactEnd(pass))
	if st := ResultStatus(res[0].Data); st != StatusOK {
		t.Fatalf("end: %s", st)
	}
	if last := h.p.Compaction().Last; last == nil || last.Err != nil {
		t.Fatalf("pass result %+v", last)
	}
	return pass
}

func TestCompactionKeepsTheLatestRecordPerKey(t *testing.T) {
	fs := vfs.NewMem()
	h := newHarness(t, fs)
	h.store.batchFileSize = 1 << 10 // several files
	pad := strings.Repeat("x", 100)
	h.update(
		keyedAppend(rec("a", "a1"+pad, 10), rec("b", "b1"+pad, 10), rec("c", "c1"+pad, 10)), // 0-2
		keyedAppend(rec("a", "a2"+pad, 20), tomb("b", 20), rec("", "nokey", 20)),            // 3-5
		keyedAppend(rec("d", "d1"+pad, 30)),                                                 // 6
		keyedAppend(rec("a", "a3"+pad, 40), rec("c", "c2"+pad, 40)),                         // 7-8
		mark(45), // 9
	)
	sizeBefore := h.p.SizeBytes()
	// Tombstones older than 15 go; every record is older than the lag cutoff.
	runPass(t, h, 15, 1000)
	want := []string{"4:b=-", "5:-=nokey", "6:d=d1" + pad, "7:a=a3" + pad, "8:c=c2" + pad, "9:~=end"}
	if got := readRecords(t, h.p); !slices.Equal(got, want) {
		t.Fatalf("after the pass:\n got %q\nwant %q", got, want)
	}
	if h.p.HighWatermark() != 10 || h.p.LogStartOffset() != 0 {
		t.Fatalf("HW %d, log start %d; offsets must not change", h.p.HighWatermark(), h.p.LogStartOffset())
	}
	if after := h.p.SizeBytes(); after >= sizeBefore || after <= 0 {
		t.Fatalf("size %d → %d: the pass should shrink the log", sizeBefore, after)
	}
	// Appends after the pass read back after the compacted batches, and a
	// second pass sees them (b's tombstone is now past the cutoff of 25).
	h.update(keyedAppend(rec("d", "d2", 50)), mark(55))
	st := h.p.Compaction()
	if st.CleanBytes <= 0 || st.DirtyBytes <= 0 || st.DirtyFrom != 9 {
		t.Fatalf("status after a pass and an append: %+v", st)
	}
	runPass(t, h, 25, 1000)
	want = []string{"5:-=nokey", "7:a=a3" + pad, "8:c=c2" + pad, "9:~=end", "10:d=d2", "11:~=end"}
	if got := readRecords(t, h.p); !slices.Equal(got, want) {
		t.Fatalf("after the second pass:\n got %q\nwant %q", got, want)
	}
	// Reading from an offset whose batch is gone starts at the next one
	// (the batch at 3 keeps its base offset, holding only offset 5).
	data, err := h.p.Read(nil, 1, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if hd, _ := batch.ParseHeader(data); hd.BaseOffset != 3 || hd.LastOffsetDelta != 2 || hd.NumRecords != 1 {
		t.Fatalf("read from 1 starts at %+v, want the batch at 3 with one record", hd)
	}
	h.checkDurable(func(name string, p *Partition) {
		if got := readRecords(t, p); !slices.Equal(got, want) {
			t.Fatalf("%s: got %q\nwant %q", name, got, want)
		}
		if p.SizeBytes() != h.p.SizeBytes() {
			t.Fatalf("%s: size %d, live %d", name, p.SizeBytes(), h.p.SizeBytes())
		}
	})
	// The old batch files are gone from the disk once the state is synced.
	if err := h.store.Sync(); err != nil {
		t.Fatal(err)
	}
	names, _ := fs.List(h.store.batchDir(2000))
	var total int64
	for _, n := range names {
		st, err := fs.Stat(fs.PathJoin(h.store.batchDir(2000), n))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(n, ".tmp") {
			t.Fatalf("a compaction output was left behind: %s", n)
		}
		total += st.Size()
	}
	if total > 2*h.p.SizeBytes()+1<<10 {
		t.Fatalf("batch files hold %d bytes for %d live (%v)", total, h.p.SizeBytes(), names)
	}
}

// TestCompactionTailIsDirty: a pass copies its input's last batch whole
// and leaves it to the next pass, so the status counts it as dirty, live
// and after a restart or snapshot. Counted as clean, a large last batch
// followed by a few small ones (a pass that began while a producer was
// still writing) kept the dirty ratio under min.cleanable.dirty.ratio, and
// the partition was never compacted again.
func TestCompactionTailIsDirty(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	pad := strings.Repeat("x", 200)
	var recs []kv
	for k := range 50 {
		recs = append(recs, rec(fmt.Sprintf("k%02d", k), "v1"+pad, 20))
	}
	h.update(keyedAppend(rec("a", "a1", 10)), keyedAppend(recs...)) // 0, 1-50
	tail := int64(len(keyedBatch(recs...)))
	runPass(t, h, 0, 1000)
	h.update(mark(30)) // 51
	st := h.p.Compaction()
	if st.DirtyFrom != 1 || st.DirtyBytes < tail || st.DirtyBytes > h.p.SizeBytes() {
		t.Fatalf("after a pass that kept a %d-byte last batch and an append: %+v (size %d)", tail, st, h.p.SizeBytes())
	}
	if ratio := float64(st.DirtyBytes) / float64(st.DirtyBytes+st.CleanBytes); ratio < 0.9 {
		t.Fatalf("dirty ratio %.2f, want nearly all of the log (%+v)", ratio, st)
	}
	h.checkDurable(func(name string, p *Partition) {
		if got := p.Compaction(); got.DirtyBytes != st.DirtyBytes || got.CleanBytes != st.CleanBytes {
			t.Fatalf("%s: %+v, live %+v", name, got, st)
		}
	})
	// The next pass judges the tail: one record per key stays.
	runPass(t, h, 0, 1000)
	if got := readRecords(t, h.p); len(got) != 52 {
		t.Fatalf("after the second pass: %d records, want 52 (keys were unique): %q", len(got), got)
	}
}

func TestCompactionMinLagAndAppendsDuringThePass(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	h.update(
		keyedAppend(rec("a", "a1", 10), rec("a", "a2", 60)), // a2 is newer than the lag cutoff
		keyedAppend(rec("a", "a3", 100)),
		mark(100),
	)
	// Appends while the worker runs land after the gap and stay.
	runPass(t, h, 0, 50, keyedAppend(rec("a", "a4", 200)), keyedAppend(rec("b", "b1", 210)))
	want := []string{"1:a=a2", "2:a=a3", "3:~=end", "4:a=a4", "5:b=b1"}
	if got := readRecords(t, h.p); !slices.Equal(got, want) {
		// a1 is older than the lag cutoff and superseded; a2 is within the
		// lag; a4 and b1 came after the begin.
		t.Fatalf("got %q\nwant %q", got, want)
	}
	h.checkDurable(func(name string, p *Partition) {
		if got := readRecords(t, p); !slices.Equal(got, want) {
			t.Fatalf("%s: got %q", name, got)
		}
	})
}

func TestCompactionBeginAndEndInOneUpdate(t *testing.T) {
	// A follower catching up applies the whole pass, with the appends
	// before it, in one Update: the worker must see those appends.
	h := newHarness(t, vfs.NewMem())
	h.update(keyedAppend(rec("a", "a1", 10)))
	res := h.update(
		keyedAppend(rec("a", "a2", 20)),
		mark(20),
		EncodeCompactBegin(0, 1000),
		keyedAppend(rec("b", "b2", 30)),
		EncodeCompactEnd(1),
	)
	if ResultStatus(res[2].Data) != StatusOK || ResultStatus(res[4].Data) != StatusOK {
		t.Fatalf("results %+v", res)
	}
	want := []string{"1:a=a2", "2:~=end", "3:b=b2"}
	if got := readRecords(t, h.p); !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestCompactionPendingSurvivesRestartAndSnapshot(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	h.update(keyedAppend(rec("a", "a1", 10)), keyedAppend(rec("a", "a2", 20)), mark(20))
	res := h.update(EncodeCompactBegin(0, 1000))
	pass := res[0].Value
	h.update(keyedAppend(rec("c", "c1", 30)))
	if got := h.update(EncodeCompactBegin(0, 1000)); ResultStatus(got[0].Data) != StatusConflict {
		t.Fatal("a second pass began while one is pending")
	}
	if sz := h.p.SizeBytes(); sz > 1<<10 {
		t.Fatalf("size %d counts the gap", sz)
	}
	// Another replica gets the state mid-pass by snapshot; this one
	// restarts mid-pass. Both finish the pass with their own worker.
	buf := snapshotOf(t, h.p)
	other := NewPartition(h.store, 2001, nil)
	if err := other.RecoverFromSnapshot(buf, nil); err != nil {
		t.Fatal(err)
	}
	// Its batches are in its files at the sender's positions, gap included.
	if err := other.scan(keyBatch, func(_, v []byte) error {
		if len(v) != batchRefSize {
			return errors.New("a recovered batch is stored in Pebble")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if other.bytes != h.p.bytes || other.startPos != h.p.startPos {
		t.Fatalf("recovered positions %d/%d, sender %d/%d", other.startPos, other.bytes, h.p.startPos, h.p.bytes)
	}
	if err := h.p.Close(); err != nil {
		t.Fatal(err)
	}
	h.p = NewPartition(h.store, 2000, nil)
	if _, err := h.p.Open(nil); err != nil {
		t.Fatal(err)
	}
	h.update(keyedAppend(rec("d", "d1", 40)))
	wrap := &harness{t: t, store: h.store, p: other, index: h.index - 1}
	wrap.update(keyedAppend(rec("d", "d1", 40)))
	want := []string{"1:a=a2", "2:~=end", "3:c=c1", "4:d=d1"}
	for name, hh := range map[string]*harness{"restarted": h, "from snapshot": wrap} {
		if r := hh.update(EncodeCompactEnd(pass)); ResultStatus(r[0].Data) != StatusOK {
			t.Fatalf("%s: end %s", name, ResultStatus(r[0].Data))
		}
		if got := readRecords(t, hh.p); !slices.Equal(got, want) {
			t.Fatalf("%s: got %q\nwant %q", name, got, want)
		}
	}
	if got := h.update(EncodeCompactEnd(pass)); ResultStatus(got[0].Data) != StatusConflict {
		t.Fatal("a pass ended twice")
	}
}

func TestCompactionWorkerFailureKeepsTheBatches(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	// A batch the worker cannot parse (magic 0) makes it fail, as a
	// corrupt batch or a full disk would.
	h.update(keyedAppend(rec("a", "a1", 10)), appendCmd(1, plain(1, 15, "junk")), keyedAppend(rec("a", "a2", 20)))
	before, err := h.p.Read(nil, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	size := h.p.SizeBytes()
	res := h.update(EncodeCompactBegin(0, 1000))
	r := h.update(EncodeCompactEnd(res[0].Value))
	if ResultStatus(r[0].Data) != StatusOK {
		t.Fatalf("end: %s", ResultStatus(r[0].Data))
	}
	if last := h.p.Compaction().Last; last == nil || last.Err == nil {
		t.Fatalf("the pass did not report its failure: %+v", last)
	}
	after, err := h.p.Read(nil, 0, 1<<20)
	if err != nil || !bytes.Equal(after, before) {
		t.Fatalf("a failed pass changed the batches (%v)", err)
	}
	// The pass's gap stays unused: the sizes leave it out.
	if got := h.p.SizeBytes(); got != size {
		t.Fatalf("size %d after a failed pass, %d before", got, size)
	}
	if st := h.p.Compaction(); st.DirtyBytes != size {
		t.Fatalf("dirty bytes %d after a failed pass, want %d", st.DirtyBytes, size)
	}
	if !h.p.holey.Load() {
		t.Fatal("size retention is not told about the unused positions")
	}
	// The partition goes on: appends land after the gap and read back.
	h.update(keyedAppend(rec("b", "b1", 30)))
	if got, _ := h.p.Read(nil, 3, 1<<20); len(got) == 0 {
		t.Fatal("an append after a failed pass does not read back")
	}
	h.checkDurable(func(name string, p *Partition) {
		if got, _ := p.Read(nil, 0, 1<<20); !bytes.HasPrefix(got, before) {
			t.Fatalf("%s: batches differ", name)
		}
		if p.SizeBytes() != h.p.SizeBytes() {
			t.Fatalf("%s: size %d, live %d", name, p.SizeBytes(), h.p.SizeBytes())
		}
	})
}

// TestCompactionCrash: a crash at any point of a pass loses nothing. The
// state after a crash is the last synced one, and Dragonboat replays the
// entries after it: the pass resumes (its worker starts again) or is
// replayed, and every record reads back as before.
func TestCompactionCrash(t *testing.T) {
	history := [][]byte{
		keyedAppend(rec("a", "a1", 10), rec("b", "b1", 10)),
		keyedAppend(rec("a", "a2", 20)),
		mark(20),
		EncodeCompactBegin(0, 1000),
		keyedAppend(rec("c", "c1", 30)),
		EncodeCompactEnd(1),
		keyedAppend(rec("b", "b2", 40)),
	}
	want := []string{"1:b=b1", "2:a=a2", "3:~=end", "4:c=c1", "5:b=b2"} // b2 came after the begin
	for synced := 0; synced <= len(history); synced++ {
		t.Run(fmt.Sprintf("synced %d of %d", synced, len(history)), func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			h := newHarness(t, fs)
			h.store.batchFileSize = 100 // a file per batch or so
			for i, cmd := range history {
				if i == synced {
					if err := h.p.Sync(); err != nil {
						t.Fatal(err)
					}
				}
				h.update(cmd)
			}
			if synced == len(history) {
				if err := h.p.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			p, applied := h.crash(fs)
			defer p.Close()
			r := &harness{t: t, store: p.store, p: p, index: applied}
			for _, cmd := range history[applied:] {
				r.update(cmd)
			}
			if got := readRecords(t, p); !slices.Equal(got, want) {
				t.Fatalf("after the crash and the replay from %d: got %q\nwant %q", applied, got, want)
			}
		})
	}
}

// TestCompactionHolesInSnapshots: a replica that gets its state by snapshot
// after a failed pass puts the batches at the sender's positions (past the
// failed pass's gap), so its position index agrees with its files: a
// retention step that moves the log start past the gap drops only the
// files below it, on both.
func TestCompactionHolesInSnapshots(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	h.store.batchFileSize = 1 // a file per batch
	h.update(keyedAppend(rec("a", "a1", 10)), appendCmd(1, plain(1, 15, "junk")), keyedAppend(rec("a", "a2", 20)))
	res := h.update(EncodeCompactBegin(0, 1000))
	h.update(EncodeCompactEnd(res[0].Value)) // fails on the junk batch
	h.update(keyedAppend(rec("b", "b1", 30)), keyedAppend(rec("c", "c1", 40)), keyedAppend(rec("d", "d1", 50)))
	other := NewPartition(h.store, 2001, nil)
	if err := other.RecoverFromSnapshot(snapshotOf(t, h.p), nil); err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if other.bytes != h.p.bytes || other.startPos != h.p.startPos || other.SizeBytes() != h.p.SizeBytes() {
		t.Fatalf("receiver positions %d..%d size %d, sender %d..%d size %d",
			other.startPos, other.bytes, other.SizeBytes(), h.p.startPos, h.p.bytes, h.p.SizeBytes())
	}
	wrap := &harness{t: t, store: h.store, p: other, index: h.index}
	for _, hh := range []*harness{h, wrap} {
		hh.update(EncodeDeleteRecords(4), keyedAppend(rec("e", "e1", 60)))
	}
	a, errA := h.p.Read(nil, 4, 1<<20)
	b, errB := other.Read(nil, 4, 1<<20)
	if errA != nil || errB != nil || !bytes.Equal(a, b) || len(a) == 0 {
		t.Fatalf("after retention past the gap: sender %d bytes (%v), receiver %d bytes (%v)", len(a), errA, len(b), errB)
	}
	if other.startPos != h.p.startPos || other.SizeBytes() != h.p.SizeBytes() {
		t.Fatalf("after retention: receiver start %d size %d, sender %d size %d", other.startPos, other.SizeBytes(), h.p.startPos, h.p.SizeBytes())
	}
}

// TestCompactionMapFull: a pass that meets more new keys than it can map
// judges the batches before the first it could not map and copies the rest
// whole; the next pass maps from there and removes what it left.
func TestCompactionMapFull(t *testing.T) {
	defer func(n int) { compactionMaxKeys = n }(compactionMaxKeys)
	compactionMaxKeys = 2
	h := newHarness(t, vfs.NewMem())
	h.update(
		keyedAppend(rec("a", "a1", 10), rec("b", "b1", 10)),                     // 0-1
		keyedAppend(rec("c", "c1", 10)),                                         // 2: c does not fit
		keyedAppend(rec("a", "a2", 10), rec("c", "c2", 10), rec("d", "d1", 10)), // 3-5
		mark(10), // 6
	)
	runPass(t, h, 0, 1000)
	want := []string{"1:b=b1", "2:c=c1", "3:a=a2", "4:c=c2", "5:d=d1", "6:~=end"}
	if got := readRecords(t, h.p); !slices.Equal(got, want) {
		t.Fatalf("first pass:\n got %q\nwant %q", got, want)
	}
	if st := h.p.Compaction(); st.DirtyFrom != 2 {
		t.Fatalf("the next pass maps from %d, want 2", st.DirtyFrom)
	}
	h.update(mark(20)) // 7
	runPass(t, h, 0, 1000)
	want = []string{"1:b=b1", "3:a=a2", "4:c=c2", "5:d=d1", "6:~=end", "7:~=end"}
	if got := readRecords(t, h.p); !slices.Equal(got, want) {
		t.Fatalf("second pass:\n got %q\nwant %q", got, want)
	}
}

// TestCompactionAndOtherCommands: an idempotent producer's retry of a batch
// a pass rewrote is still a duplicate (producer state is not in the
// batches), and DeleteRecords raising the log start into the input while a
// pass runs leaves the batches below it gone after the end.
func TestCompactionAndOtherCommands(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	idemBatch := func(seq int32, recs ...kv) []byte {
		data := keyedBatch(recs...)
		return appendCmd(1, AppendBatch{Data: data, Meta: BatchMeta{
			LastOffsetDelta: int32(len(recs) - 1), MaxTimestamp: recs[len(recs)-1].ts, ProducerID: 7, BaseSequence: seq,
		}})
	}
	first := idemBatch(0, rec("a", "a1", 10), rec("b", "b1", 10))                                                                // 0-1
	h.update(first, keyedAppend(rec("a", "a2", 20)), keyedAppend(rec("c", "c1", 20)), keyedAppend(rec("b", "b2", 20)), mark(20)) // 2, 3, 4, 5
	runPass(t, h, 0, 1000)
	if got := readRecords(t, h.p); !slices.Equal(got, []string{"2:a=a2", "3:c=c1", "4:b=b2", "5:~=end"}) {
		t.Fatalf("after the pass: %q", got)
	}
	if res := h.update(first); ResultStatus(res[0].Data) != StatusDuplicate || res[0].Value != 0 {
		t.Fatalf("retry of a compacted batch: %s at %d, want a duplicate at 0", ResultStatus(res[0].Data), res[0].Value)
	}

	h.update(keyedAppend(rec("c", "c2", 30)), mark(30)) // 6, 7
	res := h.update(EncodeCompactBegin(0, 1000))
	h.update(EncodeDeleteRecords(4))
	h.update(EncodeCompactEnd(res[0].Value))
	if got := readRecords(t, h.p); !slices.Equal(got, []string{"4:b=b2", "5:~=end", "6:c=c2", "7:~=end"}) {
		t.Fatalf("after DeleteRecords during the pass: %q", got)
	}
	if h.p.LogStartOffset() != 4 {
		t.Fatalf("log start %d, want 4", h.p.LogStartOffset())
	}
	h.checkDurable(func(name string, p *Partition) {
		if got := readRecords(t, p); !slices.Equal(got, []string{"4:b=b2", "5:~=end", "6:c=c2", "7:~=end"}) {
			t.Fatalf("%s: %q", name, got)
		}
	})
}

// countingLimiter records what a compaction worker asks the I/O bound for.
type countingLimiter struct {
	mu    sync.Mutex
	bytes int
	calls int
}

func (l *countingLimiter) WaitN(_ context.Context, n int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bytes += n
	l.calls++
	return nil
}

func (l *countingLimiter) Burst() int { return 100 }

// TestCompactionIOBound: with StoreOptions.CompactionBytesPerSec, a worker
// asks the store's limiter for every byte it reads (the new records twice:
// for the key map and to filter them) and writes, in parts no larger than
// the limiter's burst.
func TestCompactionIOBound(t *testing.T) {
	h := newHarness(t, vfs.NewMem())
	l := &countingLimiter{}
	h.store.compactionIO = l
	h.update(keyedAppend(rec("a", "a1", 10), rec("b", "b1", 10)), keyedAppend(rec("a", "a2", 20)), mark(20))
	runPass(t, h, 0, 1000)
	last := h.p.Compaction().Last
	// The key map reads the batches before the input's last one.
	mapped := last.InBytes - int64(len(keyedBatch(rec("~", "end", 20))))
	if want := int(mapped + last.InBytes + last.OutBytes); l.bytes != want {
		t.Fatalf("limiter asked for %d bytes, want %d (map %d + read %d + write %d)", l.bytes, want, mapped, last.InBytes, last.OutBytes)
	}
	if l.calls < l.bytes/100 {
		t.Fatalf("%d calls for %d bytes with a burst of 100", l.calls, l.bytes)
	}
}

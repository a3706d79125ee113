package sharedlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lni/dragonboat/v4/raftio"
	pb "github.com/lni/dragonboat/v4/raftpb"
	"golang.org/x/sys/unix"
)

// model is what a replica's log must hold, kept the simplest way.
type model struct {
	entries     map[uint64]pb.Entry
	compactedTo uint64
	state       pb.State
	snapshot    pb.Snapshot
	boot        *pb.Bootstrap
}

func (m *model) last() uint64 {
	var l uint64
	for i := range m.entries {
		l = max(l, i)
	}
	return l
}

func (m *model) first() uint64 {
	f := uint64(0)
	for i := range m.entries {
		if f == 0 || i < f {
			f = i
		}
	}
	return f
}

// append mirrors Dragonboat's contract: entries from es[0] replace
// everything at and above it; entries below a gap are unreachable.
func (m *model) append(es []pb.Entry) {
	first, last := es[0].Index, m.last()
	for i := range m.entries {
		if i >= first || (first > last+1 && last != 0) {
			delete(m.entries, i)
		}
	}
	for _, e := range es {
		if e.Index > m.compactedTo {
			m.entries[e.Index] = e
		}
	}
}

type harness struct {
	t      *testing.T
	dir    string
	opts   Options
	s      *Store
	rnd    *rand.Rand
	models map[key]*model
	term   uint64
	maxCmd int // entries hold up to this many bytes
}

func newHarness(t *testing.T, seed uint64, opts Options) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), opts: opts, rnd: rand.New(rand.NewPCG(seed, 1)), models: map[key]*model{}, term: 1, maxCmd: 300}
	h.reopen(false)
	t.Cleanup(func() { h.s.Close() })
	return h
}

func (h *harness) reopen(closeFirst bool) {
	h.t.Helper()
	if h.s != nil && closeFirst {
		if err := h.s.Close(); err != nil {
			h.t.Fatal(err)
		}
	}
	h.s = mustOpen(h.t, h.dir, h.opts)
}

// spoilSummaries removes, damages or cuts some of the segments'
// summaries, as a crash or a bad disk might: replay must then read those
// segments instead.
func (h *harness) spoilSummaries() {
	h.t.Helper()
	paths, _ := filepath.Glob(filepath.Join(h.dir, "*"+summarySuffix))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		switch h.rnd.IntN(6) {
		case 0:
			err = os.Remove(p)
		case 1:
			b[h.rnd.IntN(len(b))] ^= 1 << h.rnd.IntN(8)
			err = os.WriteFile(p, b, 0o644)
		case 2:
			err = os.WriteFile(p, b[:h.rnd.IntN(len(b))], 0o644)
		}
		if err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) model(k key) *model {
	m := h.models[k]
	if m == nil {
		m = &model{entries: map[uint64]pb.Entry{}}
		h.models[k] = m
	}
	return m
}

func (h *harness) entries(from uint64, n int) []pb.Entry {
	es := make([]pb.Entry, n)
	for i := range es {
		cmd := make([]byte, h.rnd.IntN(h.maxCmd))
		for j := range cmd {
			cmd[j] = byte(h.rnd.Uint32())
		}
		es[i] = pb.Entry{Index: from + uint64(i), Term: h.term, Cmd: cmd}
	}
	return es
}

// step applies one random operation to the store and the models.
func (h *harness) step(keys []key) {
	h.t.Helper()
	k := keys[h.rnd.IntN(len(keys))]
	m := h.model(k)
	switch op := h.rnd.IntN(100); {
	case op < 50: // a save round over a few replicas
		var ups []pb.Update
		seen := map[key]bool{}
		for range 1 + h.rnd.IntN(4) {
			k := keys[h.rnd.IntN(len(keys))]
			if seen[k] {
				continue
			}
			seen[k] = true
			m := h.model(k)
			u := pb.Update{ShardID: k.shard, ReplicaID: k.replica}
			from := m.last() + 1
			if h.rnd.IntN(10) == 0 && m.last() > m.compactedTo+1 { // a conflicting tail
				h.term++
				from = m.compactedTo + 1 + h.rnd.Uint64N(m.last()-m.compactedTo)
			}
			if h.rnd.IntN(20) == 0 { // a gap: the log continues above a snapshot
				from = m.last() + 2 + h.rnd.Uint64N(5)
			}
			if h.rnd.IntN(4) > 0 {
				u.EntriesToSave = h.entries(from, 1+h.rnd.IntN(5))
			}
			u.State = pb.State{Term: h.term, Vote: 1, Commit: m.last()}
			ups = append(ups, u)
			if len(u.EntriesToSave) > 0 {
				m.append(u.EntriesToSave)
			}
			if !pb.IsEmptyState(u.State) {
				m.state = u.State
			}
		}
		if err := h.s.SaveRaftState(ups, 1); err != nil {
			h.t.Fatal(err)
		}
	case op < 65: // compaction
		if m.last() > m.compactedTo {
			to := m.compactedTo + h.rnd.Uint64N(m.last()-m.compactedTo+1)
			if err := h.s.RemoveEntriesTo(k.shard, k.replica, to); err != nil {
				h.t.Fatal(err)
			}
			if to > m.compactedTo {
				m.compactedTo = to
				for i := range m.entries {
					if i <= to {
						delete(m.entries, i)
					}
				}
			}
		}
	case op < 72: // snapshot metadata
		ss := pb.Snapshot{ShardID: k.shard, Index: m.compactedTo + 1 + h.rnd.Uint64N(10), Term: h.term, Filepath: fmt.Sprint("ss", h.rnd.Uint32())}
		if err := h.s.SaveSnapshots([]pb.Update{{ShardID: k.shard, ReplicaID: k.replica, Snapshot: ss}}); err != nil {
			h.t.Fatal(err)
		}
		if ss.Index >= m.snapshot.Index {
			m.snapshot = ss
		}
	case op < 78:
		bs := pb.Bootstrap{Join: h.rnd.IntN(2) == 0, Type: pb.OnDiskStateMachine}
		if err := h.s.SaveBootstrapInfo(k.shard, k.replica, bs); err != nil {
			h.t.Fatal(err)
		}
		m.boot = &bs
	case op < 80:
		if err := h.s.RemoveNodeData(k.shard, k.replica); err != nil {
			h.t.Fatal(err)
		}
		delete(h.models, k)
	case op < 82:
		ss := pb.Snapshot{ShardID: k.shard, Index: 100 + h.rnd.Uint64N(100), Term: h.term, Type: pb.OnDiskStateMachine}
		if err := h.s.ImportSnapshot(ss, k.replica); err != nil {
			h.t.Fatal(err)
		}
		h.models[k] = &model{
			entries: map[uint64]pb.Entry{}, snapshot: ss,
			state: pb.State{Commit: ss.Index, Term: ss.Term}, boot: &pb.Bootstrap{Join: true, Type: ss.Type},
		}
	}
}

// check compares everything the store answers with the models.
func (h *harness) check(keys []key) {
	h.t.Helper()
	s := h.s
	var want []raftio.NodeInfo
	for _, k := range keys {
		m, ok := h.models[k]
		if !ok {
			m = &model{entries: map[uint64]pb.Entry{}}
		}
		if m.boot != nil {
			want = append(want, raftio.NodeInfo{ShardID: k.shard, ReplicaID: k.replica})
		}
		bs, err := s.GetBootstrapInfo(k.shard, k.replica)
		switch {
		case m.boot == nil && !errors.Is(err, raftio.ErrNoBootstrapInfo):
			h.t.Fatalf("%v: bootstrap %v, %v; want none", k, bs, err)
		case m.boot != nil && (err != nil || bs.Join != m.boot.Join):
			h.t.Fatalf("%v: bootstrap %v, %v; want %v", k, bs, err, m.boot)
		}
		ss, err := s.GetSnapshot(k.shard, k.replica)
		if err != nil || ss.Index != m.snapshot.Index || ss.Filepath != m.snapshot.Filepath {
			h.t.Fatalf("%v: snapshot %d %q, %v; want %d %q", k, ss.Index, ss.Filepath, err, m.snapshot.Index, m.snapshot.Filepath)
		}
		rs, err := s.ReadRaftState(k.shard, k.replica, m.compactedTo)
		if pb.IsEmptyState(m.state) {
			if !errors.Is(err, raftio.ErrNoSavedLog) {
				h.t.Fatalf("%v: state %v, %v; want ErrNoSavedLog", k, rs, err)
			}
		} else if err != nil || rs.State != m.state {
			h.t.Fatalf("%v: state %v, %v; want %v", k, rs.State, err, m.state)
		}
		if first := m.compactedTo + 1; err == nil && m.entries[first].Index == first {
			if rs.FirstIndex != first || rs.EntryCount != m.last()-first+1 {
				h.t.Fatalf("%v: first %d count %d; want %d %d", k, rs.FirstIndex, rs.EntryCount, first, m.last()-first+1)
			}
		}
		if len(m.entries) == 0 {
			continue
		}
		first, last := m.first(), m.last()
		if below := m.compactedTo + 1; below < first { // under a gap: gone
			if got, _, err := s.IterateEntries(nil, 0, k.shard, k.replica, below, first, 0); err != nil || len(got) > 0 {
				h.t.Fatalf("%v: %d entries from %d below the gap under %d, %v", k, len(got), below, first, err)
			}
		}
		got, _, err := s.IterateEntries(nil, 0, k.shard, k.replica, first, last+1, 0)
		if err != nil {
			h.t.Fatal(err)
		}
		if uint64(len(got)) != last-first+1 {
			h.t.Fatalf("%v: %d entries from %d, want %d..%d", k, len(got), first, first, last)
		}
		for _, e := range got {
			w := m.entries[e.Index]
			if e.Term != w.Term || !bytes.Equal(e.Cmd, w.Cmd) {
				h.t.Fatalf("%v: entry %d term %d (%d bytes), want term %d (%d bytes)", k, e.Index, e.Term, len(e.Cmd), w.Term, len(w.Cmd))
			}
		}
		// A bounded read stops right after passing maxSize.
		lo := first + h.rnd.Uint64N(last-first+1)
		got, size, err := s.IterateEntries(nil, 0, k.shard, k.replica, lo, last+1, 1)
		if err != nil || len(got) != 1 || got[0].Index != lo || size != uint64(got[0].SizeUpperLimit()) {
			h.t.Fatalf("%v: bounded read from %d: %d entries, size %d, %v", k, lo, len(got), size, err)
		}
	}
	got, err := s.ListNodeInfo()
	if err != nil {
		h.t.Fatal(err)
	}
	order := func(a, b raftio.NodeInfo) int {
		if a.ShardID != b.ShardID {
			return int(a.ShardID) - int(b.ShardID)
		}
		return int(a.ReplicaID) - int(b.ReplicaID)
	}
	slices.SortFunc(got, order)
	slices.SortFunc(want, order)
	if !slices.Equal(got, want) {
		h.t.Fatalf("ListNodeInfo %v, want %v", got, want)
	}
}

// TestStoreMatchesModel runs random saves, compactions, snapshots,
// removals and imports with tiny segments (so that cleaning runs all the
// time), reopening the store now and then, and checks every answer
// against a model after each step.
func TestStoreMatchesModel(t *testing.T) {
	t.Parallel()
	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			// Half the seeds copy one record per save round, so that
			// cleaning passes span many rounds of other writes.
			relocate := 0
			if seed%2 == 1 {
				relocate = 1
			}
			// Half the seeds write every whole page of a round directly
			// (direct.go), with entries large enough for rounds to hold
			// some, so that replay and cleaning read what direct writes
			// left, mixed with the cached writes around them.
			direct := -1
			if seed%4 < 2 {
				direct = 1
			}
			h := newHarness(t, seed, Options{SegmentBytes: 4 << 10, relocateBytes: relocate, DirectBytes: direct})
			if direct > 0 {
				h.maxCmd = 3000 // rounds that hold whole pages
			}
			var keys []key
			for i := range 8 {
				keys = append(keys, key{shard: uint64(i%4) + 1, replica: uint64(i/4) + 1})
			}
			fromSummaries := 0
			for step := range 3000 {
				h.step(keys)
				h.check(keys)
				if step%400 == 399 {
					h.reopen(step%800 == 399) // every other time without Close, as after a crash
					h.check(keys)
					fromSummaries += h.s.fromSummaries
					h.spoilSummaries()
				}
			}
			st := h.s.Stats()
			if st.CleanedSegments == 0 || st.DeletedSegments == 0 || fromSummaries == 0 {
				t.Fatalf("cleaning never ran, or replay never read a summary (%d): %+v", fromSummaries, st)
			}
			if direct > 0 && directSupported(t, h.dir) && st.DirectBytes == 0 {
				t.Fatalf("no direct writes: %+v", st)
			}
			t.Logf("%+v", st)
		})
	}
}

// TestTornTailIsCut checks that a partial record at the end of the newest
// segment (a write cut short by a crash) is dropped on open and appends
// continue after it, and that damage in a sealed segment is reported
// instead.
func TestTornTailIsCut(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1 << 10}
	s := mustOpen(t, dir, opts)
	save(t, s, 1, entry(1, bytes.Repeat([]byte("a"), 2<<10))) // fills segment 1: the next save goes to segment 2
	save(t, s, 1, entry(2, []byte("acknowledged")))
	if s.cur.num != 2 {
		t.Fatalf("writing segment %d, want 2", s.cur.num)
	}
	cur := s.cur.path
	s.Close()
	full, err := os.ReadFile(cur)
	if err != nil {
		t.Fatal(err)
	}
	// A third record, cut off part way.
	torn := appendRecord(nil, 2, &record{kind: kindUpdate, shard: 1, replica: 1, gen: 1, update: pb.Update{ShardID: 1, ReplicaID: 1, EntriesToSave: []pb.Entry{{Index: 3, Term: 1, Cmd: []byte("never acknowledged")}}}})
	if err := os.WriteFile(cur, append(full, torn[:len(torn)-3]...), 0o644); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, opts)
	if fi, _ := os.Stat(cur); fi.Size() != int64(len(full)) {
		t.Fatalf("torn tail not cut: %d bytes, want %d", fi.Size(), len(full))
	}
	save(t, s, 1, entry(3, []byte("after the restart")))
	s.Close()
	s = mustOpen(t, dir, opts)
	got, _, err := s.IterateEntries(nil, 0, 1, 1, 2, 4, 0)
	if err != nil || len(got) != 2 || string(got[0].Cmd) != "acknowledged" || string(got[1].Cmd) != "after the restart" {
		t.Fatalf("after a torn tail and a restart: %v, %v", got, err)
	}
	s.Close()

	// Damage in a segment that is not the newest is corruption: found
	// when the record is read if replay went by the segment's summary,
	// and by replay itself if it has to read the segment.
	first := filepath.Join(dir, fmt.Sprintf("%020d%s", 1, segmentSuffix))
	b, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	b[100] ^= 0xff // in entry 1's payload
	if err := os.WriteFile(first, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, opts)
	if s.fromSummaries != 1 {
		t.Fatalf("replay read %d segments by their summaries, want 1", s.fromSummaries)
	}
	if _, _, err := s.IterateEntries(nil, 0, 1, 1, 1, 2, 0); err == nil || !errors.Is(err, errCorrupt) {
		t.Fatalf("reading a damaged record: %v", err)
	}
	s.Close()
	if err := os.Remove(strings.TrimSuffix(first, segmentSuffix) + summarySuffix); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, opts); err == nil || !strings.Contains(err.Error(), "sealed segment") {
		t.Fatalf("a damaged sealed segment without a summary opened with %v", err)
	}
}

// TestIdleReplicasDoNotPinSegments is the property tan's multiplexed mode
// lacks: replicas that wrote once and went quiet, and a trickle replica
// that never compacts, must not keep the busy replica's old segments on
// disk.
func TestIdleReplicasDoNotPinSegments(t *testing.T) {
	t.Parallel()
	const segBytes = 256 << 10
	s, err := Open(t.TempDir(), Options{SegmentBytes: segBytes})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd := bytes.Repeat([]byte("x"), 4<<10)
	for shard := uint64(2); shard <= 100; shard++ {
		save(t, s, shard, entry(1, cmd)) // idle from now on
	}
	trickle := uint64(0)
	for i := uint64(1); i <= 20000; i++ { // 80 MB through a busy replica
		save(t, s, 1, entry(i, cmd))
		if i%64 == 0 {
			if err := s.RemoveEntriesTo(1, 1, i-32); err != nil {
				t.Fatal(err)
			}
		}
		if i%500 == 0 {
			trickle++
			save(t, s, 101, entry(trickle, cmd))
		}
	}
	st := s.Stats()
	// Live: 100 idle entries + 40 trickle entries + ≤ 64 busy ones, ~0.8 MB.
	if st.Bytes > 8*segBytes {
		t.Fatalf("%d bytes in %d segments after 80 MB through a log whose live part is under 1 MB: %+v", st.Bytes, st.Segments, st)
	}
	for shard := uint64(2); shard <= 100; shard++ {
		got, _, err := s.IterateEntries(nil, 0, shard, 1, 1, 2, 0)
		if err != nil || len(got) != 1 || !bytes.Equal(got[0].Cmd, cmd) {
			t.Fatalf("idle shard %d lost its entry: %v %v", shard, len(got), err)
		}
	}
	got, _, err := s.IterateEntries(nil, 0, 101, 1, 1, trickle+1, 0)
	if err != nil || uint64(len(got)) != trickle {
		t.Fatalf("trickle replica: %d entries of %d, %v", len(got), trickle, err)
	}
	// Deleted segments take their summaries with them.
	summaries, _ := filepath.Glob(filepath.Join(s.dir, "*"+summarySuffix))
	for _, p := range summaries {
		if _, err := os.Stat(strings.TrimSuffix(p, summarySuffix) + segmentSuffix); err != nil {
			t.Fatalf("summary %s outlived its segment: %v", p, err)
		}
	}
	if len(summaries) != st.Segments-1 { // every sealed segment has one
		t.Fatalf("%d summaries for %d segments", len(summaries), st.Segments)
	}
	// Deleted segments' files are written over again, not made anew.
	recycled, _ := filepath.Glob(filepath.Join(s.dir, "*"+recycleSuffix))
	if st.DeletedSegments < 10 || len(recycled)+len(s.recycled) == 0 || s.cur.num > 400 {
		t.Fatalf("%d recycled files on disk; %+v", len(recycled), st)
	}
	t.Logf("%+v", st)
}

// TestRelocationHidesReplacedEntries covers the case replay gets wrong
// without the bounds cleaning writes: entries 1..10 in one segment, 6..8
// replaced in the next, and that next segment cleaned away. After a
// restart the old 9 and 10 must stay replaced.
func TestRelocationHidesReplacedEntries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := Options{SegmentBytes: 16 << 10}
	s := mustOpen(t, dir, opts)
	ents := func(from, to, term uint64, size int) []pb.Entry {
		var es []pb.Entry
		for i := from; i <= to; i++ {
			es = append(es, pb.Entry{Index: i, Term: term, Cmd: bytes.Repeat([]byte{byte(term)}, size)})
		}
		return es
	}
	save(t, s, 1, ents(1, 10, 1, 1<<10)...) // segment 1, mostly live to the end
	var n uint64
	for s.cur.num == 1 {
		filler(t, s, &n)
	}
	save(t, s, 1, ents(6, 8, 2, 10)...) // segment 2: replaces 6.. and drops 9, 10
	for s.cur.num == 2 {
		filler(t, s, &n)
	}
	for s.cur.num == 3 { // the next rotation cleans segment 2 away
		filler(t, s, &n)
	}
	if _, err := os.Stat(s.segmentPath(2)); !os.IsNotExist(err) {
		t.Fatalf("segment 2 was not cleaned (%v); the test no longer covers its case", err)
	}
	if _, err := os.Stat(s.segmentPath(1)); err != nil {
		t.Fatalf("segment 1 was cleaned too (%v); the test no longer covers its case", err)
	}
	s.Close()
	s = mustOpen(t, dir, opts)
	defer s.Close()
	rs, err := s.ReadRaftState(1, 1, 0)
	if err != nil || rs.FirstIndex != 1 || rs.EntryCount != 8 {
		t.Fatalf("after restart: %+v, %v; want entries 1..8", rs, err)
	}
	got, _, err := s.IterateEntries(nil, 0, 1, 1, 1, 11, 0)
	if err != nil || len(got) != 8 || got[4].Term != 1 || got[5].Term != 2 || got[7].Term != 2 {
		t.Fatalf("after restart: %d entries, %v", len(got), err)
	}
}

// TestRemovedReplicaStaysRemoved: a removed replica's old records can
// outlive the segment that says it was removed; the removal must be copied
// forward with the segment's live part, or a restart brings it back.
func TestRemovedReplicaStaysRemoved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := Options{SegmentBytes: 16 << 10}
	s := mustOpen(t, dir, opts)
	save(t, s, 3, entry(1, make([]byte, 10<<10))) // keeps segment 1 from being cleaned
	if err := s.SaveBootstrapInfo(1, 1, pb.Bootstrap{Type: pb.OnDiskStateMachine}); err != nil {
		t.Fatal(err)
	}
	save(t, s, 1, entry(1, make([]byte, 4<<10)))
	var n uint64
	for s.cur.num == 1 {
		filler(t, s, &n)
	}
	if err := s.RemoveNodeData(1, 1); err != nil {
		t.Fatal(err)
	}
	for s.cur.num <= 3 {
		filler(t, s, &n)
	}
	if _, err := os.Stat(s.segmentPath(2)); !os.IsNotExist(err) {
		t.Fatalf("segment 2 was not cleaned (%v); the test no longer covers its case", err)
	}
	if _, err := os.Stat(s.segmentPath(1)); err != nil {
		t.Fatalf("segment 1 was cleaned (%v); the test no longer covers its case", err)
	}
	s.Close()
	s = mustOpen(t, dir, opts)
	defer s.Close()
	nodes, _ := s.ListNodeInfo()
	if len(nodes) != 0 {
		t.Fatalf("after restart, replicas with bootstrap info: %v; want none", nodes)
	}
	if _, err := s.ReadRaftState(1, 1, 0); !errors.Is(err, raftio.ErrNoSavedLog) {
		t.Fatalf("removed replica's state after restart: %v", err)
	}
}

// FuzzReplay opens a store whose only segment holds the fuzzer's bytes,
// either raw or framed as one record with a valid checksum (so that the
// decoders behind the checksum are reached), and reads back whatever the
// replay found. Nothing may panic or allocate without bound; damage is an
// error or a cut tail.
// FuzzSummary decodes the fuzzer's bytes as a segment's summary, either
// raw or with a valid trailer (so that the decoders behind the checksum are
// reached). Nothing may panic; a summary that decodes must describe
// records inside the segment with consistent entry ranges.
func FuzzSummary(f *testing.F) {
	var seed []byte
	off := int64(0)
	for _, r := range fuzzSeedRecords() {
		seed = appendSummary(seed, &r, loc{off: off, size: 64})
		off += 64
	}
	f.Add(seed, true)
	f.Add(sealSummary(seed, 7, off), false)
	f.Fuzz(func(t *testing.T, data []byte, seal bool) {
		if seal {
			data = sealSummary(slices.Clip(data), 7, 1<<20)
		}
		var bad []string
		size, err := decodeSummary(data, 7, func(rec *record, at loc) {
			if first, last, n := rec.span(); at.off < 0 || at.size <= 0 || n > 0 && last-first+1 != n {
				bad = append(bad, fmt.Sprintf("%+v at %+v", *rec, at))
			} else if at.off+at.size > 1<<20 {
				bad = append(bad, fmt.Sprintf("%+v at %+v, past the segment's end", *rec, at))
			}
		})
		if err == nil && (len(bad) > 0 || size != 1<<20 && seal) {
			t.Fatalf("decoded %d bytes: %v", size, bad)
		}
	})
}

// fuzzSeedRecords is one record of every kind, as the store writes them.
func fuzzSeedRecords() []record {
	return []record{
		{kind: kindBootstrap, shard: 1, replica: 1, gen: 1, boot: pb.Bootstrap{Join: true, Type: pb.OnDiskStateMachine}},
		{kind: kindUpdate, shard: 1, replica: 1, gen: 1, update: pb.Update{
			ShardID: 1, ReplicaID: 1, State: pb.State{Term: 2, Vote: 1, Commit: 3},
			EntriesToSave: []pb.Entry{{Index: 1, Term: 2, Cmd: []byte("one")}, {Index: 2, Term: 2, Type: pb.ConfigChangeEntry}},
			Snapshot:      pb.Snapshot{Index: 1, Term: 1, Filepath: "ss", Membership: pb.Membership{Addresses: map[uint64]string{1: "a:1"}}},
		}},
		{kind: kindRelocate, shard: 1, replica: 1, gen: 1, update: pb.Update{ShardID: 1, ReplicaID: 1, EntriesToSave: []pb.Entry{{Index: 1, Term: 2}}}},
		{kind: kindCompact, shard: 1, replica: 1, gen: 1, a: 1},
		{kind: kindBounds, shard: 1, replica: 1, gen: 1, a: 1, b: 2},
		{kind: kindRemove, shard: 2, replica: 1, gen: 3},
	}
}

func FuzzReplay(f *testing.F) {
	// Seeds: every record kind, as the store writes them.
	var seed []byte
	for _, r := range fuzzSeedRecords() {
		one := appendRecord(nil, 1, &r)
		seed = append(seed, one...)
		f.Add(one[headerSize:], true)
	}
	f.Add(seed, false)
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 1}, false)
	f.Fuzz(func(t *testing.T, data []byte, framed bool) {
		if framed {
			if len(data) == 0 {
				return
			}
			rec := make([]byte, headerSize, headerSize+len(data))
			rec = append(rec, data...)
			binary.LittleEndian.PutUint32(rec, uint32(len(data)))
			binary.LittleEndian.PutUint32(rec[8:], 1) // segment 1's
			binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(rec[8:], crcTable))
			data = rec
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d%s", 1, segmentSuffix)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{})
		if err != nil {
			return
		}
		defer s.Close()
		nodes, _ := s.ListNodeInfo()
		for k, r := range s.mu.replicas {
			_, _ = s.ReadRaftState(k.shard, k.replica, 0)
			_, _ = s.GetSnapshot(k.shard, k.replica)
			if first, last := r.bounds(); first > 0 && last-first < 1000 {
				_, _, _ = s.IterateEntries(nil, 0, k.shard, k.replica, first, last+1, 0)
			}
		}
		_ = nodes
		// The store stays writable after whatever it replayed.
		up := pb.Update{ShardID: 9, ReplicaID: 9, State: pb.State{Term: 1}, EntriesToSave: []pb.Entry{{Index: 1, Term: 1}}}
		if err := s.SaveRaftState([]pb.Update{up}, 1); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRecordOfAnotherSegmentIsRejected: a recycled file still holds the
// records of its previous life, checksums intact; only the segment number
// in each header tells them apart from new ones.
func TestRecordOfAnotherSegmentIsRejected(t *testing.T) {
	t.Parallel()
	b := appendRecord(nil, 5, &record{kind: kindCompact, shard: 1, replica: 1, gen: 1, a: 7})
	if n, err := recordSize(b, 5); err != nil || n != len(b) {
		t.Fatalf("own segment: %d, %v", n, err)
	}
	if _, err := recordSize(b, 6); err == nil {
		t.Fatal("a record of segment 5 was accepted in segment 6")
	}
}

// save saves entries (and a state at the first of them) for replica 1 of
// shard, as one Dragonboat save round.
func save(t testing.TB, s *Store, shard uint64, es ...pb.Entry) {
	t.Helper()
	up := pb.Update{ShardID: shard, ReplicaID: 1, State: pb.State{Term: es[0].Term, Commit: es[0].Index}, EntriesToSave: es}
	if err := s.SaveRaftState([]pb.Update{up}, 1); err != nil {
		t.Fatal(err)
	}
}

// entry is entry index of term 1 holding cmd.
func entry(index uint64, cmd []byte) pb.Entry { return pb.Entry{Index: index, Term: 1, Cmd: cmd} }

// filler saves 6 KiB for replica 1 of shard 2 and compacts it at once:
// dead weight that fills segments. n counts the entries so far.
func filler(t testing.TB, s *Store, n *uint64) {
	t.Helper()
	*n++
	save(t, s, 2, entry(*n, make([]byte, 6<<10)))
	if err := s.RemoveEntriesTo(2, 1, *n); err != nil {
		t.Fatal(err)
	}
}

func mustOpen(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCleaningIsSpreadOverRounds: a victim's live part is copied forward a
// slice per save round, not all at once in the round that fills a segment
// (which held every replica's saves for up to half a second under load),
// and the segment goes once the last slice is durable.
func TestCleaningIsSpreadOverRounds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const slice = 16 << 10
	opts := Options{SegmentBytes: 256 << 10, relocateBytes: slice}
	s := mustOpen(t, dir, opts)
	idle := bytes.Repeat([]byte("i"), 4<<10)
	for shard := uint64(2); shard <= 13; shard++ { // ~48 KiB that stays live in segment 1
		save(t, s, shard, entry(1, idle))
	}
	busy := bytes.Repeat([]byte("b"), 8<<10)
	var rounds int
	var moved, largest int64
	for i := uint64(1); s.Stats().CleanedSegments == 0; i++ {
		if i > 2000 {
			t.Fatalf("segment 1 was never cleaned: %+v", s.Stats())
		}
		save(t, s, 1, entry(i, busy))
		if err := s.RemoveEntriesTo(1, 1, i); err != nil { // the busy replica keeps nothing
			t.Fatal(err)
		}
		if d := s.Stats().RelocatedBytes - moved; d > 0 {
			rounds++
			largest = max(largest, d)
			moved += d
		}
	}
	// A slice stops at the first copy that takes it past the budget; one
	// copy here is an idle replica's entry (a relocated record) and its Raft
	// state (a small update record), with their headers.
	if rounds < 3 || largest > slice+int64(len(idle))+512 {
		t.Fatalf("%d bytes copied in %d rounds, the largest %d; want ≥ 3 rounds of at most ~%d", moved, rounds, largest, slice)
	}
	if _, err := os.Stat(s.segmentPath(1)); !os.IsNotExist(err) {
		t.Fatalf("segment 1 is still there (%v)", err)
	}
	s.Close()
	s = mustOpen(t, dir, opts)
	defer s.Close()
	for shard := uint64(2); shard <= 13; shard++ {
		got, _, err := s.IterateEntries(nil, 0, shard, 1, 1, 2, 0)
		if err != nil || len(got) != 1 || !bytes.Equal(got[0].Cmd, idle) {
			t.Fatalf("idle shard %d after cleaning and a restart: %d entries, %v", shard, len(got), err)
		}
	}
}

// TestUnchangedStateIsNotWritten: Dragonboat hands SaveRaftState an update
// for every replica that stepped, most with an empty State (unchanged), no
// entries and no snapshot. Those write nothing; a commit index alone is
// written but not synced; entries and a new term are synced. (Empty states
// used to be written and synced: an idle 3-broker cluster fdatasynced
// ~450 times a second per broker.)
func TestUnchangedStateIsNotWritten(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, t.TempDir(), Options{})
	defer s.Close()
	save(t, s, 1, entry(1, []byte("a")))
	before := s.Stats()
	round := func(ups ...pb.Update) Stats {
		t.Helper()
		if err := s.SaveRaftState(ups, 1); err != nil {
			t.Fatal(err)
		}
		return s.Stats()
	}
	if st := round(pb.Update{ShardID: 1, ReplicaID: 1}, pb.Update{ShardID: 7, ReplicaID: 1}); st.Bytes != before.Bytes || st.Syncs != before.Syncs {
		t.Fatalf("updates with nothing to persist: %d → %d bytes, %d → %d syncs", before.Bytes, st.Bytes, before.Syncs, st.Syncs)
	}
	if st := round(pb.Update{ShardID: 1, ReplicaID: 1, State: pb.State{Term: 1, Commit: 1}}); st.Bytes != before.Bytes {
		t.Fatalf("an unchanged state was written: %d → %d bytes", before.Bytes, st.Bytes)
	}
	st := round(pb.Update{ShardID: 1, ReplicaID: 1, State: pb.State{Term: 1, Commit: 2}})
	if st.Bytes == before.Bytes || st.Syncs != before.Syncs {
		t.Fatalf("a commit index alone: %d → %d bytes (want more), %d → %d syncs (want none)", before.Bytes, st.Bytes, before.Syncs, st.Syncs)
	}
	if st2 := round(pb.Update{ShardID: 1, ReplicaID: 1, State: pb.State{Term: 2, Vote: 3, Commit: 2}}); st2.Syncs != st.Syncs+1 {
		t.Fatalf("a new term: %d → %d syncs, want one", st.Syncs, st2.Syncs)
	}
	// A round with nothing to persist does not wait for the write lock,
	// which another round holds through its write and fdatasync.
	s.wmu.Lock()
	done := make(chan error, 1)
	go func() { done <- s.SaveRaftState([]pb.Update{{ShardID: 1, ReplicaID: 1}}, 1) }()
	select {
	case err := <-done:
		s.wmu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		s.wmu.Unlock()
		t.Fatal("a round with nothing to persist waited for the write lock")
	}
	s.Close()
	r := mustOpen(t, s.dir, Options{})
	defer r.Close()
	rs, err := r.ReadRaftState(1, 1, 0)
	if err != nil || rs.State.Term != 2 || rs.State.Vote != 3 || rs.State.Commit != 2 {
		t.Fatalf("state after reopening: %+v, %v; want term 2, vote 3, commit 2", rs.State, err)
	}
}

// directSupported reports whether dir's file system takes O_DIRECT.
func directSupported(t testing.TB, dir string) bool {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "direct-probe"), os.O_CREATE|os.O_WRONLY|unix.O_DIRECT, 0o644)
	if err != nil {
		t.Logf("no O_DIRECT here: %v", err)
		return false
	}
	defer os.Remove(f.Name())
	buf := alignedBytes(pageSize)
	_, err = f.WriteAt(buf, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Logf("no O_DIRECT here: %v", err)
	}
	return err == nil
}

// TestDirectWritesReadBack saves rounds of every shape around the direct
// threshold and the page boundaries (a round below the threshold, one
// that starts mid-page with a head, whole pages and a tail, one that is
// only whole pages) and reads every entry back, from the running store
// and after a reopen without Close (as after a crash: replay reads the
// newest segment from the disk, not a cache of it).
func TestDirectWritesReadBack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := Options{SegmentBytes: 8 << 20}
	s := mustOpen(t, dir, opts)
	rnd := rand.New(rand.NewPCG(7, 7))
	var want []pb.Entry
	for i, size := range []int{100, 70 << 10, 1<<20 + 123, 5, 3 << 20, DefaultDirectBytes - 200, DefaultDirectBytes, 200 << 10} {
		cmd := make([]byte, size)
		for j := range cmd {
			cmd[j] = byte(rnd.Uint32())
		}
		e := entry(uint64(i+1), cmd)
		save(t, s, 1, e)
		want = append(want, e)
	}
	if directSupported(t, dir) {
		if st := s.Stats(); st.DirectBytes < 4<<20 {
			t.Fatalf("%d bytes written directly, want the whole pages of the large rounds: %+v", st.DirectBytes, st)
		}
	}
	check := func(s *Store) {
		t.Helper()
		got, _, err := s.IterateEntries(nil, 0, 1, 1, 1, uint64(len(want)+1), math.MaxUint64)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("read %d entries, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i].Index != want[i].Index || !bytes.Equal(got[i].Cmd, want[i].Cmd) {
				t.Fatalf("entry %d: index %d, %d bytes, differs from what was saved", i, got[i].Index, len(got[i].Cmd))
			}
		}
	}
	check(s)
	reopened := mustOpen(t, dir, opts) // s is not closed first: as after a crash
	t.Cleanup(func() { reopened.Close(); s.Close() })
	check(reopened)
}

// TestDirectWriteFailureFallsBack: a direct write that fails (here the
// direct descriptor is read-only; on a real disk a file system that takes
// O_DIRECT at open but refuses the writes) is written through the page
// cache instead, the round succeeds, direct writes stay off with a warning,
// and the entries read back after a reopen.
func TestDirectWriteFailureFallsBack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var logged bytes.Buffer
	opts := Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))}
	s := mustOpen(t, dir, opts)
	ro, err := os.Open(s.cur.path)
	if err != nil {
		t.Fatal(err)
	}
	s.wmu.Lock()
	if s.direct != nil {
		s.direct.Close()
	}
	s.direct = ro
	s.wmu.Unlock()
	cmd := make([]byte, 1<<20)
	for i := range cmd {
		cmd[i] = byte(i * 7)
	}
	save(t, s, 1, entry(1, cmd))
	save(t, s, 1, entry(2, cmd[:300<<10]))
	if st := s.Stats(); st.DirectBytes != 0 || !s.noDirect || s.direct != nil {
		t.Fatalf("direct writes still on after a failure: %d bytes, noDirect %v", st.DirectBytes, s.noDirect)
	}
	if !strings.Contains(logged.String(), "direct I/O unavailable") {
		t.Fatalf("no warning logged: %q", logged.String())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, Options{})
	defer s.Close()
	got, _, err := s.IterateEntries(nil, 0, 1, 1, 1, 3, math.MaxUint64)
	if err != nil || len(got) != 2 || !bytes.Equal(got[0].Cmd, cmd) || !bytes.Equal(got[1].Cmd, cmd[:300<<10]) {
		t.Fatalf("entries after the fallback: %d, %v", len(got), err)
	}
}

package partition

import (
	"math/rand/v2"
	"testing"
)

// TestLogCompactionDue: snapshots by size come every SnapshotBytes applied
// from the start; they compact only once KeepBytes has been applied, to
// rising indexes, keeping between KeepBytes and KeepBytes + SnapshotBytes +
// one sample's growth of log behind the applied point; the marks stay few.
func TestLogCompactionDue(t *testing.T) {
	c := LogCompaction{SnapshotBytes: 100, KeepBytes: 350}
	var (
		l       replicaLog
		index   uint64 = 1000 // the state machine opened here
		bytes   int64
		at      = map[uint64]int64{index: 0} // applied bytes at each index
		lastTo  uint64
		lastDue int64
		dues    int
		first   int64 = -1 // applied bytes at the first snapshot
	)
	rng := rand.New(rand.NewPCG(1, 2))
	for step := 0; step < 5000; step++ {
		// Between two samples: 0 to 4 entries of 1 to 20 bytes.
		for n := rng.IntN(5); n > 0; n-- {
			index++
			bytes += 1 + rng.Int64N(20)
			at[index] = bytes
		}
		to, ok := l.due(c, index, bytes, 1<<40)
		if !ok {
			continue
		}
		dues++
		if lastDue > 0 && bytes-lastDue < c.SnapshotBytes {
			t.Fatalf("step %d: due %d bytes after the last, want ≥ %d", step, bytes-lastDue, c.SnapshotBytes)
		}
		lastDue = bytes
		if first < 0 {
			first = bytes
		}
		if to == 0 { // a snapshot that compacts nothing
			if lastTo > 0 && bytes-at[lastTo] >= c.KeepBytes+c.SnapshotBytes+4*20 {
				t.Fatalf("step %d: no compaction with %d bytes of log kept", step, bytes-at[lastTo])
			}
			continue
		}
		if bytes < c.KeepBytes {
			t.Fatalf("step %d: compaction due after %d bytes, before KeepBytes %d", step, bytes, c.KeepBytes)
		}
		if to <= lastTo || to > index {
			t.Fatalf("step %d: compact to %d after %d (applied %d)", step, to, lastTo, index)
		}
		if kept := bytes - at[to]; kept < c.KeepBytes || kept > c.KeepBytes+c.SnapshotBytes+4*20 {
			t.Fatalf("step %d: keeps %d bytes of log, want %d to %d", step, kept, c.KeepBytes, c.KeepBytes+c.SnapshotBytes+80)
		}
		if n := len(l.marks); n > int(c.KeepBytes/c.SnapshotBytes)+2 {
			t.Fatalf("step %d: %d marks kept", step, n)
		}
		lastTo = to
	}
	// ~5000 × 2 entries × 10.5 bytes: a snapshot per ~100 bytes from the
	// first 100 on, whether or not it can compact.
	if first < c.SnapshotBytes || first >= c.KeepBytes {
		t.Fatalf("first snapshot after %d bytes, want one between %d and the first compaction (%d)", first, c.SnapshotBytes, c.KeepBytes)
	}
	if want := int(bytes/c.SnapshotBytes) * 2 / 3; dues < want {
		t.Fatalf("%d snapshots for %d bytes, want ≥ %d", dues, bytes, want)
	}
}

// TestLogCompactionKeepsNoMoreThanStored: a partition that stores less than
// KeepBytes (retention deleted the rest) keeps only about what it stores.
func TestLogCompactionKeepsNoMoreThanStored(t *testing.T) {
	c := LogCompaction{SnapshotBytes: 100, KeepBytes: 10_000}
	var l replicaLog
	const stored = 250
	var (
		index uint64
		bytes int64
		at    = map[uint64]int64{0: 0}
		dues  int
	)
	for step := 0; step < 200; step++ {
		index++
		bytes += 10
		at[index] = bytes
		to, ok := l.due(c, index, bytes, stored)
		if !ok || to == 0 {
			continue
		}
		dues++
		if kept := bytes - at[to]; kept < stored || kept > stored+c.SnapshotBytes {
			t.Fatalf("step %d: keeps %d bytes of log with %d stored", step, kept, stored)
		}
	}
	if dues < 10 {
		t.Fatalf("%d compactions over %d bytes", dues, bytes)
	}
}

// TestLogCompactionByEntries: with small entries a snapshot comes every
// SnapshotEntries applied and compacts to KeepEntries behind, whatever the
// bytes; the marks stay few; with no trigger by bytes the bytes set no
// target (KeepBytes 0 would otherwise compact to the last snapshot, further
// than KeepEntries back); and when both apply the further target wins.
func TestLogCompactionByEntries(t *testing.T) {
	for _, c := range []LogCompaction{
		{SnapshotEntries: 100, KeepEntries: 30, SnapshotBytes: 1 << 40, KeepBytes: 1 << 40},
		{SnapshotEntries: 100, KeepEntries: 250},
	} {
		var (
			l       replicaLog
			index   uint64 = 500 // the state machine opened here
			bytes   int64
			last    = index
			lastTo  uint64
			dues    int
			maxMark int
		)
		for step := 0; step < 3000; step++ {
			index += 1 + uint64(step%7)
			bytes += 3
			to, ok := l.due(c, index, bytes, 1<<40)
			maxMark = max(maxMark, len(l.marks))
			if !ok {
				if index-last >= c.SnapshotEntries+7 && step > 0 {
					t.Fatalf("%+v step %d: no snapshot %d entries after the last", c, step, index-last)
				}
				continue
			}
			dues++
			if index-last < c.SnapshotEntries {
				t.Fatalf("%+v step %d: snapshot %d entries after the last, want ≥ %d", c, step, index-last, c.SnapshotEntries)
			}
			last = index
			if to != index-c.KeepEntries || to <= lastTo {
				t.Fatalf("%+v step %d: compact to %d at %d (last %d), want %d", c, step, to, index, lastTo, index-c.KeepEntries)
			}
			lastTo = to
		}
		if dues < 100 || maxMark > int(c.KeepEntries/c.SnapshotEntries)+2 {
			t.Fatalf("%+v: %d snapshots, up to %d marks", c, dues, maxMark)
		}
	}

	// Large entries: the bytes compact further than the entry count.
	c := LogCompaction{SnapshotEntries: 10, KeepEntries: 5, SnapshotBytes: 1000, KeepBytes: 1000}
	var l replicaLog
	var index uint64
	var bytes int64
	for range 50 {
		index++
		bytes += 600 // one entry is more than half of KeepBytes
		if to, ok := l.due(c, index, bytes, 1<<40); ok && to > 0 && index-to > 2 {
			t.Fatalf("at %d compacted to %d: keeps more than the bytes ask", index, to)
		}
	}
}

package sharedlog

import (
	"slices"
	"sort"

	pb "github.com/lni/dragonboat/v4/raftpb"
)

// loc is where a record is: segment number, offset and size (header
// included).
type loc struct {
	seg  uint64
	off  int64
	size int64
}

func (l loc) empty() bool { return l.size == 0 }

// run is a range of a replica's entries, first..last, held by the record at
// at; the record holds recN entries in all (some of them may be outside the
// run: replaced, compacted or moved since).
type run struct {
	first, last uint64
	at          loc
	recN        uint64
}

// replica is the index of one replica: everything its live records hold
// that Dragonboat may ask for, and where each item is on disk. Items of a
// replica are changed only by apply, both when a record is written and when
// it is replayed, so the index after a restart is the one before it.
type replica struct {
	gen uint64

	boot   pb.Bootstrap
	bootAt loc

	state   pb.State
	stateAt loc

	snapshot pb.Snapshot
	snapAt   loc

	// compactedTo is the highest index removed (only as far as records
	// still on disk say: entries below the bounds are gone either way).
	compactedTo uint64

	removed   bool
	removedAt loc

	runs []run // ascending, not overlapping
}

func (r *replica) reset(gen uint64) { *r = replica{gen: gen} }

func (r *replica) lastIndex() uint64 {
	if len(r.runs) == 0 {
		return 0
	}
	return r.runs[len(r.runs)-1].last
}

// apply changes the index for rec, which is (or will be, once written) at
// at. It returns false for a record of an older generation.
func (r *replica) apply(rec *record, at loc) bool {
	switch {
	case rec.gen < r.gen:
		return false
	case rec.gen > r.gen:
		r.reset(rec.gen)
	}
	if rec.kind != kindRemove {
		r.removed, r.removedAt = false, loc{}
	}
	switch rec.kind {
	case kindUpdate:
		u := &rec.update
		if rec.a > 0 {
			r.dropBelow(rec.a)
		}
		if first, last, n := rec.span(); n > 0 {
			r.truncateFrom(first)
			r.set(first, last, at, n)
		}
		if !pb.IsEmptySnapshot(u.Snapshot) && u.Snapshot.Index >= r.snapshot.Index {
			r.snapshot, r.snapAt = u.Snapshot, at
		}
		if !pb.IsEmptyState(u.State) {
			r.state, r.stateAt = u.State, at
		}
	case kindRelocate:
		if first, last, n := rec.span(); n > 0 {
			r.set(first, last, at, n)
		}
	case kindBootstrap:
		r.boot, r.bootAt = rec.boot, at
	case kindCompact:
		r.compactedTo = max(r.compactedTo, rec.a)
		r.dropBelow(r.compactedTo + 1)
	case kindBounds:
		if rec.a == 0 {
			r.runs = nil
		} else {
			r.dropBelow(rec.a)
			r.truncateFrom(rec.b + 1)
		}
	case kindRemove:
		r.reset(rec.gen)
		r.removed, r.removedAt = true, at
	}
	return true
}

// truncateFrom drops the entries at and above index.
func (r *replica) truncateFrom(index uint64) {
	i := sort.Search(len(r.runs), func(i int) bool { return r.runs[i].last >= index })
	if i < len(r.runs) && r.runs[i].first < index {
		r.runs[i].last = index - 1
		i++
	}
	r.runs = r.runs[:i]
}

// dropBelow drops the entries below index.
func (r *replica) dropBelow(index uint64) {
	i := sort.Search(len(r.runs), func(i int) bool { return r.runs[i].last >= index })
	r.runs = r.runs[i:]
	if len(r.runs) > 0 && r.runs[0].first < index {
		r.runs[0].first = index
	}
}

// gapBelow returns the first index of entries saved from first on when
// they leave a gap above the replica's log (so that the log below can be
// dropped), else 0.
func (r *replica) gapBelow(first uint64) uint64 {
	if len(r.runs) > 0 && first > r.lastIndex()+1 {
		return first
	}
	return 0
}

// bounds returns the replica's first and last live index (0, 0: none).
func (r *replica) bounds() (uint64, uint64) {
	if len(r.runs) == 0 {
		return 0, 0
	}
	return r.runs[0].first, r.lastIndex()
}

// set records that first..last are in the record at at (which holds recN
// entries), replacing whatever held them; entries already compacted are
// left out.
func (r *replica) set(first, last uint64, at loc, recN uint64) {
	first = max(first, r.compactedTo+1)
	if first > last {
		return
	}
	nr := run{first: first, last: last, at: at, recN: recN}
	// Runs wholly before and after the new one stay; the ones overlapping it
	// keep their parts outside it.
	lo := sort.Search(len(r.runs), func(i int) bool { return r.runs[i].last >= first })
	hi := sort.Search(len(r.runs), func(i int) bool { return r.runs[i].first > last })
	var mid []run
	if lo < hi {
		if a := r.runs[lo]; a.first < first {
			a.last = first - 1
			mid = append(mid, a)
		}
		mid = append(mid, nr)
		if b := r.runs[hi-1]; b.last > last {
			b.first = last + 1
			mid = append(mid, b)
		}
	} else {
		mid = []run{nr}
	}
	r.runs = slices.Replace(r.runs, lo, hi, mid...)
}

// find returns the position of the run holding index, or -1.
func (r *replica) find(index uint64) int {
	i := sort.Search(len(r.runs), func(i int) bool { return r.runs[i].last >= index })
	if i < len(r.runs) && r.runs[i].first <= index {
		return i
	}
	return -1
}

// pointBytes is what keeping a replica's state, snapshot or bootstrap
// info costs a segment being cleaned: a small record of its
// own, whatever else shared the record it is in.
const pointBytes = 512

// liveBytes adds to live what each segment would have to rewrite if it
// were cleaned, and returns whether the replica still needs anything (a
// removed replica's marker is needed only while older segments exist).
func (r *replica) liveBytes(live map[uint64]int64, oldest uint64) bool {
	if r.removed {
		if r.removedAt.seg > oldest {
			live[r.removedAt.seg] += pointBytes
			return true
		}
		return false
	}
	for _, at := range []loc{r.bootAt, r.stateAt, r.snapAt} {
		if !at.empty() {
			live[at.seg] += min(at.size, pointBytes)
		}
	}
	for _, rn := range r.runs {
		live[rn.at.seg] += max(1, rn.at.size*int64(rn.last-rn.first+1)/int64(rn.recN))
	}
	return true
}

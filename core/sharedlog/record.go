package sharedlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"

	pb "github.com/lni/dragonboat/v4/raftpb"
)

// A record is one replica's change, the unit written to a segment:
//
//	length  uint32  bytes after the 12-byte header
//	crc     uint32  CRC-32C of seg and those bytes
//	seg     uint32  the segment's number (low 32 bits)
//	kind    byte
//	shard, replica, gen, a, b  uvarints
//	body    pb.Update (kindUpdate, kindRelocate) or pb.Bootstrap (kindBootstrap)
//
// gen is the replica's generation: removing a replica or importing a
// snapshot into it starts a new one, and replay drops whatever an older
// generation left (so those records never need rewriting). seg makes the
// records a recycled segment file held before invalid in its new life.
type kind byte

const (
	// kindUpdate saves Raft state, entries (replacing any at and above the
	// first one) and snapshot metadata, as Dragonboat's SaveRaftState does.
	// a, when not 0, drops the entries below it: the log continued above a
	// gap (a follower that received a snapshot), so they can never be read.
	kindUpdate kind = 1 + iota
	// kindBootstrap saves the replica's bootstrap info.
	kindBootstrap
	// kindCompact marks the entries up to a as removed.
	kindCompact
	// kindRemove removes the replica.
	kindRemove
	// kindRelocate is a copy of live entries moved out of a segment being
	// cleaned. Unlike kindUpdate it replaces only its own indexes.
	kindRelocate
	// kindBounds says the replica's live entries are a..b (none when a is
	// 0). Cleaning writes one for every replica before it deletes a
	// segment: the records that replaced or dropped entries may be in the
	// segments it deletes, and without them replay would bring back the
	// stale entries older segments still hold. Replay before the last
	// bounds may lack entries that were copied forward later, which is why
	// no record's effect is inferred from the replayed state.
	kindBounds
	// kindSeal ends a segment: written and made durable before the next
	// one starts. A sealed segment without it is damaged; anything after
	// it is what a recycled file held before.
	kindSeal
)

const headerSize = 12

// maxRecordSize bounds a record read back from disk, so a corrupt length
// cannot make replay allocate gigabytes.
const maxRecordSize = 1 << 30

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt reports a record whose length or checksum is wrong.
var errCorrupt = errors.New("sharedlog: corrupt record")

type record struct {
	kind    kind
	shard   uint64
	replica uint64
	gen     uint64
	a, b    uint64
	update  pb.Update    // kindUpdate, kindRelocate
	boot    pb.Bootstrap // kindBootstrap
	// first, last and n describe the entries of a record read from a
	// segment's summary, which has no entries (summary.go).
	first, last, n uint64
}

// span returns the first and last index of the entries the record holds
// and their count (0 when none).
func (r *record) span() (first, last, n uint64) {
	if es := r.update.EntriesToSave; len(es) > 0 {
		return es[0].Index, es[len(es)-1].Index, uint64(len(es))
	}
	return r.first, r.last, r.n
}

// maxEncodedSize bounds the size appendRecord gives r.
func maxEncodedSize(r *record) int {
	bodyMax := 0
	switch r.kind {
	case kindUpdate, kindRelocate:
		bodyMax = r.update.SizeUpperLimit()
	case kindBootstrap:
		bodyMax = r.boot.Size()
	}
	return headerSize + 1 + 5*binary.MaxVarintLen64 + bodyMax
}

// appendRecord encodes r, for segment seg, at the end of buf.
func appendRecord(buf []byte, seg uint64, r *record) []byte {
	start := len(buf)
	need := maxEncodedSize(r)
	buf = slices.Grow(buf, need)[:start+need]
	b := buf[start : start+need]
	n := headerSize
	b[n] = byte(r.kind)
	n++
	n += binary.PutUvarint(b[n:], r.shard)
	n += binary.PutUvarint(b[n:], r.replica)
	n += binary.PutUvarint(b[n:], r.gen)
	n += binary.PutUvarint(b[n:], r.a)
	n += binary.PutUvarint(b[n:], r.b)
	switch r.kind {
	case kindUpdate, kindRelocate:
		m, err := r.update.MarshalTo(b[n:])
		if err != nil {
			panic(fmt.Sprintf("sharedlog: encoding an update: %v", err))
		}
		n += m
	case kindBootstrap:
		m, err := r.boot.MarshalTo(b[n:])
		if err != nil {
			panic(fmt.Sprintf("sharedlog: encoding bootstrap info: %v", err))
		}
		n += m
	}
	binary.LittleEndian.PutUint32(b[0:], uint32(n-headerSize))
	binary.LittleEndian.PutUint32(b[8:], uint32(seg))
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(b[8:n], crcTable))
	return buf[:start+n]
}

// recordSize returns the size of the record of segment seg at the start of
// b (header included), or errCorrupt when b holds no complete, intact
// record of that segment.
func recordSize(b []byte, seg uint64) (int, error) {
	if len(b) < headerSize {
		return 0, errCorrupt
	}
	n := binary.LittleEndian.Uint32(b)
	if n == 0 || n > maxRecordSize || int(n) > len(b)-headerSize || binary.LittleEndian.Uint32(b[8:]) != uint32(seg) {
		return 0, errCorrupt
	}
	if crc32.Checksum(b[8:headerSize+int(n)], crcTable) != binary.LittleEndian.Uint32(b[4:]) {
		return 0, errCorrupt
	}
	return headerSize + int(n), nil
}

// decodeRecord decodes a record whose size and checksum recordSize checked.
func decodeRecord(b []byte) (r record, err error) {
	p := b[headerSize:]
	r.kind = kind(p[0])
	p = p[1:]
	for _, v := range []*uint64{&r.shard, &r.replica, &r.gen, &r.a, &r.b} {
		x, m := binary.Uvarint(p)
		if m <= 0 {
			return r, errCorrupt
		}
		*v, p = x, p[m:]
	}
	// Dragonboat's generated decoders index without every bounds check;
	// the checksum has vouched for the bytes, but a bug must not take the
	// process down.
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: %v", errCorrupt, v)
		}
	}()
	switch r.kind {
	case kindUpdate, kindRelocate:
		r.update, err = decodeUpdate(p)
	case kindBootstrap:
		err = r.boot.Unmarshal(p)
	case kindCompact, kindRemove, kindBounds, kindSeal:
	default:
		err = fmt.Errorf("%w: unknown kind %d", errCorrupt, r.kind)
	}
	return r, err
}

// decodeUpdate reads what pb.Update.MarshalTo wrote: shard and replica
// (uvarints), a flag and length-prefixed State, an entry count and each
// entry length-prefixed, a flag and length-prefixed Snapshot. Unlike
// pb.Update.Unmarshal it checks every length against the bytes there are,
// so a damaged count cannot make it allocate gigabytes.
func decodeUpdate(p []byte) (u pb.Update, err error) {
	var m int
	if u.ShardID, m = binary.Uvarint(p); m <= 0 {
		return u, errCorrupt
	}
	p = p[m:]
	if u.ReplicaID, m = binary.Uvarint(p); m <= 0 {
		return u, errCorrupt
	}
	p = p[m:]
	var part []byte
	next := func() bool { // a uint32 length, then that many bytes
		if len(p) < 4 {
			return false
		}
		n := binary.LittleEndian.Uint32(p)
		if uint64(n) > uint64(len(p)-4) {
			return false
		}
		part, p = p[4:4+n], p[4+n:]
		return true
	}
	flag := func() (bool, bool) {
		if len(p) == 0 || p[0] > 1 {
			return false, false
		}
		f := p[0] == 1
		p = p[1:]
		return f, true
	}
	has, ok := flag()
	if !ok || has && (!next() || u.State.Unmarshal(part) != nil) {
		return u, errCorrupt
	}
	if len(p) < 4 {
		return u, errCorrupt
	}
	count := binary.LittleEndian.Uint32(p)
	p = p[4:]
	if uint64(count) > uint64(len(p)/4) { // each entry has a 4-byte length at least
		return u, errCorrupt
	}
	if count > 0 {
		u.EntriesToSave = make([]pb.Entry, count)
	}
	for i := range u.EntriesToSave {
		if !next() || u.EntriesToSave[i].Unmarshal(part) != nil {
			return u, errCorrupt
		}
	}
	if has, ok = flag(); !ok || has && (!next() || u.Snapshot.Unmarshal(part) != nil) {
		return u, errCorrupt
	}
	return u, nil
}

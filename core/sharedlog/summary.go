package sharedlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"strings"

	pb "github.com/lni/dragonboat/v4/raftpb"
)

// A segment's summary (<num>.index, written when the segment is sealed) is
// what replay needs of each of its records: where it is and what apply
// does with it, without the entries' payloads. Replay reads a sealed
// segment's summary instead of the segment, so a start reads the newest
// segment and a few bytes per record of the others, rather than the whole
// log (which grows with what the replicas keep: tens of GiB at 64 busy
// partitions).
//
// The summary is derived data, written without fdatasync: one that is
// missing, torn or damaged (its checksum fails) is ignored and the segment
// read instead. What replay then no longer does for a sealed segment with
// a summary is check every record's checksum: damage there is found when
// the record is read, as with Dragonboat's tan.
//
// Layout: the records' summaries, then a 24-byte trailer: the segment
// number and its sealed size (uint64s), the CRC-32C of everything before
// it (uint32) and summaryMagic. A record's summary is its offset and size,
// kind, shard, replica, gen, a and b (uvarints), then for an update or a
// relocation the entry count and, when there are entries, the first and
// last index (uvarints), followed (updates only) by the State and Snapshot,
// each a flag byte and, when set, a uvarint length and the marshalled
// message; for bootstrap info a uvarint length and the marshalled
// pb.Bootstrap.

const (
	summarySuffix  = ".index"
	summaryMagic   = 0x494c5343 // "CSLI"
	summaryTrailer = 24
)

func (s *Store) summaryPath(num uint64) string {
	return strings.TrimSuffix(s.segmentPath(num), segmentSuffix) + summarySuffix
}

// appendSummary adds rec, at at, to a segment's summary.
func appendSummary(buf []byte, rec *record, at loc) []byte {
	buf = binary.AppendUvarint(buf, uint64(at.off))
	buf = binary.AppendUvarint(buf, uint64(at.size))
	buf = append(buf, byte(rec.kind))
	for _, v := range []uint64{rec.shard, rec.replica, rec.gen, rec.a, rec.b} {
		buf = binary.AppendUvarint(buf, v)
	}
	type message interface {
		Size() int
		MarshalTo([]byte) (int, error)
	}
	appendMessage := func(buf []byte, m message) []byte {
		n := m.Size()
		buf = binary.AppendUvarint(buf, uint64(n))
		start := len(buf)
		buf = append(buf, make([]byte, n)...)
		if _, err := m.MarshalTo(buf[start:]); err != nil {
			panic(fmt.Sprintf("sharedlog: encoding a summary: %v", err))
		}
		return buf
	}
	switch rec.kind {
	case kindUpdate, kindRelocate:
		first, last, n := rec.span()
		buf = binary.AppendUvarint(buf, n)
		if n > 0 {
			buf = binary.AppendUvarint(buf, first)
			buf = binary.AppendUvarint(buf, last)
		}
		if rec.kind == kindRelocate {
			break
		}
		u := &rec.update
		if pb.IsEmptyState(u.State) {
			buf = append(buf, 0)
		} else {
			buf = appendMessage(append(buf, 1), &u.State)
		}
		if pb.IsEmptySnapshot(u.Snapshot) {
			buf = append(buf, 0)
		} else {
			buf = appendMessage(append(buf, 1), &u.Snapshot)
		}
	case kindBootstrap:
		buf = appendMessage(buf, &rec.boot)
	}
	return buf
}

// sealSummary appends the trailer of segment num, sealed at size.
func sealSummary(buf []byte, num uint64, size int64) []byte {
	buf = binary.LittleEndian.AppendUint64(buf, num)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(size))
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, crcTable))
	return binary.LittleEndian.AppendUint32(buf, summaryMagic)
}

var errNoSummary = errors.New("sharedlog: no usable summary")

// decodeSummary calls fn with each record a summary of segment num lists
// (the record is reused) and returns the segment's sealed size, or
// errNoSummary for anything else (a torn or damaged file, or one of another
// segment), possibly after some calls: decode once with a fn that does
// nothing to check a summary before applying it.
func decodeSummary(b []byte, num uint64, fn func(*record, loc)) (int64, error) {
	if len(b) < summaryTrailer {
		return 0, errNoSummary
	}
	t := b[len(b)-summaryTrailer:]
	body := b[:len(b)-summaryTrailer]
	if binary.LittleEndian.Uint32(t[20:]) != summaryMagic || binary.LittleEndian.Uint64(t) != num ||
		crc32.Checksum(b[:len(b)-8], crcTable) != binary.LittleEndian.Uint32(t[16:]) {
		return 0, errNoSummary
	}
	size := binary.LittleEndian.Uint64(t[8:])
	if size > 1<<62 {
		return 0, errNoSummary
	}
	d := summaryDecoder{p: body}
	var sr struct {
		rec record
		at  loc
	}
	for len(d.p) > 0 && d.err == nil {
		sr.rec = record{}
		sr.at.seg = num
		sr.at.off, sr.at.size = int64(d.uvarint()), int64(d.uvarint())
		sr.rec.kind = kind(d.byte())
		for _, v := range []*uint64{&sr.rec.shard, &sr.rec.replica, &sr.rec.gen, &sr.rec.a, &sr.rec.b} {
			*v = d.uvarint()
		}
		if sr.at.off < 0 || sr.at.size <= 0 || sr.at.off > int64(size)-sr.at.size {
			return 0, errNoSummary
		}
		switch sr.rec.kind {
		case kindUpdate, kindRelocate:
			if sr.rec.n = d.uvarint(); sr.rec.n > 0 {
				sr.rec.first, sr.rec.last = d.uvarint(), d.uvarint()
				if sr.rec.last < sr.rec.first || sr.rec.last-sr.rec.first != sr.rec.n-1 {
					return 0, errNoSummary
				}
			}
			if sr.rec.kind == kindUpdate {
				d.message(&sr.rec.update.State)
				d.message(&sr.rec.update.Snapshot)
			}
		case kindBootstrap:
			d.unmarshal(&sr.rec.boot, d.bytes())
		case kindCompact, kindRemove, kindBounds:
		default:
			return 0, errNoSummary
		}
		if d.err == nil {
			fn(&sr.rec, sr.at)
		}
	}
	if d.err != nil {
		return 0, errNoSummary
	}
	return int64(size), nil
}

// summaryDecoder reads a summary's fields; the first failure sticks.
type summaryDecoder struct {
	p   []byte
	err error
}

func (d *summaryDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.err = errNoSummary
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *summaryDecoder) byte() byte {
	if d.err != nil || len(d.p) == 0 {
		d.err = errNoSummary
		return 0
	}
	b := d.p[0]
	d.p = d.p[1:]
	return b
}

func (d *summaryDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.p)) {
		d.err = errNoSummary
		return nil
	}
	b := d.p[:n]
	d.p = d.p[n:]
	return b
}

// message reads a flag byte and, when it is set, a length-prefixed m.
func (d *summaryDecoder) message(m interface{ Unmarshal([]byte) error }) {
	switch d.byte() {
	case 0:
	case 1:
		d.unmarshal(m, d.bytes())
	default:
		d.err = errNoSummary
	}
}

// unmarshal decodes b into m. Dragonboat's generated decoders index
// without every bounds check; the checksum vouched for the bytes, but a
// bug must not take the process down.
func (d *summaryDecoder) unmarshal(m interface{ Unmarshal([]byte) error }, b []byte) {
	if d.err != nil {
		return
	}
	defer func() {
		if recover() != nil {
			d.err = errNoSummary
		}
	}()
	if m.Unmarshal(b) != nil {
		d.err = errNoSummary
	}
}

// replaySummary applies what the summary of segment seg lists and
// returns the segment's sealed size, if it has a usable summary and the
// segment file is as long as the summary says; else it applies nothing.
func (s *Store) replaySummary(seg *segment, apply func(*record, loc)) (int64, bool, error) {
	b, err := os.ReadFile(s.summaryPath(seg.num))
	if err != nil {
		return 0, false, nil
	}
	size, err := decodeSummary(b, seg.num, func(*record, loc) {})
	if err != nil {
		return 0, false, nil
	}
	if fi, err := seg.f.Stat(); err != nil || fi.Size() < size {
		return 0, false, nil
	}
	if _, err := decodeSummary(b, seg.num, apply); err != nil { // the same bytes: cannot happen
		return 0, false, fmt.Errorf("sharedlog: the summary of %s decoded once and then not", seg.path)
	}
	return size, true, nil
}

// noteSummaryLocked adds a record just written to the current segment's
// summary, giving the summary up once it is half the segment's size
// (reading the segment is then about as quick).
func (s *Store) noteSummaryLocked(rec *record, at loc) {
	if s.summaryLost {
		return
	}
	s.summary = appendSummary(s.summary, rec, at)
	if int64(len(s.summary)) > s.opts.SegmentBytes/2 {
		s.summary, s.summaryLost = nil, true
	}
}

// writeSummaryLocked writes the summary of the current segment, just
// sealed at s.off, and starts the next one's. A failure only costs the
// next start reading the segment.
func (s *Store) writeSummaryLocked() {
	defer func() { s.summary, s.summaryLost = s.summary[:0], false }()
	if s.summaryLost {
		return
	}
	s.summary = sealSummary(s.summary, s.cur.num, s.off)
	path := s.summaryPath(s.cur.num)
	if err := os.WriteFile(path, s.summary, 0o644); err != nil {
		_ = os.Remove(path)
	}
}

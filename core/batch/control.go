package batch

import (
	"encoding/binary"
	"hash/crc32"
)

// ControlSize is the size of a transaction marker batch.
const ControlSize = HeaderSize + 17

// AppendControl appends a transaction marker: a control batch of one
// record whose key is (version 0, type 0 abort or 1 commit) and whose value
// is (version 0, coordinatorEpoch), as Kafka writes it at the end of a
// transaction. Its base offset and partition leader epoch are left zero for
// the log to fill in (the CRC covers neither).
func AppendControl(dst []byte, producerID int64, producerEpoch int16, commit bool, coordinatorEpoch int32, timestamp int64) []byte {
	at := len(dst)
	dst = append(dst, make([]byte, ControlSize)...)
	b := dst[at:]
	binary.BigEndian.PutUint32(b[8:], ControlSize-logOverhead)
	b[magicOffset] = 2
	binary.BigEndian.PutUint16(b[21:], attrTransactional|attrControl)
	// lastOffsetDelta 0 at 23
	binary.BigEndian.PutUint64(b[27:], uint64(timestamp))
	binary.BigEndian.PutUint64(b[35:], uint64(timestamp))
	binary.BigEndian.PutUint64(b[43:], uint64(producerID))
	binary.BigEndian.PutUint16(b[51:], uint16(producerEpoch))
	binary.BigEndian.PutUint32(b[53:], noSequence&0xffffffff)
	binary.BigEndian.PutUint32(b[57:], 1)
	r := b[HeaderSize:]
	// length 16 (zigzag 32), attributes, timestampDelta 0, offsetDelta 0,
	// key length 4 (zigzag 8), key, value length 6 (zigzag 12), value,
	// no headers.
	r[0], r[1], r[2], r[3], r[4] = 32, 0, 0, 0, 8
	if commit {
		r[8] = 1 // key: version 0 (5-6), type (7-8)
	}
	r[9] = 12
	binary.BigEndian.PutUint32(r[12:], uint32(coordinatorEpoch)) // value: version 0 (10-11), epoch
	binary.BigEndian.PutUint32(b[crcOffset:], crc32.Checksum(b[crcStart:], castagnoli))
	return dst
}

// ControlType reads a control batch's marker: commit is true for a commit
// marker; ok is false when b is not a control batch of one record with
// a marker key.
func ControlType(b []byte) (commit, ok bool) {
	if len(b) < ControlSize || binary.BigEndian.Uint16(b[21:])&attrControl == 0 ||
		binary.BigEndian.Uint32(b[57:]) != 1 || b[HeaderSize+4] != 8 {
		return false, false
	}
	switch binary.BigEndian.Uint16(b[HeaderSize+7:]) {
	case 0:
		return false, true
	case 1:
		return true, true
	}
	return false, false
}

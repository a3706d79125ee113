package raftsm

import (
	"encoding/binary"
	"errors"
	"math"
)

// errShortCommand reports a command or stored value that ends early.
var errShortCommand = errors.New("raftsm: truncated encoding")

// enc appends fixed-width big-endian and varint-prefixed fields.
type enc struct{ b []byte }

func (e *enc) u8(v byte)        { e.b = append(e.b, v) }
func (e *enc) i16(v int16)      { e.b = binary.BigEndian.AppendUint16(e.b, uint16(v)) }
func (e *enc) i32(v int32)      { e.b = binary.BigEndian.AppendUint32(e.b, uint32(v)) }
func (e *enc) u64(v uint64)     { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *enc) i64(v int64)      { e.u64(uint64(v)) }
func (e *enc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) bytes(v []byte)   { e.uvarint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) str(v string)     { e.uvarint(uint64(len(v))); e.b = append(e.b, v...) }

// dec reads what enc wrote. The first failure sticks in err and every later
// read returns zero values, so callers check err once at the end.
type dec struct {
	b   []byte
	err error
}

func (d *dec) need(n int) bool {
	if d.err != nil {
		return false
	}
	if len(d.b) < n {
		d.err = errShortCommand
		return false
	}
	return true
}

func (d *dec) u8() byte {
	if !d.need(1) {
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *dec) i16() int16 {
	if !d.need(2) {
		return 0
	}
	v := binary.BigEndian.Uint16(d.b)
	d.b = d.b[2:]
	return int16(v)
}

func (d *dec) i32() int32 {
	if !d.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return int32(v)
}

func (d *dec) u64() uint64 {
	if !d.need(8) {
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *dec) i64() int64 { return int64(d.u64()) }

func (d *dec) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShortCommand
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes returns a sub-slice of the input (no copy).
func (d *dec) bytes() []byte {
	n := d.uvarint()
	if n > math.MaxInt32 || !d.need(int(n)) {
		d.err = errShortCommand
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) str() string { return string(d.bytes()) }

// orderedTS maps an int64 timestamp to a uint64 whose big-endian bytes sort
// in timestamp order (negative timestamps first).
func orderedTS(ts int64) uint64 { return uint64(ts) ^ (1 << 63) }

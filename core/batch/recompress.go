package batch

import "encoding/binary"

// Recompress appends to dst batch b (exactly one v2 batch) with its records
// compressed with codec instead, as Kafka does for a topic whose
// compression.type names a codec: the same header fields but the codec
// bits of the attributes, a new Length and CRC, and the records' bytes
// unchanged. A batch already in codec is appended as it is. Like Filter it
// checks b's CRC first (ErrCorrupt) and fails on malformed records; on
// error out is dst.
func Recompress(dst, b []byte, codec Codec) ([]byte, error) {
	h, err := parseChecked(b)
	if err != nil {
		return dst, err
	}
	if h.Compression() == codec {
		return append(dst, b...), nil
	}
	data := b[HeaderSize:]
	if c := h.Compression(); c != CodecNone {
		buf := getBuffer()
		defer putBuffer(buf)
		if data, err = decompress(c, data, (*buf)[:0]); err != nil {
			return dst, err
		}
		*buf = data
	}
	// The records must parse before they are given a valid CRC again.
	if err := walkRecords(h, data, func(Record, []byte) error { return nil }); err != nil {
		return dst, err
	}
	var hdr [HeaderSize]byte
	copy(hdr[:], b[:HeaderSize])
	attrs := binary.BigEndian.Uint16(hdr[crcStart:])
	binary.BigEndian.PutUint16(hdr[crcStart:], attrs&^attrCodecMask|uint16(codec))
	return appendBatch(dst, hdr[:], codec, data, int(h.NumRecords))
}

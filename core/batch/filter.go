package batch

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Header fields Filter rewrites.
const (
	lengthOffset = 8
	countOffset  = 57
)

// Filter returns batch b (exactly one v2 batch) with only the records keep
// returns true for, appended to dst, as Kafka's log cleaner rewrites a batch
// during compaction. The new batch has the same header fields (BaseOffset,
// PartitionLeaderEpoch, Magic, Attributes including the codec, timestamp
// type, transactional and control bits, LastOffsetDelta, FirstTimestamp,
// MaxTimestamp, ProducerID, ProducerEpoch, BaseSequence), a new record
// count, Length and CRC, and the kept records' bytes copied verbatim: each
// record keeps its offsetDelta and timestampDelta, so offsets and timestamps
// are unchanged, and the batch still spans the offsets it spanned even when
// its first or last records are gone. A compressed batch is recompressed
// with its own codec (snappy as one raw block, whatever framing it came in).
//
// keep sees each Record as Records gives it (Offset and Timestamp computed);
// its slices are only valid during the call. kept is the number of records
// kept, total the number in b.
//
//   - When every record is kept, out is dst with b appended unchanged (no
//     recompression).
//   - When none is kept, out is dst and kept is 0: the caller drops the
//     batch.
//   - An empty batch (total 0) counts as fully kept and is appended
//     unchanged: Filter removes records, never a batch that has none, since
//     Kafka writes those on purpose to keep a producer's state.
//
// Filter checks b's CRC first (ErrCorrupt), so that it never gives a
// corrupt batch a valid CRC, then fails like Records on malformed or
// oversized records. On error out is dst. Filter may write in dst's spare
// capacity even when it returns dst.
func Filter(dst, b []byte, keep func(r Record) bool) (out []byte, kept, total int, err error) {
	h, err := parseChecked(b)
	if err != nil {
		return dst, 0, 0, err
	}
	total = int(h.NumRecords)
	codec := h.Compression()
	data := b[HeaderSize:]
	if codec != CodecNone {
		buf := getBuffer()
		defer putBuffer(buf)
		if data, err = decompress(codec, data, (*buf)[:0]); err != nil {
			return dst, 0, total, err
		}
		*buf = data
	}
	scratch := getBuffer()
	defer putBuffer(scratch)
	raw, kept, err := keepRecords(h, data, keep, (*scratch)[:0])
	*scratch = raw
	switch {
	case err != nil:
		return dst, 0, total, err
	case kept == total: // also an empty batch
		return append(dst, b...), kept, total, nil
	case kept == 0:
		return dst, 0, total, nil
	}
	out, err = appendBatch(dst, b[:HeaderSize], codec, raw, kept)
	if err != nil {
		return dst, 0, total, err
	}
	return out, kept, total, nil
}

// parseChecked is parseOne plus the CRC check Records skips.
func parseChecked(b []byte) (Header, error) {
	h, err := parseOne(b)
	if err != nil {
		return Header{}, err
	}
	if sum := crc32.Checksum(b[crcStart:], castagnoli); sum != h.CRC {
		return Header{}, fmt.Errorf("%w: header says %#08x, computed %#08x", ErrCorrupt, h.CRC, sum)
	}
	return h, nil
}

// keepRecords appends to dst the encoding of each record of data, the
// uncompressed records section of batch h, that keep accepts, and counts
// them. The walk checks the records as Records does. On error the returned
// slice is still dst's buffer, so that the caller can pool it.
func keepRecords(h Header, data []byte, keep func(Record) bool, dst []byte) ([]byte, int, error) {
	kept := 0
	err := walkRecords(h, data, func(r Record, raw []byte) error {
		if keep(r) {
			dst = append(dst, raw...)
			kept++
		}
		return nil
	})
	return dst, kept, err
}

// appendBatch appends to dst a batch made of hdr, the original batch's
// header, and raw, the encoding of its n kept records, compressed with
// codec; then it sets the batch's length, record count and CRC. The length
// fits an int32: raw is smaller than the original records section, which
// is bounded by its batch's length or by MaxDecompressedBytes.
func appendBatch(dst, hdr []byte, codec Codec, raw []byte, n int) ([]byte, error) {
	start := len(dst)
	out, err := compress(codec, raw, append(dst, hdr...))
	if err != nil {
		return dst, err
	}
	nb := out[start:]
	binary.BigEndian.PutUint32(nb[lengthOffset:], uint32(len(nb)-logOverhead))
	binary.BigEndian.PutUint32(nb[countOffset:], uint32(n))
	binary.BigEndian.PutUint32(nb[crcOffset:], crc32.Checksum(nb[crcStart:], castagnoli))
	return out, nil
}

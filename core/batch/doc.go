// Package batch parses and validates Kafka RecordBatch v2 (magic 2), the
// only message format Chronik stores.
//
// It owns four jobs:
//
//   - The produce hot path: Split walks the Records field of one partition of
//     a Produce request and Validate checks each batch (framing, magic,
//     CRC-32C, record count against lastOffsetDelta, size limit, and for
//     uncompressed batches the framing of every record). Neither allocates
//     nor decompresses: Chronik stores a producer's bytes exactly as sent.
//   - In-place rewrites of the two header fields the CRC does not cover:
//     SetBaseOffset and SetPartitionLeaderEpoch.
//   - Reading records back for the few broker paths that must look inside a
//     batch (ListOffsets by timestamp through FirstAtOrAfter, and Records),
//     decompressing gzip, snappy (raw block or xerial framing), lz4 (frame
//     format) and zstd with a bound on the decompressed size.
//   - Compaction's rewrite of a batch: Filter keeps the records a predicate
//     selects, byte for byte, under the original header (so the offset
//     range stays whole) and recompresses them with the batch's codec.
//
// Wire layout of a v2 batch (big endian, offsets in bytes):
//
//	 0 baseOffset           int64   rewritten by the broker
//	 8 batchLength          int32   bytes after this field
//	12 partitionLeaderEpoch int32   rewritten by the broker
//	16 magic                int8    2
//	17 crc                  uint32  CRC-32C of bytes 21..end
//	21 attributes           int16   codec (bits 0-2), timestamp type (3),
//	                                transactional (4), control (5)
//	23 lastOffsetDelta      int32
//	27 firstTimestamp       int64
//	35 maxTimestamp         int64
//	43 producerId           int64
//	51 producerEpoch        int16
//	53 baseSequence         int32
//	57 records count        int32
//	61 records              (compressed as a whole when codec != 0)
package batch

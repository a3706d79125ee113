// Package segment owns the object format of a tiered segment: a contiguous
// offset range of one Kafka partition, uploaded to the object store as one
// immutable object. Writer streams an object out of RecordBatch v2 batches;
// ParseFooter, ParseIndex, VerifyChunk and Batches read one back through
// ranged GETs, verifying every byte they hand out.
//
// # Layout
//
// Objects are stored forever and read by every later version of Chronik, so
// this layout never changes in place: a change takes a new format version,
// and readers keep reading the earlier ones (1 and 2 now). All integers are
// big-endian.
//
//	object = data | offset index | time index | aborted transactions | footer
//
// data is the batches, concatenated in offset order exactly as the Writer
// received them (Kafka RecordBatch v2, baseOffset and partitionLeaderEpoch
// already final). It is cut, at batch boundaries, into chunks: a chunk closes
// once it holds at least the configured chunk size (a batch bigger than that
// is a chunk of its own), or before a batch that would take it past
// 4 GiB − 1; the last chunk holds the rest. A chunk is the unit a reader
// fetches and verifies on its own.
//
// The offset index starts at the index position (= the data length) and has
// one 32-byte entry per chunk, in order:
//
//	off size field
//	  0    8 base offset   int64   first offset of the chunk's first batch
//	  8    8 last offset   int64   last offset of the chunk's last batch
//	 16    8 position      uint64  of the chunk's first byte in the object
//	 24    4 length        uint32  of the chunk in bytes
//	 28    4 crc           uint32  CRC-32C (Castagnoli) of the chunk's bytes
//
// The time index follows, one 16-byte entry per chunk, in the same order:
//
//	off size field
//	  0    8 max timestamp int64   largest batch maxTimestamp in this chunk
//	                               and every chunk before it (non-decreasing)
//	  8    8 offset        int64   the chunk's base offset
//
// The aborted transactions (version 2 only) follow, one 24-byte entry per
// transaction of the partition's aborted index whose records overlap the
// object (its marker at or after the base offset, its first batch before
// the end offset), in marker offset order, so that a partition restored
// from the objects alone still hides them from read_committed consumers:
//
//	off size field
//	  0    8 producer ID   int64
//	  8    8 first offset  int64   of its first batch; may precede the base offset
//	 16    8 marker offset int64   of its abort marker; may follow the end offset
//
// An object without aborted transactions is version 1, and has none of
// these bytes (every object written before version 2 existed is one).
//
// The footer closes the object; it is FooterSize (80) bytes:
//
//	off size field
//	  0    8 magic         "CHRNKSEG"
//	  8    2 version       uint16  1, or 2 with aborted transactions
//	 10    2 aborted count uint16  0 in version 1 (reserved), at least 1 in version 2
//	 12    4 chunk count   uint32  at least 1
//	 16    8 base offset   int64   first offset of the first batch
//	 24    8 end offset    int64   last offset of the last batch + 1
//	 32    8 data length   uint64
//	 40    8 index pos     uint64  = data length
//	 48    8 record count  int64   sum of the batches' recordCount
//	 56    8 batch count   int64
//	 64    8 max timestamp int64   largest batch maxTimestamp
//	 72    4 index crc     uint32  CRC-32C of offset index ‖ time index ‖ aborted transactions
//	 76    4 footer crc    uint32  CRC-32C of footer bytes 0–75
//
// Chunks are in ascending offset order and do not overlap. The Writer never
// leaves a gap between two batches; readers nevertheless accept gaps between
// chunks, so that a later writer may tier compacted partitions in this same
// format.
//
// # Reading
//
// A reader that knows the object size fetches the last FooterSize bytes and
// calls ParseFooter, which gives the index position; one more ranged GET of
// everything from there to the end goes to ParseIndex (a reader that kept
// Info.IndexPos from the upload skips the first GET). ChunkFor and
// ChunkForTime pick the chunk to fetch; VerifyChunk checks it against its
// index entry and Batches walks the batches in it.
//
// A Writer is not safe for concurrent use. An Index is immutable once
// parsed, and any number of goroutines may use it at once.
package segment

package raftsm

import (
	"encoding/binary"
	"fmt"
)

// commandVersion is the first byte of every proposal. A state machine that
// meets a version it does not know rejects the command (a result, not an
// error), so a mixed-version cluster fails requests rather than the process.
const commandVersion = 1

// Command types. Values are stable: they are stored in Raft logs.
// Ranges: 1–15 partition and meta commands (this file, admin.go,
// tiered.go and restore.go),
// 16–31 coordinator-shard commands (coordinator.go 16–20, transactions in
// txncoord.go 21–24), 32–47 cluster
// commands on the meta shard (leaders.go).
const (
	cmdAppend           byte = 1 // partition: append record batches
	cmdCreateTopic      byte = 2 // meta
	cmdDeleteTopic      byte = 3 // meta
	cmdAllocProducerIDs byte = 4 // meta
)

// Status is the outcome code a state machine reports in Result.Data[0].
// Results without Data are StatusOK.
type Status byte

// Statuses. Values are stable (they are part of replicated results).
// Ranges: 0–15 here, 16–31 admin commands, 32–63 coordinator commands.
const (
	StatusOK                Status = 0
	StatusDuplicate         Status = 1 // idempotent retry; Value is the original base offset
	StatusOutOfOrder        Status = 2
	StatusFencedEpoch       Status = 3
	StatusMalformed         Status = 4 // undecodable command
	StatusTopicExists       Status = 5
	StatusUnknownTopic      Status = 6
	StatusUnsupportedCmd    Status = 7
	StatusUnknownProducerID Status = 8
	// StatusTxnNotVerified: the batches would open a transaction of a
	// producer for which a marker applied after the leader looked (txn.go,
	// txnVerified); the producer retries.
	StatusTxnNotVerified Status = 9
)

// statusData holds one shared, read-only Result.Data slice per status so
// rejecting a command allocates nothing.
var statusData = func() (d [64][]byte) {
	for i := range d {
		d[i] = []byte{byte(i)}
	}
	return d
}()

// ResultStatus decodes the status of a Result's Data.
func ResultStatus(data []byte) Status {
	if len(data) == 0 {
		return StatusOK
	}
	return Status(data[0])
}

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusDuplicate:
		return "duplicate"
	case StatusOutOfOrder:
		return "out of order sequence"
	case StatusFencedEpoch:
		return "fenced producer epoch"
	case StatusMalformed:
		return "malformed command"
	case StatusTopicExists:
		return "topic exists"
	case StatusUnknownTopic:
		return "unknown topic"
	case StatusUnsupportedCmd:
		return "unsupported command"
	case StatusUnknownProducerID:
		return "unknown producer id"
	case StatusTxnNotVerified:
		return "transaction ended after it was verified"
	}
	if n := adminStatusName(s); n != "" {
		return n
	}
	return fmt.Sprintf("status(%d)", byte(s))
}

// BatchMeta is what the proposer extracts from a validated record batch so
// the state machine never parses the Kafka batch format itself.
type BatchMeta struct {
	LastOffsetDelta int32
	MaxTimestamp    int64
	ProducerID      int64 // -1 when not idempotent
	ProducerEpoch   int16
	BaseSequence    int32
}

// AppendCommand is one produce request's batches for one partition.
type AppendCommand struct {
	LeaderEpoch int32 // proposer's Raft term, written into each batch
	Timestamp   int64 // proposer's wall clock (ms), for LogAppendTime
	Batches     []AppendBatch
}

// AppendBatch is one record batch and its metadata.
type AppendBatch struct {
	Meta BatchMeta
	Data []byte // the batch exactly as produced
}

// EncodeAppend encodes c for Propose. dst is reused if large enough.
func EncodeAppend(dst []byte, c *AppendCommand) []byte {
	e := enc{b: dst[:0]}
	e.u8(commandVersion)
	e.u8(cmdAppend)
	e.i32(c.LeaderEpoch)
	e.i64(c.Timestamp)
	e.uvarint(uint64(len(c.Batches)))
	for i := range c.Batches {
		b := &c.Batches[i]
		e.i32(b.Meta.LastOffsetDelta)
		e.i64(b.Meta.MaxTimestamp)
		e.i64(b.Meta.ProducerID)
		e.i16(b.Meta.ProducerEpoch)
		e.i32(b.Meta.BaseSequence)
		e.bytes(b.Data)
	}
	return e.b
}

// AppendSize is the encoded size bound of a command with n batches of
// total bytes, for preallocating.
func AppendSize(n, total int) int { return 2 + 4 + 8 + 10 + n*(4+8+8+2+4+10) + total }

// appendedBatches returns how many record batches cmd appends: the count
// an append command carries after its version, type, epoch and timestamp,
// 0 for any other command (or a malformed one).
func appendedBatches(cmd []byte) int {
	const countAt = 2 + 4 + 8
	if len(cmd) <= countAt || cmd[0] != commandVersion || (cmd[1] != cmdAppend && cmd[1] != cmdAppendOpts) {
		return 0
	}
	n, k := binary.Uvarint(cmd[countAt:])
	if k <= 0 || n > uint64(len(cmd)) {
		return 0
	}
	return int(n)
}

// decodeAppend decodes the body after the version and type bytes. Batch
// data aliases cmd.
func decodeAppend(d *dec, c *AppendCommand) error {
	c.LeaderEpoch = d.i32()
	c.Timestamp = d.i64()
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		return errShortCommand
	}
	c.Batches = c.Batches[:0]
	for i := uint64(0); i < n && d.err == nil; i++ {
		var b AppendBatch
		b.Meta.LastOffsetDelta = d.i32()
		b.Meta.MaxTimestamp = d.i64()
		b.Meta.ProducerID = d.i64()
		b.Meta.ProducerEpoch = d.i16()
		b.Meta.BaseSequence = d.i32()
		b.Data = d.bytes()
		c.Batches = append(c.Batches, b)
	}
	return d.err
}

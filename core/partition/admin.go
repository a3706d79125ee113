package partition

import (
	"context"
	"errors"
	"fmt"

	"github.com/lni/dragonboat/v4"

	"github.com/chronik-go/chronik/core/batch"
	"github.com/chronik-go/chronik/raftsm"
)

// TopicSettings are the topic configs the partition service enforces.
type TopicSettings struct {
	// MaxMessageBytes bounds one record batch (max.message.bytes); a
	// negative value means no per-topic limit.
	MaxMessageBytes int
	// LogAppendTime stamps every batch with the broker's clock
	// (message.timestamp.type=LogAppendTime).
	LogAppendTime bool
	// Compacted refuses records without a key (cleanup.policy=compact), as
	// Kafka does: compaction keeps records by key.
	Compacted bool
	// Recompress stores every batch compressed with Codec, whatever codec
	// its producer used (compression.type other than "producer").
	Recompress bool
	Codec      batch.Codec
}

// DefaultTopicSettings apply to a topic the settings lookup does not know.
var DefaultTopicSettings = TopicSettings{MaxMessageBytes: -1}

// SettingsFunc returns the settings of a topic. It is called on every
// append, so it must be cheap and safe for concurrent use.
type SettingsFunc func(topic string) TopicSettings

// SetSettingsFunc installs the lookup of topic settings (core/cluster
// installs one that reads the committed topic configs). Until it is called
// every topic has DefaultTopicSettings.
func (s *Service) SetSettingsFunc(fn SettingsFunc) { s.settings.Store(&fn) }

func (s *Service) topicSettings(topic string) TopicSettings {
	if fn := s.settings.Load(); fn != nil {
		return (*fn)(topic)
	}
	return DefaultTopicSettings
}

// checkTopicLimits rejects a batch larger than the topic's max.message.bytes
// and, on a compacted topic, a batch with a record without a key (which
// means reading its records: only compacted topics pay for it).
func checkTopicLimits(set TopicSettings, b []byte) error {
	if set.MaxMessageBytes >= 0 && len(b) > set.MaxMessageBytes {
		return fmt.Errorf("%w: record batch of %d bytes exceeds the topic's max.message.bytes (%d)",
			ErrMessageTooLarge, len(b), set.MaxMessageBytes)
	}
	if set.Compacted {
		return batch.Records(b, func(r batch.Record) error {
			if r.Key == nil {
				return fmt.Errorf("%w: a compacted topic (cleanup.policy=compact) cannot accept a record without a key (offset delta %d)", batch.ErrInvalid, r.OffsetDelta)
			}
			return nil
		})
	}
	return nil
}

// recompress returns batch b compressed with codec (the topic's
// compression.type), which must still fit maxBytes, the largest batch a
// Raft entry takes: a batch compressed well can grow many times over when
// the topic asks for none.
func recompress(b []byte, codec batch.Codec, maxBytes int) ([]byte, error) {
	out, err := batch.Recompress(nil, b, codec)
	if err != nil {
		return nil, err
	}
	if maxBytes > 0 && len(out) > maxBytes {
		return nil, fmt.Errorf("%w: a record batch of %d bytes is %d bytes with the topic's compression.type %s, over the broker's %d",
			ErrMessageTooLarge, len(b), len(out), codecName(codec), maxBytes)
	}
	return out, nil
}

// codecName is a codec as compression.type names it.
func codecName(c batch.Codec) string {
	if c == batch.CodecNone {
		return "uncompressed"
	}
	return c.String()
}

// DeleteRecords advances the partition's log start offset to offset (-1:
// the high watermark) through the partition's Raft shard and returns the
// new log start (Kafka's low watermark). Offsets below the current log
// start leave it unchanged; offsets beyond the high watermark are
// ErrOffsetOutOfRange. Only the leader accepts it.
func (s *Service) DeleteRecords(ctx context.Context, tp TP, offset int64) (int64, error) {
	r := s.lookup(tp)
	if r == nil {
		return -1, ErrUnknownPartition
	}
	_, epoch, isUs, err := r.leader()
	if err != nil || !isUs {
		if err == nil {
			err = ErrNotLeader
		}
		return -1, err
	}
	if hw := r.sm.HighWatermark(); offset < -1 || offset > hw {
		return -1, fmt.Errorf("%w: cannot delete records up to %d: the log ends at %d (use -1 for the end)", ErrOffsetOutOfRange, offset, hw)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, proposalTimeout)
		defer cancel()
	}
	proposedAt := s.now()
	r.ready.Leading(uint64(epoch), proposedAt)
	res, err := s.nh.SyncPropose(ctx, r.session, raftsm.EncodeDeleteRecords(offset))
	if err != nil {
		s.metrics.Proposals.Add(context.Background(), 1, s.failAttrs)
		switch {
		case errors.Is(err, dragonboat.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			return -1, ErrTimeout
		case errors.Is(err, dragonboat.ErrShardNotReady):
			return -1, ErrLeaderNotAvailable
		default:
			return -1, proposeError(err)
		}
	}
	s.metrics.Proposals.Add(context.Background(), 1, s.okAttrs)
	switch st := raftsm.ResultStatus(res.Data); st {
	case raftsm.StatusOK:
		if err := r.acknowledge(ctx.Done(), uint64(epoch), proposedAt); err != nil {
			return -1, err
		}
		return int64(res.Value), nil
	case raftsm.StatusOffsetOutOfRange:
		return -1, fmt.Errorf("%w: %d is beyond the high watermark", ErrOffsetOutOfRange, offset)
	default:
		return -1, fmt.Errorf("partition: delete records of %s/%d: %s", tp.Topic, tp.Partition, st)
	}
}

// MaxTimestampOffset returns the offset and timestamp of the record with the
// largest timestamp at or above the log start (the first one, when several
// share it), or (-1, -1) when the partition is empty: ListOffsets
// MAX_TIMESTAMP (KIP-734). The time index names the batch; its records
// decide the offset, because a CreateTime batch's max timestamp is the
// producer's claim.
func (s *Service) MaxTimestampOffset(_ context.Context, tp TP) (offset, timestamp int64, err error) {
	r := s.lookup(tp)
	if r == nil {
		return -1, -1, ErrUnknownPartition
	}
	b, err := r.sm.MaxTimestampBatch()
	if err != nil || b == nil {
		return -1, -1, err
	}
	start := r.sm.LogStartOffset()
	offset, timestamp = -1, -1
	err = batch.Records(b, func(rec batch.Record) error {
		if rec.Offset >= start && (offset < 0 || rec.Timestamp > timestamp) {
			offset, timestamp = rec.Offset, rec.Timestamp
		}
		return nil
	})
	if err != nil {
		return -1, -1, err
	}
	return offset, timestamp, nil
}

// firstAtOrAfterFrom is batch.FirstAtOrAfter that ignores records below
// start (the log start may fall inside a batch).
func firstAtOrAfterFrom(b []byte, ts, start int64) (offset, timestamp int64, ok bool, err error) {
	offset, timestamp, ok, err = batch.FirstAtOrAfter(b, ts)
	if err != nil || !ok || offset >= start {
		return offset, timestamp, ok, err
	}
	ok = false
	err = batch.Records(b, func(r batch.Record) error {
		if r.Offset >= start && r.Timestamp >= ts {
			offset, timestamp, ok = r.Offset, r.Timestamp, true
			return errStopRecords
		}
		return nil
	})
	if errors.Is(err, errStopRecords) {
		err = nil
	}
	return offset, timestamp, ok, err
}

var errStopRecords = errors.New("partition: stop")

package raftsm

import (
	"encoding/binary"
	"errors"

	"github.com/cockroachdb/pebble/v2"
)

// Retention of partitions without tiered storage (core/tier applies it
// with cmdTrim): the leader finds the log start retention.ms and
// retention.bytes allow from the two indexes the state machine keeps for
// reads anyway, so a check reads a few keys, never the batches.

// TimeRetentionStart returns the offset below which every batch's largest
// timestamp is before cutoffMs: the base of the first batch that raised
// the partition's running maximum timestamp to cutoffMs or later (the time
// index), or the high watermark when none did. As with Kafka's segments, a
// batch goes only when it and every batch before it are older than the
// cutoff. The result may lie below the log start.
func (p *Partition) TimeRetentionStart(cutoffMs int64) (int64, error) {
	hw := p.hw.Load()
	it, err := p.store.db.NewIter(&pebble.IterOptions{
		LowerBound: binary.BigEndian.AppendUint64(p.key(keyTime, 8), orderedTS(cutoffMs)),
		UpperBound: p.key(keyTime+1, 0),
	})
	if err != nil {
		return 0, err
	}
	off := hw
	if it.First() {
		if len(it.Value()) != 8 {
			return 0, errors.Join(errShortCommand, it.Close())
		}
		// A batch applied after hw was read may already be indexed: the
		// batches below hw are older than the cutoff either way.
		off = min(int64(binary.BigEndian.Uint64(it.Value())), hw)
	}
	return off, errors.Join(it.Error(), it.Close())
}

// SizeRetentionStart returns the highest batch boundary the log can start
// at while keeping at least keepBytes of batches after it, to the
// granularity of the byte-position index (one entry per positionStep
// bytes), or 0 when there is none. Like Kafka, retention.bytes never
// leaves less than the limit.
func (p *Partition) SizeRetentionStart(keepBytes int64) (int64, error) {
	limit := p.total.Load() - keepBytes // a start at or below this position keeps enough
	if limit <= 0 || p.holey.Load() {
		// During a compaction pass, or after one that failed, positions
		// have unused ranges, which this count by positions would take
		// for data: the next check after a pass decides.
		return 0, nil
	}
	it, err := p.store.db.NewIter(&pebble.IterOptions{LowerBound: p.positionKey(0), UpperBound: p.key(keyPosition+1, 0)})
	if err != nil {
		return 0, err
	}
	// Positions grow with offsets: binary search over offsets for the last
	// index entry whose position is within the limit, one seek per step.
	best := int64(0)
	lo, hi := p.start.Load(), p.hw.Load()
	for lo < hi {
		mid := lo + (hi-lo)/2
		if !it.SeekLT(p.positionKey(mid + 1)) { // no entry at or below mid
			lo = mid + 1
			continue
		}
		if len(it.Value()) != 8 {
			return 0, errors.Join(errShortCommand, it.Close())
		}
		off := int64(binary.BigEndian.Uint64(it.Key()[len(p.prefix)+1:]))
		if int64(binary.BigEndian.Uint64(it.Value())) <= limit {
			best, lo = off, mid+1
		} else {
			hi = off
		}
	}
	return best, errors.Join(it.Error(), it.Close())
}

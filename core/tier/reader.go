package tier

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/chronik-go/chronik/core/batch"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/raftsm"
	"github.com/chronik-go/chronik/tiering/segment"
)

// Remote reads. A read below the local start finds its segment in the
// manifest, the chunk in the segment's index (one ranged GET of the index
// and footer per segment, kept in memory), and the chunk through the
// on-disk cache (one ranged GET per chunk, verified against the index's
// CRC before it is cached or served). A chunk that fails verification is
// never returned as data: the read fails with partition.ErrStorage.

// Read returns batches of tp from offset, which must be below the local
// start of lg (the local replica's log): at most maxBytes, except that the
// first batch is always returned whole. It reads no further than the end
// of offset's segment; the consumer's next fetch continues from there, and
// a read-ahead has started loading what that fetch will want.
func (m *Manager) Read(ctx context.Context, lg *raftsm.Partition, offset int64, maxBytes int32) ([]byte, error) {
	seg, ok := lg.SegmentFor(offset)
	if !ok || offset < lg.LogStartOffset() {
		return nil, partition.ErrOffsetOutOfRange
	}
	ix, err := m.index(ctx, seg)
	if err != nil {
		return nil, err
	}
	i, ok := ix.ChunkFor(offset)
	if !ok {
		return nil, partition.ErrOffsetOutOfRange
	}
	out := []byte{}
	for ; i < len(ix.Chunks); i++ {
		data, err := m.chunk(ctx, seg, ix, i)
		if err != nil {
			if len(out) > 0 {
				m.met.read(ctx, int64(len(out)))
				return out, nil // serve what we have; the next fetch retries
			}
			return nil, err
		}
		full := false
		err = segment.Batches(data, offset, func(b []byte) bool {
			if len(out) > 0 && len(out)+len(b) > int(maxBytes) {
				full = true
				return false
			}
			out = append(out, b...)
			full = len(out) >= int(maxBytes)
			return !full
		})
		if err != nil {
			return nil, m.corrupt(seg, i, err)
		}
		if full {
			break
		}
	}
	// The next fetch starts in chunk i when this one filled up in it (that
	// chunk is cached now), else at the next segment's first chunk.
	m.readAhead(lg, seg, ix, min(i+1, len(ix.Chunks)))
	m.met.read(ctx, int64(len(out)))
	return out, nil
}

// Read-ahead: a consumer reading tiered data fetches it a segment at a time
// (and at most its partition's fetch size), each fetch waiting for the
// chunks it reads to be fetched from the store, verified and cached. After
// each read, the readAheadChunks chunks that follow it are loaded into the
// cache in the background, so that a sequential consumer's next fetch finds
// them there; at most readAheadSlots read-aheads run at once, and a read
// that finds them all busy starts none.
const (
	readAheadChunks = 4 // 1 MiB of 256 KiB chunks: a default partition fetch size
	readAheadSlots  = 4
)

// segmentSource is what a read-ahead asks of a partition's log
// (*raftsm.Partition).
type segmentSource interface {
	SegmentFor(offset int64) (raftsm.SegmentRecord, bool)
	LocalStartOffset() int64
}

// readAhead loads chunks next, next+1, … of seg (continuing into the
// segments after it while they are tiered and below lg's local start)
// into the cache in the background. Failures are left to the fetch that
// needs the chunk.
func (m *Manager) readAhead(lg segmentSource, seg raftsm.SegmentRecord, ix *segment.Index, next int) {
	select {
	case m.ahead <- struct{}{}:
	default:
		return
	}
	m.aheadWG.Add(1)
	go func() {
		defer m.aheadWG.Done()
		defer func() { <-m.ahead }()
		ctx := m.aheadCtx
		for range readAheadChunks {
			if next >= len(ix.Chunks) {
				after, ok := lg.SegmentFor(seg.EndOffset)
				if !ok || after.BaseOffset != seg.EndOffset || after.BaseOffset >= lg.LocalStartOffset() {
					return
				}
				var err error
				if ix, err = m.index(ctx, after); err != nil {
					return
				}
				seg, next = after, 0
			}
			if !m.cache.Contains(chunkKey(seg, next)) {
				if _, err := m.chunk(ctx, seg, ix, next); err != nil {
					return
				}
			}
			next++
		}
	}()
}

// OffsetForTimestamp finds the first offset at or above the log start whose
// record timestamp is ≥ ts among the tiered segments below the local
// start; found is false when the answer, if any, is in local data.
func (m *Manager) OffsetForTimestamp(ctx context.Context, lg *raftsm.Partition, ts int64) (offset, timestamp int64, found bool, err error) {
	start, local := lg.LogStartOffset(), lg.LocalStartOffset()
	for _, seg := range lg.Segments() {
		if seg.EndOffset <= start || seg.MaxTimestamp < ts {
			continue
		}
		if seg.BaseOffset >= local {
			return -1, -1, false, nil // local data answers from here on
		}
		ix, err := m.index(ctx, seg)
		if err != nil {
			return -1, -1, false, err
		}
		i, ok := ix.ChunkForTime(ts)
		for ok && i < len(ix.Chunks) {
			data, err := m.chunk(ctx, seg, ix, i)
			if err != nil {
				return -1, -1, false, err
			}
			var ferr error
			err = segment.Batches(data, start, func(b []byte) bool {
				if int64(binary.BigEndian.Uint64(b[35:43])) < ts { // the batch's max timestamp
					return true
				}
				ferr = batch.Records(b, func(r batch.Record) error {
					if r.Offset >= start && r.Timestamp >= ts {
						offset, timestamp, found = r.Offset, r.Timestamp, true
						return errFound
					}
					return nil
				})
				return ferr == nil
			})
			if found {
				return offset, timestamp, true, nil
			}
			if err = errors.Join(err, ferr); err != nil {
				return -1, -1, false, m.corrupt(seg, i, err)
			}
			i++
		}
	}
	return -1, -1, false, nil
}

var errFound = errors.New("tier: found")

// chunk returns chunk i of seg, verified, through the on-disk cache.
func (m *Manager) chunk(ctx context.Context, seg raftsm.SegmentRecord, ix *segment.Index, i int) ([]byte, error) {
	c := ix.Chunks[i]
	return m.cache.GetOrLoad(ctx, chunkKey(seg, i), func(ctx context.Context) (_ []byte, err error) {
		ctx, span := m.startSpan(ctx, "tier read chunk", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
			attribute.String("tier.key", seg.Key), attribute.Int("tier.chunk", i), attribute.Int("tier.bytes", int(c.Len))))
		defer func() { endSpan(span, err) }()
		rc, err := m.store.OpenRange(ctx, seg.Key, c.Pos, int64(c.Len))
		if err != nil {
			return nil, fmt.Errorf("%w: read %s: %w", partition.ErrStorage, seg.Key, err)
		}
		defer rc.Close()
		data := make([]byte, c.Len)
		if _, err := io.ReadFull(rc, data); err != nil {
			return nil, fmt.Errorf("%w: read %s: %w", partition.ErrStorage, seg.Key, err)
		}
		if err := segment.VerifyChunk(c, data); err != nil {
			return nil, m.corrupt(seg, i, err)
		}
		return data, nil
	})
}

// chunkKey names chunk i of seg in the chunk cache.
func chunkKey(seg raftsm.SegmentRecord, i int) string { return seg.Key + "#" + strconv.Itoa(i) }

func (m *Manager) corrupt(seg raftsm.SegmentRecord, chunk int, err error) error {
	m.met.corrupted()
	m.log.Error("tiered segment failed verification; not serving it", "key", seg.Key, "chunk", chunk, "err", err)
	return fmt.Errorf("%w: tiered segment %s chunk %d: %w", partition.ErrStorage, seg.Key, chunk, err)
}

// index returns the parsed index of seg, from memory or one ranged GET.
func (m *Manager) index(ctx context.Context, seg raftsm.SegmentRecord) (_ *segment.Index, err error) {
	if ix, ok := m.ix.get(seg.Key); ok {
		return ix, nil
	}
	ctx, span := m.startSpan(ctx, "tier read index", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("tier.key", seg.Key)))
	defer func() { endSpan(span, err) }()
	tail, err := m.store.OpenRange(ctx, seg.Key, seg.IndexPos, seg.Size-seg.IndexPos)
	if err != nil {
		return nil, fmt.Errorf("%w: read index of %s: %w", partition.ErrStorage, seg.Key, err)
	}
	b, err := io.ReadAll(tail)
	tail.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: read index of %s: %w", partition.ErrStorage, seg.Key, err)
	}
	ix, err := segment.ParseIndex(b)
	if err == nil && (ix.BaseOffset != seg.BaseOffset || ix.EndOffset != seg.EndOffset || ix.IndexPos != seg.IndexPos) {
		err = fmt.Errorf("%w: object covers [%d, %d), the manifest says [%d, %d)", segment.ErrCorrupt, ix.BaseOffset, ix.EndOffset, seg.BaseOffset, seg.EndOffset)
	}
	if err != nil {
		m.met.corrupted()
		m.log.Error("tiered segment index failed verification; not serving it", "key", seg.Key, "err", err)
		return nil, fmt.Errorf("%w: tiered segment %s: %w", partition.ErrStorage, seg.Key, err)
	}
	m.ix.put(seg.Key, ix)
	return ix, nil
}

// indexCache keeps parsed segment indexes in memory, bounded by count
// (an index is about 48 bytes per 256 KiB chunk). Eviction is arbitrary:
// a miss costs one small ranged GET.
type indexCache struct {
	mu  sync.Mutex
	max int
	m   map[string]*segment.Index
}

func (c *indexCache) init(n int) { c.max, c.m = n, map[string]*segment.Index{} }

func (c *indexCache) get(key string) (*segment.Index, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ix, ok := c.m[key]
	return ix, ok
}

func (c *indexCache) put(key string, ix *segment.Index) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[key] = ix
}

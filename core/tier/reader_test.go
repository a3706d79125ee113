package tier

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/chronik-go/chronik/plugins/memstore"
	"github.com/chronik-go/chronik/raftsm"
	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/chunkcache"
	"github.com/chronik-go/chronik/tiering/segment"
)

// testBatch is an uncompressed v2 batch of one 300-byte record at offset
// base (enough of one for the segment format, which checks the header).
func testBatch(base int64) []byte {
	b := make([]byte, 61+300)
	binary.BigEndian.PutUint64(b, uint64(base))
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	b[16] = 2                                        // magic
	binary.BigEndian.PutUint32(b[57:], 1)            // record count
	binary.BigEndian.PutUint64(b[35:], uint64(base)) // max timestamp
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// segments is a log of tiered segments for readAhead.
type segments struct {
	recs       []raftsm.SegmentRecord
	localStart int64
}

func (s *segments) SegmentFor(off int64) (raftsm.SegmentRecord, bool) {
	for _, r := range s.recs {
		if off >= r.BaseOffset && off < r.EndOffset {
			return r, true
		}
	}
	return raftsm.SegmentRecord{}, false
}

func (s *segments) LocalStartOffset() int64 { return s.localStart }

// TestReadAhead: after a remote read, the chunks that follow it are loaded
// into the cache in the background — across the segment boundary, no
// further than readAheadChunks, never into data above the local start —
// and a read finding every read-ahead slot busy starts none.
func TestReadAhead(t *testing.T) {
	ctx := context.Background()
	st, err := tiering.New(memstore.Open(memstore.NewConfig()))
	if err != nil {
		t.Fatal(err)
	}
	// Three segments of 4 one-batch chunks each: offsets 0–3, 4–7, 8–11.
	src := &segments{localStart: 8}
	for s := range 3 {
		var obj bytes.Buffer
		w := segment.NewWriter(&obj, segment.WithChunkSize(1))
		for i := range 4 {
			if err := w.Append(testBatch(int64(4*s + i))); err != nil {
				t.Fatal(err)
			}
		}
		info, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		rec := raftsm.SegmentRecord{
			BaseOffset: info.BaseOffset, EndOffset: info.EndOffset, Key: string(rune('a' + s)),
			Size: info.Size, IndexPos: info.IndexPos,
		}
		if err := st.Put(ctx, rec.Key, bytes.NewReader(obj.Bytes()), int64(obj.Len())); err != nil {
			t.Fatal(err)
		}
		src.recs = append(src.recs, rec)
	}
	cache, err := chunkcache.Open(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{store: st, cache: cache, log: slog.New(slog.NewTextHandler(io.Discard, nil)), ahead: make(chan struct{}, readAheadSlots)}
	m.aheadCtx, m.aheadStop = context.WithCancel(ctx)
	m.ix.init(8)
	t.Cleanup(func() {
		m.aheadStop()
		m.aheadWG.Wait()
		cache.Close()
	})
	cached := func() (keys []string) {
		for _, r := range src.recs {
			for i := range 4 {
				if cache.Contains(chunkKey(r, i)) {
					keys = append(keys, chunkKey(r, i))
				}
			}
		}
		return keys
	}
	ix, err := m.index(ctx, src.recs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Chunks) != 4 {
		t.Fatalf("segment has %d chunks, want 4", len(ix.Chunks))
	}

	// A read that ended in chunk 1 of the first segment: chunks 2 and 3,
	// then the second segment's 0 and 1.
	m.readAhead(src, src.recs[0], ix, 2)
	m.aheadWG.Wait()
	if got, want := cached(), []string{"a#2", "a#3", "b#0", "b#1"}; !slices.Equal(got, want) {
		t.Fatalf("after a read ending in a#1: cached %v, want %v", got, want)
	}

	// From the end of the second segment: the third is local (offsets ≥ 8).
	ixB, err := m.index(ctx, src.recs[1])
	if err != nil {
		t.Fatal(err)
	}
	m.readAhead(src, src.recs[1], ixB, 4)
	m.aheadWG.Wait()
	if got := cached(); len(got) != 4 {
		t.Fatalf("read ahead into local data: cached %v", got)
	}

	// All slots busy: nothing starts.
	for range readAheadSlots {
		m.ahead <- struct{}{}
	}
	m.readAhead(src, src.recs[1], ixB, 2)
	m.aheadWG.Wait()
	if got := cached(); len(got) != 4 {
		t.Fatalf("read-ahead ran without a slot: cached %v", got)
	}
	for range readAheadSlots {
		<-m.ahead
	}
	m.readAhead(src, src.recs[1], ixB, 2)
	m.aheadWG.Wait()
	if got := cached(); len(got) != 6 {
		t.Fatalf("after a slot freed: cached %v, want b#2 and b#3 too", got)
	}
}

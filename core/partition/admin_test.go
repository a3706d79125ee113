package partition

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/batch"
)

// testBatch encodes an uncompressed v2 batch at baseOffset base with one
// record per timestamp.
func testBatch(base int64, timestamps ...int64) []byte {
	var records []byte
	b := kmsg.NewRecordBatch()
	for i, ts := range timestamps {
		r := kmsg.NewRecord()
		r.OffsetDelta = int32(i)
		r.TimestampDelta64 = ts - timestamps[0]
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		records = r.AppendTo(records)
		b.MaxTimestamp = max(b.MaxTimestamp, ts)
	}
	b.FirstOffset, b.Magic = base, 2
	b.LastOffsetDelta = int32(len(timestamps) - 1)
	b.FirstTimestamp = timestamps[0]
	b.ProducerID, b.ProducerEpoch, b.FirstSequence = -1, -1, -1
	b.NumRecords = int32(len(timestamps))
	b.Records = records
	b.Length = int32(61 - 12 + len(records))
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

func TestFirstAtOrAfterFrom(t *testing.T) {
	b := testBatch(10, 100, 300, 200, 400) // offsets 10-13
	cases := []struct {
		ts, start   int64
		off, wantTS int64
		ok          bool
	}{
		{ts: 0, start: 0, off: 10, wantTS: 100, ok: true},
		{ts: 0, start: 12, off: 12, wantTS: 200, ok: true},   // records below the log start are skipped
		{ts: 250, start: 12, off: 13, wantTS: 400, ok: true}, // 300 at 11 is below the log start
		{ts: 250, start: 0, off: 11, wantTS: 300, ok: true},
		{ts: 500, start: 0, ok: false},
		{ts: 100, start: 14, ok: false},
	}
	for _, c := range cases {
		off, ts, ok, err := firstAtOrAfterFrom(b, c.ts, c.start)
		if err != nil || ok != c.ok || (ok && (off != c.off || ts != c.wantTS)) {
			t.Errorf("ts %d from %d: %d/%d %v %v; want %d/%d %v", c.ts, c.start, off, ts, ok, err, c.off, c.wantTS, c.ok)
		}
	}
}

func TestCheckTopicLimits(t *testing.T) {
	b := make([]byte, 1001)
	if err := checkTopicLimits(TopicSettings{MaxMessageBytes: 1000}, b); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("1001 bytes over a 1000 limit: %v", err)
	}
	if err := checkTopicLimits(TopicSettings{MaxMessageBytes: 1001}, b); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	if err := checkTopicLimits(DefaultTopicSettings, b); err != nil {
		t.Fatalf("no limit: %v", err)
	}
}

// keyedBatch is testBatch with key "k<i>" and a value of valueSize bytes
// per record, or no key when keyless.
func keyedBatch(n, valueSize int, keyless bool) []byte {
	var records []byte
	b := kmsg.NewRecordBatch()
	for i := range n {
		r := kmsg.NewRecord()
		r.OffsetDelta = int32(i)
		if !keyless {
			r.Key = fmt.Appendf(nil, "k%d", i)
		}
		r.Value = make([]byte, valueSize)
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		for r.Length != int32(len(r.AppendTo(nil))-varintLen(r.Length)) {
			r.Length = int32(len(r.AppendTo(nil)) - varintLen(r.Length))
		}
		records = r.AppendTo(records)
	}
	b.Magic, b.LastOffsetDelta, b.NumRecords = 2, int32(n-1), int32(n)
	b.ProducerID, b.ProducerEpoch, b.FirstSequence = -1, -1, -1
	b.Records = records
	b.Length = int32(61 - 12 + len(records))
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

func varintLen(v int32) int { return len(binary.AppendVarint(nil, int64(v))) }

func TestCompactedTopicsNeedKeys(t *testing.T) {
	compacted := TopicSettings{MaxMessageBytes: -1, Compacted: true}
	if err := checkTopicLimits(compacted, keyedBatch(5, 10, true)); !errors.Is(err, batch.ErrInvalid) {
		t.Fatalf("keyless records to a compacted topic: %v", err)
	}
	if err := checkTopicLimits(compacted, keyedBatch(5, 10, false)); err != nil {
		t.Fatalf("keyed records: %v", err)
	}
	if err := checkTopicLimits(DefaultTopicSettings, keyedBatch(5, 10, true)); err != nil {
		t.Fatalf("keyless records to a topic without compact: %v", err)
	}
}

// BenchmarkCheckCompactedKeys: what a compacted topic's key check costs a
// produce (one uncompressed batch of 100 records of 100 bytes; a
// compressed batch adds its decompression).
func BenchmarkCheckCompactedKeys(b *testing.B) {
	bt := keyedBatch(100, 100, false)
	b.SetBytes(int64(len(bt)))
	b.ReportAllocs()
	for b.Loop() {
		if err := checkTopicLimits(TopicSettings{MaxMessageBytes: -1, Compacted: true}, bt); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRecompressBound(t *testing.T) {
	b := keyedBatch(100, 1000, false) // 100 KB of zeros
	small, err := recompress(b, batch.CodecZstd, 1<<20)
	if err != nil || len(small) >= len(b)/10 {
		t.Fatalf("zstd: %d bytes of %d, %v", len(small), len(b), err)
	}
	// Back to uncompressed, over a bound the compressed batch was under.
	if _, err := recompress(small, batch.CodecNone, 10<<10); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("a batch that grows past the bound: %v, want ErrMessageTooLarge", err)
	}
}

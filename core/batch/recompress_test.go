package batch

import (
	"bytes"
	"errors"
	"testing"
)

// TestRecompress: every codec to every other: the records read back the
// same (ours and franz-go's decoder), the header keeps every field but the
// codec bits, Length and CRC, and the batch validates.
func TestRecompress(t *testing.T) {
	codecs := []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}
	for _, from := range codecs {
		src := build(t, compactionSpec(from, false))
		want := mustReadAll(t, src)
		hs, err := ParseHeader(src)
		must(t, err)
		for _, to := range codecs {
			out, err := Recompress([]byte("prefix"), src, to)
			if err != nil {
				t.Fatalf("%s → %s: %v", from, to, err)
			}
			if !bytes.HasPrefix(out, []byte("prefix")) {
				t.Fatalf("%s → %s: dst not kept", from, to)
			}
			nb := out[len("prefix"):]
			if from == to && !bytes.Equal(nb, src) {
				t.Fatalf("%s → %s: a batch already in the codec changed", from, to)
			}
			h, err := Validate(nb, 1<<30)
			if err != nil {
				t.Fatalf("%s → %s: output does not validate: %v", from, to, err)
			}
			if h.Compression() != to || h.Attributes&^attrCodecMask != hs.Attributes&^attrCodecMask ||
				h.BaseOffset != hs.BaseOffset || h.LastOffsetDelta != hs.LastOffsetDelta || h.NumRecords != hs.NumRecords ||
				h.FirstTimestamp != hs.FirstTimestamp || h.MaxTimestamp != hs.MaxTimestamp || h.ProducerID != hs.ProducerID ||
				h.ProducerEpoch != hs.ProducerEpoch || h.BaseSequence != hs.BaseSequence {
				t.Fatalf("%s → %s: header %+v, source %+v", from, to, h, hs)
			}
			got := mustReadAll(t, nb)
			if len(got) != len(want) {
				t.Fatalf("%s → %s: %d records, want %d", from, to, len(got), len(want))
			}
			for i := range got {
				if !sameRecord(got[i], want[i]) {
					t.Fatalf("%s → %s: record %d %+v, want %+v", from, to, i, got[i], want[i])
				}
			}
			checkFranz(t, nb, want)
		}
	}
	bad := bytes.Clone(build(t, compactionSpec(CodecZstd, false)))
	bad[len(bad)-1] ^= 1
	if _, err := Recompress(nil, bad, CodecNone); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt batch: %v", err)
	}
}

// BenchmarkRecompress: what a topic with compression.type=zstd costs a
// produce of an uncompressed batch (50 records, 2 KB).
func BenchmarkRecompress(b *testing.B) {
	src := build(b, compactionSpec(CodecNone, false))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	var dst []byte
	for b.Loop() {
		var err error
		if dst, err = Recompress(dst[:0], src, CodecZstd); err != nil {
			b.Fatal(err)
		}
	}
}

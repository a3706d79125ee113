package backup_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronik-go/chronik/core/backup"
	"github.com/chronik-go/chronik/tiering/segment"
)

// segmentObject builds a real segment object of one-record batches for
// offsets [base, end), listing the aborted transactions given.
func segmentObject(t *testing.T, base, end int64, aborted ...segment.AbortedTxn) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := segment.NewWriter(&buf)
	for off := base; off < end; off++ {
		b := make([]byte, 61+8)
		be := binary.BigEndian
		be.PutUint64(b[0:], uint64(off))
		be.PutUint32(b[8:], uint32(len(b)-12))
		b[16] = 2 // magic
		be.PutUint64(b[27:], uint64(off))
		be.PutUint64(b[35:], uint64(off*10)) // maxTimestamp
		be.PutUint64(b[43:], 0xFFFFFFFFFFFFFFFF)
		be.PutUint16(b[51:], 0xFFFF)
		be.PutUint32(b[53:], 0xFFFFFFFF)
		be.PutUint32(b[57:], 1)
		be.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
		if err := w.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.CloseAborted(aborted); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtendSegments(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	const id = "00112233445566778899aabbccddeeff"
	put := func(p int, base, end int64, epoch int, mangle bool, aborted ...segment.AbortedTxn) backup.Segment {
		t.Helper()
		obj := segmentObject(t, base, end, aborted...)
		if mangle {
			obj[len(obj)-100] ^= 1 // inside the index: its CRC fails
		}
		key := fmt.Sprintf("orders-%s/%d/%020d-%020d-%d.seg", id, p, base, end, epoch)
		if err := s.Put(ctx, "segments/"+key, bytes.NewReader(obj), int64(len(obj))); err != nil {
			t.Fatal(err)
		}
		return backup.Segment{Base: base, End: end, Key: key, Size: int64(len(obj))}
	}
	// Aborted transactions: one in the backup, the others listed by the
	// segments uploaded after it (a transaction overlapping two segments
	// is listed by both; one whose marker is past the recovery point still
	// hides its records).
	inBackup := backup.AbortedTxn{ProducerID: 5, FirstOffset: 2, MarkerOffset: 8}
	a6 := segment.AbortedTxn{ProducerID: 6, FirstOffset: 9, MarkerOffset: 15}
	a7 := segment.AbortedTxn{ProducerID: 7, FirstOffset: 18, MarkerOffset: 25}
	a8 := segment.AbortedTxn{ProducerID: 8, FirstOffset: 27, MarkerOffset: 45}
	first := put(0, 0, 10, 1, false, segment.AbortedTxn(inBackup))
	put(0, 10, 20, 1, false, a6, a7)
	put(0, 20, 30, 2, false, a7, a8)
	put(0, 30, 40, 2, true, segment.AbortedTxn{ProducerID: 9, FirstOffset: 31, MarkerOffset: 33}, a8) // corrupt: the chain stops before it
	put(0, 50, 60, 2, false)                                                                          // after a gap
	p1 := put(1, 0, 5, 1, false)
	put(1, 5, 8, 1, false)
	put(1, 5, 9, 2, false) // two histories from 5: stop there
	put(2, 0, 4, 1, false) // nothing tiered at backup time

	d := &backup.Data{
		Topics: []backup.Topic{{Name: "orders", ID: id, Configs: map[string]string{}, Partitions: 3, ReplicationFactor: 1}},
		Groups: []backup.Group{},
		Partitions: []backup.Partition{
			{Topic: "orders", Partition: 0, TieredEnd: 10, HighWatermark: 12, Segments: []backup.Segment{first}, Aborted: []backup.AbortedTxn{inBackup}},
			{Topic: "orders", Partition: 1, TieredEnd: 5, HighWatermark: 5, Segments: []backup.Segment{p1}},
			{Topic: "orders", Partition: 2, HighWatermark: 0, Segments: []backup.Segment{}},
		},
	}
	if _, err := backup.Write(ctx, s, backup.NewID(time.Now()), backup.Info{}, backup.Zstd, d, time.Now()); err != nil {
		t.Fatal(err)
	}
	p, err := backup.Prepare(ctx, s, "")
	if err != nil {
		t.Fatal(err)
	}
	ends := []int64{30, 5, 4}
	for i, want := range ends {
		got := p.Data.Partitions[i]
		if _, end := got.Restored(); end != want || got.TieredEnd != want {
			t.Errorf("partition %d restores to %d (tiered end %d), want %d; segments %+v", i, end, got.TieredEnd, want, got.Segments)
		}
	}
	wantAborted := []backup.AbortedTxn{inBackup, backup.AbortedTxn(a6), backup.AbortedTxn(a7), backup.AbortedTxn(a8)}
	if got := p.Data.Partitions[0].Aborted; !slices.Equal(got, wantAborted) {
		t.Errorf("aborted transactions %+v, want %+v", got, wantAborted)
	}
	s2 := p.Data.Partitions[0].Segments[2]
	if s2.LeaderEpoch != 2 || s2.MaxTimestamp != 290 || s2.IndexPos <= 0 || s2.DataBytes != s2.IndexPos || s2.UploadedAt == 0 {
		t.Errorf("segment read from the store: %+v", s2)
	}
	notes := strings.Join(p.Notes, "\n")
	for _, want := range []string{"orders/0: 2 segments uploaded after the backup extend it to offset 30", "is unusable", "orders/1: 2 segment objects start at offset 5", "orders/2: 1 segments uploaded after the backup extend it to offset 4"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes do not say %q:\n%s", want, notes)
		}
	}
}

package backup_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/chronik-go/chronik/core/backup"
	"github.com/chronik-go/chronik/tiering/segment"
)

// segmentObject builds a real segment object of one-record batches for
// offsets [base, end).
func segmentObject(t *testing.T, base, end int64) []byte {
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
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtendSegments(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	const id = "00112233445566778899aabbccddeeff"
	put := func(p int, base, end int64, epoch int, mangle bool) backup.Segment {
		t.Helper()
		obj := segmentObject(t, base, end)
		if mangle {
			obj[len(obj)-100] ^= 1 // inside the index: its CRC fails
		}
		key := fmt.Sprintf("orders-%s/%d/%020d-%020d-%d.seg", id, p, base, end, epoch)
		if err := s.Put(ctx, "segments/"+key, bytes.NewReader(obj), int64(len(obj))); err != nil {
			t.Fatal(err)
		}
		return backup.Segment{Base: base, End: end, Key: key, Size: int64(len(obj))}
	}
	first := put(0, 0, 10, 1, false)
	put(0, 10, 20, 1, false)
	put(0, 20, 30, 2, false)
	put(0, 30, 40, 2, true)  // corrupt: the chain stops before it
	put(0, 50, 60, 2, false) // after a gap
	p1 := put(1, 0, 5, 1, false)
	put(1, 5, 8, 1, false)
	put(1, 5, 9, 2, false) // two histories from 5: stop there
	put(2, 0, 4, 1, false) // nothing tiered at backup time

	d := &backup.Data{
		Topics: []backup.Topic{{Name: "orders", ID: id, Configs: map[string]string{}, Partitions: 3, ReplicationFactor: 1}},
		Groups: []backup.Group{},
		Partitions: []backup.Partition{
			{Topic: "orders", Partition: 0, TieredEnd: 10, HighWatermark: 12, Segments: []backup.Segment{first}},
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

package batch

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAppendControl checks a marker against franz-go's decoder: the batch
// fields, the CRC, and the record's key and value as Kafka defines them.
func TestAppendControl(t *testing.T) {
	for _, commit := range []bool{false, true} {
		b := AppendControl([]byte("x"), 7001, 3, commit, 9, 1700000000123)[1:]
		if len(b) != ControlSize {
			t.Fatalf("size %d, want %d", len(b), ControlSize)
		}
		h, err := Validate(b, 1<<20)
		if err != nil {
			t.Fatalf("our own parser refuses a marker: %v", err)
		}
		if !h.IsControl() || !h.IsTransactional() || h.ProducerID != 7001 || h.ProducerEpoch != 3 || h.NumRecords != 1 {
			t.Fatalf("header %+v", h)
		}
		var kb kmsg.RecordBatch
		if err := kb.ReadFrom(b); err != nil {
			t.Fatal(err)
		}
		if kb.Attributes != 0x30 || kb.LastOffsetDelta != 0 || kb.FirstTimestamp != 1700000000123 || kb.MaxTimestamp != 1700000000123 || kb.FirstSequence != -1 {
			t.Fatalf("batch %+v", kb)
		}
		var rec kmsg.Record
		if err := rec.ReadFrom(kb.Records); err != nil {
			t.Fatal(err)
		}
		recs := []kmsg.Record{rec}
		var key kmsg.ControlRecordKey
		if err := key.ReadFrom(recs[0].Key); err != nil {
			t.Fatal(err)
		}
		var val kmsg.EndTxnMarker
		if err := val.ReadFrom(recs[0].Value); err != nil {
			t.Fatal(err)
		}
		want := kmsg.ControlRecordKeyTypeAbort
		if commit {
			want = kmsg.ControlRecordKeyTypeCommit
		}
		if key.Type != want || key.Version != 0 || val.Version != 0 {
			t.Fatalf("marker key %+v value %+v", key, val)
		}
		if val.CoordinatorEpoch != 9 {
			t.Fatalf("coordinator epoch %d", val.CoordinatorEpoch)
		}
		gotCommit, ok := ControlType(b)
		if !ok || gotCommit != commit {
			t.Fatalf("ControlType = %v, %v", gotCommit, ok)
		}
	}
	if _, ok := ControlType(make([]byte, ControlSize)); ok {
		t.Fatal("a zero batch read as a marker")
	}
}

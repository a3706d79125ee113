package group

import (
	"errors"
	"testing"
)

func TestTxnCommitOffsets(t *testing.T) {
	s, f := testService(t, 1, nil)
	ctx := tctx(t)
	a := stableOne(t, s, "g")
	tp := TopicPartition{"t", 0}
	if errs := s.CommitOffsets(ctx, CommitRequest{Group: "g", Generation: 1, MemberID: a, Offsets: []CommitOffset{{tp, 5, -1, ""}}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	txn := func(req TxnCommitRequest) error {
		t.Helper()
		req.Offsets = []CommitOffset{{tp, 10, -1, "m"}}
		return s.TxnCommitOffsets(ctx, req)[0]
	}
	// Member checks apply only when the request names a member or
	// generation (TxnOffsetCommit v3+).
	if err := txn(TxnCommitRequest{Group: "g", ProducerID: 7, Generation: 2, MemberID: a}); !errors.Is(err, ErrIllegalGeneration) {
		t.Fatalf("stale generation: %v", err)
	}
	if err := txn(TxnCommitRequest{Group: "g", ProducerID: 7, Generation: 1, MemberID: "nobody"}); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("unknown member: %v", err)
	}
	if err := txn(TxnCommitRequest{Group: "g", ProducerID: 7, ProducerEpoch: 3, Generation: 1, MemberID: a}); err != nil {
		t.Fatal(err)
	}
	if err := txn(TxnCommitRequest{Group: "g", ProducerID: 8, Generation: -1}); err != nil {
		t.Fatalf("v0–v2 commit to a group with members: %v", err)
	}
	// Pending offsets are invisible but flag the partition.
	got, err := s.FetchOffsets(ctx, "g", []TopicPartition{tp})
	if err != nil || got[0].Offset != 5 || !got[0].Unstable {
		t.Fatalf("fetch with pending: %+v %v", got, err)
	}
	if err := s.EndTxnOffsets(ctx, "g", 7, 3, true); err != nil {
		t.Fatal(err)
	}
	if err := s.EndTxnOffsets(ctx, "g", 7, 3, true); err != nil {
		t.Fatalf("repeated marker: %v", err)
	}
	if got, _ := s.FetchOffsets(ctx, "g", []TopicPartition{tp}); got[0].Offset != 10 || got[0].Metadata != "m" || !got[0].Unstable {
		t.Fatalf("after commit of producer 7 (8 still pending): %+v", got)
	}
	if err := s.EndTxnOffsets(ctx, "g", 8, 1, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FetchOffsets(ctx, "g", nil); len(got) != 1 || got[0].Offset != 10 || got[0].Unstable {
		t.Fatalf("after abort of producer 8: %+v", got)
	}
	// The abort's bumped epoch fences producer 8's old epoch.
	if err := txn(TxnCommitRequest{Group: "g", ProducerID: 8, Generation: -1}); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("zombie commit: %v", err)
	}
	// An unknown group is created, as in Kafka.
	if err := txn(TxnCommitRequest{Group: "new", ProducerID: 9, Generation: -1}); err != nil {
		t.Fatal(err)
	}
	// Another broker leads: the marker must go elsewhere.
	f.SetLeader(2, 2)
	if err := s.EndTxnOffsets(ctx, "g", 9, 0, true); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("not the coordinator: %v", err)
	}
}

package partition

import (
	"context"
	"testing"

	"github.com/chronik-go/chronik/core/readlease"
)

// TestReadsArriveWhenPrepared: a read under the context PrepareReads
// returned after starting confirmations counts as arrived when they
// started (so they serve it even if they outlast the lease); any other
// read arrives when it asks, and PrepareReads leaves the context alone when
// it started nothing.
func TestReadsArriveWhenPrepared(t *testing.T) {
	s := &Service{clock: readlease.NewClock()}
	ctx := context.Background()
	if got := s.PrepareReads(ctx, []TP{{Topic: "t", Partition: 0}}); got != ctx {
		t.Fatal("PrepareReads changed the context without starting a confirmation")
	}
	prepared := context.WithValue(ctx, arrivalKey{}, int64(5))
	if at := s.arrival(prepared); at != 5 {
		t.Fatalf("a prepared read arrived at %d, want 5 (when its confirmations started)", at)
	}
	before := s.now()
	if at := s.arrival(ctx); at < before {
		t.Fatalf("an unprepared read arrived at %d, before it asked (%d)", at, before)
	}
}

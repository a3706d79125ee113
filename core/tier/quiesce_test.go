package tier

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/chronik-go/chronik/core/partition"
)

// A leadership transfer waits for the partition's upload in flight (the
// worker holds busy) and then holds new uploads off.
func TestQuiesceWaitsForUploadInFlight(t *testing.T) {
	m := &Manager{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	m.mu.parts = map[partition.TP]*partState{}
	tp := partition.TP{Topic: "t", Partition: 0}
	st := m.state(tp)
	st.busy <- struct{}{} // an upload is in flight

	done := make(chan struct{})
	go func() {
		m.quiesce(context.Background(), tp)
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("quiesce returned while an upload was in flight")
	case <-time.After(100 * time.Millisecond):
	}
	<-st.busy // the upload finishes
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("quiesce did not return after the upload finished")
	}
	if !time.Now().Before(st.pausedUntil) {
		t.Fatal("new uploads are not held off after a quiesce")
	}

	// A transfer does not wait forever: its context bounds the wait.
	st.busy <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	m.quiesce(ctx, tp)
	if time.Since(start) > 2*time.Second {
		t.Fatal("quiesce ignored its context")
	}
}

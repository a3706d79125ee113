package broker

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/chronik-go/chronik/core/partition"
)

// TestDiskGuardOpensAndCloses: the guard refuses appends below the
// threshold with ErrStorage and a message naming the setting, accepts them
// again once space is back, and leaves the gate alone when the file system
// cannot be read.
func TestDiskGuardOpensAndCloses(t *testing.T) {
	parts := partition.NewService(nil, 1<<20, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	g := newDiskGuard("/data", 1000, parts, slog.New(slog.NewTextHandler(io.Discard, nil)))
	free, fail := int64(5000), false
	g.space = func(string) (int64, int64, error) {
		if fail {
			return -1, -1, errors.New("statfs failed")
		}
		return 1 << 30, free, nil
	}
	steps := []struct {
		free    int64
		fail    bool
		refused bool
	}{
		{5000, false, false},
		{999, false, true},
		{10, true, true}, // unreadable: stays refused
		{1000, false, false},
		{10, true, false}, // unreadable: stays open
		{0, false, true},
	}
	for i, st := range steps {
		free, fail = st.free, st.fail
		g.check()
		err := parts.StorageError()
		if got := err != nil; got != st.refused || g.low.Load() != st.refused {
			t.Fatalf("step %d (free %d, fail %v): refused = %v (%v), want %v", i, st.free, st.fail, got, err, st.refused)
		}
		if err != nil && (!errors.Is(err, partition.ErrStorage) || !strings.Contains(err.Error(), "storage.min-free-bytes (1000)")) {
			t.Fatalf("step %d: error %q does not wrap ErrStorage or name the setting", i, err)
		}
	}
	if g.usable.Load() != 0 {
		t.Fatalf("last measurement %d, want 0", g.usable.Load())
	}
}

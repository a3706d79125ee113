package faultnet

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	dbconfig "github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/raftio"
	pb "github.com/lni/dragonboat/v4/raftpb"
)

// endpoint is one transport and the message batches it received, by the
// Term field the test uses as a sequence number.
type endpoint struct {
	tr raftio.ITransport
	mu sync.Mutex
	in []uint64
}

func (e *endpoint) received() []uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.in)
}

func start(t *testing.T, n *Network, addr string) *endpoint {
	t.Helper()
	e := &endpoint{}
	f := n.Factory()
	if !f.Validate(addr) {
		t.Fatalf("Validate(%q) = false", addr)
	}
	e.tr = f.Create(dbconfig.NodeHostConfig{RaftAddress: addr}, func(b pb.MessageBatch) {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, m := range b.Requests {
			e.in = append(e.in, m.Term)
		}
	}, func(pb.Chunk) bool { return true })
	if err := e.tr.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.tr.Close() })
	return e
}

func send(t *testing.T, c raftio.IConnection, seqs ...uint64) {
	t.Helper()
	for _, s := range seqs {
		if err := c.SendMessageBatch(pb.MessageBatch{Requests: []pb.Message{{Type: pb.Heartbeat, Term: s}}}); err != nil {
			t.Fatalf("send %d: %v", s, err)
		}
	}
}

func waitFor(t *testing.T, e *endpoint, want []uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(e.received(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("received %v, want %v", e.received(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCutIsOneWayAndHealRestores(t *testing.T) {
	n := New(1)
	a, b := start(t, n, "faultnet-test-a:1"), start(t, n, "faultnet-test-b:1")
	ab, err := a.tr.GetConnection(context.Background(), "faultnet-test-b:1")
	if err != nil {
		t.Fatal(err)
	}
	defer ab.Close()
	ba, err := b.tr.GetConnection(context.Background(), "faultnet-test-a:1")
	if err != nil {
		t.Fatal(err)
	}
	defer ba.Close()

	n.Cut("faultnet-test-a:1", "faultnet-test-b:1")
	send(t, ab, 1, 2)
	send(t, ba, 10)
	waitFor(t, a, []uint64{10})
	n.Heal()
	send(t, ab, 3)
	waitFor(t, b, []uint64{3}) // 1 and 2 were lost for good
	if s := n.Stats(); s.Cut != 2 || s.Delivered != 2 {
		t.Errorf("stats %+v, want 2 cut and 2 delivered", s)
	}
}

func TestDelayKeepsOrder(t *testing.T) {
	n := New(2)
	a, b := start(t, n, "faultnet-test-c:1"), start(t, n, "faultnet-test-d:1")
	n.SetAll(Rule{MaxDelay: 5 * time.Millisecond})
	c, err := a.tr.GetConnection(context.Background(), "faultnet-test-d:1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var want []uint64
	for i := uint64(1); i <= 50; i++ {
		want = append(want, i)
	}
	send(t, c, want...)
	waitFor(t, b, want)
	if s := n.Stats(); s.Delayed == 0 {
		t.Errorf("stats %+v: nothing delayed", s)
	}
}

func TestSameSeedSameDecisions(t *testing.T) {
	fates := func(seed uint64) []time.Duration {
		n := New(seed)
		n.SetAll(Rule{Drop: 0.3, MaxDelay: 20 * time.Millisecond})
		var out []time.Duration
		for range 200 {
			lost, d := n.decide("x", "y")
			if lost {
				d = -1
			}
			out = append(out, d)
		}
		return out
	}
	if !slices.Equal(fates(7), fates(7)) {
		t.Error("same seed, different decisions")
	}
	if slices.Equal(fates(7), fates(8)) {
		t.Error("different seeds, same decisions")
	}
	lost := 0
	for _, d := range fates(7) {
		if d < 0 {
			lost++
		}
	}
	if lost < 30 || lost > 90 {
		t.Errorf("%d of 200 lost at 30%% drop", lost)
	}
}

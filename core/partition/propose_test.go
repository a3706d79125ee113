package partition

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/config"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// recordingSM keeps a copy of every command it applies.
type recordingSM struct {
	mu   sync.Mutex
	cmds [][]byte
}

func (s *recordingSM) Update(e sm.Entry) (sm.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cmds = append(s.cmds, bytes.Clone(e.Cmd))
	return sm.Result{Value: uint64(len(s.cmds))}, nil
}

func (s *recordingSM) Lookup(any) (any, error) { return nil, nil }
func (s *recordingSM) SaveSnapshot(io.Writer, sm.ISnapshotFileCollection, <-chan struct{}) error {
	return nil
}

func (s *recordingSM) RecoverFromSnapshot(io.Reader, []sm.SnapshotFile, <-chan struct{}) error {
	return nil
}
func (s *recordingSM) Close() error { return nil }

// TestProposeCopiesCommand pins the Dragonboat behaviour Append relies on
// to reuse its command buffers (cmdPool): NodeHost.Propose copies the
// command into the Raft entry before it returns, so what the caller writes
// into the buffer afterwards never reaches the log or the state machine.
func TestProposeCopiesCommand(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	nh, err := dragonboat.NewNodeHost(config.NodeHostConfig{
		NodeHostDir: t.TempDir(), RTTMillisecond: 5, RaftAddress: addr,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	rec := &recordingSM{}
	err = nh.StartReplica(map[uint64]string{1: addr}, false,
		func(uint64, uint64) sm.IStateMachine { return rec },
		config.Config{ShardID: 1, ReplicaID: 1, ElectionRTT: 10, HeartbeatRTT: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		if _, _, ok, err := nh.GetLeaderID(1); err == nil && ok {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no leader")
		case <-time.After(10 * time.Millisecond):
		}
	}

	const n = 50
	buf := make([]byte, 64<<10)
	var want [][]byte
	var states []*dragonboat.RequestState
	for i := range n {
		for j := range buf {
			buf[j] = byte(i + j)
		}
		want = append(want, bytes.Clone(buf))
		rs, err := nh.Propose(nh.GetNoOPSession(1), buf, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, rs)
		clear(buf) // what a pooled buffer's next user would do
	}
	for i, rs := range states {
		select {
		case r := <-rs.ResultC():
			if !r.Completed() {
				t.Fatalf("proposal %d: not completed", i)
			}
		case <-ctx.Done():
			t.Fatalf("proposal %d: no result", i)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.cmds) != n {
		t.Fatalf("applied %d commands, want %d", len(rec.cmds), n)
	}
	for i := range want {
		if !bytes.Equal(rec.cmds[i], want[i]) {
			t.Fatalf("command %d changed after Propose returned: the buffer must not be reused", i)
		}
	}
}

package cluster

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/lni/dragonboat/v4"

	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/raftsm"
)

// Leadership keeps leaders where the placement prefers them and moves them
// away before a controlled shutdown. Raft picks leaders by election, so
// after failovers leadership piles up on the brokers that stayed up; the
// balancer asks each partition's leader to hand over to the preferred
// replica (the first in its placement) once that broker is reachable.
type Leadership struct {
	nh       *dragonboat.NodeHost
	meta     *raftsm.Meta
	parts    *partition.Service
	nodeID   int32
	raftAddr func(int32) string
	log      *slog.Logger
}

// NewLeadership returns the leadership manager of one broker.
func NewLeadership(nh *dragonboat.NodeHost, meta *raftsm.Meta, parts *partition.Service, nodeID int32, raftAddr func(int32) string, log *slog.Logger) *Leadership {
	return &Leadership{nh: nh, meta: meta, parts: parts, nodeID: nodeID, raftAddr: raftAddr, log: log}
}

// RunBalancer moves leadership toward preferred replicas every interval
// until ctx ends.
func (l *Leadership) RunBalancer(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n := l.BalanceOnce(); n > 0 {
				l.log.Info("moved partition leadership to preferred replicas", "transfers", n)
			}
		}
	}
}

// BalanceOnce requests a transfer for every partition this broker leads
// whose preferred replica is another, reachable broker; it returns how
// many it requested.
func (l *Leadership) BalanceOnce() int {
	reachable := map[int32]bool{}
	n := 0
	for name, t := range l.meta.View().Topics {
		for i, p := range t.Partitions {
			if len(p.Nodes) < 2 || p.Nodes[0] == l.nodeID || !l.parts.Has(partition.TP{Topic: name, Partition: int32(i)}) {
				continue
			}
			mine := -1
			for j, node := range p.Nodes {
				if node == l.nodeID {
					mine = j
				}
			}
			if mine < 0 {
				continue
			}
			id, _, ok, err := l.nh.GetLeaderID(p.ShardID)
			if err != nil || !ok || id != p.Replicas[mine] {
				continue
			}
			pref := p.Nodes[0]
			if _, seen := reachable[pref]; !seen {
				reachable[pref] = dialable(l.raftAddr(pref))
			}
			if !reachable[pref] {
				continue
			}
			l.parts.QuiesceShard(p.ShardID)
			if err := l.nh.RequestLeaderTransfer(p.ShardID, p.Replicas[0]); err == nil {
				n++
			}
		}
	}
	return n
}

// Evacuate hands every shard this broker leads to another reachable
// replica and waits until it leads none or ctx ends; it returns how many
// shards it still leads. Used for controlled shutdown so that a rolling
// restart does not wait out election timeouts.
func (l *Leadership) Evacuate(ctx context.Context) int {
	led := func() []dragonboat.ShardInfo {
		var out []dragonboat.ShardInfo
		for _, si := range l.nh.GetNodeHostInfo(dragonboat.NodeHostInfoOption{SkipLogInfo: true}).ShardInfoList {
			if si.LeaderID == si.ReplicaID && len(si.Replicas) > 1 {
				out = append(out, si)
			}
		}
		return out
	}
	asked := map[uint64]time.Time{} // re-asked if still ours after a while
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		shards := led()
		if len(shards) == 0 {
			return 0
		}
		for _, si := range shards {
			if time.Since(asked[si.ShardID]) < 500*time.Millisecond {
				continue
			}
			for id, addr := range si.Replicas {
				if id != si.ReplicaID && dialable(addr) {
					l.parts.QuiesceShard(si.ShardID)
					if err := l.nh.RequestLeaderTransfer(si.ShardID, id); err == nil {
						asked[si.ShardID] = time.Now()
					}
					break
				}
			}
		}
		select {
		case <-ctx.Done():
			return len(shards)
		case <-tick.C:
		}
	}
}

// dialable reports whether a broker's Raft port accepts connections.
func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

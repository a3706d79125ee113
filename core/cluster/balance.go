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
	// tries holds, for each shard this broker was asked to hand over and
	// still leads, how many balancing rounds to skip before asking again.
	tries map[uint64]transferTries
}

// transferTries is the back-off of one shard's hand-over: a transfer to a
// follower that has not applied everything it knows is committed is
// refused (Dragonboat: "campaign skipped, pending config change"), which
// under steady load is most of the time, and each refused transfer stops
// the shard's proposals until the leader gives it up an election timeout
// later. So a shard that is still ours after a request waits 1, 2, 4, …
// rounds (at most maxTransferSkip) before the next.
type transferTries struct {
	skip, backoff int
}

// round is one balancing round for a shard this broker still leads that
// prefers another broker; asked says whether a transfer was requested in
// an earlier round (so it did not take). It returns the new state and
// whether to request a transfer now.
func (t transferTries) round(asked bool) (transferTries, bool) {
	if t.skip > 0 {
		t.skip--
		return t, false
	}
	if asked {
		t.backoff = min(2*t.backoff+1, maxTransferSkip)
		t.skip = t.backoff
	}
	return t, true
}

// maxTransferSkip caps the back-off: with the 10 s balancing interval a
// busy shard is asked again about every 5 minutes, the period of Kafka's
// own leader.imbalance.check.interval.seconds.
const maxTransferSkip = 30

// NewLeadership returns the leadership manager of one broker.
func NewLeadership(nh *dragonboat.NodeHost, meta *raftsm.Meta, parts *partition.Service, nodeID int32, raftAddr func(int32) string, log *slog.Logger) *Leadership {
	return &Leadership{nh: nh, meta: meta, parts: parts, nodeID: nodeID, raftAddr: raftAddr, log: log, tries: map[uint64]transferTries{}}
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
// whose preferred replica is another, reachable broker, unless the
// shard's back-off (transferTries) says to wait; it returns how many it
// requested. Calls must not overlap.
func (l *Leadership) BalanceOnce() int {
	reachable := map[int32]bool{}
	n := 0
	seen := map[uint64]bool{}
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
			seen[p.ShardID] = true
			t, asked := l.tries[p.ShardID]
			t, ask := t.round(asked)
			l.tries[p.ShardID] = t
			if !ask {
				continue
			}
			if asked {
				l.log.Debug("leadership transfer to the preferred replica did not take; backing off",
					"topic", name, "partition", i, "preferred", pref, "rounds", t.backoff)
			}
			if err := l.parts.TransferShard(p.ShardID, p.Replicas[0]); err == nil {
				n++
			}
		}
	}
	for shard := range l.tries {
		if !seen[shard] {
			delete(l.tries, shard) // moved, or no longer ours
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
					if err := l.parts.TransferShard(si.ShardID, id); err == nil {
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

package cluster

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/lni/dragonboat/v4/raftio"

	"github.com/chronik-go/chronik/raftsm"
)

// LeaderOf returns the last leader reported for a shard and its epoch
// (the Raft term), from the meta state.
func (s *Service) LeaderOf(shard uint64) (node, epoch int32, ok bool) {
	r, ok := s.meta.View().Leaders[shard]
	if !ok {
		return -1, -1, false
	}
	return r.Node, int32(r.Term), true
}

// Knows reports whether topic exists and has partition p.
func (s *Service) Knows(topic string, p int32) (shard uint64, ok bool) {
	t, ok := s.meta.View().Topics[topic]
	if !ok || p < 0 || int(p) >= len(t.Partitions) {
		return 0, false
	}
	return t.Partitions[p].ShardID, true
}

// LeaderReporter tells the meta shard about every shard this broker comes
// to lead, so that brokers without a replica can route clients. It is a
// raftio.IRaftEventListener; Dragonboat calls it on one goroutine, so it
// only queues the event and a goroutine of its own proposes.
type LeaderReporter struct {
	nodeID  int32
	service func() *Service // set once the cluster service exists
	log     *slog.Logger
	events  chan raftio.LeaderInfo
	held    atomic.Bool // SetHeld
}

// SetHeld holds the reports back (queued, not dropped) until called with
// false: for tests of what brokers do before a new leader's report lands.
func (r *LeaderReporter) SetHeld(held bool) { r.held.Store(held) }

// NewLeaderReporter returns a reporter; call Run to start proposing.
func NewLeaderReporter(nodeID int32, service func() *Service, log *slog.Logger) *LeaderReporter {
	return &LeaderReporter{nodeID: nodeID, service: service, log: log, events: make(chan raftio.LeaderInfo, 4096)}
}

// LeaderUpdated implements raftio.IRaftEventListener.
func (r *LeaderReporter) LeaderUpdated(info raftio.LeaderInfo) {
	if info.ShardID == raftsm.MetaShardID || info.LeaderID == 0 || info.LeaderID != info.ReplicaID {
		return
	}
	select {
	case r.events <- info:
	default:
		r.log.Warn("leader report queue full; metadata on other brokers may lag", "shard", info.ShardID)
	}
}

// Run proposes queued reports until ctx ends. A report that fails is
// retried while this broker still leads that term.
func (r *LeaderReporter) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case info := <-r.events:
			for r.held.Load() && ctx.Err() == nil {
				time.Sleep(10 * time.Millisecond)
			}
			r.report(ctx, info)
		}
	}
}

func (r *LeaderReporter) report(ctx context.Context, info raftio.LeaderInfo) {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		s := r.service()
		if s == nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if id, term, ok, err := s.nh.GetLeaderID(info.ShardID); err != nil || !ok || id != info.ReplicaID || term != info.Term {
			return // no longer ours; the new leader reports itself
		}
		// Brokers without a replica of the shard route clients by this
		// report. It is idempotent (shard, node, term), so an attempt
		// lost on the way to a meta leader that just died is retried.
		pctx, cancel := context.WithTimeout(ctx, proposalAttemptTimeout)
		_, err := s.propose(pctx, raftsm.EncodeReportLeader(info.ShardID, r.nodeID, info.Term))
		cancel()
		if err == nil {
			return
		}
		if attempt%10 == 0 {
			r.log.Warn("cannot report partition leadership to the meta shard; retrying", "shard", info.ShardID, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

var _ raftio.IRaftEventListener = (*LeaderReporter)(nil)

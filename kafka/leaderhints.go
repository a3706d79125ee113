package kafka

// KIP-951 leader hints. A partition answered NOT_LEADER_OR_FOLLOWER in
// Produce v10+ or Fetch v16+ carries CurrentLeader (the leader's broker ID
// and epoch as this broker's Raft view has them) and the response lists
// that broker's endpoint. A client that gets a newer epoch moves the
// partition at once; one that gets the epoch it already knows retries
// after its usual backoff without waiting for a metadata refresh. Without
// hints every such answer costs a metadata request, and franz-go waits
// until its last one is MetadataMinAge (5 s) old. No hint is given while
// the leader is unknown (an election): the client asks for metadata.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/partition"
)

// leaderHint returns tp's leader and epoch when both are known.
func (s *Server) leaderHint(tp partition.TP) (leader, epoch int32, ok bool) {
	st, err := s.backend.PartitionState(tp)
	if err != nil || st.Leader < 0 || st.LeaderEpoch < 0 {
		return -1, -1, false
	}
	return st.Leader, st.LeaderEpoch, true
}

// hintEndpoints calls add for every known broker whose ID is in ids.
func (s *Server) hintEndpoints(ids []int32, add func(b cluster.Broker, rack *string)) {
	if len(ids) == 0 {
		return
	}
	for _, b := range s.backend.Brokers() {
		if slices.Contains(ids, b.ID) {
			var rack *string
			if b.Rack != "" {
				r := b.Rack
				rack = &r
			}
			add(b, rack)
		}
	}
}

// addProduceHints fills the hints of a Produce v10+ response.
func (s *Server) addProduceHints(resp *kmsg.ProduceResponse, pending []producePending) {
	var ids []int32
	for _, pp := range pending {
		if pp.out.ErrorCode != kerr.NotLeaderForPartition.Code {
			continue
		}
		if leader, epoch, ok := s.leaderHint(pp.tp); ok {
			pp.out.CurrentLeader.LeaderID, pp.out.CurrentLeader.LeaderEpoch = leader, epoch
			if !slices.Contains(ids, leader) {
				ids = append(ids, leader)
			}
		}
	}
	s.hintEndpoints(ids, func(b cluster.Broker, rack *string) {
		e := kmsg.NewProduceResponseBroker()
		e.NodeID, e.Host, e.Port, e.Rack = b.ID, b.Host, b.Port, rack
		resp.Brokers = append(resp.Brokers, e)
	})
}

// addFetchHints fills the hints of a Fetch v16+ response.
func (s *Server) addFetchHints(resp *kmsg.FetchResponse, parts []fetchPartition) {
	var ids []int32
	for _, p := range parts {
		if p.out.ErrorCode != kerr.NotLeaderForPartition.Code {
			continue
		}
		if leader, epoch, ok := s.leaderHint(p.tp); ok {
			p.out.CurrentLeader.LeaderID, p.out.CurrentLeader.LeaderEpoch = leader, epoch
			if !slices.Contains(ids, leader) {
				ids = append(ids, leader)
			}
		}
	}
	s.hintEndpoints(ids, func(b cluster.Broker, rack *string) {
		e := kmsg.NewFetchResponseBroker()
		e.NodeID, e.Host, e.Port, e.Rack = b.ID, b.Host, b.Port, rack
		resp.Brokers = append(resp.Brokers, e)
	})
}

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

// leaderHints sets the hint of each of n partition answers that is
// NOT_LEADER_OR_FOLLOWER (answer returns its partition and error code, set
// stores a hint) and returns the hinted leaders' IDs, each once.
func (s *Server) leaderHints(n int, answer func(i int) (partition.TP, int16), set func(i int, leader, epoch int32)) []int32 {
	var ids []int32
	for i := range n {
		tp, code := answer(i)
		if code != kerr.NotLeaderForPartition.Code {
			continue
		}
		st, err := s.backend.PartitionState(tp)
		if err != nil || st.Leader < 0 || st.LeaderEpoch < 0 {
			continue // no leader known: the client asks for metadata
		}
		set(i, st.Leader, st.LeaderEpoch)
		if !slices.Contains(ids, st.Leader) {
			ids = append(ids, st.Leader)
		}
	}
	return ids
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
	ids := s.leaderHints(len(pending),
		func(i int) (partition.TP, int16) { return pending[i].tp, pending[i].out.ErrorCode },
		func(i int, leader, epoch int32) {
			pending[i].out.CurrentLeader.LeaderID, pending[i].out.CurrentLeader.LeaderEpoch = leader, epoch
		})
	s.hintEndpoints(ids, func(b cluster.Broker, rack *string) {
		e := kmsg.NewProduceResponseBroker()
		e.NodeID, e.Host, e.Port, e.Rack = b.ID, b.Host, b.Port, rack
		resp.Brokers = append(resp.Brokers, e)
	})
}

// addFetchHints fills the hints of a Fetch v16+ response.
func (s *Server) addFetchHints(resp *kmsg.FetchResponse, parts []fetchPartition) {
	ids := s.leaderHints(len(parts),
		func(i int) (partition.TP, int16) { return parts[i].tp, parts[i].out.ErrorCode },
		func(i int, leader, epoch int32) {
			parts[i].out.CurrentLeader.LeaderID, parts[i].out.CurrentLeader.LeaderEpoch = leader, epoch
		})
	s.hintEndpoints(ids, func(b cluster.Broker, rack *string) {
		e := kmsg.NewFetchResponseBroker()
		e.NodeID, e.Host, e.Port, e.Rack = b.ID, b.Host, b.Port, rack
		resp.Brokers = append(resp.Brokers, e)
	})
}

package partition

import (
	"context"
	"time"
)

// Leadership transfers. Dragonboat drops every proposal while a shard's
// leadership is being transferred, and a follower asked to take over
// refuses to campaign while it has committed entries it has not applied
// ("campaign skipped, pending config change"), which under steady load is
// nearly always; the leader then gives the transfer up after an election
// timeout. A client refused in that window (NOT_LEADER_OR_FOLLOWER)
// refreshes its metadata, finds the same leader, is refused again and
// waits out its minimum metadata age (franz-go: 5 s) before asking again.
//
// So appends to the shard pause first: in-flight entries commit, the
// follower hears of the commit with the next heartbeat and applies it,
// and only then is the transfer requested. The pause lasts until
// leadership changes or the transfer has had twice the election timeout
// to happen; appends then go on in order, to the new leader's refusal
// (with its address, KIP-951) or to this replica if it still leads.

// SetElectionTimeout tells the service the partitions' Raft election
// timeout, which bounds a leadership transfer and so how long appends
// pause for one.
func (s *Service) SetElectionTimeout(d time.Duration) { s.electionTimeout.Store(int64(d)) }

// defaultElectionTimeout is used before SetElectionTimeout.
const defaultElectionTimeout = 200 * time.Millisecond

func (s *Service) election() time.Duration {
	if d := time.Duration(s.electionTimeout.Load()); d > 0 {
		return d
	}
	return defaultElectionTimeout
}

// dropHold is how long a transfer can keep proposals dropped: Dragonboat
// gives one up an election timeout after it began, counted in ticks.
func (s *Service) dropHold() time.Duration { return 2 * s.election() }

// transferQuiet is how long appends pause before a transfer is requested:
// half the election timeout (100 ms, five heartbeats, by default) for the
// target to learn of and apply the last commits.
func (s *Service) transferQuiet() time.Duration { return s.election() / 2 }

// TransferLeadership asks the Raft group of the local replica of tp to
// make replicaID its leader. It returns at once; the transfer happens in
// the background (see TransferShard).
func (s *Service) TransferLeadership(tp TP, replicaID uint64) error {
	r := s.lookup(tp)
	if r == nil {
		return ErrUnknownPartition
	}
	return s.transfer(r, replicaID)
}

// TransferShard is TransferLeadership by shard ID. For a shard with no
// local partition replica (the meta and coordinator shards) it asks
// Dragonboat directly.
func (s *Service) TransferShard(shardID, replicaID uint64) error {
	s.mu.RLock()
	r := s.mu.byShard[shardID]
	s.mu.RUnlock()
	if r == nil {
		return s.nh.RequestLeaderTransfer(shardID, replicaID)
	}
	return s.transfer(r, replicaID)
}

// transfer, on the leader, runs the transfer hook (uploads finish; appends
// go on), pauses r's appends, waits transferQuiet, requests the transfer
// and resumes appends once leadership changes or dropHold has passed; a
// transfer already under way for r is left to finish (nil). On a follower
// it only asks Raft, which forwards the request to the leader, whose
// appends then do not pause.
func (s *Service) transfer(r *replica, replicaID uint64) error {
	if _, _, isUs, err := r.leader(); err != nil || !isUs {
		// Not ours to pause: Raft forwards the request to the leader.
		s.beforeTransfer(r.tp)
		return s.nh.RequestLeaderTransfer(r.shardID, replicaID)
	}
	if replicaID == r.id || !r.transferring.CompareAndSwap(false, true) {
		return nil // leads already, or a transfer is under way
	}
	go func() {
		defer r.transferring.Store(false)
		s.beforeTransfer(r.tp)
		pause := make(chan struct{})
		r.paused.Store(&pause)
		defer func() {
			r.paused.Store(nil)
			close(pause)
		}()
		lost := s.leadership.watch(r.shardID)
		if _, _, isUs, err := r.leader(); err != nil || !isUs {
			return
		}
		select {
		case <-lost:
			return
		case <-time.After(s.transferQuiet()):
		}
		if err := s.nh.RequestLeaderTransfer(r.shardID, replicaID); err != nil {
			s.log.Warn("leadership transfer refused", "topic", r.tp.Topic, "partition", r.tp.Partition, "to_replica", replicaID, "err", err)
			return
		}
		hold, stop := context.WithTimeout(context.Background(), s.dropHold())
		defer stop()
		select {
		case <-lost:
			// Resume once the new leader is known, so that the appends
			// refused now name it (KIP-951).
			r.awaitLeader(hold.Done())
		case <-hold.Done():
		}
	}()
	return nil
}

// waitTransfer blocks an append while a transfer of r is under way (at
// most transferQuiet plus dropHold).
func (r *replica) waitTransfer() {
	if ch := r.paused.Load(); ch != nil {
		<-*ch
	}
}

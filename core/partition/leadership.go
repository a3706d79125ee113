package partition

import (
	"sync"

	"github.com/lni/dragonboat/v4/raftio"
)

// leadershipSignals lets a waiting produce learn that its shard's
// leadership changed. A leader that is cut off or deposed never gets a
// result for the proposals a new leader overwrote; without this signal the
// producer would wait out its whole request timeout instead of being told
// NOT_LEADER_OR_FOLLOWER and retrying at the new leader, as Kafka does.
type leadershipSignals struct {
	mu sync.Mutex
	ch map[uint64]chan struct{} // shard → closed on the next leadership change
}

// watch returns a channel closed at the shard's next leadership change.
func (l *leadershipSignals) watch(shard uint64) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ch == nil {
		l.ch = map[uint64]chan struct{}{}
	}
	ch, ok := l.ch[shard]
	if !ok {
		ch = make(chan struct{})
		l.ch[shard] = ch
	}
	return ch
}

func (l *leadershipSignals) changed(shard uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ch, ok := l.ch[shard]; ok {
		close(ch)
		delete(l.ch, shard)
	}
}

// awaitLeader waits until the shard has a known leader, or until done
// closes (known false). Between a leader stepping down and its successor
// being heard of, a replica knows no leader: a client refused in that
// window gets no KIP-951 hint and has to ask for metadata. lost is the
// watch taken before the last look, closed at the next change after it.
func (r *replica) awaitLeader(done <-chan struct{}) (epoch int32, isUs, known bool, lost <-chan struct{}) {
	for {
		lost = r.svc.leadership.watch(r.shardID)
		if _, epoch, isUs, err := r.leader(); err == nil {
			return epoch, isUs, true, lost
		}
		select {
		case <-lost:
		case <-done:
			return 0, false, false, lost
		}
	}
}

// LeaderUpdated implements raftio.IRaftEventListener: it wakes the produces
// waiting on the shard so they can check whether this replica still leads,
// and has a replica that became leader confirm its term (readiness.go).
func (s *Service) LeaderUpdated(info raftio.LeaderInfo) {
	s.leadership.changed(info.ShardID)
	if r := s.lookupShard(info.ShardID); r != nil && info.LeaderID == r.id {
		s.confirmLeadership(r, info.Term)
	}
}

var _ raftio.IRaftEventListener = (*Service)(nil)

package assign

// State is where a member stands on its way to its target (Kafka's
// MemberState).
type State uint8

// Member states. Values are stored (raftsm); keep them stable.
const (
	// Stable: the member holds its whole target at the target's epoch.
	Stable State = 0
	// UnrevokedPartitions: the member must give up Revoking before it
	// moves to the target's epoch; it stays at its epoch meanwhile.
	UnrevokedPartitions State = 1
	// UnreleasedPartitions: the member is at the target's epoch but part of
	// its target is still held by other members, who must release it.
	UnreleasedPartitions State = 2
)

func (s State) String() string {
	switch s {
	case Stable:
		return "stable"
	case UnrevokedPartitions:
		return "unrevoked_partitions"
	case UnreleasedPartitions:
		return "unreleased_partitions"
	}
	return "unknown"
}

// Current is one member's assignment as the group holds it.
type Current struct {
	// Epoch is the member epoch; PreviousEpoch the one before it (a
	// heartbeat at it is accepted when the answer that moved the member
	// may have been lost).
	Epoch, PreviousEpoch int32
	State                State
	// Assigned are the partitions the member may consume.
	Assigned Partitions
	// Revoking are the partitions it must give up; no other member gets
	// them until it has.
	Revoking Partitions
	// Since holds, for every partition of Assigned and Revoking, the member
	// epoch it was assigned at (KIP-1251): a commit at an older epoch than
	// the member's is still the member's for partitions it has held since
	// then.
	Since map[TopicPartition]int32
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     TopicID
	Partition int32
}

// Held reports whether the member holds a partition (assigned or being
// revoked) since epoch or earlier: a commit it made at epoch is its own.
func (c Current) Held(t TopicID, p int32, epoch int32) bool {
	since, ok := c.Since[TopicPartition{t, p}]
	return ok && since <= epoch && (c.Assigned.Has(t, p) || c.Revoking.Has(t, p))
}

// since is when the member got a partition it holds; the epoch it is at
// when nothing says (a record written before Since was kept).
func (c Current) since(t TopicID, p int32) int32 {
	if e, ok := c.Since[TopicPartition{t, p}]; ok {
		return e
	}
	return c.Epoch
}

// Reconcile moves m towards target, the group's target for it at
// targetEpoch. owned are the partitions the member's heartbeat says it
// owns, nil when the heartbeat did not say (then the member is assumed to
// still own what it was told to revoke). taken reports whether another
// member holds a partition, assigned or being revoked.
//
// The member first revokes what is not in its target, at its epoch; once
// its heartbeat no longer lists any of it, it moves to targetEpoch with
// every partition of its target that no other member holds; it picks up
// the rest as they are released.
func Reconcile(m Current, targetEpoch int32, target, owned Partitions, taken func(TopicID, int32) bool) Current {
	if m.State == Stable && m.Epoch == targetEpoch {
		return m
	}
	keep, revoke, add := Partitions{}, Partitions{}, Partitions{}
	since := map[TopicPartition]int32{}
	unreleased := false
	held := func(t TopicID, p int32) bool { return m.Assigned.Has(t, p) || m.Revoking.Has(t, p) }
	for _, set := range []Partitions{m.Assigned, m.Revoking} {
		for t, ps := range set {
			for _, p := range ps {
				since[TopicPartition{t, p}] = m.since(t, p)
				if target.Has(t, p) {
					keep.add(t, p)
				} else {
					revoke.add(t, p)
				}
			}
		}
	}
	for t, ps := range target {
		for _, p := range ps {
			switch {
			case held(t, p):
			case taken(t, p):
				unreleased = true
			default:
				add.add(t, p)
			}
		}
	}
	if len(revoke) > 0 && (owned == nil || owned.Intersects(revoke)) {
		return Current{Epoch: m.Epoch, PreviousEpoch: m.PreviousEpoch, State: UnrevokedPartitions, Assigned: keep, Revoking: revoke, Since: since}
	}
	for t, ps := range revoke {
		for _, p := range ps {
			delete(since, TopicPartition{t, p})
		}
	}
	for t, ps := range add {
		for _, p := range ps {
			keep.add(t, p)
			since[TopicPartition{t, p}] = targetEpoch
		}
	}
	next := Current{Epoch: targetEpoch, PreviousEpoch: m.PreviousEpoch, State: Stable, Assigned: keep, Revoking: Partitions{}, Since: since}
	if targetEpoch != m.Epoch {
		next.PreviousEpoch = m.Epoch
	}
	if unreleased {
		next.State = UnreleasedPartitions
	}
	return next
}

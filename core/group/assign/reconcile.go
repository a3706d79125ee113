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
	unreleased := false
	held := func(t TopicID, p int32) bool { return m.Assigned.Has(t, p) || m.Revoking.Has(t, p) }
	for _, set := range []Partitions{m.Assigned, m.Revoking} {
		for t, ps := range set {
			for _, p := range ps {
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
		return Current{Epoch: m.Epoch, PreviousEpoch: m.PreviousEpoch, State: UnrevokedPartitions, Assigned: keep, Revoking: revoke}
	}
	for t, ps := range add {
		for _, p := range ps {
			keep.add(t, p)
		}
	}
	next := Current{Epoch: targetEpoch, PreviousEpoch: m.PreviousEpoch, State: Stable, Assigned: keep, Revoking: Partitions{}}
	if targetEpoch != m.Epoch {
		next.PreviousEpoch = m.Epoch
	}
	if unreleased {
		next.State = UnreleasedPartitions
	}
	return next
}

package assign

import (
	"slices"
	"strings"
)

// Member is one group member as an assignor sees it.
type Member struct {
	ID string
	// Topics are the subscribed topics that exist.
	Topics []TopicID
	// Current is the member's target in the group's previous target
	// assignment; the uniform assignor keeps what it can of it.
	Current Partitions
}

// Assignor computes a group's target assignment.
type Assignor interface {
	// Name is what ConsumerGroupHeartbeat's ServerAssignor names.
	Name() string
	// Assign returns each member's target. counts holds the partition
	// count of every topic some member subscribes to. Every partition of
	// a subscribed topic goes to exactly one member that subscribes to it.
	Assign(members []Member, counts map[TopicID]int32) map[string]Partitions
}

// DefaultAssignor is the assignor of a group none of whose members names
// one (Kafka's group.consumer.assignors default: uniform first).
const DefaultAssignor = "uniform"

// Lookup returns the assignor with the given name.
func Lookup(name string) (Assignor, bool) {
	switch name {
	case Uniform{}.Name():
		return Uniform{}, true
	case Range{}.Name():
		return Range{}, true
	}
	return nil, false
}

// Names lists the assignors this broker runs.
func Names() []string { return []string{Uniform{}.Name(), Range{}.Name()} }

// sortedMembers returns members ordered by ID, the order every assignor
// breaks ties in.
func sortedMembers(members []Member) []Member {
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return ms
}

// Uniform spreads every subscribed partition over the members so that
// counts differ by at most one between members that could swap them, and
// keeps each member's previous partitions where that balance allows
// (Kafka's uniform assignor: sticky, balanced, subscriptions may differ).
type Uniform struct{}

// Name is "uniform".
func (Uniform) Name() string { return "uniform" }

// Assign keeps every partition where it was, gives the unowned ones to the
// least loaded member subscribing to their topic, then moves partitions
// from members with at least two more than an eligible member until none
// can move.
func (Uniform) Assign(members []Member, counts map[TopicID]int32) map[string]Partitions {
	ms := sortedMembers(members)
	subscribed := make([]map[TopicID]bool, len(ms))
	eligible := map[TopicID][]int{} // topic → members subscribing, by index
	for i, m := range ms {
		subscribed[i] = map[TopicID]bool{}
		for _, t := range m.Topics {
			if _, ok := counts[t]; ok && !subscribed[i][t] {
				subscribed[i][t] = true
				eligible[t] = append(eligible[t], i)
			}
		}
	}
	owner := map[partition]int{}
	held := make([][]partition, len(ms))
	// Sticky: each member keeps its previous partitions that still exist
	// and that it still subscribes to.
	for i, m := range ms {
		for _, t := range m.Current.Topics() {
			if !subscribed[i][t] {
				continue
			}
			for _, p := range m.Current[t] {
				x := partition{t, p}
				if _, taken := owner[x]; taken || p < 0 || p >= counts[t] {
					continue
				}
				owner[x] = i
				held[i] = append(held[i], x)
			}
		}
	}
	leastLoaded := func(t TopicID) int {
		best := -1
		for _, i := range eligible[t] {
			if best < 0 || len(held[i]) < len(held[best]) {
				best = i
			}
		}
		return best
	}
	// The rest go to the least loaded eligible member, in partition order.
	for _, t := range sortedTopics(counts) {
		if len(eligible[t]) == 0 {
			continue
		}
		for p := range counts[t] {
			x := partition{t, p}
			if _, taken := owner[x]; taken {
				continue
			}
			i := leastLoaded(t)
			owner[x] = i
			held[i] = append(held[i], x)
		}
	}
	// Balance: one partition at a time from the most loaded member that
	// has one an eligible member with at least two fewer could take, to
	// the least loaded such member. Each move lowers the sum of squared
	// loads, so this ends; moving from the top keeps members that were
	// balanced from trading partitions.
	order := make([]int, len(ms))
	for i := range order {
		order[i] = i
	}
	for moved := true; moved; {
		moved = false
		slices.SortStableFunc(order, func(a, b int) int { return len(held[b]) - len(held[a]) })
		for _, a := range order {
			slices.SortFunc(held[a], comparePartitions)
			for k := len(held[a]) - 1; k >= 0 && !moved; k-- {
				x := held[a][k]
				if b := leastLoaded(x.topic); len(held[b])+1 < len(held[a]) {
					held[a] = slices.Delete(held[a], k, k+1)
					held[b] = append(held[b], x)
					moved = true
				}
			}
			if moved {
				break
			}
		}
	}
	out := make(map[string]Partitions, len(ms))
	for i, m := range ms {
		ps := Partitions{}
		for _, x := range held[i] {
			ps.add(x.topic, x.part)
		}
		out[m.ID] = ps
	}
	return out
}

// Range gives each member subscribing to a topic a contiguous range of its
// partitions, the first members by ID one more when they do not divide
// evenly (the classic range assignor, done by the broker).
type Range struct{}

// Name is "range".
func (Range) Name() string { return "range" }

// Assign splits each topic over its subscribers in member-ID order.
func (Range) Assign(members []Member, counts map[TopicID]int32) map[string]Partitions {
	ms := sortedMembers(members)
	out := make(map[string]Partitions, len(ms))
	subscribers := map[TopicID][]string{}
	for _, m := range ms {
		out[m.ID] = Partitions{}
		seen := map[TopicID]bool{}
		for _, t := range m.Topics {
			if _, ok := counts[t]; ok && !seen[t] {
				seen[t] = true
				subscribers[t] = append(subscribers[t], m.ID)
			}
		}
	}
	for t, ids := range subscribers {
		n := int(counts[t])
		each, extra := n/len(ids), n%len(ids)
		start := 0
		for k, id := range ids {
			size := each
			if k < extra {
				size++
			}
			for p := start; p < start+size; p++ {
				out[id].add(t, int32(p))
			}
			start += size
		}
	}
	return out
}

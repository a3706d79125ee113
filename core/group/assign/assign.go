// Package assign is the assignment logic of KIP-848 consumer groups (the
// "consumer" group protocol, ConsumerGroupHeartbeat): the server-side
// assignors that turn the members' subscriptions into a target assignment
// (Uniform, Range) and Reconcile, which moves one member from the
// partitions it holds towards its target without two members ever holding
// the same partition (Kafka's CurrentAssignmentBuilder).
//
// It is pure: no I/O, no clocks, no locks; core/group owns the state and
// calls it under the group's mutex.
package assign

import (
	"bytes"
	"cmp"
	"maps"
	"slices"
)

// TopicID is a topic's UUID, as the consumer protocol names topics.
type TopicID = [16]byte

// Partitions is a set of partitions: topic ID → partitions, sorted and
// without duplicates. Topics with no partitions are absent.
type Partitions map[TopicID][]int32

// Clone returns a deep copy.
func (p Partitions) Clone() Partitions {
	out := make(Partitions, len(p))
	for t, ps := range p {
		out[t] = slices.Clone(ps)
	}
	return out
}

// Equal reports whether p and q hold the same partitions.
func (p Partitions) Equal(q Partitions) bool {
	return maps.EqualFunc(p, q, slices.Equal[[]int32])
}

// Len is the number of partitions.
func (p Partitions) Len() int {
	n := 0
	for _, ps := range p {
		n += len(ps)
	}
	return n
}

// Has reports whether p holds partition part of topic t.
func (p Partitions) Has(t TopicID, part int32) bool {
	_, ok := slices.BinarySearch(p[t], part)
	return ok
}

// SubsetOf reports whether every partition of p is in q.
func (p Partitions) SubsetOf(q Partitions) bool {
	for t, ps := range p {
		for _, part := range ps {
			if !q.Has(t, part) {
				return false
			}
		}
	}
	return true
}

// Intersects reports whether p and q share a partition.
func (p Partitions) Intersects(q Partitions) bool {
	for t, ps := range p {
		for _, part := range ps {
			if q.Has(t, part) {
				return true
			}
		}
	}
	return false
}

// add adds one partition, keeping the order.
func (p Partitions) add(t TopicID, part int32) {
	ps := p[t]
	i, ok := slices.BinarySearch(ps, part)
	if !ok {
		p[t] = slices.Insert(ps, i, part)
	}
}

// remove removes one partition.
func (p Partitions) remove(t TopicID, part int32) {
	ps := p[t]
	if i, ok := slices.BinarySearch(ps, part); ok {
		ps = slices.Delete(ps, i, i+1)
		if len(ps) == 0 {
			delete(p, t)
		} else {
			p[t] = ps
		}
	}
}

// Topics returns p's topic IDs in byte order (deterministic iteration).
func (p Partitions) Topics() []TopicID { return sortedTopics(p) }

// sortedTopics returns the keys of m in byte order.
func sortedTopics[V any](m map[TopicID]V) []TopicID {
	ts := slices.Collect(maps.Keys(m))
	slices.SortFunc(ts, func(a, b TopicID) int { return bytes.Compare(a[:], b[:]) })
	return ts
}

// Normalize sorts each topic's partitions, drops duplicates, negative
// partitions and empty topics: a client's owned partitions as they come.
func Normalize(p Partitions) Partitions {
	out := make(Partitions, len(p))
	for t, ps := range p {
		ps = slices.Clone(ps)
		slices.Sort(ps)
		ps = slices.Compact(ps)
		for len(ps) > 0 && ps[0] < 0 {
			ps = ps[1:]
		}
		if len(ps) > 0 {
			out[t] = ps
		}
	}
	return out
}

// partition is one partition of one topic.
type partition struct {
	topic TopicID
	part  int32
}

func comparePartitions(a, b partition) int {
	if c := bytes.Compare(a.topic[:], b.topic[:]); c != 0 {
		return c
	}
	return cmp.Compare(a.part, b.part)
}

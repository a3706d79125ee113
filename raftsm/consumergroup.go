package raftsm

import (
	"bytes"
	"slices"
)

// ConsumerGroup is what a KIP-848 consumer group (ConsumerGroupHeartbeat)
// stores beyond the GroupRecord fields it shares with classic groups; a
// group record is a consumer group's exactly when its Consumer is set
// (ProtocolType is "consumer", as for classic consumers). Generation is the
// group epoch, Protocol the assignor that computed the target assignment,
// Leader is empty, and each member's Metadata and Assignment are empty
// (its Consumer holds them). Stored as a trailing section of the group
// record (LevelConsumerGroups): releases before it refuse the record.
type ConsumerGroup struct {
	// AssignmentEpoch is the group epoch the members' targets were
	// computed at.
	AssignmentEpoch int32
	// TopicsHash identifies the subscribed topics (names, IDs, partition
	// counts) the targets were computed from; a change bumps the epoch.
	TopicsHash uint64
}

// ConsumerMember is one member of a consumer group beyond the
// GroupMemberRecord fields (ID, instance ID, client, session and rebalance
// timeouts).
type ConsumerMember struct {
	Epoch, PreviousEpoch int32
	State                uint8 // assign.State
	RackID               string
	ServerAssignor       string
	SubscribedTopicNames []string
	SubscribedTopicRegex string
	// Assigned, Revoking and Target are by topic ID, partitions sorted.
	Assigned, Revoking, Target []TopicIDPartitions
	// Classic is set for a member on the classic protocol (JoinGroup,
	// SyncGroup, Heartbeat) that the consumer group hosts (KIP-848's
	// mixed groups): the protocols it joined with, in its order. Stored as
	// a second trailing section (LevelMixedGroups), written only when some
	// member has it, so records without such members stay readable by
	// releases of LevelConsumerGroups.
	Classic []ClassicProtocol
}

// ClassicProtocol is one protocol a classic member joined with.
type ClassicProtocol struct {
	Name     string
	Metadata []byte
}

// TopicIDPartitions are partitions of one topic named by its ID.
type TopicIDPartitions struct {
	TopicID    [16]byte
	Partitions []int32
	// Epochs (Assigned and Revoking only) holds for each partition the
	// member epoch it was assigned at (KIP-1251).
	Epochs []int32
}

// consumerSection marks the trailing consumer-group section of a group
// record, classicSection the section of its classic members after it.
const (
	consumerSection byte = 1
	classicSection  byte = 2
)

func encodeConsumerGroup(e *enc, r *GroupRecord) {
	c := r.Consumer
	e.u8(consumerSection)
	e.i32(c.AssignmentEpoch)
	e.u64(c.TopicsHash)
	for i := range r.Members {
		m := r.Members[i].Consumer
		if m == nil {
			m = &ConsumerMember{}
		}
		e.i32(m.Epoch)
		e.i32(m.PreviousEpoch)
		e.u8(m.State)
		e.str(m.RackID)
		e.str(m.ServerAssignor)
		e.uvarint(uint64(len(m.SubscribedTopicNames)))
		for _, t := range m.SubscribedTopicNames {
			e.str(t)
		}
		e.str(m.SubscribedTopicRegex)
		encodeTopicIDPartitions(e, m.Assigned, true)
		encodeTopicIDPartitions(e, m.Revoking, true)
		encodeTopicIDPartitions(e, m.Target, false)
	}
	if !slices.ContainsFunc(r.Members, func(m GroupMemberRecord) bool { return m.Consumer != nil && m.Consumer.Classic != nil }) {
		return
	}
	e.u8(classicSection)
	for i := range r.Members {
		var protocols []ClassicProtocol
		if m := r.Members[i].Consumer; m != nil {
			protocols = m.Classic
		}
		// A classic member has at least one protocol: 0 is a member on
		// the consumer protocol.
		e.uvarint(uint64(len(protocols)))
		for _, p := range protocols {
			e.str(p.Name)
			e.bytes(p.Metadata)
		}
	}
}

// encodeTopicIDPartitions writes a set of partitions, with each one's
// epoch when withEpochs (a missing epoch is written as -1).
func encodeTopicIDPartitions(e *enc, set []TopicIDPartitions, withEpochs bool) {
	e.uvarint(uint64(len(set)))
	for _, t := range set {
		e.b = append(e.b, t.TopicID[:]...)
		e.uvarint(uint64(len(t.Partitions)))
		for i, p := range t.Partitions {
			e.i32(p)
			if withEpochs {
				epoch := int32(-1)
				if i < len(t.Epochs) {
					epoch = t.Epochs[i]
				}
				e.i32(epoch)
			}
		}
	}
}

// decodeConsumerGroup reads the section encodeConsumerGroup wrote into r,
// whose members are already decoded.
func decodeConsumerGroup(d *dec, r *GroupRecord) {
	if d.u8() != consumerSection {
		if d.err == nil {
			d.err = errShortCommand
		}
		return
	}
	r.Consumer = &ConsumerGroup{AssignmentEpoch: d.i32(), TopicsHash: d.u64()}
	for i := range r.Members {
		m := &ConsumerMember{Epoch: d.i32(), PreviousEpoch: d.i32(), State: d.u8(), RackID: d.str(), ServerAssignor: d.str()}
		n := d.uvarint()
		if d.err == nil && n > uint64(len(d.b)) {
			d.err = errShortCommand
		}
		for j := uint64(0); j < n && d.err == nil; j++ {
			m.SubscribedTopicNames = append(m.SubscribedTopicNames, d.str())
		}
		m.SubscribedTopicRegex = d.str()
		m.Assigned = decodeTopicIDPartitions(d, true)
		m.Revoking = decodeTopicIDPartitions(d, true)
		m.Target = decodeTopicIDPartitions(d, false)
		r.Members[i].Consumer = m
	}
	if d.err != nil || len(d.b) == 0 || d.b[0] != classicSection {
		return
	}
	d.u8()
	for i := range r.Members {
		n := d.uvarint()
		if d.err == nil && n > uint64(len(d.b)) {
			d.err = errShortCommand
		}
		if n == 0 || d.err != nil {
			continue
		}
		protocols := make([]ClassicProtocol, 0, n)
		for j := uint64(0); j < n && d.err == nil; j++ {
			protocols = append(protocols, ClassicProtocol{Name: d.str(), Metadata: bytes.Clone(d.bytes())})
		}
		r.Members[i].Consumer.Classic = protocols
	}
}

func decodeTopicIDPartitions(d *dec, withEpochs bool) []TopicIDPartitions {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b))/17 {
		d.err = errShortCommand
	}
	var out []TopicIDPartitions
	for i := uint64(0); i < n && d.err == nil; i++ {
		var t TopicIDPartitions
		if !d.need(16) {
			break
		}
		copy(t.TopicID[:], d.b[:16])
		d.b = d.b[16:]
		k := d.uvarint()
		if d.err == nil && k > uint64(len(d.b))/4 {
			d.err = errShortCommand
		}
		for j := uint64(0); j < k && d.err == nil; j++ {
			t.Partitions = append(t.Partitions, d.i32())
			if withEpochs {
				t.Epochs = append(t.Epochs, d.i32())
			}
		}
		out = append(out, t)
	}
	return out
}

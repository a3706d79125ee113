package opsctl

import (
	"cmp"
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// GroupSummary is one row of `group list`.
type GroupSummary struct {
	Name string `json:"name"`
	// Type is "classic" (JoinGroup/SyncGroup) or "consumer" (KIP-848: the
	// broker assigns).
	Type         string `json:"type"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	Protocol     string `json:"protocol"` // the assignor, e.g. cooperative-sticky; empty while rebalancing or empty
	MemberCount  int    `json:"member_count"`
	Coordinator  int32  `json:"coordinator"`
	Error        string `json:"error,omitempty"`
}

// GroupList is the result of `group list`, sorted by name.
type GroupList struct {
	Groups []GroupSummary `json:"groups"`
}

// ListGroups lists every group with its state, protocol and member count.
func (c *Client) ListGroups(ctx context.Context) (*GroupList, error) {
	if err := c.require("list groups", keyListGroups, keyDescribeGroups, keyFindCoordinator); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	listed, err := c.adm.ListGroups(ctx)
	if err != nil && !isShardErr(err) {
		return nil, c.explain(err)
	}
	out := &GroupList{Groups: []GroupSummary{}}
	if len(listed) == 0 {
		return out, nil
	}
	var classic, consumer []string
	for _, l := range listed {
		if l.GroupType == consumerGroupType {
			consumer = append(consumer, l.Group)
		} else {
			classic = append(classic, l.Group)
		}
	}
	described, err := c.adm.DescribeGroups(ctx, classic...)
	if err != nil && !isShardErr(err) {
		return nil, c.explain(err)
	}
	var next kadm.DescribedConsumerGroups
	if len(consumer) > 0 {
		if next, err = c.adm.DescribeConsumerGroups(ctx, consumer...); err != nil && !isShardErr(err) {
			return nil, c.explain(err)
		}
	}
	for _, l := range listed.Sorted() {
		s := GroupSummary{Name: l.Group, Type: cmp.Or(l.GroupType, classicGroupType), State: l.State, ProtocolType: l.ProtocolType, Coordinator: l.Coordinator}
		var (
			found           bool
			err             error
			state, protocol string
			members         int
		)
		if s.Type == consumerGroupType {
			d, ok := next[l.Group]
			found, err, state, protocol, members = ok, d.Err, d.State, d.AssignorName, len(d.Members)
		} else {
			d, ok := described[l.Group]
			found, err, state, protocol, members = ok, d.Err, d.State, d.Protocol, len(d.Members)
		}
		switch {
		case !found:
			s.Error = "not described"
		case err != nil:
			s.Error = err.Error()
		default:
			s.State, s.Protocol, s.MemberCount = state, protocol, members
		}
		out.Groups = append(out.Groups, s)
	}
	return out, nil
}

// Group types as ListGroups v5 names them.
const (
	classicGroupType  = "classic"
	consumerGroupType = "consumer"
)

// WriteTable implements Report.
func (r *GroupList) WriteTable(w io.Writer) error {
	t := newTable(w, "GROUP", "TYPE", "STATE", "PROTOCOL", "MEMBERS")
	for _, g := range r.Groups {
		name := g.Name
		if g.Error != "" {
			name += " (error: " + g.Error + ")"
		}
		t.row(name, g.Type, g.State, protocol(g.ProtocolType, g.Protocol), itoa(g.MemberCount))
	}
	return t.flush()
}

// protocol shows "consumer/range": the type and the chosen assignor.
func protocol(typ, proto string) string {
	switch {
	case typ == "":
		return proto
	case proto == "":
		return typ
	}
	return typ + "/" + proto
}

// TopicPartitions is a topic with some of its partitions.
type TopicPartitions struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions"`
}

// GroupMember is one member in `group describe`.
type GroupMember struct {
	MemberID   string            `json:"member_id"`
	InstanceID *string           `json:"instance_id"` // static membership (group.instance.id); null if dynamic
	ClientID   string            `json:"client_id"`
	ClientHost string            `json:"client_host"`
	Assigned   []TopicPartitions `json:"assigned"` // by topic
	// MemberEpoch and Target are set in consumer (KIP-848) groups: the
	// member's epoch and the partitions it is moving to.
	MemberEpoch *int32            `json:"member_epoch,omitempty"`
	Target      []TopicPartitions `json:"target,omitempty"`
	// Protocol is set in consumer groups: "consumer", or "classic" for a
	// classic member the group hosts (KIP-848's mixed groups).
	Protocol string `json:"protocol,omitempty"`
}

// GroupOffset is one partition in `group describe`: the committed offset
// and how far it is behind the end of the partition.
type GroupOffset struct {
	Topic           string `json:"topic"`
	Partition       int32  `json:"partition"`
	CommittedOffset *int64 `json:"committed_offset"` // null if the group never committed here
	EndOffset       *int64 `json:"end_offset"`       // null if it could not be listed
	// Lag is end - committed, or end - log start without a commit; null if
	// either could not be read.
	Lag      *int64 `json:"lag"`
	MemberID string `json:"member_id"` // empty if no member has the partition
	ClientID string `json:"client_id"`
	Error    string `json:"error,omitempty"`
}

// GroupDescription is the result of `group describe`.
type GroupDescription struct {
	Name         string `json:"name"`
	Type         string `json:"type"` // "classic" or "consumer" (KIP-848)
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	Protocol     string `json:"protocol"`
	Coordinator  int32  `json:"coordinator"`
	// Epoch and AssignmentEpoch are a consumer group's group epoch and the
	// epoch of its target assignment; 0 for classic groups.
	Epoch           int32         `json:"epoch,omitempty"`
	AssignmentEpoch int32         `json:"assignment_epoch,omitempty"`
	Members         []GroupMember `json:"members"` // by member ID (static members first)
	Offsets         []GroupOffset `json:"offsets"` // by topic, then partition
	TotalLag        int64         `json:"total_lag"`
}

// DescribeGroup returns a group's members, its committed offsets and the
// lag per partition.
func (c *Client) DescribeGroup(ctx context.Context, name string) (*GroupDescription, error) {
	if err := checkName("group", name); err != nil {
		return nil, err
	}
	if err := c.require("describe groups", keyDescribeGroups, keyFindCoordinator, keyOffsetFetch, keyListOffsets); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	lags, err := c.adm.Lag(ctx, name)
	if err != nil {
		return nil, c.explain(err)
	}
	l, ok := lags[name]
	if !ok {
		return nil, c.fail(kerr.GroupIDNotFound, "", subject{"group", name})
	}
	if errors.Is(l.DescribeErr, kerr.GroupIDNotFound) && c.serves(keyConsumerGroupDescribe) {
		// DescribeGroups says so for a consumer (KIP-848) group too.
		return c.describeConsumerGroup(ctx, name)
	}
	if err := l.Error(); err != nil {
		return nil, c.fail(err, "", subject{"group", name})
	}
	if l.State == "Dead" && len(l.Members) == 0 && len(l.Lag) == 0 {
		return nil, c.fail(kerr.GroupIDNotFound, "", subject{"group", name})
	}
	out := &GroupDescription{
		Name:         l.Group,
		Type:         classicGroupType,
		State:        l.State,
		ProtocolType: l.ProtocolType,
		Protocol:     l.Protocol,
		Coordinator:  l.Coordinator.NodeID,
		Members:      []GroupMember{},
		Offsets:      []GroupOffset{},
	}
	for _, m := range l.Members {
		gm := GroupMember{
			MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, ClientHost: m.ClientHost,
			Assigned: []TopicPartitions{},
		}
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				ps := nonNil(slices.Clone(t.Partitions))
				slices.Sort(ps)
				gm.Assigned = append(gm.Assigned, TopicPartitions{Topic: t.Topic, Partitions: ps})
			}
			slices.SortFunc(gm.Assigned, func(a, b TopicPartitions) int { return strings.Compare(a.Topic, b.Topic) })
		}
		out.Members = append(out.Members, gm)
	}
	for _, ml := range l.Lag.Sorted() {
		o := GroupOffset{Topic: ml.Topic, Partition: ml.Partition}
		if ml.Commit.At >= 0 {
			o.CommittedOffset = ptr(ml.Commit.At)
		}
		if ml.End.Err == nil {
			o.EndOffset = ptr(ml.End.Offset)
		}
		if ml.Lag >= 0 && ml.Err == nil {
			o.Lag = ptr(ml.Lag)
			out.TotalLag += ml.Lag
		}
		if ml.Member != nil {
			o.MemberID, o.ClientID = ml.Member.MemberID, ml.Member.ClientID
		}
		if ml.Err != nil {
			o.Error = ml.Err.Error()
		}
		out.Offsets = append(out.Offsets, o)
	}
	slices.SortFunc(out.Offsets, func(a, b GroupOffset) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out, nil
}

// WriteTable implements Report.
func (r *GroupDescription) WriteTable(w io.Writer) error {
	return sections(w,
		func(w io.Writer) error {
			t := newTable(w)
			t.row("GROUP", r.Name)
			t.row("TYPE", r.Type)
			t.row("STATE", r.State)
			t.row("PROTOCOL", protocol(r.ProtocolType, r.Protocol))
			if r.Type == consumerGroupType {
				t.row("EPOCH", itoa(r.Epoch))
				t.row("ASSIGNMENT-EPOCH", itoa(r.AssignmentEpoch))
			}
			t.row("COORDINATOR", itoa(r.Coordinator))
			t.row("MEMBERS", itoa(len(r.Members)))
			t.row("TOTAL-LAG", itoa(r.TotalLag))
			return t.flush()
		},
		func(w io.Writer) error {
			if len(r.Members) == 0 {
				return nil // the MEMBERS 0 line says it
			}
			header := []string{"MEMBER-ID", "INSTANCE-ID", "CLIENT-ID", "HOST", "ASSIGNED"}
			if r.Type == consumerGroupType {
				header = append(header, "EPOCH", "TARGET", "PROTOCOL")
			}
			t := newTable(w, header...)
			for _, m := range r.Members {
				instance := ""
				if m.InstanceID != nil {
					instance = *m.InstanceID
				}
				row := []string{m.MemberID, instance, m.ClientID, m.ClientHost, topicPartitions(m.Assigned)}
				if r.Type == consumerGroupType {
					row = append(row, optInt(m.MemberEpoch), topicPartitions(m.Target), m.Protocol)
				}
				t.row(row...)
			}
			return t.flush()
		},
		func(w io.Writer) error {
			withErr := slices.ContainsFunc(r.Offsets, func(o GroupOffset) bool { return o.Error != "" })
			header := []string{"TOPIC", "PARTITION", "COMMITTED-OFFSET", "END-OFFSET", "LAG", "MEMBER-ID", "CLIENT-ID"}
			if withErr {
				header = append(header, "ERROR")
			}
			t := newTable(w, header...)
			for _, o := range r.Offsets {
				row := []string{o.Topic, itoa(o.Partition), optInt(o.CommittedOffset), optInt(o.EndOffset), optInt(o.Lag), o.MemberID, o.ClientID}
				if withErr {
					row = append(row, o.Error)
				}
				t.row(row...)
			}
			return t.flush()
		},
	)
}

// topicPartitions shows partitions as "topic:0,1 other:2".
func topicPartitions(tps []TopicPartitions) string {
	var out []string
	for _, tp := range tps {
		out = append(out, tp.Topic+":"+joinInts(tp.Partitions))
	}
	return strings.Join(out, " ")
}

// DeletedGroup is the result of `group delete`.
type DeletedGroup struct {
	Name    string `json:"name"`
	Deleted bool   `json:"deleted"`
}

// DeleteGroup deletes a group without members, with its committed offsets.
func (c *Client) DeleteGroup(ctx context.Context, name string) (*DeletedGroup, error) {
	if err := checkName("group", name); err != nil {
		return nil, err
	}
	if err := c.require("delete groups", keyDeleteGroups, keyFindCoordinator); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	rs, err := c.adm.DeleteGroups(ctx, name)
	if err != nil {
		return nil, c.explain(err)
	}
	r, err := rs.On(name, nil)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		return nil, c.fail(err, r.ErrMessage, subject{"group", name})
	}
	return &DeletedGroup{Name: name, Deleted: true}, nil
}

// WriteTable implements Report.
func (r *DeletedGroup) WriteTable(w io.Writer) error {
	t := newTable(w, "GROUP", "STATUS")
	t.row(r.Name, "deleted")
	return t.flush()
}

// describeConsumerGroup is DescribeGroup for a consumer (KIP-848) group:
// ConsumerGroupDescribe for its members, then its committed offsets and
// the lag of every partition it committed or a member is assigned.
func (c *Client) describeConsumerGroup(ctx context.Context, name string) (*GroupDescription, error) {
	g := subject{"group", name}
	ds, err := c.adm.DescribeConsumerGroups(ctx, name)
	if err != nil && !isShardErr(err) {
		return nil, c.explain(err)
	}
	d, ok := ds[name]
	switch {
	case !ok:
		return nil, c.fail(kerr.GroupIDNotFound, "", g)
	case d.Err != nil:
		return nil, c.fail(d.Err, "", g)
	}
	out := &GroupDescription{
		Name: name, Type: consumerGroupType, State: d.State, ProtocolType: consumerGroupType, Protocol: d.AssignorName,
		Coordinator: d.Coordinator.NodeID, Epoch: d.Epoch, AssignmentEpoch: d.AssignmentEpoch,
		Members: []GroupMember{}, Offsets: []GroupOffset{},
	}
	owner := map[string]map[int32]*kadm.ConsumerGroupMember{}
	for i := range d.Members {
		m := &d.Members[i]
		epoch := m.MemberEpoch
		gm := GroupMember{
			MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, ClientHost: m.ClientHost,
			Assigned: topicsSet(m.Assignment), Target: topicsSet(m.TargetAssignment), MemberEpoch: &epoch,
			Protocol: consumerGroupType,
		}
		if m.MemberType == 0 {
			gm.Protocol = classicGroupType
		}
		for _, tp := range gm.Assigned {
			if owner[tp.Topic] == nil {
				owner[tp.Topic] = map[int32]*kadm.ConsumerGroupMember{}
			}
			for _, p := range tp.Partitions {
				owner[tp.Topic][p] = m
			}
		}
		out.Members = append(out.Members, gm)
	}
	committed, err := c.adm.FetchOffsets(ctx, name)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return nil, c.fail(err, "", g)
	}
	topics := map[string]bool{}
	committed.Each(func(o kadm.OffsetResponse) { topics[o.Topic] = true })
	for t := range owner {
		topics[t] = true
	}
	if len(topics) == 0 {
		return out, nil
	}
	names := slices.Sorted(maps.Keys(topics))
	ends, err := c.adm.ListEndOffsets(ctx, names...)
	if err != nil && !isShardErr(err) {
		return nil, c.explain(err)
	}
	starts, err := c.adm.ListStartOffsets(ctx, names...)
	if err != nil && !isShardErr(err) {
		return nil, c.explain(err)
	}
	seen := map[string]map[int32]bool{}
	add := func(topic string, p int32) {
		if seen[topic] == nil {
			seen[topic] = map[int32]bool{}
		}
		if seen[topic][p] {
			return
		}
		seen[topic][p] = true
		o := GroupOffset{Topic: topic, Partition: p}
		commit, hasCommit := committed.Lookup(topic, p)
		if hasCommit && commit.Err == nil && commit.At >= 0 {
			o.CommittedOffset = ptr(commit.At)
		}
		end, okEnd := ends.Lookup(topic, p)
		switch {
		case !okEnd:
			o.Error = "end offset not listed"
		case end.Err != nil:
			o.Error = end.Err.Error()
		default:
			o.EndOffset = ptr(end.Offset)
			from := int64(-1)
			if o.CommittedOffset != nil {
				from = *o.CommittedOffset
			} else if st, ok := starts.Lookup(topic, p); ok && st.Err == nil {
				from = st.Offset
			}
			if from >= 0 {
				o.Lag = ptr(max(end.Offset-from, 0))
				out.TotalLag += *o.Lag
			}
		}
		if m := owner[topic][p]; m != nil {
			o.MemberID, o.ClientID = m.MemberID, m.ClientID
		}
		out.Offsets = append(out.Offsets, o)
	}
	committed.Each(func(o kadm.OffsetResponse) { add(o.Topic, o.Partition) })
	for t, ps := range owner {
		for p := range ps {
			add(t, p)
		}
	}
	slices.SortFunc(out.Offsets, func(a, b GroupOffset) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out, nil
}

// topicsSet is a kadm.TopicsSet as sorted TopicPartitions.
func topicsSet(ts kadm.TopicsSet) []TopicPartitions {
	out := []TopicPartitions{}
	for _, t := range ts.Sorted() {
		out = append(out, TopicPartitions{Topic: t.Topic, Partitions: nonNil(slices.Sorted(slices.Values(t.Partitions)))})
	}
	return out
}

// describeOne describes one group. A group that does not exist is not an
// error here: it comes back in state Dead (or empty) without members.
func (c *Client) describeOne(ctx context.Context, name string) (kadm.DescribedGroup, error) {
	ds, err := c.adm.DescribeGroups(ctx, name)
	if err != nil {
		return kadm.DescribedGroup{}, c.explain(err)
	}
	d, ok := ds[name]
	if !ok || errors.Is(d.Err, kerr.GroupIDNotFound) {
		// Not a classic group: it may be a consumer (KIP-848) one.
		if c.serves(keyConsumerGroupDescribe) {
			cs, err := c.adm.DescribeConsumerGroups(ctx, name)
			if err != nil && !isShardErr(err) {
				return kadm.DescribedGroup{}, c.explain(err)
			}
			if cd, ok := cs[name]; ok && cd.Err == nil {
				out := kadm.DescribedGroup{Group: name, State: cd.State, ProtocolType: consumerGroupType}
				for _, m := range cd.Members {
					out.Members = append(out.Members, kadm.DescribedGroupMember{MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, ClientHost: m.ClientHost})
				}
				return out, nil
			}
		}
		return kadm.DescribedGroup{Group: name, State: "Dead"}, nil
	}
	if d.Err != nil {
		return kadm.DescribedGroup{}, c.fail(d.Err, d.ErrMessage, subject{"group", name})
	}
	return d, nil
}

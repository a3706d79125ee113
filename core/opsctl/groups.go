package opsctl

import (
	"cmp"
	"context"
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// GroupSummary is one row of `group list`.
type GroupSummary struct {
	Name         string `json:"name"`
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
	described, err := c.adm.DescribeGroups(ctx, listed.Groups()...)
	if err != nil && !isShardErr(err) {
		return nil, c.explain(err)
	}
	for _, l := range listed.Sorted() {
		s := GroupSummary{Name: l.Group, State: l.State, ProtocolType: l.ProtocolType, Coordinator: l.Coordinator}
		d, ok := described[l.Group]
		switch {
		case !ok:
			s.Error = "not described"
		case d.Err != nil:
			s.Error = d.Err.Error()
		default:
			s.State, s.Protocol, s.MemberCount = d.State, d.Protocol, len(d.Members)
		}
		out.Groups = append(out.Groups, s)
	}
	return out, nil
}

// WriteTable implements Report.
func (r *GroupList) WriteTable(w io.Writer) error {
	t := newTable(w, "GROUP", "STATE", "PROTOCOL", "MEMBERS")
	for _, g := range r.Groups {
		name := g.Name
		if g.Error != "" {
			name += " (error: " + g.Error + ")"
		}
		t.row(name, g.State, protocol(g.ProtocolType, g.Protocol), itoa(g.MemberCount))
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
	Name         string        `json:"name"`
	State        string        `json:"state"`
	ProtocolType string        `json:"protocol_type"`
	Protocol     string        `json:"protocol"`
	Coordinator  int32         `json:"coordinator"`
	Members      []GroupMember `json:"members"` // by member ID (static members first)
	Offsets      []GroupOffset `json:"offsets"` // by topic, then partition
	TotalLag     int64         `json:"total_lag"`
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
	if err := l.Error(); err != nil {
		return nil, c.fail(err, "", subject{"group", name})
	}
	if l.State == "Dead" && len(l.Members) == 0 && len(l.Lag) == 0 {
		return nil, c.fail(kerr.GroupIDNotFound, "", subject{"group", name})
	}
	out := &GroupDescription{
		Name:         l.Group,
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
			t.row("STATE", r.State)
			t.row("PROTOCOL", protocol(r.ProtocolType, r.Protocol))
			t.row("COORDINATOR", itoa(r.Coordinator))
			t.row("MEMBERS", itoa(len(r.Members)))
			t.row("TOTAL-LAG", itoa(r.TotalLag))
			return t.flush()
		},
		func(w io.Writer) error {
			if len(r.Members) == 0 {
				return nil // the MEMBERS 0 line says it
			}
			t := newTable(w, "MEMBER-ID", "INSTANCE-ID", "CLIENT-ID", "HOST", "ASSIGNED")
			for _, m := range r.Members {
				var assigned []string
				for _, tp := range m.Assigned {
					assigned = append(assigned, tp.Topic+":"+joinInts(tp.Partitions))
				}
				instance := ""
				if m.InstanceID != nil {
					instance = *m.InstanceID
				}
				t.row(m.MemberID, instance, m.ClientID, m.ClientHost, strings.Join(assigned, " "))
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

// describeOne describes one group. A group that does not exist is not an
// error here: it comes back in state Dead (or empty) without members.
func (c *Client) describeOne(ctx context.Context, name string) (kadm.DescribedGroup, error) {
	ds, err := c.adm.DescribeGroups(ctx, name)
	if err != nil {
		return kadm.DescribedGroup{}, c.explain(err)
	}
	d, ok := ds[name]
	if !ok || errors.Is(d.Err, kerr.GroupIDNotFound) {
		return kadm.DescribedGroup{Group: name, State: "Dead"}, nil
	}
	if d.Err != nil {
		return kadm.DescribedGroup{}, c.fail(d.Err, d.ErrMessage, subject{"group", name})
	}
	return d, nil
}

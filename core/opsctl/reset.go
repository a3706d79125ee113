package opsctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ResetTarget says where `group reset-offsets` moves the committed offsets.
// Exactly one field must be set; the flags map one to one.
type ResetTarget struct {
	Earliest bool    // --to-earliest: the log start offset
	Latest   bool    // --to-latest: the end offset (high watermark)
	Offset   *int64  // --to-offset N, kept within [log start, end]
	Datetime *string // --to-datetime T (RFC 3339): the first record at or after T, else the end
	ShiftBy  *int64  // --shift-by N: the committed offset plus N (negative moves back), kept within [log start, end]
}

// Strategy names the chosen target as its flag does, without dashes.
func (t ResetTarget) Strategy() string {
	switch {
	case t.Earliest:
		return "to-earliest"
	case t.Latest:
		return "to-latest"
	case t.Offset != nil:
		return "to-offset"
	case t.Datetime != nil:
		return "to-datetime"
	case t.ShiftBy != nil:
		return "shift-by"
	}
	return ""
}

// validate checks that exactly one target is set and parses --to-datetime.
func (t ResetTarget) validate() (time.Time, error) {
	var given []string
	if t.Earliest {
		given = append(given, "--to-earliest")
	}
	if t.Latest {
		given = append(given, "--to-latest")
	}
	if t.Offset != nil {
		given = append(given, "--to-offset")
	}
	if t.Datetime != nil {
		given = append(given, "--to-datetime")
	}
	if t.ShiftBy != nil {
		given = append(given, "--shift-by")
	}
	const choose = "--to-earliest, --to-latest, --to-offset N, --to-datetime RFC3339 or --shift-by N"
	switch len(given) {
	case 0:
		return time.Time{}, invalidf("say where to move the offsets: give one of %s", choose)
	case 1:
	default:
		return time.Time{}, invalidf("%s cannot be combined: give exactly one of %s", strings.Join(given, " and "), choose)
	}
	if t.Offset != nil && *t.Offset < 0 {
		return time.Time{}, invalidf("--to-offset %d: offsets start at 0; use --to-earliest or --to-latest for the ends", *t.Offset)
	}
	if t.Datetime != nil {
		at, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(*t.Datetime))
		if err != nil {
			return time.Time{}, invalidf("--to-datetime %q: want an RFC 3339 time such as 2024-05-01T12:00:00Z or 2024-05-01T14:00:00+02:00", *t.Datetime)
		}
		return at, nil
	}
	return time.Time{}, nil
}

// ResetSpec is what `group reset-offsets` asks for.
type ResetSpec struct {
	Group string
	Topic string
	// Partitions limits the reset; empty means every partition of Topic.
	Partitions []int32
	Target     ResetTarget
	// Execute commits the new offsets; otherwise the plan is only shown.
	Execute bool
}

// Validate checks the spec before any request.
func (s ResetSpec) Validate() error {
	if err := checkName("group", s.Group); err != nil {
		return err
	}
	if strings.TrimSpace(s.Topic) == "" {
		return invalidf("--topic is required: name the topic whose offsets to reset")
	}
	for _, p := range s.Partitions {
		if p < 0 {
			return invalidf("--partitions %d: partition numbers start at 0", p)
		}
	}
	_, err := s.Target.validate()
	return err
}

// OffsetMove is one partition of a reset plan.
type OffsetMove struct {
	Topic           string `json:"topic"`
	Partition       int32  `json:"partition"`
	CommittedOffset *int64 `json:"committed_offset"` // null if the group has no commit here
	NewOffset       int64  `json:"new_offset"`
	// Note says why NewOffset differs from what was asked (kept within the
	// log's range); empty otherwise.
	Note string `json:"note,omitempty"`
}

// ResetPlan is the result of `group reset-offsets`: the moves and whether
// they were committed.
type ResetPlan struct {
	Group      string       `json:"group"`
	Topic      string       `json:"topic"`
	Strategy   string       `json:"strategy"`
	Executed   bool         `json:"executed"`
	Partitions []OffsetMove `json:"partitions"` // by partition
}

// Summary is a line for the operator (stderr) saying what happened.
func (r *ResetPlan) Summary() string {
	if r.Executed {
		return fmt.Sprintf("committed %d new offsets for group %q", len(r.Partitions), r.Group)
	}
	return "dry run: nothing changed; add --execute to commit these offsets"
}

// WriteTable implements Report.
func (r *ResetPlan) WriteTable(w io.Writer) error {
	withNote := slices.ContainsFunc(r.Partitions, func(m OffsetMove) bool { return m.Note != "" })
	header := []string{"GROUP", "TOPIC", "PARTITION", "COMMITTED-OFFSET", "NEW-OFFSET"}
	if withNote {
		header = append(header, "NOTE")
	}
	t := newTable(w, header...)
	for _, m := range r.Partitions {
		row := []string{r.Group, m.Topic, itoa(m.Partition), optInt(m.CommittedOffset), itoa(m.NewOffset)}
		if withNote {
			row = append(row, m.Note)
		}
		t.row(row...)
	}
	return t.flush()
}

// ResetOffsets plans moving a group's committed offsets on one topic and,
// with spec.Execute, commits them. The group must have no members: a live
// consumer would overwrite the offsets with its next commit, and the
// broker refuses commits from outside a live generation anyway.
func (c *Client) ResetOffsets(ctx context.Context, spec ResetSpec) (*ResetPlan, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	at, _ := spec.Target.validate()
	keys := []int16{keyDescribeGroups, keyFindCoordinator, keyOffsetFetch, keyListOffsets}
	if spec.Execute {
		keys = append(keys, keyOffsetCommit)
	}
	if err := c.require("reset group offsets", keys...); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	g := subject{"group", spec.Group}

	d, err := c.describeOne(ctx, spec.Group)
	if err != nil {
		return nil, err
	}
	if err := checkInactive(d); err != nil {
		return nil, err
	}
	td, err := c.topic(ctx, spec.Topic)
	if err != nil {
		return nil, err
	}
	parts, err := pickPartitions(td, spec.Partitions)
	if err != nil {
		return nil, err
	}

	committed, err := c.adm.FetchOffsets(ctx, spec.Group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return nil, c.fail(err, "", g)
	}
	starts, err := c.listOffsets(ctx, c.adm.ListStartOffsets, spec.Topic)
	if err != nil {
		return nil, err
	}
	ends, err := c.listOffsets(ctx, c.adm.ListEndOffsets, spec.Topic)
	if err != nil {
		return nil, err
	}
	var byTime kadm.ListedOffsets
	if spec.Target.Datetime != nil {
		byTime, err = c.listOffsets(ctx, func(ctx context.Context, topics ...string) (kadm.ListedOffsets, error) {
			return c.adm.ListOffsetsAfterMilli(ctx, at.UnixMilli(), topics...)
		}, spec.Topic)
		if err != nil {
			return nil, err
		}
	}

	plan := &ResetPlan{Group: spec.Group, Topic: spec.Topic, Strategy: spec.Target.Strategy(), Partitions: []OffsetMove{}}
	for _, p := range parts {
		m := OffsetMove{Topic: spec.Topic, Partition: p}
		if o, ok := committed.Lookup(spec.Topic, p); ok && o.Err == nil && o.At >= 0 {
			m.CommittedOffset = ptr(o.At)
		}
		start, err := offsetAt(starts, spec.Topic, p, "log start")
		if err != nil {
			return nil, err
		}
		end, err := offsetAt(ends, spec.Topic, p, "end")
		if err != nil {
			return nil, err
		}
		var want int64
		switch t := spec.Target; {
		case t.Earliest:
			want = start
		case t.Latest:
			want = end
		case t.Offset != nil:
			want = *t.Offset
		case t.Datetime != nil:
			if want, err = offsetAt(byTime, spec.Topic, p, "by-time"); err != nil {
				return nil, err
			}
		case t.ShiftBy != nil:
			if m.CommittedOffset == nil {
				return nil, invalidf("group %q has no committed offset on %s partition %d to shift from — use --to-earliest, --to-latest or --to-offset", spec.Group, spec.Topic, p)
			}
			want = *m.CommittedOffset + *t.ShiftBy
		}
		m.NewOffset = want
		switch {
		case want < start:
			m.NewOffset, m.Note = start, fmt.Sprintf("%d is before the log start", want)
		case want > end:
			m.NewOffset, m.Note = end, fmt.Sprintf("%d is past the end", want)
		}
		plan.Partitions = append(plan.Partitions, m)
	}
	if !spec.Execute {
		return plan, nil
	}

	var offsets kadm.Offsets
	for _, m := range plan.Partitions {
		offsets.AddOffset(m.Topic, m.Partition, m.NewOffset, -1)
	}
	rs, err := c.adm.CommitOffsets(ctx, spec.Group, offsets)
	if err != nil {
		return nil, c.fail(err, "", g)
	}
	var errs []error
	for _, r := range rs.Sorted() {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("partition %d: %w", r.Partition, r.Err))
		}
	}
	if len(errs) > 0 {
		return nil, c.fail(errors.Join(errs...), "", g)
	}
	plan.Executed = true
	return plan, nil
}

// checkInactive refuses a group with members: their commits would race ours.
func checkInactive(d kadm.DescribedGroup) error {
	if len(d.Members) == 0 && (d.State == "Empty" || d.State == "Dead" || d.State == "") {
		return nil
	}
	members := fmt.Sprintf("%d active members", len(d.Members))
	if len(d.Members) == 1 {
		members = "1 active member"
	}
	return failf(ErrGroupActive, nil,
		"group %q has %s (state %s) — offsets can only be reset while no consumer is running in the group: stop its consumers (`chronik group describe %s` lists them) and retry",
		d.Group, members, d.State, d.Group)
}

// listOffsets runs one kadm offset listing for a topic, tolerating partial
// failures (they surface per partition in offsetAt).
func (c *Client) listOffsets(ctx context.Context, list func(context.Context, ...string) (kadm.ListedOffsets, error), topic string) (kadm.ListedOffsets, error) {
	listed, err := list(ctx, topic)
	if err != nil && !isShardErr(err) {
		return nil, c.fail(err, "", subject{"topic", topic})
	}
	return listed, nil
}

// offsetAt looks up one listed offset, explaining a missing one.
func offsetAt(listed kadm.ListedOffsets, topic string, p int32, what string) (int64, error) {
	o, ok := listed.Lookup(topic, p)
	switch {
	case !ok:
		return 0, failf(ErrRejected, nil, "could not list the %s offset of %s partition %d; retry", what, topic, p)
	case o.Err != nil:
		return 0, failf(ErrRejected, o.Err, "could not list the %s offset of %s partition %d: %v; retry", what, topic, p, o.Err)
	}
	return o.Offset, nil
}

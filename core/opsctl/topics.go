package opsctl

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TopicSpec is what `topic create` asks for.
type TopicSpec struct {
	Name string
	// Partitions and ReplicationFactor are -1 for the broker's defaults
	// (kafka.default-partitions, kafka.default-replication-factor).
	Partitions        int32
	ReplicationFactor int16
	// Configs are topic configs to set (retention.ms, cleanup.policy, …).
	Configs map[string]string
}

// Validate checks the spec before any request.
func (s TopicSpec) Validate() error {
	if err := checkName("topic", s.Name); err != nil {
		return err
	}
	if s.Partitions == 0 || s.Partitions < -1 {
		return invalidf("--partitions %d: give 1 or more, or omit it for the broker default", s.Partitions)
	}
	if s.ReplicationFactor == 0 || s.ReplicationFactor < -1 {
		return invalidf("--replication-factor %d: give 1 or more, or omit it for the broker default", s.ReplicationFactor)
	}
	return nil
}

// CreatedTopic is the result of `topic create`.
type CreatedTopic struct {
	Name              string            `json:"name"`
	ID                string            `json:"id"`
	PartitionCount    int32             `json:"partition_count"`
	ReplicationFactor int16             `json:"replication_factor"`
	Configs           map[string]string `json:"configs"` // the configs set by the command
}

// CreateTopic creates a topic and returns what the broker created.
func (c *Client) CreateTopic(ctx context.Context, spec TopicSpec) (*CreatedTopic, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := c.require("create topics", keyCreateTopics); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	configs := make(map[string]*string, len(spec.Configs))
	for k, v := range spec.Configs {
		configs[k] = ptr(v)
	}
	rs, err := c.adm.CreateTopics(ctx, spec.Partitions, spec.ReplicationFactor, configs, spec.Name)
	if err != nil {
		return nil, c.explain(err)
	}
	r, err := rs.On(spec.Name, nil)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		return nil, c.fail(err, r.ErrMessage, subject{"topic", spec.Name})
	}
	set := make(map[string]string, len(spec.Configs))
	maps.Copy(set, spec.Configs)
	return &CreatedTopic{
		Name:              r.Topic,
		ID:                topicID(r.ID),
		PartitionCount:    r.NumPartitions,
		ReplicationFactor: r.ReplicationFactor,
		Configs:           set,
	}, nil
}

// WriteTable implements Report.
func (r *CreatedTopic) WriteTable(w io.Writer) error {
	t := newTable(w, "TOPIC", "PARTITIONS", "REPLICAS", "ID")
	t.row(r.Name, itoa(r.PartitionCount), itoa(r.ReplicationFactor), r.ID)
	return t.flush()
}

// TopicSummary is one row of `topic list`.
type TopicSummary struct {
	Name              string `json:"name"`
	ID                string `json:"id"`
	PartitionCount    int    `json:"partition_count"`
	ReplicationFactor int    `json:"replication_factor"`
	Internal          bool   `json:"internal"`
	Error             string `json:"error,omitempty"`
}

// TopicList is the result of `topic list`, sorted by name.
type TopicList struct {
	Topics []TopicSummary `json:"topics"`
}

// ListTopics lists every topic, internal ones included.
func (c *Client) ListTopics(ctx context.Context) (*TopicList, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	tds, err := c.adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return nil, c.explain(err)
	}
	out := &TopicList{Topics: []TopicSummary{}}
	for _, td := range tds.Sorted() {
		out.Topics = append(out.Topics, summarize(td))
	}
	return out, nil
}

func summarize(td kadm.TopicDetail) TopicSummary {
	s := TopicSummary{
		Name:              td.Topic,
		ID:                topicID(td.ID),
		PartitionCount:    len(td.Partitions),
		ReplicationFactor: td.Partitions.NumReplicas(),
		Internal:          td.IsInternal,
	}
	if td.Err != nil {
		s.Error = td.Err.Error()
	}
	return s
}

// WriteTable implements Report.
func (r *TopicList) WriteTable(w io.Writer) error {
	t := newTable(w, "TOPIC", "PARTITIONS", "REPLICAS", "ID")
	for _, s := range r.Topics {
		name := s.Name
		if s.Internal {
			name += " (internal)"
		}
		if s.Error != "" {
			name += " (error: " + s.Error + ")"
		}
		t.row(name, itoa(s.PartitionCount), itoa(s.ReplicationFactor), s.ID)
	}
	return t.flush()
}

// PartitionInfo is one partition in `topic describe`.
type PartitionInfo struct {
	Partition       int32   `json:"partition"`
	Leader          int32   `json:"leader"` // -1 while there is none
	LeaderEpoch     int32   `json:"leader_epoch"`
	Replicas        []int32 `json:"replicas"`
	ISR             []int32 `json:"isr"`
	OfflineReplicas []int32 `json:"offline_replicas"`
	StartOffset     *int64  `json:"start_offset"` // null when it could not be listed
	EndOffset       *int64  `json:"end_offset"`   // the high watermark; null when it could not be listed
	Error           string  `json:"error,omitempty"`
}

// ConfigEntry is one topic config in `topic describe`.
type ConfigEntry struct {
	Name  string  `json:"name"`
	Value *string `json:"value"` // null for sensitive configs
	// Source is "set" (on this topic), "default", "broker" (inherited from a
	// broker setting) or Kafka's source name in lower case.
	Source    string `json:"source"`
	Sensitive bool   `json:"sensitive"`
}

// TopicDescription is the result of `topic describe`.
type TopicDescription struct {
	Name              string          `json:"name"`
	ID                string          `json:"id"`
	Internal          bool            `json:"internal"`
	PartitionCount    int             `json:"partition_count"`
	ReplicationFactor int             `json:"replication_factor"`
	Partitions        []PartitionInfo `json:"partitions"` // by partition number
	Configs           []ConfigEntry   `json:"configs"`    // by name
}

// DescribeTopic returns a topic's partitions with offsets and its configs.
func (c *Client) DescribeTopic(ctx context.Context, name string) (*TopicDescription, error) {
	if err := checkName("topic", name); err != nil {
		return nil, err
	}
	if err := c.require("describe topics", keyListOffsets, keyDescribeConfigs); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	td, err := c.topic(ctx, name)
	if err != nil {
		return nil, err
	}
	starts, err := c.adm.ListStartOffsets(ctx, name)
	if err != nil && !isShardErr(err) {
		return nil, c.explain(err)
	}
	ends, err := c.adm.ListEndOffsets(ctx, name)
	if err != nil && !isShardErr(err) {
		return nil, c.explain(err)
	}
	rcs, err := c.adm.DescribeTopicConfigs(ctx, name)
	if err != nil {
		return nil, c.explain(err)
	}
	rc, err := rcs.On(name, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return nil, c.fail(err, rc.ErrMessage, subject{"topic", name})
	}

	s := summarize(td)
	out := &TopicDescription{
		Name:              s.Name,
		ID:                s.ID,
		Internal:          s.Internal,
		PartitionCount:    s.PartitionCount,
		ReplicationFactor: s.ReplicationFactor,
		Partitions:        []PartitionInfo{},
		Configs:           []ConfigEntry{},
	}
	for _, p := range td.Partitions.Sorted() {
		pi := PartitionInfo{
			Partition:       p.Partition,
			Leader:          p.Leader,
			LeaderEpoch:     p.LeaderEpoch,
			Replicas:        nonNil(p.Replicas),
			ISR:             nonNil(p.ISR),
			OfflineReplicas: nonNil(p.OfflineReplicas),
		}
		var errs []string
		if p.Err != nil {
			errs = append(errs, p.Err.Error())
		}
		for _, l := range []struct {
			offsets kadm.ListedOffsets
			dst     **int64
		}{{starts, &pi.StartOffset}, {ends, &pi.EndOffset}} {
			o, ok := l.offsets.Lookup(name, p.Partition)
			switch {
			case ok && o.Err == nil:
				*l.dst = ptr(o.Offset)
			case ok && p.Err == nil:
				errs = append(errs, o.Err.Error())
			}
		}
		pi.Error = strings.Join(slices.Compact(errs), "; ")
		out.Partitions = append(out.Partitions, pi)
	}
	for _, cfg := range rc.Configs {
		e := ConfigEntry{Name: cfg.Key, Value: cfg.Value, Source: configSource(cfg.Source), Sensitive: cfg.Sensitive}
		out.Configs = append(out.Configs, e)
	}
	slices.SortFunc(out.Configs, func(a, b ConfigEntry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// WriteTable implements Report.
func (r *TopicDescription) WriteTable(w io.Writer) error {
	return sections(w,
		func(w io.Writer) error {
			t := newTable(w)
			t.row("TOPIC", r.Name)
			t.row("ID", r.ID)
			t.row("INTERNAL", map[bool]string{true: "yes", false: "no"}[r.Internal])
			t.row("PARTITIONS", itoa(r.PartitionCount))
			t.row("REPLICAS", itoa(r.ReplicationFactor))
			return t.flush()
		},
		func(w io.Writer) error {
			header := []string{"PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "START-OFFSET", "END-OFFSET"}
			withErr := slices.ContainsFunc(r.Partitions, func(p PartitionInfo) bool { return p.Error != "" })
			if withErr {
				header = append(header, "ERROR")
			}
			t := newTable(w, header...)
			for _, p := range r.Partitions {
				leader := itoa(p.Leader)
				if p.Leader < 0 {
					leader = "none"
				}
				row := []string{
					itoa(p.Partition), leader, itoa(p.LeaderEpoch), joinInts(p.Replicas), joinInts(p.ISR),
					optInt(p.StartOffset), optInt(p.EndOffset),
				}
				if withErr {
					row = append(row, p.Error)
				}
				t.row(row...)
			}
			return t.flush()
		},
		func(w io.Writer) error {
			t := newTable(w, "CONFIG", "VALUE", "SOURCE")
			for _, e := range r.Configs {
				v := "(sensitive)"
				if e.Value != nil {
					v = *e.Value
				} else if !e.Sensitive {
					v = "(null)"
				}
				t.row(e.Name, v, e.Source)
			}
			return t.flush()
		},
	)
}

// TopicAlter is what `topic alter` asks for. At least one field besides
// Name must be set.
type TopicAlter struct {
	Name string
	// Set are configs to set; Delete are configs to revert to their defaults.
	Set    map[string]string
	Delete []string
	// Partitions is the new partition count; 0 leaves it unchanged.
	Partitions int32
}

// Validate checks the request before any request.
func (a TopicAlter) Validate() error {
	if err := checkName("topic", a.Name); err != nil {
		return err
	}
	if len(a.Set) == 0 && len(a.Delete) == 0 && a.Partitions == 0 {
		return invalidf("nothing to alter: give --config key=value, --delete-config key or --partitions N")
	}
	if a.Partitions < 0 {
		return invalidf("--partitions %d: give the new, larger partition count", a.Partitions)
	}
	for _, k := range a.Delete {
		if _, ok := a.Set[k]; ok {
			return invalidf("%s is both set (--config) and deleted (--delete-config); choose one", k)
		}
	}
	return nil
}

// ConfigChange is one applied config change.
type ConfigChange struct {
	Name   string  `json:"name"`
	Action string  `json:"action"` // "set" or "delete"
	Value  *string `json:"value"`  // the new value; null for delete
}

// PartitionChange is an applied partition count change.
type PartitionChange struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// AlteredTopic is the result of `topic alter`.
type AlteredTopic struct {
	Name       string           `json:"name"`
	Configs    []ConfigChange   `json:"configs"`    // by name
	Partitions *PartitionChange `json:"partitions"` // null when unchanged
}

// AlterTopic changes topic configs (IncrementalAlterConfigs) and grows the
// partition count (CreatePartitions). When both are asked for, both are
// validated by the broker before either is applied, so a bad value changes
// nothing.
func (c *Client) AlterTopic(ctx context.Context, a TopicAlter) (*AlteredTopic, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	var keys []int16
	if len(a.Set)+len(a.Delete) > 0 {
		keys = append(keys, keyIncrementalAlterConfigs)
	}
	if a.Partitions > 0 {
		keys = append(keys, keyCreatePartitions)
	}
	if err := c.require("alter topics", keys...); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	td, err := c.topic(ctx, a.Name)
	if err != nil {
		return nil, err
	}
	out := &AlteredTopic{Name: a.Name, Configs: []ConfigChange{}}
	var alters []kadm.AlterConfig
	for _, k := range slices.Sorted(maps.Keys(a.Set)) {
		v := a.Set[k]
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: ptr(v)})
		out.Configs = append(out.Configs, ConfigChange{Name: k, Action: "set", Value: ptr(v)})
	}
	for _, k := range a.Delete {
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
		out.Configs = append(out.Configs, ConfigChange{Name: k, Action: "delete"})
	}
	slices.SortStableFunc(out.Configs, func(x, y ConfigChange) int { return strings.Compare(x.Name, y.Name) })

	both := len(alters) > 0 && a.Partitions > 0
	if both {
		if err := c.alterConfigs(ctx, a.Name, alters, true); err != nil {
			return nil, err
		}
		if err := c.setPartitions(ctx, a.Name, a.Partitions, true); err != nil {
			return nil, err
		}
	}
	if len(alters) > 0 {
		if err := c.alterConfigs(ctx, a.Name, alters, false); err != nil {
			return nil, err
		}
	}
	if a.Partitions > 0 {
		if err := c.setPartitions(ctx, a.Name, a.Partitions, false); err != nil {
			if len(alters) > 0 {
				return nil, failf(ErrRejected, err, "the configs of topic %q were altered, but the partition count was not: %v", a.Name, err)
			}
			return nil, err
		}
		out.Partitions = &PartitionChange{From: len(td.Partitions), To: int(a.Partitions)}
	}
	return out, nil
}

func (c *Client) alterConfigs(ctx context.Context, topic string, alters []kadm.AlterConfig, validateOnly bool) error {
	alter := c.adm.AlterTopicConfigs
	if validateOnly {
		alter = c.adm.ValidateAlterTopicConfigs
	}
	rs, err := alter(ctx, alters, topic)
	if err != nil {
		return c.explain(err)
	}
	r, err := rs.On(topic, nil)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		return c.fail(err, r.ErrMessage, subject{"topic", topic})
	}
	return nil
}

func (c *Client) setPartitions(ctx context.Context, topic string, n int32, validateOnly bool) error {
	update := c.adm.UpdatePartitions
	if validateOnly {
		update = c.adm.ValidateUpdatePartitions
	}
	rs, err := update(ctx, int(n), topic)
	if err != nil {
		return c.explain(err)
	}
	r, err := rs.On(topic, nil)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		return c.fail(err, r.ErrMessage, subject{"topic", topic})
	}
	return nil
}

// WriteTable implements Report.
func (r *AlteredTopic) WriteTable(w io.Writer) error {
	t := newTable(w, "TOPIC", "ACTION", "NAME", "VALUE")
	for _, ch := range r.Configs {
		v := "(default)"
		if ch.Value != nil {
			v = *ch.Value
		}
		t.row(r.Name, ch.Action, ch.Name, v)
	}
	if p := r.Partitions; p != nil {
		t.row(r.Name, "grow", "partitions", itoa(p.From)+" -> "+itoa(p.To))
	}
	return t.flush()
}

// DeletedTopic is the result of `topic delete`.
type DeletedTopic struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
}

// TopicSummary returns one topic's summary, or an error saying it does not
// exist; `topic delete` shows it in its confirmation prompt.
func (c *Client) TopicSummary(ctx context.Context, name string) (TopicSummary, error) {
	if err := checkName("topic", name); err != nil {
		return TopicSummary{}, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	td, err := c.topic(ctx, name)
	if err != nil {
		return TopicSummary{}, err
	}
	return summarize(td), nil
}

// DeleteTopic deletes a topic and all its records.
func (c *Client) DeleteTopic(ctx context.Context, name string) (*DeletedTopic, error) {
	if err := checkName("topic", name); err != nil {
		return nil, err
	}
	if err := c.require("delete topics", keyDeleteTopics); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	rs, err := c.adm.DeleteTopics(ctx, name)
	if err != nil {
		return nil, c.explain(err)
	}
	r, err := rs.On(name, nil)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		return nil, c.fail(err, r.ErrMessage, subject{"topic", name})
	}
	return &DeletedTopic{Name: name, ID: topicID(r.ID), Deleted: true}, nil
}

// WriteTable implements Report.
func (r *DeletedTopic) WriteTable(w io.Writer) error {
	t := newTable(w, "TOPIC", "STATUS")
	t.row(r.Name, "deleted")
	return t.flush()
}

// topic fetches one topic's metadata, failing if it does not exist.
func (c *Client) topic(ctx context.Context, name string) (kadm.TopicDetail, error) {
	tds, err := c.adm.ListTopicsWithInternal(ctx, name)
	if err != nil {
		return kadm.TopicDetail{}, c.explain(err)
	}
	td, ok := tds[name]
	if !ok {
		return kadm.TopicDetail{}, c.fail(kerr.UnknownTopicOrPartition, "", subject{"topic", name})
	}
	if td.Err != nil {
		return kadm.TopicDetail{}, c.fail(td.Err, "", subject{"topic", name})
	}
	return td, nil
}

// pickPartitions returns the asked partitions of td sorted and without
// duplicates, or all of them when none is asked; a partition the topic
// does not have is an error naming the ones it has (--partitions).
func pickPartitions(td kadm.TopicDetail, asked []int32) ([]int32, error) {
	parts := slices.Clone(asked)
	if len(parts) == 0 {
		parts = td.Partitions.Numbers()
	}
	slices.Sort(parts)
	parts = slices.Compact(parts)
	for _, p := range parts {
		if err := hasPartition(td, "--partitions", p); err != nil {
			return nil, err
		}
	}
	return parts, nil
}

// hasPartition fails, naming the partitions td has, unless td has
// partition p (given with flag).
func hasPartition(td kadm.TopicDetail, flag string, p int32) error {
	if _, ok := td.Partitions[p]; !ok {
		return invalidf("%s %d: topic %q has partitions 0 to %d", flag, p, td.Topic, len(td.Partitions)-1)
	}
	return nil
}

// topicID shows a topic ID as Kafka's tools do (URL-safe base64 without
// padding); the zero ID, from brokers without IDs, is empty.
func topicID(id kadm.TopicID) string {
	if id == (kadm.TopicID{}) {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// configSource names where a config value comes from.
func configSource(s kmsg.ConfigSource) string {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return "set"
	case kmsg.ConfigSourceDefaultConfig:
		return "default"
	case kmsg.ConfigSourceStaticBrokerConfig, kmsg.ConfigSourceDynamicBrokerConfig,
		kmsg.ConfigSourceDynamicDefaultBrokerConfig:
		return "broker"
	}
	return strings.ToLower(s.String())
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// isShardErr reports a partial failure of a request kadm split across
// brokers; the parts that failed show up as per-partition errors.
func isShardErr(err error) bool {
	var se *kadm.ShardErrors
	return errors.As(err, &se) && !se.AllFailed
}

// firstShardErr unwraps the error of a request kadm split across brokers
// to the first broker's error (with one broker, its only one); other
// errors are returned as they are.
func firstShardErr(err error) error {
	var se *kadm.ShardErrors
	if errors.As(err, &se) && len(se.Errs) > 0 {
		return se.Errs[0].Err
	}
	return err
}

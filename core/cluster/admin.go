package cluster

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/chronik-go/chronik/core/batch"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/raftsm"
)

// conflictRetries bounds how often an admin change is recomputed after the
// meta shard reports that the topic changed under it.
const conflictRetries = 5

// ConfigOpKind is an IncrementalAlterConfigs operation, numbered as Kafka
// numbers them.
type ConfigOpKind int8

// Config operations.
const (
	ConfigOpSet      ConfigOpKind = 0
	ConfigOpDelete   ConfigOpKind = 1
	ConfigOpAppend   ConfigOpKind = 2 // list configs only: add items not yet present
	ConfigOpSubtract ConfigOpKind = 3 // list configs only: remove items
)

// ConfigOp is one incremental change of a topic config.
type ConfigOp struct {
	Name  string
	Op    ConfigOpKind
	Value string // ignored by ConfigOpDelete
}

// LogDir describes the broker's one log directory.
type LogDir struct {
	Path        string
	TotalBytes  int64 // -1 when unknown
	UsableBytes int64 // -1 when unknown
}

var defaultMaxMessageBytes = func() int {
	v, _ := ConfigDefault("max.message.bytes")
	n, err := strconv.Atoi(v)
	if err != nil {
		panic("cluster: default max.message.bytes is not an integer")
	}
	return n
}()

// topicSettings is the partition service's view of a topic's configs. It
// runs on every append: two map lookups, and a parse only when
// max.message.bytes is set.
func (s *Service) topicSettings(topic string) partition.TopicSettings {
	set := partition.TopicSettings{MaxMessageBytes: defaultMaxMessageBytes}
	t, ok := s.meta.View().Topics[topic]
	if !ok {
		return set
	}
	if v, ok := t.Configs["max.message.bytes"]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			set.MaxMessageBytes = n
		}
	}
	set.LogAppendTime = t.Configs["message.timestamp.type"] == "LogAppendTime"
	set.Compacted = listHas(t.Configs["cleanup.policy"], "compact")
	set.Codec, set.Recompress = topicCodec(t.Configs["compression.type"])
	return set
}

// topicCodec is the codec a topic's compression.type asks batches to be
// stored in; recompress is false for "producer" (the default: batches stay
// as produced).
func topicCodec(v string) (codec batch.Codec, recompress bool) {
	switch v {
	case "uncompressed":
		return batch.CodecNone, true
	case "gzip":
		return batch.CodecGzip, true
	case "snappy":
		return batch.CodecSnappy, true
	case "lz4":
		return batch.CodecLZ4, true
	case "zstd":
		return batch.CodecZstd, true
	}
	return batch.CodecNone, false
}

// CreatePartitions grows topic name to count partitions, placed like a
// topic created with count partitions, and waits until the new ones have
// leaders (or ctx ends). A count at or below the current one is
// ErrInvalidPartitions; Kafka never removes partitions.
func (s *Service) CreatePartitions(ctx context.Context, name string, count int32, validateOnly bool) error {
	for attempt := 0; ; attempt++ {
		r, ok := s.meta.View().Topics[name]
		if !ok {
			return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
		}
		cur := int32(len(r.Partitions))
		switch {
		case count < cur:
			return fmt.Errorf("%w: partition count decrease: topic %q has %d partitions and cannot shrink to %d", ErrInvalidPartitions, name, cur, count)
		case count == cur:
			return fmt.Errorf("%w: topic %q already has %d partitions", ErrInvalidPartitions, name, cur)
		case count > s.set.MaxPartitionsPerTopic:
			return fmt.Errorf("%w: %d (must be at most %d)", ErrInvalidPartitions, count, s.set.MaxPartitionsPerTopic)
		}
		rf := len(r.Partitions[0].Nodes)
		brokers := s.Brokers()
		if rf > len(brokers) {
			return fmt.Errorf("%w: the topic's replication factor %d exceeds the %d brokers", ErrInvalidReplication, rf, len(brokers))
		}
		if validateOnly {
			return nil
		}
		cmd := &raftsm.CreatePartitionsCommand{Name: name, ID: r.ID, From: cur, Nodes: place(brokers, count, int16(rf))[cur:]}
		res, err := s.propose(ctx, raftsm.EncodeCreatePartitions(cmd))
		if err != nil {
			return err
		}
		switch st := raftsm.ResultStatus(res.Data); st {
		case raftsm.StatusOK:
			t, ok := s.Topic(name)
			if !ok || len(t.Partitions) < int(count) {
				return nil // deleted or changed again meanwhile; nothing to wait for
			}
			t.Partitions = t.Partitions[cur:count]
			return s.waitLeaders(ctx, t)
		case raftsm.StatusUnknownTopic:
			return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
		case raftsm.StatusConflict:
			if attempt < conflictRetries {
				continue
			}
			fallthrough
		default:
			return fmt.Errorf("cluster: create partitions of %q: %s", name, st)
		}
	}
}

// AlterTopicConfigs replaces every explicitly set config of topic name
// with configs (AlterConfigs semantics: keys left out return to their
// defaults). Unknown keys and invalid values are ErrInvalidConfig.
func (s *Service) AlterTopicConfigs(ctx context.Context, name string, configs map[string]string, validateOnly bool) error {
	return s.alterConfigs(ctx, name, validateOnly, func(map[string]string) (map[string]string, error) {
		return maps.Clone(configs), nil
	})
}

// IncrementalAlterTopicConfigs applies ops in order to topic name's
// configs (IncrementalAlterConfigs semantics). Unknown keys, APPEND or
// SUBTRACT on a non-list config and invalid results are ErrInvalidConfig.
func (s *Service) IncrementalAlterTopicConfigs(ctx context.Context, name string, ops []ConfigOp, validateOnly bool) error {
	return s.alterConfigs(ctx, name, validateOnly, func(cur map[string]string) (map[string]string, error) {
		return ApplyConfigOps(cur, ops)
	})
}

// alterConfigs computes the topic's new configs from the committed ones,
// validates them and proposes the full map, retrying when another change
// landed first (the meta shard compares what the proposer read).
func (s *Service) alterConfigs(ctx context.Context, name string, validateOnly bool, next func(map[string]string) (map[string]string, error)) error {
	for attempt := 0; ; attempt++ {
		r, ok := s.meta.View().Topics[name]
		if !ok {
			return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
		}
		configs, err := next(r.Configs)
		if err != nil {
			return err
		}
		if err := ValidateTopicConfigs(configs); err != nil {
			return err
		}
		if validateOnly {
			return nil
		}
		cmd := &raftsm.AlterTopicConfigsCommand{Name: name, ID: r.ID, Expect: r.Configs, Configs: configs}
		res, err := s.propose(ctx, raftsm.EncodeAlterTopicConfigs(cmd))
		if err != nil {
			return err
		}
		switch st := raftsm.ResultStatus(res.Data); st {
		case raftsm.StatusOK:
			return nil
		case raftsm.StatusUnknownTopic:
			return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
		case raftsm.StatusConflict:
			if attempt < conflictRetries {
				continue
			}
			fallthrough
		default:
			return fmt.Errorf("cluster: alter configs of %q: %s", name, st)
		}
	}
}

// ApplyConfigOps returns cur with ops applied in order (cur is not
// modified). It checks keys and operations, not values: validate the result
// with ValidateTopicConfigs.
func ApplyConfigOps(cur map[string]string, ops []ConfigOp) (map[string]string, error) {
	out := maps.Clone(cur)
	if out == nil {
		out = map[string]string{}
	}
	for _, op := range ops {
		d, ok := LookupTopicConfig(op.Name)
		if !ok {
			return nil, fmt.Errorf("%w: unknown topic config %q", ErrInvalidConfig, op.Name)
		}
		switch op.Op {
		case ConfigOpSet:
			out[op.Name] = op.Value
		case ConfigOpDelete:
			delete(out, op.Name)
		case ConfigOpAppend, ConfigOpSubtract:
			if d.Type != ConfigTypeList {
				return nil, fmt.Errorf("%w: %s is not a list config; APPEND and SUBTRACT apply only to lists such as cleanup.policy", ErrInvalidConfig, op.Name)
			}
			v, ok := out[op.Name]
			if !ok {
				v = d.Default
			}
			items := nonEmptyItems(v)
			for _, item := range nonEmptyItems(op.Value) {
				if op.Op == ConfigOpAppend && !slices.Contains(items, item) {
					items = append(items, item)
				}
				if op.Op == ConfigOpSubtract {
					items = slices.DeleteFunc(items, func(s string) bool { return s == item })
				}
			}
			out[op.Name] = strings.Join(items, ",")
		default:
			return nil, fmt.Errorf("%w: unknown config operation %d for %s", ErrInvalidConfig, op.Op, op.Name)
		}
	}
	return out, nil
}

func nonEmptyItems(v string) []string {
	return slices.DeleteFunc(listItems(v), func(s string) bool { return s == "" })
}

// LogDir returns the broker's log directory: the data dir that the broker
// config log.dirs reports, with the space of its file system.
func (s *Service) LogDir() LogDir {
	d := LogDir{TotalBytes: -1, UsableBytes: -1}
	for _, e := range s.set.BrokerConfigs {
		if e.Name == "log.dirs" {
			d.Path = e.Value
		}
	}
	if d.Path == "" {
		return d
	}
	if abs, err := filepath.Abs(d.Path); err == nil {
		d.Path = abs
	}
	if total, usable, err := DiskSpace(d.Path); err == nil {
		d.TotalBytes, d.UsableBytes = total, usable
	}
	return d
}

package opsctl

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

const (
	keyDeleteRecords   = 21
	keyDescribeLogDirs = 35
)

// DeletedRecords is the result of `topic delete-records`.
type DeletedRecords struct {
	Topic      string             `json:"topic"`
	Partitions []DeletedPartition `json:"partitions"`
}

// DeletedPartition is one partition's new log start offset.
type DeletedPartition struct {
	Partition      int32 `json:"partition"`
	LogStartOffset int64 `json:"log_start_offset"`
}

// DeleteRecords deletes every record below before (-1: the high watermark,
// i.e. everything) in the given partitions of topic (nil: all), advancing
// their log start offsets.
func (c *Client) DeleteRecords(ctx context.Context, topic string, partitions []int32, before int64) (*DeletedRecords, error) {
	if err := checkName("topic", topic); err != nil {
		return nil, err
	}
	if before < -1 {
		return nil, invalidf("--before %d: give an offset >= 0, or -1 for the high watermark", before)
	}
	if err := c.require("delete records", keyDeleteRecords); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	td, err := c.topic(ctx, topic)
	if err != nil {
		return nil, err
	}
	if partitions == nil {
		for p := range td.Partitions {
			partitions = append(partitions, p)
		}
	}
	var os kadm.Offsets
	for _, p := range partitions {
		if _, ok := td.Partitions[p]; !ok {
			return nil, invalidf("topic %q has no partition %d", topic, p)
		}
		os.Add(kadm.Offset{Topic: topic, Partition: p, At: before})
	}
	rs, err := c.adm.DeleteRecords(ctx, os)
	if err != nil {
		return nil, c.explain(err)
	}
	out := &DeletedRecords{Topic: topic}
	for _, p := range partitions {
		r, _ := rs.Lookup(topic, p)
		if r.Err != nil {
			return nil, c.fail(r.Err, "", subject{"topic", topic})
		}
		out.Partitions = append(out.Partitions, DeletedPartition{Partition: p, LogStartOffset: r.LowWatermark})
	}
	sort.Slice(out.Partitions, func(i, j int) bool { return out.Partitions[i].Partition < out.Partitions[j].Partition })
	return out, nil
}

// WriteTable implements Report.
func (r *DeletedRecords) WriteTable(w io.Writer) error {
	t := newTable(w, "TOPIC", "PARTITION", "LOG-START-OFFSET")
	for _, p := range r.Partitions {
		t.row(r.Topic, itoa(p.Partition), itoa(p.LogStartOffset))
	}
	return t.flush()
}

// ClusterDescription is the result of `cluster describe`: the brokers as
// the Kafka API reports them and the bytes each holds per topic.
type ClusterDescription struct {
	ClusterID  string `json:"cluster_id"`
	Controller int32  `json:"controller"`
	// Features are the finalized feature levels (KIP-584; what
	// kafka-features.sh describe shows): transaction.version 2 once
	// KIP-890 part 2 is on; absent at level 0.
	Features map[string]int16 `json:"features"`
	Brokers  []BrokerUsage    `json:"brokers"`
}

// BrokerUsage is one broker and its log directory usage.
type BrokerUsage struct {
	ID         int32  `json:"id"`
	Host       string `json:"host"`
	Port       int32  `json:"port"`
	Rack       string `json:"rack,omitempty"`
	LogDir     string `json:"log_dir"`
	Partitions int    `json:"partitions"`
	Bytes      int64  `json:"bytes"`
	Error      string `json:"error,omitempty"`
}

// DescribeCluster reports the brokers (DescribeCluster/Metadata) and what
// each stores (DescribeLogDirs).
func (c *Client) DescribeCluster(ctx context.Context) (*ClusterDescription, error) {
	if err := c.require("describe log dirs", keyDescribeLogDirs); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	md, err := c.adm.BrokerMetadata(ctx)
	if err != nil {
		return nil, c.explain(err)
	}
	dirs, err := c.adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		return nil, c.explain(err)
	}
	out := &ClusterDescription{ClusterID: md.Cluster, Controller: md.Controller, Features: c.features}
	for _, b := range md.Brokers {
		u := BrokerUsage{ID: b.NodeID, Host: b.Host, Port: b.Port}
		if b.Rack != nil {
			u.Rack = *b.Rack
		}
		for dir, d := range dirs[b.NodeID] {
			u.LogDir = dir
			if d.Err != nil {
				u.Error = d.Err.Error()
			}
			for _, ps := range d.Topics {
				for _, p := range ps {
					u.Partitions++
					u.Bytes += p.Size
				}
			}
		}
		out.Brokers = append(out.Brokers, u)
	}
	sort.Slice(out.Brokers, func(i, j int) bool { return out.Brokers[i].ID < out.Brokers[j].ID })
	return out, nil
}

// WriteTable implements Report.
func (r *ClusterDescription) WriteTable(w io.Writer) error {
	return sections(w,
		func(w io.Writer) error {
			t := newTable(w, "CLUSTER", "CONTROLLER", "FEATURES")
			var features []string
			for _, name := range slices.Sorted(maps.Keys(r.Features)) {
				features = append(features, fmt.Sprintf("%s=%d", name, r.Features[name]))
			}
			t.row(r.ClusterID, itoa(r.Controller), strings.Join(features, ","))
			return t.flush()
		},
		func(w io.Writer) error {
			t := newTable(w, "BROKER", "ADDRESS", "RACK", "LOG-DIR", "PARTITIONS", "BYTES", "ERROR")
			for _, b := range r.Brokers {
				t.row(itoa(b.ID), b.Host+":"+itoa(b.Port), b.Rack, b.LogDir, itoa(b.Partitions), itoa(b.Bytes), b.Error)
			}
			return t.flush()
		},
	)
}

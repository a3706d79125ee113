// Package cluster owns the cluster metadata view: brokers, topics and their
// partitions, topic configs with their defaults and validation, and the
// operations on them (create, delete, producer-ID allocation) that go
// through the meta shard.
package cluster

import "errors"

// Errors returned by cluster operations. The kafka package maps them to
// Kafka error codes in one place.
var (
	ErrTopicExists        = errors.New("cluster: topic already exists")
	ErrUnknownTopic       = errors.New("cluster: unknown topic or partition")
	ErrInvalidTopic       = errors.New("cluster: invalid topic name")
	ErrInvalidPartitions  = errors.New("cluster: invalid number of partitions")
	ErrInvalidReplication = errors.New("cluster: invalid replication factor")
	ErrInvalidConfig      = errors.New("cluster: invalid topic config")
	ErrNotController      = errors.New("cluster: meta shard has no leader")
)

// Broker is one node of the cluster as clients see it.
type Broker struct {
	ID   int32
	Host string
	Port int32
	Rack string // empty when unset
}

// Topic is a topic's metadata as committed in the meta shard.
type Topic struct {
	Name       string
	ID         [16]byte // topic UUID, never reused
	Partitions []Partition
	// Configs holds only the explicitly set configs; Config() adds defaults.
	Configs map[string]string
}

// Partition is one partition's placement.
type Partition struct {
	Index    int32
	ShardID  uint64   // the partition's Raft shard
	Nodes    []int32  // broker IDs holding a replica, preferred leader first
	Replicas []uint64 // Raft replica IDs, parallel to Nodes
}

// TopicSpec is a request to create a topic.
type TopicSpec struct {
	Name              string
	Partitions        int32 // -1 means the broker default
	ReplicationFactor int16 // -1 means the broker default
	Configs           map[string]string
}

// ConfigEntry is one topic or broker config as DescribeConfigs reports it.
type ConfigEntry struct {
	Name      string
	Value     string
	IsDefault bool
	ReadOnly  bool
	Sensitive bool
}

package cluster

// NodeStatus is one broker's view of itself, served at GET /v1/status on
// its HTTP address and merged by `chronik cluster status`.
type NodeStatus struct {
	Node       int32 `json:"node"`
	MetaLeader int32 `json:"meta_leader"` // -1 when the meta shard has no leader
	// MetaVoters and MetaNonVoting are the brokers holding voting and
	// non-voting replicas of the meta shard (empty when unknown).
	MetaVoters    []int32         `json:"meta_voters"`
	MetaNonVoting []int32         `json:"meta_non_voting"`
	Replicas      []ReplicaStatus `json:"replicas"`
}

// ReplicaStatus is one local partition replica.
type ReplicaStatus struct {
	Topic          string `json:"topic"`
	Partition      int32  `json:"partition"`
	Shard          uint64 `json:"shard"`
	Replica        uint64 `json:"replica"`
	Leader         int32  `json:"leader"` // broker ID, -1 when unknown
	LeaderEpoch    int32  `json:"leader_epoch"`
	IsLeader       bool   `json:"is_leader"`
	LogStartOffset int64  `json:"log_start_offset"`
	HighWatermark  int64  `json:"high_watermark"`
}

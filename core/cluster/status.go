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
	// Compaction is the replica's log compaction, when it has compacted
	// since its broker started or a pass is in progress.
	Compaction *CompactionStatus `json:"compaction,omitempty"`
}

// CompactionStatus is a replica's log compaction: the pass in progress (0
// when none), the bytes the last pass wrote and those written since, and
// what the last pass on this broker did.
type CompactionStatus struct {
	PendingPass uint64          `json:"pending_pass"`
	WorkerDone  bool            `json:"worker_done"`
	CleanBytes  int64           `json:"clean_bytes"`
	DirtyBytes  int64           `json:"dirty_bytes"`
	LastPass    *CompactionPass `json:"last_pass,omitempty"`
}

// CompactionPass is what one compaction pass did on a replica.
type CompactionPass struct {
	Pass        uint64 `json:"pass"`
	Records     int64  `json:"records"`
	Kept        int64  `json:"kept"`
	BytesBefore int64  `json:"bytes_before"`
	BytesAfter  int64  `json:"bytes_after"`
	Error       string `json:"error,omitempty"`
}

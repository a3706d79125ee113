package opsctl_test

import (
	"testing"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/opsctl"
)

// clusterReports are rendered like reports (render_test.go), against
// testdata/NAME.table and testdata/NAME.json.
var clusterReports = []namedReport{
	{"cluster_status", &opsctl.ClusterStatus{
		Nodes: []opsctl.NodeState{
			{Node: 1, HTTP: "10.0.0.1:9644", Up: true, MetaLeader: 1},
			{Node: 2, HTTP: "10.0.0.2:9644", Up: true, MetaLeader: 1},
			{Node: -1, HTTP: "10.0.0.3:9644", MetaLeader: -1, Error: "dial tcp 10.0.0.3:9644: connect: connection refused"},
		},
		Partitions: []opsctl.PartitionState{
			{Topic: "_schemas", Partition: 0, Leader: 1, LeaderEpoch: 3, State: "under-replicated", Replicas: []opsctl.ReplicaLag{
				{Node: 1, Reporting: true, HighWatermark: 420}, {Node: 2, Reporting: true, HighWatermark: 420}, {Node: 3},
			}},
			{Topic: "connect-configs", Partition: 0, Leader: 2, LeaderEpoch: 5, State: "under-replicated", Replicas: []opsctl.ReplicaLag{
				{Node: 2, Reporting: true, HighWatermark: 96}, {Node: 1, Reporting: true, HighWatermark: 96}, {Node: 3},
			}},
			{Topic: "orders", Partition: 0, Leader: 1, LeaderEpoch: 3, State: "ok", Replicas: []opsctl.ReplicaLag{
				{Node: 1, Reporting: true, HighWatermark: 51730}, {Node: 2, Reporting: true, HighWatermark: 51730},
			}},
		},
		UnderReplicated: 2,
		Compaction: []opsctl.CompactionState{
			{Topic: "_schemas", Partition: 0, Leader: 1, CompactionStatus: cluster.CompactionStatus{
				PendingPass: 8, CleanBytes: 48213, DirtyBytes: 1200,
				LastPass: &cluster.CompactionPass{Pass: 7, Records: 431, Kept: 120, BytesBefore: 171520, BytesAfter: 48213},
			}},
			{Topic: "connect-configs", Partition: 0, Leader: 2, CompactionStatus: cluster.CompactionStatus{
				CleanBytes: 0, DirtyBytes: 30210,
				LastPass: &cluster.CompactionPass{Pass: 2, Error: "raftsm: partition 1030: compaction: no space left on device"},
			}},
		},
	}},
	{"cluster_status_no_compaction", &opsctl.ClusterStatus{
		Nodes: []opsctl.NodeState{{Node: 1, HTTP: "127.0.0.1:9644", Up: true, MetaLeader: 1}},
		Partitions: []opsctl.PartitionState{
			{Topic: "orders", Partition: 0, Leader: 1, LeaderEpoch: 1, State: "ok", Replicas: []opsctl.ReplicaLag{{Node: 1, Reporting: true, HighWatermark: 12}}},
		},
		Compaction: []opsctl.CompactionState{},
	}},
}

func TestClusterRenderGolden(t *testing.T) {
	renderGolden(t, clusterReports, func(t *testing.T, name string, v any) { checkKeys(t, name, v, false) })
}

package kafka

// DescribeLogDirs, key 35: versions 0–5.
//
//   - A broker has one log dir: its data dir, reported by path (as the
//     log.dirs broker config), with TotalBytes and UsableBytes (v4) of its
//     file system, -1 when unknown. It is never cordoned (IsCordoned, v5,
//     KIP-1066: Chronik has no cordoning; its placement knows one dir).
//   - Topics null lists every partition this broker holds a replica of;
//     otherwise the requested ones, leaving out unknown topics and
//     partitions held elsewhere (as Kafka does).
//   - Size is the bytes of the batches stored locally for the partition
//     (kept by its state machine); OffsetLag is 0 and IsFuture false: there
//     are no future replicas and replicas do not report their lag.
//   - With ACLs (authz.go), DESCRIBE on the cluster is needed:
//     CLUSTER_AUTHORIZATION_FAILED (v3+) and no directories otherwise.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/partition"
)

func handleDescribeLogDirs(_ context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	if !s.authorizedCluster(r, kmsg.ACLOperationDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code // v3+; before, no directories
		return resp
	}

	ld := s.backend.LogDir()
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir, dir.TotalBytes, dir.UsableBytes = ld.Path, ld.TotalBytes, ld.UsableBytes

	add := func(topic string, partitions []int32) {
		dt := kmsg.NewDescribeLogDirsResponseDirTopic()
		dt.Topic = topic
		for _, p := range partitions {
			st, err := s.backend.PartitionState(partition.TP{Topic: topic, Partition: p})
			// Partitions held elsewhere have no local state: the backend
			// reports them with offsets -1 (or not at all).
			if err != nil || st.LogStartOffset < 0 {
				continue
			}
			dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			dp.Partition, dp.Size = p, st.SizeBytes
			dt.Partitions = append(dt.Partitions, dp)
		}
		if len(dt.Partitions) > 0 {
			dir.Topics = append(dir.Topics, dt)
		}
	}
	if req.Topics == nil {
		for _, t := range s.backend.Topics() {
			ps := make([]int32, len(t.Partitions))
			for i := range ps {
				ps[i] = int32(i)
			}
			add(t.Name, ps)
		}
	} else {
		for _, rt := range req.Topics {
			if _, ok := s.backend.Topic(rt.Topic); ok {
				add(rt.Topic, rt.Partitions)
			}
		}
	}
	resp.Dirs = []kmsg.DescribeLogDirsResponseDir{dir}
	return resp
}

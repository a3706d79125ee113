package kafka

// DeleteRecords, key 21: versions 0–2.
//
//   - Each partition's log start offset advances to Offset through the
//     partition's Raft shard (Backend.DeleteRecords); -1 means the high
//     watermark. LowWatermark is the resulting log start offset. Batches
//     wholly below it are deleted; the batch holding it stays, but offsets
//     below it are no longer readable (OFFSET_OUT_OF_RANGE on fetch).
//   - An offset beyond the high watermark (or below -1) is
//     OFFSET_OUT_OF_RANGE; one below the current log start changes nothing.
//   - Only the leader answers (NOT_LEADER_OR_FOLLOWER); unknown topics and
//     partitions are UNKNOWN_TOPIC_OR_PARTITION. A partition named twice
//     is processed twice, in request order, each entry reporting the log
//     start after its own deletion.
//   - TimeoutMillis bounds each partition's commit (REQUEST_TIMED_OUT).
//   - With ACLs (authz.go), a topic needs DELETE:
//     TOPIC_AUTHORIZATION_FAILED otherwise.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/partition"
)

func handleDeleteRecords(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	ctx, cancel := requestContext(ctx, req.TimeoutMillis, defaultAdminTimeout)
	defer cancel()

	resp.Topics = make([]kmsg.DeleteRecordsResponseTopic, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := &resp.Topics[i]
		*st = kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		topic, known := s.backend.Topic(rt.Topic)
		deletable := s.authorized(r, kmsg.ACLOperationDelete, kmsg.ACLResourceTypeTopic, rt.Topic)
		st.Partitions = make([]kmsg.DeleteRecordsResponseTopicPartition, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			*sp = kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition, sp.LowWatermark = rp.Partition, -1
			switch {
			case !deletable:
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case !known || rp.Partition < 0 || int(rp.Partition) >= len(topic.Partitions):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case rp.Offset < -1:
				sp.ErrorCode = kerr.OffsetOutOfRange.Code
			default:
				low, err := s.backend.DeleteRecords(ctx, partition.TP{Topic: rt.Topic, Partition: rp.Partition}, rp.Offset)
				if err != nil {
					sp.ErrorCode = s.errCode("DeleteRecords", err)
					continue
				}
				sp.LowWatermark = low
			}
		}
	}
	return resp
}

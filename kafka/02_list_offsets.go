package kafka

// ListOffsets, key 2: versions 1–11 (v0's offsets-array form is not served).
//
//   - Timestamp -2 (earliest) → log start offset; -1 (latest) → high watermark
//     with the current leader epoch; -4 (earliest local, v8+) → the first
//     offset stored locally (the log start unless tiered storage holds the
//     batches below); -5 (latest tiered, v9+) → the last offset in tiered
//     storage, -1 when nothing is tiered; -6 (earliest pending upload,
//     KIP-1023, v11+) → the first offset not yet in tiered storage (the log
//     start when nothing is tiered yet), -1 for a topic without
//     remote.storage.enable, as Kafka answers. A special timestamp the
//     request's version does not know is UNSUPPORTED_VERSION, as Kafka
//     answers. Any other value is a timestamp lookup through
//     Backend.OffsetForTimestamp: the first offset whose timestamp is ≥ it, or
//     -1/-1 when there is none.
//   - -3 (max timestamp, v7+) → the offset and timestamp of the record with
//     the largest timestamp (the first, if several share it), -1/-1 for an
//     empty partition (Backend.MaxTimestampOffset).
//   - Only the leader answers (NOT_LEADER_OR_FOLLOWER / LEADER_NOT_AVAILABLE),
//     under a read lease (Backend.ReadState): a newly elected one once it
//     has applied what its predecessors committed, one cut off from its
//     peers not after a successor may have acknowledged records;
//     CurrentLeaderEpoch (v4+) is checked against the Raft term.
//   - LeaderEpoch (v4+) is the current epoch for latest, -1 (unknown) for
//     timestamp and earliest lookups: we do not know the epoch of an older
//     batch, and -1 makes clients skip truncation checks rather than run them
//     against a wrong epoch.
//   - With ACLs (authz.go), a topic needs DESCRIBE:
//     TOPIC_AUTHORIZATION_FAILED otherwise.
//   - Latest is the last stable offset for IsolationLevel 1
//     (read_committed: below the earliest open transaction), the high
//     watermark otherwise. TimeoutMillis (v10+) bounds timestamp lookups.

import (
	"context"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/partition"
)

// Special ListOffsets timestamps.
const (
	listLatest       = -1
	listEarliest     = -2
	listMaxTimestamp = -3
	listEarliestLoc  = -4
	listLatestTiered = -5
	listPendingUp    = -6
)

// listSpecialSince is the first version that knows each special timestamp
// (Kafka's ListOffsetsRequest.timestampMinSupportedVersion, from v1).
var listSpecialSince = map[int64]int16{listMaxTimestamp: 7, listEarliestLoc: 8, listLatestTiered: 9, listPendingUp: 11}

func handleListOffsets(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	timeout := int32(0)
	if req.Version >= 10 {
		timeout = req.TimeoutMillis
	}
	ctx, cancel := requestContext(ctx, timeout, 30*time.Second)
	defer cancel()
	self := s.backend.NodeID()

	resp.Topics = make([]kmsg.ListOffsetsResponseTopic, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := &resp.Topics[i]
		*st = kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		topic, known := s.backend.Topic(rt.Topic)
		tiered := strings.EqualFold(topic.Configs["remote.storage.enable"], "true")
		code := int16(0)
		switch {
		case !s.authorized(r, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, rt.Topic):
			code = kerr.TopicAuthorizationFailed.Code
		case !known:
			code = kerr.UnknownTopicOrPartition.Code
		}

		st.Partitions = make([]kmsg.ListOffsetsResponseTopicPartition, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			*sp = kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			if code != 0 {
				sp.ErrorCode = code
				continue
			}
			s.listOffset(ctx, self, partition.TP{Topic: rt.Topic, Partition: rp.Partition}, rp, req.Version, req.IsolationLevel == 1, tiered, sp)
		}
	}
	return resp
}

func (s *Server) listOffset(ctx context.Context, self int32, tp partition.TP, rp *kmsg.ListOffsetsRequestTopicPartition, version int16, committed, tiered bool, out *kmsg.ListOffsetsResponseTopicPartition) {
	if since, ok := listSpecialSince[rp.Timestamp]; ok && version < since {
		out.ErrorCode = kerr.UnsupportedVersion.Code
		return
	}
	st, err := s.backend.ReadState(ctx, tp)
	if err != nil {
		out.ErrorCode = s.errCode("ListOffsets", err)
		return
	}
	currentEpoch := int32(-1)
	if version >= 4 {
		currentEpoch = rp.CurrentLeaderEpoch
	}
	if out.ErrorCode = leaderCheck(st, self, currentEpoch); out.ErrorCode != 0 {
		return
	}
	switch rp.Timestamp {
	case listLatest:
		out.Offset, out.LeaderEpoch = st.HighWatermark, st.LeaderEpoch
		if committed {
			out.Offset = st.LastStableOffset
		}
	case listEarliest:
		out.Offset = st.LogStartOffset
	case listEarliestLoc:
		// The local start is at or above the log start; a backend that
		// does not tier reports 0 or the log start itself.
		out.Offset = max(st.LogStartOffset, st.LocalStartOffset)
	case listLatestTiered:
		// The last tiered offset; -1 (Kafka's answer without remote
		// storage) when nothing is tiered.
		if st.TieredEnd > 0 {
			out.Offset = st.TieredEnd - 1
		}
	case listPendingUp:
		switch {
		case !tiered:
		case st.TieredEnd > 0:
			out.Offset = max(st.TieredEnd, st.LogStartOffset)
		case st.LocalStartOffset <= st.LogStartOffset:
			out.Offset = st.LogStartOffset // nothing tiered yet
		}
	case listMaxTimestamp:
		offset, ts, err := s.backend.MaxTimestampOffset(ctx, tp)
		if err != nil {
			out.ErrorCode = s.errCode("ListOffsets", err)
			return
		}
		out.Offset, out.Timestamp = offset, ts
	default:
		offset, ts, err := s.backend.OffsetForTimestamp(ctx, tp, rp.Timestamp)
		if err != nil {
			out.ErrorCode = s.errCode("ListOffsets", err)
			return
		}
		out.Offset, out.Timestamp = offset, ts
	}
}

package kafka

// OffsetCommit, key 8: versions 2–10.
//
//   - Offsets are committed through the group's coordinator shard and the
//     response is sent only after the commit is applied (durable in the
//     Raft log). The commit time is the coordinator's clock.
//   - Generation -1 with an empty member ID is a simple (assign())
//     consumer: accepted while the group has no members. Otherwise the
//     member and generation must be current: UNKNOWN_MEMBER_ID,
//     ILLEGAL_GENERATION (also for a member commit to an unknown group),
//     REBALANCE_IN_PROGRESS between JoinGroup and SyncGroup,
//     FENCED_INSTANCE_ID (v7+). Commits during the join phase are accepted,
//     as in Kafka, so eager consumers can commit before they rejoin.
//   - In a KIP-848 consumer group (68_consumer_group_heartbeat.go) the
//     generation is the member epoch: STALE_MEMBER_EPOCH when it is not
//     the member's, except an older epoch for partitions the member has
//     held since then (KIP-1251); UNSUPPORTED_VERSION below v9 for its
//     members; an admin commit (generation -1, no member) only while the
//     group is empty.
//   - Unknown topics or partitions get UNKNOWN_TOPIC_OR_PARTITION and are
//     not stored; metadata over 4096 bytes gets OFFSET_METADATA_TOO_LARGE.
//   - RetentionTimeMillis (v2–v4) > 0 gives the offsets their own expiry;
//     otherwise offsets.retention.minutes applies (KIP-211).
//   - Commits pipelined on one connection take effect in request order, as
//     in Kafka: each waits for the previous one (api.inOrder). sarama
//     pipelines a commit per partition goroutine, each with every offset
//     marked so far; run concurrently, an older one could land last.
//   - With ACLs (authz.go), the group needs READ (every partition gets
//     GROUP_AUTHORIZATION_FAILED otherwise) and each topic READ
//     (TOPIC_AUTHORIZATION_FAILED).
//   - v10 (KIP-848, Kafka 4.2) names topics by ID, echoed in the answer; an
//     ID the cluster does not know gets UNKNOWN_TOPIC_ID.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/group"
)

// defaultGroupTimeout bounds group calls whose request has no timeout of
// its own (the proposal itself is bounded by the coordinator).
const defaultGroupTimeout = 30 * time.Second

func handleOffsetCommit(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.OffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	cr := group.CommitRequest{
		Group: req.Group, Generation: req.Generation, MemberID: req.MemberID, InstanceID: derefString(req.InstanceID),
		Version: req.Version,
	}
	if req.Version <= 4 && req.RetentionTimeMillis > 0 {
		cr.Retention = time.Duration(req.RetentionTimeMillis) * time.Millisecond
	}
	groupAllowed := s.authorized(r, kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, req.Group)
	type ref struct{ t, p int }
	var refs []ref // refs[i] is where cr.Offsets[i] is answered
	resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(req.Topics))
	for ti, rt := range req.Topics {
		st := &resp.Topics[ti]
		*st = kmsg.NewOffsetCommitResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		st.Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, len(rt.Partitions))
		var (
			topic  cluster.Topic
			ok     bool
			denied int16
		)
		if req.Version >= 10 {
			topic, ok = s.backend.TopicByID(rt.TopicID)
		} else {
			topic, ok = s.backend.Topic(rt.Topic)
		}
		switch {
		case !groupAllowed:
			denied = kerr.GroupAuthorizationFailed.Code
		case req.Version >= 10 && !ok:
			denied = kerr.UnknownTopicID.Code // no name to authorize or tell
		case !s.authorized(r, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, topicName(req.Version, rt.Topic, topic)):
			denied = kerr.TopicAuthorizationFailed.Code
		}
		for pi, rp := range rt.Partitions {
			sp := &st.Partitions[pi]
			*sp = kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case denied != 0:
				sp.ErrorCode = denied
				continue
			case !ok || rp.Partition < 0 || int(rp.Partition) >= len(topic.Partitions):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			cr.Offsets = append(cr.Offsets, group.CommitOffset{
				TopicPartition: group.TopicPartition{Topic: topic.Name, Partition: rp.Partition},
				Offset:         rp.Offset, LeaderEpoch: rp.LeaderEpoch, Metadata: derefString(rp.Metadata),
			})
			refs = append(refs, ref{ti, pi})
		}
	}
	if len(cr.Offsets) == 0 {
		return resp
	}
	ctx, cancel := context.WithTimeout(ctx, defaultGroupTimeout)
	defer cancel()
	for i, err := range s.cfg.Groups.CommitOffsets(ctx, cr) {
		resp.Topics[refs[i].t].Partitions[refs[i].p].ErrorCode = s.groupErrCode("OffsetCommit", err)
	}
	return resp
}

// topicName is the topic a request names: by name before version 10 (the
// name as sent, whether or not the topic exists), by ID from it (t, the
// topic found).
func topicName(version int16, name string, t cluster.Topic) string {
	if version >= 10 {
		return t.Name
	}
	return name
}

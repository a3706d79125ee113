package kafka

// CreatePartitions, key 37: versions 0–3.
//
//   - Count is the topic's new total. The new partitions are placed as a
//     topic created with Count partitions would place them, with the
//     topic's replication factor, committed through the meta shard, and the
//     answer waits until they have leaders (TimeoutMillis bounds the wait;
//     the partitions exist even when it ends first).
//   - A Count at or below the current one is INVALID_PARTITIONS (partitions
//     are never removed), as is one above Config.MaxPartitionsPerTopic.
//     Unknown topics are UNKNOWN_TOPIC_OR_PARTITION.
//   - A manual Assignment is INVALID_REQUEST (not supported yet). A topic
//     named twice is INVALID_REQUEST for each occurrence, as in Kafka.
//     ValidateOnly checks without creating.
//   - With ACLs (authz.go), a topic needs ALTER:
//     TOPIC_AUTHORIZATION_FAILED otherwise.
//   - controller_mutation_rate (quotas.go, mutationQuota): the partitions
//     added take as many tokens from the principal's token bucket. In v3,
//     a topic named once, authorized, within the limit and without an
//     Assignment is refused with THROTTLING_QUOTA_EXCEEDED, before the
//     count is checked against the topic's, while the bucket is exhausted;
//     v0–v2 are never refused. ThrottleMillis is the time until the bucket is back
//     to zero, and the connection is not read for that long.
//     ValidateOnly takes nothing and is never refused.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleCreatePartitions(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	ctx, cancel := requestContext(ctx, req.TimeoutMillis, defaultAdminTimeout)
	defer cancel()

	seen := make(map[string]int, len(req.Topics))
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	mq := s.mutationQuota(r, req.Version >= 3, req.ValidateOnly)
	resp.Topics = make([]kmsg.CreatePartitionsResponseTopic, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		out := &resp.Topics[i]
		*out = kmsg.NewCreatePartitionsResponseTopic()
		out.Topic = rt.Topic
		fail := func(code int16, msg string) {
			out.ErrorCode, out.ErrorMessage = code, kmsg.StringPtr(msg)
		}
		switch {
		case seen[rt.Topic] > 1:
			fail(kerr.InvalidRequest.Code, fmt.Sprintf("topic %q appears more than once in the request", rt.Topic))
		case !s.authorized(r, kmsg.ACLOperationAlter, kmsg.ACLResourceTypeTopic, rt.Topic):
			fail(kerr.TopicAuthorizationFailed.Code, "not authorized to alter topic "+rt.Topic)
		case rt.Count > s.cfg.MaxPartitionsPerTopic:
			fail(kerr.InvalidPartitions.Code, fmt.Sprintf("number of partitions %d exceeds the limit of %d per topic", rt.Count, s.cfg.MaxPartitionsPerTopic))
		case len(rt.Assignment) > 0:
			fail(kerr.InvalidRequest.Code, "manual replica assignment is not supported yet; give only the new partition count")
		default:
			if msg := mq.refusal(); msg != "" {
				fail(kerr.ThrottlingQuotaExceeded.Code, msg)
				break
			}
			before, _ := s.backend.Topic(rt.Topic)
			if err := s.backend.CreatePartitions(ctx, rt.Topic, rt.Count, req.ValidateOnly); err != nil {
				fail(s.errCode("CreatePartitions", err), err.Error())
				break
			}
			mq.record(rt.Count - int32(len(before.Partitions)))
		}
	}
	resp.ThrottleMillis = mq.throttleMillis()
	return resp
}

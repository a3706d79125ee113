package kafka

// DeleteTopics, key 20: versions 1–6.
//
//   - v1–v5 name topics; v6 names them or gives a topic ID (null name).
//   - Unknown names get UNKNOWN_TOPIC_OR_PARTITION, unknown IDs
//     UNKNOWN_TOPIC_ID. Each topic is deleted through Backend.DeleteTopic,
//     bounded by TimeoutMillis; ErrorMessage (v5+) carries the explanation.
//   - v6 responses carry both the name and the ID.
//   - With ACLs (authz.go), a topic needs DELETE:
//     TOPIC_AUTHORIZATION_FAILED otherwise, before its existence is told
//     (by ID: after the ID is found, without its name).
//   - controller_mutation_rate (quotas.go, mutationQuota): each topic
//     deleted takes its partitions from the principal's token bucket. From
//     v5, a topic found and authorized is refused with
//     THROTTLING_QUOTA_EXCEEDED while the bucket is exhausted; v1–v4 are
//     never refused. ThrottleMillis is the time until the bucket is back
//     to zero, and the connection is not read for that long.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/cluster"
)

func handleDeleteTopics(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	ctx, cancel := requestContext(ctx, req.TimeoutMillis, defaultAdminTimeout)
	defer cancel()

	topics := req.Topics
	if req.Version < 6 {
		topics = make([]kmsg.DeleteTopicsRequestTopic, len(req.TopicNames))
		for i := range req.TopicNames {
			topics[i] = kmsg.NewDeleteTopicsRequestTopic()
			topics[i].Topic = &req.TopicNames[i]
		}
	}
	mq := s.mutationQuota(r, req.Version >= 5, false)
	resp.Topics = make([]kmsg.DeleteTopicsResponseTopic, len(topics))
	for i := range topics {
		rt := &topics[i]
		st := &resp.Topics[i]
		*st = kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID

		var (
			t  cluster.Topic
			ok bool
		)
		if rt.Topic != nil {
			if !s.authorized(r, kmsg.ACLOperationDelete, kmsg.ACLResourceTypeTopic, *rt.Topic) {
				st.ErrorCode = kerr.TopicAuthorizationFailed.Code
				continue
			}
			if t, ok = s.backend.Topic(*rt.Topic); !ok {
				st.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
		} else if t, ok = s.backend.TopicByID(rt.TopicID); !ok {
			st.ErrorCode = kerr.UnknownTopicID.Code
			continue
		} else if !s.authorized(r, kmsg.ACLOperationDelete, kmsg.ACLResourceTypeTopic, t.Name) {
			st.ErrorCode = kerr.TopicAuthorizationFailed.Code // the name stays unsaid
			continue
		}
		name := t.Name
		st.Topic, st.TopicID = &name, t.ID
		if msg := mq.refusal(); msg != "" {
			st.ErrorCode, st.ErrorMessage = kerr.ThrottlingQuotaExceeded.Code, &msg
			continue
		}
		if err := s.backend.DeleteTopic(ctx, t.Name); err != nil {
			st.ErrorCode = s.errCode("DeleteTopics", err)
			st.ErrorMessage = errMessage(err)
			continue
		}
		mq.record(int32(len(t.Partitions)))
	}
	resp.ThrottleMillis = mq.throttleMillis()
	return resp
}

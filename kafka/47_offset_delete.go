package kafka

// OffsetDelete, key 47: version 0.
//
//   - Deletes committed offsets of a group through its coordinator shard.
//   - An empty group may lose any offsets. A "consumer" group with members
//     keeps the offsets of topics its members subscribe to (read from their
//     subscription metadata; when that does not parse, every topic counts
//     as subscribed): those partitions get GROUP_SUBSCRIBED_TO_TOPIC. Any
//     other group with members gets NON_EMPTY_GROUP.
//   - Unknown group: GROUP_ID_NOT_FOUND. Unknown topic or partition:
//     UNKNOWN_TOPIC_OR_PARTITION. A partition without an offset is not an
//     error.
//   - With ACLs (authz.go), the group needs DELETE
//     (GROUP_AUTHORIZATION_FAILED) and each topic READ
//     (TOPIC_AUTHORIZATION_FAILED).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/group"
)

func handleOffsetDelete(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if !s.authorized(r, kmsg.ACLOperationDelete, kmsg.ACLResourceTypeGroup, req.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp
	}
	type ref struct{ t, p int }
	var (
		tps  []group.TopicPartition
		refs []ref
	)
	resp.Topics = make([]kmsg.OffsetDeleteResponseTopic, len(req.Topics))
	for ti, rt := range req.Topics {
		st := &resp.Topics[ti]
		*st = kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.OffsetDeleteResponseTopicPartition, len(rt.Partitions))
		topic, ok := s.backend.Topic(rt.Topic)
		readable := s.authorized(r, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, rt.Topic)
		for pi, rp := range rt.Partitions {
			sp := &st.Partitions[pi]
			*sp = kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case !readable:
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				continue
			case !ok || rp.Partition < 0 || int(rp.Partition) >= len(topic.Partitions):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			tps = append(tps, group.TopicPartition{Topic: rt.Topic, Partition: rp.Partition})
			refs = append(refs, ref{ti, pi})
		}
	}
	ctx, cancel := context.WithTimeout(ctx, defaultGroupTimeout)
	defer cancel()
	errs, err := s.cfg.Groups.DeleteOffsets(ctx, req.Group, tps)
	if err != nil {
		resp.ErrorCode = s.groupErrCode("OffsetDelete", err)
		resp.Topics = nil
		return resp
	}
	for i, e := range errs {
		resp.Topics[refs[i].t].Partitions[refs[i].p].ErrorCode = s.groupErrCode("OffsetDelete", e)
	}
	return resp
}

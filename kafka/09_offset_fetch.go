package kafka

// OffsetFetch, key 9: versions 1–10.
//
//   - v1–v7 fetch one group's offsets; v8+ many groups at once (Groups),
//     each with its own ErrorCode. A null topic list (v2+) returns every
//     partition the group has committed.
//   - Group-level errors (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, …)
//     are the top-level ErrorCode on v2–v7; v1 has none, so every requested
//     partition carries it.
//   - A partition without a committed offset, of an unknown group or topic,
//     answers offset -1, leader epoch -1 and empty metadata, with no error
//     (as Kafka does).
//   - Offsets a transaction committed (TxnOffsetCommit) are not visible
//     until it commits. With RequireStable (v7+), a partition with such
//     pending offsets answers UNSTABLE_OFFSET_COMMIT (offset -1), which
//     consumers retry; without it, the last committed offset.
//   - v9's MemberID/MemberEpoch (KIP-848): in a consumer group the member
//     must be in the group at that epoch (UNKNOWN_MEMBER_ID,
//     STALE_MEMBER_EPOCH); classic groups check nothing, as in Kafka.
//   - With ACLs (authz.go), the group needs DESCRIBE
//     (GROUP_AUTHORIZATION_FAILED, where group errors go) and each topic
//     DESCRIBE: a requested one gets TOPIC_AUTHORIZATION_FAILED per
//     partition, one the group merely has is left out of "every partition".
//   - v10 (KIP-848, Kafka 4.2) names topics by ID in the request and the
//     answer; the partitions of an ID the cluster does not know answer
//     UNKNOWN_TOPIC_ID, and "every partition" leaves out the offsets of
//     deleted topics (they have no ID left to name them by).

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/group"
)

func handleOffsetFetch(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version >= 8 {
		resp.Groups = make([]kmsg.OffsetFetchResponseGroup, len(req.Groups))
		for i, rg := range req.Groups {
			g := &resp.Groups[i]
			*g = kmsg.NewOffsetFetchResponseGroup()
			g.Group = rg.Group
			var (
				tps     []group.TopicPartition
				unknown []kmsg.OffsetFetchRequestGroupTopic // v10: IDs the cluster does not know
			)
			if rg.Topics != nil {
				tps = []group.TopicPartition{}
				for _, t := range rg.Topics {
					name := t.Topic
					if req.Version >= 10 {
						topic, ok := s.backend.TopicByID(t.TopicID)
						if !ok {
							unknown = append(unknown, t)
							continue
						}
						name = topic.Name
					}
					for _, p := range t.Partitions {
						tps = append(tps, group.TopicPartition{Topic: name, Partition: p})
					}
				}
			}
			if !s.authorized(r, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeGroup, rg.Group) {
				g.ErrorCode = kerr.GroupAuthorizationFailed.Code
				continue
			}
			var err error
			if rg.MemberID != nil || rg.MemberEpoch >= 0 {
				// v9+ (KIP-848): the member must be in the group at its epoch.
				err = s.cfg.Groups.CheckFetchMember(ctx, rg.Group, derefString(rg.MemberID), rg.MemberEpoch)
			}
			var offs []group.FetchedOffset
			if err == nil {
				offs, err = s.cfg.Groups.FetchOffsets(ctx, rg.Group, tps)
			}
			if err != nil {
				g.ErrorCode = s.groupErrCode("OffsetFetch", err)
				continue
			}
			offs, denied := s.describableOffsets(r, offs, tps != nil)
			for _, t := range groupByTopic(offs) {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic = t[0].Topic
				if req.Version >= 10 {
					topic, ok := s.backend.Topic(rt.Topic)
					if !ok {
						continue // deleted: no ID to name it by
					}
					rt.TopicID = topic.ID
				}
				for _, o := range t {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = o.Partition, o.Offset, o.LeaderEpoch, kmsg.StringPtr(o.Metadata)
					switch {
					case denied[o.Topic]:
						rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
					case req.RequireStable && o.Unstable:
						rp.ErrorCode, rp.Offset, rp.LeaderEpoch = kerr.UnstableOffsetCommit.Code, -1, -1
					}
					rt.Partitions = append(rt.Partitions, rp)
				}
				g.Topics = append(g.Topics, rt)
			}
			for _, t := range unknown {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.TopicID = t.TopicID
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p, -1, -1, kerr.UnknownTopicID.Code
					rt.Partitions = append(rt.Partitions, rp)
				}
				g.Topics = append(g.Topics, rt)
			}
		}
		return resp
	}

	var tps []group.TopicPartition
	if req.Topics != nil {
		tps = []group.TopicPartition{}
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				tps = append(tps, group.TopicPartition{Topic: t.Topic, Partition: p})
			}
		}
	}
	var (
		offs []group.FetchedOffset
		err  error
		code int16
	)
	if s.authorized(r, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeGroup, req.Group) {
		offs, err = s.cfg.Groups.FetchOffsets(ctx, req.Group, tps)
		code = s.groupErrCode("OffsetFetch", err)
	} else {
		err, code = errGroupAuthorization, kerr.GroupAuthorizationFailed.Code
	}
	if err != nil {
		if req.Version >= 2 {
			resp.ErrorCode = code
			return resp
		}
		// v1 has no top-level error: every requested partition says it.
		offs = make([]group.FetchedOffset, len(tps))
		for i, tp := range tps {
			offs[i] = group.FetchedOffset{TopicPartition: tp, Offset: -1, LeaderEpoch: -1}
		}
	}
	offs, denied := s.describableOffsets(r, offs, tps != nil)
	for _, t := range groupByTopic(offs) {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t[0].Topic
		for _, o := range t {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = o.Partition, o.Offset, o.LeaderEpoch, kmsg.StringPtr(o.Metadata)
			switch {
			case req.Version < 2:
				rp.ErrorCode = code
			case denied[o.Topic]:
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case req.RequireStable && o.Unstable:
				rp.ErrorCode, rp.Offset, rp.LeaderEpoch = kerr.UnstableOffsetCommit.Code, -1, -1
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// errGroupAuthorization stands for a denied group where an error is
// expected.
var errGroupAuthorization = errors.New("group authorization failed")

// describableOffsets applies ACLs to fetched offsets: those of a topic r's
// principal may not DESCRIBE are left out when the request asked for every
// topic (listed false), else answered as if uncommitted, their topics
// returned in denied for TOPIC_AUTHORIZATION_FAILED.
func (s *Server) describableOffsets(r *request, offs []group.FetchedOffset, listed bool) ([]group.FetchedOffset, map[string]bool) {
	if !s.aclsEnabled() {
		return offs, nil
	}
	var denied map[string]bool
	kept := offs[:0:0]
	for _, o := range offs {
		if s.authorized(r, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, o.Topic) {
			kept = append(kept, o)
			continue
		}
		if !listed {
			continue
		}
		if denied == nil {
			denied = map[string]bool{}
		}
		denied[o.Topic] = true
		o.Offset, o.LeaderEpoch, o.Metadata = -1, -1, ""
		kept = append(kept, o)
	}
	return kept, denied
}

// groupByTopic splits offsets into runs of one topic, keeping their order
// (requested order, or the coordinator's sorted order).
func groupByTopic(offs []group.FetchedOffset) [][]group.FetchedOffset {
	var out [][]group.FetchedOffset
	idx := map[string]int{}
	for _, o := range offs {
		i, ok := idx[o.Topic]
		if !ok {
			i = len(out)
			idx[o.Topic] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], o)
	}
	return out
}

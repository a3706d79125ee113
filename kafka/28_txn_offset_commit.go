package kafka

// TxnOffsetCommit, key 28: versions 0–5.
//
//   - Stores the offsets in the group's coordinator shard pending for the
//     producer (Groups.TxnCommitOffsets; NOT_COORDINATOR elsewhere): they
//     are not visible to OffsetFetch until the transaction commits, and
//     dropped if it aborts. An unknown group is created.
//   - v3+ Generation/MemberID/InstanceID (KIP-447) are checked against the
//     group when set (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
//     FENCED_INSTANCE_ID); generation -1 without a member is accepted even
//     while the group has members, as in Kafka.
//   - A producer epoch older than one the group has seen for the producer
//     (an abort fenced it) is INVALID_PRODUCER_EPOCH.
//   - Unknown topics or partitions get UNKNOWN_TOPIC_OR_PARTITION; metadata
//     over 4096 bytes OFFSET_METADATA_TOO_LARGE.
//   - Before v5 the transactional ID itself is not checked against the
//     transaction coordinator (Kafka does not either; AddOffsetsToTxn did).
//     v4 is v3 (TRANSACTION_ABORTABLE is never answered).
//   - v5+ (KIP-890 part 2; the client sends no AddOffsetsToTxn): the group
//     is first added to the producer's transaction by its coordinator
//     (Txns.AddGroup, on whichever broker coordinates the transactional
//     ID); its refusals answer every partition: INVALID_PRODUCER_EPOCH when
//     fenced, INVALID_PRODUCER_ID_MAPPING, CONCURRENT_TRANSACTIONS while
//     the previous transaction is ending, COORDINATOR_NOT_AVAILABLE when
//     it cannot be asked (the client retries the last two).
//   - With ACLs (authz.go): WRITE on the transactional ID
//     (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), READ on the group
//     (GROUP_AUTHORIZATION_FAILED) and READ on each topic
//     (TOPIC_AUTHORIZATION_FAILED), as in Kafka.

import (
	"context"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/group"
)

func handleTxnOffsetCommit(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.TxnOffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	cr := group.TxnCommitRequest{
		Group: req.Group, ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch,
		Generation: -1,
	}
	if req.Version >= 3 {
		cr.Generation, cr.MemberID, cr.InstanceID = req.Generation, req.MemberID, derefString(req.InstanceID)
	}
	var denied int16
	switch {
	case !s.authorized(r, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTransactionalId, req.TransactionalID):
		denied = kerr.TransactionalIDAuthorizationFailed.Code
	case !s.authorized(r, kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, req.Group):
		denied = kerr.GroupAuthorizationFailed.Code
	}
	type ref struct{ t, p int }
	var refs []ref // refs[i] is where cr.Offsets[i] is answered
	resp.Topics = make([]kmsg.TxnOffsetCommitResponseTopic, len(req.Topics))
	for ti, rt := range req.Topics {
		st := &resp.Topics[ti]
		*st = kmsg.NewTxnOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.TxnOffsetCommitResponseTopicPartition, len(rt.Partitions))
		topic, ok := s.backend.Topic(rt.Topic)
		code := denied
		if code == 0 && !s.authorized(r, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, rt.Topic) {
			code = kerr.TopicAuthorizationFailed.Code
		}
		for pi, rp := range rt.Partitions {
			sp := &st.Partitions[pi]
			*sp = kmsg.NewTxnOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case code != 0:
				sp.ErrorCode = code
				continue
			case !ok || rp.Partition < 0 || int(rp.Partition) >= len(topic.Partitions):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			cr.Offsets = append(cr.Offsets, group.CommitOffset{
				TopicPartition: group.TopicPartition{Topic: rt.Topic, Partition: rp.Partition},
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
	if req.Version >= 5 {
		if err := s.cfg.Txns.AddGroup(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group); err != nil {
			code := s.txnErrCode("TxnOffsetCommit", err, req.Version, math.MaxInt16)
			if code == kerr.NotCoordinator.Code || code == kerr.CoordinatorLoadInProgress.Code {
				// Of the transaction, not of the group the client asked.
				code = kerr.CoordinatorNotAvailable.Code
			}
			for _, at := range refs {
				resp.Topics[at.t].Partitions[at.p].ErrorCode = code
			}
			return resp
		}
	}
	for i, err := range s.cfg.Groups.TxnCommitOffsets(ctx, cr) {
		resp.Topics[refs[i].t].Partitions[refs[i].p].ErrorCode = s.groupErrCode("TxnOffsetCommit", err)
	}
	return resp
}

package kafka

// WriteTxnMarkers, key 27: versions 0–1.
//
//   - Kafka's transaction coordinator sends it to partition leaders; here
//     the coordinator writes its markers through the brokers' admin API
//     (core/broker/txnmarkers.go), so this serves operators:
//     `kafka-transactions.sh abort` (and kadm) end a hanging transaction —
//     one a partition holds open (it holds its last stable offset, and so
//     read_committed consumers, back) that no coordinator will end — with
//     a marker at the producer's epoch (DescribeProducers shows it).
//   - Each partition's marker is proposed through its Raft shard
//     (Backend.WriteTxnMarker): a control batch ends the producer's open
//     transaction there, an abort also records it in the aborted index;
//     a producer without an open transaction, or with a newer epoch, gets
//     nothing appended (success, as a repeat). Only the leader answers
//     (NOT_LEADER_OR_FOLLOWER); unknown topics and partitions are
//     UNKNOWN_TOPIC_OR_PARTITION; a negative producer ID or epoch is
//     INVALID_PRODUCER_EPOCH. CoordinatorEpoch is not checked (markers are
//     idempotent and the coordinator's decision is in its Raft log).
//   - With ACLs (authz.go) it needs CLUSTER_ACTION on the cluster, as in
//     Kafka (CLUSTER_AUTHORIZATION_FAILED for every partition otherwise).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/partition"
)

const keyWriteTxnMarkers int16 = 27

func handleWriteTxnMarkers(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.WriteTxnMarkersRequest)
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	ctx, cancel := requestContext(ctx, 0, defaultAdminTimeout)
	defer cancel()
	allowed := s.authorizedCluster(r, kmsg.ACLOperationClusterAction)
	resp.Markers = make([]kmsg.WriteTxnMarkersResponseMarker, len(req.Markers))
	for i := range req.Markers {
		m := &req.Markers[i]
		sm := &resp.Markers[i]
		*sm = kmsg.NewWriteTxnMarkersResponseMarker()
		sm.ProducerID = m.ProducerID
		marker := partition.TxnMarker{ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch, Commit: m.Committed}
		sm.Topics = make([]kmsg.WriteTxnMarkersResponseMarkerTopic, len(m.Topics))
		for j := range m.Topics {
			rt := &m.Topics[j]
			st := &sm.Topics[j]
			*st = kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			st.Topic = rt.Topic
			topic, known := s.backend.Topic(rt.Topic)
			st.Partitions = make([]kmsg.WriteTxnMarkersResponseMarkerTopicPartition, len(rt.Partitions))
			for k, p := range rt.Partitions {
				sp := &st.Partitions[k]
				*sp = kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				sp.Partition = p
				switch {
				case !allowed:
					sp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
				case !known || p < 0 || int(p) >= len(topic.Partitions):
					sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				case m.ProducerID < 0 || m.ProducerEpoch < 0:
					sp.ErrorCode = kerr.InvalidProducerEpoch.Code
				default:
					if err := s.backend.WriteTxnMarker(ctx, partition.TP{Topic: rt.Topic, Partition: p}, marker); err != nil {
						sp.ErrorCode = s.errCode("WriteTxnMarkers", err)
					}
				}
			}
		}
	}
	return resp
}

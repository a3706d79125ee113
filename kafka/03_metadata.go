package kafka

// Metadata, key 3: versions 0–13.
//
//   - Brokers are every live broker (Backend.Brokers); ClusterID (v2+) and
//     ControllerID (v1+, the meta shard's leader) come from the backend.
//   - Topics: the requested ones, or all when the list is null (v1+) or empty
//     (v0). v12+ may name a topic by ID with a null name (UNKNOWN_TOPIC_ID
//     when unknown). Topic IDs are returned from v10.
//   - Every partition reports its Raft leader and leader epoch (the Raft term,
//     never a made-up 0), replicas = ISR = the placement nodes, no offline
//     replicas; LEADER_NOT_AVAILABLE while there is no leader or the backend
//     cannot report the partition's state.
//   - An unknown topic is created when the request allows it
//     (AllowAutoTopicCreation, v4+; always allowed before v4) and
//     Config.AutoCreateTopics is on; creation is bounded by autoCreateTimeout,
//     after which the topic is answered with LEADER_NOT_AVAILABLE for the
//     client to retry. An invalid name gets INVALID_TOPIC_EXCEPTION, otherwise
//     UNKNOWN_TOPIC_OR_PARTITION.
//   - With ACLs (authz.go): listing every topic lists those the principal
//     may DESCRIBE; a named topic it may not describe gets
//     TOPIC_AUTHORIZATION_FAILED (by ID: without its name), and creating a
//     missing one needs CREATE on the cluster or the topic
//     (TOPIC_AUTHORIZATION_FAILED otherwise).
//   - Authorized operations (v8+; the cluster's in v8–v10) are the
//     principal's, when the request asks for them (all of them without
//     ACLs); "not provided" otherwise.

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/acl"
	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/partition"
)

// autoCreateTimeout bounds how long a Metadata request waits for a topic it
// creates; the client retries on LEADER_NOT_AVAILABLE.
const autoCreateTimeout = 10 * time.Second

func handleMetadata(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)

	for _, b := range s.backend.Brokers() {
		rb := kmsg.NewMetadataResponseBroker()
		rb.NodeID, rb.Host, rb.Port = b.ID, b.Host, b.Port
		if b.Rack != "" {
			rack := b.Rack
			rb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	clusterID := s.backend.ClusterID()
	resp.ClusterID = &clusterID
	resp.ControllerID = s.backend.ControllerID()

	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if req.Version >= 8 && req.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = s.authorizedOperations(r, kmsg.ACLResourceTypeCluster, acl.ClusterName)
	}
	topicOps := req.Version >= 8 && req.IncludeTopicAuthorizedOperations
	if all {
		topics := s.backend.Topics()
		resp.Topics = make([]kmsg.MetadataResponseTopic, 0, len(topics))
		for i := range topics {
			if s.authorized(r, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, topics[i].Name) {
				resp.Topics = append(resp.Topics, s.metadataTopic(r, topics[i], topicOps))
			}
		}
		return resp
	}

	autoCreate := s.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	resp.Topics = make([]kmsg.MetadataResponseTopic, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		if rt.Topic == nil {
			mt := kmsg.NewMetadataResponseTopic()
			mt.TopicID = rt.TopicID
			switch t, ok := s.backend.TopicByID(rt.TopicID); {
			case !ok:
				mt.ErrorCode = kerr.UnknownTopicID.Code
			case !s.authorized(r, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, t.Name):
				mt.ErrorCode = kerr.TopicAuthorizationFailed.Code // the name stays unsaid
			default:
				mt = s.metadataTopic(r, t, topicOps)
			}
			resp.Topics[i] = mt
			continue
		}
		name := *rt.Topic
		if !s.authorized(r, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, name) {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic, mt.ErrorCode = &name, kerr.TopicAuthorizationFailed.Code
			resp.Topics[i] = mt
			continue
		}
		if t, ok := s.backend.Topic(name); ok {
			resp.Topics[i] = s.metadataTopic(r, t, topicOps)
			continue
		}
		resp.Topics[i] = s.missingTopic(ctx, r, name, autoCreate, topicOps)
	}
	return resp
}

// missingTopic answers a requested topic that does not exist, creating it
// when allowed.
func (s *Server) missingTopic(ctx context.Context, r *request, name string, autoCreate, topicOps bool) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = &name
	switch {
	case cluster.ValidateTopicName(name) != nil:
		mt.ErrorCode = kerr.InvalidTopicException.Code
		return mt
	case !autoCreate:
		mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		return mt
	case !s.mayCreateTopic(r, name):
		mt.ErrorCode = kerr.TopicAuthorizationFailed.Code
		return mt
	}
	ctx, cancel := context.WithTimeout(ctx, autoCreateTimeout)
	defer cancel()
	spec := cluster.TopicSpec{Name: name, Partitions: -1, ReplicationFactor: -1}
	t, err := s.backend.CreateTopic(ctx, spec, false)
	if err != nil && errors.Is(err, cluster.ErrTopicExists) {
		// A concurrent create won the race; use its topic.
		var ok bool
		if t, ok = s.backend.Topic(name); ok {
			err = nil
		}
	}
	if err != nil {
		if created, ok := s.backend.Topic(name); ok {
			// Created but not serving yet (the wait timed out): the
			// partitions say LEADER_NOT_AVAILABLE until they are.
			return s.metadataTopic(r, created, topicOps)
		}
		mt.ErrorCode = s.errCode("Metadata", err)
		if mt.ErrorCode == kerr.RequestTimedOut.Code {
			mt.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		return mt
	}
	return s.metadataTopic(r, t, topicOps)
}

// metadataTopic describes t; with ops, the operations r's principal may do
// on it too.
func (s *Server) metadataTopic(r *request, t cluster.Topic, ops bool) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	if ops {
		mt.AuthorizedOperations = s.authorizedOperations(r, kmsg.ACLResourceTypeTopic, t.Name)
	}
	mt.Partitions = make([]kmsg.MetadataResponseTopicPartition, len(t.Partitions))
	for i, p := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.Index
		mp.Replicas = p.Nodes
		mp.ISR = p.Nodes
		mp.OfflineReplicas = []int32{}
		mp.Leader, mp.LeaderEpoch, mp.ErrorCode = s.partitionLeader(t.Name, p.Index)
		mt.Partitions[i] = mp
	}
	return mt
}

// partitionLeader is a partition's leader and leader epoch as Metadata and
// DescribeTopicPartitions report them: leader -1 and LEADER_NOT_AVAILABLE
// when it is unknown.
func (s *Server) partitionLeader(topic string, p int32) (leader, epoch int32, code int16) {
	st, err := s.backend.PartitionState(partition.TP{Topic: topic, Partition: p})
	if err != nil || st.Leader < 0 {
		// Whatever the reason the leader is unknown, the client should
		// retry: LEADER_NOT_AVAILABLE is retriable everywhere.
		return -1, -1, kerr.LeaderNotAvailable.Code
	}
	return st.Leader, st.LeaderEpoch, 0
}

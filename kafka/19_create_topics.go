package kafka

// CreateTopics, key 19: versions 2–7.
//
//   - NumPartitions and ReplicationFactor -1 mean the broker defaults; 0 or
//     below -1 are INVALID_PARTITIONS / INVALID_REPLICATION_FACTOR, and more
//     than Config.MaxPartitionsPerTopic partitions is INVALID_PARTITIONS.
//   - Manual replica assignment is not supported yet (INVALID_REQUEST). A null
//     config value is INVALID_CONFIG. A topic named twice in one request gets
//     INVALID_REQUEST for every occurrence, as in Kafka.
//   - Each topic is created through Backend.CreateTopic, which returns once the
//     partitions serve; TimeoutMillis bounds the wait (REQUEST_TIMED_OUT).
//     ValidateOnly validates without creating.
//   - ErrorMessage carries the backend's explanation. TopicID (v7),
//     NumPartitions, ReplicationFactor and Configs (v5+) describe the topic
//     created (or that would be created).
//   - With ACLs (authz.go), a topic needs CREATE on the cluster or on the
//     topic: TOPIC_AUTHORIZATION_FAILED otherwise. Its configs (v5+) are
//     returned only with DESCRIBE_CONFIGS on it (else ConfigErrorCode is
//     TOPIC_AUTHORIZATION_FAILED).
//   - controller_mutation_rate (quotas.go, mutationQuota): each topic
//     created takes its partitions from the principal's token bucket. From
//     v6, a topic named once, authorized and whose own fields are valid
//     (partitions, replication factor, configs not null: createSpec) is
//     refused with THROTTLING_QUOTA_EXCEEDED while the bucket is exhausted,
//     before the cluster checks it (name, existence, config values); v2–v5
//     are never refused. ThrottleMillis is the time until the bucket is back
//     to zero, and the connection is not read for that long.
//     ValidateOnly takes nothing and is never refused.

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/cluster"
)

// defaultAdminTimeout applies when an admin request gives no timeout.
const defaultAdminTimeout = 30 * time.Second

func handleCreateTopics(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	ctx, cancel := requestContext(ctx, req.TimeoutMillis, defaultAdminTimeout)
	defer cancel()

	seen := make(map[string]int, len(req.Topics))
	for i := range req.Topics {
		seen[req.Topics[i].Topic]++
	}
	mq := s.mutationQuota(r, req.Version >= 6, req.ValidateOnly)
	resp.Topics = make([]kmsg.CreateTopicsResponseTopic, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := &resp.Topics[i]
		*st = kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		if seen[rt.Topic] > 1 {
			st.ErrorCode = kerr.InvalidRequest.Code
			st.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("topic %q appears more than once in the request", rt.Topic))
			continue
		}
		if !s.mayCreateTopic(r, rt.Topic) {
			st.ErrorCode = kerr.TopicAuthorizationFailed.Code
			continue
		}
		spec, ok := s.createSpec(rt, st)
		if !ok {
			continue // refused for its own fields before the quota, as Kafka
		}
		if msg := mq.refusal(); msg != "" {
			st.ErrorCode, st.ErrorMessage = kerr.ThrottlingQuotaExceeded.Code, &msg
			continue
		}
		s.createTopic(ctx, spec, req.ValidateOnly, st)
		if st.ErrorCode == 0 {
			mq.record(st.NumPartitions)
		}
		if st.ErrorCode == 0 && !s.authorized(r, kmsg.ACLOperationDescribeConfigs, kmsg.ACLResourceTypeTopic, rt.Topic) {
			st.Configs, st.ConfigErrorCode = nil, kerr.TopicAuthorizationFailed.Code // v5+
		}
	}
	resp.ThrottleMillis = mq.throttleMillis()
	return resp
}

// createSpec checks rt's own fields and returns the topic to create; when
// they do not hold it answers out and returns false.
func (s *Server) createSpec(rt *kmsg.CreateTopicsRequestTopic, out *kmsg.CreateTopicsResponseTopic) (cluster.TopicSpec, bool) {
	fail := func(code int16, format string, args ...any) (cluster.TopicSpec, bool) {
		out.ErrorCode = code
		out.ErrorMessage = kmsg.StringPtr(fmt.Sprintf(format, args...))
		return cluster.TopicSpec{}, false
	}
	switch {
	case len(rt.ReplicaAssignment) > 0:
		return fail(kerr.InvalidRequest.Code, "manual replica assignment is not supported yet; set NumPartitions and ReplicationFactor instead")
	case rt.NumPartitions == 0 || rt.NumPartitions < -1:
		return fail(kerr.InvalidPartitions.Code, "number of partitions must be at least 1 (or -1 for the default), got %d", rt.NumPartitions)
	case rt.NumPartitions > s.cfg.MaxPartitionsPerTopic:
		return fail(kerr.InvalidPartitions.Code, "number of partitions %d exceeds the limit of %d per topic", rt.NumPartitions, s.cfg.MaxPartitionsPerTopic)
	case rt.ReplicationFactor == 0 || rt.ReplicationFactor < -1:
		return fail(kerr.InvalidReplicationFactor.Code, "replication factor must be at least 1 (or -1 for the default), got %d", rt.ReplicationFactor)
	}
	spec := cluster.TopicSpec{
		Name:              rt.Topic,
		Partitions:        rt.NumPartitions,
		ReplicationFactor: rt.ReplicationFactor,
	}
	if len(rt.Configs) > 0 {
		spec.Configs = make(map[string]string, len(rt.Configs))
		for _, c := range rt.Configs {
			if c.Value == nil {
				return fail(kerr.InvalidConfig.Code, "config %q has a null value", c.Name)
			}
			spec.Configs[c.Name] = *c.Value
		}
	}
	return spec, true
}

// createTopic creates the topic of spec (or only validates it) and answers
// out.
func (s *Server) createTopic(ctx context.Context, spec cluster.TopicSpec, validateOnly bool, out *kmsg.CreateTopicsResponseTopic) {
	t, err := s.backend.CreateTopic(ctx, spec, validateOnly)
	if err != nil {
		out.ErrorCode = s.errCode("CreateTopics", err)
		out.ErrorMessage = errMessage(err)
		return
	}
	out.TopicID = t.ID
	out.NumPartitions, out.ReplicationFactor = spec.Partitions, spec.ReplicationFactor
	if out.NumPartitions < 0 {
		out.NumPartitions = s.cfg.DefaultPartitions
	}
	if out.ReplicationFactor < 0 {
		out.ReplicationFactor = s.cfg.DefaultReplicationFactor
	}
	if len(t.Partitions) > 0 {
		out.NumPartitions = int32(len(t.Partitions))
		out.ReplicationFactor = int16(len(t.Partitions[0].Nodes))
	}
	if t.Name == "" {
		t.Name, t.Configs = spec.Name, spec.Configs
	}
	for _, e := range s.backend.TopicConfigs(t) {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name = e.Name
		if !e.Sensitive {
			v := e.Value
			c.Value = &v
		}
		c.ReadOnly = e.ReadOnly
		c.IsSensitive = e.Sensitive
		c.Source = int8(configSource(e, kmsg.ConfigSourceDynamicTopicConfig))
		out.Configs = append(out.Configs, c)
	}
}

// configSource is the ConfigSource of an entry: the default, or where an
// explicit value comes from.
func configSource(e cluster.ConfigEntry, explicit kmsg.ConfigSource) kmsg.ConfigSource {
	if e.IsDefault {
		return kmsg.ConfigSourceDefaultConfig
	}
	return explicit
}

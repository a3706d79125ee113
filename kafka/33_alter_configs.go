package kafka

// AlterConfigs, key 33: versions 0–2.
//
//   - Topic resources (type 2): the configs given replace every explicitly
//     set config of the topic; keys left out return to their defaults, as in
//     Kafka. Entries with a null value are dropped (also as in Kafka). The
//     new set is validated whole (cluster.ValidateTopicConfigs): an unknown
//     key or an invalid value is INVALID_CONFIG with a message saying which.
//     A key named twice is INVALID_REQUEST. Unknown topics get
//     UNKNOWN_TOPIC_OR_PARTITION.
//   - Broker resources (type 4) and broker loggers (type 8) are
//     INVALID_REQUEST: broker configs are static (config file, flags,
//     environment). Other resource types are INVALID_REQUEST too.
//   - A resource named twice in one request is INVALID_REQUEST for each
//     occurrence. ValidateOnly checks without changing anything.
//   - The change commits through the meta shard; DescribeConfigs shows it at
//     once on this broker and it survives restarts.
//   - With ACLs (authz.go), a topic needs ALTER_CONFIGS
//     (TOPIC_AUTHORIZATION_FAILED), a broker ALTER_CONFIGS on the cluster
//     (CLUSTER_AUTHORIZATION_FAILED).

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type configResource struct {
	typ  kmsg.ConfigResourceType
	name string
}

func handleAlterConfigs(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	ctx, cancel := requestContext(ctx, 0, defaultAdminTimeout)
	defer cancel()

	seen := make(map[configResource]int, len(req.Resources))
	for _, rr := range req.Resources {
		seen[configResource{rr.ResourceType, rr.ResourceName}]++
	}
	resp.Resources = make([]kmsg.AlterConfigsResponseResource, len(req.Resources))
	for i := range req.Resources {
		rr := &req.Resources[i]
		out := &resp.Resources[i]
		*out = kmsg.NewAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		code, msg := s.alterableTopic(r, rr.ResourceType, rr.ResourceName, seen)
		if code == 0 {
			configs := make(map[string]string, len(rr.Configs))
			names := make(map[string]bool, len(rr.Configs))
			for _, c := range rr.Configs {
				if names[c.Name] {
					code, msg = kerr.InvalidRequest.Code, fmt.Sprintf("config %q appears more than once", c.Name)
					break
				}
				names[c.Name] = true
				if c.Value != nil {
					configs[c.Name] = *c.Value
				}
			}
			if code == 0 {
				if err := s.backend.AlterTopicConfigs(ctx, rr.ResourceName, configs, req.ValidateOnly); err != nil {
					code, msg = s.errCode("AlterConfigs", err), err.Error()
				}
			}
		}
		if code != 0 {
			out.ErrorCode, out.ErrorMessage = code, kmsg.StringPtr(msg)
		}
	}
	return resp
}

// alterableTopic checks that a config resource of AlterConfigs or
// IncrementalAlterConfigs names an existing topic, once in the request
// (seen counts each resource's occurrences). It returns 0 or an error code
// with a message.
func (s *Server) alterableTopic(r *request, typ kmsg.ConfigResourceType, name string, seen map[configResource]int) (int16, string) {
	switch {
	case seen[configResource{typ, name}] > 1:
		return kerr.InvalidRequest.Code, fmt.Sprintf("resource %v %q appears more than once in the request", typ, name)
	case typ == kmsg.ConfigResourceTypeTopic && !s.authorized(r, kmsg.ACLOperationAlterConfigs, kmsg.ACLResourceTypeTopic, name):
		return kerr.TopicAuthorizationFailed.Code, "not authorized to alter the configs of topic " + name
	case (typ == kmsg.ConfigResourceTypeBroker || typ == kmsg.ConfigResourceTypeBrokerLogger) &&
		!s.authorizedCluster(r, kmsg.ACLOperationAlterConfigs):
		return kerr.ClusterAuthorizationFailed.Code, "not authorized to alter the configs of brokers"
	case typ == kmsg.ConfigResourceTypeBroker:
		return kerr.InvalidRequest.Code, "broker configs are static: set them in the broker's config file, flags or environment and restart it"
	case typ == kmsg.ConfigResourceTypeBrokerLogger:
		return kerr.InvalidRequest.Code, "broker log levels cannot be changed through the Kafka API: restart the broker with --log-level"
	case typ != kmsg.ConfigResourceTypeTopic:
		return kerr.InvalidRequest.Code, fmt.Sprintf("altering configs of resource type %v is not supported", typ)
	}
	if _, ok := s.backend.Topic(name); !ok {
		return kerr.UnknownTopicOrPartition.Code, fmt.Sprintf("topic %q does not exist", name)
	}
	return 0, ""
}

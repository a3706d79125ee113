package kafka

// DescribeConfigs, key 32: versions 0–4.
//
//   - Topic resources (type 2) list Backend.TopicConfigs: every key with its
//     effective value; source DEFAULT_CONFIG for defaults, DYNAMIC_TOPIC_CONFIG
//     for values set on the topic. Unknown topics get
//     UNKNOWN_TOPIC_OR_PARTITION.
//   - Broker resources (type 4) list Backend.BrokerConfigs; source
//     DEFAULT_CONFIG or STATIC_BROKER_CONFIG. The resource name must be this
//     broker's ID or empty (INVALID_REQUEST otherwise).
//   - Other resource types get INVALID_REQUEST.
//   - ConfigNames, when non-null, filters the keys. Synonyms are never
//     returned (IncludeSynonyms is accepted), ConfigType is UNKNOWN and
//     Documentation null. Sensitive values are null.
//   - With ACLs (authz.go), a topic needs DESCRIBE_CONFIGS
//     (TOPIC_AUTHORIZATION_FAILED), the broker DESCRIBE_CONFIGS on the
//     cluster (CLUSTER_AUTHORIZATION_FAILED).

import (
	"context"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/cluster"
)

func handleDescribeConfigs(_ context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)

	resp.Resources = make([]kmsg.DescribeConfigsResponseResource, len(req.Resources))
	for i := range req.Resources {
		rr := &req.Resources[i]
		out := &resp.Resources[i]
		*out = kmsg.NewDescribeConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName

		var (
			entries  []cluster.ConfigEntry
			explicit kmsg.ConfigSource
		)
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			if !s.authorized(r, kmsg.ACLOperationDescribeConfigs, kmsg.ACLResourceTypeTopic, rr.ResourceName) {
				out.ErrorCode = kerr.TopicAuthorizationFailed.Code
				continue
			}
			t, ok := s.backend.Topic(rr.ResourceName)
			if !ok {
				out.ErrorCode = kerr.UnknownTopicOrPartition.Code
				out.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("topic %q does not exist", rr.ResourceName))
				continue
			}
			entries, explicit = s.backend.TopicConfigs(t), kmsg.ConfigSourceDynamicTopicConfig
		case kmsg.ConfigResourceTypeBroker:
			if !s.authorizedCluster(r, kmsg.ACLOperationDescribeConfigs) {
				out.ErrorCode = kerr.ClusterAuthorizationFailed.Code
				continue
			}
			self := strconv.Itoa(int(s.backend.NodeID()))
			if rr.ResourceName != "" && rr.ResourceName != self {
				out.ErrorCode = kerr.InvalidRequest.Code
				out.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("broker %q: this is broker %s; ask that broker", rr.ResourceName, self))
				continue
			}
			entries, explicit = s.backend.BrokerConfigs(), kmsg.ConfigSourceStaticBrokerConfig
		default:
			out.ErrorCode = kerr.InvalidRequest.Code
			out.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("describing configs of resource type %v is not supported", rr.ResourceType))
			continue
		}

		var want map[string]bool
		if rr.ConfigNames != nil {
			want = make(map[string]bool, len(rr.ConfigNames))
			for _, n := range rr.ConfigNames {
				want[n] = true
			}
		}
		for _, e := range entries {
			if want != nil && !want[e.Name] {
				continue
			}
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			c.Name = e.Name
			if !e.Sensitive {
				v := e.Value
				c.Value = &v
			}
			c.ReadOnly = e.ReadOnly
			c.IsDefault = e.IsDefault
			c.IsSensitive = e.Sensitive
			c.Source = configSource(e, explicit)
			out.Configs = append(out.Configs, c)
		}
	}
	return resp
}

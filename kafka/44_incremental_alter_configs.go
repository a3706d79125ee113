package kafka

// IncrementalAlterConfigs, key 44: versions 0–1.
//
//   - Topic resources (type 2): the operations apply in order to the topic's
//     explicitly set configs. SET sets a value, DELETE returns a key to its
//     default, APPEND and SUBTRACT add or remove items of a list config
//     (cleanup.policy, the throttled-replica lists), starting from the
//     default when the key is unset. The result is validated whole: an
//     unknown key, APPEND/SUBTRACT on a non-list config or an invalid value
//     is INVALID_CONFIG with a message.
//   - A key named twice, an unknown operation, or a null value for SET,
//     APPEND or SUBTRACT is INVALID_REQUEST (as in Kafka).
//   - Broker, broker-logger and other resources, duplicate resources and
//     unknown topics are answered as AlterConfigs answers them.
//     ValidateOnly checks without changing anything.
//   - With ACLs (authz.go): as AlterConfigs.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/cluster"
)

func handleIncrementalAlterConfigs(ctx context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	ctx, cancel := requestContext(ctx, 0, defaultAdminTimeout)
	defer cancel()

	seen := make(map[configResource]int, len(req.Resources))
	for _, rr := range req.Resources {
		seen[configResource{rr.ResourceType, rr.ResourceName}]++
	}
	resp.Resources = make([]kmsg.IncrementalAlterConfigsResponseResource, len(req.Resources))
	for i := range req.Resources {
		rr := &req.Resources[i]
		out := &resp.Resources[i]
		*out = kmsg.NewIncrementalAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		code, msg := s.alterableTopic(r, rr.ResourceType, rr.ResourceName, seen)
		var ops []cluster.ConfigOp
		if code == 0 {
			ops, code, msg = configOps(rr.Configs)
		}
		if code == 0 {
			if err := s.backend.IncrementalAlterTopicConfigs(ctx, rr.ResourceName, ops, req.ValidateOnly); err != nil {
				code, msg = s.errCode("IncrementalAlterConfigs", err), err.Error()
			}
		}
		if code != 0 {
			out.ErrorCode, out.ErrorMessage = code, kmsg.StringPtr(msg)
		}
	}
	return resp
}

// configOps converts a resource's operations, refusing what Kafka refuses
// with INVALID_REQUEST.
func configOps(cs []kmsg.IncrementalAlterConfigsRequestResourceConfig) ([]cluster.ConfigOp, int16, string) {
	ops := make([]cluster.ConfigOp, 0, len(cs))
	names := make(map[string]bool, len(cs))
	for _, c := range cs {
		if names[c.Name] {
			return nil, kerr.InvalidRequest.Code, fmt.Sprintf("config %q appears more than once", c.Name)
		}
		names[c.Name] = true
		op := cluster.ConfigOp{Name: c.Name}
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			op.Op = cluster.ConfigOpSet
		case kmsg.IncrementalAlterConfigOpDelete:
			op.Op = cluster.ConfigOpDelete
		case kmsg.IncrementalAlterConfigOpAppend:
			op.Op = cluster.ConfigOpAppend
		case kmsg.IncrementalAlterConfigOpSubtract:
			op.Op = cluster.ConfigOpSubtract
		default:
			return nil, kerr.InvalidRequest.Code, fmt.Sprintf("unknown operation %d for config %q", int8(c.Op), c.Name)
		}
		if c.Value != nil {
			op.Value = *c.Value
		} else if op.Op != cluster.ConfigOpDelete {
			return nil, kerr.InvalidRequest.Code, fmt.Sprintf("config %q: a %v operation needs a value, got null", c.Name, c.Op)
		}
		ops = append(ops, op)
	}
	return ops, 0, ""
}

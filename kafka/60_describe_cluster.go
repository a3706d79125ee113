package kafka

// DescribeCluster, key 60: versions 0–2.
//
//   - Brokers, ClusterID and ControllerID as Metadata reports them; the
//     controller is the broker leading the meta shard (-1 while it has no
//     leader).
//   - v2 (KIP-1073): IsFenced is false for every broker, whatever
//     IncludeFencedBrokers asks: Chronik has no fenced brokers (a member
//     that is down stays in the list, as in Metadata, and its partitions'
//     Raft groups elect other leaders).
//   - EndpointType (v1) must be 1 (brokers): every Chronik node is a broker
//     and there are no separate controller endpoints, so 2 is
//     MISMATCHED_ENDPOINT_TYPE and anything else UNSUPPORTED_ENDPOINT_TYPE.
//   - With ACLs (authz.go), DESCRIBE on the cluster is needed:
//     CLUSTER_AUTHORIZATION_FAILED otherwise. ClusterAuthorizedOperations
//     are the principal's when IncludeClusterAuthorizedOperations asks
//     (all of them without ACLs), else -2147483648 (not provided).

import (
	"context"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/acl"
)

// Endpoint types of DescribeCluster v1+.
const (
	endpointBrokers     = 1
	endpointControllers = 2
)

func handleDescribeCluster(_ context.Context, s *Server, r *request) kmsg.Response {
	req := r.msg.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = endpointBrokers
	resp.ControllerID = -1
	resp.ClusterAuthorizedOperations = math.MinInt32
	if req.Version >= 1 && req.EndpointType != endpointBrokers {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		resp.ErrorMessage = kmsg.StringPtr("only broker endpoints (type 1) exist")
		if req.EndpointType == endpointControllers {
			resp.ErrorCode = kerr.MismatchedEndpointType.Code
			resp.ErrorMessage = kmsg.StringPtr("Chronik has no separate controller endpoints; every node is a broker (endpoint type 1)")
		}
		return resp
	}
	if !s.authorizedCluster(r, kmsg.ACLOperationDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = s.authorizedOperations(r, kmsg.ACLResourceTypeCluster, acl.ClusterName)
	}
	resp.ClusterID = s.backend.ClusterID()
	resp.ControllerID = s.backend.ControllerID()
	for _, b := range s.backend.Brokers() {
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port = b.ID, b.Host, b.Port
		if b.Rack != "" {
			rb.Rack = kmsg.StringPtr(b.Rack)
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	return resp
}

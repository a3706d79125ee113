package kafka

// ApiVersions, key 18: versions 0–5.
//
//   - The response lists exactly the api table (apis.go), ThrottleMillis 0,
//     less ConsumerGroupHeartbeat and ConsumerGroupDescribe while KIP-848
//     consumer groups are not served (Groups.ConsumerProtocol: an older
//     broker in the cluster, or kafka.group-rebalance-protocols), so that
//     clients stay on the classic protocol.
//   - v3+ features (KIP-584): supported group.version 0–1, finalized at 1
//     while consumer groups are served; supported transaction.version 0–2; finalized
//     transaction.version 2 (Txns.TransactionVersion) once every broker
//     runs KIP-890 part 2 and kafka.transaction-version allows it, or as
//     UpdateFeatures set it for the cluster, which is what makes clients
//     use Produce v12, EndTxn v5 and TxnOffsetCommit v5 (epoch bump per
//     transaction). At level 0 nothing is finalized. The epoch rises with
//     every change (FinalizedFeaturesEpoch -1 while only the config ever
//     said 0).
//   - Its response header is always v0, even for the flexible v3+, as Kafka
//     does (a client that cannot parse our version must still read it).
//   - v5 (KIP-1242): a client that names both the cluster and the node it
//     believes it reached gets REBOOTSTRAP_REQUIRED (with the table) when
//     either is not this broker's, INVALID_REQUEST when it names only one.
//     franz-go 1.22 asks at v5 first; answering it here (rather than with
//     the fallback below, whose v0 format has no features) is what lets it
//     see transaction.version on its first connection.
//   - A request at a version outside 0–5 never reaches this handler: the
//     connection answers it with a v0 response carrying UNSUPPORTED_VERSION and
//     the full table (conn.answerUnsupportedAPIVersions, KIP-511), which is how
//     future clients learn our ranges (without the features, which v0
//     cannot carry).
//   - ClientSoftwareName/Version are ignored.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleAPIVersions(_ context.Context, s *Server, r *request) kmsg.Response {
	resp := r.msg.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = s.apiTable()
	consumerGroups := s.cfg.Groups.ConsumerProtocol()
	if r.msg.GetVersion() < 3 {
		return resp
	}
	if req := r.msg.(*kmsg.ApiVersionsRequest); req.Version >= 5 {
		switch {
		case (req.ClusterID == nil) != (req.NodeID < 0):
			resp.ErrorCode = kerr.InvalidRequest.Code
			return resp
		case req.ClusterID != nil && (*req.ClusterID != s.backend.ClusterID() || req.NodeID != s.backend.NodeID()):
			resp.ErrorCode = kerr.RebootstrapRequired.Code
			return resp
		}
	}
	resp.SupportedFeatures = []kmsg.ApiVersionsResponseSupportedFeature{
		{Name: GroupVersionFeature, MinVersion: 0, MaxVersion: 1},
		{Name: TransactionVersionFeature, MinVersion: 0, MaxVersion: maxTransactionVersion},
	}
	level, epoch := s.cfg.Txns.TransactionVersion()
	resp.FinalizedFeaturesEpoch = epoch
	if consumerGroups {
		resp.FinalizedFeatures = append(resp.FinalizedFeatures, kmsg.ApiVersionsResponseFinalizedFeature{Name: GroupVersionFeature, MinVersionLevel: 1, MaxVersionLevel: 1})
		resp.FinalizedFeaturesEpoch = max(resp.FinalizedFeaturesEpoch, 1)
	}
	if level > 0 {
		resp.FinalizedFeatures = append(resp.FinalizedFeatures, kmsg.ApiVersionsResponseFinalizedFeature{Name: TransactionVersionFeature, MinVersionLevel: level, MaxVersionLevel: level})
	}
	return resp
}

// apiTable is the table ApiVersions lists: every served API, less the
// consumer-group ones while they are not served. The tables are never
// modified after init, so sharing them is safe.
func (s *Server) apiTable() []kmsg.ApiVersionsResponseApiKey {
	if s.cfg.Groups.ConsumerProtocol() {
		return advertised
	}
	return advertisedClassic
}

// GroupVersionFeature is Kafka's feature flag of KIP-848 consumer groups:
// finalized at 1 while they are served (Groups.ConsumerProtocol), not
// settable with UpdateFeatures (kafka.group-rebalance-protocols sets it).
const GroupVersionFeature = "group.version"

// TransactionVersionFeature is Kafka's feature flag of the transaction
// protocol (KIP-890): level 2 turns on its second part.
const TransactionVersionFeature = "transaction.version"

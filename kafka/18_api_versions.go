package kafka

// ApiVersions, key 18: versions 0–4.
//
//   - The response lists exactly the api table (apis.go), ThrottleMillis 0,
//     no supported or finalized features (v3+ tagged fields left empty).
//   - Its response header is always v0, even for the flexible v3+, as Kafka
//     does (a client that cannot parse our version must still read it).
//   - A request at a version outside 0–4 never reaches this handler: the
//     connection answers it with a v0 response carrying UNSUPPORTED_VERSION and
//     the full table (conn.answerUnsupportedAPIVersions, KIP-511), which is how
//     franz-go's v5 and future clients learn our ranges.
//   - ClientSoftwareName/Version are ignored.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleAPIVersions(_ context.Context, _ *Server, r *request) kmsg.Response {
	resp := r.msg.ResponseKind().(*kmsg.ApiVersionsResponse)
	// advertised is never modified after init, so sharing it is safe.
	resp.ApiKeys = advertised
	return resp
}

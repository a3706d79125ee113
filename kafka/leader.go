package kafka

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-go/chronik/core/partition"
)

// leaderCheck is Kafka's check for requests that must reach the partition
// leader and may carry the client's view of the leader epoch (-1: none):
// a newer epoch than ours is UNKNOWN_LEADER_EPOCH (we are behind), an older
// one FENCED_LEADER_EPOCH (the client is behind); then the leader must be
// us. It returns 0 when the request may proceed.
func leaderCheck(st partition.State, self, currentEpoch int32) int16 {
	switch {
	case currentEpoch >= 0 && currentEpoch > st.LeaderEpoch:
		return kerr.UnknownLeaderEpoch.Code
	case currentEpoch >= 0 && currentEpoch < st.LeaderEpoch:
		return kerr.FencedLeaderEpoch.Code
	case st.Leader < 0:
		return kerr.LeaderNotAvailable.Code
	case st.Leader != self:
		return kerr.NotLeaderForPartition.Code
	}
	return 0
}

// requestContext bounds ctx by a client-given timeout in milliseconds:
// non-positive means def, and the result is capped at maxTimeout so that a
// request never holds its connection's response order for long.
func requestContext(ctx context.Context, millis int32, def time.Duration) (context.Context, context.CancelFunc) {
	d := def
	if millis > 0 {
		d = time.Duration(millis) * time.Millisecond
	}
	return context.WithTimeout(ctx, min(d, maxTimeout))
}

// maxTimeout caps every client-given timeout.
const maxTimeout = 60 * time.Second

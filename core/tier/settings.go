package tier

import (
	"strconv"
	"strings"
	"time"

	"github.com/chronik-go/chronik/core/cluster"
)

// settings are a topic's tiering and retention configs, resolved: -1 means
// no limit, and local.retention's -2 is already replaced by retention's
// value.
type settings struct {
	remote bool
	// deletes is cleanup.policy including "delete": without it (compact
	// only) Kafka applies no retention.ms/bytes.
	deletes             bool
	segmentBytes        int64
	segmentAge          time.Duration
	retentionMs         int64
	retentionBytes      int64
	localRetentionMs    int64
	localRetentionBytes int64
}

// settingsOf parses the configs of t, falling back to defaults for any
// value that does not parse (values are validated when they are set).
func settingsOf(t cluster.Topic) settings {
	get := func(key string) int64 {
		v, ok := t.Configs[key]
		if !ok {
			v, _ = cluster.ConfigDefault(key)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			d, _ := cluster.ConfigDefault(key)
			n, _ = strconv.ParseInt(d, 10, 64)
		}
		return n
	}
	s := settings{
		remote:              strings.EqualFold(t.Configs["remote.storage.enable"], "true"),
		deletes:             deletePolicy(t),
		segmentBytes:        get("segment.bytes"),
		segmentAge:          time.Duration(get("segment.ms")) * time.Millisecond,
		retentionMs:         get("retention.ms"),
		retentionBytes:      get("retention.bytes"),
		localRetentionMs:    get("local.retention.ms"),
		localRetentionBytes: get("local.retention.bytes"),
	}
	if s.localRetentionMs == -2 {
		s.localRetentionMs = s.retentionMs
	}
	if s.localRetentionBytes == -2 {
		s.localRetentionBytes = s.retentionBytes
	}
	return s
}

// deletePolicy reports whether t's cleanup.policy (a list) includes delete.
func deletePolicy(t cluster.Topic) bool {
	v, ok := t.Configs["cleanup.policy"]
	if !ok {
		v, _ = cluster.ConfigDefault("cleanup.policy")
	}
	for p := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.TrimSpace(p), "delete") {
			return true
		}
	}
	return false
}

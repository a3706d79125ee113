package tier

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/chronik-go/chronik/core/partition"
)

// Object keys, under the store's "segments/" prefix:
//
//	<topic>-<topic UUID hex>/<partition>/<base:020d>-<end:020d>-<epoch>.seg
//
// A key names its offset range and the uploading leader's epoch, so the
// same key always holds the same bytes (a retried PUT rewrites identical
// content), two leaders never write the same key, and the sweeper can tell
// from a name alone whether an unreferenced object is below the tiered end.

// TopicPrefix is the key prefix of one topic's objects (topic name and
// UUID, so a re-created topic of the same name never shares objects), with
// a trailing slash.
func TopicPrefix(topic string, topicID [16]byte) string {
	return topic + "-" + hex.EncodeToString(topicID[:]) + "/"
}

// partitionPrefix is the key prefix of one partition's objects, with a
// trailing slash.
func partitionPrefix(tp partition.TP, topicID [16]byte) string {
	return TopicPrefix(tp.Topic, topicID) + strconv.Itoa(int(tp.Partition)) + "/"
}

func segmentKey(tp partition.TP, topicID [16]byte, base, end int64, epoch int32) string {
	return fmt.Sprintf("%s%020d-%020d-%d.seg", partitionPrefix(tp, topicID), base, end, epoch)
}

// parseSegmentName returns the base offset in a segment object's name (the
// part after the partition prefix).
func parseSegmentName(name string) (base int64, ok bool) {
	b, rest, ok := strings.Cut(name, "-")
	if !ok || !strings.HasSuffix(rest, ".seg") {
		return 0, false
	}
	n, err := strconv.ParseInt(b, 10, 64)
	return n, err == nil && n >= 0
}

package kafka

import (
	"context"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/partition"
)

func writeMarkers(t *testing.T, cl *kgo.Client, pid int64, epoch int16, topic string, parts ...int32) []int16 {
	t.Helper()
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch = pid, epoch
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = topic, parts
	m.Topics = append(m.Topics, mt)
	req.Markers = append(req.Markers, m)
	raw, err := cl.Broker(1).Request(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var codes []int16
	for _, p := range raw.(*kmsg.WriteTxnMarkersResponse).Markers[0].Topics[0].Partitions {
		codes = append(codes, p.ErrorCode)
	}
	return codes
}

func TestWriteTxnMarkers(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	ts.createTopic(t, "p", 2)
	cl := newKgoClient(t, ts)
	if got := writeMarkers(t, cl, 7, 2, "p", 1, 5); !slices.Equal(got, []int16{0, kerr.UnknownTopicOrPartition.Code}) {
		t.Fatalf("codes %v", got)
	}
	if got := writeMarkers(t, cl, -1, 0, "p", 0); !slices.Equal(got, []int16{kerr.InvalidProducerEpoch.Code}) {
		t.Fatalf("negative producer ID: %v", got)
	}
	ts.b.mu.Lock()
	got := ts.b.mu.markers
	ts.b.mu.Unlock()
	if !slices.Equal(got, []partition.TxnMarker{{ProducerID: 7, ProducerEpoch: 2}}) {
		t.Fatalf("markers written %+v, want one abort for 7/2", got)
	}

	// With ACLs, CLUSTER_ACTION on the cluster.
	acls := newMemACLs()
	as := aclServer(t, acls, false)
	if got := writeMarkers(t, aclClient(t, as, "alice"), 7, 2, "payments", 0); !slices.Equal(got, []int16{kerr.ClusterAuthorizationFailed.Code}) {
		t.Fatalf("alice without CLUSTER_ACTION: %v", got)
	}
	if got := writeMarkers(t, aclClient(t, as, "admin"), 7, 2, "payments", 0); !slices.Equal(got, []int16{0}) {
		t.Fatalf("a super user: %v", got)
	}
}

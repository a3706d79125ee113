package opsctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chronik-go/chronik/core/adminhttp"
	"github.com/chronik-go/chronik/core/opsctl"
)

var tierTakenAt = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// tierReports are rendered like reports (render_test.go), against
// testdata/NAME.table and testdata/NAME.json.
var tierReports = []namedReport{
	{"tier_status", &opsctl.TierReport{
		TakenAt: tierTakenAt,
		Nodes: []opsctl.TierNode{
			{Node: 1, HTTP: "10.0.0.1:9644", Up: true, Store: "s3://chronik-tier/prod"},
			{Node: 2, HTTP: "10.0.0.2:9644", Up: true, Store: "s3://chronik-tier/prod"},
			{Node: -1, HTTP: "10.0.0.3:9644", Error: "dial tcp 10.0.0.3:9644: connect: connection refused"},
		},
		Partitions: []opsctl.TierPartition{
			{
				Topic: "audit", Partition: 0, Leader: 2, ReportedBy: 2,
				LogStart: 0, LocalStart: 0, RemoteStart: -1, HighWatermark: 310, LocalBytes: 48213,
				LastUpload: nil,
			},
			{
				Topic: "orders", Partition: 0, Leader: 1, ReportedBy: 1, Remote: true,
				LogStart: 0, LocalStart: 42000, RemoteStart: 0, TieredEnd: 42000, HighWatermark: 51730,
				Segments: 42, RemoteBytes: 44040192, LocalBytes: 12582912 + 524288,
				UploadLagBytes: 12582912, UploadLagSeconds: 3.2, LastUpload: ptr(tierTakenAt.Add(-4 * time.Second)),
			},
			{
				Topic: "orders", Partition: 1, Leader: -1, ReportedBy: 2, Remote: true,
				LogStart: 1000, LocalStart: 8000, RemoteStart: 1000, TieredEnd: 8000, HighWatermark: 9100,
				Segments: 7, RemoteBytes: 7340032, LocalBytes: 1153434, UploadLagBytes: 1153434, HeldAt: ptr(int64(8000)),
			},
			{
				Topic: "orders", Partition: 2, Leader: 2, ReportedBy: 2, Remote: true,
				LogStart: 0, LocalStart: 0, RemoteStart: -1, HighWatermark: 20480, LocalBytes: 5 << 30,
				UploadLagBytes: 5 << 30, UploadLagSeconds: 3725,
				LastError:   "upload: PUT orders/2/00000000000000000000.seg: 403 Forbidden",
				LastErrorAt: ptr(tierTakenAt.Add(-90 * time.Second)),
			},
		},
	}},
	{"tier_status_empty", &opsctl.TierReport{
		TakenAt:    tierTakenAt,
		Nodes:      []opsctl.TierNode{{Node: 1, HTTP: "127.0.0.1:9644", Up: true, Store: ""}},
		Partitions: []opsctl.TierPartition{},
	}},
}

func TestTierRenderGolden(t *testing.T) {
	renderGolden(t, tierReports, func(t *testing.T, name string, v any) { checkKeys(t, name, v, false) })
}

// tierBroker serves GET /v1/tier with st, and GET /v1/brokers with the
// registry when it is set.
func tierBroker(t *testing.T, st *opsctl.TierNodeStatus, registry []map[string]any) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/tier", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(st)
	})
	mux.HandleFunc("GET /v1/brokers", func(w http.ResponseWriter, _ *http.Request) {
		if registry == nil {
			http.Error(w, `{"error":"not the meta leader"}`, http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(registry)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// deadAddr is a loopback address nothing listens on any more.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestTierStatusMerge(t *testing.T) {
	uploaded := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	row := func(topic string, p int32, leader, remote bool, tieredEnd int64) opsctl.TierReplica {
		r := opsctl.TierReplica{
			Topic: topic, Partition: p, Leader: leader, Remote: remote,
			RemoteStart: -1, TieredEnd: tieredEnd, HighWatermark: tieredEnd + 10,
		}
		if tieredEnd > 0 {
			r.RemoteStart, r.Segments = 0, 1
		}
		if leader && remote {
			r.LastUpload, r.UploadLagBytes, r.UploadLagSeconds = uploaded, 100, 2
		}
		return r
	}
	// Broker 3 is found only through broker 1's registry, as one added at
	// runtime would be.
	b3 := tierBroker(t, &opsctl.TierNodeStatus{Node: 3, Store: "mem://", Partitions: []opsctl.TierReplica{
		row("orders", 1, false, true, 40), // follower, behind broker 2's follower row
		row("orders", 2, true, true, 70),
	}}, nil)
	b2 := tierBroker(t, &opsctl.TierNodeStatus{Node: 2, Store: "mem://", Partitions: []opsctl.TierReplica{
		row("orders", 0, false, true, 10),
		row("orders", 1, false, true, 50),
		row("plain", 0, true, false, 0),
	}}, nil)
	b1 := tierBroker(t, &opsctl.TierNodeStatus{Node: 1, Store: "mem://", Partitions: []opsctl.TierReplica{
		row("orders", 0, true, true, 20),
		row("was-tiered", 0, true, false, 5),
	}}, []map[string]any{{"ID": 1, "HTTP": ""}, {"ID": 3, "HTTP": b3}})
	dead := deadAddr(t)
	addrs := opsctl.Admin{Addrs: []string{dead, b2, b1, b1}, HTTP: adminhttp.Plain(0)} // b1 twice: the same broker under two names is one node

	tests := []struct {
		name    string
		opts    opsctl.TierStatusOptions
		want    []string // topic/partition@leader<-reported_by
		wantErr string
	}{
		{"tiered only", opsctl.TierStatusOptions{}, []string{"orders/0@1<-1", "orders/1@-1<-2", "orders/2@3<-3", "was-tiered/0@1<-1"}, ""},
		{"all", opsctl.TierStatusOptions{All: true}, []string{"orders/0@1<-1", "orders/1@-1<-2", "orders/2@3<-3", "plain/0@2<-2", "was-tiered/0@1<-1"}, ""},
		{"named topic, not tiered", opsctl.TierStatusOptions{Topics: []string{"plain"}}, []string{"plain/0@2<-2"}, ""},
		{"named topics", opsctl.TierStatusOptions{Topics: []string{"was-tiered", "orders"}}, []string{"orders/0@1<-1", "orders/1@-1<-2", "orders/2@3<-3", "was-tiered/0@1<-1"}, ""},
		{"unknown topic", opsctl.TierStatusOptions{Topics: []string{"orders", "nope"}}, nil, `no answering broker has a replica of topic "nope" (1 of the brokers did not answer)`},
		{"empty topic name", opsctl.TierStatusOptions{Topics: []string{" "}}, nil, "the topic name is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := opsctl.TierStatus(context.Background(), addrs, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, opsctl.ErrInvalidInput) {
					t.Fatalf("err = %v, want ErrInvalidInput with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range r.Partitions {
				got = append(got, fmt.Sprintf("%s/%d@%d<-%d", p.Topic, p.Partition, p.Leader, p.ReportedBy))
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("partitions %q, want %q", got, tt.want)
			}
			var nodes []string
			for _, n := range r.Nodes {
				nodes = append(nodes, fmt.Sprintf("%d@%s", n.Node, n.HTTP))
			}
			if want := []string{"1@" + b1, "2@" + b2, "3@" + b3, "-1@" + dead}; strings.Join(nodes, " ") != strings.Join(want, " ") {
				t.Errorf("nodes %q, want %q (by ID, unreachable last, no duplicates)", nodes, want)
			}
			if n := r.Nodes[3]; n.Up || n.Error == "" {
				t.Errorf("unreachable broker: %+v", n)
			}
		})
	}

	r, err := opsctl.TierStatus(context.Background(), addrs, opsctl.TierStatusOptions{Topics: []string{"orders"}})
	if err != nil {
		t.Fatal(err)
	}
	p0 := r.Partitions[0]
	if p0.LastUpload == nil || !p0.LastUpload.Equal(uploaded) || p0.UploadLagBytes != 100 || p0.TieredEnd != 20 || p0.LastErrorAt != nil {
		t.Errorf("orders/0 is not the leader's row: %+v", p0)
	}
	if p1 := r.Partitions[1]; p1.TieredEnd != 50 || p1.LastUpload != nil {
		t.Errorf("orders/1 without a leader: %+v, want the most advanced follower's row (tiered end 50)", p1)
	}
	if !strings.Contains(tableOf(t, r), "orders  1          ?       ") {
		t.Errorf("a partition without a leader shows leader ?:\n%s", tableOf(t, r))
	}
}

func TestTierStatusNoBroker(t *testing.T) {
	_, err := opsctl.TierStatus(context.Background(), opsctl.Admin{Addrs: []string{deadAddr(t), deadAddr(t)}, HTTP: adminhttp.Plain(0)}, opsctl.TierStatusOptions{})
	if !errors.Is(err, opsctl.ErrUnreachable) || !strings.Contains(err.Error(), "no broker admin API answered GET /v1/tier") {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
}

func tableOf(t *testing.T, r opsctl.Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

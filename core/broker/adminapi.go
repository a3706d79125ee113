package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/chronik-go/chronik/core/cluster"
	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/raftsm"
)

// The admin API lives on the HTTP address next to /metrics. It serves what
// the Kafka protocol has no request for: per-node replica state and leader
// transfers.
//
//	GET  /v1/status                                       → cluster.NodeStatus
//	POST /v1/topics/{topic}/partitions/{p}/leader?to=NODE → 202 once requested
//	GET  /v1/tier                                         → TierStatus (adminapi_tier.go)
//	POST /v1/backups, GET /v1/backups[/{id}]               → backups (adminapi_backup.go)
//	POST /v1/txn-markers                                  ← txn.Markers: write those led here (txnmarkers.go)
//	POST /v1/txn-verify                                   ← does a transaction coordinated here include a partition (txnverify.go)
func (b *Broker) registerAdminAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/status", b.handleStatus)
	mux.HandleFunc("GET /v1/tier", b.handleTierStatus)
	mux.HandleFunc("POST /v1/topics/{topic}/partitions/{partition}/leader", b.handleTransferLeader)
	b.registerMembershipAPI(mux) // adminapi_membership.go
	b.registerBackupAPI(mux)     // adminapi_backup.go
	mux.HandleFunc("POST /v1/txn-markers", b.handleTxnMarkers)
	mux.HandleFunc("POST /v1/txn-verify", b.handleTxnVerify)
}

// Status reports this node's replicas.
func (b *Broker) Status() cluster.NodeStatus {
	st := cluster.NodeStatus{Node: b.cfg.NodeID, MetaLeader: -1, Replicas: []cluster.ReplicaStatus{}}
	if id, _, ok, err := b.nh.GetLeaderID(raftsm.MetaShardID); err == nil && ok {
		st.MetaLeader = raftsm.BrokerOfReplica(id)
	}
	st.MetaVoters, st.MetaNonVoting = []int32{}, []int32{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	if m, err := b.nh.SyncGetShardMembership(ctx, raftsm.MetaShardID); err == nil {
		for id := range m.Nodes {
			st.MetaVoters = append(st.MetaVoters, raftsm.BrokerOfReplica(id))
		}
		for id := range m.NonVotings {
			st.MetaNonVoting = append(st.MetaNonVoting, raftsm.BrokerOfReplica(id))
		}
		slices.Sort(st.MetaVoters)
		slices.Sort(st.MetaNonVoting)
	}
	cancel()
	for _, r := range b.parts.Replicas() {
		st.Replicas = append(st.Replicas, cluster.ReplicaStatus{
			Topic: r.Topic, Partition: r.Partition, Shard: r.ShardID, Replica: r.ReplicaID,
			Leader: r.Leader, LeaderEpoch: r.LeaderEpoch, IsLeader: r.IsLeader,
			LogStartOffset: r.LogStartOffset, HighWatermark: r.HighWatermark,
			Compaction: compactionStatus(r.Compaction),
		})
	}
	sort.Slice(st.Replicas, func(i, j int) bool {
		a, c := st.Replicas[i], st.Replicas[j]
		return a.Topic < c.Topic || a.Topic == c.Topic && a.Partition < c.Partition
	})
	return st
}

func (b *Broker) handleStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, b.Status())
}

func (b *Broker) handleTransferLeader(w http.ResponseWriter, r *http.Request) {
	topic := r.PathValue("topic")
	p, err := strconv.ParseInt(r.PathValue("partition"), 10, 32)
	if err != nil {
		writeError(w, http.StatusBadRequest, "partition must be an integer")
		return
	}
	to, err := strconv.ParseInt(r.URL.Query().Get("to"), 10, 32)
	if err != nil {
		writeError(w, http.StatusBadRequest, "?to=NODE must name the broker ID that should lead")
		return
	}
	if err := b.TransferLeader(partition.TP{Topic: topic, Partition: int32(p)}, int32(to)); err != nil {
		code := http.StatusConflict
		if errors.Is(err, partition.ErrUnknownPartition) {
			code = http.StatusNotFound
		}
		writeError(w, code, err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "transfer requested"})
}

// TransferLeader asks the Raft group of tp to make broker to its leader.
// It must run on a broker holding a replica of tp; the transfer itself is
// asynchronous (watch /v1/status).
func (b *Broker) TransferLeader(tp partition.TP, to int32) error {
	t, ok := b.cluster.Topic(tp.Topic)
	if !ok || tp.Partition < 0 || int(tp.Partition) >= len(t.Partitions) {
		return fmt.Errorf("%w: %s/%d", partition.ErrUnknownPartition, tp.Topic, tp.Partition)
	}
	pl := t.Partitions[tp.Partition]
	target := uint64(0)
	for i, n := range pl.Nodes {
		if n == to {
			target = pl.Replicas[i]
		}
	}
	if target == 0 {
		return fmt.Errorf("broker %d holds no replica of %s/%d (replicas are on %v)", to, tp.Topic, tp.Partition, pl.Nodes)
	}
	if !b.parts.Has(tp) {
		return fmt.Errorf("this broker holds no replica of %s/%d: ask one of %v", tp.Topic, tp.Partition, pl.Nodes)
	}
	return b.parts.TransferShard(pl.ShardID, target)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

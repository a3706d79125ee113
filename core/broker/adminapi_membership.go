package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chronik-go/chronik/core/adminhttp"
	"github.com/chronik-go/chronik/core/cluster"
)

// Membership endpoints of the admin API (docs/cli.md, `chronik cluster
// add-node | remove-node | reassign | reassignments`):
//
//	GET    /v1/brokers                          → []cluster.BrokerRecord (live brokers with every address)
//	POST   /v1/brokers                          ← cluster.BrokerRecord: register (add-node)
//	GET    /v1/brokers/{id}                     → registryRecord (404: never registered)
//	POST   /v1/brokers/{id}/rejoin              → {"generation": G}: a wiped broker's new generation
//	POST   /v1/brokers/{id}/decommission        → cluster.DecommissionPlan: start moving every replica off
//	DELETE /v1/brokers/{id}                     → tombstone a broker that holds no replica any more
//	GET    /v1/reassignments                    → ReassignmentsStatus
//	POST   /v1/topics/{topic}/partitions/{p}/reassign?replicas=4,1,2 → 202
func (b *Broker) registerMembershipAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/brokers", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, b.cluster.BrokerRecords())
	})
	mux.HandleFunc("POST /v1/brokers", b.handleRegisterBroker)
	mux.HandleFunc("GET /v1/brokers/{id}", b.handleBrokerRecord)
	mux.HandleFunc("POST /v1/brokers/{id}/rejoin", b.handleRejoin)
	mux.HandleFunc("POST /v1/brokers/{id}/decommission", b.handleDecommission)
	mux.HandleFunc("DELETE /v1/brokers/{id}", b.handleDeregister)
	mux.HandleFunc("GET /v1/reassignments", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, ReassignmentsStatus{Node: b.cfg.NodeID, Reassignments: orEmpty(b.cluster.Reassignments()), Progress: orEmpty(b.ctrl.Progress())})
	})
	mux.HandleFunc("POST /v1/topics/{topic}/partitions/{partition}/reassign", b.handleReassign)
}

// ReassignmentsStatus is GET /v1/reassignments: the moves committed in the
// meta shard, and the progress of those this broker drives as leader.
type ReassignmentsStatus struct {
	Node          int32                  `json:"node"`
	Reassignments []cluster.Reassignment `json:"reassignments"`
	Progress      []cluster.MoveProgress `json:"progress"`
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func membershipStatus(err error) int {
	switch {
	case errors.Is(err, cluster.ErrUnknownBroker), errors.Is(err, cluster.ErrUnknownTopic):
		return http.StatusNotFound
	case errors.Is(err, cluster.ErrNotController):
		return http.StatusServiceUnavailable
	case errors.Is(err, cluster.ErrInvalidConfig), errors.Is(err, cluster.ErrInvalidReplicaAssignment):
		return http.StatusBadRequest
	}
	return http.StatusConflict
}

func (b *Broker) handleRegisterBroker(w http.ResponseWriter, r *http.Request) {
	var rec cluster.BrokerRecord
	if err := json.NewDecoder(r.Body).Decode(&rec); err != nil {
		writeError(w, http.StatusBadRequest, "body must be a JSON broker record: "+err.Error())
		return
	}
	rec.Removed = false
	if len(b.cfg.Nodes) == 0 {
		// A single node without [[nodes]] is in no registry: once another
		// broker were registered, Metadata would list that one alone.
		writeError(w, http.StatusConflict, "this broker runs as a single node without [[nodes]] in its config, so it is in no broker "+
			"registry: restart it with a config file whose [[nodes]] lists it, then add brokers")
		return
	}
	if b.cluster.Removed(rec.ID) {
		writeError(w, http.StatusConflict, "broker "+strconv.Itoa(int(rec.ID))+" was decommissioned; its ID can never rejoin: pick a new --id")
		return
	}
	if err := b.cluster.RegisterBroker(r.Context(), rec); err != nil {
		writeError(w, membershipStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func pathBroker(w http.ResponseWriter, r *http.Request) (int32, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 32)
	if err != nil {
		writeError(w, http.StatusBadRequest, "broker id must be an integer")
		return 0, false
	}
	return int32(id), true
}

func (b *Broker) handleDecommission(w http.ResponseWriter, r *http.Request) {
	id, ok := pathBroker(w, r)
	if !ok {
		return
	}
	plan, err := b.cluster.Decommission(r.Context(), id)
	if err != nil {
		writeError(w, membershipStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, plan)
}

func (b *Broker) handleDeregister(w http.ResponseWriter, r *http.Request) {
	id, ok := pathBroker(w, r)
	if !ok {
		return
	}
	if err := b.cluster.Deregister(r.Context(), id); err != nil {
		writeError(w, membershipStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "deregistered"})
}

func (b *Broker) handleReassign(w http.ResponseWriter, r *http.Request) {
	p, err := strconv.ParseInt(r.PathValue("partition"), 10, 32)
	if err != nil {
		writeError(w, http.StatusBadRequest, "partition must be an integer")
		return
	}
	var nodes []int32
	for f := range strings.SplitSeq(r.URL.Query().Get("replicas"), ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil {
			writeError(w, http.StatusBadRequest, "?replicas=N,N,... must list broker IDs, preferred leader first")
			return
		}
		nodes = append(nodes, int32(n))
	}
	if err := b.cluster.AlterReassignment(r.Context(), r.PathValue("topic"), int32(p), nodes); err != nil {
		writeError(w, membershipStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "reassignment started"})
}

// registryRecord is GET /v1/brokers/{id}.
type registryRecord struct {
	Record cluster.BrokerRecord `json:"record"`
}

func (b *Broker) handleBrokerRecord(w http.ResponseWriter, r *http.Request) {
	id, ok := pathBroker(w, r)
	if !ok {
		return
	}
	rec, known := b.cluster.RegistryRecord(id)
	if !known {
		writeError(w, http.StatusNotFound, "broker "+strconv.Itoa(int(id))+" never registered")
		return
	}
	writeJSON(w, http.StatusOK, registryRecord{Record: rec})
}

func (b *Broker) handleRejoin(w http.ResponseWriter, r *http.Request) {
	id, ok := pathBroker(w, r)
	if !ok {
		return
	}
	gen, err := b.cluster.Rejoin(r.Context(), id)
	if err != nil {
		writeError(w, membershipStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint32{"generation": gen})
}

// peerTimeout bounds one call of another broker's admin API.
const peerTimeout = 10 * time.Second

// errPeerUnauthorized is a peer's 401: its http.token-file differs.
var errPeerUnauthorized = errors.New("the broker rejects this one's admin API token (401): every broker needs the same http.token-file")

// peerRecord asks a peer's admin API for broker id's registry record.
func peerRecord(ctx context.Context, c *adminhttp.Client, addr string, id int32) (cluster.BrokerRecord, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, peerTimeout)
	defer cancel()
	resp, err := c.Do(ctx, http.MethodGet, addr, "/v1/brokers/"+strconv.Itoa(int(id)), nil)
	if err != nil {
		return cluster.BrokerRecord{}, false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotFound:
		return cluster.BrokerRecord{}, false, nil
	case http.StatusUnauthorized:
		return cluster.BrokerRecord{}, false, errPeerUnauthorized
	case http.StatusOK:
		var rr registryRecord
		err := json.NewDecoder(resp.Body).Decode(&rr)
		return rr.Record, err == nil, err
	}
	return cluster.BrokerRecord{}, false, fmt.Errorf("GET /v1/brokers/%d: %s", id, resp.Status)
}

// peerRejoin asks a peer to bump broker id's generation.
func peerRejoin(ctx context.Context, c *adminhttp.Client, addr string, id int32) (uint32, error) {
	ctx, cancel := context.WithTimeout(ctx, peerTimeout)
	defer cancel()
	resp, err := c.Do(ctx, http.MethodPost, addr, "/v1/brokers/"+strconv.Itoa(int(id))+"/rejoin", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Generation uint32 `json:"generation"`
		Error      string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", resp.Status, out.Error)
	}
	return out.Generation, nil
}

package broker

import (
	"encoding/json"
	"net/http"

	"github.com/chronik-go/chronik/core/tier"
)

// TierStatus is what GET /v1/tier reports: the store this node tiers to
// and the tiered-storage state of each of its replicas.
type TierStatus struct {
	Node       int32                  `json:"node"`
	Store      string                 `json:"store"`
	Partitions []tier.PartitionStatus `json:"partitions"`
}

// handleTierStatus serves GET /v1/tier.
func (b *Broker) handleTierStatus(w http.ResponseWriter, _ *http.Request) {
	st := TierStatus{Node: b.cfg.NodeID, Partitions: []tier.PartitionStatus{}}
	if b.tier != nil {
		st.Store = b.tier.StoreName()
		st.Partitions = append(st.Partitions, b.tier.Status()...)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

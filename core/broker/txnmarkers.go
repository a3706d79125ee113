package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/core/txn"
)

// txnMarkers writes a transaction's markers for the transaction
// coordinator (txn.MarkerWriter): each partition's marker is proposed by
// its leader, and each group's pending offsets are ended by its
// coordinator. What this broker leads it writes itself; the rest goes to
// the leading broker's admin API (POST /v1/txn-markers), which writes only
// what it leads itself, so a request is never forwarded twice. Any part
// not written (no leader, a leader that moved, a peer unreachable) fails
// the call, and the coordinator repeats it: markers are idempotent.
type txnMarkers struct{ b *Broker }

var _ txn.MarkerWriter = txnMarkers{}

// maxMarkerWrites bounds the markers one call proposes at once.
const maxMarkerWrites = 16

func (m txnMarkers) WriteMarkers(ctx context.Context, mk txn.Markers) error {
	remote := map[int32]*txn.Markers{}
	var local txn.Markers
	local.ProducerID, local.ProducerEpoch, local.Commit, local.TransactionalID = mk.ProducerID, mk.ProducerEpoch, mk.Commit, mk.TransactionalID
	var errs []error
	at := func(node int32) *txn.Markers {
		if node == m.b.cfg.NodeID {
			return &local
		}
		r := remote[node]
		if r == nil {
			r = &txn.Markers{TransactionalID: mk.TransactionalID, ProducerID: mk.ProducerID, ProducerEpoch: mk.ProducerEpoch, Commit: mk.Commit}
			remote[node] = r
		}
		return r
	}
	for _, tp := range mk.Partitions {
		node, exists, err := m.leaderOf(tp)
		switch {
		case !exists:
			// Deleted with its topic: nothing to end.
		case err != nil:
			errs = append(errs, fmt.Errorf("%s/%d: %w", tp.Topic, tp.Partition, err))
		default:
			p := at(node)
			p.Partitions = append(p.Partitions, tp)
		}
	}
	for _, g := range mk.Groups {
		node, err := m.b.groups.Coordinator(g)
		if err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", g, err))
			continue
		}
		p := at(node)
		p.Groups = append(p.Groups, g)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	if len(local.Partitions)+len(local.Groups) > 0 {
		wg.Go(func() {
			if err := m.writeLocal(ctx, local); err != nil {
				fail(err)
			}
		})
	}
	for node, r := range remote {
		wg.Go(func() {
			if err := m.post(ctx, node, *r); err != nil {
				fail(fmt.Errorf("broker %d: %w", node, err))
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// writeLocal writes the markers of mk that this broker leads or
// coordinates, and fails for any other.
func (m txnMarkers) writeLocal(ctx context.Context, mk txn.Markers) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, maxMarkerWrites)
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	marker := partition.TxnMarker{ProducerID: mk.ProducerID, ProducerEpoch: mk.ProducerEpoch, Commit: mk.Commit}
	for _, tp := range mk.Partitions {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := m.b.parts.WriteTxnMarker(ctx, partition.TP{Topic: tp.Topic, Partition: tp.Partition}, marker)
			if _, exists := m.b.cluster.Knows(tp.Topic, tp.Partition); !exists && errors.Is(err, partition.ErrUnknownPartition) {
				err = nil // deleted with its topic
			}
			if err != nil {
				fail(fmt.Errorf("%s/%d: %w", tp.Topic, tp.Partition, err))
			}
		})
	}
	for _, g := range mk.Groups {
		wg.Go(func() {
			if err := m.b.groups.EndTxnOffsets(ctx, g, mk.ProducerID, mk.ProducerEpoch, mk.Commit); err != nil {
				fail(fmt.Errorf("group %s: %w", g, err))
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// leaderOf returns the broker leading a partition; exists is false once
// its topic is gone.
func (m txnMarkers) leaderOf(tp txn.TopicPartition) (node int32, exists bool, err error) {
	shard, ok := m.b.cluster.Knows(tp.Topic, tp.Partition)
	if !ok {
		return -1, false, nil
	}
	if st, err := m.b.parts.PartitionState(partition.TP{Topic: tp.Topic, Partition: tp.Partition}); err == nil && st.Leader >= 0 {
		return st.Leader, true, nil
	}
	if node, _, ok := m.b.cluster.LeaderOf(shard); ok && node >= 0 {
		return node, true, nil
	}
	return -1, true, partition.ErrLeaderNotAvailable
}

// post sends markers to another broker's admin API.
func (m txnMarkers) post(ctx context.Context, node int32, mk txn.Markers) error {
	status, answer, err := m.b.postPeer(ctx, node, "/v1/txn-markers", mk)
	switch {
	case err != nil:
		return err
	case status == http.StatusNoContent:
		return nil
	}
	return fmt.Errorf("POST /v1/txn-markers: %d %s: %s", status, http.StatusText(status), answer.Error)
}

// peerAnswer is the body of an admin API error answer.
type peerAnswer struct {
	Error string `json:"error"`
	// Refusal names why POST /v1/txn-verify refused (txnverify.go).
	Refusal string `json:"refusal,omitempty"`
}

// postPeer POSTs v, as JSON, to path on another broker's admin API and
// returns the answer's status, and its error body when it is not a 2xx.
// A 401 (a different http.token-file) is errPeerUnauthorized.
func (b *Broker) postPeer(ctx context.Context, node int32, path string, v any) (int, peerAnswer, error) {
	r, ok := b.cluster.BrokerRecord(node)
	if !ok || r.HTTP == "" {
		return 0, peerAnswer{}, errors.New("no admin address known")
	}
	body, err := json.Marshal(v)
	if err != nil {
		return 0, peerAnswer{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, peerTimeout)
	defer cancel()
	resp, err := b.admin.Do(ctx, http.MethodPost, r.HTTP, path, bytes.NewReader(body))
	if err != nil {
		return 0, peerAnswer{}, err
	}
	defer resp.Body.Close()
	var answer peerAnswer
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return resp.StatusCode, answer, errPeerUnauthorized
	case resp.StatusCode/100 != 2:
		_ = json.NewDecoder(resp.Body).Decode(&answer)
	}
	return resp.StatusCode, answer, nil
}

// handleTxnMarkers serves POST /v1/txn-markers: a transaction
// coordinator on another broker asks this one to write the markers it
// leads (204), or reports which it could not (503).
func (b *Broker) handleTxnMarkers(w http.ResponseWriter, r *http.Request) {
	var mk txn.Markers
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&mk); err != nil {
		writeError(w, http.StatusBadRequest, "decode markers: "+err.Error())
		return
	}
	if mk.ProducerID < 0 || mk.ProducerEpoch < 0 {
		writeError(w, http.StatusBadRequest, "markers need a producer ID and epoch")
		return
	}
	if err := (txnMarkers{b}).writeLocal(r.Context(), mk); err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

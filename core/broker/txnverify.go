package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/chronik-go/chronik/core/partition"
	"github.com/chronik-go/chronik/core/txn"
	"github.com/chronik-go/chronik/raftsm"
)

// txnVerifier verifies transactional produces for the partition service
// (partition.TxnVerifier, KIP-890): the transaction's coordinator is asked
// whether the producer's ongoing transaction added the partition, here
// when this broker coordinates the transactional ID, else through the
// coordinator's admin API (POST /v1/txn-verify), which answers only for
// what it coordinates itself. Departure: Kafka's leaders send
// AddPartitionsToTxn v4 (verify only) to the coordinator; here the
// brokers already call each other's admin API for the markers.
type txnVerifier struct{ b *Broker }

var _ partition.TxnVerifier = txnVerifier{}

// Enabled: kafka.transaction-partition-verification, once every broker
// applies the append guard (raftsm.LevelTxnVerification).
func (v txnVerifier) Enabled() bool {
	return v.b.cfg.Kafka.TransactionPartitionVerification && v.b.cluster != nil &&
		v.b.cluster.RequireLevel(raftsm.LevelTxnVerification, "transaction verification") == nil
}

// Adds: every broker runs a release whose coordinator adds partitions
// for Produce v12+ and bumps epochs at EndTxn v5+ (KIP-890 part 2).
func (v txnVerifier) Adds() bool { return v.b.txnV2() }

// txnV2 reports whether every broker applies KIP-890 part 2's records
// (raftsm.LevelTxnV2).
func (b *Broker) txnV2() bool {
	return b.cluster != nil && b.cluster.RequireLevel(raftsm.LevelTxnV2, "transaction version 2") == nil
}

func (v txnVerifier) Verify(ctx context.Context, txnID string, pid int64, epoch int16, tp partition.TP, add bool) error {
	q := txnVerifyRequest{TransactionalID: txnID, ProducerID: pid, ProducerEpoch: epoch, Topic: tp.Topic, Partition: tp.Partition, Add: add}
	return partitionErr(v.ask(ctx, q))
}

// Add adds several partitions to the producer's transaction at once.
func (v txnVerifier) Add(ctx context.Context, txnID string, pid int64, epoch int16, tps []partition.TP) error {
	q := txnVerifyRequest{TransactionalID: txnID, ProducerID: pid, ProducerEpoch: epoch, Add: true}
	for _, tp := range tps {
		q.Partitions = append(q.Partitions, txn.TopicPartition{Topic: tp.Topic, Partition: tp.Partition})
	}
	return partitionErr(v.ask(ctx, q))
}

// partitionErr maps the coordinator's answer to the partition error a
// producer is answered.
func partitionErr(err error) error {
	// The coordinator's error is kept as text only: what the producer is
	// answered is the partition error alone.
	switch {
	case err == nil:
		return nil
	case errors.Is(err, txn.ErrInvalidTxnState), errors.Is(err, txn.ErrInvalidProducerIDMapping):
		return fmt.Errorf("%w: %s", partition.ErrInvalidTxnState, err.Error())
	case errors.Is(err, txn.ErrProducerFenced):
		return fmt.Errorf("%w: %s", partition.ErrInvalidProducerEpoch, err.Error())
	default:
		// Kafka answers NOT_ENOUGH_REPLICAS (retriable for every client)
		// for a coordinator it cannot reach or that is busy.
		return fmt.Errorf("%w: %s", partition.ErrTxnVerification, err.Error())
	}
}

// AddGroup adds a consumer group to the producer's transaction for a
// TxnOffsetCommit v5+ (KIP-890 part 2: its client sends no
// AddOffsetsToTxn), asking the transaction's coordinator here or over its
// admin API. Errors are core/txn's.
func (v txnVerifier) AddGroup(ctx context.Context, txnID string, pid int64, epoch int16, group string) error {
	err := v.ask(ctx, txnVerifyRequest{TransactionalID: txnID, ProducerID: pid, ProducerEpoch: epoch, Group: group, Add: true})
	for _, refusal := range txnVerifyRefusals {
		if errors.Is(err, refusal) {
			return err
		}
	}
	if err != nil && !errors.Is(err, txn.ErrCoordinatorNotAvailable) && !errors.Is(err, txn.ErrNotCoordinator) && !errors.Is(err, txn.ErrLoadInProgress) {
		// The coordinator could not be asked (or answered otherwise):
		// retriable, as for a produce.
		err = fmt.Errorf("%w: %w", txn.ErrCoordinatorNotAvailable, err)
	}
	return err
}

// ask puts q to the transactional ID's coordinator: this broker's, or
// another's over POST /v1/txn-verify.
func (v txnVerifier) ask(ctx context.Context, q txnVerifyRequest) error {
	node, err := v.b.txns.Coordinator(q.TransactionalID)
	switch {
	case err != nil:
		return err
	case node == v.b.cfg.NodeID:
		return q.apply(ctx, v.b.txns)
	default:
		return v.post(ctx, node, q)
	}
}

// txnVerifyRequest is the body of POST /v1/txn-verify: a partition (Topic,
// Partition), verified or, with Add, added to the producer's transaction;
// or, with Add, several partitions (Partitions) or a consumer group
// (Group) added.
type txnVerifyRequest struct {
	TransactionalID string               `json:"transactional_id"`
	ProducerID      int64                `json:"producer_id"`
	ProducerEpoch   int16                `json:"producer_epoch"`
	Topic           string               `json:"topic,omitempty"`
	Partition       int32                `json:"partition"`
	Partitions      []txn.TopicPartition `json:"partitions,omitempty"`
	Group           string               `json:"group,omitempty"`
	Add             bool                 `json:"add,omitempty"`
}

// apply answers q on the coordinator.
func (q txnVerifyRequest) apply(ctx context.Context, s *txn.Service) error {
	switch {
	case q.Group != "":
		return s.AddOffsets(ctx, q.TransactionalID, q.ProducerID, q.ProducerEpoch, q.Group)
	case len(q.Partitions) > 0:
		return s.AddPartitions(ctx, q.TransactionalID, q.ProducerID, q.ProducerEpoch, q.Partitions)
	}
	return s.VerifyPartition(ctx, q.TransactionalID, q.ProducerID, q.ProducerEpoch, q.tp(), q.Add)
}

// valid reports whether q names one partition, or (to add) several or one
// group.
func (q txnVerifyRequest) valid() bool {
	if q.TransactionalID == "" || q.ProducerID < 0 || q.ProducerEpoch < 0 {
		return false
	}
	switch {
	case q.Group != "":
		return q.Add && q.Topic == "" && len(q.Partitions) == 0
	case len(q.Partitions) > 0:
		return q.Add && q.Topic == "" && !slices.ContainsFunc(q.Partitions, func(tp txn.TopicPartition) bool {
			return tp.Topic == "" || tp.Partition < 0
		})
	}
	return q.Topic != "" && q.Partition >= 0
}

func (q txnVerifyRequest) tp() txn.TopicPartition {
	return txn.TopicPartition{Topic: q.Topic, Partition: q.Partition}
}

// txnVerifyRefusals name, in POST /v1/txn-verify's 409 answers, the
// coordinator's refusals; any other failure is a 503.
var txnVerifyRefusals = map[string]error{
	"invalid_txn_state":           txn.ErrInvalidTxnState,
	"invalid_producer_id_mapping": txn.ErrInvalidProducerIDMapping,
	"producer_fenced":             txn.ErrProducerFenced,
	"concurrent_transactions":     txn.ErrConcurrentTransactions,
}

// post asks another broker, the transactional ID's coordinator.
func (v txnVerifier) post(ctx context.Context, node int32, q txnVerifyRequest) error {
	status, answer, err := v.b.postPeer(ctx, node, "/v1/txn-verify", q)
	switch {
	case err != nil:
		return fmt.Errorf("coordinator broker %d: %w", node, err)
	case status == http.StatusNoContent:
		return nil
	}
	if refusal, ok := txnVerifyRefusals[answer.Refusal]; ok && status == http.StatusConflict {
		return fmt.Errorf("%w (coordinator broker %d: %s)", refusal, node, answer.Error)
	}
	return fmt.Errorf("coordinator broker %d: POST /v1/txn-verify: %d %s: %s", node, status, http.StatusText(status), answer.Error)
}

// handleTxnVerify serves POST /v1/txn-verify: a partition leader asks
// whether a transaction this broker coordinates added a partition, or
// (KIP-890 part 2, "add") has it add a partition (a Produce v12+) or a
// consumer group (a TxnOffsetCommit v5+, from the group's coordinator).
// 204: done; 409 with a refusal: it did not (or the producer is fenced, or
// the previous transaction is still ending); 503: this broker cannot
// answer (not the coordinator, loading), and the producer retries.
func (b *Broker) handleTxnVerify(w http.ResponseWriter, r *http.Request) {
	var q txnVerifyRequest
	// As for the markers: one produce may add thousands of partitions.
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&q); err != nil {
		writeError(w, http.StatusBadRequest, "decode verification: "+err.Error())
		return
	}
	if !q.valid() {
		writeError(w, http.StatusBadRequest, "verification needs a transactional ID, producer ID and epoch, and a topic and partition or (to add) a group")
		return
	}
	err := q.apply(r.Context(), b.txns)
	if err == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	for name, refusal := range txnVerifyRefusals {
		if errors.Is(err, refusal) {
			writeJSON(w, http.StatusConflict, peerAnswer{Error: err.Error(), Refusal: name})
			return
		}
	}
	writeError(w, http.StatusServiceUnavailable, err.Error())
}

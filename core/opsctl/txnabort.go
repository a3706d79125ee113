package opsctl

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// keyWriteTxnMarkers is the API `transaction abort` writes its marker
// with (KIP-664); keyDescribeProducers finds the transaction.
const keyWriteTxnMarkers = 27

// The outcomes of `transaction abort` (AbortedTransaction.Outcome).
const (
	// OutcomeAborted means the producer's open transaction on the
	// partition got its abort marker.
	OutcomeAborted = "aborted"
	// OutcomeNoneOpen means the partition showed no open transaction of
	// the producer: the marker was written anyway (--producer-epoch), and
	// a partition appends nothing for a producer without one.
	OutcomeNoneOpen = "no_open_transaction"
)

// TxnAbort says which open transaction `transaction abort` ends: on
// partition Partition of Topic, the one that began at StartOffset, or the
// one of producer ProducerID. Exactly one of the two is set; a nil field
// was not given.
type TxnAbort struct {
	Topic       string
	Partition   *int32
	StartOffset *int64
	ProducerID  *int64
	// ProducerEpoch, only with ProducerID, is the epoch of the marker, and
	// sends it even when the partition shows no open transaction of the
	// producer; without it the marker has the epoch the partition's leader
	// reports for the producer.
	ProducerEpoch *int16
}

// Validate checks the flags before any request.
func (a TxnAbort) Validate() error {
	switch {
	case strings.TrimSpace(a.Topic) == "":
		return invalidf("--topic is required: name the topic of the partition holding the transaction open (`chronik topic producers TOPIC` shows each partition's open transactions)")
	case a.Partition == nil:
		return invalidf("--partition is required: the partition holding the transaction open (PARTITION in `chronik topic producers %s`)", a.Topic)
	case *a.Partition < 0:
		return invalidf("--partition %d: partition numbers start at 0", *a.Partition)
	}
	return a.validateChoice()
}

// validateChoice checks the flags that choose the transaction.
func (a TxnAbort) validateChoice() error {
	switch {
	case a.StartOffset == nil && a.ProducerID == nil:
		return invalidf("name the transaction to abort: --start-offset OFFSET (its TXN-START in `chronik topic producers %s --partitions %d`) or --producer-id ID (its PRODUCER-ID)", a.Topic, *a.Partition)
	case a.StartOffset != nil && a.ProducerID != nil:
		return invalidf("give --start-offset or --producer-id, not both: either names the transaction to abort")
	case a.StartOffset != nil && *a.StartOffset < 0:
		return invalidf("--start-offset %d: offsets start at 0", *a.StartOffset)
	case a.ProducerID != nil && *a.ProducerID < 0:
		return invalidf("--producer-id %d: want a producer ID, a number from 0 (`chronik topic producers %s` shows them)", *a.ProducerID, a.Topic)
	case a.ProducerEpoch != nil && a.ProducerID == nil:
		return invalidf("--producer-epoch goes with --producer-id: with --start-offset the marker has the epoch of the producer whose transaction began there")
	case a.ProducerEpoch != nil && *a.ProducerEpoch < 0:
		return invalidf("--producer-epoch %d: epochs start at 0", *a.ProducerEpoch)
	}
	return nil
}

// where names the partition in messages.
func (a TxnAbort) where() string {
	return fmt.Sprintf("partition %d of topic %q", *a.Partition, a.Topic)
}

// AbortedTransaction is the result of `transaction abort`: the abort
// marker written and what it ended.
type AbortedTransaction struct {
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	ProducerID    int64  `json:"producer_id"`
	ProducerEpoch int16  `json:"producer_epoch"` // the marker's
	// TxnStartOffset is the first offset of the transaction the marker
	// aborted; null when the partition showed no open transaction of the
	// producer.
	TxnStartOffset *int64 `json:"txn_start_offset"`
	Outcome        string `json:"outcome"` // OutcomeAborted or OutcomeNoneOpen
}

// AbortTransaction ends an open transaction on one partition, like
// kafka-transactions.sh abort: it asks the partition's leader for its
// producers (DescribeProducers), picks the producer a names, and writes
// that producer's abort marker on the partition (WriteTxnMarkers, to its
// leader). A transaction a does not name, or a partition that cannot
// be asked or refuses the marker, is an error.
func (c *Client) AbortTransaction(ctx context.Context, a TxnAbort) (*AbortedTransaction, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if err := c.require("abort a transaction", keyDescribeProducers, keyWriteTxnMarkers); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	producers, err := c.partitionProducers(ctx, a)
	if err != nil {
		return nil, err
	}
	t, err := a.target(producers)
	if err != nil {
		return nil, err
	}
	if err := c.writeAbortMarker(ctx, a, t); err != nil {
		return nil, err
	}
	out := &AbortedTransaction{
		Topic: a.Topic, Partition: *a.Partition, ProducerID: t.producerID, ProducerEpoch: t.epoch,
		TxnStartOffset: t.start, Outcome: OutcomeAborted,
	}
	if t.start == nil {
		out.Outcome = OutcomeNoneOpen
	}
	return out, nil
}

// partitionProducers returns the producers the leader of a's partition
// knows (DescribeProducers).
func (c *Client) partitionProducers(ctx context.Context, a TxnAbort) (kadm.DescribedProducers, error) {
	td, err := c.topic(ctx, a.Topic)
	if err != nil {
		return nil, producersErr(err, a.Topic)
	}
	p := *a.Partition
	if err := hasPartition(td, "--partition", p); err != nil {
		return nil, err
	}
	answers, err := c.describeProducers(ctx, a.Topic, []int32{p})
	if err != nil {
		return nil, err
	}
	if err := answers[p].err; err != nil {
		return nil, c.partitionErr(err, "read the producers of", a)
	}
	return answers[p].producers, nil
}

// abortTarget is the marker `transaction abort` writes.
type abortTarget struct {
	producerID       int64
	epoch            int16
	coordinatorEpoch int32 // as DescribeProducers reports it (brokers do not check it)
	start            *int64
}

// target picks, among the producers the partition's leader knows, the
// one whose transaction a names, and the marker's epoch.
func (a TxnAbort) target(producers kadm.DescribedProducers) (abortTarget, error) {
	if a.StartOffset != nil {
		for _, d := range producers.Sorted() {
			if d.CurrentTxnStartOffset == *a.StartOffset {
				return abortTarget{d.ProducerID, d.ProducerEpoch, d.CoordinatorEpoch, ptr(d.CurrentTxnStartOffset)}, nil
			}
		}
		return abortTarget{}, a.noneOpen(producers, fmt.Sprintf("no transaction open on %s began at offset %d", a.where(), *a.StartOffset))
	}
	id := *a.ProducerID
	d, known := producers[id]
	switch {
	case (!known || d.CurrentTxnStartOffset < 0) && a.ProducerEpoch == nil:
		return abortTarget{}, a.noneOpen(producers, fmt.Sprintf("producer %d has no transaction open on %s", id, a.where()))
	case !known:
		return abortTarget{producerID: id, epoch: *a.ProducerEpoch, coordinatorEpoch: -1}, nil
	case d.CurrentTxnStartOffset < 0:
		return abortTarget{producerID: id, epoch: *a.ProducerEpoch, coordinatorEpoch: d.CoordinatorEpoch}, nil
	case a.ProducerEpoch == nil:
		return abortTarget{id, d.ProducerEpoch, d.CoordinatorEpoch, ptr(d.CurrentTxnStartOffset)}, nil
	case *a.ProducerEpoch < d.ProducerEpoch:
		return abortTarget{}, invalidf("--producer-epoch %d is older than epoch %d of producer %d, whose transaction on %s began at offset %d: "+
			"a marker at an older epoch does not end it — leave out --producer-epoch to use %d",
			*a.ProducerEpoch, d.ProducerEpoch, id, a.where(), d.CurrentTxnStartOffset, d.ProducerEpoch)
	}
	return abortTarget{id, *a.ProducerEpoch, d.CoordinatorEpoch, ptr(d.CurrentTxnStartOffset)}, nil
}

// noneOpen explains that no open transaction is the one asked for,
// listing those that are open on the partition by start offset.
func (a TxnAbort) noneOpen(producers kadm.DescribedProducers, what string) error {
	var starts []kadm.DescribedProducer
	for _, d := range producers {
		if d.CurrentTxnStartOffset >= 0 {
			starts = append(starts, d)
		}
	}
	slices.SortFunc(starts, func(x, y kadm.DescribedProducer) int {
		return cmp.Compare(x.CurrentTxnStartOffset, y.CurrentTxnStartOffset)
	})
	open := make([]string, len(starts))
	for i, d := range starts {
		open[i] = fmt.Sprintf("%d (producer %d)", d.CurrentTxnStartOffset, d.ProducerID)
	}
	if len(open) == 0 {
		return invalidf("%s: no transaction is open there, so there is nothing to abort", what)
	}
	return invalidf("%s: the transactions open there began at offsets %s — `chronik topic producers %s --partitions %d` shows them",
		what, strings.Join(open, ", "), a.Topic, *a.Partition)
}

// writeAbortMarker writes t's abort marker on a's partition
// (WriteTxnMarkers, which kadm sends to the partition's leader).
func (c *Client) writeAbortMarker(ctx context.Context, a TxnAbort, t abortTarget) error {
	p := *a.Partition
	resp, err := c.adm.WriteTxnMarkers(ctx, kadm.TxnMarkers{
		ProducerID: t.producerID, ProducerEpoch: t.epoch, CoordinatorEpoch: t.coordinatorEpoch,
		Topics: kadm.TopicsSet{a.Topic: setOf([]int32{p})},
	})
	if err == nil {
		r, ok := resp[t.producerID].Topics[a.Topic].Partitions[p]
		if !ok {
			r.Err = errors.New("no answer from the partition's leader")
		}
		err = r.Err
	}
	if err != nil {
		return c.partitionErr(firstShardErr(err), fmt.Sprintf("write the abort marker of producer %d (epoch %d) on", t.producerID, t.epoch), a)
	}
	return nil
}

// partitionErr explains why the partition's leader could not do what
// (a verb phrase followed by the partition).
func (c *Client) partitionErr(err error, what string, a TxnAbort) error {
	if ce := connError(err, c.brokers, c.timeout); ce != nil {
		return ce
	}
	hint := ""
	switch {
	case errors.Is(err, kerr.ClusterAuthorizationFailed):
		return failf(ErrRejected, err,
			"the broker refused to %s %s (CLUSTER_AUTHORIZATION_FAILED): writing transaction markers needs CLUSTER_ACTION on the cluster — "+
				"grant it with `chronik acl create --cluster --operation cluster-action --principal User:NAME`, or connect as another user (--sasl-user)",
			what, a.where())
	case errors.Is(err, kerr.NotLeaderForPartition), errors.Is(err, kerr.LeaderNotAvailable),
		errors.Is(err, kerr.NotEnoughReplicas), errors.Is(err, kerr.RequestTimedOut):
		hint = " — the partition's leader is changing or busy; run the command again in a few seconds"
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		hint = fmt.Sprintf(" — was the topic deleted? `chronik topic describe %s` shows its partitions", a.Topic)
	}
	return failf(ErrRejected, err, "cannot %s %s: %v%s", what, a.where(), err, hint)
}

// WriteTable implements Report: one row, then a line saying what the
// marker did.
func (r *AbortedTransaction) WriteTable(w io.Writer) error {
	return sections(w,
		func(w io.Writer) error {
			t := newTable(w, "TOPIC", "PARTITION", "PRODUCER-ID", "EPOCH", "TXN-START", "OUTCOME")
			t.row(r.Topic, itoa(r.Partition), itoa(r.ProducerID), itoa(r.ProducerEpoch), optInt(r.TxnStartOffset),
				strings.ReplaceAll(r.Outcome, "_", " "))
			return t.flush()
		},
		func(w io.Writer) error {
			_, err := fmt.Fprintln(w, r.note())
			return err
		},
	)
}

// note says what the marker did to the partition.
func (r *AbortedTransaction) note() string {
	if r.TxnStartOffset == nil {
		return fmt.Sprintf("producer %d had no transaction open on partition %d of topic %q: a marker then appends nothing, so nothing changed",
			r.ProducerID, r.Partition, r.Topic)
	}
	return fmt.Sprintf("the partition's last stable offset is no longer held at %d: read_committed consumers skip the aborted records "+
		"and read on, up to the next open transaction if any (`chronik topic producers %s --partitions %d` shows them)",
		*r.TxnStartOffset, r.Topic, r.Partition)
}

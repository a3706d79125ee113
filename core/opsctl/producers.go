package opsctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// keyDescribeProducers is the API `topic producers` needs (KIP-664).
const keyDescribeProducers = 61

// ProducerState is one idempotent producer a partition's leader knows.
type ProducerState struct {
	ProducerID int64 `json:"producer_id"`
	Epoch      int16 `json:"epoch"`
	// LastSequence is the sequence number of the producer's last record;
	// -1 when the broker keeps none.
	LastSequence int32 `json:"last_sequence"`
	// LastWrite is the time of the producer's last append, UTC; null when
	// the broker does not know it.
	LastWrite *time.Time `json:"last_write"`
	// TxnStartOffset is the first offset of the producer's open
	// transaction on the partition; null when it has none open. The last
	// stable offset (what read_committed consumers see up to) cannot pass
	// it, so an old one points at a hanging transaction.
	TxnStartOffset *int64 `json:"txn_start_offset"`
}

// PartitionProducers is one partition in `topic producers`.
type PartitionProducers struct {
	Partition int32           `json:"partition"`
	Producers []ProducerState `json:"producers"` // by producer ID
	Error     string          `json:"error,omitempty"`
}

// TopicProducers is the result of `topic producers`: the asked partitions
// (all by default), each with the producers that wrote to it recently.
type TopicProducers struct {
	Topic      string               `json:"topic"`
	Partitions []PartitionProducers `json:"partitions"` // by partition
}

// DescribeProducers lists the idempotent producers the leaders of a
// topic's partitions know (DescribeProducers): every partition when
// partitions is empty. A partition whose leader fails to answer is
// reported with its error; the others are still listed.
func (c *Client) DescribeProducers(ctx context.Context, topic string, partitions []int32) (*TopicProducers, error) {
	if err := checkName("topic", topic); err != nil {
		return nil, err
	}
	for _, p := range partitions {
		if p < 0 {
			return nil, invalidf("--partitions %d: partition numbers start at 0", p)
		}
	}
	if err := c.require("describe producers", keyDescribeProducers); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	td, err := c.topic(ctx, topic)
	if err != nil {
		return nil, producersErr(err, topic)
	}
	parts, err := pickPartitions(td, partitions)
	if err != nil {
		return nil, err
	}
	answers, err := c.describeProducers(ctx, topic, parts)
	if err != nil {
		return nil, err
	}
	out := &TopicProducers{Topic: topic, Partitions: []PartitionProducers{}}
	for _, p := range parts {
		pp := PartitionProducers{Partition: p, Producers: []ProducerState{}}
		a := answers[p]
		if a.err != nil {
			pp.Error = a.err.Error()
		}
		for _, d := range a.producers.Sorted() {
			pp.Producers = append(pp.Producers, producerState(d))
		}
		out.Partitions = append(out.Partitions, pp)
	}
	return out, nil
}

// producerState is a producer as `topic producers` shows it.
func producerState(d kadm.DescribedProducer) ProducerState {
	ps := ProducerState{ProducerID: d.ProducerID, Epoch: d.ProducerEpoch, LastSequence: d.LastSequence}
	if d.LastTimestamp >= 0 {
		ps.LastWrite = ptr(time.UnixMilli(d.LastTimestamp).UTC())
	}
	if d.CurrentTxnStartOffset >= 0 {
		ps.TxnStartOffset = ptr(d.CurrentTxnStartOffset)
	}
	return ps
}

// producersAnswer is what one partition's leader said about its
// producers: the producers it knows, or why it told none.
type producersAnswer struct {
	producers kadm.DescribedProducers
	err       error
}

// describeProducers asks the leaders of partitions parts of topic for the
// idempotent producers they know (DescribeProducers). A partition whose
// leader did not answer gets the error of the request that went to it;
// the call itself fails only when no answer came at all, or the topic was
// refused (explained by producersErr).
func (c *Client) describeProducers(ctx context.Context, topic string, parts []int32) (map[int32]producersAnswer, error) {
	described, err := c.adm.DescribeProducers(ctx, kadm.TopicsSet{topic: setOf(parts)})
	if err != nil && !isShardErr(err) {
		return nil, producersErr(c.fail(err, "", subject{"topic", topic}), topic)
	}
	// A leader that did not answer leaves its partitions out of described;
	// they get the error of the request that went to it.
	failed := map[int32]error{}
	var se *kadm.ShardErrors
	if errors.As(err, &se) {
		for _, e := range se.Errs {
			req, ok := e.Req.(*kmsg.DescribeProducersRequest)
			if !ok {
				continue
			}
			for _, rt := range req.Topics {
				for _, p := range rt.Partitions {
					failed[p] = fmt.Errorf("broker %d: %w", e.Broker.NodeID, e.Err)
				}
			}
		}
	}
	dps := described[topic].Partitions
	out := make(map[int32]producersAnswer, len(parts))
	for _, p := range parts {
		dp, ok := dps[p]
		switch {
		case !ok && failed[p] != nil:
			out[p] = producersAnswer{err: failed[p]}
		case !ok:
			out[p] = producersAnswer{err: errors.New("no answer from the partition's leader")}
		case dp.Err != nil && dp.ErrMessage != "":
			out[p] = producersAnswer{producers: dp.ActiveProducers, err: fmt.Errorf("%w: %s", dp.Err, dp.ErrMessage)}
		case dp.Err != nil:
			out[p] = producersAnswer{producers: dp.ActiveProducers, err: dp.Err}
		default:
			out[p] = producersAnswer{producers: dp.ActiveProducers}
		}
	}
	return out, nil
}

// producersErr explains a refusal to show a topic's producers: Kafka
// allows it to principals with READ on the topic.
func producersErr(err error, topic string) error {
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		return err
	}
	return failf(ErrRejected, err,
		"the broker refused to show the producers of topic %q (TOPIC_AUTHORIZATION_FAILED): the principal you connect as needs READ on the topic — "+
			"grant it with `chronik acl create --operation read --topic %s --principal User:NAME`, or connect as another user (--sasl-user)",
		topic, topic)
}

// setOf turns partition numbers into a kadm partition set.
func setOf(parts []int32) map[int32]struct{} {
	m := make(map[int32]struct{}, len(parts))
	for _, p := range parts {
		m[p] = struct{}{}
	}
	return m
}

// WriteTable implements Report: one row per producer, one per partition
// with an error, and a line saying so when no partition has a producer.
func (r *TopicProducers) WriteTable(w io.Writer) error {
	withErr := slices.ContainsFunc(r.Partitions, func(p PartitionProducers) bool { return p.Error != "" })
	var quiet []int32 // partitions that answered with no producer
	producers := 0
	for _, p := range r.Partitions {
		producers += len(p.Producers)
		if p.Error == "" && len(p.Producers) == 0 {
			quiet = append(quiet, p.Partition)
		}
	}
	return sections(w,
		func(w io.Writer) error {
			if producers == 0 && !withErr {
				return nil
			}
			header := []string{"PARTITION", "PRODUCER-ID", "EPOCH", "LAST-SEQUENCE", "LAST-WRITE", "TXN-START"}
			if withErr {
				header = append(header, "ERROR")
			}
			t := newTable(w, header...)
			for _, p := range r.Partitions {
				if p.Error != "" {
					t.row(itoa(p.Partition), "-", "-", "-", "-", "-", p.Error)
				}
				for _, s := range p.Producers {
					seq := "-"
					if s.LastSequence >= 0 {
						seq = itoa(s.LastSequence)
					}
					last := "-"
					if s.LastWrite != nil {
						last = s.LastWrite.UTC().Format(time.RFC3339)
					}
					row := []string{itoa(p.Partition), itoa(s.ProducerID), itoa(s.Epoch), seq, last, optInt(s.TxnStartOffset)}
					if withErr {
						row = append(row, "")
					}
					t.row(row...)
				}
			}
			return t.flush()
		},
		func(w io.Writer) error {
			if producers > 0 || len(quiet) == 0 {
				return nil
			}
			where := "partitions " + joinInts(quiet)
			if len(quiet) == 1 {
				where = "partition " + itoa(quiet[0])
			}
			others := ""
			if withErr {
				others = "; the partitions above returned an error"
			}
			_, err := fmt.Fprintf(w, "no producers: no idempotent producer wrote to topic %q on %s in the last day%s\n",
				r.Topic, where, others)
			return err
		},
	)
}

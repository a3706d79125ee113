package opsctl

import (
	"errors"
	"net"
	"reflect"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func TestTxnAbortValidate(t *testing.T) {
	p0, off, id, epoch := ptr[int32](0), ptr[int64](5), ptr[int64](1003), ptr[int16](2)
	tests := []struct {
		name string
		a    TxnAbort
		err  string
	}{
		{name: "by start offset", a: TxnAbort{Topic: "orders", Partition: p0, StartOffset: off}},
		{name: "by producer", a: TxnAbort{Topic: "orders", Partition: p0, ProducerID: id}},
		{name: "by producer and epoch", a: TxnAbort{Topic: "orders", Partition: p0, ProducerID: id, ProducerEpoch: epoch}},
		{name: "no topic", a: TxnAbort{Topic: " ", Partition: p0, StartOffset: off}, err: "--topic is required"},
		{name: "no partition", a: TxnAbort{Topic: "orders", StartOffset: off}, err: "--partition is required: the partition holding the transaction open (PARTITION in `chronik topic producers orders`)"},
		{name: "negative partition", a: TxnAbort{Topic: "orders", Partition: ptr[int32](-1), StartOffset: off}, err: "--partition -1: partition numbers start at 0"},
		{name: "neither", a: TxnAbort{Topic: "orders", Partition: p0}, err: "name the transaction to abort: --start-offset OFFSET"},
		{name: "both", a: TxnAbort{Topic: "orders", Partition: p0, StartOffset: off, ProducerID: id}, err: "give --start-offset or --producer-id, not both"},
		{name: "negative offset", a: TxnAbort{Topic: "orders", Partition: p0, StartOffset: ptr[int64](-1)}, err: "--start-offset -1: offsets start at 0"},
		{name: "negative producer", a: TxnAbort{Topic: "orders", Partition: p0, ProducerID: ptr[int64](-1)}, err: "--producer-id -1: want a producer ID"},
		{name: "epoch without producer", a: TxnAbort{Topic: "orders", Partition: p0, StartOffset: off, ProducerEpoch: epoch}, err: "--producer-epoch goes with --producer-id"},
		{name: "negative epoch", a: TxnAbort{Topic: "orders", Partition: p0, ProducerID: id, ProducerEpoch: ptr[int16](-1)}, err: "--producer-epoch -1: epochs start at 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.a.Validate(), tt.err, ErrInvalidInput)
		})
	}
}

// TestTxnAbortTarget checks which producer and epoch the marker gets, and
// the errors that list the partition's open transactions.
func TestTxnAbortTarget(t *testing.T) {
	producers := kadm.DescribedProducers{
		1000: {ProducerID: 1000, ProducerEpoch: 0, CoordinatorEpoch: -1, CurrentTxnStartOffset: -1}, // idempotent, no transaction
		1003: {ProducerID: 1003, ProducerEpoch: 2, CoordinatorEpoch: 7, CurrentTxnStartOffset: 5120},
		1004: {ProducerID: 1004, ProducerEpoch: 0, CoordinatorEpoch: 3, CurrentTxnStartOffset: 4000},
	}
	idle := kadm.DescribedProducers{1000: producers[1000]}
	at := func(o int64) TxnAbort { return TxnAbort{Topic: "orders", Partition: ptr[int32](1), StartOffset: &o} }
	by := func(id int64, epoch ...int16) TxnAbort {
		a := TxnAbort{Topic: "orders", Partition: ptr[int32](1), ProducerID: &id}
		if len(epoch) > 0 {
			a.ProducerEpoch = &epoch[0]
		}
		return a
	}
	tests := []struct {
		name      string
		a         TxnAbort
		producers kadm.DescribedProducers
		want      abortTarget
		err       string
	}{
		{name: "start offset", a: at(5120), producers: producers, want: abortTarget{1003, 2, 7, ptr[int64](5120)}},
		{name: "other start offset", a: at(4000), producers: producers, want: abortTarget{1004, 0, 3, ptr[int64](4000)}},
		{
			name: "no transaction began there", a: at(4001), producers: producers,
			err: `no transaction open on partition 1 of topic "orders" began at offset 4001: the transactions open there began at offsets 4000 (producer 1004), 5120 (producer 1003) — ` +
				"`chronik topic producers orders --partitions 1` shows them",
		},
		{
			name: "none open", a: at(0), producers: idle,
			err: `no transaction open on partition 1 of topic "orders" began at offset 0: no transaction is open there, so there is nothing to abort`,
		},
		{name: "none known", a: at(0), producers: nil, err: "no transaction is open there"},
		{name: "producer", a: by(1003), producers: producers, want: abortTarget{1003, 2, 7, ptr[int64](5120)}},
		{name: "producer at a newer epoch", a: by(1003, 3), producers: producers, want: abortTarget{1003, 3, 7, ptr[int64](5120)}},
		{
			name: "producer at an older epoch", a: by(1003, 1), producers: producers,
			err: "--producer-epoch 1 is older than epoch 2 of producer 1003, whose transaction on partition 1 of topic \"orders\" began at offset 5120: " +
				"a marker at an older epoch does not end it — leave out --producer-epoch to use 2",
		},
		{
			name: "producer without a transaction", a: by(1000), producers: producers,
			err: `producer 1000 has no transaction open on partition 1 of topic "orders": the transactions open there began at offsets 4000 (producer 1004), 5120 (producer 1003)`,
		},
		{name: "unknown producer", a: by(9), producers: idle, err: `producer 9 has no transaction open on partition 1 of topic "orders": no transaction is open there`},
		{name: "producer without a transaction, epoch given", a: by(1000, 4), producers: producers, want: abortTarget{1000, 4, -1, nil}},
		{name: "unknown producer, epoch given", a: by(9, 0), producers: producers, want: abortTarget{9, 0, -1, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.a.target(tt.producers)
			wantErr(t, err, tt.err, ErrInvalidInput)
			if tt.err == "" && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("target %+v (start %v), want %+v (start %v)", got, got.start, tt.want, tt.want.start)
			}
		})
	}
}

// TestTxnAbortPartitionErr checks the explanation of each way the
// partition's leader fails the abort; the cause stays reachable.
func TestTxnAbortPartitionErr(t *testing.T) {
	c := &Client{brokers: []string{"127.0.0.1:9092"}, timeout: DefaultTimeout}
	a := TxnAbort{Topic: "orders", Partition: ptr[int32](1), StartOffset: ptr[int64](5)}
	const what = "write the abort marker of producer 1003 (epoch 2) on"
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		err   error
		want  string
		class error
	}{
		{
			&kadm.AuthError{Err: kerr.ClusterAuthorizationFailed},
			`the broker refused to write the abort marker of producer 1003 (epoch 2) on partition 1 of topic "orders" (CLUSTER_AUTHORIZATION_FAILED): ` +
				"writing transaction markers needs CLUSTER_ACTION on the cluster — grant it with `chronik acl create --cluster --operation cluster-action --principal User:NAME`",
			ErrRejected,
		},
		{
			kerr.NotLeaderForPartition,
			`cannot write the abort marker of producer 1003 (epoch 2) on partition 1 of topic "orders": ` + kerr.NotLeaderForPartition.Error() +
				" — the partition's leader is changing or busy; run the command again in a few seconds",
			ErrRejected,
		},
		{kerr.UnknownTopicOrPartition, "— was the topic deleted? `chronik topic describe orders` shows its partitions", ErrRejected},
		{kerr.InvalidProducerEpoch, `on partition 1 of topic "orders": INVALID_PRODUCER_EPOCH`, ErrRejected},
		{errors.New("no answer from the partition's leader"), `on partition 1 of topic "orders": no answer from the partition's leader`, ErrRejected},
		{refused, "cannot reach broker", ErrUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			got := c.partitionErr(tt.err, what, a)
			wantErr(t, got, tt.want, tt.class)
			if !errors.Is(got, tt.err) {
				t.Fatalf("%v does not wrap %v", got, tt.err)
			}
		})
	}
}

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

func TestParseTxnFilter(t *testing.T) {
	tests := []struct {
		name        string
		states, ids []string
		pattern     string
		want        TxnFilter
		err         string
	}{
		{name: "none", want: TxnFilter{}},
		{
			name: "states in any case, Kafka's spelling, once", states: []string{"ongoing, PREPARECOMMIT", "Ongoing"},
			want: TxnFilter{States: []string{"Ongoing", "PrepareCommit"}},
		},
		{name: "unknown state", states: []string{"Ongoing,Open"}, err: `--state "Open": use Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort`},
		{name: "producer IDs", ids: []string{"7,1000", "7"}, want: TxnFilter{ProducerIDs: []int64{7, 1000}}},
		{name: "negative producer ID", ids: []string{"-1"}, err: `--producer-id "-1": want a producer ID`},
		{name: "not a number", ids: []string{"abc"}, err: `--producer-id "abc"`},
		{name: "pattern", pattern: "pay-[0-9]+", want: TxnFilter{IDPattern: "pay-[0-9]+"}},
		{name: "bad pattern", pattern: "pay-(", err: `--pattern "pay-(" is not a regular expression`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTxnFilter(tt.states, tt.ids, tt.pattern)
			wantErr(t, err, tt.err, ErrInvalidInput)
			if tt.err != "" {
				return
			}
			re := got.idRegexp
			got.idRegexp = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			// The pattern must match whole IDs, as the broker's does.
			if tt.pattern != "" && (re == nil || !re.MatchString("pay-12") || re.MatchString("xpay-12") || re.MatchString("pay-12x")) {
				t.Fatalf("pattern %q matches only part of an ID", tt.pattern)
			}
		})
	}
}

// TestTxnErr checks the explanation of each way describing a
// transactional ID fails; the kerr cause stays reachable.
func TestTxnErr(t *testing.T) {
	c := &Client{brokers: []string{"127.0.0.1:9092"}, timeout: DefaultTimeout}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		err   error
		want  string
		class error
	}{
		{kerr.TransactionalIDNotFound, `transactional ID "p-1" does not exist (TRANSACTIONAL_ID_NOT_FOUND)`, ErrRejected},
		{&kadm.AuthError{Err: kerr.TransactionalIDAuthorizationFailed}, "`chronik acl create --operation describe --transactional-id p-1 --principal User:NAME`", ErrRejected},
		{kerr.CoordinatorLoadInProgress, "transaction coordinator is not ready; retry", ErrRejected},
		{kerr.UnknownServerError, `transactional ID "p-1": UNKNOWN_SERVER_ERROR`, ErrRejected},
		{refused, "cannot reach broker", ErrUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			got := c.txnErr(tt.err, "p-1")
			wantErr(t, got, tt.want, tt.class)
			if !errors.Is(got, tt.err) && !errors.Is(got, syscall.ECONNREFUSED) {
				t.Fatalf("%v does not wrap %v", got, tt.err)
			}
		})
	}
}

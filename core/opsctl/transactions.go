package opsctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The APIs `transaction list` and `transaction describe` need (KIP-664).
const (
	keyDescribeTransactions = 65
	keyListTransactions     = 66
)

// txnStates are Kafka's names of a transactional ID's states, in the
// order a transaction goes through them.
var txnStates = []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort"}

// openTxnState reports whether a transaction in state is still open:
// begun and not yet completed with its markers.
func openTxnState(state string) bool {
	return state == "Ongoing" || state == "PrepareCommit" || state == "PrepareAbort"
}

// TxnFilter selects the transactional IDs `transaction list` shows; empty
// fields select all.
type TxnFilter struct {
	States      []string // Kafka's names (txnStates)
	ProducerIDs []int64
	// IDPattern is a regular expression (RE2) a transactional ID must
	// match whole; "" matches all.
	IDPattern string
	idRegexp  *regexp.Regexp
}

// ParseTxnFilter checks --state, --producer-id (each may be a
// comma-separated list) and --pattern values before any request. States
// are matched without regard to case and returned with Kafka's spelling.
func ParseTxnFilter(states, producerIDs []string, pattern string) (TxnFilter, error) {
	f := TxnFilter{IDPattern: pattern}
	if pattern != "" {
		re, err := regexp.Compile("^(?:" + pattern + ")$")
		if err != nil {
			return TxnFilter{}, invalidf("--pattern %q is not a regular expression (RE2 syntax): %v", pattern, err)
		}
		f.idRegexp = re
	}
	for _, s := range splitList(states) {
		i := slices.IndexFunc(txnStates, func(v string) bool { return strings.EqualFold(v, s) })
		if i < 0 {
			return TxnFilter{}, invalidf("--state %q: use %s", s, strings.Join(txnStates, ", "))
		}
		if !slices.Contains(f.States, txnStates[i]) {
			f.States = append(f.States, txnStates[i])
		}
	}
	for _, s := range splitList(producerIDs) {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id < 0 {
			return TxnFilter{}, invalidf("--producer-id %q: want a producer ID, a number from 0 (`chronik topic producers TOPIC` shows them)", s)
		}
		if !slices.Contains(f.ProducerIDs, id) {
			f.ProducerIDs = append(f.ProducerIDs, id)
		}
	}
	return f, nil
}

// splitList splits repeatable, comma-separated flag values, dropping
// blanks.
func splitList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for part := range strings.SplitSeq(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// TransactionSummary is one row of `transaction list`.
type TransactionSummary struct {
	TransactionalID string `json:"transactional_id"`
	State           string `json:"state"`
	ProducerID      int64  `json:"producer_id"`
	Coordinator     int32  `json:"coordinator"` // the broker that answered for the ID
}

// TransactionList is the result of `transaction list`, sorted by
// transactional ID.
type TransactionList struct {
	Transactions []TransactionSummary `json:"transactions"`
	// Error says which brokers did not answer, so that the list may miss
	// the transactional IDs they coordinate.
	Error string `json:"error,omitempty"`
	// Filter is what was asked for, named in the line saying none matched.
	Filter TxnFilter `json:"-"`
}

// ListTransactions lists the transactional IDs the cluster's transaction
// coordinators know (ListTransactions, asked of every broker), with
// their state and producer ID. A broker that fails to answer is named in
// the list's Error; the others' IDs are still listed.
func (c *Client) ListTransactions(ctx context.Context, f TxnFilter) (*TransactionList, error) {
	if err := c.require("list transactions", keyListTransactions); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	// Brokers serving ListTransactions v2 filter by the pattern (KIP-1152);
	// the listing is filtered again below for those that do not.
	listed, err := c.adm.ListTransactionsByTxPattern(ctx, f.ProducerIDs, f.States, f.IDPattern)
	out := &TransactionList{Transactions: []TransactionSummary{}, Filter: f}
	var se *kadm.ShardErrors
	switch {
	case err == nil:
	case errors.As(err, &se) && !se.AllFailed:
		var msgs []string
		for _, e := range se.Errs {
			msgs = append(msgs, fmt.Sprintf("broker %d: %v", e.Broker.NodeID, e.Err))
		}
		out.Error = strings.Join(msgs, "; ")
	default:
		return nil, c.explain(listTxnErr(err))
	}
	for _, l := range listed.Sorted() {
		if f.idRegexp != nil && !f.idRegexp.MatchString(l.TxnID) {
			continue
		}
		out.Transactions = append(out.Transactions, TransactionSummary{
			TransactionalID: l.TxnID, State: l.State, ProducerID: l.ProducerID, Coordinator: l.Coordinator,
		})
	}
	return out, nil
}

// listTxnErr unwraps the error of a listing every broker failed: one
// broker's error (all are usually the same) explains it best.
func listTxnErr(err error) error {
	first := firstShardErr(err)
	if errors.Is(first, kerr.CoordinatorLoadInProgress) {
		return failf(ErrRejected, first, "cannot list transactions: %v — the transaction coordinators are still loading; retry in a few seconds", first)
	}
	return first
}

// WriteTable implements Report: one row per transactional ID, a line
// saying so when there are none, and a warning about brokers that did
// not answer.
func (r *TransactionList) WriteTable(w io.Writer) error {
	return sections(w,
		func(w io.Writer) error {
			if len(r.Transactions) == 0 {
				_, err := fmt.Fprintln(w, r.noneLine())
				return err
			}
			t := newTable(w, "TRANSACTIONAL-ID", "STATE", "PRODUCER-ID", "COORDINATOR")
			for _, s := range r.Transactions {
				t.row(s.TransactionalID, s.State, itoa(s.ProducerID), itoa(s.Coordinator))
			}
			return t.flush()
		},
		func(w io.Writer) error {
			if r.Error == "" {
				return nil
			}
			_, err := fmt.Fprintf(w, "incomplete: brokers did not answer, so the transactional IDs they coordinate are missing: %s\n", r.Error)
			return err
		},
	)
}

// noneLine says that nothing was listed, and with which filter.
func (r *TransactionList) noneLine() string {
	var by []string
	if len(r.Filter.States) > 0 {
		by = append(by, "state "+strings.Join(r.Filter.States, ","))
	}
	if len(r.Filter.ProducerIDs) > 0 {
		ids := make([]string, len(r.Filter.ProducerIDs))
		for i, id := range r.Filter.ProducerIDs {
			ids[i] = itoa(id)
		}
		by = append(by, "producer ID "+strings.Join(ids, ","))
	}
	if len(by) == 0 && r.Filter.IDPattern == "" {
		return "no transactions: the cluster's transaction coordinators know no transactional ID"
	}
	line := "no transactions: no transactional ID"
	if len(by) > 0 {
		line += " with " + strings.Join(by, " and ")
	}
	if r.Filter.IDPattern != "" {
		line += " matching " + strconv.Quote(r.Filter.IDPattern)
	}
	return line
}

// TransactionDescription is one transactional ID in `transaction describe`.
type TransactionDescription struct {
	TransactionalID string `json:"transactional_id"`
	State           string `json:"state"`
	ProducerID      int64  `json:"producer_id"`
	ProducerEpoch   int16  `json:"producer_epoch"`
	// TimeoutMs is the producer's transaction.timeout.ms: the coordinator
	// aborts a transaction open longer.
	TimeoutMs int32 `json:"timeout_ms"`
	// StartTime is when the open (else the last) transaction began, UTC;
	// null when the ID never began one.
	StartTime *time.Time `json:"start_time"`
	// OpenForMs is how long the transaction has been open when it is
	// (Ongoing, PrepareCommit, PrepareAbort); null otherwise.
	OpenForMs *int64 `json:"open_for_ms"`
	// Partitions are those the open transaction wrote to (while ending,
	// those still without their marker), by topic.
	Partitions  []TopicPartitions `json:"partitions"`
	Coordinator int32             `json:"coordinator"`
}

// TransactionDescriptions is the result of `transaction describe`, in the
// order the IDs were given.
type TransactionDescriptions struct {
	Transactions []TransactionDescription `json:"transactions"`
}

// DescribeTransactions describes transactional IDs (DescribeTransactions,
// asked of each ID's coordinator). It fails if any ID cannot be
// described, naming each such ID and why.
func (c *Client) DescribeTransactions(ctx context.Context, ids []string) (*TransactionDescriptions, error) {
	if len(ids) == 0 {
		return nil, invalidf("give a transactional ID to describe")
	}
	var uniq []string
	for _, id := range ids {
		if err := checkName("transactional ID", id); err != nil {
			return nil, err
		}
		if !slices.Contains(uniq, id) {
			uniq = append(uniq, id)
		}
	}
	if err := c.require("describe transactions", keyDescribeTransactions, keyFindCoordinator); err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	now := time.Now()

	described, err := c.adm.DescribeTransactions(ctx, uniq...)
	var ae *kadm.AuthError
	if errors.As(err, &ae) && len(uniq) > 1 {
		// A refusal of one ID fails the whole answer of its coordinator
		// (kadm); asking for each ID alone tells which were refused.
		described, err = c.describeEach(ctx, uniq)
	}
	failed := map[string]error{}
	var se *kadm.ShardErrors
	switch {
	case err == nil:
	case errors.As(err, &ae):
		failed[uniq[0]] = ae
	case errors.As(err, &se):
		for _, e := range se.Errs {
			req, ok := e.Req.(*kmsg.DescribeTransactionsRequest)
			if !ok {
				continue
			}
			for _, id := range req.TransactionalIDs {
				failed[id] = e.Err
			}
		}
	default:
		return nil, c.explain(err)
	}

	out := &TransactionDescriptions{Transactions: []TransactionDescription{}}
	var errs []error
	for _, id := range uniq {
		d, ok := described[id]
		switch {
		case failed[id] != nil:
			errs = append(errs, c.txnErr(failed[id], id))
			continue
		case !ok:
			errs = append(errs, c.txnErr(kerr.TransactionalIDNotFound, id))
			continue
		case d.Err != nil:
			errs = append(errs, c.txnErr(d.Err, id))
			continue
		}
		td := TransactionDescription{
			TransactionalID: id, State: d.State, ProducerID: d.ProducerID, ProducerEpoch: d.ProducerEpoch,
			TimeoutMs: d.TimeoutMillis, Coordinator: d.Coordinator, Partitions: []TopicPartitions{},
		}
		if d.StartTimestamp >= 0 {
			start := time.UnixMilli(d.StartTimestamp).UTC()
			td.StartTime = &start
			if openTxnState(d.State) {
				td.OpenForMs = ptr(max(now.Sub(start), 0).Milliseconds())
			}
		}
		for _, tp := range d.Topics.Sorted() {
			td.Partitions = append(td.Partitions, TopicPartitions{Topic: tp.Topic, Partitions: nonNil(tp.Partitions)})
		}
		out.Transactions = append(out.Transactions, td)
	}
	switch len(errs) {
	case 0:
		return out, nil
	case 1:
		return nil, errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return nil, &opError{
		msg:  fmt.Sprintf("cannot describe %d of the %d transactional IDs:\n%s", len(errs), len(uniq), strings.Join(msgs, "\n")),
		errs: errs,
	}
}

// describeEach describes the IDs one request at a time, keeping each
// one's refusal as its own error.
func (c *Client) describeEach(ctx context.Context, ids []string) (kadm.DescribedTransactions, error) {
	all := kadm.DescribedTransactions{}
	for _, id := range ids {
		d, err := c.adm.DescribeTransactions(ctx, id)
		var ae *kadm.AuthError
		switch {
		case errors.As(err, &ae):
			all[id] = kadm.DescribedTransaction{TxnID: id, Err: ae.Err}
		case err != nil:
			return nil, err
		default:
			for k, v := range d {
				all[k] = v
			}
		}
	}
	return all, nil
}

// txnErr explains why a transactional ID could not be described.
func (c *Client) txnErr(err error, id string) error {
	if ce := connError(err, c.brokers, c.timeout); ce != nil {
		return ce
	}
	s := subject{"transactional ID", id}
	switch {
	case errors.Is(err, kerr.TransactionalIDNotFound):
		return failf(ErrRejected, err,
			"%s does not exist (TRANSACTIONAL_ID_NOT_FOUND): no producer with this transactional.id has started on the cluster — check the spelling; `chronik transaction list` shows the IDs the cluster knows", s)
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		return failf(ErrRejected, err,
			"the broker refused to describe %s (TRANSACTIONAL_ID_AUTHORIZATION_FAILED): the principal you connect as needs DESCRIBE on the transactional ID — "+
				"grant it with `chronik acl create --operation describe --transactional-id %s --principal User:NAME`, or connect as another user (--sasl-user)",
			s, id)
	case errors.Is(err, kerr.CoordinatorNotAvailable), errors.Is(err, kerr.NotCoordinator),
		errors.Is(err, kerr.CoordinatorLoadInProgress):
		return failf(ErrRejected, err, "%s: %v — its transaction coordinator is not ready; retry in a few seconds", s, err)
	}
	return kafkaError(err, "", s)
}

// WriteTable implements Report: one block per transactional ID.
func (r *TransactionDescriptions) WriteTable(w io.Writer) error {
	parts := make([]func(io.Writer) error, len(r.Transactions))
	for i, d := range r.Transactions {
		parts[i] = func(w io.Writer) error {
			t := newTable(w)
			t.row("TRANSACTIONAL-ID", d.TransactionalID)
			t.row("STATE", d.State)
			t.row("PRODUCER-ID", itoa(d.ProducerID))
			t.row("PRODUCER-EPOCH", itoa(d.ProducerEpoch))
			t.row("COORDINATOR", itoa(d.Coordinator))
			t.row("TIMEOUT", (time.Duration(d.TimeoutMs) * time.Millisecond).String())
			started := "-"
			if d.StartTime != nil {
				started = d.StartTime.UTC().Format(time.RFC3339)
				if d.OpenForMs != nil {
					started += " (open for " + (time.Duration(*d.OpenForMs) * time.Millisecond).Round(time.Second).String() + ")"
				}
			}
			t.row("STARTED", started)
			var parts []string
			for _, tp := range d.Partitions {
				parts = append(parts, tp.Topic+":"+joinInts(tp.Partitions))
			}
			t.row("PARTITIONS", strings.Join(parts, " "))
			return t.flush()
		}
	}
	return sections(w, parts...)
}

package opsctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Error classes. Every error this package returns for a cause it
// understands matches one of these with errors.Is; the underlying kerr or
// net error matches too. The message itself is written for the operator
// (what went wrong and what to do), not prefixed with the class.
var (
	// ErrInvalidInput is a bad flag or argument, found before any request.
	ErrInvalidInput = errors.New("opsctl: invalid input")
	// ErrUnreachable means no broker of --brokers answered.
	ErrUnreachable = errors.New("opsctl: cannot reach the cluster")
	// ErrUnsupported means the broker does not serve an API the command needs.
	ErrUnsupported = errors.New("opsctl: API not served by the broker")
	// ErrGroupActive means a group has members, so its offsets cannot be reset.
	ErrGroupActive = errors.New("opsctl: group has active members")
	// ErrNotConfirmed means a destructive command was not confirmed.
	ErrNotConfirmed = errors.New("opsctl: not confirmed")
	// ErrRejected is a request the broker refused; the kerr error is wrapped too.
	ErrRejected = errors.New("opsctl: rejected by the broker")
)

// opError is an error with a message for people and the errors it stands
// for: a class above and usually the cause (a kerr or net error).
type opError struct {
	msg  string
	errs []error
}

func (e *opError) Error() string   { return e.msg }
func (e *opError) Unwrap() []error { return e.errs }

// failf returns an error of class whose message is the formatted text;
// cause (may be nil) stays reachable through errors.Is and errors.As.
func failf(class, cause error, format string, args ...any) error {
	errs := []error{class}
	if cause != nil {
		errs = append(errs, cause)
	}
	return &opError{msg: fmt.Sprintf(format, args...), errs: errs}
}

// invalidf reports bad input.
func invalidf(format string, args ...any) error {
	return failf(ErrInvalidInput, nil, format, args...)
}

// connError turns a failure to talk to the cluster into an error that
// names the brokers and says what to check. It returns nil if err is not
// a connection problem.
func connError(err error, brokers []string, timeout time.Duration) error {
	seeds := strings.Join(brokers, ",")
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		return failf(ErrUnreachable, err, "cannot reach broker %s: host %q not found — check the host name in --brokers", seeds, dnsErr.Name)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		addr := seeds
		if opErr.Addr != nil {
			addr = opErr.Addr.String()
		}
		why := opErr.Err.Error()
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			why = "connection refused"
		case opErr.Timeout():
			why = fmt.Sprintf("no answer within %s (--timeout)", timeout)
		}
		return failf(ErrUnreachable, err, "cannot reach broker %s: %s — is `chronik serve` running there? use --brokers host:port to name a running broker", addr, why)
	case errors.Is(err, context.DeadlineExceeded):
		return failf(ErrUnreachable, err, "no answer from %s within %s — is it a Chronik Kafka listener (port 9092 by default)? raise --timeout if the cluster is busy", seeds, timeout)
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return failf(ErrUnreachable, err, "broker %s closed the connection (%v) — is it a Kafka listener (port 9092 by default, not the HTTP port 9644)?", seeds, err)
	case strings.Contains(err.Error(), "is your broker port correct"):
		// kgo detects an HTTP server answering on the Kafka port.
		return failf(ErrUnreachable, err, "%s answers HTTP, not Kafka — point --brokers at the Kafka port (9092 by default), not the HTTP port (9644)", seeds)
	}
	return nil
}

// subject names what a failed request was about, for kafkaError.
type subject struct {
	kind string // "topic" or "group"
	name string
}

func (s subject) String() string { return fmt.Sprintf("%s %q", s.kind, s.name) }

// kafkaError explains a Kafka error code returned for s; brokerMsg is the
// broker's own explanation (the response's ErrorMessage), often the most
// useful part, and may be empty.
func kafkaError(err error, brokerMsg string, s subject) error {
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		return fmt.Errorf("%s: %w", s, err)
	}
	detail := ke.Message
	if brokerMsg != "" {
		detail += ": " + brokerMsg
	}
	hint := ""
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return failf(ErrRejected, err, "%s does not exist — `chronik topic list` shows the topics", s)
	case errors.Is(err, kerr.TopicAlreadyExists):
		return failf(ErrRejected, err, "%s already exists — `chronik topic describe %s` shows it", s, s.name)
	case errors.Is(err, kerr.GroupIDNotFound):
		return failf(ErrRejected, err, "%s does not exist — `chronik group list` shows the groups", s)
	case errors.Is(err, kerr.NonEmptyGroup):
		return failf(ErrGroupActive, err, "%s still has active members — stop its consumers first (`chronik group describe %s` lists them)", s, s.name)
	case errors.Is(err, kerr.InvalidReplicationFactor):
		hint = " — lower --replication-factor to at most the number of brokers, or omit it for the broker default"
	case errors.Is(err, kerr.InvalidPartitions):
		hint = " — a topic's partition count can only grow: give a larger --partitions"
	case errors.Is(err, kerr.InvalidConfig):
		hint = " — `chronik topic describe TOPIC` lists every topic config with its default"
	case errors.Is(err, kerr.InvalidTopicException) && brokerMsg == "":
		hint = " — topic names use only ASCII letters, digits, '.', '_' and '-', at most 249 characters"
	case errors.Is(err, kerr.CoordinatorNotAvailable), errors.Is(err, kerr.NotCoordinator),
		errors.Is(err, kerr.CoordinatorLoadInProgress):
		hint = " — the group coordinator is not ready; retry in a few seconds"
	case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration),
		errors.Is(err, kerr.RebalanceInProgress):
		return failf(ErrGroupActive, err, "%s has active members (%s) — stop its consumers and retry", s, detail)
	case errors.Is(err, kerr.RequestTimedOut):
		hint = " — the cluster did not finish in time; check `chronik topic list` before retrying"
	}
	return failf(ErrRejected, err, "%s: %s%s", s, detail, hint)
}

package tiering

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// RetryPolicy says how a Store retries operations that failed with a
// Throttled or Transient error: exponential backoff with jitter, capped.
type RetryPolicy struct {
	// MaxAttempts counts every attempt, the first included; 1 turns retries
	// off. Default 5.
	MaxAttempts int
	// InitialBackoff is the wait before the first retry. Default 100ms.
	InitialBackoff time.Duration
	// MaxBackoff caps the wait between two attempts. Default 5s.
	MaxBackoff time.Duration
}

// DefaultRetryPolicy is the policy of a Store opened without WithRetry.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 5, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second}
}

// Validate checks the policy's fields.
func (p RetryPolicy) Validate() error {
	var errs []error
	if p.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("retry max attempts is %d: want at least 1 (1 disables retries)", p.MaxAttempts))
	}
	if p.InitialBackoff <= 0 {
		errs = append(errs, fmt.Errorf("retry initial backoff is %v: want a positive duration", p.InitialBackoff))
	}
	if p.MaxBackoff < p.InitialBackoff {
		errs = append(errs, fmt.Errorf("retry max backoff %v is below the initial backoff %v", p.MaxBackoff, p.InitialBackoff))
	}
	return errors.Join(errs...)
}

// Option configures a Store.
type Option func(*options)

type options struct {
	provider string
	prefix   string
	desc     string
	retry    RetryPolicy
	meter    metric.Meter
	logger   *slog.Logger
}

// WithProviderName sets the provider name used in errors and metric labels
// (Registry sets it; New defaults to "custom").
func WithProviderName(name string) Option { return func(o *options) { o.provider = name } }

// WithPrefix sets the key prefix ("a/b" or "a/b/") under which the Store
// keeps its objects. Registry sets it from the config's KeyPrefix.
func WithPrefix(prefix string) Option { return func(o *options) { o.prefix = prefix } }

// WithRetry replaces DefaultRetryPolicy.
func WithRetry(p RetryPolicy) Option { return func(o *options) { o.retry = p } }

// WithMeter records the Store's metrics on m. Without it the Store records
// nothing.
func WithMeter(m metric.Meter) Option { return func(o *options) { o.meter = m } }

// WithLogger logs retries (at debug level) to l. Without it the Store logs
// nothing.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

func withDescription(d string) Option { return func(o *options) { o.desc = d } }

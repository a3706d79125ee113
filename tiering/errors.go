package tiering

import (
	"context"
	"errors"
	"fmt"

	"github.com/chronik-go/chronik/tiering/driver"
)

// Sentinel errors. Every error a Store returns for a failed operation is an
// *Error; errors.Is finds the sentinel of its kind (none for an unknown kind)
// and, when the operation's context ended, context.Canceled or
// context.DeadlineExceeded.
var (
	ErrNotFound         = errors.New("tiering: object not found")
	ErrInvalidArgument  = errors.New("tiering: invalid argument")
	ErrPermissionDenied = errors.New("tiering: permission denied by the object store")
	ErrThrottled        = errors.New("tiering: throttled by the object store")
	ErrTransient        = errors.New("tiering: transient object store error")
	ErrClosed           = errors.New("tiering: store is closed")
)

// SkipAll is what a List callback returns to stop the listing; List then
// returns nil.
var SkipAll = errors.New("tiering: skip the rest of the listing") //nolint:revive,staticcheck // named like fs.SkipAll, which it mirrors

// Error is a failed Store operation, classified once at the driver boundary.
type Error struct {
	// Provider is the registered backend name ("s3", "local", …).
	Provider string
	// Op is the operation: put, get, stat, delete or list.
	Op string
	// Key is the object key (or list prefix) as the backend saw it, with the
	// Store's prefix.
	Key string
	// Kind is the driver's classification.
	Kind driver.Kind
	// Err is the driver's (or the reader's) error.
	Err error

	ctxErr error // the operation context's error, if it had ended
}

func (e *Error) Error() string {
	what := kindText(e.Kind)
	if e.ctxErr != nil && !errors.Is(e.Err, e.ctxErr) {
		what = e.ctxErr.Error()
	}
	return fmt.Sprintf("tiering: %s %s %q: %s: %v", e.Provider, e.Op, e.Key, what, e.Err)
}

// Unwrap exposes the kind's sentinel, the context's error and the driver's
// error to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 3)
	if s := sentinel(e.Kind); s != nil {
		errs = append(errs, s)
	}
	if e.ctxErr != nil {
		errs = append(errs, e.ctxErr)
	}
	return append(errs, e.Err)
}

// KindOf returns the kind of an error returned by a Store: the driver's
// classification, or Unknown for any other error.
func KindOf(err error) driver.Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return driver.Unknown
}

func sentinel(k driver.Kind) error {
	switch k {
	case driver.NotFound:
		return ErrNotFound
	case driver.InvalidArgument:
		return ErrInvalidArgument
	case driver.PermissionDenied:
		return ErrPermissionDenied
	case driver.Throttled:
		return ErrThrottled
	case driver.Transient:
		return ErrTransient
	default:
		return nil
	}
}

func kindText(k driver.Kind) string {
	switch k {
	case driver.NotFound:
		return "object not found"
	case driver.InvalidArgument:
		return "invalid argument"
	case driver.PermissionDenied:
		return "permission denied"
	case driver.Throttled:
		return "throttled"
	case driver.Transient:
		return "transient error"
	default:
		return "error"
	}
}

// outcome is a metric label: "ok", a kind name, or "canceled".
func outcome(ctx context.Context, err error) string {
	if err == nil {
		return "ok"
	}
	if ctx.Err() != nil {
		return "canceled"
	}
	return KindOf(err).String()
}

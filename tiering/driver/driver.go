// Package driver defines the small interface an object-store backend
// implements to plug into Chronik's tiered storage. It imports only the
// standard library so that a backend package depends on nothing of Chronik's
// but this contract (and tiering, to register itself).
//
// A backend implements Bucket over one bucket or container. Everything
// portable (key prefixes, retries with backoff, error wrapping, metrics) lives
// in tiering.Store, which wraps a Bucket; a driver does the one request (or
// the one multipart sequence) it is asked for and reports what went wrong
// through ErrorKind. The conformance suite in tiering/drivertest pins down
// every rule written here.
package driver

import (
	"context"
	"io"
	"time"
)

// Bucket is one bucket (S3, GCS), container (Azure) or directory (local) of
// objects. Every method may be called from many goroutines at once.
//
// Keys are non-empty UTF-8 strings of at most 1,024 bytes whose "/"-separated
// segments are never empty, "." or ".."; tiering.Store checks this before a
// driver sees a key. A key must not also be a "directory" of another key
// ("a/b" and "a/b/c"): filesystem backends cannot hold both.
type Bucket interface {
	// Put writes the object key with the bytes of r, replacing any object of
	// that key. size is the exact number of bytes r yields, or -1 if unknown.
	// Put is atomic: if it returns an error (including one from r or from ctx),
	// readers see the previous object or none, never a partial one. Large
	// objects should use the backend's multipart upload.
	Put(ctx context.Context, key string, r io.Reader, size int64) error

	// Open reads length bytes of the object key starting at byte offset.
	// offset is >= 0; length is > 0, or -1 for "to the end". A range that runs
	// past the end is cut at the end; an offset at or past the end yields an
	// empty reader. A missing object is an error whose kind is NotFound. The
	// caller closes the reader.
	Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)

	// Stat returns the attributes of the object key (NotFound if missing).
	Stat(ctx context.Context, key string) (Attributes, error)

	// Delete removes the object key. Deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error

	// List calls fn for every object whose key starts with prefix ("" for
	// all), in ascending byte order of keys, paging through the backend's
	// listing as needed. If fn returns an error, List stops and returns that
	// error unchanged (errors.Is must find it).
	List(ctx context.Context, prefix string, fn func(Object) error) error

	// ErrorKind classifies an error returned by this bucket's methods.
	// Context errors need no special case: the caller checks its context.
	ErrorKind(err error) Kind

	// Close releases the bucket's clients and connections.
	Close() error
}

// Attributes describe a stored object.
type Attributes struct {
	// Size is the object's length in bytes.
	Size int64
	// ModTime is when the object was last written.
	ModTime time.Time
	// ETag identifies the object's content version where the backend has
	// one; empty otherwise. It is opaque: compare it only for equality.
	ETag string
}

// Object is one entry of a listing.
type Object struct {
	// Key is the full key, including the listing prefix.
	Key string
	Attributes
}

// Kind is the class of a backend error: what a caller may do about it.
type Kind int

const (
	// Unknown is any error the driver cannot classify. It is not retried.
	Unknown Kind = iota
	// NotFound means that the object (or the bucket) does not exist.
	NotFound
	// InvalidArgument means that the request can never succeed as sent (a
	// bad key, a bad range, a size that does not match the data).
	InvalidArgument
	// PermissionDenied means that the credentials are missing, wrong or not
	// allowed.
	PermissionDenied
	// Throttled means that the backend asked the client to slow down (HTTP
	// 429, S3 SlowDown, Azure ServerBusy). Retried with backoff.
	Throttled
	// Transient means a failure that the same request may not meet again
	// (HTTP 5xx, a reset or timed-out connection). Retried with backoff.
	Transient
)

// String returns the kind's name in snake case, as used in metric labels.
func (k Kind) String() string {
	switch k {
	case NotFound:
		return "not_found"
	case InvalidArgument:
		return "invalid_argument"
	case PermissionDenied:
		return "permission_denied"
	case Throttled:
		return "throttled"
	case Transient:
		return "transient"
	default:
		return "unknown"
	}
}

// Retryable reports whether an error of this kind may succeed when retried.
func (k Kind) Retryable() bool { return k == Throttled || k == Transient }

// Package tiering owns Chronik's object storage: the plugin Registry that
// backends register into, and the portable Store that the rest of the broker
// uses to write and read objects (segments, snapshots, backups).
//
// A backend is a driver.Bucket (package tiering/driver) plus a Provider
// registered from the backend package's init function:
//
//	func init() { tiering.Register(tiering.Provider{Name: "local", …}) }
//
// The broker links the backends it wants through a blank import (plugins/all
// links every one unless a no_<name> build tag drops it) and opens one by URL
// or by typed config:
//
//	st, err := tiering.Default.OpenURL(ctx, "s3://bucket/chronik?region=eu-west-1", tiering.WithMeter(m))
//
// Store adds what every backend needs and no driver should repeat: the key
// prefix, key validation, retries with exponential backoff and jitter for
// Throttled and Transient errors, errors classified into the sentinel errors
// of this package (errors.Is(err, tiering.ErrNotFound)), and OpenTelemetry
// metrics by provider, operation and outcome. docs/plugins.md tells how to
// write a backend.
package tiering

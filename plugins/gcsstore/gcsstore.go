// Package gcsstore is the Google Cloud Storage tiering backend
// (cloud.google.com/go/storage over the JSON/XML HTTP APIs): gs://bucket/prefix.
//
// Credentials are Application Default Credentials unless the config names a
// service-account key file. STORAGE_EMULATOR_HOST (host:port of an
// emulator such as fake-gcs-server) is honoured as the client library
// documents: requests go there, unauthenticated.
//
// Objects up to the chunk size go up in one request; larger ones (and those
// of unknown size) as a resumable upload of chunks, which is finalized only
// by the last chunk, so a failed or canceled Put leaves nothing visible. The
// library's own retries are off: tiering.Store retries whole operations.
package gcsstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
)

// Name is the provider name; its URL scheme is "gs".
const Name = "gcs"

func init() {
	tiering.Register(tiering.Provider{
		Name:        Name,
		Schemes:     []string{"gs"},
		Description: "Google Cloud Storage: gs://bucket/prefix (STORAGE_EMULATOR_HOST honoured)",
		NewConfig:   func() tiering.Config { return NewConfig() },
		FromURL:     func(u *url.URL) (tiering.Config, error) { return FromURL(u) },
		Open: func(ctx context.Context, cfg tiering.Config) (driver.Bucket, error) {
			return Open(ctx, cfg.(*Config)) // the registry checks the type
		},
	})
}

// Config is the GCS backend's configuration.
type Config struct {
	// Bucket is the bucket name (required).
	Bucket string `toml:"bucket"`
	// Prefix is the key prefix inside the bucket.
	Prefix string `toml:"prefix"`
	// CredentialsFile is a service-account JSON key file. Empty: Application
	// Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud, metadata
	// server).
	CredentialsFile string `toml:"credentials_file"`
	// ChunkSize is the resumable-upload chunk size, a multiple of 256 KiB;
	// objects up to it take one request. Default 8 MiB.
	ChunkSize int64 `toml:"chunk_size"`
}

const chunkQuantum = 256 << 10

// NewConfig returns the defaults.
func NewConfig() *Config { return &Config{ChunkSize: 8 << 20} }

// FromURL parses gs://bucket/prefix?credentials_file=…&chunk_size=….
func FromURL(u *url.URL) (*Config, error) {
	c := NewConfig()
	c.Bucket = u.Host
	c.Prefix = strings.Trim(u.Path, "/")
	q := tiering.NewQuery(u)
	q.String("credentials_file", &c.CredentialsFile)
	q.Bytes("chunk_size", &c.ChunkSize)
	if err := q.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate reports every problem in c.
func (c *Config) Validate() error {
	var errs []error
	if c.Bucket == "" {
		errs = append(errs, errors.New("bucket is empty: set it (gs://BUCKET/prefix)"))
	}
	if c.ChunkSize < chunkQuantum || c.ChunkSize%chunkQuantum != 0 || c.ChunkSize > 1<<30 {
		errs = append(errs, fmt.Errorf("chunk size %d: want a multiple of 256 KiB up to 1 GiB", c.ChunkSize))
	}
	return errors.Join(errs...)
}

// KeyPrefix implements tiering.Config.
func (c *Config) KeyPrefix() string { return c.Prefix }

type bucket struct {
	client    *storage.Client
	bkt       *storage.BucketHandle
	chunkSize int64
}

// Open returns the bucket cfg describes. It makes no request.
func Open(ctx context.Context, cfg *Config) (driver.Bucket, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var opts []option.ClientOption
	if cfg.CredentialsFile != "" {
		opts = append(opts, option.WithAuthCredentialsFile(option.ServiceAccount, cfg.CredentialsFile))
	}
	client, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("gcsstore: %w", err)
	}
	// tiering.Store owns retries.
	client.SetRetry(storage.WithPolicy(storage.RetryNever))
	return &bucket{client: client, bkt: client.Bucket(cfg.Bucket), chunkSize: cfg.ChunkSize}, nil
}

func (b *bucket) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	// Read up to one chunk first: an object that fits goes up in one
	// request from memory, so a failing reader never starts a request (a
	// request whose body breaks off could leave a truncated object behind
	// on a lenient server).
	bufSize := b.chunkSize
	if size >= 0 && size < b.chunkSize {
		bufSize = size + 1
	}
	buf := make([]byte, bufSize)
	n, err := io.ReadFull(r, buf)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return b.write(ctx, key, bytes.NewReader(buf[:n]), 0)
	case err != nil:
		return fmt.Errorf("gcsstore: put %q: %w", key, err)
	case size >= 0 && size < b.chunkSize:
		return fmt.Errorf("%w: more than %d bytes", errTooLong, size)
	}
	// A resumable upload, finalized only by its last chunk.
	return b.write(ctx, key, io.MultiReader(bytes.NewReader(buf), r), int(b.chunkSize))
}

// errTooLong marks a reader that yields more bytes than the size given.
var errTooLong = errors.New("gcsstore: the reader has more bytes than the size given")

func (b *bucket) write(ctx context.Context, key string, r io.Reader, chunkSize int) error {
	// An abandoned upload is never finalized, so the object does not change.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := b.bkt.Object(key).NewWriter(wctx)
	w.ChunkSize = chunkSize
	_, err := io.Copy(w, r)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		// Fail the upload's data stream before anything can close it with
		// EOF: canceling wctx alone races with Close, which could still
		// finalize what was buffered as the whole object.
		_ = w.CloseWithError(err) //nolint:staticcheck // SA1019: the deprecated call is the one that aborts synchronously
		cancel()
		_ = w.Close()
		return fmt.Errorf("gcsstore: put %q: %w", key, err)
	}
	return w.Close()
}

func (b *bucket) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	r, err := b.bkt.Object(key).NewRangeReader(ctx, offset, length)
	if err != nil {
		if b.rangeNotSatisfiable(err) {
			// The object exists (a missing one is 404) and the range starts
			// at or past its end.
			return io.NopCloser(strings.NewReader("")), nil
		}
		return nil, err
	}
	return r, nil
}

// rangeNotSatisfiable: the library itself turns a 416 for a range at the
// end of an object into an empty reader; this covers one past the end.
func (b *bucket) rangeNotSatisfiable(err error) bool {
	ge, ok := errors.AsType[*googleapi.Error](err)
	return ok && ge.Code == 416
}

func (b *bucket) Stat(ctx context.Context, key string) (driver.Attributes, error) {
	a, err := b.bkt.Object(key).Attrs(ctx)
	if err != nil {
		return driver.Attributes{}, err
	}
	return driver.Attributes{Size: a.Size, ModTime: a.Updated, ETag: a.Etag}, nil
}

func (b *bucket) Delete(ctx context.Context, key string) error {
	err := b.bkt.Object(key).Delete(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return nil
	}
	return err
}

func (b *bucket) List(ctx context.Context, prefix string, fn func(driver.Object) error) error {
	q := &storage.Query{Prefix: prefix}
	if err := q.SetAttrSelection([]string{"Name", "Size", "Updated", "Etag"}); err != nil {
		return err
	}
	it := b.bkt.Objects(ctx, q)
	it.PageInfo().MaxSize = 1000
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(driver.Object{Key: a.Name, Attributes: driver.Attributes{Size: a.Size, ModTime: a.Updated, ETag: a.Etag}}); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

func (b *bucket) ErrorKind(err error) driver.Kind {
	if errors.Is(err, storage.ErrObjectNotExist) || errors.Is(err, storage.ErrBucketNotExist) {
		return driver.NotFound
	}
	if errors.Is(err, errTooLong) {
		return driver.InvalidArgument
	}
	if ge, ok := errors.AsType[*googleapi.Error](err); ok {
		switch c := ge.Code; {
		case c == 404:
			return driver.NotFound
		case c == 401 || c == 403:
			return driver.PermissionDenied
		case c == 429:
			return driver.Throttled
		case c == 408 || c >= 500:
			return driver.Transient
		case c == 400 || c == 411 || c == 413 || c == 416:
			return driver.InvalidArgument
		}
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return driver.Transient
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return driver.Transient
	}
	return driver.Unknown
}

func (b *bucket) Close() error { return b.client.Close() }

var _ driver.Bucket = (*bucket)(nil)

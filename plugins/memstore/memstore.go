// Package memstore is the in-memory tiering backend, for tests and
// throw-away brokers: "mem://" is a new, private bucket each time it is
// opened, "mem://name/prefix" a bucket shared by every store that opens the
// same name in the process (so brokers in one test process can share one
// remote tier). Nothing survives the process.
package memstore

import (
	"bytes"
	"context"
	"crypto/md5" // an ETag, as S3 computes it, not a security measure
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
)

// Name is the provider name, and "mem" its URL scheme.
const Name = "mem"

func init() {
	tiering.Register(tiering.Provider{
		Name:        Name,
		Schemes:     []string{"mem"},
		Description: "in-memory buckets for tests: mem:// (private) or mem://name/prefix (shared in the process)",
		NewConfig:   func() tiering.Config { return NewConfig() },
		FromURL:     func(u *url.URL) (tiering.Config, error) { return FromURL(u) },
		Open: func(_ context.Context, cfg tiering.Config) (driver.Bucket, error) {
			return Open(cfg.(*Config)), nil // the registry checks the type
		},
	})
}

// Config selects an in-memory bucket.
type Config struct {
	// Name shares the bucket with every store of the same name in this
	// process; empty for a private bucket.
	Name string `toml:"name"`
	// Prefix is the key prefix inside the bucket.
	Prefix string `toml:"prefix"`
}

// NewConfig returns the defaults: a private bucket at its root.
func NewConfig() *Config { return &Config{} }

// FromURL parses mem://[name][/prefix]; it takes no query parameters.
func FromURL(u *url.URL) (*Config, error) {
	cfg := NewConfig()
	cfg.Name = u.Host
	cfg.Prefix = strings.Trim(u.Path, "/")
	if err := tiering.NewQuery(u).Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Validate accepts every config.
func (c *Config) Validate() error { return nil }

// KeyPrefix implements tiering.Config.
func (c *Config) KeyPrefix() string { return c.Prefix }

var shared struct {
	sync.Mutex
	buckets map[string]*objects
}

// Open returns the bucket cfg names.
func Open(cfg *Config) driver.Bucket {
	if cfg.Name == "" {
		return &bucket{objs: newObjects()}
	}
	shared.Lock()
	defer shared.Unlock()
	if shared.buckets == nil {
		shared.buckets = map[string]*objects{}
	}
	o, ok := shared.buckets[cfg.Name]
	if !ok {
		o = newObjects()
		shared.buckets[cfg.Name] = o
	}
	return &bucket{objs: o}
}

// objects is one bucket's content. Stored byte slices are never modified,
// so readers use them without copying or holding the lock.
type objects struct {
	mu struct {
		sync.RWMutex
		m map[string]*object
	}
}

type object struct {
	data    []byte
	modTime time.Time
	etag    string
}

func newObjects() *objects {
	o := &objects{}
	o.mu.m = map[string]*object{}
	return o
}

type bucket struct {
	objs *objects
}

var errNotFound = errors.New("memstore: object not found")

func (b *bucket) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	var buf bytes.Buffer
	if size > 0 {
		buf.Grow(int(size))
	}
	if _, err := io.Copy(&buf, r); err != nil {
		return fmt.Errorf("memstore: put %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: put %q: %w", key, err)
	}
	sum := md5.Sum(buf.Bytes()) // see import
	obj := &object{data: buf.Bytes(), modTime: time.Now(), etag: `"` + hex.EncodeToString(sum[:]) + `"`}
	b.objs.mu.Lock()
	b.objs.mu.m[key] = obj
	b.objs.mu.Unlock()
	return nil
}

func (b *bucket) get(ctx context.Context, key string) (*object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.objs.mu.RLock()
	obj, ok := b.objs.mu.m[key]
	b.objs.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", errNotFound, key)
	}
	return obj, nil
}

func (b *bucket) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	obj, err := b.get(ctx, key)
	if err != nil {
		return nil, err
	}
	size := int64(len(obj.data))
	start := min(offset, size)
	end := size
	if length >= 0 {
		end = min(size, start+length)
	}
	return io.NopCloser(bytes.NewReader(obj.data[start:end])), nil
}

func (b *bucket) Stat(ctx context.Context, key string) (driver.Attributes, error) {
	obj, err := b.get(ctx, key)
	if err != nil {
		return driver.Attributes{}, err
	}
	return driver.Attributes{Size: int64(len(obj.data)), ModTime: obj.modTime, ETag: obj.etag}, nil
}

func (b *bucket) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.objs.mu.Lock()
	delete(b.objs.mu.m, key)
	b.objs.mu.Unlock()
	return nil
}

func (b *bucket) List(ctx context.Context, prefix string, fn func(driver.Object) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Snapshot the matching entries, then call fn without the lock so fn
	// may use the bucket.
	b.objs.mu.RLock()
	var objs []driver.Object
	for k, o := range b.objs.mu.m {
		if strings.HasPrefix(k, prefix) {
			objs = append(objs, driver.Object{Key: k, Attributes: driver.Attributes{Size: int64(len(o.data)), ModTime: o.modTime, ETag: o.etag}})
		}
	}
	b.objs.mu.RUnlock()
	slices.SortFunc(objs, func(a, b driver.Object) int { return strings.Compare(a.Key, b.Key) })
	for _, o := range objs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

func (b *bucket) ErrorKind(err error) driver.Kind {
	if errors.Is(err, errNotFound) {
		return driver.NotFound
	}
	return driver.Unknown
}

func (b *bucket) Close() error { return nil }

var _ driver.Bucket = (*bucket)(nil)

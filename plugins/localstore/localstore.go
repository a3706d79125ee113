// Package localstore is the filesystem tiering backend: a directory that
// holds one file per object, for single-node brokers (`chronik serve` tiers
// into ./data/tier), tests and shared filesystems.
//
// A key maps to the file of the same relative path under the directory;
// keys that could escape it ("..", absolute paths) are refused. Writes are
// atomic and durable: the data goes to a temporary file, which is fsynced
// and renamed over the destination, and then the directory is fsynced, so a
// crash leaves the old object or the new one, never a torn file.
package localstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
)

// Name is the provider name; its URL scheme is "file".
const Name = "local"

func init() {
	tiering.Register(tiering.Provider{
		Name:        Name,
		Schemes:     []string{"file"},
		Description: "a local (or shared) filesystem directory: file:///var/lib/chronik/tier",
		NewConfig:   func() tiering.Config { return NewConfig() },
		FromURL:     func(u *url.URL) (tiering.Config, error) { return FromURL(u) },
		Open: func(_ context.Context, cfg tiering.Config) (driver.Bucket, error) {
			return Open(cfg.(*Config)) // the registry checks the type
		},
	})
}

// Config is the local backend's configuration.
type Config struct {
	// Dir is the directory that holds the objects; it is created if missing.
	Dir string `toml:"dir"`
	// Prefix is a key prefix inside Dir (a subdirectory).
	Prefix string `toml:"prefix"`
	// NoSync skips the fsyncs: faster, and a crash may lose or tear objects.
	// Only for tests.
	NoSync bool `toml:"no_sync"`
}

// NewConfig returns the defaults: no directory (it must be set), fsync on.
func NewConfig() *Config { return &Config{} }

// FromURL parses file:///absolute/dir (or file:relative/dir) with the
// optional query parameter no_sync=true.
func FromURL(u *url.URL) (*Config, error) {
	cfg := NewConfig()
	switch {
	case u.Opaque != "":
		cfg.Dir = u.Opaque
	case u.Host != "" && u.Host != "localhost":
		return nil, fmt.Errorf("file URLs name a local directory: want file:///path, not a host (%q)", u.Host)
	default:
		cfg.Dir = u.Path
	}
	q := tiering.NewQuery(u)
	q.Bool("no_sync", &cfg.NoSync)
	if err := q.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Validate checks that a directory is set.
func (c *Config) Validate() error {
	if c.Dir == "" {
		return errors.New("dir is empty: set the directory that holds the objects (file:///path)")
	}
	return nil
}

// KeyPrefix implements tiering.Config.
func (c *Config) KeyPrefix() string { return c.Prefix }

// tmpDir is where objects are written before they are renamed into place.
// It lives inside the root so that the rename stays on one filesystem; keys
// under it are refused and listings skip it.
const tmpDir = ".chronik-tmp"

// staleTmp is the age after which Open removes a temporary file that a
// crashed writer left behind.
const staleTmp = 24 * time.Hour

type bucket struct {
	root   string
	noSync bool
}

// Open creates cfg.Dir if needed and returns its bucket.
func Open(cfg *Config) (driver.Bucket, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	root, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("localstore: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(root, tmpDir), 0o750); err != nil {
		return nil, fmt.Errorf("localstore: create the store directory: %w", err)
	}
	b := &bucket{root: root, noSync: cfg.NoSync}
	b.removeStaleTmp()
	return b, nil
}

func (b *bucket) removeStaleTmp() {
	ents, err := os.ReadDir(filepath.Join(b.root, tmpDir))
	if err != nil {
		return
	}
	for _, e := range ents {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTmp {
			_ = os.Remove(filepath.Join(b.root, tmpDir, e.Name()))
		}
	}
}

// errInvalidKey marks a key that has no safe path.
var errInvalidKey = errors.New("localstore: invalid key")

// path maps a key to its file, refusing anything that could leave the root
// or that the filesystem cannot name.
func (b *bucket) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.ContainsRune(key, 0) || strings.Contains(key, "\\") {
		return "", fmt.Errorf("%w %q", errInvalidKey, key)
	}
	for i, seg := range strings.Split(key, "/") {
		switch {
		case seg == "" || seg == "." || seg == "..":
			return "", fmt.Errorf("%w %q: segment %q", errInvalidKey, key, seg)
		case i == 0 && seg == tmpDir:
			return "", fmt.Errorf("%w %q: %s is reserved for temporary files", errInvalidKey, key, tmpDir)
		case len(seg) > 255:
			return "", fmt.Errorf("%w %q: a segment is longer than 255 bytes, which filesystems cannot name", errInvalidKey, key)
		}
	}
	p := filepath.Join(b.root, filepath.FromSlash(key))
	if !strings.HasPrefix(p, b.root+string(filepath.Separator)) {
		return "", fmt.Errorf("%w %q: outside the store directory", errInvalidKey, key)
	}
	return p, nil
}

func (b *bucket) Put(ctx context.Context, key string, r io.Reader, _ int64) (err error) {
	dst, err := b.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Join(b.root, tmpDir), "put-*")
	if err != nil {
		return fmt.Errorf("localstore: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err := io.Copy(f, ctxReader{ctx: ctx, r: r}); err != nil {
		return fmt.Errorf("localstore: write %q: %w", key, err)
	}
	if !b.noSync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("localstore: fsync %q: %w", key, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("localstore: write %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// A concurrent Delete may remove an emptied parent directory between
	// MkdirAll and Rename: create it again and retry.
	for attempt := 0; ; attempt++ {
		err := b.mkdirs(filepath.Dir(dst))
		if err == nil {
			err = os.Rename(tmp, dst)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 10 {
			return fmt.Errorf("localstore: put %q: %w", key, err)
		}
	}
	if !b.noSync {
		if err := syncDir(filepath.Dir(dst)); err != nil {
			return fmt.Errorf("localstore: put %q: fsync the directory: %w", key, err)
		}
	}
	return nil
}

// mkdirs creates dir and its missing parents under the root, fsyncing each
// parent whose entries changed so that the new directories survive a crash.
func (b *bucket) mkdirs(dir string) error {
	if info, err := os.Stat(dir); err == nil {
		if !info.IsDir() {
			return fmt.Errorf("%w: %s is an object, so it cannot also be a directory of objects", errInvalidKey, dir)
		}
		return nil
	}
	if dir == b.root {
		return os.MkdirAll(dir, 0o750)
	}
	if err := b.mkdirs(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
		if errors.Is(err, syscall.ENOTDIR) {
			return fmt.Errorf("%w: %s is an object, so it cannot also be a directory of objects", errInvalidKey, dir)
		}
		return err
	}
	if b.noSync {
		return nil
	}
	return syncDir(filepath.Dir(dir))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context // scoped to one Put
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (b *bucket) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	p, err := b.path(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("localstore: %w", err)
	}
	info, err := f.Stat()
	if err == nil && info.IsDir() {
		err = fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("localstore: %w", err)
	}
	size := info.Size()
	offset = min(offset, size)
	n := size - offset
	if length >= 0 {
		n = min(n, length)
	}
	return &fileReader{SectionReader: io.NewSectionReader(f, offset, n), f: f}, nil
}

type fileReader struct {
	*io.SectionReader
	f *os.File
}

func (r *fileReader) Close() error { return r.f.Close() }

func (b *bucket) Stat(ctx context.Context, key string) (driver.Attributes, error) {
	p, err := b.path(key)
	if err != nil {
		return driver.Attributes{}, err
	}
	if err := ctx.Err(); err != nil {
		return driver.Attributes{}, err
	}
	info, err := os.Stat(p)
	if err == nil && !info.Mode().IsRegular() {
		err = fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	}
	if err != nil {
		return driver.Attributes{}, fmt.Errorf("localstore: %w", err)
	}
	return attributes(info), nil
}

func attributes(info fs.FileInfo) driver.Attributes {
	return driver.Attributes{Size: info.Size(), ModTime: info.ModTime()}
}

func (b *bucket) Delete(ctx context.Context, key string) error {
	p, err := b.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if info, err := os.Stat(p); err == nil && info.IsDir() {
		return nil // a directory of other keys, not an object
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return fmt.Errorf("localstore: %w", err)
	}
	// Remove the directories this delete emptied, so listings stay cheap;
	// os.Remove fails harmlessly on the first one that is not empty.
	for dir := filepath.Dir(p); dir != b.root && strings.HasPrefix(dir, b.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	if !b.noSync {
		// Best effort: the unlink is what matters; a lost directory fsync
		// at worst brings a deleted object back after a crash, and deletes
		// are retried by their callers (retention, the orphan sweeper).
		_ = syncDir(filepath.Dir(p))
	}
	return nil
}

// List walks the directories in key order. Entries are sorted by the key
// they stand for, a directory "d" as "d/", so that "b/3.x" comes before
// "b/3/x" as in every object store.
func (b *bucket) List(ctx context.Context, prefix string, fn func(driver.Object) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Start in the deepest directory the prefix names in full.
	dirKey := ""
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		dirKey = prefix[:i+1]
	}
	dir := b.root
	if dirKey != "" {
		p, err := b.path(strings.TrimSuffix(dirKey, "/"))
		if err != nil {
			return nil // no object can have this prefix
		}
		dir = p
	}
	return b.walk(ctx, dir, dirKey, prefix, fn)
}

func (b *bucket) walk(ctx context.Context, dir, dirKey, prefix string, fn func(driver.Object) error) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return fmt.Errorf("localstore: list: %w", err)
	}
	type entry struct {
		key string
		ent fs.DirEntry
	}
	es := make([]entry, 0, len(ents))
	for _, e := range ents {
		key := dirKey + e.Name()
		if dirKey == "" && e.Name() == tmpDir {
			continue
		}
		if e.IsDir() {
			key += "/"
		}
		// Keep entries that can hold keys with the prefix.
		if !strings.HasPrefix(key, prefix) && !strings.HasPrefix(prefix, key) {
			continue
		}
		es = append(es, entry{key, e})
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	for _, e := range es {
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.ent.IsDir() {
			if err := b.walk(ctx, filepath.Join(dir, e.ent.Name()), e.key, prefix, fn); err != nil {
				return err
			}
			continue
		}
		if !e.ent.Type().IsRegular() || !strings.HasPrefix(e.key, prefix) {
			continue
		}
		info, err := e.ent.Info()
		if err != nil {
			continue // deleted since ReadDir
		}
		if err := fn(driver.Object{Key: e.key, Attributes: attributes(info)}); err != nil {
			return err
		}
	}
	return nil
}

func (b *bucket) ErrorKind(err error) driver.Kind {
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return driver.NotFound
	case errors.Is(err, errInvalidKey) || errors.Is(err, syscall.ENAMETOOLONG):
		return driver.InvalidArgument
	case errors.Is(err, fs.ErrPermission):
		return driver.PermissionDenied
	default:
		return driver.Unknown
	}
}

func (b *bucket) Close() error { return nil }

var _ driver.Bucket = (*bucket)(nil)

package tiering

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/chronik-go/chronik/tiering/driver"
)

// Config is a backend's typed configuration: a pointer to a struct with the
// backend's defaults filled in by Provider.NewConfig, decoded from a URL by
// Provider.FromURL or from the broker's config file, and checked by
// Validate before Open sees it.
type Config interface {
	// Validate reports every invalid or missing field, saying what to set.
	Validate() error
	// KeyPrefix is the prefix (a "directory" inside the bucket) under which
	// the Store keeps its objects; "" for the bucket's root.
	KeyPrefix() string
}

// Provider is a backend as registered by its plugin package.
type Provider struct {
	// Name identifies the backend in config files, metrics and `chronik
	// plugins`: lower case letters, digits, '_' and '-'.
	Name string
	// Schemes are the URL schemes OpenURL hands to this provider ("s3").
	Schemes []string
	// Description is one line for `chronik plugins`.
	Description string
	// NewConfig returns a new config holding the backend's defaults.
	NewConfig func() Config
	// FromURL turns a store URL into a config, starting from NewConfig's
	// defaults. It must reject query parameters it does not know (see Query).
	// Required when Schemes is not empty.
	FromURL func(u *url.URL) (Config, error)
	// Open connects to the bucket described by cfg, which is of NewConfig's
	// type and has passed Validate. It should fail fast on configuration
	// errors but need not make a request.
	Open func(ctx context.Context, cfg Config) (driver.Bucket, error)
}

// Registry maps provider names and URL schemes to providers. It is safe for
// concurrent use; plugins register into Default from their init functions.
type Registry struct {
	mu struct {
		sync.RWMutex
		byName   map[string]*Provider
		byScheme map[string]*Provider
	}
}

// Default is the registry that plugin packages register into.
var Default = NewRegistry()

// Register adds p to the Default registry; see Registry.Register.
func Register(p Provider) { Default.Register(p) }

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	r := &Registry{}
	r.mu.byName = map[string]*Provider{}
	r.mu.byScheme = map[string]*Provider{}
	return r
}

var validName = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// Register adds a provider. Like database/sql.Register it panics if p is
// incomplete or its name or a scheme is taken: both are programming errors
// found the first time the binary starts.
func (r *Registry) Register(p Provider) {
	switch {
	case !validName.MatchString(p.Name):
		panic(fmt.Sprintf("tiering: Register: provider name %q: want lower case letters, digits, '_' or '-'", p.Name))
	case p.NewConfig == nil || p.Open == nil:
		panic(fmt.Sprintf("tiering: Register: provider %q needs NewConfig and Open", p.Name))
	case len(p.Schemes) > 0 && p.FromURL == nil:
		panic(fmt.Sprintf("tiering: Register: provider %q has URL schemes but no FromURL", p.Name))
	}
	p.Schemes = slices.Clone(p.Schemes)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.mu.byName[p.Name]; dup {
		panic(fmt.Sprintf("tiering: Register: provider %q registered twice", p.Name))
	}
	for _, s := range p.Schemes {
		if s != strings.ToLower(s) || s == "" {
			panic(fmt.Sprintf("tiering: Register: provider %q: scheme %q must be lower case", p.Name, s))
		}
		if other, dup := r.mu.byScheme[s]; dup {
			panic(fmt.Sprintf("tiering: Register: scheme %q of provider %q is taken by %q", s, p.Name, other.Name))
		}
	}
	r.mu.byName[p.Name] = &p
	for _, s := range p.Schemes {
		r.mu.byScheme[s] = &p
	}
}

// Providers returns the registered providers sorted by name.
func (r *Registry) Providers() []Provider {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ps := make([]Provider, 0, len(r.mu.byName))
	for _, p := range r.mu.byName {
		ps = append(ps, *p)
	}
	slices.SortFunc(ps, func(a, b Provider) int { return strings.Compare(a.Name, b.Name) })
	return ps
}

// Lookup returns the provider registered under name.
func (r *Registry) Lookup(name string) (Provider, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.mu.byName[name]
	if !ok {
		return Provider{}, false
	}
	return *p, true
}

func (r *Registry) names() string {
	ps := r.Providers()
	if len(ps) == 0 {
		return "none are linked into this binary"
	}
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Name)
	}
	return "linked: " + b.String()
}

func (r *Registry) schemes() string {
	r.mu.RLock()
	s := make([]string, 0, len(r.mu.byScheme))
	for k := range r.mu.byScheme {
		s = append(s, k+"://")
	}
	r.mu.RUnlock()
	if len(s) == 0 {
		return "no object-store plugin is linked into this binary"
	}
	slices.Sort(s)
	return "linked schemes: " + strings.Join(s, ", ")
}

// ParseURL finds the provider for rawURL's scheme and decodes and validates
// its config without connecting to anything: use it to check a URL early.
func (r *Registry) ParseURL(rawURL string) (Provider, Config, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Provider{}, nil, fmt.Errorf("tiering: store URL: %w", err)
	}
	if u.Scheme == "" {
		return Provider{}, nil, fmt.Errorf("tiering: store URL %q has no scheme (such as s3:// or file://); %s", Redact(rawURL), r.schemes())
	}
	if u.User != nil {
		return Provider{}, nil, fmt.Errorf("tiering: store URL %q: user info is not supported; pass credentials as query parameters, config fields or the backend's environment", Redact(rawURL))
	}
	if u.Fragment != "" {
		return Provider{}, nil, fmt.Errorf("tiering: store URL %q has a #fragment; remove it", Redact(rawURL))
	}
	r.mu.RLock()
	pp, ok := r.mu.byScheme[strings.ToLower(u.Scheme)]
	r.mu.RUnlock()
	if !ok {
		return Provider{}, nil, fmt.Errorf("tiering: no object-store plugin for %s:// URLs; %s (a binary built with a no_<name> tag leaves that plugin out)", u.Scheme, r.schemes())
	}
	p := *pp
	cfg, err := p.FromURL(u)
	if err != nil {
		return Provider{}, nil, fmt.Errorf("tiering: %s store URL %q: %w", p.Name, Redact(rawURL), err)
	}
	if err := cfg.Validate(); err != nil {
		return Provider{}, nil, fmt.Errorf("tiering: %s store URL %q: %w", p.Name, Redact(rawURL), err)
	}
	return p, cfg, nil
}

// OpenURL opens the store that rawURL names, such as
// "s3://bucket/prefix?region=eu-west-1" or "file:///var/lib/chronik/tier".
func (r *Registry) OpenURL(ctx context.Context, rawURL string, opts ...Option) (*Store, error) {
	p, cfg, err := r.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return r.open(ctx, p, cfg, Redact(rawURL), opts)
}

// Open opens the store of the named provider with cfg, a config of the type
// that provider's NewConfig returns.
func (r *Registry) Open(ctx context.Context, name string, cfg Config, opts ...Option) (*Store, error) {
	p, ok := r.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("tiering: no object-store plugin named %q; %s", name, r.names())
	}
	if cfg == nil {
		return nil, fmt.Errorf("tiering: %s: nil config", name)
	}
	if want, got := reflect.TypeOf(p.NewConfig()), reflect.TypeOf(cfg); want != got {
		return nil, fmt.Errorf("tiering: %s: config is a %v, want a %v (from the provider's NewConfig)", name, got, want)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tiering: %s config: %w", name, err)
	}
	return r.open(ctx, p, cfg, name, opts)
}

func (r *Registry) open(ctx context.Context, p Provider, cfg Config, desc string, opts []Option) (*Store, error) {
	b, err := p.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("tiering: open %s store: %w", p.Name, err)
	}
	if b == nil {
		return nil, fmt.Errorf("tiering: open %s store: the plugin returned no bucket", p.Name)
	}
	all := make([]Option, 0, len(opts)+3)
	all = append(all, WithProviderName(p.Name), WithPrefix(cfg.KeyPrefix()), withDescription(desc))
	all = append(all, opts...)
	st, err := New(b, all...)
	if err != nil {
		return nil, errors.Join(err, b.Close())
	}
	return st, nil
}

// secretParams are query parameter names (or parts of names) whose values
// Redact hides.
var secretParams = []string{"secret", "key", "token", "password", "sas", "sig", "connection", "credential"}

// Redact returns rawURL with the values of secret-looking query parameters
// replaced by "REDACTED", for logs and error messages.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	if u.RawQuery == "" {
		return u.String()
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		u.RawQuery = "REDACTED"
		return u.String()
	}
	for name := range q {
		lower := strings.ToLower(name)
		for _, s := range secretParams {
			if strings.Contains(lower, s) {
				for i := range q[name] {
					q[name][i] = "REDACTED"
				}
				break
			}
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

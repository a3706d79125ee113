package tiering_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/chronik-go/chronik/plugins/memstore"
	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
)

type fakeConfig struct {
	Bucket string
	Prefix string
}

func (c *fakeConfig) Validate() error {
	if c.Bucket == "" {
		return errors.New("bucket is empty")
	}
	return nil
}

func (c *fakeConfig) KeyPrefix() string { return c.Prefix }

func fakeProvider(name string, schemes ...string) tiering.Provider {
	return tiering.Provider{
		Name:      name,
		Schemes:   schemes,
		NewConfig: func() tiering.Config { return &fakeConfig{} },
		FromURL: func(u *url.URL) (tiering.Config, error) {
			c := &fakeConfig{Bucket: u.Host, Prefix: u.Path}
			return c, tiering.NewQuery(u).Err()
		},
		Open: func(context.Context, tiering.Config) (driver.Bucket, error) {
			return memstore.Open(memstore.NewConfig()), nil
		},
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	r := tiering.NewRegistry()
	r.Register(fakeProvider("zeta", "zz"))
	r.Register(fakeProvider("alpha", "aa", "ab"))
	ps := r.Providers()
	if len(ps) != 2 || ps[0].Name != "alpha" || ps[1].Name != "zeta" {
		t.Fatalf("Providers = %+v, want alpha, zeta", ps)
	}
	if _, ok := r.Lookup("alpha"); !ok {
		t.Fatal("Lookup(alpha) failed")
	}

	for name, p := range map[string]tiering.Provider{
		"duplicate name":   fakeProvider("alpha", "new"),
		"duplicate scheme": fakeProvider("beta", "ab"),
		"bad name":         fakeProvider("Bad Name"),
		"no Open":          {Name: "x", NewConfig: func() tiering.Config { return &fakeConfig{} }},
		"no FromURL":       {Name: "y", Schemes: []string{"y"}, NewConfig: func() tiering.Config { return &fakeConfig{} }, Open: fakeProvider("y").Open},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register with %s did not panic", name)
				}
			}()
			r.Register(p)
		}()
	}

	ctx := t.Context()
	st, err := r.OpenURL(ctx, "ab://bucket/pre/fix")
	if err != nil {
		t.Fatal(err)
	}
	if st.Provider() != "alpha" || st.Prefix() != "pre/fix/" {
		t.Errorf("OpenURL: provider %q prefix %q", st.Provider(), st.Prefix())
	}
	_ = st.Close()

	for raw, want := range map[string]string{
		"nope://b":               "no object-store plugin for nope:// URLs; linked schemes: aa://, ab://, zz://",
		"/just/a/path":           "has no scheme",
		"aa://user:pw@b":         "user info is not supported",
		"aa://":                  "bucket is empty",
		"aa://b?x=1":             "unknown query parameter x",
		"aa://b#frag":            "fragment",
		"aa://b?secret_key=hush": "unknown query parameter",
	} {
		_, err := r.OpenURL(ctx, raw)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("OpenURL(%q) = %v, want an error containing %q", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "hush") || err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("OpenURL(%q) error shows a secret: %v", raw, err)
		}
	}

	if _, err := r.Open(ctx, "alpha", &fakeConfig{Bucket: "b"}); err != nil {
		t.Errorf("Open by name: %v", err)
	}
	if _, err := r.Open(ctx, "alpha", &fakeConfig{}); err == nil || !strings.Contains(err.Error(), "bucket is empty") {
		t.Errorf("Open with an invalid config = %v", err)
	}
	if _, err := r.Open(ctx, "alpha", memstore.NewConfig()); err == nil || !strings.Contains(err.Error(), "want a *tiering_test.fakeConfig") {
		t.Errorf("Open with another provider's config = %v", err)
	}
	if _, err := r.Open(ctx, "gamma", &fakeConfig{}); err == nil || !strings.Contains(err.Error(), "linked: alpha, zeta") {
		t.Errorf("Open of an unknown provider = %v", err)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"s3://b/p?region=x":                         "s3://b/p?region=x",
		"s3://b?secret_access_key=abc&region=x":     "s3://b?region=x&secret_access_key=REDACTED",
		"azblob://c?account_key=k&sas_token=t":      "azblob://c?account_key=REDACTED&sas_token=REDACTED",
		"azblob://c?connection_string=AccountKey=k": "azblob://c?connection_string=REDACTED",
	} {
		if got := tiering.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

package s3store_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/chronik-go/chronik/plugins/s3store"
	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
	"github.com/chronik-go/chronik/tiering/drivertest"
)

// gofakes3Server runs gofakes3 in process and returns its URL and a
// function that creates a new, empty bucket.
func gofakes3Server(tb testing.TB) (string, func(tb testing.TB) string) {
	tb.Helper()
	backend := s3mem.New()
	faker := gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog()), gofakes3.WithUnimplementedPageError())
	ts := httptest.NewServer(faker.Server())
	tb.Cleanup(ts.Close)
	var n atomic.Int64
	return ts.URL, func(tb testing.TB) string {
		tb.Helper()
		name := fmt.Sprintf("bucket-%d", n.Add(1))
		if err := backend.CreateBucket(name); err != nil {
			tb.Fatal(err)
		}
		return name
	}
}

func openS3(tb testing.TB, cfg *s3store.Config) driver.Bucket {
	tb.Helper()
	b, err := s3store.Open(tb.Context(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func gofakes3Config(endpoint, bucket string) *s3store.Config {
	cfg := s3store.NewConfig()
	cfg.Bucket = bucket
	cfg.Endpoint = endpoint
	cfg.PathStyle = true
	cfg.AccessKeyID, cfg.SecretAccessKey = "test-key", "test-secret"
	cfg.PartSize = 5 << 20
	return cfg
}

func TestConformanceGofakes3(t *testing.T) {
	t.Parallel()
	endpoint, newBucketName := gofakes3Server(t)
	drivertest.RunConformance(t, func(tb testing.TB) driver.Bucket {
		return openS3(tb, gofakes3Config(endpoint, newBucketName(tb)))
	}, drivertest.WithPartSize(5<<20))
}

// TestConformanceMinIO runs the "minio" registration, opened from a
// minio:// URL through the registry, against gofakes3.
func TestConformanceMinIO(t *testing.T) {
	t.Parallel()
	endpoint, newBucketName := gofakes3Server(t)
	host := strings.TrimPrefix(endpoint, "http://")
	drivertest.RunConformance(t, func(tb testing.TB) driver.Bucket {
		tb.Helper()
		raw := fmt.Sprintf("minio://%s/%s?secure=false&access_key_id=k&secret_access_key=s&part_size=5MiB", host, newBucketName(tb))
		p, cfg, err := tiering.Default.ParseURL(raw)
		if err != nil {
			tb.Fatal(err)
		}
		if p.Name != "minio" {
			tb.Fatalf("%s opened provider %q", raw, p.Name)
		}
		b, err := p.Open(tb.Context(), cfg)
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}, drivertest.WithPartSize(5<<20))
}

func BenchmarkDriverGofakes3(b *testing.B) {
	endpoint, newBucketName := gofakes3Server(b)
	drivertest.RunBenchmarks(b, func(tb testing.TB) driver.Bucket {
		return openS3(tb, gofakes3Config(endpoint, newBucketName(tb)))
	})
}

func TestStoreOverURL(t *testing.T) {
	t.Parallel()
	endpoint, newBucketName := gofakes3Server(t)
	bucket := newBucketName(t)
	raw := fmt.Sprintf("s3://%s/chronik/cluster-1?endpoint=%s&path_style=true&access_key_id=k&secret_access_key=s", bucket, url.QueryEscape(endpoint))
	st, err := tiering.Default.OpenURL(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if strings.Contains(st.String(), "secret_access_key=s") {
		t.Errorf("Store.String shows the secret: %s", st)
	}
	if err := st.Put(t.Context(), "k", strings.NewReader("v"), 1); err != nil {
		t.Fatal(err)
	}
	raw2 := openS3(t, gofakes3Config(endpoint, bucket))
	defer raw2.Close()
	if a, err := raw2.Stat(t.Context(), "chronik/cluster-1/k"); err != nil || a.Size != 1 {
		t.Fatalf("object under the URL's prefix: %+v, %v", a, err)
	}
	// A bucket that does not exist is NotFound, not a silent success.
	missing, err := tiering.Default.OpenURL(t.Context(), strings.Replace(raw, bucket, "no-such-bucket", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer missing.Close()
	if err := missing.Delete(t.Context(), "k"); err == nil {
		t.Error("Delete in a missing bucket succeeded")
	}
}

func TestURLs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		url  string
		want s3store.Config // zero PartSize/Concurrency mean the defaults
		err  string
	}{
		{url: "s3://b", want: s3store.Config{Bucket: "b"}},
		{url: "s3://b/p/q/?region=eu-west-1", want: s3store.Config{Bucket: "b", Prefix: "p/q", Region: "eu-west-1"}},
		{
			url:  "s3://b?endpoint=http://127.0.0.1:9000&path_style=true&part_size=16MiB&concurrency=8&checksums=when_required",
			want: s3store.Config{Bucket: "b", Endpoint: "http://127.0.0.1:9000", PathStyle: true, PartSize: 16 << 20, Concurrency: 8, Checksums: "when_required"},
		},
		{url: "minio://", err: "bucket is empty"},
		{url: "minio:///b/p", want: s3store.Config{Bucket: "b", Prefix: "p", Endpoint: "https://localhost:9000", PathStyle: true, Region: "us-east-1"}},
		{url: "minio://h:9001/b?secure=false", want: s3store.Config{Bucket: "b", Endpoint: "http://h:9001", PathStyle: true, Region: "us-east-1"}},
		{url: "s3://", err: "bucket is empty"},
		{url: "s3://b?regoin=x", err: "unknown query parameter regoin"},
		{url: "s3://b?part_size=1MiB", err: "part size"},
		{url: "s3://b?access_key_id=x", err: "both access_key_id and secret_access_key"},
		{url: "s3://b?endpoint=localhost:9000", err: "endpoint"},
		{url: "s3://b?checksums=always", err: "checksums"},
		{url: "s3://b?concurrency=0", err: "concurrency"},
	} {
		t.Run(c.url, func(t *testing.T) {
			_, cfg, err := tiering.Default.ParseURL(c.url)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := c.want
			if want.PartSize == 0 {
				want.PartSize = 8 << 20
			}
			if want.Concurrency == 0 {
				want.Concurrency = 4
			}
			if got := *cfg.(*s3store.Config); got != want { // s3store's provider
				t.Fatalf("config = %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestErrorKind(t *testing.T) {
	t.Parallel()
	b := openS3(t, gofakes3Config("http://127.0.0.1:1", "b"))
	status := func(code int) error {
		return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: errors.New("x"),
		}}
	}
	for _, c := range []struct {
		err  error
		want driver.Kind
	}{
		{&smithy.GenericAPIError{Code: "NoSuchKey"}, driver.NotFound},
		{&smithy.GenericAPIError{Code: "SlowDown"}, driver.Throttled},
		{&smithy.GenericAPIError{Code: "AccessDenied"}, driver.PermissionDenied},
		{&smithy.GenericAPIError{Code: "InternalError"}, driver.Transient},
		{&smithy.GenericAPIError{Code: "InvalidArgument"}, driver.InvalidArgument},
		{status(404), driver.NotFound},
		{status(403), driver.PermissionDenied},
		{status(429), driver.Throttled},
		{status(503), driver.Throttled},
		{status(500), driver.Transient},
		{status(400), driver.InvalidArgument},
		{&smithyhttp.RequestSendError{Err: errors.New("connection refused")}, driver.Transient},
		{errors.New("other"), driver.Unknown},
	} {
		if got := b.ErrorKind(fmt.Errorf("op: %w", c.err)); got != c.want {
			t.Errorf("ErrorKind(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	// A refused connection, as the SDK reports it, is transient.
	_, err := b.Stat(context.Background(), "k")
	if got := b.ErrorKind(err); got != driver.Transient {
		t.Errorf("ErrorKind of a refused connection (%v) = %v, want Transient", err, got)
	}
}

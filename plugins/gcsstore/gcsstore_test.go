package gcsstore_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/googleapi"

	"github.com/chronik-go/chronik/plugins/emulatortest"
	"github.com/chronik-go/chronik/plugins/gcsstore"
	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
	"github.com/chronik-go/chronik/tiering/drivertest"
)

// startFakeGCS runs fake-gcs-server in process (emulatortest.StartFakeGCS,
// so the test cannot be parallel). It returns a function that creates a
// new, empty bucket.
func startFakeGCS(tb testing.TB) func(tb testing.TB) string {
	tb.Helper()
	srv := emulatortest.StartFakeGCS(tb)
	var n atomic.Int64
	return func(testing.TB) string {
		name := fmt.Sprintf("bucket-%d", n.Add(1))
		srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
		return name
	}
}

func openGCS(tb testing.TB, bucket string) driver.Bucket {
	tb.Helper()
	cfg := gcsstore.NewConfig()
	cfg.Bucket = bucket
	cfg.ChunkSize = 5 << 20
	b, err := gcsstore.Open(tb.Context(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestConformanceFakeGCS(t *testing.T) {
	newBucketName := startFakeGCS(t)
	drivertest.RunConformance(t, func(tb testing.TB) driver.Bucket {
		return openGCS(tb, newBucketName(tb))
	}, drivertest.WithPartSize(5<<20))
}

func BenchmarkDriverFakeGCS(b *testing.B) {
	newBucketName := startFakeGCS(b)
	drivertest.RunBenchmarks(b, func(tb testing.TB) driver.Bucket { return openGCS(tb, newBucketName(tb)) })
}

func TestURL(t *testing.T) {
	newBucketName := startFakeGCS(t)
	bucket := newBucketName(t)
	st, err := tiering.Default.OpenURL(t.Context(), "gs://"+bucket+"/chronik/c1?chunk_size=512KiB")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Put(t.Context(), "k", strings.NewReader("v"), 1); err != nil {
		t.Fatal(err)
	}
	b := openGCS(t, bucket)
	defer b.Close()
	if a, err := b.Stat(t.Context(), "chronik/c1/k"); err != nil || a.Size != 1 {
		t.Fatalf("object under the URL's prefix: %+v, %v", a, err)
	}
	for _, bad := range []string{"gs://", "gs://b?chunk_size=1000", "gs://b?chunksize=1MiB"} {
		if _, _, err := tiering.Default.ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) succeeded", bad)
		}
	}
}

func TestErrorKind(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:1")
	b := openGCS(t, "b")
	defer b.Close()
	for _, c := range []struct {
		code int
		want driver.Kind
	}{{404, driver.NotFound}, {403, driver.PermissionDenied}, {429, driver.Throttled}, {503, driver.Transient}, {400, driver.InvalidArgument}} {
		if got := b.ErrorKind(fmt.Errorf("x: %w", &googleapi.Error{Code: c.code})); got != c.want {
			t.Errorf("ErrorKind(HTTP %d) = %v, want %v", c.code, got, c.want)
		}
	}
}

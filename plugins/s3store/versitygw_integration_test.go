//go:build integration

package s3store_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sys/unix"

	"github.com/chronik-go/chronik/plugins/emulatortest"
	"github.com/chronik-go/chronik/plugins/s3store"
	"github.com/chronik-go/chronik/tiering/driver"
	"github.com/chronik-go/chronik/tiering/drivertest"
)

const (
	vgwAccess = "chronik-test"
	vgwSecret = "chronik-test-secret"
)

// startVersitygw runs versitygw (a real S3 gateway that checks SigV4) over
// a temporary directory and returns its endpoint.
func startVersitygw(t testing.TB) string {
	t.Helper()
	bin := emulatortest.Find("versitygw")
	if bin == "" {
		emulatortest.Missing(t, "versitygw is not installed: run plugins/testdata/install-emulators.sh "+
			"(go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
	}
	// Object metadata (ETags, checksums) goes in xattrs, where the posix
	// backend renames it into place with the data; a sidecar directory,
	// for filesystems without user xattrs, is updated apart from the data,
	// so a read racing an overwrite can pair one version's checksum with
	// another's bytes.
	root := t.TempDir()
	backendArgs := []string{"posix"}
	if err := unix.Setxattr(root, "user.chronik-probe", []byte("1"), 0); err != nil {
		t.Logf("no user xattrs in %s (%v): versitygw keeps metadata in a sidecar directory", root, err)
		backendArgs = append(backendArgs, "--sidecar", t.TempDir())
	}
	backendArgs = append(backendArgs, root)
	r := emulatortest.Start(t, emulatortest.Process{
		Name: "versitygw",
		Path: bin,
		Args: func(port int) []string {
			args := []string{
				"--access", vgwAccess, "--secret", vgwSecret, "--port", fmt.Sprintf("127.0.0.1:%d", port),
				"--quiet",
			}
			return append(args, backendArgs...)
		},
		Ready: func(ctx context.Context, port int) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			return resp.Body.Close() // any answer (403 unsigned) means it serves
		},
	})
	return "http://" + r.Addr
}

func versitygwConfig(endpoint, bucket string) *s3store.Config {
	cfg := s3store.NewConfig()
	cfg.Bucket = bucket
	cfg.Endpoint = endpoint
	cfg.PathStyle = true
	cfg.AccessKeyID, cfg.SecretAccessKey = vgwAccess, vgwSecret
	cfg.PartSize = 5 << 20
	// The AWS default: CRC32 checksums on every upload, as against AWS.
	cfg.Checksums = "when_supported"
	return cfg
}

func TestConformanceVersitygw(t *testing.T) {
	t.Parallel()
	endpoint := startVersitygw(t)
	admin, err := s3store.NewClient(t.Context(), versitygwConfig(endpoint, "unused"))
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	drivertest.RunConformance(t, func(tb testing.TB) driver.Bucket {
		tb.Helper()
		name := fmt.Sprintf("vgw-bucket-%d", n.Add(1))
		if _, err := admin.CreateBucket(tb.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
			tb.Fatalf("create bucket %s: %v", name, err)
		}
		return openS3(tb, versitygwConfig(endpoint, name))
	}, drivertest.WithPartSize(5<<20))
}

// TestWrongCredentials checks that versitygw's SigV4 check fails a request
// signed with the wrong secret, and that the driver calls it PermissionDenied.
func TestWrongCredentials(t *testing.T) {
	t.Parallel()
	endpoint := startVersitygw(t)
	cfg := versitygwConfig(endpoint, "any")
	cfg.SecretAccessKey = "wrong"
	b := openS3(t, cfg)
	defer b.Close()
	_, err := b.Stat(t.Context(), "k")
	if got := b.ErrorKind(err); got != driver.PermissionDenied {
		t.Fatalf("Stat signed with a wrong secret: %v, kind %v; want PermissionDenied", err, got)
	}
}

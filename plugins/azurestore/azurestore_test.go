package azurestore_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/chronik-go/chronik/plugins/azurestore"
	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
)

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func TestURLs(t *testing.T) {
	t.Setenv("AZURE_STORAGE_ACCOUNT", "")
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "")
	for _, c := range []struct {
		url  string
		want azurestore.Config // zero BlockSize/Concurrency mean the defaults
		err  string
	}{
		{url: "azblob://c/p/q?account=acct", want: azurestore.Config{Container: "c", Prefix: "p/q", Account: "acct"}},
		{
			url:  "azblob://c?connection_string=UseDevelopmentStorage%3Dtrue&block_size=16MiB&concurrency=2",
			want: azurestore.Config{Container: "c", ConnectionString: "UseDevelopmentStorage=true", BlockSize: 16 << 20, Concurrency: 2},
		},
		{
			url:  "azblob://c?account=devstoreaccount1&endpoint=http://127.0.0.1:10000/devstoreaccount1",
			want: azurestore.Config{Container: "c", Account: "devstoreaccount1", Endpoint: "http://127.0.0.1:10000/devstoreaccount1"},
		},
		{url: "azblob://?account=a", err: "container is empty"},
		{url: "azblob://c", err: "no account"},
		{url: "azblob://c?account=a&connection_string=x", err: "connection_string replaces"},
		{url: "azblob://c?account=a&block_size=1KiB", err: "block size"},
		{url: "azblob://c?acount=a", err: "unknown query parameter acount"},
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
			if want.BlockSize == 0 {
				want.BlockSize = 8 << 20
			}
			if want.Concurrency == 0 {
				want.Concurrency = 4
			}
			if got := *cfg.(*azurestore.Config); got != want { // azurestore's provider
				t.Fatalf("config = %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestErrorKind(t *testing.T) {
	cfg := azurestore.NewConfig()
	cfg.Container, cfg.ConnectionString = "c", "UseDevelopmentStorage=true"
	b, err := azurestore.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, c := range []struct {
		err  error
		want driver.Kind
	}{
		{&azcore.ResponseError{ErrorCode: "BlobNotFound", StatusCode: 404}, driver.NotFound},
		{&azcore.ResponseError{ErrorCode: "ServerBusy", StatusCode: 503}, driver.Throttled},
		{&azcore.ResponseError{ErrorCode: "AuthenticationFailed", StatusCode: 403}, driver.PermissionDenied},
		{&azcore.ResponseError{ErrorCode: "InternalError", StatusCode: 500}, driver.Transient},
		{&azcore.ResponseError{StatusCode: http.StatusTooManyRequests}, driver.Throttled},
		{&azcore.ResponseError{StatusCode: http.StatusBadGateway}, driver.Transient},
		{&azcore.ResponseError{StatusCode: http.StatusBadRequest}, driver.InvalidArgument},
		{errors.New("other"), driver.Unknown},
	} {
		if got := b.ErrorKind(fmt.Errorf("op: %w", c.err)); got != c.want {
			t.Errorf("ErrorKind(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// Package azurestore is the Azure Blob Storage tiering backend (azblob):
// azblob://container/prefix?account=NAME.
//
// It authenticates with a connection string, a shared key or a SAS token
// (from the config or the AZURE_STORAGE_CONNECTION_STRING,
// AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY environment variables), and
// knows Azurite's well-known development account, devstoreaccount1.
// Microsoft Entra ID (managed identity) credentials are not supported yet.
//
// Blobs up to the block size go up in one Put Blob; larger ones as staged
// blocks committed by one Put Block List at the end, so a failed Put leaves
// the blob as it was (Azure drops uncommitted blocks after a week). The
// SDK's own retries are off: tiering.Store retries whole operations.
package azurestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
)

// Name is the provider name; its URL scheme is "azblob".
const Name = "azure"

func init() {
	tiering.Register(tiering.Provider{
		Name:        Name,
		Schemes:     []string{"azblob"},
		Description: "Azure Blob Storage: azblob://container/prefix?account=NAME (Azurite: connection_string=UseDevelopmentStorage=true)",
		NewConfig:   func() tiering.Config { return NewConfig() },
		FromURL:     func(u *url.URL) (tiering.Config, error) { return FromURL(u) },
		Open: func(_ context.Context, cfg tiering.Config) (driver.Bucket, error) {
			return Open(cfg.(*Config)) // the registry checks the type
		},
	})
}

type bucket struct {
	container   *container.Client
	blockSize   int64
	concurrency int
}

// Open returns the container cfg describes. It makes no request.
func Open(cfg *Config) (driver.Bucket, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	client, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return &bucket{
		container:   client.ServiceClient().NewContainerClient(cfg.Container),
		blockSize:   cfg.BlockSize,
		concurrency: cfg.Concurrency,
	}, nil
}

// NewClient returns a service client configured as Open configures the
// driver's, for tools and tests that need other calls (CreateContainer).
func NewClient(cfg *Config) (*azblob.Client, error) {
	// tiering.Store owns retries: one try per call.
	opts := &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}}
	connStr := cfg.ConnectionString
	if connStr == "" && cfg.Account == "" && cfg.Endpoint == "" && os.Getenv("AZURE_STORAGE_ACCOUNT") == "" {
		connStr = os.Getenv("AZURE_STORAGE_CONNECTION_STRING")
	}
	if connStr != "" {
		if strings.EqualFold(strings.TrimSuffix(strings.TrimSpace(connStr), ";"), "UseDevelopmentStorage=true") {
			connStr = DevConnectionString("127.0.0.1:10000")
		}
		c, err := azblob.NewClientFromConnectionString(connStr, opts)
		if err != nil {
			return nil, fmt.Errorf("azurestore: connection string: %w", err)
		}
		return c, nil
	}
	account := cfg.Account
	if account == "" {
		account = os.Getenv("AZURE_STORAGE_ACCOUNT")
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		if account == "" {
			return nil, errors.New("azurestore: no account: set account or endpoint")
		}
		endpoint = "https://" + account + ".blob.core.windows.net/"
	}
	if account == "" {
		// Azurite and other path-style endpoints name the account in the path.
		if u, err := url.Parse(endpoint); err == nil {
			account = strings.Trim(u.Path, "/")
		}
	}
	if cfg.SASToken != "" {
		u := strings.TrimSuffix(endpoint, "/") + "/?" + strings.TrimPrefix(cfg.SASToken, "?")
		c, err := azblob.NewClientWithNoCredential(u, opts)
		if err != nil {
			return nil, fmt.Errorf("azurestore: %w", err)
		}
		return c, nil
	}
	key := cfg.AccountKey
	if key == "" {
		key = os.Getenv("AZURE_STORAGE_KEY")
	}
	if key == "" && account == DevAccount {
		key = DevKey
	}
	if key == "" {
		return nil, errors.New("azurestore: no credentials: set account_key, sas_token or connection_string " +
			"(or AZURE_STORAGE_KEY or AZURE_STORAGE_CONNECTION_STRING); Entra ID credentials are not supported yet")
	}
	cred, err := azblob.NewSharedKeyCredential(account, key)
	if err != nil {
		return nil, fmt.Errorf("azurestore: shared key: %w", err)
	}
	c, err := azblob.NewClientWithSharedKeyCredential(endpoint, cred, opts)
	if err != nil {
		return nil, fmt.Errorf("azurestore: %w", err)
	}
	return c, nil
}

// errTooLong marks a reader that yields more bytes than the size given.
var errTooLong = errors.New("azurestore: the reader has more bytes than the size given")

func (b *bucket) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	// Read up to one block first: a blob that fits goes up in one Put Blob
	// from memory, so a failing reader never starts a request.
	bufSize := b.blockSize
	if size >= 0 && size < b.blockSize {
		bufSize = size + 1
	}
	buf := make([]byte, bufSize)
	n, err := io.ReadFull(r, buf)
	bb := b.container.NewBlockBlobClient(key)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		_, err := bb.Upload(ctx, streaming.NopCloser(bytes.NewReader(buf[:n])), nil)
		return err
	case err != nil:
		return fmt.Errorf("azurestore: put %q: %w", key, err)
	case size >= 0 && size < b.blockSize:
		return fmt.Errorf("%w: more than %d bytes", errTooLong, size)
	}
	// Staged blocks, committed only if every block and the reader succeed.
	_, err = bb.UploadStream(ctx, io.MultiReader(bytes.NewReader(buf), r), &blockblob.UploadStreamOptions{
		BlockSize: b.blockSize, Concurrency: b.concurrency,
	})
	if err == nil {
		err = ctx.Err() // UploadStream may not notice a cancel between blocks
	}
	return err
}

func (b *bucket) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	opts := &blob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: offset}}
	if length > 0 {
		opts.Range.Count = length
	}
	resp, err := b.container.NewBlobClient(key).DownloadStream(ctx, opts)
	if err != nil {
		// 416: the blob exists (a missing one is 404) and the range starts
		// at or past its end.
		if bloberror.HasCode(err, bloberror.InvalidRange) {
			return io.NopCloser(bytes.NewReader(nil)), nil
		}
		return nil, err
	}
	return resp.Body, nil
}

func (b *bucket) Stat(ctx context.Context, key string) (driver.Attributes, error) {
	p, err := b.container.NewBlobClient(key).GetProperties(ctx, nil)
	if err != nil {
		return driver.Attributes{}, err
	}
	a := driver.Attributes{Size: deref(p.ContentLength), ModTime: deref(p.LastModified)}
	if p.ETag != nil {
		a.ETag = string(*p.ETag)
	}
	return a, nil
}

func (b *bucket) Delete(ctx context.Context, key string) error {
	_, err := b.container.NewBlobClient(key).Delete(ctx, nil)
	if bloberror.HasCode(err, bloberror.BlobNotFound) {
		return nil
	}
	return err
}

func (b *bucket) List(ctx context.Context, prefix string, fn func(driver.Object) error) error {
	pager := b.container.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{
		Prefix: &prefix, MaxResults: to.Ptr(int32(1000)),
	})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return err
		}
		if page.Segment == nil {
			continue
		}
		for _, it := range page.Segment.BlobItems {
			o := driver.Object{Key: deref(it.Name)}
			if p := it.Properties; p != nil {
				o.Size, o.ModTime = deref(p.ContentLength), deref(p.LastModified)
				if p.ETag != nil {
					o.ETag = string(*p.ETag)
				}
			}
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

// ErrorKind classifies by Azure error code, then by HTTP status, then by
// network failure.
func (b *bucket) ErrorKind(err error) driver.Kind {
	switch {
	case errors.Is(err, errTooLong):
		return driver.InvalidArgument
	case bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound, bloberror.ResourceNotFound):
		return driver.NotFound
	case bloberror.HasCode(err, bloberror.ServerBusy):
		return driver.Throttled
	case bloberror.HasCode(err, bloberror.AuthenticationFailed, bloberror.AuthorizationFailure,
		bloberror.AuthorizationPermissionMismatch, bloberror.InsufficientAccountPermissions, bloberror.AccountIsDisabled):
		return driver.PermissionDenied
	case bloberror.HasCode(err, bloberror.InternalError, bloberror.OperationTimedOut):
		return driver.Transient
	case bloberror.HasCode(err, bloberror.InvalidRange, bloberror.InvalidBlobOrBlock, bloberror.InvalidBlockList,
		bloberror.InvalidHeaderValue, bloberror.InvalidQueryParameterValue, bloberror.RequestBodyTooLarge):
		return driver.InvalidArgument
	}
	if re, ok := errors.AsType[*azcore.ResponseError](err); ok {
		switch s := re.StatusCode; {
		case s == 404:
			return driver.NotFound
		case s == 401 || s == 403:
			return driver.PermissionDenied
		case s == 429 || s == 503:
			return driver.Throttled
		case s == 408 || s >= 500:
			return driver.Transient
		case s == 400 || s == 411 || s == 413 || s == 416:
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

func (b *bucket) Close() error { return nil }

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

var _ driver.Bucket = (*bucket)(nil)

// Package s3store is the Amazon S3 tiering backend (aws-sdk-go-v2). It
// registers two providers: "s3" (s3://bucket/prefix, AWS and any
// S3-compatible endpoint) and "minio" (minio://host:port/bucket/prefix, the
// same driver with path-style requests and a local endpoint by default).
//
// Objects up to the part size take one PutObject; larger ones (and any of
// unknown size that outgrows one part) a multipart upload whose parts go up
// concurrently and which is aborted on any failure, so a failed Put leaves
// nothing visible. The SDK's own retries are off: tiering.Store retries
// whole operations with backoff, and two retry loops would multiply.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/sync/errgroup"

	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
)

// Provider names.
const (
	Name      = "s3"
	MinIOName = "minio"
)

func init() {
	tiering.Register(tiering.Provider{
		Name:        Name,
		Schemes:     []string{"s3"},
		Description: "Amazon S3 and S3-compatible stores: s3://bucket/prefix?region=…&endpoint=…&path_style=true",
		NewConfig:   func() tiering.Config { return NewConfig() },
		FromURL:     func(u *url.URL) (tiering.Config, error) { return FromURL(u) },
		Open:        openProvider,
	})
	tiering.Register(tiering.Provider{
		Name:        MinIOName,
		Schemes:     []string{"minio"},
		Description: "MinIO (S3 API, path-style): minio://host:port/bucket/prefix?secure=false",
		NewConfig:   func() tiering.Config { return NewMinIOConfig() },
		FromURL:     func(u *url.URL) (tiering.Config, error) { return MinIOFromURL(u) },
		Open:        openProvider,
	})
}

func openProvider(ctx context.Context, cfg tiering.Config) (driver.Bucket, error) {
	return Open(ctx, cfg.(*Config)) // the registry checks the type
}

type bucket struct {
	client      *s3.Client
	transport   *http.Transport
	name        string
	partSize    int64
	concurrency int
	checksums   bool
	bufs        sync.Pool // *[]byte of partSize
}

// Open returns the bucket cfg describes. It makes no request: a wrong
// bucket or wrong credentials show on the first operation.
func Open(ctx context.Context, cfg *Config) (driver.Bucket, error) {
	client, tr, err := newClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	b := &bucket{
		client: client, transport: tr, name: cfg.Bucket, partSize: cfg.PartSize,
		concurrency: cfg.Concurrency, checksums: checksums(cfg),
	}
	b.bufs.New = func() any {
		buf := make([]byte, b.partSize)
		return &buf
	}
	return b, nil
}

// NewClient returns an S3 client configured as Open configures the
// driver's, for tools and tests that need other S3 calls (CreateBucket).
func NewClient(ctx context.Context, cfg *Config) (*s3.Client, error) {
	c, _, err := newClient(ctx, cfg)
	return c, err
}

func checksums(cfg *Config) bool {
	return cfg.Checksums == "when_supported" || (cfg.Checksums == "" && cfg.Endpoint == "")
}

func newClient(ctx context.Context, cfg *Config) (*s3.Client, *http.Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	opts := []func(*config.LoadOptions) error{
		// tiering.Store owns retries (see the package comment).
		config.WithRetryMaxAttempts(1),
	}
	region := cfg.Region
	if region == "" && cfg.Endpoint != "" {
		region = "us-east-1"
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("s3store: load AWS config: %w", err)
	}
	// An own transport (from the SDK's, which has AWS_CA_BUNDLE applied),
	// so that Close can drop its connections, with enough idle connections
	// per host for concurrent part uploads.
	var tr *http.Transport
	if bc, ok := awsCfg.HTTPClient.(*awshttp.BuildableClient); ok {
		tr = bc.GetTransport()
	} else {
		tr = http.DefaultTransport.(*http.Transport).Clone() // the stdlib's type
	}
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 256, 64
	awsCfg.HTTPClient = &http.Client{Transport: tr}
	if awsCfg.Region == "" {
		return nil, nil, errors.New("s3store: no region: set region (s3://bucket?region=eu-west-1) or AWS_REGION")
	}
	sum := checksums(cfg)
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		if sum {
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenSupported
		} else {
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	return client, tr, nil
}

// errTooLong marks a reader that yields more bytes than the size given.
var errTooLong = errors.New("s3store: the reader has more bytes than the size given")

func (b *bucket) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if size >= 0 && size < b.partSize {
		buf := make([]byte, size+1)
		n, err := io.ReadFull(r, buf)
		switch {
		case err == nil:
			return errTooLong
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return b.putObject(ctx, key, buf[:n])
		default:
			return err
		}
	}
	first := b.bufs.Get().(*[]byte) // the pool holds nothing else
	n, err := io.ReadFull(r, *first)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		defer b.bufs.Put(first)
		return b.putObject(ctx, key, (*first)[:n])
	case err != nil:
		b.bufs.Put(first)
		return err
	}
	return b.multipart(ctx, key, r, first)
}

func (b *bucket) putObject(ctx context.Context, key string, data []byte) error {
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &b.name,
		Key:           &key,
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	})
	return err
}

// multipart uploads first and the rest of r as parts of one multipart
// upload, Concurrency parts at a time, and aborts the upload on any error.
func (b *bucket) multipart(ctx context.Context, key string, r io.Reader, first *[]byte) (err error) {
	in := &s3.CreateMultipartUploadInput{Bucket: &b.name, Key: &key}
	if b.checksums {
		in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32
	}
	up, err := b.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		b.bufs.Put(first)
		return err
	}
	defer func() {
		if err != nil {
			// Abort even if ctx ended, so no parts linger (and cost) in the bucket.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_, _ = b.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &b.name, Key: &key, UploadId: up.UploadId})
		}
	}()

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.concurrency)
	var (
		mu    sync.Mutex
		parts []types.CompletedPart
	)
	upload := func(num int32, buf *[]byte, n int) {
		g.Go(func() error {
			defer b.bufs.Put(buf)
			out, err := b.client.UploadPart(gctx, &s3.UploadPartInput{
				Bucket: &b.name, Key: &key, UploadId: up.UploadId, PartNumber: aws.Int32(num),
				Body: bytes.NewReader((*buf)[:n]), ContentLength: aws.Int64(int64(n)),
			})
			if err != nil {
				return fmt.Errorf("part %d: %w", num, err)
			}
			mu.Lock()
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
			mu.Unlock()
			return nil
		})
	}
	upload(1, first, len(*first))
	var readErr error
	for num := int32(2); gctx.Err() == nil; num++ {
		if num > 10_000 {
			readErr = fmt.Errorf("s3store: %q needs more than 10,000 parts of %d bytes: raise part_size", key, b.partSize)
			break
		}
		buf := b.bufs.Get().(*[]byte) // the pool holds nothing else
		n, err := io.ReadFull(r, *buf)
		if n > 0 {
			upload(num, buf, n)
		} else {
			b.bufs.Put(buf)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if readErr != nil {
		return readErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	_, err = b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &b.name, Key: &key, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	return err
}

func (b *bucket) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: &b.name, Key: &key}
	switch {
	case length >= 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		// 416: the object exists (a missing one is 404) and the range
		// starts at or past its end.
		if ae, ok := errors.AsType[smithy.APIError](err); ok && ae.ErrorCode() == "InvalidRange" {
			return io.NopCloser(bytes.NewReader(nil)), nil
		}
		return nil, err
	}
	return out.Body, nil
}

func (b *bucket) Stat(ctx context.Context, key string) (driver.Attributes, error) {
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.name, Key: &key})
	if err != nil {
		return driver.Attributes{}, err
	}
	return driver.Attributes{
		Size:    aws.ToInt64(out.ContentLength),
		ModTime: aws.ToTime(out.LastModified),
		ETag:    aws.ToString(out.ETag),
	}, nil
}

func (b *bucket) Delete(ctx context.Context, key string) error {
	_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.name, Key: &key})
	if err != nil && b.ErrorKind(err) == driver.NotFound {
		if ae, ok := errors.AsType[smithy.APIError](err); !ok || ae.ErrorCode() != "NoSuchBucket" {
			return nil
		}
	}
	return err
}

func (b *bucket) List(ctx context.Context, prefix string, fn func(driver.Object) error) error {
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket: &b.name, Prefix: &prefix, MaxKeys: aws.Int32(1000),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			obj := driver.Object{Key: aws.ToString(o.Key), Attributes: driver.Attributes{
				Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified), ETag: aws.ToString(o.ETag),
			}}
			if err := fn(obj); err != nil {
				return err
			}
		}
	}
	return nil
}

// ErrorKind classifies by S3 error code first, then by HTTP status, then
// by network failure.
func (b *bucket) ErrorKind(err error) driver.Kind {
	if errors.Is(err, errTooLong) {
		return driver.InvalidArgument
	}
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchBucket", "NoSuchUpload":
			return driver.NotFound
		case "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests",
			"RequestThrottled", "RequestThrottledException", "ProvisionedThroughputExceededException":
			return driver.Throttled
		case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
			"AccountProblem", "AllAccessDisabled", "Forbidden":
			return driver.PermissionDenied
		case "InternalError", "ServiceUnavailable", "RequestTimeout", "RequestTimeTooSkewed", "OperationAborted":
			return driver.Transient
		case "InvalidArgument", "InvalidRange", "KeyTooLongError", "InvalidBucketName", "EntityTooLarge",
			"EntityTooSmall", "InvalidPart", "InvalidPartOrder", "MalformedXML":
			return driver.InvalidArgument
		}
	}
	if re, ok := errors.AsType[*awshttp.ResponseError](err); ok {
		switch s := re.HTTPStatusCode(); {
		case s == 404:
			return driver.NotFound
		case s == 401 || s == 403:
			return driver.PermissionDenied
		case s == 429 || s == 503:
			return driver.Throttled
		case s >= 500:
			return driver.Transient
		case s == 400 || s == 411 || s == 413 || s == 416:
			return driver.InvalidArgument
		}
	}
	if _, ok := errors.AsType[*smithyhttp.RequestSendError](err); ok {
		return driver.Transient
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return driver.Transient
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return driver.Transient
	}
	return driver.Unknown
}

func (b *bucket) Close() error {
	b.transport.CloseIdleConnections()
	return nil
}

var _ driver.Bucket = (*bucket)(nil)

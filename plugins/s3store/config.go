package s3store

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/chronik-go/chronik/tiering"
)

// Config is the S3 backend's configuration, for AWS and for S3-compatible
// stores (MinIO, Ceph RGW, versitygw, R2, …).
type Config struct {
	// Bucket is the bucket name (required).
	Bucket string `toml:"bucket"`
	// Prefix is the key prefix inside the bucket.
	Prefix string `toml:"prefix"`
	// Region is the bucket's region. Empty: the standard chain (AWS_REGION,
	// the shared config file); with a custom Endpoint, "us-east-1".
	Region string `toml:"region"`
	// Endpoint is the URL of an S3-compatible service
	// ("http://127.0.0.1:9000"); empty for AWS.
	Endpoint string `toml:"endpoint"`
	// PathStyle addresses buckets as endpoint/bucket instead of
	// bucket.endpoint, as most S3-compatible services need.
	PathStyle bool `toml:"path_style"`
	// AccessKeyID and SecretAccessKey (and SessionToken) are static
	// credentials. Empty: the standard AWS chain (environment, shared files,
	// web identity, ECS/EC2 roles).
	AccessKeyID     string `toml:"access_key_id"`
	SecretAccessKey string `toml:"secret_access_key"`
	SessionToken    string `toml:"session_token"`
	// PartSize is the multipart upload part size; objects up to it take one
	// PUT. Default 8 MiB; S3 allows 5 MiB to 5 GiB and 10,000 parts.
	PartSize int64 `toml:"part_size"`
	// Concurrency is how many parts of one object upload at once (default 4);
	// an upload buffers up to Concurrency+1 parts in memory.
	Concurrency int `toml:"concurrency"`
	// Checksums is "when_supported" (send CRC32 checksums with every upload,
	// AWS's default) or "when_required" (only where an API demands one, for
	// stores that reject checksum headers). Empty: when_supported for AWS,
	// when_required with a custom Endpoint.
	Checksums string `toml:"checksums"`
}

const (
	minPartSize     = 5 << 20
	maxPartSize     = 5 << 30
	defaultPartSize = 8 << 20
)

// NewConfig returns the defaults for AWS.
func NewConfig() *Config {
	return &Config{PartSize: defaultPartSize, Concurrency: 4}
}

// NewMinIOConfig returns the defaults of the "minio" provider: path-style
// requests to https://localhost:9000 in region us-east-1.
func NewMinIOConfig() *Config {
	c := NewConfig()
	c.Endpoint = "https://localhost:9000"
	c.PathStyle = true
	c.Region = "us-east-1"
	return c
}

// FromURL parses s3://bucket/prefix?region=…&endpoint=…&path_style=true
// (and access_key_id, secret_access_key, session_token, part_size,
// concurrency, checksums).
func FromURL(u *url.URL) (*Config, error) {
	c := NewConfig()
	c.Bucket = u.Host
	c.Prefix = strings.Trim(u.Path, "/")
	q := tiering.NewQuery(u)
	q.String("endpoint", &c.Endpoint)
	q.Bool("path_style", &c.PathStyle)
	if err := c.common(q); err != nil {
		return nil, err
	}
	return c, nil
}

// MinIOFromURL parses minio://host:port/bucket/prefix?secure=false (and
// region, access_key_id, secret_access_key, session_token, part_size,
// concurrency, checksums). The host defaults to localhost:9000 and secure
// (https) to true.
func MinIOFromURL(u *url.URL) (*Config, error) {
	c := NewMinIOConfig()
	host := u.Host
	if host == "" {
		host = "localhost:9000"
	}
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	c.Bucket, c.Prefix = bucket, strings.Trim(prefix, "/")
	q := tiering.NewQuery(u)
	secure := true
	q.Bool("secure", &secure)
	scheme := "https"
	if !secure {
		scheme = "http"
	}
	c.Endpoint = scheme + "://" + host
	if err := c.common(q); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) common(q *tiering.Query) error {
	q.String("region", &c.Region)
	q.String("access_key_id", &c.AccessKeyID)
	q.String("secret_access_key", &c.SecretAccessKey)
	q.String("session_token", &c.SessionToken)
	q.Bytes("part_size", &c.PartSize)
	q.Int("concurrency", &c.Concurrency)
	q.String("checksums", &c.Checksums)
	return q.Err()
}

// Validate reports every problem in c.
func (c *Config) Validate() error {
	var errs []error
	if c.Bucket == "" {
		errs = append(errs, errors.New("bucket is empty: set it (s3://BUCKET/prefix, minio://host:port/BUCKET/prefix)"))
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("endpoint %q: want an http:// or https:// URL with a host", c.Endpoint))
		}
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		errs = append(errs, errors.New("set both access_key_id and secret_access_key, or neither to use the standard AWS credential chain"))
	}
	if c.PartSize < minPartSize || c.PartSize > maxPartSize {
		errs = append(errs, fmt.Errorf("part size %d: want 5 MiB to 5 GiB", c.PartSize))
	}
	if c.Concurrency < 1 || c.Concurrency > 64 {
		errs = append(errs, fmt.Errorf("concurrency %d: want 1 to 64", c.Concurrency))
	}
	switch c.Checksums {
	case "", "when_supported", "when_required":
	default:
		errs = append(errs, fmt.Errorf("checksums %q: want when_supported or when_required", c.Checksums))
	}
	return errors.Join(errs...)
}

// KeyPrefix implements tiering.Config.
func (c *Config) KeyPrefix() string { return c.Prefix }

package azurestore

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/chronik-go/chronik/tiering"
)

// Config is the Azure Blob backend's configuration.
type Config struct {
	// Container is the blob container (required).
	Container string `toml:"container"`
	// Prefix is the key prefix inside the container.
	Prefix string `toml:"prefix"`
	// Account is the storage account name. Default: AZURE_STORAGE_ACCOUNT.
	Account string `toml:"account"`
	// Endpoint is the blob service URL. Default:
	// https://ACCOUNT.blob.core.windows.net; for Azurite
	// http://127.0.0.1:10000/devstoreaccount1.
	Endpoint string `toml:"endpoint"`
	// AccountKey is the shared key. Default: AZURE_STORAGE_KEY, or for the
	// Azurite account devstoreaccount1 its well-known key.
	AccountKey string `toml:"account_key"`
	// SASToken is a shared access signature used instead of a key.
	SASToken string `toml:"sas_token"`
	// ConnectionString replaces Account, Endpoint, AccountKey and SASToken.
	// "UseDevelopmentStorage=true" is Azurite on 127.0.0.1:10000. Default:
	// AZURE_STORAGE_CONNECTION_STRING when no account is set.
	ConnectionString string `toml:"connection_string"`
	// BlockSize is the block size of uploads; blobs up to it take one
	// request. Default 8 MiB (Azure allows 50,000 blocks per blob).
	BlockSize int64 `toml:"block_size"`
	// Concurrency is how many blocks of one blob upload at once (default 4).
	Concurrency int `toml:"concurrency"`
}

// Azurite's well-known development account (public, documented by
// Microsoft; it grants access to nothing but a local emulator).
const (
	DevAccount = "devstoreaccount1"
	DevKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// DevConnectionString is the connection string of Azurite's blob service
// listening on host:port.
func DevConnectionString(hostPort string) string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=http://%s/%s;",
		DevAccount, DevKey, hostPort, DevAccount)
}

// NewConfig returns the defaults.
func NewConfig() *Config { return &Config{BlockSize: 8 << 20, Concurrency: 4} }

// FromURL parses azblob://container/prefix?account=…&endpoint=… (and
// account_key, sas_token, connection_string, block_size, concurrency).
func FromURL(u *url.URL) (*Config, error) {
	c := NewConfig()
	c.Container = u.Host
	c.Prefix = strings.Trim(u.Path, "/")
	q := tiering.NewQuery(u)
	q.String("account", &c.Account)
	q.String("endpoint", &c.Endpoint)
	q.String("account_key", &c.AccountKey)
	q.String("sas_token", &c.SASToken)
	q.String("connection_string", &c.ConnectionString)
	q.Bytes("block_size", &c.BlockSize)
	q.Int("concurrency", &c.Concurrency)
	if err := q.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate reports every problem in c, counting the AZURE_STORAGE_*
// environment variables that Open falls back to.
func (c *Config) Validate() error {
	var errs []error
	if c.Container == "" {
		errs = append(errs, errors.New("container is empty: set it (azblob://CONTAINER/prefix)"))
	}
	if c.ConnectionString == "" && c.Account == "" && c.Endpoint == "" &&
		os.Getenv("AZURE_STORAGE_ACCOUNT") == "" && os.Getenv("AZURE_STORAGE_CONNECTION_STRING") == "" {
		errs = append(errs, errors.New("no account: set account (azblob://container?account=NAME), endpoint or connection_string, or AZURE_STORAGE_ACCOUNT or AZURE_STORAGE_CONNECTION_STRING"))
	}
	if c.ConnectionString != "" && (c.Account != "" || c.Endpoint != "" || c.AccountKey != "" || c.SASToken != "") {
		errs = append(errs, errors.New("connection_string replaces account, endpoint, account_key and sas_token: set one or the other"))
	}
	if c.AccountKey != "" && c.SASToken != "" {
		errs = append(errs, errors.New("set account_key or sas_token, not both"))
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("endpoint %q: want an http:// or https:// URL with a host", c.Endpoint))
		}
	}
	if c.BlockSize < 1<<20 || c.BlockSize > 4000<<20 {
		errs = append(errs, fmt.Errorf("block size %d: want 1 MiB to 4000 MiB", c.BlockSize))
	}
	if c.Concurrency < 1 || c.Concurrency > 64 {
		errs = append(errs, fmt.Errorf("concurrency %d: want 1 to 64", c.Concurrency))
	}
	return errors.Join(errs...)
}

// KeyPrefix implements tiering.Config.
func (c *Config) KeyPrefix() string { return c.Prefix }

package opsctl

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/spf13/pflag"

	"github.com/chronik-go/chronik/core/adminhttp"
	"github.com/chronik-go/chronik/core/config"
)

// Admin reaches the brokers' admin APIs (their HTTP addresses).
type Admin struct {
	// Addrs are the addresses to try, host:port.
	Addrs []string
	// HTTP carries the scheme, the trusted CAs and the token.
	HTTP *adminhttp.Client
}

// AdminFlags are a command's settings for the brokers' admin API; what
// they leave unset comes from the broker config file (--config).
type AdminFlags struct {
	// Addrs is --http-addr, host:port[,host:port...].
	Addrs string
	// TLS (--http-tls) connects with https, trusting the system's CAs.
	TLS bool
	// CAFile (--http-ca-file, PEM) holds the CAs that signed the brokers'
	// HTTP certificates; it implies TLS.
	CAFile string
	// TokenFile (--http-token-file) holds the brokers' admin token.
	TokenFile string
}

// ResolveAdmin picks the brokers' admin addresses and how to call them.
// The addresses: --http-addr when given, else every [[nodes]] http address
// of the config file, else the single broker's http-addr (a wildcard host
// becomes 127.0.0.1), else 127.0.0.1:9644. TLS, the CA file and the token
// file: the flags, else the config file's http.tls-cert-file (https),
// http.tls-ca-file and http.token-file.
func ResolveAdmin(flags AdminFlags, configFile string, getenv func(string) string) (Admin, error) {
	var cfg *config.Config
	if strings.TrimSpace(flags.Addrs) == "" || configFile != "" || getenv(config.EnvName(config.FileFlag)) != "" {
		fs := pflag.NewFlagSet("http", pflag.ContinueOnError)
		fs.String(config.FileFlag, "", "")
		if configFile != "" {
			if err := fs.Set(config.FileFlag, configFile); err != nil {
				return Admin{}, invalidf("--config %q: %v", configFile, err)
			}
		}
		c, err := config.Load(fs, getenv)
		if err != nil {
			return Admin{}, failf(ErrInvalidInput, err, "reading the brokers' HTTP settings from the config: %v\nor name the addresses with --http-addr host:port[,…]", err)
		}
		cfg = &c
	}
	var a Admin
	var err error
	if strings.TrimSpace(flags.Addrs) != "" {
		if a.Addrs, err = ParseBrokers("--http-addr", flags.Addrs); err != nil {
			return Admin{}, err
		}
	} else if a.Addrs, err = configHTTPAddrs(cfg); err != nil {
		return Admin{}, err
	}
	opts := adminhttp.Options{TLS: flags.TLS, CAFile: flags.CAFile}
	tokenFile := flags.TokenFile
	if cfg != nil {
		opts.TLS = opts.TLS || cfg.HTTP.TLSCertFile != ""
		if opts.CAFile == "" {
			opts.CAFile = cfg.HTTP.TLSCAFile
		}
		if tokenFile == "" {
			tokenFile = cfg.HTTP.TokenFile
		}
	}
	if tokenFile != "" {
		token, err := adminhttp.ReadToken(tokenFile)
		if err != nil {
			return Admin{}, invalidf("the admin token (--http-token-file or http.token-file): %v", err)
		}
		opts.Token = func() string { return token }
	}
	if a.HTTP, err = adminhttp.NewClient(opts); err != nil {
		return Admin{}, invalidf("the brokers' HTTP CAs (--http-ca-file or http.tls-ca-file): %v", err)
	}
	return a, nil
}

// configHTTPAddrs is every [[nodes]] http address of cfg, else its
// http-addr with a wildcard host as 127.0.0.1.
func configHTTPAddrs(cfg *config.Config) ([]string, error) {
	var out []string
	for _, n := range cfg.Nodes {
		if n.HTTP != "" {
			out = append(out, n.HTTP)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	host, port, err := net.SplitHostPort(cfg.HTTPAddr)
	if err != nil {
		return nil, invalidf("http-addr %q: %v", cfg.HTTPAddr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return []string{net.JoinHostPort(host, port)}, nil
}

// statusError describes an admin API answer that is not a success, with
// what to do about a 401.
func statusError(what string, resp *http.Response) error {
	if resp.StatusCode == http.StatusUnauthorized {
		return failf(ErrRejected, nil, "%s: %s — the brokers require their admin token (http.token-file): pass --http-token-file, or --config with the brokers' config file", what, resp.Status)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if msg := strings.TrimSpace(string(body)); msg != "" && resp.StatusCode == http.StatusBadRequest && strings.Contains(msg, "HTTPS server") {
		return failf(ErrRejected, nil, "%s: the broker serves https: pass --http-tls (and --http-ca-file for a private CA), or --config with the brokers' config file", what)
	}
	return fmt.Errorf("%s: %s", what, resp.Status)
}

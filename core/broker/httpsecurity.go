package broker

import (
	"fmt"
	"log/slog"

	"github.com/chronik-go/chronik/core/adminhttp"
	"github.com/chronik-go/chronik/core/config"
	"github.com/chronik-go/chronik/core/telemetry"
)

// httpSecurity returns how the HTTP address is served (http.tls-* and
// http.token-file) and the client this broker calls the other brokers'
// admin APIs with, which need the same settings. The files are loaded now,
// so a bad one fails start-up, and again when they change.
func httpSecurity(h config.HTTPConfig, log *slog.Logger) (telemetry.HTTPOptions, *adminhttp.Client, error) {
	var opts telemetry.HTTPOptions
	var err error
	if opts.TLS, err = listenerTLS("http", h.TLSCertFile, h.TLSKeyFile, log); err != nil {
		return opts, nil, err
	}
	if h.TokenFile != "" {
		token, err := newReloaded("http.token-file", log, func() (string, error) { return adminhttp.ReadToken(h.TokenFile) }, h.TokenFile)
		if err != nil {
			return opts, nil, fmt.Errorf("http.token-file: %w", err)
		}
		opts.Token = token.get
	}
	client, err := adminhttp.NewClient(adminhttp.Options{TLS: opts.TLS != nil, CAFile: h.TLSCAFile, Token: opts.Token})
	if err != nil {
		return opts, nil, fmt.Errorf("http.tls-ca-file: %w", err)
	}
	return opts, client, nil
}

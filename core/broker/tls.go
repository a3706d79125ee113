package broker

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"

	"github.com/chronik-go/chronik/core/config"
)

// kafkaTLS returns the Kafka listener's TLS settings, nil when
// kafka.tls-cert-file is unset. With kafka.tls-client-ca-file every client
// must present a certificate signed by one of its CAs.
func kafkaTLS(k config.KafkaConfig, log *slog.Logger) (*tls.Config, error) {
	c, err := listenerTLS("kafka", k.TLSCertFile, k.TLSKeyFile, log)
	if c == nil || err != nil {
		return c, err
	}
	if k.TLSClientCAFile != "" {
		pool, err := loadCAPool("kafka.tls-client-ca-file", k.TLSClientCAFile)
		if err != nil {
			return nil, err
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// listenerTLS returns the TLS settings of a listener whose certificate is
// in the section's tls-cert-file and tls-key-file, nil when they are unset.
// The certificate is loaded now, so a bad file fails start-up, and again
// when its files change (a renewed certificate needs no restart).
func listenerTLS(section, certFile, keyFile string, log *slog.Logger) (*tls.Config, error) {
	if certFile == "" {
		return nil, nil
	}
	cert, err := newReloaded(section+" TLS certificate", log, func() (*tls.Certificate, error) {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("%s, %s: %w", certFile, keyFile, err)
		}
		return &c, nil
	}, certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("%s.tls-cert-file/%s.tls-key-file: %w", section, section, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return cert.get(), nil
	}}, nil
}

// checkRaftTLS loads the raft.tls-* files the way Dragonboat will, so that
// a bad one fails start-up with a message naming the setting.
func checkRaftTLS(r config.RaftConfig) error {
	if r.TLSCAFile == "" {
		return nil
	}
	if _, err := tls.LoadX509KeyPair(r.TLSCertFile, r.TLSKeyFile); err != nil {
		return fmt.Errorf("raft TLS certificate (raft.tls-cert-file %s, raft.tls-key-file %s): %w", r.TLSCertFile, r.TLSKeyFile, err)
	}
	_, err := loadCAPool("raft.tls-ca-file", r.TLSCAFile)
	return err
}

// loadCAPool reads a PEM CA bundle named by setting.
func loadCAPool(setting, path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s %s holds no PEM certificate", setting, path)
	}
	return pool, nil
}

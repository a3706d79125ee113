package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/chronik-go/chronik/core/config"
)

// kafkaTLS returns the Kafka listener's TLS settings, nil when
// kafka.tls-cert-file is unset. The certificate is loaded now, so a bad
// file fails start-up, and again when its files change (a renewed
// certificate needs no restart). With kafka.tls-client-ca-file every client
// must present a certificate signed by one of its CAs.
func kafkaTLS(k config.KafkaConfig, log *slog.Logger) (*tls.Config, error) {
	if k.TLSCertFile == "" {
		return nil, nil
	}
	cf := &certFiles{cert: k.TLSCertFile, key: k.TLSKeyFile, log: log}
	if err := cf.load(); err != nil {
		return nil, err
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cf.get}
	if k.TLSClientCAFile != "" {
		pem, err := os.ReadFile(k.TLSClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls-client-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka.tls-client-ca-file %s holds no PEM certificate", k.TLSClientCAFile)
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// certReloadCheck is how often a handshake looks at the certificate files'
// modification times.
const certReloadCheck = time.Second

// certFiles serves a certificate from a PEM certificate and key file pair,
// reloading it when either file changes. A pair that fails to load (say,
// half written) leaves the previous certificate in use.
type certFiles struct {
	cert, key string
	log       *slog.Logger

	mu      sync.Mutex
	current *tls.Certificate
	mod     time.Time // the newer of the two files' times when loaded
	checked time.Time
}

func (f *certFiles) modTime() (time.Time, error) {
	c, err1 := os.Stat(f.cert)
	k, err2 := os.Stat(f.key)
	if err := errors.Join(err1, err2); err != nil {
		return time.Time{}, err
	}
	if k.ModTime().After(c.ModTime()) {
		return k.ModTime(), nil
	}
	return c.ModTime(), nil
}

func (f *certFiles) load() error {
	mod, err := f.modTime()
	if err != nil {
		return fmt.Errorf("kafka TLS certificate: %w", err)
	}
	c, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		return fmt.Errorf("kafka TLS certificate (kafka.tls-cert-file %s, kafka.tls-key-file %s): %w", f.cert, f.key, err)
	}
	f.mu.Lock()
	f.current, f.mod, f.checked = &c, mod, time.Now()
	f.mu.Unlock()
	return nil
}

func (f *certFiles) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	due := time.Since(f.checked) >= certReloadCheck
	if due {
		f.checked = time.Now()
	}
	current, mod := f.current, f.mod
	f.mu.Unlock()
	if due {
		if m, err := f.modTime(); err == nil && !m.Equal(mod) {
			if err := f.load(); err != nil {
				f.mu.Lock()
				f.mod = m // warn once per change, not at every handshake
				f.mu.Unlock()
				f.log.Warn("kafka TLS certificate changed but does not load; serving the previous one", "err", err)
			} else {
				f.log.Info("kafka TLS certificate reloaded", "cert", f.cert)
				f.mu.Lock()
				current = f.current
				f.mu.Unlock()
			}
		}
	}
	return current, nil
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
	pem, err := os.ReadFile(r.TLSCAFile)
	if err != nil {
		return fmt.Errorf("raft.tls-ca-file: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		return fmt.Errorf("raft.tls-ca-file %s holds no PEM certificate", r.TLSCAFile)
	}
	return nil
}

package opsctl

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// TLSFiles says how a command connects to a cluster whose Kafka listeners
// speak TLS (kafka.tls-cert-file on the brokers).
type TLSFiles struct {
	// Enabled turns TLS on with the system's trusted CAs; any of the files
	// below turns it on too.
	Enabled bool
	// CAFile (PEM) holds the CAs that signed the brokers' certificates.
	CAFile string
	// CertFile and KeyFile (PEM) are this client's certificate, for brokers
	// that require one (kafka.tls-client-ca-file).
	CertFile, KeyFile string
}

// Config returns the TLS settings, nil for a plaintext connection.
func (t TLSFiles) Config() (*tls.Config, error) {
	if !t.Enabled && t.CAFile == "" && t.CertFile == "" && t.KeyFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, invalidf("--tls-ca-file: %v", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, invalidf("--tls-ca-file %s holds no PEM certificate", t.CAFile)
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, invalidf("--tls-cert-file and --tls-key-file go together")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, invalidf("--tls-cert-file/--tls-key-file: %v", fmt.Sprint(err))
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

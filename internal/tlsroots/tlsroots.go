// Package tlsroots reads the certificates an operator adds to the
// system's roots (a ca_file setting): for a private CA, or a proxy that
// inspects TLS, in front of an upstream or a tracker.
package tlsroots

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// FromFile returns the system's roots with the certificates of the PEM
// file at path added. A file that cannot be read, or that holds no
// certificate, is an error naming it.
func FromFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool() // no system roots here: the file's alone
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return roots, nil
}

// Config is the TLS client config of a ca_file setting: nil for no file
// (the system's roots, Go's defaults), else the roots FromFile returns.
func Config(caFile string) (*tls.Config, error) {
	if caFile == "" {
		return nil, nil
	}
	roots, err := FromFile(caFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: roots}, nil
}

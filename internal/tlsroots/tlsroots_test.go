package tlsroots

import (
	"crypto/x509"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFromFile(t *testing.T) {
	srv := httptest.NewTLSServer(nil)
	defer srv.Close()
	dir := t.TempDir()
	good := filepath.Join(dir, "ca.pem")
	os.WriteFile(good, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	notPEM := filepath.Join(dir, "key.txt")
	os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600)

	if c, err := Config(""); c != nil || err != nil {
		t.Errorf(`Config("") = %v, %v; want nil, nil: the system's roots`, c, err)
	}
	roots, err := FromFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Certificate().Verify(x509.VerifyOptions{Roots: roots, DNSName: "example.com"}); err != nil {
		t.Errorf("the file's certificate is not trusted: %v", err)
	}
	for _, c := range []struct{ path, want string }{
		{notPEM, "key.txt holds no PEM certificate"},
		{filepath.Join(dir, "missing.pem"), "missing.pem: no such file"},
	} {
		if _, err := FromFile(c.path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("FromFile(%s) = %v, want an error with %q", c.path, err, c.want)
		}
	}
}

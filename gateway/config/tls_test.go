package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/internal/testcert"
)

// TestServerTLSReload: a listener's certificate is read again when its
// files change, and a pair that does not load keeps the previous one.
func TestServerTLSReload(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "ca")
	certFile, keyFile := ca.Server(t).Write(t, dir, "srv")
	st := &ServerTLS{CertFile: certFile, KeyFile: keyFile}
	cfg, kp, err := st.tlsConfig()
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string {
		t.Helper()
		c, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.SerialNumber.String()
	}
	first := serial()

	// A new pair, with a later modification time.
	next := ca.Server(t)
	testcert.WriteFile(t, certFile, next.CertPEM)
	testcert.WriteFile(t, keyFile, next.KeyPEM)
	later := time.Now().Add(time.Minute)
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
	if got := serial(); got != first {
		t.Fatalf("reloaded within %v of the last check: serial %s, want %s", keyPairCheck, got, first)
	}
	forceCheck(kp)
	second := serial()
	if second == first {
		t.Fatal("the changed certificate was not reloaded")
	}

	// A half-written pair keeps the one in use.
	testcert.WriteFile(t, keyFile, []byte("not a key"))
	forceCheck(kp)
	if got := serial(); got != second {
		t.Errorf("a broken pair replaced the certificate: serial %s, want %s", got, second)
	}
}

// forceCheck makes the next GetCertificate look at the files.
func forceCheck(kp *keyPair) {
	kp.mu.Lock()
	kp.checked = time.Time{}
	kp.mu.Unlock()
}

// TestTLSConfigErrors: what Validate reports, with the key's line.
func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "ca")
	certFile, keyFile := ca.Server(t).Write(t, dir, "srv")
	caFile := ca.Write(t, dir, "ca")
	notPEM := filepath.Join(dir, "junk.pem")
	testcert.WriteFile(t, notPEM, []byte("junk"))
	missing := filepath.Join(dir, "missing.crt")

	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"listener without key", fmt.Sprintf(`
listeners:
  mcp:
    addr: 127.0.0.1:0
    tls: {cert_file: %q}
`, certFile), `test.yaml:5:10: listeners.mcp.tls: cert_file and key_file are both required`},
		{"listener with a missing file", fmt.Sprintf(`
listeners:
  grpc:
    addr: 127.0.0.1:0
    tls: {cert_file: %q, key_file: %q}
`, missing, keyFile), `listeners.grpc.tls: reading the certificate`},
		{"client CA not PEM", fmt.Sprintf(`
listeners:
  grpc:
    addr: 127.0.0.1:0
    tls: {cert_file: %q, key_file: %q, client_ca_file: %q}
`, certFile, keyFile, notPEM), `holds no PEM certificate`},
		{"upstream cert without key", fmt.Sprintf(`
listeners: {mcp: 127.0.0.1:0}
upstreams:
  u:
    endpoints: [127.0.0.1:1]
    tls: {ca_file: %q, cert_file: %q}
`, caFile, certFile), `test.yaml:6:10: upstreams.u.tls: cert_file and key_file go together`},
		{"upstream CA missing", fmt.Sprintf(`
listeners: {mcp: 127.0.0.1:0}
upstreams:
  u:
    endpoints: [127.0.0.1:1]
    tls: {ca_file: %q}
`, missing), `upstreams.u.tls: reading CA file`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("test.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse = %v, want an error containing %q", err, tc.want)
			}
		})
	}

	good := fmt.Sprintf(`
listeners:
  mcp: {addr: 127.0.0.1:0, tls: {cert_file: %q, key_file: %q, client_ca_file: %q}}
upstreams:
  u:
    endpoints: [127.0.0.1:1]
    tls: {ca_file: %q, cert_file: %q, key_file: %q, server_name: localhost}
`, certFile, keyFile, caFile, caFile, certFile, keyFile)
	c, err := Parse("test.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Upstreams[0].TLS.ServerName != "localhost" || c.Listeners.MCP.TLS.ClientCAFile != caFile {
		t.Errorf("parsed %+v / %+v", c.Upstreams[0].TLS, c.Listeners.MCP.TLS)
	}
}

package mcp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/mcp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mcp test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TLS on both sides: every shape works, the client verifies the server's
// certificate (by the dialed IP), and a client that does not trust it, or
// speaks plain MCP/1, gets nowhere.
func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	addr, _ := startUsers(t, mcp.WithTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}))

	exerciseShapes(t, dial(t, addr, mcp.WithTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13})))
	// With checksums too.
	exerciseShapes(t, dial(t, addr, mcp.WithTLS(&tls.Config{RootCAs: pool}), mcp.WithChecksums(true)))

	_, err := mcp.Dial(guardCtx(t), addr, mcp.WithTLS(&tls.Config{}))
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("Dial without trusting the certificate = %v, want UNAVAILABLE (TLS)", err)
	}

	// A plain client connects (TCP) but its calls fail: the server wants a
	// TLS handshake and closes the connection.
	plain := dial(t, addr, mcp.WithBackoff(mcp.Backoff{Base: time.Hour}))
	if _, err := callString(guardCtx(t), plain, "Echo", "x"); status.Code(err) != codes.Unavailable {
		t.Fatalf("plain call to a TLS server = %v, want UNAVAILABLE", err)
	}
}

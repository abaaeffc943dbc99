package mcp_test

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/internal/testcert"
	"github.com/mcpbridge/mcpbridge/mcp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TLS on both sides: every shape works, the client verifies the server's
// certificate (by the dialed IP), and a client that does not trust it, or
// speaks plain MCP/1, gets nowhere.
func TestTLS(t *testing.T) {
	ca := testcert.NewCA(t, "mcp test")
	cert, pool := ca.Server(t).TLS, ca.Pool
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

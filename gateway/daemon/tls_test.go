package daemon_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/internal/testcert"
	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
)

// TestTLS: every listener over TLS (the gRPC one requiring client
// certificates), and both upstreams reached over mutual TLS, through the
// real daemon: calls work end to end with certificates checked at each
// hop, and a client without the right credentials is refused.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "test CA")
	caFile := ca.Write(t, dir, "ca")
	srvCert, srvKey := ca.Server(t).Write(t, dir, "server")
	gwClient := ca.Client(t, "gateway")
	gwCert, gwKey := gwClient.Write(t, dir, "gateway-client")
	user := ca.Client(t, "user")

	// Backends that require the gateway's client certificate.
	backendTLS := &tls.Config{
		Certificates: []tls.Certificate{ca.Server(t).TLS},
		ClientCAs:    ca.Pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
	gl := listen(t)
	gsrv := grpc.NewServer(grpc.Creds(credentials.NewTLS(backendTLS)))
	userv1.RegisterUserServiceServer(gsrv, newSvc("g-tls"))
	reflection.Register(gsrv)
	go func() { _ = gsrv.Serve(gl) }()
	t.Cleanup(gsrv.Stop)
	ml := listen(t)
	msrv := mcp.NewServer(mcp.WithTLS(backendTLS))
	userv1.RegisterUserServiceServer(msrv, newSvc("m-tls"))
	go func() { _ = msrv.Serve(ml) }()
	t.Cleanup(func() { msrv.Close() })

	tlsKeys := fmt.Sprintf("cert_file: %q, key_file: %q", srvCert, srvKey)
	upTLS := fmt.Sprintf("{ca_file: %q, cert_file: %q, key_file: %q}", caFile, gwCert, gwKey)
	cfg := parseConfig(t, fmt.Sprintf(`
listeners:
  mcp: {addr: 127.0.0.1:0, tls: {%[1]s}}
  grpc: {addr: 127.0.0.1:0, tls: {%[1]s, client_ca_file: %[2]q}}
  http: {addr: 127.0.0.1:0, tls: {%[1]s}}
  admin: {addr: 127.0.0.1:0, tls: {%[1]s}}
upstreams:
  users-grpc: {endpoints: [%[3]s], tls: %[5]s}
  users-mcp: {protocol: mcp, endpoints: [%[4]s], tls: %[5]s}
routes:
  - id: to-mcp
    uri: lb://users-mcp
    predicates: [Path=/user.v1.UserService/**, "Header=x-upstream, mcp"]
  - id: to-grpc
    uri: lb://users-grpc
    predicates: [Path=/user.v1.UserService/**]
  - id: http
    uri: lb://users-grpc
    predicates: [Path=/v1/**]
`, tlsKeys, caFile, gl.Addr(), ml.Addr(), upTLS))
	d := startConfig(t, cfg)
	ctx := guardCtx(t)

	// gRPC front door, with the user's client certificate.
	gc, err := grpc.NewClient(d.Addr("grpc").String(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		RootCAs: ca.Pool, Certificates: []tls.Certificate{user.TLS},
	})))
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	// MCP front door.
	mc, err := mcp.Dial(ctx, d.Addr("mcp").String(), mcp.WithTLS(&tls.Config{RootCAs: ca.Pool}))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	for front, cc := range map[string]grpc.ClientConnInterface{"grpc": gc, "mcp": mc} {
		for up, want := range map[string]string{"grpc": "g-tls", "mcp": "m-tls"} {
			id, _, err := getUser(metadata.AppendToOutgoingContext(ctx, "x-upstream", up), userv1.NewUserServiceClient(cc), "1")
			if err != nil || id != want {
				t.Errorf("%s front door to %s upstream: backend %q, %v", front, up, id, err)
			}
		}
	}

	// HTTPS: the JSON front door (descriptors by reflection over mutual
	// TLS) and the admin endpoints.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}}
	defer hc.CloseIdleConnections()
	for _, url := range []string{
		"https://" + d.Addr("http").String() + "/v1/users/1",
		"https://" + d.Addr("admin").String() + "/healthz",
	} {
		resp, err := hc.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %s", url, resp.StatusCode, body)
		}
		if strings.Contains(url, "/v1/") && !strings.Contains(string(body), `"Alice"`) {
			t.Errorf("GET %s: %s", url, body)
		}
	}

	// Refused: no client certificate on the gRPC listener, plaintext on
	// the MCP one, an untrusted server certificate on the gateway's side.
	noCert, err := grpc.NewClient(d.Addr("grpc").String(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: ca.Pool})))
	if err != nil {
		t.Fatal(err)
	}
	defer noCert.Close()
	if _, err := userv1.NewUserServiceClient(noCert).GetUser(ctx, &userv1.UserRequest{UserId: "7"}); err == nil {
		t.Error("a gRPC client without a certificate got through")
	}
	plain, err := grpc.NewClient(d.Addr("grpc").String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := userv1.NewUserServiceClient(plain).GetUser(short, &userv1.UserRequest{UserId: "7"}); err == nil {
		t.Error("a plaintext gRPC client got through")
	}
	if pc, err := mcp.Dial(short, d.Addr("mcp").String()); err == nil {
		if _, err := userv1.NewUserServiceClient(pc).GetUser(short, &userv1.UserRequest{UserId: "7"}); err == nil {
			t.Error("a plaintext MCP client got through")
		}
		pc.Close()
	}
	other := testcert.NewCA(t, "other CA")
	if _, err := mcp.Dial(short, d.Addr("mcp").String(), mcp.WithTLS(&tls.Config{RootCAs: other.Pool})); err == nil {
		t.Error("an MCP client that trusts another CA connected")
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

package main

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/mcpbridge/mcpbridge/examples/userservice/users"
	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// exampleBackend is the example UserService the embedded default routes to,
// served in this process on gRPC (127.0.0.1:50051) and MCP (127.0.0.1:50052).
type exampleBackend struct {
	grpc *grpc.Server
	mcp  *mcp.Server
}

const (
	exampleGRPCAddr = "127.0.0.1:50051"
	exampleMCPAddr  = "127.0.0.1:50052"
)

func startExample(log *slog.Logger) (*exampleBackend, error) {
	gl, err := net.Listen("tcp", exampleGRPCAddr)
	if err != nil {
		return nil, fmt.Errorf("example UserService on %s: %w (is another mcpbridge running?)", exampleGRPCAddr, err)
	}
	ml, err := net.Listen("tcp", exampleMCPAddr)
	if err != nil {
		gl.Close()
		return nil, fmt.Errorf("example UserService on %s: %w", exampleMCPAddr, err)
	}
	svc := users.New()
	hs := health.NewServer()
	hs.SetServingStatus(userv1.UserService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	b := &exampleBackend{grpc: grpc.NewServer(), mcp: mcp.NewServer()}
	userv1.RegisterUserServiceServer(b.grpc, svc)
	healthpb.RegisterHealthServer(b.grpc, hs)
	reflection.Register(b.grpc)
	userv1.RegisterUserServiceServer(b.mcp, svc)
	healthpb.RegisterHealthServer(b.mcp, hs)
	go func() { _ = b.grpc.Serve(gl) }()
	go func() { _ = b.mcp.Serve(ml) }()
	log.Info("example UserService", "grpc", gl.Addr().String(), "mcp", ml.Addr().String())
	return b, nil
}

func (b *exampleBackend) stop() {
	b.grpc.Stop()
	_ = b.mcp.Close()
}

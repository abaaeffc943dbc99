// Command userservice serves the example user.v1.UserService (package
// examples/userservice/users) so that it can be reached over gRPC and,
// through mcpbridge, over MCP/1.
//
// Usage:
//
//	go run ./examples/userservice --grpc-addr 127.0.0.1:50051 --mcp-addr 127.0.0.1:7070
//
// Flags:
//
//	--grpc-addr  TCP address to serve gRPC on (default 127.0.0.1:50051; use
//	             port 0 to pick a free port)
//	--mcp-addr   TCP address to serve MCP/1 on (default 127.0.0.1:7070; use
//	             port 0 to pick a free port)
//
// One implementation serves both transports. The MCP/1 server (package mcp)
// serves the same generated service unchanged, plus health over MCP. The
// gRPC server also offers the standard health service (grpc.health.v1,
// reporting SERVING) and server reflection, so generic tools work against it:
//
//	grpcurl -plaintext 127.0.0.1:50051 list
//	grpcurl -plaintext -d '{"user_id":"1"}' 127.0.0.1:50051 user.v1.UserService/GetUser
//	grpc-health-probe -addr 127.0.0.1:50051
//
// Publish/subscribe: one in-process bus (pubsub.NewLocal) is served three
// ways, so every subscriber sees every publisher whatever its protocol: as
// MCP/1 SUBSCRIBE/UNSUBSCRIBE/PUBLISH frames on the MCP port (mcp.WithBus;
// mcp.Conn.Subscribe and Conn.Publish), and as the pubsub.v1.PubSub service
// (package pubsub/pubsubsvc) over both gRPC and MCP/1:
//
//	grpcurl -plaintext -d '{"filter":"orders/#"}' 127.0.0.1:50051 pubsub.v1.PubSub/Subscribe
//	grpcurl -plaintext -d '{"topic":"orders/eu/created","payload":"aGk="}' 127.0.0.1:50051 pubsub.v1.PubSub/Publish
//
// It prints each address it listens on to stdout ("grpc listening on ADDR",
// "mcp listening on ADDR"), logs to stderr, and on SIGINT or SIGTERM stops gracefully: health
// switches to NOT_SERVING and in-flight RPCs get shutdownTimeout to finish. A
// second signal kills the process at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/mcpbridge/mcpbridge/examples/userservice/users"
	"github.com/mcpbridge/mcpbridge/mcp"
	pubsubv1 "github.com/mcpbridge/mcpbridge/proto/pubsub/v1"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"github.com/mcpbridge/mcpbridge/pubsub"
	"github.com/mcpbridge/mcpbridge/pubsub/pubsubsvc"
)

// shutdownTimeout bounds the graceful stop; RPCs still running after it
// (for example an open Chat) are cancelled.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default behaviour so that a second
	// one terminates the process immediately.
	context.AfterFunc(ctx, stop)

	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "userservice:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done or a server fails. args are the command-line
// arguments without the program name; listen addresses are printed to
// stdout.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("userservice", flag.ContinueOnError)
	grpcAddr := fs.String("grpc-addr", "127.0.0.1:50051", "TCP `address` to serve gRPC on")
	mcpAddr := fs.String("mcp-addr", "127.0.0.1:7070", "TCP `address` to serve MCP/1 on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	svc := users.New()
	// One bus for every front door: MCP frames, and pubsub.v1.PubSub over
	// gRPC and MCP.
	bus := pubsub.NewLocal()
	defer bus.Close()
	pubsubSvc := pubsubsvc.New(bus)

	grpcLis, err := net.Listen("tcp", *grpcAddr)
	if err != nil {
		return fmt.Errorf("--grpc-addr: %w", err)
	}
	grpcServer := grpc.NewServer()
	userv1.RegisterUserServiceServer(grpcServer, svc)
	healthServer := health.NewServer() // overall status "" starts SERVING
	healthServer.SetServingStatus(userv1.UserService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(grpcServer, healthServer)
	pubsubv1.RegisterPubSubServer(grpcServer, pubsubSvc)
	reflection.Register(grpcServer)

	// Each server sends the result of its Serve here (one slot per server).
	errc := make(chan error, 2)
	go func() { errc <- grpcServer.Serve(grpcLis) }()
	fmt.Fprintf(stdout, "grpc listening on %s\n", grpcLis.Addr())
	slog.Info("serving gRPC", "addr", grpcLis.Addr().String())

	mcpLis, err := net.Listen("tcp", *mcpAddr)
	if err != nil {
		grpcServer.Stop()
		return fmt.Errorf("--mcp-addr: %w", err)
	}
	mcpServer := mcp.NewServer(mcp.WithBus(bus))
	userv1.RegisterUserServiceServer(mcpServer, svc)
	healthpb.RegisterHealthServer(mcpServer, healthServer)
	pubsubv1.RegisterPubSubServer(mcpServer, pubsubSvc)
	go func() { errc <- mcpServer.Serve(mcpLis) }()
	fmt.Fprintf(stdout, "mcp listening on %s\n", mcpLis.Addr())
	slog.Info("serving MCP/1", "addr", mcpLis.Addr().String())

	var serveErr error
	select {
	case <-ctx.Done():
		slog.Info("shutting down", "cause", context.Cause(ctx))
	case serveErr = <-errc:
		slog.Error("server failed; shutting down", "err", serveErr)
	}

	healthServer.Shutdown() // report NOT_SERVING while draining
	stopped := make(chan struct{})
	go func() {
		grpcServer.GracefulStop()
		close(stopped)
	}()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := mcpServer.Shutdown(sctx); err != nil {
		slog.Warn("MCP graceful stop timed out; closed remaining connections", "timeout", shutdownTimeout)
	}
	select {
	case <-stopped:
	case <-sctx.Done():
		slog.Warn("graceful stop timed out; cancelling remaining RPCs", "timeout", shutdownTimeout)
		grpcServer.Stop()
		<-stopped
	}
	slog.Info("stopped")
	return serveErr
}

package pubsubsvc_test

import (
	"net"

	"google.golang.org/grpc"

	"github.com/mcpbridge/mcpbridge/mcp"
	pubsubv1 "github.com/mcpbridge/mcpbridge/proto/pubsub/v1"
	"github.com/mcpbridge/mcpbridge/pubsub"
	"github.com/mcpbridge/mcpbridge/pubsub/pubsubsvc"
)

// One bus, served over gRPC as pubsub.v1.PubSub, and over MCP/1 both as the
// pub/sub frames (mcp.WithBus) and as pubsub.v1.PubSub.
func Example() {
	bus := pubsub.NewLocal()
	defer bus.Close()
	svc := pubsubsvc.New(bus)

	grpcServer := grpc.NewServer()
	pubsubv1.RegisterPubSubServer(grpcServer, svc)
	mcpServer := mcp.NewServer(mcp.WithBus(bus))
	pubsubv1.RegisterPubSubServer(mcpServer, svc)

	grpcLis, _ := net.Listen("tcp", "127.0.0.1:0")
	mcpLis, _ := net.Listen("tcp", "127.0.0.1:0")
	go grpcServer.Serve(grpcLis)
	go mcpServer.Serve(mcpLis)
	defer grpcServer.Stop()
	defer mcpServer.Close()
}

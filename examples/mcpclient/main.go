// Command mcpclient calls the example UserService over MCP/1 with the code
// protoc-gen-go-grpc generated — the same client code as for gRPC, over an
// mcp.Conn:
//
//	go run ./examples/mcpclient                       # the gateway's default MCP port
//	go run ./examples/mcpclient --addr 127.0.0.1:7070 --id 2
//	go run ./examples/mcpclient --dst 0x0002          # route by MCP dst_addr
//
// It gets one user, lists all users, and prints them.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/grpc"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mcpclient:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("mcpclient", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:7070", "MCP `address` of the gateway or service")
	id := fs.String("id", "1", "user `id` to get")
	dst := fs.String("dst", "0", "MCP dst_addr to set on calls (decimal or 0x hex)")
	timeout := fs.Duration("timeout", 5*time.Second, "deadline of each call")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d, err := strconv.ParseUint(*dst, 0, 16)
	if err != nil {
		return fmt.Errorf("--dst: %w", err)
	}
	opts := []grpc.CallOption{mcp.DstAddr{Addr: uint16(d)}}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	conn, err := mcp.Dial(ctx, *addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	client := userv1.NewUserServiceClient(conn)

	u, err := client.GetUser(ctx, &userv1.UserRequest{UserId: *id}, opts...)
	if err != nil {
		return fmt.Errorf("GetUser(%s): %w", *id, err)
	}
	fmt.Fprintf(out, "GetUser(%s): %s, %d\n", *id, u.GetName(), u.GetAge())

	stream, err := client.ListUsers(ctx, &userv1.ListUsersRequest{}, opts...)
	if err != nil {
		return fmt.Errorf("ListUsers: %w", err)
	}
	for {
		u, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ListUsers: %w", err)
		}
		fmt.Fprintf(out, "ListUsers: %s %s, %d\n", u.GetUserId(), u.GetName(), u.GetAge())
	}
}

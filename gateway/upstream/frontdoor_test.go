package upstream_test

import (
	"io"
	"net"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/grpcfront"
	"github.com/mcpbridge/mcpbridge/gateway/mcpfront"
	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestThroughFrontDoors: generated clients over MCP and gRPC, through the
// real front doors (mcp.RawStream is the HalfCloser), to gRPC and MCP
// backends: every shape, metadata both ways, status.
func TestThroughFrontDoors(t *testing.T) {
	for _, p := range []string{"grpc", "mcp"} {
		t.Run(p, func(t *testing.T) {
			be := startBackend(t, p, "b", "")
			u := newUpstream(t, upstreamConfig("users", p, "round_robin", be))
			table, err := gateway.NewTable([]gateway.Route{{ID: "all", Upstream: "users", Handler: u}})
			if err != nil {
				t.Fatal(err)
			}
			router := gateway.NewRouter(table)
			ml, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			msrv := mcpfront.NewServer(router)
			go func() { _ = msrv.Serve(ml) }()
			defer msrv.Close()
			gl, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			gsrv := grpcfront.NewServer(router)
			go func() { _ = gsrv.Serve(gl) }()
			defer gsrv.Stop()

			ctx := metadata.AppendToOutgoingContext(guardCtx(t), "x-echo", "hi")
			mc, err := mcp.Dial(ctx, ml.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer mc.Close()
			gc, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer gc.Close()

			for door, cc := range map[string]grpc.ClientConnInterface{"mcp": mc, "grpc": gc} {
				c := userv1.NewUserServiceClient(cc)
				var hdr, tr metadata.MD
				r, err := c.GetUser(ctx, &userv1.UserRequest{UserId: "5"}, grpc.Header(&hdr), grpc.Trailer(&tr))
				if err != nil || r.GetName() != "b" || r.GetUserId() != "5" {
					t.Fatalf("%s door, unary: %v, %v", door, r, err)
				}
				if hdr.Get("x-backend")[0] != "b" || hdr.Get("x-echo")[0] != "hi" || tr.Get("x-trailer")[0] != "t-b" {
					t.Errorf("%s door: header %v, trailer %v", door, hdr, tr)
				}
				if door == "mcp" && len(hdr.Get("content-type")) > 0 {
					t.Errorf("the backend's content-type leaked into MCP metadata: %v", hdr)
				}

				ls, err := c.ListUsers(ctx, &userv1.ListUsersRequest{Limit: 3})
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for {
					if _, err := ls.Recv(); err == io.EOF {
						break
					} else if err != nil {
						t.Fatalf("%s door, server streaming: %v", door, err)
					}
					n++
				}
				if n != 3 {
					t.Fatalf("%s door, server streaming: %d messages", door, n)
				}

				is, err := c.ImportUsers(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for i := range 4 {
					if err := is.Send(&userv1.ImportUserRequest{UserId: itoa(i)}); err != nil {
						t.Fatal(err)
					}
				}
				if ir, err := is.CloseAndRecv(); err != nil || ir.GetImported() != 4 {
					t.Fatalf("%s door, client streaming: %v, %v", door, ir, err)
				}

				ch, err := c.Chat(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for i := range 3 {
					if err := ch.Send(&userv1.ChatMessage{Text: itoa(i)}); err != nil {
						t.Fatal(err)
					}
					if m, err := ch.Recv(); err != nil || m.GetText() != itoa(i) {
						t.Fatalf("%s door, bidi: %v, %v", door, m, err)
					}
				}
				if err := ch.CloseSend(); err != nil {
					t.Fatal(err)
				}
				if _, err := ch.Recv(); err != io.EOF {
					t.Fatalf("%s door, bidi end: %v", door, err)
				}

				_, err = c.GetUser(ctx, &userv1.UserRequest{UserId: "notfound"})
				if s := status.Convert(err); s.Code() != codes.NotFound || s.Message() != "no such user" || len(s.Details()) != 1 {
					t.Errorf("%s door, error: %v", door, err)
				}
			}
		})
	}
}

package mcp_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/examples/userservice/users"
	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func startUsers(t *testing.T, opts ...mcp.ServerOption) (string, *mcp.Server) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := mcp.NewServer(opts...)
	userv1.RegisterUserServiceServer(srv, users.New())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != mcp.ErrServerClosed {
			t.Errorf("Serve = %v", err)
		}
	})
	return lis.Addr().String(), srv
}

func TestSmokeFourShapes(t *testing.T) {
	addr, _ := startUsers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := mcp.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cl := userv1.NewUserServiceClient(conn)
	u, err := cl.GetUser(ctx, &userv1.UserRequest{UserId: "1"})
	if err != nil || u.Name != "Alice" || u.Age != 30 {
		t.Fatalf("GetUser = %v, %v", u, err)
	}
	_, err = cl.GetUser(ctx, &userv1.UserRequest{UserId: "99"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("GetUser(99) = %v", err)
	}
	ls, err := cl.ListUsers(ctx, &userv1.ListUsersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for {
		u, err := ls.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, u.Name)
	}
	if len(names) != 2 {
		t.Fatalf("ListUsers = %v", names)
	}
	imp, err := cl.ImportUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"3", "4", "5"} {
		if err := imp.Send(&userv1.ImportUserRequest{UserId: id, Name: "n" + id, Age: 1}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := imp.CloseAndRecv()
	if err != nil || res.Imported != 3 {
		t.Fatalf("ImportUsers = %v, %v", res, err)
	}
	chat, err := cl.Chat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, txt := range []string{"a", "b"} {
		if err := chat.Send(&userv1.ChatMessage{From: "me", Text: txt}); err != nil {
			t.Fatal(err)
		}
		m, err := chat.Recv()
		if err != nil || m.Text != txt {
			t.Fatalf("Chat recv = %v, %v", m, err)
		}
	}
	chat.CloseSend()
	if _, err := chat.Recv(); err != io.EOF {
		t.Fatalf("Chat end = %v", err)
	}
}

package mcp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The four call shapes of the example UserService, through the generated
// client (mcp.Conn as grpc.ClientConnInterface) and the generated server
// registration (mcp.Server as grpc.ServiceRegistrar).
func TestFourShapes(t *testing.T) {
	addr, _ := startUsers(t)
	conn := dial(t, addr)
	cl := userv1.NewUserServiceClient(conn)
	ctx := guardCtx(t)

	t.Run("unary", func(t *testing.T) {
		tests := []struct {
			name     string
			id       string
			want     *userv1.UserResponse
			wantCode codes.Code
			wantMsg  string
		}{
			{name: "alice", id: "1", want: &userv1.UserResponse{UserId: "1", Name: "Alice", Age: 30}},
			{name: "bob", id: "2", want: &userv1.UserResponse{UserId: "2", Name: "Bob", Age: 25}},
			{name: "not found", id: "99", wantCode: codes.NotFound, wantMsg: "user 99 not found"},
			{name: "empty id", id: "", wantCode: codes.InvalidArgument, wantMsg: "user_id is required"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := cl.GetUser(ctx, &userv1.UserRequest{UserId: tc.id})
				if tc.wantCode != codes.OK {
					st, ok := status.FromError(err)
					if !ok || st.Code() != tc.wantCode || st.Message() != tc.wantMsg {
						t.Fatalf("GetUser(%q) = %v, %v; want %v %q", tc.id, got, err, tc.wantCode, tc.wantMsg)
					}
					return
				}
				if err != nil || !proto.Equal(got, tc.want) {
					t.Fatalf("GetUser(%q) = %v, %v; want %v", tc.id, got, err, tc.want)
				}
			})
		}
	})

	t.Run("server streaming", func(t *testing.T) {
		tests := []struct {
			name     string
			limit    int32
			want     []string
			wantCode codes.Code
		}{
			{name: "all", limit: 0, want: []string{"Alice", "Bob"}},
			{name: "limit 1", limit: 1, want: []string{"Alice"}},
			{name: "negative limit", limit: -1, wantCode: codes.InvalidArgument},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ls, err := cl.ListUsers(ctx, &userv1.ListUsersRequest{Limit: tc.limit})
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
						if status.Code(err) != tc.wantCode || tc.wantCode == codes.OK {
							t.Fatalf("Recv = %v, want code %v", err, tc.wantCode)
						}
						return
					}
					names = append(names, u.Name)
				}
				if tc.wantCode != codes.OK {
					t.Fatalf("stream ended OK, want %v", tc.wantCode)
				}
				if !slices.Equal(names, tc.want) {
					t.Fatalf("ListUsers = %v, want %v", names, tc.want)
				}
				// After the end the stream keeps answering io.EOF.
				if _, err := ls.Recv(); err != io.EOF {
					t.Fatalf("Recv after the end = %v, want io.EOF", err)
				}
			})
		}
	})

	t.Run("client streaming", func(t *testing.T) {
		imp, err := cl.ImportUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"3", "4", "5"} {
			if err := imp.Send(&userv1.ImportUserRequest{UserId: id, Name: "n" + id, Age: 7}); err != nil {
				t.Fatal(err)
			}
		}
		res, err := imp.CloseAndRecv()
		if err != nil || res.Imported != 3 {
			t.Fatalf("ImportUsers = %v, %v; want 3", res, err)
		}
		u, err := cl.GetUser(ctx, &userv1.UserRequest{UserId: "4"})
		if err != nil || u.Name != "n4" || u.Age != 7 {
			t.Fatalf("GetUser(4) after import = %v, %v", u, err)
		}

		// No message at all: the REQUEST opens with NO_MESSAGE + END_STREAM.
		imp, err = cl.ImportUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res, err := imp.CloseAndRecv(); err != nil || res.Imported != 0 {
			t.Fatalf("empty ImportUsers = %v, %v", res, err)
		}

		// An error mid-stream: the second entry is invalid.
		imp, err = cl.ImportUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_ = imp.Send(&userv1.ImportUserRequest{UserId: "6", Name: "six"})
		_ = imp.Send(&userv1.ImportUserRequest{UserId: ""})
		_, err = imp.CloseAndRecv()
		if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || st.Message() != "entry 1: user_id is required" {
			t.Fatalf("ImportUsers with a bad entry = %v", err)
		}
	})

	t.Run("bidi streaming", func(t *testing.T) {
		chat, err := cl.Chat(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			txt := fmt.Sprint("msg ", i)
			if err := chat.Send(&userv1.ChatMessage{From: "me", Text: txt}); err != nil {
				t.Fatal(err)
			}
			m, err := chat.Recv()
			if err != nil || m.Text != txt || m.From != "me" {
				t.Fatalf("Chat echo %d = %v, %v", i, m, err)
			}
		}
		if err := chat.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := chat.Recv(); err != io.EOF {
			t.Fatalf("Chat end = %v, want io.EOF", err)
		}

		// Send everything first, then read: the echoes queue up client side.
		chat, err = cl.Chat(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			if err := chat.Send(&userv1.ChatMessage{Text: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		chat.CloseSend()
		for i := range 100 {
			m, err := chat.Recv()
			if err != nil || m.Text != fmt.Sprint(i) {
				t.Fatalf("Chat echo %d = %v, %v", i, m, err)
			}
		}
		if _, err := chat.Recv(); err != io.EOF {
			t.Fatalf("Chat end = %v, want io.EOF", err)
		}
	})
}

// Every status code a handler returns reaches the client with its message,
// from unary and streaming handlers alike; error details survive the trip.
func TestStatusCodes(t *testing.T) {
	var failMu sync.Mutex
	var failErr error // the error the handlers return; set per case before the call
	setFail := func(err error) { failMu.Lock(); failErr = err; failMu.Unlock() }
	fail := func() error { failMu.Lock(); defer failMu.Unlock(); return failErr }
	ts := startServer(t, registerTest(
		map[string]unaryFunc{"Fail": func(context.Context, string) (string, error) { return "", fail() }},
		streamMethod{name: "FailStream", server: true, fn: func(ss grpc.ServerStream) error {
			var in []byte
			if err := ss.RecvMsg(&in); err != nil {
				return err
			}
			return fail()
		}},
	))
	conn := dial(t, ts.addr)
	ctx := guardCtx(t)

	type tcase struct {
		name     string
		err      error
		wantCode codes.Code
		wantMsg  string
	}
	var tests []tcase
	for c := codes.Canceled; c <= codes.Unauthenticated; c++ {
		msg := "failed with " + c.String()
		tests = append(tests, tcase{name: c.String(), err: status.Error(c, msg), wantCode: c, wantMsg: msg})
	}
	tests = append(tests,
		tcase{name: "plain error is UNKNOWN", err: errors.New("boom"), wantCode: codes.Unknown, wantMsg: "boom"},
		tcase{name: "context deadline", err: context.DeadlineExceeded, wantCode: codes.DeadlineExceeded, wantMsg: context.DeadlineExceeded.Error()},
		tcase{name: "context canceled", err: context.Canceled, wantCode: codes.Canceled, wantMsg: context.Canceled.Error()},
		tcase{name: "non-ASCII message", err: status.Error(codes.NotFound, "usuário «42» não encontrado"), wantCode: codes.NotFound, wantMsg: "usuário «42» não encontrado"},
		tcase{name: "multi-line message", err: status.Error(codes.Internal, "line 1\nline 2"), wantCode: codes.Internal, wantMsg: "line 1\nline 2"},
	)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setFail(tc.err)
			_, err := callString(ctx, conn, "Fail", "x")
			if st, ok := status.FromError(err); !ok || st.Code() != tc.wantCode || st.Message() != tc.wantMsg {
				t.Errorf("unary: %v; want %v %q", err, tc.wantCode, tc.wantMsg)
			}
			s, err := openStream(ctx, conn, "FailStream", false, true)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SendMsg([]byte("x")); err != nil {
				t.Fatal(err)
			}
			var out []byte
			err = s.RecvMsg(&out)
			if st, ok := status.FromError(err); !ok || st.Code() != tc.wantCode || st.Message() != tc.wantMsg {
				t.Errorf("stream: %v; want %v %q", err, tc.wantCode, tc.wantMsg)
			}
		})
	}

	t.Run("details", func(t *testing.T) {
		st, err := status.New(codes.InvalidArgument, "bad request").WithDetails(
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
				{Field: "user_id", Description: "must be numeric"},
				{Field: "age", Description: "must be ≥ 0"},
			}},
			&errdetails.RetryInfo{},
		)
		if err != nil {
			t.Fatal(err)
		}
		setFail(st.Err())
		for _, shape := range []string{"unary", "stream"} {
			var err error
			if shape == "unary" {
				_, err = callString(ctx, conn, "Fail", "x")
			} else {
				s, serr := openStream(ctx, conn, "FailStream", false, true)
				if serr != nil {
					t.Fatal(serr)
				}
				_ = s.SendMsg([]byte("x"))
				err = s.RecvMsg(new([]byte))
			}
			got := status.Convert(err)
			if got.Code() != codes.InvalidArgument || got.Message() != "bad request" {
				t.Fatalf("%s: status = %v", shape, err)
			}
			if !proto.Equal(got.Proto(), st.Proto()) {
				t.Fatalf("%s: details = %v, want %v", shape, got.Proto(), st.Proto())
			}
			var br *errdetails.BadRequest
			for _, d := range got.Details() {
				if b, ok := d.(*errdetails.BadRequest); ok {
					br = b
				}
			}
			if br == nil || len(br.FieldViolations) != 2 || br.FieldViolations[1].Description != "must be ≥ 0" {
				t.Fatalf("%s: BadRequest detail = %v", shape, got.Details())
			}
		}
	})

	t.Run("unknown method", func(t *testing.T) {
		_, err := callString(ctx, conn, "NoSuchMethod", "x")
		if status.Code(err) != codes.Unimplemented {
			t.Fatalf("unknown method = %v, want UNIMPLEMENTED", err)
		}
		// The connection is fine after a call error.
		setFail(nil)
		if _, err := callString(ctx, conn, "Fail", "x"); err != nil {
			t.Fatalf("call after UNIMPLEMENTED = %v", err)
		}
	})
}

// Status codes made on the client side: a closed Conn and a context that
// ended before the call.
func TestClientSideCodes(t *testing.T) {
	addr, _ := startUsers(t)
	conn := dial(t, addr)
	cl := userv1.NewUserServiceClient(conn)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cl.GetUser(ctx, &userv1.UserRequest{UserId: "1"}); status.Code(err) != codes.Canceled {
		t.Errorf("GetUser with a cancelled context = %v, want CANCELED", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), -1)
	defer cancel()
	if _, err := cl.GetUser(ctx, &userv1.UserRequest{UserId: "1"}); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("GetUser with an expired context = %v, want DEADLINE_EXCEEDED", err)
	}
	conn.Close()
	if _, err := cl.GetUser(guardCtx(t), &userv1.UserRequest{UserId: "1"}); !errors.Is(err, mcp.ErrConnClosing) {
		t.Errorf("GetUser on a closed Conn = %v, want ErrConnClosing", err)
	}
}

// exerciseShapes makes one call of each shape of the example service on
// conn and checks the answers; other tests run it over other transports
// (checksums, TLS).
func exerciseShapes(t *testing.T, conn grpc.ClientConnInterface) {
	t.Helper()
	ctx := guardCtx(t)
	cl := userv1.NewUserServiceClient(conn)
	if u, err := cl.GetUser(ctx, &userv1.UserRequest{UserId: "1"}); err != nil || u.Name != "Alice" {
		t.Fatalf("GetUser = %v, %v", u, err)
	}
	if _, err := cl.GetUser(ctx, &userv1.UserRequest{UserId: "404"}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetUser(404) = %v", err)
	}
	imp, err := cl.ImportUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = imp.Send(&userv1.ImportUserRequest{UserId: "3", Name: "Carol", Age: 41})
	if res, err := imp.CloseAndRecv(); err != nil || res.Imported != 1 {
		t.Fatalf("ImportUsers = %v, %v", res, err)
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
	if !slices.Equal(names, []string{"Alice", "Bob", "Carol"}) {
		t.Fatalf("ListUsers = %v", names)
	}
	chat, err := cl.Chat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = chat.Send(&userv1.ChatMessage{Text: "hi"})
	if m, err := chat.Recv(); err != nil || m.Text != "hi" {
		t.Fatalf("Chat = %v, %v", m, err)
	}
	chat.CloseSend()
	if _, err := chat.Recv(); err != io.EOF {
		t.Fatalf("Chat end = %v", err)
	}
}

// The grpc.ClientStream contract when the server ends a call early:
// SendMsg returns io.EOF and RecvMsg returns the status; SendMsg after
// CloseSend is an error.
func TestStreamEndedByServer(t *testing.T) {
	ts := startServer(t, registerTest(nil, streamMethod{name: "Reject", client: true, server: true, fn: func(ss grpc.ServerStream) error {
		return status.Error(codes.PermissionDenied, "go away")
	}}))
	conn := dial(t, ts.addr)
	ctx := guardCtx(t)
	s, err := openStream(ctx, conn, "Reject", true, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg([]byte("m")); err != nil && err != io.EOF {
		t.Fatalf("first SendMsg = %v", err)
	}
	for range 2 { // the status, every time
		if err := s.RecvMsg(new([]byte)); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("RecvMsg = %v, want PERMISSION_DENIED", err)
		}
	}
	if err := s.SendMsg([]byte("m")); err != io.EOF {
		t.Fatalf("SendMsg on a call the server ended = %v, want io.EOF", err)
	}

	s, err = openStream(ctx, conn, "Reject", true, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg([]byte("late")); err == nil || err == io.EOF {
		t.Fatalf("SendMsg after CloseSend = %v, want an error", err)
	}
	if err := s.RecvMsg(new([]byte)); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("RecvMsg = %v", err)
	}
}

// TestServerStreamingEndedBeforeSend: a server-streaming call that ended
// before its request went out (here its connection was lost) reports the
// end through RecvMsg, as grpc-go does: SendMsg returns nil, so the
// generated ListUsers never returns io.EOF as the call's error.
func TestServerStreamingEndedBeforeSend(t *testing.T) {
	ts := startServer(t, registerUsers)
	conn := dial(t, ts.addr)
	waitFor(t, "the connection is ready", conn.Ready)
	desc := &userv1.UserService_ServiceDesc.Streams[0]
	cs, err := conn.NewStream(guardCtx(t), desc, userv1.UserService_ListUsers_FullMethodName)
	if err != nil {
		t.Fatal(err)
	}
	ts.Close()
	waitFor(t, "the connection is lost", func() bool { return !conn.Ready() })
	if err := cs.SendMsg(&userv1.ListUsersRequest{Limit: 1}); err != nil {
		t.Errorf("SendMsg on an ended server-streaming call = %v, want nil", err)
	}
	if err := cs.CloseSend(); err != nil {
		t.Errorf("CloseSend = %v", err)
	}
	if err := cs.RecvMsg(new(userv1.UserResponse)); status.Code(err) != codes.Unavailable {
		t.Errorf("RecvMsg = %v, want UNAVAILABLE", err)
	}
}

// TestIdleWorkersEnd: the worker a call leaves waiting ends once its
// connection has been idle for a heartbeat interval, so an idle connection
// holds no worker; a later call is served as before.
func TestIdleWorkersEnd(t *testing.T) {
	ts := startServer(t, registerUsers, mcp.WithKeepalive(mcp.KeepaliveParams{Interval: 20 * time.Millisecond}))
	conn := dial(t, ts.addr)
	cl := userv1.NewUserServiceClient(conn)
	if _, err := cl.GetUser(guardCtx(t), &userv1.UserRequest{UserId: "1"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the idle connection's worker ends", func() bool {
		return mcp.ReapedWorkers(ts.Server) == 1 && mcp.IdleWorkers(ts.Server) == 0
	})
	if _, err := cl.GetUser(guardCtx(t), &userv1.UserRequest{UserId: "2"}); err != nil {
		t.Fatalf("a call after the worker ended: %v", err)
	}
}

package upstream_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// frontDoor is how a test presents a call: as the MCP front door does (a
// half-closed stream for unary and server-streaming calls) or as the gRPC
// front door does (never half-closed up front, content type
// application/grpc, gRPC's transport headers in the metadata).
type frontDoor struct {
	name       string
	halfClosed bool
}

var (
	mcpDoor  = frontDoor{"mcp-door", true}
	grpcDoor = frontDoor{"grpc-door", false}
)

func (d frontDoor) request(path string, md metadata.MD) *gateway.Request {
	req := &gateway.Request{Protocol: gateway.ProtocolMCP, Method: "POST", Path: path, Header: md}
	if !d.halfClosed {
		req.Protocol = gateway.ProtocolGRPC
		req.ContentType = "application/grpc"
		md = metadata.Join(md, metadata.Pairs(
			":authority", "gateway.test", "content-type", "application/grpc", "te", "trailers",
			"grpc-accept-encoding", "gzip", "user-agent", "test-client/1", "connection", "keep-alive"))
		req.Header = md
	}
	return req
}

func (d frontDoor) stream(st *stream) gateway.Stream {
	if d.halfClosed {
		return halfClosed{st}
	}
	return st
}

// TestShapes forwards all four call shapes to gRPC and MCP backends,
// through both kinds of front door, with metadata, header, trailer and
// messages carried.
func TestShapes(t *testing.T) {
	for _, proto_ := range []string{"grpc", "mcp"} {
		b := startBackend(t, proto_, "b-"+proto_, "")
		u := newUpstream(t, upstreamConfig("users", proto_, "round_robin", b))
		for _, door := range []frontDoor{mcpDoor, grpcDoor} {
			t.Run(proto_+"/"+door.name, func(t *testing.T) {
				check := func(t *testing.T, st *stream, err error) {
					t.Helper()
					if err != nil {
						t.Fatalf("Serve = %v", err)
					}
					if got := st.headerValue("x-backend"); got != b.svc.id {
						t.Errorf("header x-backend = %q, want %q", got, b.svc.id)
					}
					if got := st.headerValue("x-echo"); got != "hello" {
						t.Errorf("header x-echo = %q, want the request's metadata echoed", got)
					}
					if got := st.trailerValue("x-trailer"); got != "t-"+b.svc.id {
						t.Errorf("trailer x-trailer = %q", got)
					}
					if got := st.trailerValue("x-echo-trailer"); got != "hello" {
						t.Errorf("trailer x-echo-trailer = %q", got)
					}
					if ct := st.header.Get("content-type"); len(ct) > 0 {
						t.Errorf("the backend's content-type reached the client as metadata: %q", ct)
					}
					if st.headerSent != 1 {
						t.Errorf("SendHeader called %d times, want 1", st.headerSent)
					}
				}
				md := metadata.Pairs("x-echo", "hello")

				t.Run("unary", func(t *testing.T) {
					st := newStream(guardCtx(t))
					st.send(t, &userv1.UserRequest{UserId: "7"})
					close(st.in)
					err := serve(u, door.request(pathGet, md), door.stream(st), st)
					check(t, st, err)
					msgs := st.messages()
					var got userv1.UserResponse
					if len(msgs) != 1 || proto.Unmarshal(msgs[0], &got) != nil || got.GetUserId() != "7" || got.GetName() != b.svc.id {
						t.Fatalf("replies %q", msgs)
					}
					ua := st.headerValue("x-seen-user-agent")
					switch {
					case proto_ == "grpc" && !strings.Contains(ua, "grpc-go"):
						t.Errorf("gRPC backend saw user-agent %q, want grpc-go's", ua)
					case proto_ == "mcp" && !door.halfClosed && ua != "test-client/1":
						t.Errorf("MCP backend saw user-agent %q, want the client's", ua)
					}
				})
				t.Run("server streaming", func(t *testing.T) {
					st := newStream(guardCtx(t))
					st.send(t, &userv1.ListUsersRequest{Limit: 3})
					close(st.in)
					err := serve(u, door.request(pathList, md), door.stream(st), st)
					check(t, st, err)
					msgs := st.messages()
					if len(msgs) != 3 {
						t.Fatalf("%d replies, want 3", len(msgs))
					}
					for i, m := range msgs {
						var got userv1.UserResponse
						if proto.Unmarshal(m, &got) != nil || got.GetAge() != int32(i) {
							t.Fatalf("reply %d: %x", i, m)
						}
					}
				})
				if door.halfClosed {
					return // the MCP door's streaming-request calls are not half-closed up front
				}
				t.Run("client streaming", func(t *testing.T) {
					st := newStream(guardCtx(t))
					for i := range 3 {
						st.send(t, &userv1.ImportUserRequest{UserId: itoa(i)})
					}
					close(st.in)
					err := serve(u, door.request(pathImport, md), door.stream(st), st)
					check(t, st, err)
					msgs := st.messages()
					var got userv1.ImportUsersResponse
					if len(msgs) != 1 || proto.Unmarshal(msgs[0], &got) != nil || got.GetImported() != 3 {
						t.Fatalf("replies %x", msgs)
					}
				})
				t.Run("bidi, one message at a time", func(t *testing.T) {
					st := newStream(guardCtx(t))
					done := make(chan error, 1)
					go func() { done <- serve(u, door.request(pathChat, md), door.stream(st), st) }()
					for i := range 3 {
						st.send(t, &userv1.ChatMessage{Text: "m" + itoa(i)})
						select {
						case <-st.gotMsg: // the echo came back before the next message went
						case <-time.After(hangGuard):
							t.Fatalf("no echo of message %d", i)
						}
					}
					close(st.in)
					err := <-done
					check(t, st, err)
					msgs := st.messages()
					if len(msgs) != 3 {
						t.Fatalf("%d replies, want 3", len(msgs))
					}
					for i, m := range msgs {
						var got userv1.ChatMessage
						if proto.Unmarshal(m, &got) != nil || got.GetText() != "m"+itoa(i) || got.GetFrom() != b.svc.id {
							t.Fatalf("reply %d: %v", i, &got)
						}
					}
				})
			})
		}
	}
}

// TestStatusCarried: a backend's error status, with its message, details
// and trailer, comes back unchanged.
func TestStatusCarried(t *testing.T) {
	for _, p := range []string{"grpc", "mcp"} {
		t.Run(p, func(t *testing.T) {
			b := startBackend(t, p, "b", "")
			u := newUpstream(t, upstreamConfig("users", p, "round_robin", b))
			for _, door := range []frontDoor{mcpDoor, grpcDoor} {
				st := newStream(guardCtx(t))
				st.send(t, &userv1.UserRequest{UserId: "notfound"})
				close(st.in)
				err := serve(u, door.request(pathGet, nil), door.stream(st), st)
				s, ok := status.FromError(err)
				if !ok || s.Code() != codes.NotFound || s.Message() != "no such user" {
					t.Fatalf("%s: Serve = %v, want NOT_FOUND \"no such user\"", door.name, err)
				}
				if d := s.Details(); len(d) != 1 || d[0].(*wrapperspb.StringValue).GetValue() != "detail-b" {
					t.Errorf("%s: details %v", door.name, d)
				}
				if got := st.trailerValue("x-trailer"); got != "t-b" {
					t.Errorf("%s: trailer x-trailer = %q", door.name, got)
				}
			}
			// An application error is an answer: it does not count towards
			// ejection.
			if es := endpointStatus(t, u, b.addr); es.ConsecutiveFailures != 0 || es.Failures != 0 {
				t.Errorf("after NOT_FOUND: %+v", es)
			}
		})
	}
}

// TestDeadlinePropagates: the client's deadline reaches the backend.
func TestDeadlinePropagates(t *testing.T) {
	for _, p := range []string{"grpc", "mcp"} {
		t.Run(p, func(t *testing.T) {
			b := startBackend(t, p, "b", "")
			u := newUpstream(t, upstreamConfig("users", p, "round_robin", b))
			for _, tc := range []struct {
				timeout time.Duration
				min     int32
				max     int32
			}{{5 * time.Second, 1000, 5000}, {0, -1, -1}} {
				ctx := guardCtx(t)
				if tc.timeout == 0 {
					ctx = context.Background()
				} else {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.timeout)
					defer cancel()
				}
				_, st, err := unary(ctx, t, u, "deadline", nil)
				if err != nil {
					t.Fatal(err)
				}
				var got userv1.UserResponse
				if msgs := st.messages(); len(msgs) != 1 || proto.Unmarshal(msgs[0], &got) != nil {
					t.Fatalf("replies %x", msgs)
				}
				if got.GetAge() < tc.min || got.GetAge() > tc.max {
					t.Errorf("timeout %s: the backend saw %d ms left, want %d..%d", tc.timeout, got.GetAge(), tc.min, tc.max)
				}
			}
		})
	}
}

// TestClientCancelCancelsBackend: a client's cancel ends the backend's
// handler, through both kinds of front door, and is not an endpoint
// failure.
func TestClientCancelCancelsBackend(t *testing.T) {
	for _, p := range []string{"grpc", "mcp"} {
		for _, door := range []frontDoor{mcpDoor, grpcDoor} {
			t.Run(p+"/"+door.name, func(t *testing.T) {
				b := startBackend(t, p, "b", "")
				u := newUpstream(t, upstreamConfig("users", p, "round_robin", b))
				st := newStream(guardCtx(t))
				st.send(t, &userv1.UserRequest{UserId: "block"})
				if door.halfClosed {
					close(st.in)
				}
				done := make(chan error, 1)
				go func() { done <- u.Serve(door.request(pathGet, nil), door.stream(st)) }()
				if !door.halfClosed {
					close(st.in)
				}
				select {
				case <-b.svc.started:
				case <-time.After(hangGuard):
					t.Fatal("the backend never saw the call")
				}
				st.cancel()
				select {
				case err := <-b.svc.ended:
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("backend's context ended with %v, want Canceled", err)
					}
				case <-time.After(hangGuard):
					t.Fatal("the backend's handler was not cancelled")
				}
				if err := <-done; status.Code(err) != codes.Canceled {
					t.Fatalf("Serve = %v, want CANCELED", err)
				}
				if es := endpointStatus(t, u, b.addr); es.ConsecutiveFailures != 0 || es.Failures != 0 || es.InFlight != 0 {
					t.Errorf("after a cancel: %+v", es)
				}
			})
		}
	}
}

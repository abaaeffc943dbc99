package mcp_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mcpbridge/mcpbridge/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// callLog records the order interceptors and handlers run in.
type callLog struct {
	mu  sync.Mutex
	log []string
}

func (l *callLog) add(s string) { l.mu.Lock(); l.log = append(l.log, s); l.mu.Unlock() }

func (l *callLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.log
	l.log = nil
	return out
}

type ctxKey string

// wrappedStream lets a stream interceptor change the context and the
// messages a handler sees.
type wrappedStream struct {
	grpc.ServerStream
	ctx context.Context
	tag string
}

func (w *wrappedStream) Context() context.Context { return w.ctx }

func (w *wrappedStream) SendMsg(m any) error {
	if s, ok := m.(*wrapperspb.StringValue); ok {
		m = wrapperspb.String(s.Value + "+" + w.tag)
	}
	return w.ServerStream.SendMsg(m)
}

// Server interceptors, unary and stream, chain in the order given (the
// first outermost, options appending), see the method, and can change the
// context, the request, the reply and the status.
func TestServerInterceptors(t *testing.T) {
	var log callLog
	unaryInt := func(name string) grpc.UnaryServerInterceptor {
		return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			log.add(name + " " + info.FullMethod)
			if req.(*wrapperspb.StringValue).Value == "deny:"+name {
				return nil, status.Error(codes.PermissionDenied, "denied by "+name)
			}
			ctx = context.WithValue(ctx, ctxKey(name), true)
			resp, err := h(ctx, req)
			log.add(name + " after")
			if err != nil {
				return nil, err
			}
			return wrapperspb.String(resp.(*wrapperspb.StringValue).Value + "+" + name), nil
		}
	}
	streamInt := func(name string) grpc.StreamServerInterceptor {
		return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			log.add(fmt.Sprintf("%s %s client=%v server=%v", name, info.FullMethod, info.IsClientStream, info.IsServerStream))
			err := h(srv, &wrappedStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), ctxKey(name), true), tag: name})
			log.add(name + " after")
			return err
		}
	}
	seenKeys := func(ctx context.Context) string {
		var keys []string
		for _, k := range []string{"u1", "u2", "u3", "s1", "s2"} {
			if ctx.Value(ctxKey(k)) != nil {
				keys = append(keys, k)
			}
		}
		return strings.Join(keys, ",")
	}
	ts := startServer(t,
		registerTest(
			map[string]unaryFunc{"Echo": func(ctx context.Context, in string) (string, error) {
				log.add("handler sees " + seenKeys(ctx))
				return in, nil
			}},
			streamMethod{name: "Bidi", client: true, server: true, fn: func(ss grpc.ServerStream) error {
				log.add("stream handler sees " + seenKeys(ss.Context()))
				for {
					m := new(wrapperspb.StringValue)
					if err := ss.RecvMsg(m); err == io.EOF {
						return nil
					} else if err != nil {
						return err
					}
					if err := ss.SendMsg(m); err != nil {
						return err
					}
				}
			}},
		),
		mcp.WithUnaryInterceptor(unaryInt("u1"), unaryInt("u2")),
		mcp.WithUnaryInterceptor(unaryInt("u3")),
		mcp.WithStreamInterceptor(streamInt("s1"), streamInt("s2")),
	)
	conn := dial(t, ts.addr)
	ctx := guardCtx(t)

	out, err := callString(ctx, conn, "Echo", "x")
	if err != nil || out != "x+u3+u2+u1" {
		t.Fatalf("Echo = %q, %v; want x+u3+u2+u1", out, err)
	}
	p := testPath("Echo")
	want := []string{"u1 " + p, "u2 " + p, "u3 " + p, "handler sees u1,u2,u3", "u3 after", "u2 after", "u1 after"}
	if got := log.take(); !slices.Equal(got, want) {
		t.Fatalf("unary order:\n got %q\nwant %q", got, want)
	}

	_, err = callString(ctx, conn, "Echo", "deny:u2")
	if st := status.Convert(err); st.Code() != codes.PermissionDenied || st.Message() != "denied by u2" {
		t.Fatalf("denied call = %v", err)
	}
	if got, want := log.take(), []string{"u1 " + p, "u2 " + p, "u1 after"}; !slices.Equal(got, want) {
		t.Fatalf("short-circuit order: got %q, want %q", got, want)
	}

	s, err := openStream(ctx, conn, "Bidi", true, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg(wrapperspb.String("m")); err != nil {
		t.Fatal(err)
	}
	if got, err := recvString(s); err != nil || got != "m+s2+s1" {
		t.Fatalf("stream reply = %q, %v; want m+s2+s1", got, err)
	}
	s.CloseSend()
	if _, err := recvString(s); err != io.EOF {
		t.Fatalf("stream end = %v", err)
	}
	bp := testPath("Bidi")
	want = []string{"s1 " + bp + " client=true server=true", "s2 " + bp + " client=true server=true", "stream handler sees s1,s2", "s2 after", "s1 after"}
	if got := log.take(); !slices.Equal(got, want) {
		t.Fatalf("stream order:\n got %q\nwant %q", got, want)
	}
}

// wrappedClientStream counts what passes through a client stream
// interceptor.
type wrappedClientStream struct {
	grpc.ClientStream
	log  *callLog
	name string
}

func (w *wrappedClientStream) SendMsg(m any) error {
	w.log.add(w.name + " send")
	return w.ClientStream.SendMsg(m)
}

func (w *wrappedClientStream) RecvMsg(m any) error {
	err := w.ClientStream.RecvMsg(m)
	w.log.add(fmt.Sprintf("%s recv %v", w.name, err))
	return err
}

// Client interceptors, unary and stream, chain in order (the first
// outermost), see the method and a nil *grpc.ClientConn, and can add
// metadata and call options.
func TestClientInterceptors(t *testing.T) {
	var log callLog
	ts := startServer(t, registerTest(
		map[string]unaryFunc{"Echo": func(ctx context.Context, in string) (string, error) {
			md, _ := metadata.FromIncomingContext(ctx)
			return in + " " + strings.Join(md.Get("x-via"), ","), nil
		}},
		streamMethod{name: "Bidi", client: true, server: true, fn: func(ss grpc.ServerStream) error {
			md, _ := metadata.FromIncomingContext(ss.Context())
			m := new(wrapperspb.StringValue)
			if err := ss.RecvMsg(m); err != nil {
				return err
			}
			return ss.SendMsg(wrapperspb.String(m.Value + " " + strings.Join(md.Get("x-via"), ",")))
		}},
	))
	unaryInt := func(name string) grpc.UnaryClientInterceptor {
		return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			log.add(fmt.Sprintf("%s %s cc=%v", name, method, cc != nil))
			ctx = metadata.AppendToOutgoingContext(ctx, "x-via", name)
			err := invoker(ctx, method, req, reply, cc, opts...)
			log.add(name + " after")
			return err
		}
	}
	streamInt := func(name string) grpc.StreamClientInterceptor {
		return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			log.add(fmt.Sprintf("%s %s cc=%v", name, method, cc != nil))
			ctx = metadata.AppendToOutgoingContext(ctx, "x-via", name)
			s, err := streamer(ctx, desc, cc, method, opts...)
			if err != nil {
				return nil, err
			}
			return &wrappedClientStream{ClientStream: s, log: &log, name: name}, nil
		}
	}
	conn := dial(t, ts.addr,
		mcp.WithClientUnaryInterceptor(unaryInt("c1"), unaryInt("c2")),
		mcp.WithClientStreamInterceptor(streamInt("cs1"), streamInt("cs2")),
	)
	ctx := guardCtx(t)

	out, err := callString(ctx, conn, "Echo", "x")
	if err != nil || out != "x c1,c2" {
		t.Fatalf("Echo = %q, %v; want %q", out, err, "x c1,c2")
	}
	p := testPath("Echo")
	if got, want := log.take(), []string{"c1 " + p + " cc=false", "c2 " + p + " cc=false", "c2 after", "c1 after"}; !slices.Equal(got, want) {
		t.Fatalf("unary order:\n got %q\nwant %q", got, want)
	}

	s, err := openStream(ctx, conn, "Bidi", true, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg(wrapperspb.String("y")); err != nil {
		t.Fatal(err)
	}
	if got, err := recvString(s); err != nil || got != "y cs1,cs2" {
		t.Fatalf("stream reply = %q, %v", got, err)
	}
	bp := testPath("Bidi")
	// The outermost interceptor's wrapper is the one the caller holds: its
	// SendMsg runs first and its RecvMsg returns last.
	want := []string{"cs1 " + bp + " cc=false", "cs2 " + bp + " cc=false", "cs1 send", "cs2 send", "cs2 recv <nil>", "cs1 recv <nil>"}
	if got := log.take(); !slices.Equal(got, want) {
		t.Fatalf("stream order:\n got %q\nwant %q", got, want)
	}
}

package mcp_test

import (
	"context"
	"io"
	"net"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Metadata flows both ways, for unary and streaming calls: outgoing context
// metadata (multi-valued, binary, upper-case keys folded) reaches the
// handler's incoming context without the protocol's reserved keys;
// grpc.SetHeader / SendHeader / SetTrailer in handlers reach the client via
// grpc.Header / grpc.Trailer and stream.Header() / Trailer(), on success
// and on error.
func TestMetadataBothWays(t *testing.T) {
	incoming := make(chan metadata.MD, 4)
	peers := make(chan net.Addr, 4)
	ts := startServer(t, registerTest(
		map[string]unaryFunc{
			"Meta": func(ctx context.Context, in string) (string, error) {
				md, _ := metadata.FromIncomingContext(ctx)
				incoming <- md
				if p, ok := peer.FromContext(ctx); ok {
					peers <- p.Addr
				} else {
					peers <- nil
				}
				if err := grpc.SetHeader(ctx, metadata.Pairs("h1", "a")); err != nil {
					return "", err
				}
				if err := grpc.SetHeader(ctx, metadata.Pairs("h1", "b", "h-bin", "\x00\xff")); err != nil {
					return "", err
				}
				if err := grpc.SetTrailer(ctx, metadata.Pairs("t1", "x")); err != nil {
					return "", err
				}
				if err := grpc.SetTrailer(ctx, metadata.Pairs("t2", "y")); err != nil {
					return "", err
				}
				if in == "fail" {
					return "", status.Error(codes.FailedPrecondition, "nope")
				}
				return "ok", nil
			},
			"SendHeader": func(ctx context.Context, in string) (string, error) {
				if err := grpc.SendHeader(ctx, metadata.Pairs("sent", "early")); err != nil {
					return "", err
				}
				// A second header after it was sent is an error.
				if err := grpc.SetHeader(ctx, metadata.Pairs("late", "x")); err == nil {
					return "", status.Error(codes.Internal, "SetHeader after SendHeader succeeded")
				}
				return in, nil
			},
		},
		streamMethod{name: "Bidi", client: true, server: true, fn: func(ss grpc.ServerStream) error {
			md, _ := metadata.FromIncomingContext(ss.Context())
			incoming <- md
			if err := ss.SetHeader(metadata.Pairs("sh", "1")); err != nil {
				return err
			}
			if err := ss.SendHeader(metadata.Pairs("sh", "2")); err != nil {
				return err
			}
			ss.SetTrailer(metadata.Pairs("st", "end"))
			for {
				m := new(wrapperspb.StringValue)
				err := ss.RecvMsg(m)
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				if m.Value == "fail" {
					ss.SetTrailer(metadata.Pairs("st", "failed"))
					return status.Error(codes.Aborted, "aborted")
				}
				if err := ss.SendMsg(m); err != nil {
					return err
				}
			}
		}},
		streamMethod{name: "NoHeader", server: true, fn: func(ss grpc.ServerStream) error {
			if err := ss.RecvMsg(new(wrapperspb.StringValue)); err != nil {
				return err
			}
			return ss.SendMsg(wrapperspb.String("only"))
		}},
	))
	conn := dial(t, ts.addr)
	base := guardCtx(t)
	ctx := metadata.NewOutgoingContext(base, metadata.MD{
		"x-multi":       {"1", "2", "3"},
		"X-Upper":       {"folded"},
		"x-trace-bin":   {"\x00\x01\xfe\xff"},
		"authorization": {"Bearer t0k3n"},
	})
	ctx = metadata.AppendToOutgoingContext(ctx, "x-appended", "yes")

	checkIncoming := func(t *testing.T, md metadata.MD) {
		t.Helper()
		want := map[string][]string{
			"x-multi":       {"1", "2", "3"},
			"x-upper":       {"folded"},
			"x-trace-bin":   {"\x00\x01\xfe\xff"},
			"authorization": {"Bearer t0k3n"},
			"x-appended":    {"yes"},
		}
		for k, v := range want {
			if got := md.Get(k); !slices.Equal(got, v) {
				t.Errorf("incoming %s = %q, want %q", k, got, v)
			}
		}
		for _, k := range []string{":path", "timeout-ms", "error-message", "error-details-bin"} {
			if v, ok := md[k]; ok {
				t.Errorf("reserved key %s reached the handler: %q", k, v)
			}
		}
	}

	t.Run("unary", func(t *testing.T) {
		for _, in := range []string{"ok", "fail"} {
			var header, trailer metadata.MD
			var p peer.Peer
			out, err := callString(ctx, conn, "Meta", in, grpc.Header(&header), grpc.Trailer(&trailer), grpc.Peer(&p))
			if in == "ok" && (err != nil || out != "ok") {
				t.Fatalf("Meta = %q, %v", out, err)
			}
			if in == "fail" && status.Code(err) != codes.FailedPrecondition {
				t.Fatalf("Meta(fail) = %v", err)
			}
			checkIncoming(t, recv(t, incoming))
			if addr := recv(t, peers); addr == nil || p.Addr == nil || addr.String() != p.LocalAddr.String() || p.Addr.String() != ts.addr {
				t.Errorf("server peer %v; client peer %v → %v (server %s)", addr, p.LocalAddr, p.Addr, ts.addr)
			}
			if got := header.Get("h1"); !slices.Equal(got, []string{"a", "b"}) {
				t.Errorf("%s: header h1 = %q", in, got)
			}
			if got := header.Get("h-bin"); !slices.Equal(got, []string{"\x00\xff"}) {
				t.Errorf("%s: header h-bin = %q", in, got)
			}
			if got := trailer.Get("t1"); !slices.Equal(got, []string{"x"}) || !slices.Equal(trailer.Get("t2"), []string{"y"}) {
				t.Errorf("%s: trailer = %v", in, trailer)
			}
			if _, ok := trailer["error-message"]; ok {
				t.Errorf("%s: reserved key in the trailer: %v", in, trailer)
			}
		}
		var header metadata.MD
		if out, err := callString(ctx, conn, "SendHeader", "z", grpc.Header(&header)); err != nil || out != "z" {
			t.Fatalf("SendHeader = %q, %v", out, err)
		}
		if got := header.Get("sent"); !slices.Equal(got, []string{"early"}) || header.Get("late") != nil {
			t.Errorf("header = %v", header)
		}
	})

	t.Run("stream", func(t *testing.T) {
		for _, last := range []string{"bye", "fail"} {
			s, err := openStream(ctx, conn, "Bidi", true, true)
			if err != nil {
				t.Fatal(err)
			}
			// The header arrives before any message: the handler sent it
			// and now waits for the client.
			h, err := s.Header()
			if err != nil || !slices.Equal(h.Get("sh"), []string{"1", "2"}) {
				t.Fatalf("Header() = %v, %v; want sh [1 2]", h, err)
			}
			checkIncoming(t, recv(t, incoming))
			if s.Trailer() != nil {
				t.Errorf("Trailer() before the end = %v", s.Trailer())
			}
			_ = s.SendMsg(wrapperspb.String("hello"))
			if got, err := recvString(s); err != nil || got != "hello" {
				t.Fatalf("echo = %q, %v", got, err)
			}
			_ = s.SendMsg(wrapperspb.String(last))
			if last == "bye" {
				if got, err := recvString(s); err != nil || got != "bye" {
					t.Fatalf("echo = %q, %v", got, err)
				}
				s.CloseSend()
				if _, err := recvString(s); err != io.EOF {
					t.Fatalf("end = %v", err)
				}
				if got := s.Trailer().Get("st"); !slices.Equal(got, []string{"end"}) {
					t.Errorf("Trailer() = %v", s.Trailer())
				}
			} else {
				if _, err := recvString(s); status.Code(err) != codes.Aborted {
					t.Fatalf("end = %v, want ABORTED", err)
				}
				if got := s.Trailer().Get("st"); !slices.Equal(got, []string{"end", "failed"}) {
					t.Errorf("Trailer() on error = %v", s.Trailer())
				}
			}
		}

		// No header at all: Header() returns with the first message.
		s, err := openStream(ctx, conn, "NoHeader", false, true)
		if err != nil {
			t.Fatal(err)
		}
		_ = s.SendMsg(wrapperspb.String("q"))
		if h, err := s.Header(); err != nil || len(h) != 0 {
			t.Fatalf("Header() = %v, %v; want empty", h, err)
		}
		if got, err := recvString(s); err != nil || got != "only" {
			t.Fatalf("recv = %q, %v", got, err)
		}
		if _, err := recvString(s); err != io.EOF {
			t.Fatalf("end = %v", err)
		}
	})
}

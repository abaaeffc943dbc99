package mcp_test

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/frame"
	"github.com/mcpbridge/mcpbridge/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// sizeService: Echo; Big answers a message of the size asked for (a
// decimal); Sink (client streaming) counts messages; BigStream sends one
// small and then one large message and waits for its context.
func sizeService(cancelled chan<- error) func(*mcp.Server) {
	return registerTest(
		map[string]unaryFunc{
			"Echo": echoFunc,
			"Big": func(_ context.Context, in string) (string, error) {
				return strings.Repeat("b", atoi(in)), nil
			},
		},
		streamMethod{name: "Sink", client: true, fn: func(ss grpc.ServerStream) error {
			n := 0
			for {
				err := ss.RecvMsg(new(wrapperspb.StringValue))
				if err == io.EOF {
					return ss.SendMsg(wrapperspb.String(itoa(n)))
				}
				if err != nil {
					return err
				}
				n++
			}
		}},
		streamMethod{name: "BigStream", server: true, fn: func(ss grpc.ServerStream) error {
			in := new(wrapperspb.StringValue)
			if err := ss.RecvMsg(in); err != nil {
				return err
			}
			if err := ss.SendMsg(wrapperspb.String("small")); err != nil {
				return err
			}
			if err := ss.SendMsg(wrapperspb.String(strings.Repeat("b", atoi(in.Value)))); err != nil {
				return err
			}
			<-ss.Context().Done()
			cancelled <- ss.Context().Err()
			return nil
		}},
	)
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func itoa(n int) string { return strconv.Itoa(n) }

// A message over the server's limit is a call error: the call gets
// RESOURCE_EXHAUSTED and the same connection goes on serving (the server
// accepted one connection only).
func TestOversizedRequest(t *testing.T) {
	ts := startServer(t, sizeService(nil), mcp.WithMaxMessageSize(1024))
	conn := dial(t, ts.addr) // the client's own limit is the default 4 MiB
	ctx := guardCtx(t)
	big := strings.Repeat("x", 2048)

	tests := []struct {
		name string
		call func() error
	}{
		{name: "unary", call: func() error {
			_, err := callString(ctx, conn, "Echo", big)
			return err
		}},
		{name: "client streaming, first message", call: func() error {
			s, err := openStream(ctx, conn, "Sink", true, false)
			if err != nil {
				return err
			}
			_ = s.SendMsg(wrapperspb.String(big))
			_ = s.CloseSend()
			_, err = recvString(s)
			return err
		}},
		{name: "client streaming, third message", call: func() error {
			s, err := openStream(ctx, conn, "Sink", true, false)
			if err != nil {
				return err
			}
			_ = s.SendMsg(wrapperspb.String("a"))
			_ = s.SendMsg(wrapperspb.String("b"))
			_ = s.SendMsg(wrapperspb.String(big))
			_ = s.CloseSend()
			_, err = recvString(s)
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); status.Code(err) != codes.ResourceExhausted {
				t.Fatalf("oversized call = %v, want RESOURCE_EXHAUSTED", err)
			}
			if out, err := callString(ctx, conn, "Echo", "after"); err != nil || out != "after" {
				t.Fatalf("call after the oversized one = %q, %v", out, err)
			}
			s, err := openStream(ctx, conn, "Sink", true, false)
			if err != nil {
				t.Fatal(err)
			}
			_ = s.SendMsg(wrapperspb.String("1"))
			_ = s.SendMsg(wrapperspb.String("2"))
			_ = s.CloseSend()
			if n, err := recvString(s); err != nil || n != "2" {
				t.Fatalf("stream after the oversized call = %q, %v", n, err)
			}
		})
	}
	if n := ts.lis.accepted.Load(); n != 1 {
		t.Fatalf("server accepted %d connections, want 1: the oversized body cost the connection", n)
	}

	// On the wire: the RESPONSE for the call, then the connection answers
	// PING and serves a call; with and without a checksum on the frame.
	p := dialRaw(t, ts.addr)
	meta := frame.Metadata(nil).Append(frame.KeyPath, testPath("Echo"))
	for i, flags := range []frame.Flags{frame.FlagEndStream, frame.FlagEndStream | frame.FlagChecksum} {
		id := uint32(10 + i)
		body, _ := wrapperspbMarshal(big)
		p.send(frame.Header{Type: frame.TypeRequest, Flags: flags, SeqID: id}, meta, body)
		f := p.nextNonPing()
		if f.Type != frame.TypeResponse || f.SeqID != id || codes.Code(f.Status) != codes.ResourceExhausted || metaString(f.Meta, frame.KeyErrorMessage) == "" {
			t.Fatalf("got %v seq %d status %d, want RESPONSE %d RESOURCE_EXHAUSTED with a message", f.Type, f.SeqID, f.Status, id)
		}
	}
	p.send(frame.Header{Type: frame.TypePing, SeqID: 3}, nil, []byte("p"))
	if f := p.mustNext(); f.Type != frame.TypePong || f.SeqID != 3 {
		t.Fatalf("got %v, want PONG", f.Type)
	}
	p.request(20, testPath("Echo"), wrapperspb.String("small"))
	if f := p.nextNonPing(); f.Type != frame.TypeResponse || f.SeqID != 20 || f.Status != 0 {
		t.Fatalf("got %v seq %d status %d, want RESPONSE 20 OK", f.Type, f.SeqID, f.Status)
	}
	// An oversized frame whose checksum is wrong is still a connection error.
	body, _ := wrapperspbMarshal(big)
	bad := frame.AppendFrame(nil, frame.Header{Type: frame.TypeRequest, Flags: frame.FlagEndStream | frame.FlagChecksum, SeqID: 21}, meta, body)
	bad[len(bad)-1] ^= 0xFF
	p.writeRaw(bad)
	expectGoAway(t, p, codes.InvalidArgument, 20, "checksum")
}

// A reply over the client's limit fails that call with RESOURCE_EXHAUSTED
// and leaves the connection up; so does one over a per-call limit
// (grpc.MaxCallRecvMsgSize). A streamed message over the limit ends the call
// and cancels the handler.
func TestOversizedReply(t *testing.T) {
	cancelled := make(chan error, 1)
	ts := startServer(t, sizeService(cancelled))
	conn := dial(t, ts.addr, mcp.WithMaxMessageSize(1024))
	ctx := guardCtx(t)

	if _, err := callString(ctx, conn, "Big", "2048"); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("2 KiB reply = %v, want RESOURCE_EXHAUSTED", err)
	}
	if out, err := callString(ctx, conn, "Big", "1000"); err != nil || len(out) != 1000 {
		t.Fatalf("1000-byte reply = %d bytes, %v", len(out), err)
	}
	if _, err := callString(ctx, conn, "Big", "200", grpc.MaxCallRecvMsgSize(100)); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("200-byte reply with a 100-byte call limit = %v, want RESOURCE_EXHAUSTED", err)
	}

	s, err := openStream(ctx, conn, "BigStream", false, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg(wrapperspb.String("4096")); err != nil {
		t.Fatal(err)
	}
	if got, err := recvString(s); err != nil || got != "small" {
		t.Fatalf("first streamed message = %q, %v", got, err)
	}
	if _, err := recvString(s); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("oversized streamed message = %v, want RESOURCE_EXHAUSTED", err)
	}
	if err := recv(t, cancelled); err == nil {
		t.Fatal("handler context not cancelled")
	}

	// Over the client's own limit: refused before anything is sent.
	if _, err := callString(ctx, conn, "Echo", strings.Repeat("x", 2048)); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("2 KiB request over the client's limit = %v, want RESOURCE_EXHAUSTED", err)
	}
	if out, err := callString(ctx, conn, "Echo", "after"); err != nil || out != "after" {
		t.Fatalf("call after = %q, %v", out, err)
	}
	if n := ts.lis.accepted.Load(); n != 1 {
		t.Fatalf("server accepted %d connections, want 1", n)
	}
}

// MCP/1 has no per-call flow control: a receiver bounds each call's inbound
// queue and ends a call that overruns it with RESOURCE_EXHAUSTED, without
// stalling the connection (PROTOCOL.md §8). Client side: a server stream
// the client does not read; server side: a client stream the handler does
// not read. Either way the other calls on the connection go on. Here the
// reader does not wait for room (WithStreamQueueWait(-1)); the wait is
// TestStreamQueueWaitThenOverflow's.
func TestStreamQueueOverflow(t *testing.T) {
	t.Run("client queue", func(t *testing.T) {
		handlerErr := make(chan error, 1)
		ts := startServer(t, registerTest(map[string]unaryFunc{"Echo": echoFunc},
			streamMethod{name: "Flood", server: true, fn: func(ss grpc.ServerStream) error {
				if err := ss.RecvMsg(new(wrapperspb.StringValue)); err != nil {
					return err
				}
				for i := range 100 {
					if err := ss.SendMsg(wrapperspb.String(itoa(i))); err != nil {
						break
					}
				}
				<-ss.Context().Done()
				handlerErr <- ss.Context().Err()
				return nil
			}}))
		conn := dial(t, ts.addr, mcp.WithStreamQueue(4, 0), mcp.WithStreamQueueWait(-1))
		ctx := guardCtx(t)
		s, err := openStream(ctx, conn, "Flood", false, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SendMsg(wrapperspb.String("go")); err != nil {
			t.Fatal(err)
		}
		if err := recv(t, handlerErr); err == nil {
			t.Fatal("handler not cancelled")
		}
		for i := range 4 { // what was queued is still delivered
			if got, err := recvString(s); err != nil || got != itoa(i) {
				t.Fatalf("message %d = %q, %v", i, got, err)
			}
		}
		if _, err := recvString(s); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("after the queue overflowed: %v, want RESOURCE_EXHAUSTED", err)
		}
		if out, err := callString(ctx, conn, "Echo", "fine"); err != nil || out != "fine" {
			t.Fatalf("Echo = %q, %v", out, err)
		}
	})
	t.Run("server queue", func(t *testing.T) {
		handlerErr := make(chan error, 1)
		ts := startServer(t, registerTest(map[string]unaryFunc{"Echo": echoFunc},
			streamMethod{name: "Lazy", client: true, fn: func(ss grpc.ServerStream) error {
				<-ss.Context().Done() // never reads
				handlerErr <- ss.Context().Err()
				return nil
			}}), mcp.WithStreamQueue(4, 0), mcp.WithStreamQueueWait(-1))
		conn := dial(t, ts.addr)
		ctx := guardCtx(t)
		s, err := openStream(ctx, conn, "Lazy", true, false)
		if err != nil {
			t.Fatal(err)
		}
		for range 10 {
			_ = s.SendMsg(wrapperspb.String("m")) // io.EOF once the server ended the call
		}
		_ = s.CloseSend()
		if _, err := recvString(s); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("overrun client stream = %v, want RESOURCE_EXHAUSTED", err)
		}
		if err := recv(t, handlerErr); err == nil {
			t.Fatal("handler not cancelled")
		}
		if out, err := callString(ctx, conn, "Echo", "fine"); err != nil || out != "fine" {
			t.Fatalf("Echo = %q, %v", out, err)
		}
	})
}

package mcp_test

import (
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/mcpbridge/mcpbridge/frame"
	"github.com/mcpbridge/mcpbridge/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// rawSeen is what a raw handler saw of its call.
type rawSeen struct {
	path, ctype string
	dst         uint16
	md          metadata.MD
	notify      bool
}

// rawHandler serves /raw.Svc/*: Unary (SetUnary, one reply in the
// RESPONSE), Stream (every reply a STREAM frame), Echo (a reply per
// message until EOF, with header and trailer) and Fail.
func rawHandler(seen chan<- rawSeen) mcp.RawHandler {
	return func(s *mcp.RawStream) error {
		seen <- rawSeen{path: s.Path(), ctype: s.ContentType(), dst: s.DstAddr(), md: s.Metadata(), notify: s.IsNotify()}
		switch s.Path() {
		case "/raw.Svc/Unary", "/raw.Svc/Stream":
			if s.Path() == "/raw.Svc/Unary" {
				s.SetUnary()
			}
			b, err := s.RecvMsg()
			if err != nil {
				return err
			}
			return s.SendMsg(append([]byte("raw:"), b...))
		case "/raw.Svc/Echo":
			if err := s.SendHeader(metadata.Pairs("rh", "1")); err != nil {
				return err
			}
			n := 0
			for {
				b, err := s.RecvMsg()
				if err == io.EOF {
					s.SetTrailer(metadata.Pairs("count", fmt.Sprint(n)))
					return nil
				}
				if err != nil {
					return err
				}
				n++
				if err := s.SendMsg(append([]byte("echo:"), b...)); err != nil {
					return err
				}
			}
		case "/raw.Svc/Fail":
			return status.Error(codes.PermissionDenied, "raw says no")
		}
		return status.Error(codes.Unimplemented, "no raw method "+s.Path())
	}
}

// The raw API: a RawHandler (WithUnknownHandler) serves every path no
// registered service serves, as bytes; Conn.InvokeRaw and NewRawStream call
// with bytes. Path, dst_addr, content-type and metadata reach the handler.
func TestRawAPI(t *testing.T) {
	seen := make(chan rawSeen, 10)
	ts := startServer(t, registerTest(map[string]unaryFunc{"Echo": echoFunc}), mcp.WithUnknownHandler(rawHandler(seen)))
	conn := dial(t, ts.addr)
	ctx := metadata.AppendToOutgoingContext(guardCtx(t), "x-ctx", "c")

	tests := []struct {
		name    string
		req     mcp.RawRequest
		opts    []grpc.CallOption
		wantDst uint16
	}{
		{name: "SetUnary", req: mcp.RawRequest{Path: "/raw.Svc/Unary"}},
		{name: "no SetUnary", req: mcp.RawRequest{Path: "/raw.Svc/Stream"}},
		{name: "dst_addr in the request", req: mcp.RawRequest{Path: "/raw.Svc/Unary", DstAddr: 0x0102}, wantDst: 0x0102},
		{name: "dst_addr call option", req: mcp.RawRequest{Path: "/raw.Svc/Unary"}, opts: []grpc.CallOption{mcp.DstAddr{Addr: 0x0102}}, wantDst: 0x0102},
		{name: "dst_addr call option pointer", req: mcp.RawRequest{Path: "/raw.Svc/Stream"}, opts: []grpc.CallOption{&mcp.DstAddr{Addr: 0xFFFF}}, wantDst: 0xFFFF},
		{name: "content type and metadata", req: mcp.RawRequest{Path: "/raw.Svc/Unary", ContentType: "application/json", Metadata: metadata.Pairs("x-req", "r")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := conn.InvokeRaw(ctx, tc.req, []byte("payload\x00\xff"), tc.opts...)
			if err != nil || string(out) != "raw:payload\x00\xff" {
				t.Fatalf("InvokeRaw = %q, %v", out, err)
			}
			s := recv(t, seen)
			if s.path != tc.req.Path || s.dst != tc.wantDst || s.ctype != tc.req.ContentType || s.notify {
				t.Fatalf("handler saw %+v", s)
			}
			if got := s.md.Get("x-ctx"); !slices.Equal(got, []string{"c"}) {
				t.Errorf("context metadata = %v", s.md)
			}
			for k, v := range tc.req.Metadata {
				if got := s.md.Get(k); !slices.Equal(got, v) {
					t.Errorf("request metadata %s = %q, want %q", k, got, v)
				}
			}
		})
	}

	t.Run("registered paths go to the service", func(t *testing.T) {
		if out, err := callString(ctx, conn, "Echo", "svc"); err != nil || out != "svc" {
			t.Fatalf("Echo = %q, %v", out, err)
		}
		// A generated-style call to an unknown path reaches the raw handler,
		// dst_addr and all.
		var out []byte
		err := conn.Invoke(ctx, "/raw.Svc/Unary", []byte("gen"), &out, mcp.DstAddr{Addr: 7})
		if err != nil || string(out) != "raw:gen" {
			t.Fatalf("Invoke = %q, %v", out, err)
		}
		if s := recv(t, seen); s.dst != 7 {
			t.Fatalf("dst_addr = %d, want 7", s.dst)
		}
		select {
		case s := <-seen:
			t.Fatalf("the raw handler saw %s, a registered path", s.path)
		default:
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := conn.InvokeRaw(ctx, mcp.RawRequest{Path: "/raw.Svc/Fail"}, nil)
		if st := status.Convert(err); st.Code() != codes.PermissionDenied || st.Message() != "raw says no" {
			t.Fatalf("Fail = %v", err)
		}
		recv(t, seen)
		// A registered (protobuf) method refuses another content-type.
		_, err = conn.InvokeRaw(ctx, mcp.RawRequest{Path: testPath("Echo"), ContentType: "application/json"}, []byte("{}"))
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("JSON to a protobuf method = %v, want INVALID_ARGUMENT", err)
		}
	})

	t.Run("raw stream", func(t *testing.T) {
		rs, err := conn.NewRawStream(ctx, mcp.RawRequest{Path: "/raw.Svc/Echo"}, mcp.DstAddr{Addr: 0x0102})
		if err != nil {
			t.Fatal(err)
		}
		h, err := rs.Header()
		if err != nil || !slices.Equal(h.Get("rh"), []string{"1"}) {
			t.Fatalf("Header() = %v, %v", h, err)
		}
		if s := recv(t, seen); s.dst != 0x0102 || s.path != "/raw.Svc/Echo" {
			t.Fatalf("handler saw %+v", s)
		}
		for i := range 5 {
			msg := fmt.Sprint("m", i)
			if err := rs.SendMsg([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			if b, err := rs.RecvMsg(); err != nil || string(b) != "echo:"+msg {
				t.Fatalf("RecvMsg = %q, %v", b, err)
			}
		}
		if err := rs.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if b, err := rs.RecvMsg(); err != io.EOF {
			t.Fatalf("end = %q, %v; want io.EOF", b, err)
		}
		if got := rs.Trailer().Get("count"); !slices.Equal(got, []string{"5"}) {
			t.Fatalf("Trailer() = %v", rs.Trailer())
		}
		if rs.Context() != ctx {
			t.Error("Context() is not the call's context")
		}
	})
}

// On the wire, SetUnary puts the one reply in the RESPONSE (the unary
// shape); without it the reply travels as a STREAM frame before a RESPONSE
// with NO_MESSAGE. A raw handler also serves a client-streaming call.
func TestRawSetUnaryOnTheWire(t *testing.T) {
	seen := make(chan rawSeen, 10)
	ts := startServer(t, nil, mcp.WithUnknownHandler(rawHandler(seen)))
	p := dialRaw(t, ts.addr)
	req := func(id uint32, path string, flags frame.Flags, body string) {
		meta := frame.Metadata(nil).Append(frame.KeyPath, path)
		p.send(frame.Header{Type: frame.TypeRequest, Flags: flags, SeqID: id, DstAddr: 0x0102}, meta, []byte(body))
	}

	req(1, "/raw.Svc/Unary", frame.FlagEndStream, "u")
	f := p.nextNonPing()
	if f.Type != frame.TypeResponse || f.SeqID != 1 || f.Status != 0 || f.Flags.Has(frame.FlagNoMessage) || string(f.Body) != "raw:u" {
		t.Fatalf("SetUnary: %v seq %d flags %#x body %q; want RESPONSE with the reply", f.Type, f.SeqID, f.Flags, f.Body)
	}
	if s := recv(t, seen); s.dst != 0x0102 {
		t.Fatalf("dst_addr = %#x", s.dst)
	}

	req(2, "/raw.Svc/Stream", frame.FlagEndStream, "s")
	f = p.nextNonPing()
	if f.Type != frame.TypeStream || f.SeqID != 2 || string(f.Body) != "raw:s" {
		t.Fatalf("no SetUnary: %v seq %d body %q; want STREAM with the reply", f.Type, f.SeqID, f.Body)
	}
	f = p.nextNonPing()
	if f.Type != frame.TypeResponse || f.SeqID != 2 || f.Status != 0 || !f.Flags.Has(frame.FlagNoMessage) {
		t.Fatalf("no SetUnary: %v seq %d flags %#x; want RESPONSE + NO_MESSAGE", f.Type, f.SeqID, f.Flags)
	}
	recv(t, seen)

	// Client streaming into Echo: REQUEST without a message, two STREAMs,
	// the last with END_STREAM.
	meta := frame.Metadata(nil).Append(frame.KeyPath, "/raw.Svc/Echo")
	p.send(frame.Header{Type: frame.TypeRequest, Flags: frame.FlagNoMessage, SeqID: 3}, meta, nil)
	p.send(frame.Header{Type: frame.TypeStream, SeqID: 3}, nil, []byte("a"))
	p.send(frame.Header{Type: frame.TypeStream, Flags: frame.FlagEndStream, SeqID: 3}, nil, []byte("b"))
	var bodies []string
	for {
		f := p.nextNonPing()
		if f.SeqID != 3 {
			t.Fatalf("frame for seq %d", f.SeqID)
		}
		if f.Type == frame.TypeResponse {
			if f.Status != 0 || metaString(f.Meta, "count") != "2" {
				t.Fatalf("RESPONSE status %d trailer count %q", f.Status, metaString(f.Meta, "count"))
			}
			break
		}
		if f.Type != frame.TypeStream {
			t.Fatalf("got %v", f.Type)
		}
		if !f.Flags.Has(frame.FlagNoMessage) {
			bodies = append(bodies, string(f.Body))
		} else if metaString(f.Meta, "rh") != "1" {
			t.Fatalf("header frame without the header: %q", f.Meta)
		}
	}
	if !slices.Equal(bodies, []string{"echo:a", "echo:b"}) {
		t.Fatalf("replies %q", bodies)
	}
	recv(t, seen)
}

// SendLast sends the last message with the half-close in one frame: sent
// first, it makes the REQUEST carry END_STREAM (the handler's HalfClosed);
// after other messages, the handler reads them all, then io.EOF. A send
// after it fails.
func TestRawClientStreamSendLast(t *testing.T) {
	type seenCall struct {
		halfClosed bool
		msgs       []string
	}
	seen := make(chan seenCall, 4)
	ts := startServer(t, nil, mcp.WithUnknownHandler(func(s *mcp.RawStream) error {
		c := seenCall{halfClosed: s.HalfClosed()}
		for {
			b, err := s.RecvMsg()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			c.msgs = append(c.msgs, string(b))
		}
		seen <- c
		return s.SendMsg([]byte(fmt.Sprint(len(c.msgs))))
	}))
	conn := dial(t, ts.addr)
	ctx := guardCtx(t)

	for _, tc := range []struct {
		name       string
		before     []string
		halfClosed bool
	}{
		{name: "only message", halfClosed: true},
		{name: "after others", before: []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := conn.NewRawStream(ctx, mcp.RawRequest{Path: "/raw.Svc/Count"})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tc.before {
				if err := rs.SendMsg([]byte(m)); err != nil {
					t.Fatal(err)
				}
			}
			if err := rs.SendLast([]byte("last")); err != nil {
				t.Fatal(err)
			}
			if err := rs.SendMsg([]byte("late")); status.Code(err) != codes.Internal {
				t.Fatalf("SendMsg after SendLast = %v, want INTERNAL", err)
			}
			if err := rs.CloseSend(); err != nil {
				t.Fatalf("CloseSend after SendLast = %v", err)
			}
			want := append(slices.Clone(tc.before), "last")
			if b, err := rs.RecvMsg(); err != nil || string(b) != fmt.Sprint(len(want)) {
				t.Fatalf("RecvMsg = %q, %v", b, err)
			}
			if b, err := rs.RecvMsg(); err != io.EOF {
				t.Fatalf("end = %q, %v; want io.EOF", b, err)
			}
			c := recv(t, seen)
			if c.halfClosed != tc.halfClosed || !slices.Equal(c.msgs, want) {
				t.Fatalf("handler saw %+v; want half-closed %v, messages %q", c, tc.halfClosed, want)
			}
		})
	}
}

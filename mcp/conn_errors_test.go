package mcp_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/frame"
	"github.com/mcpbridge/mcpbridge/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// expectGoAway reads the next frames up to a GOAWAY, checks its status, last
// id and that its error-message contains want, then expects the close.
func expectGoAway(t *testing.T, p *rawPeer, code codes.Code, lastID uint32, want string) {
	t.Helper()
	f := p.nextNonPing()
	if f.Type != frame.TypeGoAway {
		t.Fatalf("got %v seq %d status %d, want GOAWAY", f.Type, f.SeqID, f.Status)
	}
	msg := metaString(f.Meta, frame.KeyErrorMessage)
	if codes.Code(f.Status) != code || f.SeqID != lastID || msg == "" || !strings.Contains(msg, want) {
		t.Fatalf("GOAWAY status %v last id %d error-message %q; want %v, %d, containing %q",
			codes.Code(f.Status), f.SeqID, msg, code, lastID, want)
	}
	if f, err := p.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after GOAWAY: %v %v, want EOF (the connection closed)", f.Type, err)
	}
}

// healthyCaller makes calls on its own Conn until stopped and reports any
// failure: connection errors on other connections must not touch it.
func healthyCaller(t *testing.T, addr string) (stop func()) {
	conn := dial(t, addr)
	ctx := guardCtx(t)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	var calls atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-quit:
					return
				default:
				}
				in := fmt.Sprintf("%d-%d", w, i)
				if out, err := callString(ctx, conn, "Echo", in); err != nil || out != in {
					t.Errorf("healthy call = %q, %v", out, err)
					return
				}
				calls.Add(1)
			}
		})
	}
	// At least one round trip before the test proper starts.
	if out, err := callString(ctx, conn, "Echo", "first"); err != nil || out != "first" {
		t.Fatalf("healthy call = %q, %v", out, err)
	}
	return func() {
		close(quit)
		wg.Wait()
		if calls.Load() == 0 {
			t.Error("the healthy connection made no calls")
		}
	}
}

// Every invalid frame of the protocol's vectors, sent to a live server, is
// answered with GOAWAY (INVALID_ARGUMENT, UNIMPLEMENTED for a version,
// error-message naming the problem) and a close, while another connection's
// calls go on unharmed.
func TestInvalidVectorsGetGoAway(t *testing.T) {
	// Sink holds its call open until the client half-closes.
	sink := streamMethod{name: "Sink", client: true, fn: func(ss grpc.ServerStream) error {
		for {
			if err := ss.RecvMsg(new([]byte)); err != nil {
				if err == io.EOF {
					return ss.SendMsg([]byte{})
				}
				return err
			}
		}
	}}
	ts := startServer(t, registerTest(map[string]unaryFunc{"Echo": echoFunc}, sink))
	stop := healthyCaller(t, ts.addr)
	defer stop()

	for _, v := range loadInvalidVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			p := dialRaw(t, ts.addr)
			p.writeRaw(mustHex(t, v.Hex))
			if v.Error == "truncated" {
				// The stream must end inside the frame: half-close.
				if err := p.nc.(*net.TCPConn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
			}
			code := codes.InvalidArgument
			if v.Error == "version" {
				code = codes.Unimplemented
			}
			expectGoAway(t, p, code, 0, v.Error)
		})
	}

	// More connection errors, made by hand. Each connection first completes
	// call 5, so the GOAWAY's last id is 5.
	echo, _ := wrapperspbMarshal("x")
	path := frame.Metadata(nil).Append(frame.KeyPath, testPath("Echo"))
	sinkPath := frame.Metadata(nil).Append(frame.KeyPath, testPath("Sink"))
	oversizedMeta := make([]byte, frame.HeaderLen)
	(&frame.Header{Type: frame.TypeRequest, SeqID: 6, MetaLen: frame.MaxMetaLen + 1}).Put(oversizedMeta)
	hugeFrame := make([]byte, frame.HeaderLen)
	(&frame.Header{Type: frame.TypeRequest, SeqID: 6, BodyLen: frame.DefaultMaxFrame}).Put(hugeFrame)
	tests := []struct {
		name string
		raw  []byte
		want string // in error-message
		last uint32 // the GOAWAY's last accepted id; 0 means 5
	}{
		{name: "REQUEST with seq_id 0", raw: frame.AppendFrame(nil, frame.Header{Type: frame.TypeRequest, Flags: frame.FlagEndStream}, path, echo), want: "seq_id 0"},
		{name: "seq_id reused while open", raw: append(
			frame.AppendFrame(nil, frame.Header{Type: frame.TypeRequest, SeqID: 7}, sinkPath, echo),
			frame.AppendFrame(nil, frame.Header{Type: frame.TypeRequest, SeqID: 7}, sinkPath, echo)...), want: "reused", last: 7},
		{name: "metadata over 16 KiB", raw: oversizedMeta, want: "frame_too_large"},
		{name: "frame over the hard limit", raw: hugeFrame, want: "frame_too_large"},
		{name: "invalid metadata key", raw: frame.AppendFrame(nil, frame.Header{Type: frame.TypeRequest, SeqID: 6}, frame.Metadata(nil).Append("Bad Key", "v"), nil), want: "metadata"},
		{name: "non-printable value", raw: frame.AppendFrame(nil, frame.Header{Type: frame.TypeRequest, SeqID: 6}, frame.Metadata(nil).Append("k", "a\x00b"), nil), want: "metadata"},
		{name: "PING body over 64 bytes", raw: frame.AppendFrame(nil, frame.Header{Type: frame.TypePing, SeqID: 1}, nil, make([]byte, 65)), want: "PING"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := dialRaw(t, ts.addr)
			p.request(5, testPath("Echo"), wrapperspb.String("five"))
			if f := p.nextNonPing(); f.Type != frame.TypeResponse || f.SeqID != 5 || f.Status != 0 {
				t.Fatalf("call 5: %v seq %d status %d", f.Type, f.SeqID, f.Status)
			}
			p.writeRaw(tc.raw)
			last := tc.last
			if last == 0 {
				last = 5
			}
			expectGoAway(t, p, codes.InvalidArgument, last, tc.want)
		})
	}
}

// The client side of a connection error: a server that sends garbage gets
// GOAWAY from the Conn, and the calls open on the connection end
// UNAVAILABLE.
func TestClientConnectionError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	conn := dial(t, l.Addr().String(), mcp.WithBackoff(mcp.Backoff{Base: time.Hour}))
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	server := newRawPeer(t, nc)

	const calls = 3
	results := make(chan error, calls)
	for range calls {
		go func() {
			_, err := callString(guardCtx(t), conn, "Echo", "x")
			results <- err
		}()
	}
	for range calls {
		if f := server.nextNonPing(); f.Type != frame.TypeRequest {
			t.Fatalf("got %v, want REQUEST", f.Type)
		}
	}
	bad := make([]byte, frame.HeaderLen)
	(&frame.Header{Type: frame.TypeResponse, SeqID: 1}).Put(bad)
	bad[4] = 0x80 // a reserved flag bit
	server.writeRaw(bad)
	for range calls {
		if err := recv(t, results); status.Code(err) != codes.Unavailable {
			t.Errorf("call on the broken connection = %v, want UNAVAILABLE", err)
		}
	}
	expectGoAway(t, server, codes.InvalidArgument, 0, "flags")
}

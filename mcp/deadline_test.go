package mcp_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mcpbridge/mcpbridge/frame"
	"github.com/mcpbridge/mcpbridge/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ctxReport is what a handler saw of its context.
type ctxReport struct {
	deadline    time.Time
	hasDeadline bool
	err         error // ctx.Err() once it was done
}

// blockingHandlers are test-service handlers that wait for their context to
// end and report what they saw on reports; Ignore waits for release instead.
func blockingHandlers(entered chan<- struct{}, reports chan<- ctxReport, release <-chan struct{}) (map[string]unaryFunc, []streamMethod) {
	waitCtx := func(ctx context.Context) error {
		dl, ok := ctx.Deadline()
		entered <- struct{}{}
		<-ctx.Done()
		reports <- ctxReport{deadline: dl, hasDeadline: ok, err: ctx.Err()}
		return ctx.Err()
	}
	unary := map[string]unaryFunc{
		"Block": func(ctx context.Context, _ string) (string, error) { return "", waitCtx(ctx) },
		"Ignore": func(ctx context.Context, _ string) (string, error) {
			entered <- struct{}{}
			<-release // ignores ctx
			return "late", nil
		},
	}
	// A stream handler that reads one message, sends one, then blocks.
	streamFn := func(ss grpc.ServerStream) error {
		m := new(wrapperspb.StringValue)
		if err := ss.RecvMsg(m); err != nil {
			return err
		}
		if err := ss.SendMsg(m); err != nil {
			return err
		}
		return waitCtx(ss.Context())
	}
	streams := []streamMethod{
		{name: "BlockServerStream", server: true, fn: streamFn},
		{name: "BlockBidi", client: true, server: true, fn: streamFn},
		{name: "BlockClientStream", client: true, fn: func(ss grpc.ServerStream) error {
			m := new(wrapperspb.StringValue)
			if err := ss.RecvMsg(m); err != nil {
				return err
			}
			return waitCtx(ss.Context())
		}},
	}
	return unary, streams
}

// Deadlines, on a fake clock: the client's deadline travels as timeout-ms,
// the handler's context carries the same deadline and is cancelled when it
// passes, and the client gets DEADLINE_EXCEEDED exactly at its deadline
// whether or not the handler cooperates.
func TestDeadline(t *testing.T) {
	tests := []struct {
		name   string
		method string
		stream bool
		ignore bool // the handler ignores its context
	}{
		{name: "unary handler waits on ctx", method: "Block"},
		{name: "unary handler ignores ctx", method: "Ignore", ignore: true},
		{name: "server streaming", method: "BlockServerStream", stream: true},
		{name: "bidi streaming", method: "BlockBidi", stream: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				entered := make(chan struct{}, 1)
				reports := make(chan ctxReport, 1)
				release := make(chan struct{})
				unary, streams := blockingHandlers(entered, reports, release)
				srv := mcp.NewServer()
				registerTest(unary, streams...)(srv)
				lis, stop := servePipe(t, srv)
				defer stop()
				conn, err := mcp.Dial(t.Context(), "pipe", mcp.WithContextDialer(lis.Dial))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()

				const timeout = 2 * time.Second
				start := time.Now()
				ctx, cancel := context.WithTimeout(t.Context(), timeout)
				defer cancel()
				if tc.stream {
					s, err := openStream(ctx, conn, tc.method, tc.method == "BlockBidi", true)
					if err != nil {
						t.Fatal(err)
					}
					if err := s.SendMsg(wrapperspb.String("hi")); err != nil {
						t.Fatal(err)
					}
					if got, err := recvString(s); err != nil || got != "hi" {
						t.Fatalf("first message = %q, %v", got, err)
					}
					_, err = recvString(s)
					if status.Code(err) != codes.DeadlineExceeded {
						t.Fatalf("RecvMsg = %v, want DEADLINE_EXCEEDED", err)
					}
				} else {
					_, err := callString(ctx, conn, tc.method, "x")
					if status.Code(err) != codes.DeadlineExceeded {
						t.Fatalf("call = %v, want DEADLINE_EXCEEDED", err)
					}
				}
				if got := time.Since(start); got != timeout {
					t.Errorf("the call ended after %v, want exactly %v", got, timeout)
				}
				<-entered
				if tc.ignore {
					close(release)
					return
				}
				r := <-reports
				if !r.hasDeadline || !r.deadline.Equal(start.Add(timeout)) {
					t.Errorf("handler deadline = %v (set %v), want %v", r.deadline, r.hasDeadline, start.Add(timeout))
				}
				// Client and server deadlines fall at the same instant: the
				// handler sees either its own deadline or the client's CANCEL.
				if !errors.Is(r.err, context.DeadlineExceeded) && !errors.Is(r.err, context.Canceled) {
					t.Errorf("handler ctx.Err() = %v", r.err)
				}
			})
		})
	}
}

// The server enforces timeout-ms on its own: a raw client that sends a
// deadline and never cancels gets DEADLINE_EXCEEDED from the server, and
// the handler's context ends with DeadlineExceeded. timeout-ms 0 means the
// deadline has already passed when the call arrives.
func TestServerEnforcesTimeout(t *testing.T) {
	tests := []struct {
		name      string
		timeoutMs string
	}{
		{name: "50ms", timeoutMs: "50"},
		{name: "1ms", timeoutMs: "1"},
		{name: "0ms", timeoutMs: "0"},
	}
	entered := make(chan struct{}, 1)
	reports := make(chan ctxReport, 1)
	unary, streams := blockingHandlers(entered, reports, nil)
	ts := startServer(t, registerTest(unary, streams...))
	p := dialRaw(t, ts.addr)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := uint32(i + 1)
			sent := time.Now()
			p.request(id, testPath("Block"), wrapperspb.String("x"), frame.KeyTimeoutMs, tc.timeoutMs)
			f := p.nextNonPing()
			if f.Type != frame.TypeResponse || f.SeqID != id || codes.Code(f.Status) != codes.DeadlineExceeded || !f.Flags.Has(frame.FlagNoMessage) {
				t.Fatalf("got %v seq %d status %d flags %#x, want RESPONSE %d DEADLINE_EXCEEDED NO_MESSAGE", f.Type, f.SeqID, f.Status, f.Flags, id)
			}
			<-entered
			r := <-reports
			if !errors.Is(r.err, context.DeadlineExceeded) {
				t.Errorf("handler ctx.Err() = %v, want DeadlineExceeded", r.err)
			}
			ms, _ := strconv.Atoi(tc.timeoutMs)
			if !r.hasDeadline || r.deadline.Before(sent.Add(time.Duration(ms)*time.Millisecond)) {
				t.Errorf("handler deadline %v (set %v) is before send time + %sms", r.deadline, r.hasDeadline, tc.timeoutMs)
			}
		})
	}
	// A malformed timeout-ms is a call error, not a connection error.
	p.request(99, testPath("Block"), wrapperspb.String("x"), frame.KeyTimeoutMs, "soon")
	if f := p.nextNonPing(); f.Type != frame.TypeResponse || f.SeqID != 99 || codes.Code(f.Status) != codes.InvalidArgument {
		t.Fatalf("bad timeout-ms: got %v seq %d status %d, want RESPONSE INVALID_ARGUMENT", f.Type, f.SeqID, f.Status)
	}
}

// The client writes its remaining time as timeout-ms on the REQUEST: a raw
// server reads it off the wire.
func TestTimeoutOnTheWire(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	conn := dial(t, l.Addr().String())
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	server := newRawPeer(t, nc)

	ctx, cancel := context.WithTimeout(guardCtx(t), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := callString(ctx, conn, "Echo", "x")
		done <- err
	}()
	f := server.nextNonPing()
	if f.Type != frame.TypeRequest || !f.Flags.Has(frame.FlagEndStream) {
		t.Fatalf("got %v flags %#x, want REQUEST + END_STREAM", f.Type, f.Flags)
	}
	if got := metaString(f.Meta, frame.KeyPath); got != testPath("Echo") {
		t.Errorf(":path = %q", got)
	}
	ms, err := strconv.Atoi(metaString(f.Meta, frame.KeyTimeoutMs))
	if err != nil || ms <= 0 || ms > 5000 {
		t.Fatalf("timeout-ms = %q, want 1..5000", metaString(f.Meta, frame.KeyTimeoutMs))
	}
	// A call without a deadline carries no timeout-ms.
	go func() {
		_, err := callString(context.Background(), conn, "Echo", "y") // answered below
		done <- err
	}()
	g := server.nextNonPing()
	if _, ok := g.Meta.Get(frame.KeyTimeoutMs); ok || g.Type != frame.TypeRequest {
		t.Fatalf("call without deadline: %v with timeout-ms %q", g.Type, metaString(g.Meta, frame.KeyTimeoutMs))
	}
	body := frame.Metadata(nil)
	reply, _ := wrapperspbMarshal("ok")
	server.send(frame.Header{Type: frame.TypeResponse, SeqID: f.SeqID}, body, reply)
	server.send(frame.Header{Type: frame.TypeResponse, SeqID: g.SeqID}, body, reply)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("call = %v", err)
		}
	}
}

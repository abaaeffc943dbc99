package mcp_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/frame"
	"github.com/mcpbridge/mcpbridge/mcp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// slowService: Slow announces itself on entered and answers "done:<in>"
// once release is closed; it reports its context's error on ctxErr if the
// context ends first.
func slowService(entered chan<- string, release <-chan struct{}, ctxErr chan<- error) func(*mcp.Server) {
	return registerTest(map[string]unaryFunc{
		"Echo": echoFunc,
		"Slow": func(ctx context.Context, in string) (string, error) {
			entered <- in
			select {
			case <-release:
				return "done:" + in, nil
			case <-ctx.Done():
				ctxErr <- ctx.Err()
				return "", ctx.Err()
			}
		},
	})
}

// Shutdown drains: it sends GOAWAY with the highest call id accepted,
// refuses new calls (on the old connection and with a closed listener),
// lets the calls in flight finish, then closes the connections and returns.
func TestShutdownDrains(t *testing.T) {
	entered := make(chan string, 2)
	release := make(chan struct{})
	ctxErr := make(chan error, 2)
	ts := startServer(t, slowService(entered, release, ctxErr))
	conn := dial(t, ts.addr, mcp.WithBackoff(mcp.Backoff{Base: 5 * time.Millisecond, Max: 20 * time.Millisecond}))
	ctx := guardCtx(t)

	// In flight: one call from a Conn, one from a raw peer (id 5).
	inflight := make(chan error, 1)
	go func() {
		out, err := callString(ctx, conn, "Slow", "conn")
		if err == nil && out != "done:conn" {
			err = errors.New("wrong reply " + out)
		}
		inflight <- err
	}()
	recv(t, entered)
	p := dialRaw(t, ts.addr)
	p.request(5, testPath("Slow"), wrapperspb.String("raw"))
	recv(t, entered)

	shut := make(chan error, 1)
	go func() { shut <- ts.Shutdown(ctx) }()

	f := p.nextNonPing()
	if f.Type != frame.TypeGoAway || f.Status != 0 || f.SeqID != 5 || metaString(f.Meta, frame.KeyErrorMessage) == "" {
		t.Fatalf("got %v status %d seq %d, want GOAWAY OK, last id 5, with a reason", f.Type, f.Status, f.SeqID)
	}
	// A call opened after the GOAWAY on the draining connection is refused.
	p.request(7, testPath("Echo"), wrapperspb.String("late"))
	if f := p.nextNonPing(); f.Type != frame.TypeResponse || f.SeqID != 7 || codes.Code(f.Status) != codes.Unavailable {
		t.Fatalf("call after GOAWAY: %v seq %d status %d, want RESPONSE 7 UNAVAILABLE", f.Type, f.SeqID, f.Status)
	}
	// The Conn stops using the draining connection; its new calls find the
	// listener closed.
	waitFor(t, "the Conn to see GOAWAY", func() bool { return !conn.Ready() })
	if _, err := callString(ctx, conn, "Echo", "new"); status.Code(err) != codes.Unavailable {
		t.Fatalf("new call during drain = %v, want UNAVAILABLE", err)
	}
	if c, err := mcp.Dial(ctx, ts.addr); status.Code(err) != codes.Unavailable {
		if c != nil {
			c.Close()
		}
		t.Fatalf("Dial during drain = %v, want UNAVAILABLE", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with calls in flight", err)
	default:
	}

	close(release)
	if err := recv(t, inflight); err != nil {
		t.Fatalf("in-flight call = %v, want OK", err)
	}
	if f := p.nextNonPing(); f.Type != frame.TypeResponse || f.SeqID != 5 || f.Status != 0 {
		t.Fatalf("raw in-flight call: %v seq %d status %d, want RESPONSE 5 OK", f.Type, f.SeqID, f.Status)
	}
	if _, err := p.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last call: %v, want EOF", err)
	}
	if err := recv(t, shut); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if err := ts.Serve(newPipeListener()); err != mcp.ErrServerClosed {
		t.Fatalf("Serve after Shutdown = %v, want ErrServerClosed", err)
	}
}

// Shutdown whose context ends first closes the connections: the calls in
// flight end UNAVAILABLE and their handlers' contexts are cancelled; Close
// does the same at once.
func TestShutdownForced(t *testing.T) {
	tests := []struct {
		name    string
		stop    func(*mcp.Server) error
		wantErr error
	}{
		{name: "expired context", stop: func(s *mcp.Server) error {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return s.Shutdown(ctx)
		}, wantErr: context.Canceled},
		{name: "deadline during drain", stop: func(s *mcp.Server) error {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			return s.Shutdown(ctx) // the handlers never finish on their own
		}, wantErr: context.DeadlineExceeded},
		{name: "Close", stop: func(s *mcp.Server) error { return s.Close() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			entered := make(chan string, 3)
			ctxErr := make(chan error, 3)
			ts := startServer(t, slowService(entered, nil, ctxErr))
			conn := dial(t, ts.addr, mcp.WithBackoff(mcp.Backoff{Base: time.Hour}))
			const calls = 3
			results := make(chan error, calls)
			for range calls {
				go func() {
					_, err := callString(guardCtx(t), conn, "Slow", "x")
					results <- err
				}()
			}
			for range calls {
				recv(t, entered)
			}
			if err := tc.stop(ts.Server); !errors.Is(err, tc.wantErr) {
				t.Fatalf("stop = %v, want %v", err, tc.wantErr)
			}
			for range calls {
				if err := recv(t, results); status.Code(err) != codes.Unavailable {
					t.Errorf("in-flight call = %v, want UNAVAILABLE", err)
				}
				if err := recv(t, ctxErr); !errors.Is(err, context.Canceled) {
					t.Errorf("handler ctx = %v, want Canceled", err)
				}
			}
		})
	}
}

// Shutdown of a server without connections returns at once, and a server
// shut down before Serve refuses to serve.
func TestShutdownIdle(t *testing.T) {
	ts := startServer(t, nil)
	conn := dial(t, ts.addr, mcp.WithBackoff(mcp.Backoff{Base: time.Hour}))
	if err := ts.Shutdown(guardCtx(t)); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	waitFor(t, "the Conn to lose its connection", func() bool { return !conn.Ready() })

	srv := mcp.NewServer()
	if err := srv.Shutdown(guardCtx(t)); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(l); err != mcp.ErrServerClosed {
		t.Fatalf("Serve after Shutdown = %v", err)
	}
	if _, err := l.Accept(); err == nil {
		t.Fatal("Serve left the listener open")
	}
}

// Conn.Close ends the calls in flight with ErrConnClosing (CANCELED) and
// the server's handlers see their contexts cancelled when the connection
// goes.
func TestConnCloseEndsCalls(t *testing.T) {
	entered := make(chan string, 3)
	ctxErr := make(chan error, 3)
	ts := startServer(t, slowService(entered, nil, ctxErr))
	conn := dial(t, ts.addr)
	const calls = 3
	results := make(chan error, calls)
	for range calls {
		go func() {
			_, err := callString(guardCtx(t), conn, "Slow", "x")
			results <- err
		}()
	}
	s, err := openStream(guardCtx(t), conn, "Slow", true, true) // a stream too, never opened on the wire
	if err != nil {
		t.Fatal(err)
	}
	for range calls {
		recv(t, entered)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	for range calls {
		if err := recv(t, results); !errors.Is(err, mcp.ErrConnClosing) {
			t.Errorf("call = %v, want ErrConnClosing", err)
		}
		if err := recv(t, ctxErr); !errors.Is(err, context.Canceled) {
			t.Errorf("handler ctx = %v, want Canceled", err)
		}
	}
	if _, err := recvString(s); status.Code(err) != codes.Canceled {
		t.Errorf("stream RecvMsg after Close = %v, want CANCELED", err)
	}
	if err := conn.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

package mcp_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mcpbridge/mcpbridge/frame"
	"github.com/mcpbridge/mcpbridge/mcp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// seenFrame is a frame a fake peer read, and when (on the bubble's clock).
type seenFrame struct {
	typ frame.Type
	at  time.Duration // since the connection was made
}

// fakePeer reads every frame from nc, answers the first pongs PINGs and
// then goes silent (it reads but never sends again). It reports what it
// read on seen and closes it at EOF.
func fakePeer(nc net.Conn, pongs int, seen chan<- seenFrame) {
	start := time.Now()
	dec := frame.NewDecoder(nc)
	defer close(seen)
	defer nc.Close()
	var f frame.Frame
	for {
		if err := dec.Decode(&f); err != nil {
			return
		}
		seen <- seenFrame{f.Type, time.Since(start)}
		if f.Type == frame.TypePing && pongs > 0 {
			pongs--
			if _, err := nc.Write(frame.AppendFrame(nil, frame.Header{Type: frame.TypePong, SeqID: f.SeqID}, nil, f.Body)); err != nil {
				return
			}
		}
	}
}

// A Conn whose peer stops answering notices within its idle timeout: it
// PINGs after each Interval without a frame, and after Timeout without one
// it closes the connection and its calls end UNAVAILABLE. On a fake clock
// the times are exact.
func TestClientDetectsSilentPeer(t *testing.T) {
	ka := mcp.KeepaliveParams{Interval: time.Second, Timeout: 3 * time.Second}
	tests := []struct {
		name      string
		pongs     int           // PINGs the peer answers before going silent
		wantEnd   time.Duration // when the call ends
		wantPings []time.Duration
	}{
		{name: "silent from the start", pongs: 0, wantEnd: 3 * time.Second,
			wantPings: []time.Duration{1 * time.Second, 2 * time.Second}},
		{name: "silent after two PONGs", pongs: 2, wantEnd: 5 * time.Second,
			wantPings: []time.Duration{1 * time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				seen := make(chan seenFrame, 100)
				var dials atomic.Int32
				dialer := func(ctx context.Context, _ string) (net.Conn, error) {
					if dials.Add(1) > 1 {
						return nil, syscall.ECONNREFUSED // no second chance
					}
					client, server := net.Pipe()
					go fakePeer(server, tc.pongs, seen)
					return client, nil
				}
				start := time.Now()
				conn, err := mcp.Dial(t.Context(), "fake", mcp.WithContextDialer(dialer), mcp.WithKeepalive(ka))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()

				_, err = callString(context.Background(), conn, "Echo", "x") // no deadline: only the heartbeat ends it
				if status.Code(err) != codes.Unavailable {
					t.Fatalf("call = %v, want UNAVAILABLE", err)
				}
				if got := time.Since(start); got != tc.wantEnd {
					t.Errorf("call ended after %v, want %v", got, tc.wantEnd)
				}
				var pings []time.Duration
				for f := range seen { // until the peer sees the close
					switch f.typ {
					case frame.TypePing:
						pings = append(pings, f.at)
					case frame.TypeRequest:
					default:
						t.Errorf("unexpected %v from the client", f.typ)
					}
				}
				if !durationsEqual(pings, tc.wantPings) {
					t.Errorf("PINGs at %v, want %v", pings, tc.wantPings)
				}
			})
		})
	}
}

func durationsEqual(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A server closes a connection whose client sends nothing, after PINGing
// it; a raw client that sends nothing reads the PINGs and then EOF.
func TestServerDetectsSilentClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		srv := mcp.NewServer(mcp.WithKeepalive(mcp.KeepaliveParams{Interval: time.Second, Timeout: 3 * time.Second}))
		lis, stop := servePipe(t, srv)
		defer stop()
		nc, err := lis.Dial(t.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		seen := make(chan seenFrame, 100)
		go fakePeer(nc, 0, seen)
		var pings []time.Duration
		for f := range seen {
			if f.typ != frame.TypePing {
				t.Errorf("unexpected %v from the server", f.typ)
			}
			pings = append(pings, f.at)
		}
		if want := []time.Duration{time.Second, 2 * time.Second}; !durationsEqual(pings, want) {
			t.Errorf("PINGs at %v, want %v", pings, want)
		}
		if got := time.Since(start); got != 3*time.Second {
			t.Errorf("server closed after %v, want 3s", got)
		}
	})
}

// Two live peers with short heartbeats keep an idle connection up for as
// long as they like: PONGs count as traffic.
func TestHeartbeatKeepsIdleConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ka := mcp.WithKeepalive(mcp.KeepaliveParams{Interval: time.Second, Timeout: 3 * time.Second})
		srv := mcp.NewServer(ka)
		registerTest(map[string]unaryFunc{"Echo": echoFunc})(srv)
		lis, stop := servePipe(t, srv)
		defer stop()
		var dials atomic.Int32
		conn, err := mcp.Dial(t.Context(), "pipe", ka, mcp.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			dials.Add(1)
			return lis.Dial(ctx, a)
		}))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for range 3 {
			time.Sleep(time.Minute) // idle, on the fake clock
			if out, err := callString(t.Context(), conn, "Echo", "still here"); err != nil || out != "still here" {
				t.Fatalf("call after an idle minute = %q, %v", out, err)
			}
		}
		if n := dials.Load(); n != 1 {
			t.Fatalf("the Conn dialed %d times, want 1 (the connection was dropped)", n)
		}
	})
}

// The server answers every PING at once with a PONG of the same seq_id and
// body; a PING body over 64 bytes is a connection error.
func TestServerAnswersPing(t *testing.T) {
	ts := startServer(t, nil)
	p := dialRaw(t, ts.addr)
	tests := []struct {
		name string
		seq  uint32
		body string
	}{
		{name: "empty", seq: 1, body: ""},
		{name: "8 bytes", seq: 2, body: "\x00\x01\x02\x03\x04\x05\x06\x07"},
		{name: "64 bytes", seq: 0xFFFFFFFF, body: strings.Repeat("p", 64)},
		{name: "seq 0", seq: 0, body: "z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p.send(frame.Header{Type: frame.TypePing, SeqID: tc.seq}, nil, []byte(tc.body))
			f := p.mustNext()
			if f.Type != frame.TypePong || f.SeqID != tc.seq || string(f.Body) != tc.body || f.Status != 0 {
				t.Fatalf("got %v seq %d body %q, want PONG seq %d body %q", f.Type, f.SeqID, f.Body, tc.seq, tc.body)
			}
		})
	}
	p.send(frame.Header{Type: frame.TypePing, SeqID: 9}, nil, []byte(strings.Repeat("p", 65)))
	f := p.mustNext()
	if f.Type != frame.TypeGoAway || codes.Code(f.Status) != codes.InvalidArgument || metaString(f.Meta, frame.KeyErrorMessage) == "" {
		t.Fatalf("65-byte PING: got %v status %d, want GOAWAY INVALID_ARGUMENT with a message", f.Type, f.Status)
	}
	if _, err := p.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after GOAWAY: %v, want EOF", err)
	}
}

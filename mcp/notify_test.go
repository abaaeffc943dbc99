package mcp_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/frame"
	"github.com/mcpbridge/mcpbridge/mcp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// conn.Notify runs the handler, with the message and the metadata, and
// returns as soon as the frame is queued.
func TestNotifyRunsHandler(t *testing.T) {
	type note struct {
		in string
		md metadata.MD
	}
	notes := make(chan note, 10)
	raws := make(chan []string, 10)
	ts := startServer(t, registerTest(map[string]unaryFunc{
		"Note": func(ctx context.Context, in string) (string, error) {
			md, _ := metadata.FromIncomingContext(ctx)
			notes <- note{in, md}
			return "never seen", nil
		},
	}), mcp.WithUnknownHandler(func(s *mcp.RawStream) error {
		// A NOTIFY has exactly one message: RecvMsg answers io.EOF after it.
		var got []string
		for {
			b, err := s.RecvMsg()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			got = append(got, string(b))
		}
		if !s.IsNotify() {
			got = append(got, "not a notify")
		}
		raws <- got
		return nil
	}))
	conn := dial(t, ts.addr)
	ctx := metadata.AppendToOutgoingContext(guardCtx(t), "x-trace", "t1")

	if err := conn.Notify(ctx, testPath("Note"), wrapperspb.String("hello")); err != nil {
		t.Fatal(err)
	}
	if n := recv(t, notes); n.in != "hello" || n.md.Get("x-trace")[0] != "t1" {
		t.Fatalf("handler got %q, md %v", n.in, n.md)
	}
	if err := conn.NotifyRaw(ctx, mcp.RawRequest{Path: "/raw.Audit/Record"}, []byte("rec")); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, raws); len(got) != 1 || got[0] != "rec" {
		t.Fatalf("raw notify handler got %q, want [rec]", got)
	}
	// Over the sender's own limit: refused locally.
	big := strings.Repeat("x", 5<<20)
	if err := conn.Notify(ctx, testPath("Note"), wrapperspb.String(big)); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("Notify of 5 MiB = %v, want RESOURCE_EXHAUSTED", err)
	}
}

// NOTIFY is never answered, not even an error: a raw peer sends notifies
// that succeed, fail, name no method or are too large, then a PING. The
// PONG is the first frame back; then the server shuts down (which waits for
// every handler to end) and the peer reads everything up to the close: no
// RESPONSE ever came.
func TestNotifyNeverAnswered(t *testing.T) {
	ran := make(chan string, 10)
	release := make(chan struct{})
	ts := startServer(t, registerTest(map[string]unaryFunc{
		"Note": func(_ context.Context, in string) (string, error) { ran <- in; return "reply", nil },
		"Fail": func(_ context.Context, in string) (string, error) {
			ran <- in
			return "", status.Error(codes.Internal, "failed")
		},
		"Slow": func(_ context.Context, in string) (string, error) {
			ran <- in
			<-release
			return "late reply", nil
		},
	}), mcp.WithMaxMessageSize(1024))
	p := dialRaw(t, ts.addr)

	notify := func(path string, flags frame.Flags, body []byte, extra ...string) {
		meta := frame.Metadata(nil)
		if path != "" {
			meta = meta.Append(frame.KeyPath, path)
		}
		for i := 0; i+1 < len(extra); i += 2 {
			meta = meta.Append(extra[i], extra[i+1])
		}
		p.send(frame.Header{Type: frame.TypeNotify, Flags: flags, DstAddr: 0x0102}, meta, body)
	}
	msg := func(s string) []byte { b, _ := wrapperspbMarshal(s); return b }
	notify(testPath("Note"), 0, msg("ok"))
	notify(testPath("Note"), frame.FlagEndStream, msg("ok+end"))
	notify(testPath("Fail"), 0, msg("fail"))
	notify(testPath("Slow"), 0, msg("slow"))
	notify(testPath("Note"), 0, []byte{0xff, 0xff}) // not a valid message: the handler fails to decode
	notify(testPath("NoSuchMethod"), 0, msg("x"))
	notify("", 0, msg("no path"))
	notify(testPath("Note"), 0, msg(strings.Repeat("x", 2048)))        // over the server's limit
	notify(testPath("Note"), 0, msg("bad timeout"), "timeout-ms", "x") // bad timeout-ms
	notify(testPath("Note"), frame.FlagNoMessage, nil)                 // no message at all
	p.send(frame.Header{Type: frame.TypePing, SeqID: 77}, nil, []byte("ping!"))

	if f := p.mustNext(); f.Type != frame.TypePong || f.SeqID != 77 || string(f.Body) != "ping!" {
		t.Fatalf("first frame back: %v seq %d body %q; want the PONG", f.Type, f.SeqID, f.Body)
	}
	got := map[string]bool{}
	for range 4 {
		got[recv(t, ran)] = true
	}
	for _, want := range []string{"ok", "ok+end", "fail", "slow"} {
		if !got[want] {
			t.Errorf("handler did not run for %q (ran: %v)", want, got)
		}
	}

	shut := make(chan error, 1)
	go func() { shut <- ts.Shutdown(guardCtx(t)) }()
	// The GOAWAY comes while Slow still runs; the connection closes when it ends.
	if f := p.mustNext(); f.Type != frame.TypeGoAway || f.Status != 0 || f.SeqID != 0 {
		t.Fatalf("got %v status %d seq %d, want GOAWAY OK last id 0", f.Type, f.Status, f.SeqID)
	}
	close(release)
	for {
		f, err := p.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		t.Errorf("a frame for a NOTIFY: %v seq %d status %d", f.Type, f.SeqID, f.Status)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
}

package mcp_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/frame"
	"github.com/mcpbridge/mcpbridge/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// canceler records a Cancel.
type canceler chan struct{}

func (c canceler) Cancel() { close(c) }

// TestAsyncHandler: a complete call for an unknown method reaches the async
// handler, which answers it later from another goroutine with a header,
// messages, a trailer and a reply; one it declines goes to the unknown
// handler; a registered method never reaches it.
func TestAsyncHandler(t *testing.T) {
	calls := make(chan *mcp.AsyncCall, 4)
	srv := startServer(t, registerTest(map[string]unaryFunc{"Echo": echoFunc}),
		mcp.WithUnknownHandler(func(s *mcp.RawStream) error {
			b, err := s.RecvMsg()
			if err != nil {
				return err
			}
			return s.SendMsg(append([]byte(nil), b...))
		}),
		mcp.WithAsyncHandler(func(ac *mcp.AsyncCall) bool {
			if ac.Path() == "/x.Y/Decline" {
				return false
			}
			calls <- ac
			return true
		}))
	cc := dial(t, srv.addr)
	ctx := metadata.AppendToOutgoingContext(guardCtx(t), "x-in", "v")

	// A registered method is served as always.
	if got, err := callString(ctx, cc, "Echo", "reg"); err != nil || got != "reg" {
		t.Fatalf("Echo = %q, %v", got, err)
	}

	// Declined: the unknown handler echoes.
	body, _ := wrapperspbMarshal("dec")
	out, err := cc.InvokeRaw(ctx, mcp.RawRequest{Path: "/x.Y/Decline"}, body)
	if err != nil || string(out) != string(body) {
		t.Fatalf("declined call = %q, %v", out, err)
	}

	// Taken: answered from another goroutine.
	errc := make(chan error, 1)
	var hdr, tr metadata.MD
	go func() {
		var reply []byte
		reply, err := cc.InvokeRaw(ctx, mcp.RawRequest{Path: "/x.Y/Take", DstAddr: 7}, []byte("req"), grpc.Header(&hdr), grpc.Trailer(&tr))
		if err == nil && string(reply) != "done" {
			err = errors.New("reply " + string(reply))
		}
		errc <- err
	}()
	ac := recv(t, calls)
	if ac.Path() != "/x.Y/Take" || ac.DstAddr() != 7 || string(ac.Body()) != "req" || ac.Metadata().Get("x-in")[0] != "v" {
		t.Errorf("call: path %q dst %d body %q md %v", ac.Path(), ac.DstAddr(), ac.Body(), ac.Metadata())
	}
	if dl, ok := ac.Deadline(); !ok || time.Until(dl) > hangGuard || time.Until(dl) <= 0 {
		t.Errorf("Deadline = %v, %v; want the client's, within %v", dl, ok, hangGuard)
	}
	if b, err := ac.RecvMsg(); err != nil || string(b) != "req" {
		t.Errorf("RecvMsg = %q, %v", b, err)
	}
	if _, err := ac.RecvMsg(); err != io.EOF {
		t.Errorf("second RecvMsg = %v, want io.EOF", err)
	}
	go func(ac *mcp.AsyncCall) {
		_ = ac.SendHeader(metadata.Pairs("x-h", "1"))
		ac.SetTrailer(metadata.Pairs("x-t", "2"))
		ac.Finish([]byte("done"), true, nil)
		ac.Finish(nil, false, status.Error(codes.Internal, "second finish")) // ignored
	}(ac)
	if err := recv(t, errc); err != nil {
		t.Fatal(err)
	}
	if hdr.Get("x-h")[0] != "1" || tr.Get("x-t")[0] != "2" {
		t.Errorf("header %v, trailer %v", hdr, tr)
	}

	// A server stream answered asynchronously, ending with an error status.
	s, err := cc.NewRawStream(ctx, mcp.RawRequest{Path: "/x.Y/Stream"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendLast([]byte("go")); err != nil {
		t.Fatal(err)
	}
	ac = recv(t, calls)
	for _, m := range []string{"a", "b", "c"} {
		if err := ac.SendMsg([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	ac.Finish(nil, false, status.Error(codes.NotFound, "gone"))
	for _, want := range []string{"a", "b", "c"} {
		if b, err := s.RecvMsg(); err != nil || string(b) != want {
			t.Fatalf("stream message = %q, %v; want %q", b, err, want)
		}
	}
	if _, err := s.RecvMsg(); status.Code(err) != codes.NotFound {
		t.Errorf("stream end = %v, want NOT_FOUND", err)
	}
}

// TestAsyncCancelAndDeadline: the client's CANCEL and timeout-ms reach the
// call's Canceler; the deadline answers DEADLINE_EXCEEDED at once; a
// Finish after either sends nothing more; and a drained server closes once
// every taken call was finished.
func TestAsyncCancelAndDeadline(t *testing.T) {
	calls := make(chan *mcp.AsyncCall, 4)
	srv := startServer(t, nil,
		mcp.WithUnknownHandler(func(*mcp.RawStream) error { return status.Error(codes.Internal, "not async") }),
		mcp.WithAsyncHandler(func(ac *mcp.AsyncCall) bool { calls <- ac; return true }))
	p := dialRaw(t, srv.addr)

	// CANCEL.
	p.request(1, "/x.Y/Z", wrapperspb.String("a"))
	ac := recv(t, calls)
	cancelled := make(canceler)
	ac.OnCancel(cancelled)
	p.send(frame.Header{Type: frame.TypeCancel, SeqID: 1}, nil, nil)
	recv(t, cancelled)
	ac.Finish([]byte("late"), true, nil) // nothing is sent for a cancelled call

	// timeout-ms.
	p.request(2, "/x.Y/Z", wrapperspb.String("b"), frame.KeyTimeoutMs, "20")
	ac = recv(t, calls)
	if dl, ok := ac.Deadline(); !ok || time.Until(dl) > 20*time.Millisecond {
		t.Errorf("Deadline = %v, %v", dl, ok)
	}
	cancelled = make(canceler)
	ac.OnCancel(cancelled)
	f := p.nextNonPing()
	if f.Type != frame.TypeResponse || f.SeqID != 2 || codes.Code(f.Status) != codes.DeadlineExceeded {
		t.Fatalf("frame %v seq %d status %d; want the RESPONSE of call 2 with DEADLINE_EXCEEDED (and nothing for call 1)", f.Type, f.SeqID, f.Status)
	}
	recv(t, cancelled)
	ac.Finish([]byte("late"), true, nil)

	// OnCancel after the cancellation cancels at once.
	p.request(3, "/x.Y/Z", wrapperspb.String("c"))
	ac = recv(t, calls)
	p.send(frame.Header{Type: frame.TypeCancel, SeqID: 3}, nil, nil)
	p.request(4, "/x.Y/Z", wrapperspb.String("d")) // frames are handled in order
	ac4 := recv(t, calls)
	cancelled = make(canceler)
	ac.OnCancel(cancelled)
	recv(t, cancelled)
	ac.Finish(nil, false, nil)

	// Shutdown waits for call 4, then closes.
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(guardCtx(t)) }()
	if f := p.nextNonPing(); f.Type != frame.TypeGoAway {
		t.Fatalf("frame %v, want GOAWAY", f.Type)
	}
	ac4.Finish([]byte("ok"), true, nil)
	if f := p.nextNonPing(); f.Type != frame.TypeResponse || f.SeqID != 4 || string(f.Body) != "ok" {
		t.Fatalf("frame %v seq %d body %q; want call 4's reply", f.Type, f.SeqID, f.Body)
	}
	if err := recv(t, shut); err != nil {
		t.Fatal(err)
	}
}

// TestAsyncDeadlineWhileDeciding: a deadline that passes while the handler
// decides ends the call with DEADLINE_EXCEEDED even if it then declines.
func TestAsyncDeadlineWhileDeciding(t *testing.T) {
	answered := make(chan struct{})
	ran := make(chan struct{}, 1)
	srv := startServer(t, nil,
		mcp.WithUnknownHandler(func(*mcp.RawStream) error { ran <- struct{}{}; return nil }),
		mcp.WithAsyncHandler(func(*mcp.AsyncCall) bool { <-answered; return false }))
	p := dialRaw(t, srv.addr)
	p.request(1, "/x.Y/Z", wrapperspb.String("a"), frame.KeyTimeoutMs, "0")
	f := p.nextNonPing()
	close(answered)
	if f.Type != frame.TypeResponse || codes.Code(f.Status) != codes.DeadlineExceeded {
		t.Fatalf("frame %v status %d, want DEADLINE_EXCEEDED", f.Type, f.Status)
	}
	if err := srv.Shutdown(guardCtx(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
		t.Error("the unknown handler ran a call whose deadline had passed")
	default:
	}
}

// reply records what StartRaw's call receives.
type reply struct {
	mu      sync.Mutex
	header  metadata.MD
	msgs    []string
	end     chan struct{}
	body    string
	has     bool
	err     error
	trailer metadata.MD
	ends    int
}

func newReply() *reply { return &reply{end: make(chan struct{})} }

func (r *reply) Header(md metadata.MD) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.header = md
	return nil
}

func (r *reply) Message(b []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, string(b))
	return nil
}

func (r *reply) End(b []byte, has bool, err error, trailer metadata.MD) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ends++
	r.body, r.has, r.err, r.trailer = string(b), has, err, trailer
	if r.ends == 1 {
		close(r.end)
	}
}

// TestStartRaw: a call started without waiting gets its header, messages,
// reply, status and trailer through AsyncReply; Cancel reaches the server;
// a lost connection ends the call; a connection not ready refuses at once.
func TestStartRaw(t *testing.T) {
	started := make(chan *mcp.RawStream, 1)
	srv := startServer(t, nil, mcp.WithUnknownHandler(func(s *mcp.RawStream) error {
		b, _ := s.RecvMsg()
		switch string(b) {
		case "unary":
			s.SetUnary()
			_ = s.SendHeader(metadata.Pairs("x-h", "h"))
			s.SetTrailer(metadata.Pairs("x-t", "t"))
			return s.SendMsg([]byte("reply"))
		case "stream":
			for _, m := range []string{"1", "2"} {
				_ = s.SendMsg([]byte(m))
			}
			return status.Error(codes.Aborted, "stopped")
		case "block":
			started <- s
			<-s.Context().Done()
			return s.Context().Err()
		}
		return nil
	}))
	mc := dial(t, srv.addr)
	waitFor(t, "the connection is ready", mc.Ready)

	r := newReply()
	if _, err := mc.StartRaw(mcp.RawRequest{Path: "/x.Y/Z", Metadata: metadata.Pairs("x-in", "1")}, []byte("unary"), time.Now().Add(time.Minute), r); err != nil {
		t.Fatal(err)
	}
	recv(t, r.end)
	if r.err != nil || !r.has || r.body != "reply" || r.header.Get("x-h")[0] != "h" || r.trailer.Get("x-t")[0] != "t" {
		t.Errorf("unary: %+v", r)
	}

	r = newReply()
	if _, err := mc.StartRaw(mcp.RawRequest{Path: "/x.Y/Z"}, []byte("stream"), time.Time{}, r); err != nil {
		t.Fatal(err)
	}
	recv(t, r.end)
	if status.Code(r.err) != codes.Aborted || len(r.msgs) != 2 || r.msgs[1] != "2" || r.has {
		t.Errorf("stream: %+v", r)
	}

	r = newReply()
	ac, err := mc.StartRaw(mcp.RawRequest{Path: "/x.Y/Z"}, []byte("block"), time.Time{}, r)
	if err != nil {
		t.Fatal(err)
	}
	s := recv(t, started)
	ac.Cancel()
	recv(t, r.end)
	if status.Code(r.err) != codes.Canceled {
		t.Errorf("cancelled: %v", r.err)
	}
	<-s.Context().Done() // the CANCEL reached the server
	ac.Cancel()          // twice: nothing more

	// The connection is lost mid-call.
	r = newReply()
	if _, err := mc.StartRaw(mcp.RawRequest{Path: "/x.Y/Z"}, []byte("block"), time.Time{}, r); err != nil {
		t.Fatal(err)
	}
	recv(t, started)
	srv.Close()
	recv(t, r.end)
	if status.Code(r.err) != codes.Unavailable {
		t.Errorf("lost connection: %v", r.err)
	}

	// Not ready (the server is gone): an error at once, never End.
	r = newReply()
	waitFor(t, "the connection is lost", func() bool { return !mc.Ready() })
	if _, err := mc.StartRaw(mcp.RawRequest{Path: "/x.Y/Z"}, []byte("unary"), time.Time{}, r); status.Code(err) != codes.Unavailable {
		t.Errorf("StartRaw on a lost connection = %v, want UNAVAILABLE", err)
	}
	if _, err := mc.StartRaw(mcp.RawRequest{Path: "/x.Y/Z"}, []byte("x"), time.Now().Add(-time.Second), r); err == nil {
		t.Error("StartRaw with a past deadline succeeded")
	}
	mc.Close()
	if _, err := mc.StartRaw(mcp.RawRequest{Path: "/x.Y/Z"}, []byte("x"), time.Time{}, r); err != mcp.ErrConnClosing {
		t.Errorf("StartRaw on a closed Conn = %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ends != 0 {
		t.Errorf("End ran %d times for calls StartRaw refused", r.ends)
	}
}

// TestLazyContextAndFinal: a LazyContext stream's context is watched while
// RecvMsg waits (the server sees the cancel), and Final tells a reply that
// came in the RESPONSE from one sent as a STREAM frame.
func TestLazyContextAndFinal(t *testing.T) {
	started := make(chan *mcp.RawStream, 1)
	srv := startServer(t, nil, mcp.WithUnknownHandler(func(s *mcp.RawStream) error {
		b, _ := s.RecvMsg()
		switch string(b) {
		case "unary":
			s.SetUnary()
		case "block":
			started <- s
			<-s.Context().Done()
			return s.Context().Err()
		}
		return s.SendMsg([]byte("r"))
	}))
	mc := dial(t, srv.addr)
	for _, tc := range []struct {
		body  string
		final bool
	}{{"unary", true}, {"stream", false}} {
		s, err := mc.NewRawStream(guardCtx(t), mcp.RawRequest{Path: "/x.Y/Z"}, mcp.LazyContext{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SendLast([]byte(tc.body)); err != nil {
			t.Fatal(err)
		}
		if b, err := s.RecvMsg(); err != nil || string(b) != "r" || s.Final() != tc.final {
			t.Errorf("%s: RecvMsg = %q, %v; Final %v, want %v", tc.body, b, err, s.Final(), tc.final)
		}
		if _, err := s.RecvMsg(); err != io.EOF {
			t.Errorf("%s: end = %v", tc.body, err)
		}
	}

	ctx, cancel := context.WithCancel(guardCtx(t))
	s, err := mc.NewRawStream(ctx, mcp.RawRequest{Path: "/x.Y/Z"}, mcp.LazyContext{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendLast([]byte("block")); err != nil {
		t.Fatal(err)
	}
	rs := recv(t, started)
	errc := make(chan error, 1)
	go func() { _, err := s.RecvMsg(); errc <- err }()
	cancel()
	if err := recv(t, errc); status.Code(err) != codes.Canceled {
		t.Errorf("RecvMsg after cancel = %v", err)
	}
	<-rs.Context().Done() // the server was told
}

// TestAsyncSlowClient: an async call whose client stops reading fails its
// SendMsg with RESOURCE_EXHAUSTED once the connection's write queue is full
// and stays full for the stream queue wait; what was sent, and then the
// RESPONSE, still reach the client when it reads again.
func TestAsyncSlowClient(t *testing.T) {
	calls := make(chan *mcp.AsyncCall, 1)
	srv := startServer(t, nil,
		mcp.WithUnknownHandler(func(*mcp.RawStream) error { return nil }),
		mcp.WithAsyncHandler(func(ac *mcp.AsyncCall) bool { calls <- ac; return true }),
		mcp.WithWriteBufferLimit(64<<10), mcp.WithStreamQueueWait(20*time.Millisecond))
	p := dialRaw(t, srv.addr)
	p.request(1, "/x.Y/Z", wrapperspb.String("a"))
	ac := recv(t, calls)
	msg := make([]byte, 32<<10)
	sent := 0
	var err error
	for ; sent < 8192 && err == nil; sent++ { // at most 256 MiB: far past any socket buffer
		err = ac.SendMsg(msg)
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("after %d messages SendMsg = %v, want RESOURCE_EXHAUSTED", sent, err)
	}
	ac.Finish(nil, false, err)
	got := 0
	for {
		f := p.nextNonPing()
		if f.Type == frame.TypeResponse {
			if codes.Code(f.Status) != codes.ResourceExhausted {
				t.Errorf("RESPONSE status %d", f.Status)
			}
			break
		}
		got++
	}
	if got != sent-1 {
		t.Errorf("the client read %d messages, want the %d sent", got, sent-1)
	}
}

// TestCallObserver: every call is reported once when it ends, with its
// method, the handler's tag, its code and duration: answered, failed,
// cancelled by the client, async, and NOTIFY.
func TestCallObserver(t *testing.T) {
	infos := make(chan mcp.CallInfo, 16)
	started, block := make(chan struct{}), make(chan struct{})
	srv := startServer(t, registerTest(map[string]unaryFunc{"Echo": echoFunc}),
		mcp.WithCallObserver(func(ci mcp.CallInfo) { infos <- ci }),
		mcp.WithUnknownHandler(func(s *mcp.RawStream) error {
			s.SetTag("route-" + s.Path())
			if s.Path() == "/x.Y/Block" {
				close(started)
				<-s.Context().Done()
				close(block)
				return s.Context().Err()
			}
			return status.Error(codes.NotFound, "nope")
		}),
		mcp.WithAsyncHandler(func(ac *mcp.AsyncCall) bool {
			if ac.Path() != "/x.Y/Async" {
				return false
			}
			ac.SetTag("async")
			go ac.Finish([]byte("ok"), true, nil)
			return true
		}))
	cc := dial(t, srv.addr)
	ctx := guardCtx(t)
	want := func(method, tag string, code codes.Code, notify bool) {
		t.Helper()
		ci := recv(t, infos)
		if ci.Method != method || ci.Tag != tag || ci.Code != code || ci.Notify != notify || ci.Duration <= 0 || ci.Duration > hangGuard {
			t.Errorf("CallInfo %+v, want %s %q %v notify=%v", ci, method, tag, code, notify)
		}
	}
	if _, err := callString(ctx, cc, "Echo", "x"); err != nil {
		t.Fatal(err)
	}
	want(testPath("Echo"), "", codes.OK, false)
	if _, err := cc.InvokeRaw(ctx, mcp.RawRequest{Path: "/x.Y/Z"}, []byte("a")); status.Code(err) != codes.NotFound {
		t.Fatal(err)
	}
	want("/x.Y/Z", "route-/x.Y/Z", codes.NotFound, false)
	if _, err := cc.InvokeRaw(ctx, mcp.RawRequest{Path: "/x.Y/Async"}, []byte("a")); err != nil {
		t.Fatal(err)
	}
	want("/x.Y/Async", "async", codes.OK, false)
	cctx, cancel := context.WithCancel(ctx)
	go func() { _, _ = cc.InvokeRaw(cctx, mcp.RawRequest{Path: "/x.Y/Block"}, []byte("a")) }()
	<-started
	cancel()
	<-block
	want("/x.Y/Block", "route-/x.Y/Block", codes.Canceled, false)
	if err := cc.NotifyRaw(ctx, mcp.RawRequest{Path: "/x.Y/Z"}, []byte("n")); err != nil {
		t.Fatal(err)
	}
	want("/x.Y/Z", "route-/x.Y/Z", codes.NotFound, true)
	select {
	case ci := <-infos:
		t.Errorf("an extra report: %+v", ci)
	default:
	}
}

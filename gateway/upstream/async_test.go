package upstream_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/config"
	"github.com/mcpbridge/mcpbridge/gateway/mcpfront"
	"github.com/mcpbridge/mcpbridge/gateway/upstream"
	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// asyncFront is the MCP front door over one upstream, counting the calls
// its async handler took and declined.
type asyncFront struct {
	srv      *mcp.Server
	addr     string
	taken    atomic.Int64
	declined atomic.Int64
}

func startAsyncFront(t *testing.T, u *upstream.Upstream) *asyncFront {
	t.Helper()
	waitReady(t, u)
	table, err := gateway.NewTable([]gateway.Route{{ID: "all", Upstream: "users", Handler: u}})
	if err != nil {
		t.Fatal(err)
	}
	router := gateway.NewRouter(table)
	f := &asyncFront{}
	async := mcpfront.AsyncHandler(router)
	f.srv = mcp.NewServer(
		mcp.WithUnknownHandler(mcpfront.Handler(router)),
		mcp.WithAsyncHandler(func(ac *mcp.AsyncCall) bool {
			if async(ac) {
				f.taken.Add(1)
				return true
			}
			f.declined.Add(1)
			return false
		}),
	)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = l.Addr().String()
	go func() { _ = f.srv.Serve(l) }()
	t.Cleanup(func() { f.srv.Close() })
	return f
}

// waitReady waits until every endpoint of u that accepts connections is
// connected: a call before that is declined (it waits for the dial).
func waitReady(t *testing.T, u *upstream.Upstream) {
	t.Helper()
	waitFor(t, "the endpoints connected", func() bool {
		for _, es := range u.Status().Endpoints {
			if es.Conn == "CONNECTING" || es.Conn == "IDLE" {
				return false
			}
		}
		return true
	})
}

func (f *asyncFront) dial(t *testing.T) *mcp.Conn {
	t.Helper()
	mc, err := mcp.Dial(guardCtx(t), f.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mc.Close() })
	return mc
}

// TestAsyncForward: complete calls from the MCP front door to an MCP
// upstream are forwarded without a goroutine (the async handler takes
// them), with everything a streamed forward carries: header, trailer,
// status with details, server streams, the deadline and the cancel.
func TestAsyncForward(t *testing.T) {
	be := startBackend(t, "mcp", "b", "")
	u := newUpstream(t, upstreamConfig("users", "mcp", "round_robin", be))
	f := startAsyncFront(t, u)
	c := userv1.NewUserServiceClient(f.dial(t))
	ctx := metadata.AppendToOutgoingContext(guardCtx(t), "x-echo", "hi")

	var hdr, tr metadata.MD
	r, err := c.GetUser(ctx, &userv1.UserRequest{UserId: "5"}, grpc.Header(&hdr), grpc.Trailer(&tr))
	if err != nil || r.GetName() != "b" || r.GetUserId() != "5" {
		t.Fatalf("unary: %v, %v", r, err)
	}
	if hdr.Get("x-backend")[0] != "b" || hdr.Get("x-echo")[0] != "hi" || tr.Get("x-trailer")[0] != "t-b" {
		t.Errorf("header %v, trailer %v", hdr, tr)
	}
	if f.taken.Load() != 1 || f.declined.Load() != 0 {
		t.Fatalf("taken %d, declined %d: the unary call was not forwarded asynchronously", f.taken.Load(), f.declined.Load())
	}

	_, err = c.GetUser(ctx, &userv1.UserRequest{UserId: "notfound"}, grpc.Trailer(&tr))
	st := status.Convert(err)
	if st.Code() != codes.NotFound || st.Message() != "no such user" || len(st.Details()) != 1 {
		t.Fatalf("notfound: %v (details %v)", err, st.Details())
	}
	if d, ok := st.Details()[0].(*wrapperspb.StringValue); !ok || d.GetValue() != "detail-b" {
		t.Errorf("detail %v", st.Details()[0])
	}
	if tr.Get("x-trailer")[0] != "t-b" {
		t.Errorf("error trailer %v", tr)
	}

	// A server stream longer than any queue: every message, in order.
	const n = 3000
	ls, err := c.ListUsers(ctx, &userv1.ListUsersRequest{Limit: n})
	if err != nil {
		t.Fatal(err)
	}
	for i := int32(0); ; i++ {
		m, err := ls.Recv()
		if err == io.EOF {
			if i != n {
				t.Fatalf("%d messages, want %d", i, n)
			}
			break
		}
		if err != nil || m.GetAge() != i {
			t.Fatalf("message %d: %v, %v", i, m, err)
		}
	}
	if got := f.taken.Load(); got != 3 {
		t.Errorf("taken %d, want 3 (the server stream too)", got)
	}

	// The deadline reaches the backend, and a short one ends the call.
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	r, err = c.GetUser(dctx, &userv1.UserRequest{UserId: "deadline"})
	cancel()
	if err != nil || r.GetAge() <= 0 || r.GetAge() > 5000 {
		t.Fatalf("deadline: %v, %v", r, err)
	}
	dctx, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = c.GetUser(dctx, &userv1.UserRequest{UserId: "block"})
	cancel()
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("short deadline: %v", err)
	}
	<-be.svc.started
	if err := <-be.svc.ended; !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		t.Errorf("backend call ended with %v", err)
	}

	// A client's cancel reaches the backend.
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := c.GetUser(cctx, &userv1.UserRequest{UserId: "block"})
		errc <- err
	}()
	<-be.svc.started
	cancel()
	if err := <-be.svc.ended; !errors.Is(err, context.Canceled) {
		t.Errorf("backend call ended with %v, want canceled", err)
	}
	if err := <-errc; status.Code(err) != codes.Canceled {
		t.Errorf("cancelled call: %v", err)
	}
	if f.declined.Load() != 0 {
		t.Errorf("%d calls declined", f.declined.Load())
	}
}

// TestAsyncFrontConnectionClosed: the front connection's end cancels the
// backend call, and the front server then shuts down at once (the call was
// accounted for).
func TestAsyncFrontConnectionClosed(t *testing.T) {
	be := startBackend(t, "mcp", "b", "")
	u := newUpstream(t, upstreamConfig("users", "mcp", "round_robin", be))
	f := startAsyncFront(t, u)
	mc := f.dial(t)
	c := userv1.NewUserServiceClient(mc)
	go func() { _, _ = c.GetUser(guardCtx(t), &userv1.UserRequest{UserId: "block"}) }()
	<-be.svc.started
	mc.Close()
	if err := <-be.svc.ended; !errors.Is(err, context.Canceled) {
		t.Errorf("backend call ended with %v, want canceled", err)
	}
	if err := f.srv.Shutdown(guardCtx(t)); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestAsyncShutdownWaitsForCall: a graceful shutdown of the front door
// lets an async call in flight finish.
func TestAsyncShutdownWaitsForCall(t *testing.T) {
	be := startBackend(t, "mcp", "b", "")
	u := newUpstream(t, upstreamConfig("users", "mcp", "round_robin", be))
	f := startAsyncFront(t, u)
	c := userv1.NewUserServiceClient(f.dial(t))
	ctx, cancel := context.WithCancel(guardCtx(t))
	errc := make(chan error, 1)
	go func() {
		_, err := c.GetUser(ctx, &userv1.UserRequest{UserId: "block"})
		errc <- err
	}()
	<-be.svc.started
	shut := make(chan error, 1)
	go func() { shut <- f.srv.Shutdown(guardCtx(t)) }()
	cancel() // the call ends; then the drained server closes
	if err := <-errc; status.Code(err) != codes.Canceled {
		t.Errorf("call: %v", err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	<-be.svc.ended
}

// TestAsyncRetryOnGoAwayRefusal: a call refused unprocessed by one endpoint
// is sent to the next, from the reader, as the streamed forward does.
func TestAsyncRetryOnGoAwayRefusal(t *testing.T) {
	refuser := goAwayServer(t)
	good := startBackend(t, "mcp", "good", "")
	cfg := upstreamConfig("users", "mcp", "round_robin")
	cfg.Endpoints = []config.Endpoint{{Addr: refuser, Weight: 1}, {Addr: good.addr, Weight: 1}}
	cfg.Passive.ConsecutiveFailures = 0
	u := newUpstream(t, cfg)
	f := startAsyncFront(t, u)
	mc := f.dial(t)
	ctx := guardCtx(t)
	for i := range 10 {
		var hdr metadata.MD
		_, err := userv1.NewUserServiceClient(mc).GetUser(ctx, &userv1.UserRequest{UserId: "1"}, grpc.Header(&hdr))
		if err != nil || hdr.Get("x-backend")[0] != "good" {
			t.Fatalf("call %d: %v (header %v); want served by good after the refusal", i, err, hdr)
		}
	}
	if es := endpointStatus(t, u, refuser); es.Failures == 0 {
		t.Errorf("refuser: %+v, want failures", es)
	}
	if f.taken.Load() == 0 {
		t.Error("no call was forwarded asynchronously")
	}
}

// TestAsyncDeclines: a gRPC upstream, and JSON, are served by the streamed
// forward; the calls work the same.
func TestAsyncDeclines(t *testing.T) {
	be := startBackend(t, "grpc", "g", "")
	u := newUpstream(t, upstreamConfig("users", "grpc", "round_robin", be))
	f := startAsyncFront(t, u)
	r, err := userv1.NewUserServiceClient(f.dial(t)).GetUser(guardCtx(t), &userv1.UserRequest{UserId: "7"})
	if err != nil || r.GetName() != "g" {
		t.Fatalf("GetUser: %v, %v", r, err)
	}
	if f.taken.Load() != 0 || f.declined.Load() != 1 {
		t.Errorf("taken %d, declined %d; want the gRPC upstream's call declined", f.taken.Load(), f.declined.Load())
	}

	// No healthy endpoint: answered on the spot with UNAVAILABLE.
	cfg := upstreamConfig("users", "mcp", "round_robin")
	cfg.Endpoints = []config.Endpoint{{Addr: freePortOn(t, "127.0.0.1"), Weight: 1}}
	dead := newUpstream(t, cfg)
	f2 := startAsyncFront(t, dead)
	_, err = userv1.NewUserServiceClient(f2.dial(t)).GetUser(guardCtx(t), &userv1.UserRequest{UserId: "7"})
	if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "upstream") {
		t.Errorf("dead upstream: %v", err)
	}
}

// wrapping is a middleware that passes on a Stream of its own, as one that
// needs the call's outcome must.
func wrapping(next gateway.Handler) gateway.Handler {
	return gateway.HandlerFunc(func(req *gateway.Request, s gateway.Stream) error {
		return next.Serve(req, wrapped{s})
	})
}

type wrapped struct{ gateway.Stream }

// TestAsyncSkippedByWrappingMiddleware: a route whose middleware wraps the
// Stream serves complete calls on the streamed path, correctly.
func TestAsyncSkippedByWrappingMiddleware(t *testing.T) {
	be := startBackend(t, "mcp", "b", "")
	u := newUpstream(t, upstreamConfig("users", "mcp", "round_robin", be))
	waitReady(t, u)
	table, err := gateway.NewTable([]gateway.Route{{ID: "all", Upstream: "users", Handler: u, Filters: []gateway.Middleware{wrapping}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := mcpfront.NewServer(gateway.NewRouter(table))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	mc, err := mcp.Dial(guardCtx(t), l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	c := userv1.NewUserServiceClient(mc)
	for i := range 20 {
		r, err := c.GetUser(guardCtx(t), &userv1.UserRequest{UserId: strconv.Itoa(i)})
		if err != nil || r.GetName() != "b" {
			t.Fatalf("call %d: %v, %v", i, r, err)
		}
	}
	ls, err := c.ListUsers(guardCtx(t), &userv1.ListUsersRequest{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ; ; n++ {
		if _, err := ls.Recv(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if n != 5 {
		t.Errorf("%d messages, want 5", n)
	}
}

// TestAsyncStress mixes, from many goroutines, complete calls that finish,
// that are cancelled or time out mid-stream and that lose their backend
// (restarted twice meanwhile): every call ends with a status that says
// which, and the front door then shuts down at once, every async call
// accounted for (goleak checks the goroutines).
func TestAsyncStress(t *testing.T) {
	be := startBackend(t, "mcp", "b", "")
	cfg := upstreamConfig("users", "mcp", "round_robin", be)
	cfg.Passive.ConsecutiveFailures = 0 // the one endpoint stays in rotation across restarts
	u := newUpstream(t, cfg)
	f := startAsyncFront(t, u)
	mc := f.dial(t)
	c := userv1.NewUserServiceClient(mc)
	workers, per := 16, 150
	if testing.Short() {
		per = 40
	}
	ctx := guardCtx(t)
	var wg sync.WaitGroup
	codesSeen := make([]map[codes.Code]int, workers)
	for w := range workers {
		codesSeen[w] = map[codes.Code]int{}
		wg.Go(func() {
			for i := range per {
				var err error
				switch (w + i) % 4 {
				case 0: // a plain call
					_, err = c.GetUser(ctx, &userv1.UserRequest{UserId: strconv.Itoa(i)})
				case 1: // a long stream, read in part, then cancelled
					cctx, cancel := context.WithCancel(ctx)
					var ls grpc.ServerStreamingClient[userv1.UserResponse]
					if ls, err = c.ListUsers(cctx, &userv1.ListUsersRequest{Limit: 100000}); err == nil {
						for range i % 7 {
							if _, err = ls.Recv(); err != nil {
								break
							}
						}
						cancel()
						for err == nil {
							_, err = ls.Recv()
						}
					}
					cancel()
				case 2: // a long stream under a short deadline
					dctx, cancel := context.WithTimeout(ctx, time.Duration(1+i%3)*time.Millisecond)
					var ls grpc.ServerStreamingClient[userv1.UserResponse]
					got := 0
					if ls, err = c.ListUsers(dctx, &userv1.ListUsersRequest{Limit: 100000}); err == nil {
						for err == nil {
							if _, err = ls.Recv(); err == nil {
								got++
							}
						}
					}
					cancel()
					if err == io.EOF { // the call's status was OK, or ListUsers returned io.EOF
						t.Errorf("worker %d call %d: a 100000-message stream under a %v deadline ended with io.EOF after %d messages", w, i, time.Duration(1+i%3)*time.Millisecond, got)
					}
				case 3: // a stream read to its end
					var ls grpc.ServerStreamingClient[userv1.UserResponse]
					if ls, err = c.ListUsers(ctx, &userv1.ListUsersRequest{Limit: 50}); err == nil {
						for err == nil {
							_, err = ls.Recv()
						}
					}
					if err == io.EOF {
						err = nil
					}
				}
				switch code := status.Code(err); code {
				case codes.OK, codes.Canceled, codes.DeadlineExceeded, codes.Unavailable:
					codesSeen[w][code]++
				default:
					t.Errorf("worker %d call %d: %v", w, i, err)
					return
				}
			}
		})
	}
	for range 2 { // the backend goes away and comes back under load
		waitFor(t, "calls under way", func() bool { return f.taken.Load() > int64(workers*per/4) })
		be.stop()
		be.start()
	}
	wg.Wait()
	total := map[codes.Code]int{}
	for _, m := range codesSeen {
		for k, v := range m {
			total[k] += v
		}
	}
	t.Logf("outcomes: %v; async calls taken %d, declined %d", total, f.taken.Load(), f.declined.Load())
	if total[codes.OK] == 0 || total[codes.Canceled] == 0 || total[codes.DeadlineExceeded] == 0 {
		t.Errorf("outcomes %v: want OK, CANCELED and DEADLINE_EXCEEDED among them", total)
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(sctx); err != nil {
		t.Errorf("Shutdown with every call ended: %v (an async call was not accounted for)", err)
	}
}

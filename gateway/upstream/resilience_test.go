package upstream_test

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/frame"
	"github.com/mcpbridge/mcpbridge/gateway/config"
	"github.com/mcpbridge/mcpbridge/gateway/upstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestEjectionAndRecovery: a backend that dies is ejected, traffic goes on
// on the others with no failed call after the ejection, and once it is
// back (same port) and the ejection has run out it serves again.
func TestEjectionAndRecovery(t *testing.T) {
	for _, p := range []string{"grpc", "mcp"} {
		t.Run(p, func(t *testing.T) {
			a := startBackend(t, p, "a", "")
			b := startBackend(t, p, "b", "")
			c := startBackend(t, p, "c", "")
			clk, ev := newClock(), newEvents()
			var ejected atomic.Bool
			u := newUpstream(t, upstreamConfig("users", p, "round_robin", a, b, c),
				upstream.WithClock(clk.Now),
				upstream.WithObserver(func(e upstream.Event) {
					if e.Kind == upstream.EventEjected && e.Endpoint == b.addr {
						ejected.Store(true)
					}
					ev.observe(e)
				}))
			ctx := guardCtx(t)
			for range 30 {
				if _, _, err := unary(ctx, t, u, "1", nil); err != nil {
					t.Fatal(err)
				}
			}
			if got := b.svc.calls.Load(); got != 10 {
				t.Fatalf("b served %d of 30 calls before it died, want 10", got)
			}

			// Load from 4 callers until 100 calls have run after the
			// ejection; none of those may fail.
			if p == "mcp" {
				// mcp.Conn races (a data race on the call's context
				// watcher) when a connection closes while NewRawStream
				// registers a call on it: reported; until it is fixed, b
				// dies between calls and the Conn notices before the load.
				b.stop()
				waitFor(t, "the client noticed b is gone", func() bool { return endpointStatus(t, u, b.addr).Conn != "READY" })
			}
			var started, after, failedAfter, failedBefore atomic.Int64
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for after.Load() < 100 {
						wasEjected := ejected.Load()
						started.Add(1)
						_, _, err := unary(ctx, t, u, "1", nil)
						switch {
						case err != nil && wasEjected:
							failedAfter.Add(1)
							t.Errorf("call after the ejection failed: %v", err)
						case err != nil:
							failedBefore.Add(1)
						}
						if wasEjected {
							after.Add(1)
						}
						if ctx.Err() != nil {
							return
						}
					}
				})
			}
			if p == "grpc" {
				// b dies under load.
				waitFor(t, "some calls ran", func() bool { return started.Load() >= 20 })
				b.stop()
			}
			wg.Wait()
			t.Logf("calls that failed before the ejection (in flight on b when it died): %d", failedBefore.Load())
			e := ev.wait(t, upstream.EventEjected, b.addr)
			if !e.Until.Equal(clk.Now().Add(30*time.Second)) || status.Code(e.Err) != codes.Unavailable {
				t.Errorf("ejection event %+v", e)
			}
			es := endpointStatus(t, u, b.addr)
			if es.Healthy || es.EjectedUntil == nil || es.ConsecutiveFailures < 2 || es.Failures < 2 {
				t.Errorf("b after ejection: %+v", es)
			}
			if !u.Ready() {
				t.Error("not Ready with two healthy endpoints")
			}

			// b comes back on its port; once the ejection runs out it
			// serves again. Until its connection is back a call that
			// lands on it fails over (and re-ejects it, half-open).
			b.start()
			served := b.svc.calls.Load()
			deadline := time.Now().Add(hangGuard)
			for b.svc.calls.Load() == served {
				if time.Now().After(deadline) {
					t.Fatal("b never served again")
				}
				clk.Advance(31 * time.Second)
				for range 3 {
					if _, _, err := unary(ctx, t, u, "1", nil); err != nil {
						t.Fatalf("call while b returns: %v", err)
					}
				}
				time.Sleep(5 * time.Millisecond) // let b's connection come back
			}
			if ev.count(upstream.EventReturned, b.addr) == 0 {
				t.Error("no EventReturned for b")
			}
			if es := endpointStatus(t, u, b.addr); !es.Healthy || es.ConsecutiveFailures != 0 {
				t.Errorf("b after recovery: %+v", es)
			}
		})
	}
}

// TestNoHealthyEndpoint: with every endpoint ejected, a call answers
// UNAVAILABLE at once, without waiting or reading the client's stream.
func TestNoHealthyEndpoint(t *testing.T) {
	for _, p := range []string{"grpc", "mcp"} {
		t.Run(p, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			dead := l.Addr().String()
			l.Close()
			cfg := upstreamConfig("users", p, "round_robin")
			cfg.Endpoints = []config.Endpoint{{Addr: dead, Weight: 1}}
			cfg.Passive.ConsecutiveFailures = 1
			ev := newEvents()
			u := newUpstream(t, cfg, upstream.WithObserver(ev.observe))
			ctx := guardCtx(t)

			// The first call finds the connection down: UNAVAILABLE, and
			// the endpoint is ejected.
			if _, _, err := unary(ctx, t, u, "1", nil); status.Code(err) != codes.Unavailable {
				t.Fatalf("call to a dead endpoint = %v, want UNAVAILABLE", err)
			}
			ev.wait(t, upstream.EventEjected, dead)
			if u.Ready() {
				t.Fatal("Ready with no healthy endpoint")
			}
			// The next: at once, and the stream untouched (a client that
			// never sends must not hold it up).
			st := newStream(ctx)
			start := time.Now()
			err = serve(u, grpcDoor.request(pathChat, nil), st, st)
			if took := time.Since(start); took > time.Second {
				t.Errorf("took %s", took)
			}
			if status.Code(err) != codes.Unavailable || status.Convert(err).Message() != "upstream users: no healthy endpoint" {
				t.Fatalf("Serve = %v, want UNAVAILABLE no healthy endpoint", err)
			}
			if n := st.recvCalls.Load(); n != 0 {
				t.Errorf("RecvMsg called %d times", n)
			}
		})
	}
}

// goAwayServer is an MCP peer that refuses every call it gets with GOAWAY
// (last processed seq_id 0): mcp reports such calls as not processed.
func goAwayServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Go(func() {
				dec := frame.NewDecoder(nc)
				for {
					var f frame.Frame
					if err := dec.Decode(&f); err != nil {
						return
					}
					if f.Type == frame.TypeRequest {
						goaway := frame.AppendFrame(nil, frame.Header{Type: frame.TypeGoAway}, nil, nil)
						if _, err := nc.Write(goaway); err != nil {
							return
						}
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

// TestRetryOnGoAwayRefusal: an MCP call refused with GOAWAY before any
// reply is tried again on another endpoint when the gateway still holds
// the whole request (a half-closed call); a streaming call is not.
func TestRetryOnGoAwayRefusal(t *testing.T) {
	refuser := goAwayServer(t)
	good := startBackend(t, "mcp", "good", "")
	cfg := upstreamConfig("users", "mcp", "round_robin")
	cfg.Endpoints = []config.Endpoint{{Addr: refuser, Weight: 1}, {Addr: good.addr, Weight: 1}}
	cfg.Passive.ConsecutiveFailures = 0 // keep the refuser in rotation
	u := newUpstream(t, cfg)
	ctx := guardCtx(t)

	for i := range 10 {
		if id, _, err := unary(ctx, t, u, "1", nil); err != nil || id != "good" {
			t.Fatalf("call %d = %q, %v; want served by good after the refusal", i, id, err)
		}
	}
	if es := endpointStatus(t, u, refuser); es.Failures != 5 || es.Calls != 5 {
		t.Errorf("refuser: %+v, want 5 calls, 5 failures", es)
	}

	// Through the gRPC front door the stream is pumped, not held: a
	// refusal is returned, never retried.
	var refused int
	for range 4 {
		st := newStream(ctx)
		st.send(t, mustUserRequest("1"))
		close(st.in)
		err := serve(u, grpcDoor.request(pathGet, nil), st, st)
		if err != nil {
			if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "not processed") {
				t.Fatalf("streaming call = %v", err)
			}
			refused++
		}
	}
	if refused != 2 {
		t.Errorf("%d of 4 streaming calls refused, want 2 (round robin over the refuser and good)", refused)
	}
}

// TestActiveHealthGRPC: grpc.health.v1 verdicts take endpoints out and put
// them back, by the thresholds.
func TestActiveHealthGRPC(t *testing.T) {
	a := startBackend(t, "grpc", "a", "")
	b := startBackend(t, "grpc", "b", "")
	cfg := upstreamConfig("users", "grpc", "round_robin", a, b)
	const interval = time.Hour
	cfg.HealthCheck = &config.HealthCheck{Interval: config.Duration(interval), Timeout: config.Duration(hangGuard), UnhealthyThreshold: 2, HealthyThreshold: 1}
	tk, ev := newTickers(), newEvents()
	u := newUpstream(t, cfg, upstream.WithTicker(tk.New), upstream.WithObserver(ev.observe))
	ctx := guardCtx(t)
	// The round at start passes.
	ev.wait(t, upstream.EventCheck, a.addr)
	ev.wait(t, upstream.EventCheck, b.addr)

	spread := func(n int) (fromA, fromB int) {
		t.Helper()
		for range n {
			id, _, err := unary(ctx, t, u, "1", nil)
			if err != nil {
				t.Fatal(err)
			}
			switch id {
			case "a":
				fromA++
			case "b":
				fromB++
			}
		}
		return
	}

	b.setServing(false)
	tk.tick(t, interval)
	if e := ev.wait(t, upstream.EventCheck, b.addr); e.Err == nil {
		t.Fatal("b's check passed while NOT_SERVING")
	}
	if es := endpointStatus(t, u, b.addr); !es.Healthy {
		t.Fatal("b out after one failed check, threshold is 2")
	}
	tk.tick(t, interval)
	ev.wait(t, upstream.EventUnhealthy, b.addr)
	if _, fromB := spread(20); fromB != 0 {
		t.Errorf("unhealthy b served %d calls", fromB)
	}
	if es := endpointStatus(t, u, b.addr); es.Healthy || es.HealthCheck != "failing" || !strings.Contains(es.LastError, "NOT_SERVING") {
		t.Errorf("b: %+v", es)
	}

	a.setServing(false)
	tk.tick(t, interval)
	tk.tick(t, interval)
	ev.wait(t, upstream.EventUnhealthy, a.addr)
	if u.Ready() {
		t.Error("Ready with both endpoints failing checks")
	}
	if _, _, err := unary(ctx, t, u, "1", nil); status.Code(err) != codes.Unavailable {
		t.Errorf("call with no healthy endpoint = %v", err)
	}

	a.setServing(true)
	b.setServing(true)
	tk.tick(t, interval)
	ev.wait(t, upstream.EventHealthy, a.addr)
	ev.wait(t, upstream.EventHealthy, b.addr)
	if fromA, fromB := spread(20); fromA != 10 || fromB != 10 {
		t.Errorf("after recovery a served %d, b %d; want 10 each", fromA, fromB)
	}
}

// TestActiveHealthMCP: MCP endpoints are checked with PING; a stopped
// backend goes out and comes back once it answers again.
func TestActiveHealthMCP(t *testing.T) {
	a := startBackend(t, "mcp", "a", "")
	b := startBackend(t, "mcp", "b", "")
	cfg := upstreamConfig("users", "mcp", "round_robin", a, b)
	const interval = time.Hour
	cfg.HealthCheck = &config.HealthCheck{Interval: config.Duration(interval), Timeout: config.Duration(time.Second), UnhealthyThreshold: 1, HealthyThreshold: 2}
	tk, ev := newTickers(), newEvents()
	u := newUpstream(t, cfg, upstream.WithTicker(tk.New), upstream.WithObserver(ev.observe))
	ev.wait(t, upstream.EventCheck, b.addr)

	b.stop()
	tk.tick(t, interval)
	ev.wait(t, upstream.EventUnhealthy, b.addr)
	if es := endpointStatus(t, u, b.addr); es.Healthy {
		t.Fatalf("b: %+v", es)
	}

	b.start()
	// Healthy again after two passed checks in a row, once the connection
	// is back (mcp.Conn redials with the backoff).
	deadline := time.Now().Add(hangGuard)
	for ev.count(upstream.EventHealthy, b.addr) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("b never became healthy again")
		}
		tk.tick(t, interval)
		time.Sleep(5 * time.Millisecond) // real time for the redial
	}
	ctx := guardCtx(t)
	seen := map[string]int{}
	for range 10 {
		id, _, err := unary(ctx, t, u, "1", nil)
		if err != nil {
			t.Fatal(err)
		}
		seen[id]++
	}
	if seen["a"] != 5 || seen["b"] != 5 {
		t.Errorf("spread after recovery: %v", seen)
	}
}

// TestCloseLetsCallsFinish: Close with a stream open: the stream runs to
// its end, new calls answer UNAVAILABLE, and the connection closes after
// (goleak checks nothing is left).
func TestCloseLetsCallsFinish(t *testing.T) {
	for _, p := range []string{"grpc", "mcp"} {
		t.Run(p, func(t *testing.T) {
			b := startBackend(t, p, "b", "")
			u, err := upstream.New(upstreamConfig("users", p, "round_robin", b), fastOptions()...)
			if err != nil {
				t.Fatal(err)
			}
			st := newStream(guardCtx(t))
			done := make(chan error, 1)
			go func() { done <- serve(u, grpcDoor.request(pathChat, nil), st, st) }()
			st.send(t, &chatMsg{Text: "before"})
			<-st.gotMsg
			u.Close()
			st.send(t, &chatMsg{Text: "after"})
			<-st.gotMsg
			close(st.in)
			if err := <-done; err != nil {
				t.Fatalf("stream across Close = %v", err)
			}
			if n := len(st.messages()); n != 2 {
				t.Fatalf("%d echoes, want 2", n)
			}
			if _, _, err := unary(guardCtx(t), t, u, "1", nil); status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "closed") {
				t.Fatalf("call after Close = %v", err)
			}
			u.Close() // idempotent
		})
	}
}

// TestPassiveEjection: what counts, when an endpoint is ejected, and the
// half-open return, on an injected clock.
func TestPassiveEjection(t *testing.T) {
	a := startBackend(t, "grpc", "a", "")
	cfg := upstreamConfig("users", "grpc", "round_robin", a)
	cfg.Passive = config.Passive{ConsecutiveFailures: 3, EjectionTime: config.Duration(time.Minute)}
	clk, ev := newClock(), newEvents()
	u := newUpstream(t, cfg, upstream.WithClock(clk.Now), upstream.WithObserver(ev.observe))
	ctx := guardCtx(t)

	steps := []struct {
		id        string // GetUser's user_id: "unavail" makes the backend answer UNAVAILABLE
		advance   time.Duration
		wantCode  codes.Code
		wantFails int64
		ejected   bool
	}{
		{id: "unavail", wantCode: codes.Unavailable, wantFails: 1},
		{id: "notfound", wantCode: codes.NotFound, wantFails: 0}, // an answer resets
		{id: "unavail", wantCode: codes.Unavailable, wantFails: 1},
		{id: "unavail", wantCode: codes.Unavailable, wantFails: 2},
		{id: "unavail", wantCode: codes.Unavailable, wantFails: 3, ejected: true},
		{id: "1", wantCode: codes.Unavailable, wantFails: 3, ejected: true}, // no healthy endpoint
		{id: "1", advance: 59 * time.Second, wantCode: codes.Unavailable, wantFails: 3, ejected: true},
		// Back, half-open: one more failure ejects it again.
		{id: "unavail", advance: time.Second, wantCode: codes.Unavailable, wantFails: 4, ejected: true},
		{id: "1", advance: time.Minute, wantCode: codes.OK, wantFails: 0},
		{id: "unavail", wantCode: codes.Unavailable, wantFails: 1},
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		_, _, err := unary(ctx, t, u, s.id, nil)
		es := endpointStatus(t, u, a.addr)
		if status.Code(err) != s.wantCode || es.ConsecutiveFailures != s.wantFails || (es.EjectedUntil != nil) != s.ejected {
			t.Fatalf("step %d (%s): err %v, status %+v; want %s, %d failures, ejected %v", i, s.id, err, es, s.wantCode, s.wantFails, s.ejected)
		}
	}
	if n := ev.count(upstream.EventEjected, a.addr); n != 2 {
		t.Errorf("%d ejections, want 2", n)
	}
	if n := ev.count(upstream.EventReturned, a.addr); n != 2 {
		t.Errorf("%d returns, want 2", n)
	}
}

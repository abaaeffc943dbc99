package upstream_test

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway/config"
	"github.com/mcpbridge/mcpbridge/gateway/upstream"
)

// TestBalancerSpread: every balancer's spread over real backends.
func TestBalancerSpread(t *testing.T) {
	tests := []struct {
		name     string
		proto    string
		balancer string
		weights  []int
		calls    int
		want     []int   // per backend: exact, or centre when tol > 0
		tol      float64 // relative
	}{
		{"round_robin grpc", "grpc", "round_robin", []int{1, 1, 1}, 90, []int{30, 30, 30}, 0},
		{"round_robin mcp", "mcp", "round_robin", []int{1, 1, 1}, 90, []int{30, 30, 30}, 0},
		{"weighted_round_robin 3:1", "grpc", "weighted_round_robin", []int{3, 1}, 400, []int{300, 100}, 0},
		{"weighted_round_robin 3:1 mcp", "mcp", "weighted_round_robin", []int{3, 1}, 400, []int{300, 100}, 0},
		{"random", "grpc", "random", []int{1, 1, 1, 1}, 2000, []int{500, 500, 500, 500}, 0.2},
		{"least_request idle backends", "mcp", "least_request", []int{1, 1}, 1000, []int{500, 500}, 0.2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := upstreamConfig("users", tt.proto, tt.balancer)
			var bs []*backend
			for i, w := range tt.weights {
				b := startBackend(t, tt.proto, "b"+itoa(i), "")
				bs = append(bs, b)
				cfg.Endpoints = append(cfg.Endpoints, upstreamEndpoint(b.addr, w))
			}
			r := rand.New(rand.NewPCG(7, 11))
			var mu sync.Mutex
			u := newUpstream(t, cfg, upstream.WithRandom(func(n int) int { mu.Lock(); defer mu.Unlock(); return r.IntN(n) }))
			ctx := guardCtx(t)
			for range tt.calls {
				if _, _, err := unary(ctx, t, u, "1", nil); err != nil {
					t.Fatal(err)
				}
			}
			for i, b := range bs {
				got, want := int(b.svc.calls.Load()), tt.want[i]
				if tt.tol == 0 && got != want || tt.tol > 0 && (float64(got) < float64(want)*(1-tt.tol) || float64(got) > float64(want)*(1+tt.tol)) {
					t.Errorf("backend %d served %d calls, want %d (±%.0f%%)", i, got, want, tt.tol*100)
				}
				if es := endpointStatus(t, u, b.addr); es.Calls != uint64(got) || es.InFlight != 0 {
					t.Errorf("backend %d: status %+v, want %d calls, none in flight", i, es, got)
				}
				if n := b.accepted.Load(); n != 1 {
					t.Errorf("backend %d accepted %d connections for %d calls, want 1", i, n, got)
				}
			}
		})
	}
}

// TestLeastRequestAvoidsBusyEndpoint: with calls held open on one backend,
// power of two choices sends the new calls to the idle one.
func TestLeastRequestAvoidsBusyEndpoint(t *testing.T) {
	busy := startBackend(t, "grpc", "busy", "")
	idle := startBackend(t, "grpc", "idle", "")
	cfg := upstreamConfig("users", "grpc", "least_request", busy, idle)
	cfg.HealthCheck = &config.HealthCheck{Interval: config.Duration(time.Hour), Timeout: config.Duration(hangGuard), UnhealthyThreshold: 1, HealthyThreshold: 1}
	tk, ev := newTickers(), newEvents()
	u := newUpstream(t, cfg, upstream.WithTicker(tk.New), upstream.WithObserver(ev.observe))
	ctx := guardCtx(t)

	// Take idle out of rotation while three calls are held on busy.
	idle.setServing(false)
	tk.tick(t, time.Hour)
	ev.wait(t, upstream.EventUnhealthy, idle.addr)
	var held []*stream
	var wg sync.WaitGroup
	for range 3 {
		st := newStream(ctx)
		st.send(t, mustUserRequest("block"))
		close(st.in)
		held = append(held, st)
		wg.Go(func() { _ = u.Serve(mcpDoor.request(pathGet, nil), halfClosed{st}) })
		<-busy.svc.started
	}
	idle.setServing(true)
	tk.tick(t, time.Hour)
	ev.wait(t, upstream.EventHealthy, idle.addr)
	if es := endpointStatus(t, u, busy.addr); es.InFlight != 3 {
		t.Fatalf("busy has %d calls in flight, want 3", es.InFlight)
	}

	before := idle.svc.calls.Load()
	for range 50 {
		if _, _, err := unary(ctx, t, u, "1", nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := idle.svc.calls.Load() - before; got != 50 {
		t.Errorf("idle got %d of 50 new calls, want all (busy is more loaded)", got)
	}
	for _, st := range held {
		st.cancel()
	}
	wg.Wait()
}

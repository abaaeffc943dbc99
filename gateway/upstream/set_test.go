package upstream_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway/config"
	"github.com/mcpbridge/mcpbridge/gateway/upstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestSetUpdate: an Update keeps unchanged upstreams (their connections
// too), replaces changed ones without disturbing calls in flight, drops
// removed ones, and rejects a bad configuration whole.
func TestSetUpdate(t *testing.T) {
	ga := startBackend(t, "grpc", "ga", "")
	mb := startBackend(t, "mcp", "mb", "")
	mb2 := startBackend(t, "mcp", "mb2", "")
	cfgs := func() []config.Upstream {
		return []config.Upstream{
			upstreamConfig("a", "grpc", "round_robin", ga),
			upstreamConfig("b", "mcp", "round_robin", mb),
		}
	}
	set := upstream.NewSet(fastOptions()...)
	defer set.Close()
	if err := set.Update(cfgs()); err != nil {
		t.Fatal(err)
	}
	if set.Handler("nope") != nil {
		t.Fatal("Handler of an unknown upstream is not nil")
	}
	ha, hb := set.Handler("a"), set.Handler("b")
	ctx := guardCtx(t)
	for _, h := range []struct {
		name string
		want string
	}{{"a", "ga"}, {"b", "mb"}} {
		if id, _, err := unary(ctx, t, set.Handler(h.name), "1", nil); err != nil || id != h.want {
			t.Fatalf("%s: %q, %v", h.name, id, err)
		}
	}
	ua, _ := set.Get("a")
	ub, _ := set.Get("b")
	accepted := ga.accepted.Load()

	// The same configuration again (fresh values): nothing is replaced.
	if err := set.Update(cfgs()); err != nil {
		t.Fatal(err)
	}
	if u, _ := set.Get("a"); u != ua {
		t.Fatal("an unchanged upstream was replaced")
	}
	if u, _ := set.Get("b"); u != ub {
		t.Fatal("an unchanged upstream was replaced")
	}
	for range 5 {
		if _, _, err := unary(ctx, t, ha, "1", nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := ga.accepted.Load(); n != accepted {
		t.Fatalf("ga accepted %d connections, had %d: the kept upstream reconnected", n, accepted)
	}

	// A stream on b while b's configuration changes.
	held := newStream(ctx)
	done := make(chan error, 1)
	go func() { done <- serve(hb, grpcDoor.request(pathChat, nil), held, held) }()
	held.send(t, &chatMsg{Text: "one"})
	<-held.gotMsg

	changed := cfgs()
	changed[1] = upstreamConfig("b", "mcp", "random", mb2)
	if err := set.Update(changed); err != nil {
		t.Fatal(err)
	}
	if u, _ := set.Get("b"); u == ub {
		t.Fatal("a changed upstream was kept")
	}
	// The handler compiled before the change now reaches the new b.
	if id, _, err := unary(ctx, t, hb, "1", nil); err != nil || id != "mb2" {
		t.Fatalf("b after the change: %q, %v", id, err)
	}
	held.send(t, &chatMsg{Text: "two"})
	<-held.gotMsg
	close(held.in)
	if err := <-done; err != nil {
		t.Fatalf("stream across the update = %v", err)
	}
	waitFor(t, "the old b's connection closes", func() bool { return mb.closed.Load() == mb.accepted.Load() })

	// A bad configuration changes nothing.
	bad := append(changed[:1:1], config.Upstream{Name: "c", Protocol: "http", Balancer: "round_robin", Endpoints: []config.Endpoint{{Addr: "127.0.0.1:1", Weight: 1}}})
	if err := set.Update(bad); err == nil {
		t.Fatal("Update with protocol http succeeded")
	}
	if _, ok := set.Get("b"); !ok {
		t.Fatal("a failed Update removed b")
	}

	// Removing a: its handler answers UNAVAILABLE.
	if err := set.Update(changed[1:]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := unary(ctx, t, ha, "1", nil); status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "not configured") {
		t.Fatalf("call to a removed upstream = %v", err)
	}
	if st := set.Status(); len(st) != 1 || st[0].Name != "b" || st[0].Balancer != "random" {
		t.Fatalf("Status = %+v", st)
	}
	if ok, reason := set.Ready(); !ok {
		t.Fatalf("Ready = false, %q", reason)
	}

	set.Close()
	if err := set.Update(cfgs()); err == nil {
		t.Fatal("Update after Close succeeded")
	}
}

// TestSetReady names an upstream without a healthy endpoint.
func TestSetReady(t *testing.T) {
	a := startBackend(t, "grpc", "a", "")
	cfg := upstreamConfig("sick", "grpc", "round_robin", a)
	cfg.HealthCheck = &config.HealthCheck{Interval: config.Duration(time.Hour), Timeout: config.Duration(hangGuard), UnhealthyThreshold: 1, HealthyThreshold: 1}
	tk, ev := newTickers(), newEvents()
	set := upstream.NewSet(fastOptions(upstream.WithTicker(tk.New), upstream.WithObserver(ev.observe))...)
	defer set.Close()
	if err := set.Update([]config.Upstream{cfg}); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, upstream.EventCheck, a.addr)
	if ok, _ := set.Ready(); !ok {
		t.Fatal("not ready")
	}
	a.setServing(false)
	tk.tick(t, time.Hour)
	ev.wait(t, upstream.EventUnhealthy, a.addr)
	if ok, reason := set.Ready(); ok || reason != "upstream sick: no healthy endpoint" {
		t.Fatalf("Ready = %v, %q", ok, reason)
	}
}

// TestStatusJSON: the admin view's shape.
func TestStatusJSON(t *testing.T) {
	a := startBackend(t, "grpc", "a", "")
	u := newUpstream(t, upstreamConfig("users", "grpc", "weighted_round_robin", a))
	if _, _, err := unary(guardCtx(t), t, u, "1", nil); err != nil {
		t.Fatal(err)
	}
	// grpc-go reports the channel's state a moment after the call.
	waitFor(t, "the connection is READY", func() bool { return endpointStatus(t, u, a.addr).Conn == "READY" })
	b, err := json.Marshal(u.Status())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "protocol", "balancer", "ready", "endpoints"} {
		if _, ok := got[k]; !ok {
			t.Errorf("no %q in %s", k, b)
		}
	}
	ep := got["endpoints"].([]any)[0].(map[string]any)
	for _, k := range []string{"addr", "weight", "healthy", "conn", "in_flight", "consecutive_failures", "calls", "failures"} {
		if _, ok := ep[k]; !ok {
			t.Errorf("no %q in %s", k, b)
		}
	}
	if ep["calls"].(float64) != 1 || ep["conn"] != "READY" || got["balancer"] != "weighted_round_robin" {
		t.Errorf("status %s", b)
	}
}

package daemon_test

// End-to-end tests of traffic management: weighted splits, balancers,
// ejection and return of a dead endpoint, reloads under load and graceful
// shutdown.

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway/builtin"
	"github.com/mcpbridge/mcpbridge/gateway/config"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestWeightedSplit: Weight=canary,90 and Weight=canary,10 split 10,000
// calls 90/10 within three percentage points.
func TestWeightedSplit(t *testing.T) {
	stable := startBackend(t, "grpc", "stable")
	canary := startBackend(t, "grpc", "canary")
	g := startDaemon(t, fmt.Sprintf(`
upstreams:
  stable: {endpoints: [%s]}
  canary: {endpoints: [%s]}
routes:
  - id: users-stable
    uri: lb://stable
    predicates: [Path=/user.v1.UserService/**, "Weight=canary, 90"]
  - id: users-canary
    uri: lb://canary
    predicates: [Path=/user.v1.UserService/**, "Weight=canary, 10"]
`, stable.addr, canary.addr))
	for _, tc := range []struct {
		front string
		n     int
	}{{"grpc", 10_000}, {"mcp", 2_000}} {
		counts := countBackends(t, g.client(tc.front), tc.n, 8)
		if len(counts) != 2 || counts["stable"]+counts["canary"] != tc.n {
			t.Fatalf("%s: counts %v", tc.front, counts)
		}
		share := 100 * float64(counts["canary"]) / float64(tc.n)
		t.Logf("%s: %d calls, canary %.2f%% (%v)", tc.front, tc.n, share, counts)
		if math.Abs(share-10) > 3 {
			t.Errorf("%s: canary took %.2f%% of %d calls, want 10%% ± 3", tc.front, share, tc.n)
		}
	}
}

// TestBalancers: each balancer spreads calls over three endpoints through
// the daemon, evenly or by weight.
func TestBalancers(t *testing.T) {
	bs := []*backend{startBackend(t, "grpc", "b0"), startBackend(t, "grpc", "b1"), startBackend(t, "grpc", "b2")}
	const n = 1200
	for _, tc := range []struct {
		balancer string
		want     [3]float64 // expected shares
		slack    int        // allowed deviation from the expected count
		workers  int
	}{
		{"round_robin", [3]float64{1. / 3, 1. / 3, 1. / 3}, 6, 6},
		{"weighted_round_robin", [3]float64{1. / 6, 2. / 6, 3. / 6}, 6, 6},
		// One caller at a time: every endpoint has 0 calls in flight, so
		// the two choices tie and the spread is even. (With concurrent
		// callers on a busy machine, least_request rightly favours
		// whichever endpoints answer faster.)
		{"least_request", [3]float64{1. / 3, 1. / 3, 1. / 3}, 100, 1},
		{"random", [3]float64{1. / 3, 1. / 3, 1. / 3}, 100, 6},
	} {
		t.Run(tc.balancer, func(t *testing.T) {
			g := startDaemon(t, fmt.Sprintf(`
upstreams:
  users:
    balancer: %s
    endpoints:
      - {addr: %q, weight: 1}
      - {addr: %q, weight: 2}
      - {addr: %q, weight: 3}
routes:
  - id: users
    uri: lb://users
`, tc.balancer, bs[0].addr, bs[1].addr, bs[2].addr))
			counts := countBackends(t, g.client("grpc"), n, tc.workers)
			t.Logf("%s: %v", tc.balancer, counts)
			for i, b := range bs {
				want := int(math.Round(tc.want[i] * n))
				if got := counts[b.svc.id]; got < want-tc.slack || got > want+tc.slack {
					t.Errorf("%s got %d of %d calls, want %d ± %d (%v)", b.svc.id, got, n, want, tc.slack, counts)
				}
			}
		})
	}
}

// callLog records the calls a load generator made.
type callLog struct {
	mu    sync.Mutex
	calls []loggedCall
}

type loggedCall struct {
	start   time.Time
	backend string
	err     error
}

func (l *callLog) add(c loggedCall) {
	l.mu.Lock()
	l.calls = append(l.calls, c)
	l.mu.Unlock()
}

func (l *callLog) snapshot() []loggedCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]loggedCall(nil), l.calls...)
}

func (l *callLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}

// load runs workers goroutines calling GetUser("1") through each client in
// turn until stop is called, which returns the log.
func load(t testing.TB, workers int, clients ...userv1.UserServiceClient) (log *callLog, stop func() []loggedCall) {
	log = &callLog{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range workers {
		c := clients[w%len(clients)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
				start := time.Now()
				b, u, err := getUser(cctx, c, "1")
				ccancel()
				if ctx.Err() != nil {
					return // the end of the test, not a failure
				}
				if err == nil && u.GetName() != "Alice" {
					err = fmt.Errorf("wrong answer %v", u)
				}
				log.add(loggedCall{start: start, backend: b, err: err})
			}
		}()
	}
	var once sync.Once
	return log, func() []loggedCall {
		once.Do(func() { cancel(); wg.Wait() })
		return log.snapshot()
	}
}

// TestEjectionAndReturn: an endpoint whose server dies leaves the rotation
// and traffic goes on over the others without a failed call; once it
// serves again, it comes back.
func TestEjectionAndReturn(t *testing.T) {
	for _, proto := range []string{"grpc", "mcp"} {
		t.Run(proto, func(t *testing.T) {
			bs := []*backend{startBackend(t, proto, "b0"), startBackend(t, proto, "b1"), startBackend(t, proto, "b2")}
			g := startDaemon(t, fmt.Sprintf(`
upstreams:
  users:
    protocol: %s
    endpoints: [%s, %s, %s]
    health_check: {interval: 100ms, timeout: 100ms, unhealthy_threshold: 1, healthy_threshold: 1}
    passive: {consecutive_failures: 1, ejection_time: 300ms}
routes:
  - id: users
    uri: lb://users
`, proto, bs[0].addr, bs[1].addr, bs[2].addr))
			log, stop := load(t, 4, g.client("grpc"), g.client("mcp"))
			defer stop()
			seen := func(id string, after time.Time) func() bool {
				return func() bool {
					for _, c := range log.snapshot() {
						if c.backend == id && c.start.After(after) {
							return true
						}
					}
					return false
				}
			}
			for _, b := range bs {
				waitFor(t, b.svc.id+" serves", seen(b.svc.id, time.Time{}))
			}

			victim := bs[1]
			victim.stop()
			waitFor(t, "the dead endpoint is out", func() bool { return !g.endpointHealthy("users", victim.addr) })
			ejected := time.Now()
			n := log.len()
			// Stay dead past the ejection time and several health rounds, so
			// the half-open returns of passive ejection are covered too.
			waitFor(t, "300 calls and 2 ejection times after the ejection", func() bool {
				return log.len() >= n+300 && time.Since(ejected) > 700*time.Millisecond
			})

			victim.start()
			restarted := time.Now()
			waitFor(t, "the endpoint is back", seen(victim.svc.id, restarted))
			waitFor(t, "the endpoint is healthy", func() bool { return g.endpointHealthy("users", victim.addr) })
			n = log.len()
			waitFor(t, "100 calls after the return", func() bool { return log.len() >= n+100 })

			calls := stop()
			var before, after, failedBefore int
			for _, c := range calls {
				if c.start.Before(ejected) {
					before++
					if c.err != nil {
						failedBefore++
					}
					continue
				}
				after++
				if c.err != nil {
					t.Errorf("a call started %v after the ejection failed: %v", c.start.Sub(ejected), c.err)
				}
				if c.backend == victim.svc.id && c.start.Before(restarted) {
					t.Errorf("a call started after the ejection reached the dead endpoint")
				}
			}
			t.Logf("%d calls before the ejection (%d failed), %d after (the endpoint was out %v)", before, failedBefore, after, restarted.Sub(ejected).Round(time.Millisecond))
		})
	}
}

// reloadConfigs are two valid configurations the reload tests alternate
// between: the same upstream name over different endpoints and balancers,
// and routes that change around it.
func reloadConfigs(proto string, bs []*backend) [2]string {
	return [2]string{
		fmt.Sprintf(`
upstreams:
  users: {protocol: %s, endpoints: [%s, %s]}
routes:
  - id: users
    uri: lb://users
    predicates: [Path=/user.v1.UserService/**]
`, proto, bs[0].addr, bs[1].addr),
		fmt.Sprintf(`
upstreams:
  users: {protocol: %s, endpoints: [%s, %s], balancer: random}
  other: {protocol: %s, endpoints: [%s]}
routes:
  - id: other
    uri: lb://other
    predicates: [Header=x-never]
  - id: users-v2
    uri: lb://users
    predicates: ["Path=/user.v1.UserService/GetUser, /user.v1.UserService/ListUsers, /user.v1.UserService/Chat"]
    filters: ["AddRequestHeader=x-config, b"]
`, proto, bs[1].addr, bs[2].addr, proto, bs[0].addr),
	}
}

// TestReloadUnderLoad: reloads alternating between two configurations
// while clients of both front doors call without pause fail no call, and
// streams opened before the reloads carry on after them.
func TestReloadUnderLoad(t *testing.T) {
	for _, proto := range []string{"grpc", "mcp"} {
		t.Run(proto, func(t *testing.T) { testReloadUnderLoad(t, proto) })
	}
}

func testReloadUnderLoad(t *testing.T, proto string) {
	bs := []*backend{startBackend(t, proto, "b0"), startBackend(t, proto, "b1"), startBackend(t, proto, "b2")}
	cfgs := reloadConfigs(proto, bs)
	g := startDaemon(t, cfgs[0])
	ctx := guardCtx(t)
	gc := g.client("grpc")

	// Streams opened before the reloads.
	chat, err := gc.Chat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	chatSay := func(text string) {
		t.Helper()
		if err := chat.Send(&userv1.ChatMessage{Text: text}); err != nil {
			t.Fatalf("Chat send %q: %v", text, err)
		}
		m, err := chat.Recv()
		if err != nil || m.GetText() != text {
			t.Fatalf("Chat recv: %v, %v; want %q", m, err, text)
		}
	}
	chatSay("before")
	list, err := gc.ListUsers(ctx, &userv1.ListUsersRequest{Limit: gateLimit})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := list.Recv(); err != nil {
		t.Fatal(err)
	}
	mcpList, err := g.client("mcp").ListUsers(ctx, &userv1.ListUsersRequest{Limit: gateLimit})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mcpList.Recv(); err != nil {
		t.Fatal(err)
	}

	log, stop := load(t, 6, gc, g.client("grpc"), g.client("mcp"))
	defer stop()
	const reloads = 20
	for i := range reloads {
		n := log.len()
		waitFor(t, "calls between reloads", func() bool { return log.len() >= n+10 })
		g.reload(cfgs[(i+1)%2])
	}
	n := log.len()
	waitFor(t, "calls after the reloads", func() bool { return log.len() >= n+50 })
	calls := stop()
	failed := 0
	for _, c := range calls {
		if c.err != nil {
			failed++
			if failed <= 5 {
				t.Errorf("a call failed: %v", c.err)
			}
		}
	}
	t.Logf("%d calls over %d reloads, %d failed", len(calls), reloads, failed)

	// The streams opened before the reloads are still up.
	chatSay("after")
	if err := chat.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := chat.Recv(); err != io.EOF {
		t.Errorf("Chat end: %v, want EOF", err)
	}
	for _, b := range bs {
		close(b.svc.gate)
	}
	for name, l := range map[string]grpc.ServerStreamingClient[userv1.UserResponse]{"grpc": list, "mcp": mcpList} {
		got := 1
		for {
			_, err := l.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s ListUsers after the reloads, message %d: %v", name, got, err)
			}
			got++
		}
		if got != gateLimit {
			t.Errorf("%s ListUsers: %d users, want %d", name, got, gateLimit)
		}
	}
}

// TestReloadRenamingUpstreamUnderLoad: like TestReloadUnderLoad, but the
// reloads move the route between two upstreams of different names, so each
// one removes the upstream the running table's route uses.
//
// Reload keeps a removed upstream in the set for a moment after the swap,
// so no call of the old table finds its upstream gone.
func TestReloadRenamingUpstreamUnderLoad(t *testing.T) {
	bs := []*backend{startBackend(t, "grpc", "b0"), startBackend(t, "grpc", "b1")}
	cfg := func(i int) string {
		return fmt.Sprintf(`
upstreams:
  users-%d: {endpoints: [%s]}
routes:
  - id: users
    uri: lb://users-%d
`, i, bs[i].addr, i)
	}
	g := startDaemon(t, cfg(0))
	log, stop := load(t, 6, g.client("grpc"), g.client("mcp"))
	defer stop()
	const reloads = 20
	for i := range reloads {
		n := log.len()
		waitFor(t, "calls between reloads", func() bool { return log.len() >= n+10 })
		g.reload(cfg((i + 1) % 2))
	}
	calls := stop()
	failed := 0
	for _, c := range calls {
		if c.err != nil {
			failed++
			if failed <= 5 {
				t.Errorf("a call failed: %v", c.err)
			}
		}
	}
	t.Logf("%d calls over %d reloads, %d failed", len(calls), reloads, failed)
}

// TestBadReload: a configuration with a route to a missing upstream or an
// unknown predicate is rejected and the running routes and upstreams keep
// serving.
func TestBadReload(t *testing.T) {
	b0 := startBackend(t, "grpc", "b0")
	b1 := startBackend(t, "grpc", "b1")
	g := startDaemon(t, fmt.Sprintf(`
upstreams:
  users: {endpoints: [%s]}
routes:
  - id: users
    uri: lb://users
    predicates: [Path=/user.v1.UserService/**]
`, b0.addr))
	good := g.d.Config()
	c := g.client("grpc")
	check := func(what string) {
		t.Helper()
		if g.d.Config() != good {
			t.Errorf("%s: the configuration in force changed", what)
		}
		for range 5 {
			b, _, err := getUser(guardCtx(t), c, "1")
			if err != nil || b != "b0" {
				t.Fatalf("%s: after the rejected reload: %q, %v", what, b, err)
			}
		}
	}

	// The file form: parsing reports the problems with their lines.
	_, err := config.Parse("bad.yaml", []byte(listenersYAML+`
upstreams:
  users: {endpoints: [`+b1.addr+`]}
routes:
  - id: users
    uri: lb://user-servise
    predicates: [Hedaer=x-a]
`), config.WithRegistry(builtin.NewRegistry()))
	if err == nil || !strings.Contains(err.Error(), `unknown upstream "user-servise"`) || !strings.Contains(err.Error(), `unknown predicate "Hedaer"`) {
		t.Errorf("parse: %v", err)
	}

	// The daemon's own check, on configurations that skipped parsing's.
	missing := *good
	missing.Upstreams = []config.Upstream{good.Upstreams[0]}
	missing.Upstreams[0].Endpoints = []config.Endpoint{{Addr: b1.addr, Weight: 1}}
	missing.Routes = append([]config.Route(nil), good.Routes...)
	missing.Routes[0].URI = "lb://missing"
	if _, err := g.d.Reload(&missing); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("reload with a route to a missing upstream: %v", err)
	}
	check("missing upstream")

	unknown := *good
	unknown.Routes = append([]config.Route(nil), good.Routes...)
	unknown.Routes[0].Predicates = append(append([]config.Spec(nil), good.Routes[0].Predicates...), config.Spec{Name: "Hedaer"})
	if _, err := g.d.Reload(&unknown); err == nil || !strings.Contains(err.Error(), "Hedaer") {
		t.Errorf("reload with an unknown predicate: %v", err)
	}
	check("unknown predicate")

	// Parsed without a registry, an unknown predicate gets as far as the
	// daemon, which rejects it.
	noReg, err := config.Parse("bad.yaml", []byte(listenersYAML+`
upstreams:
  users: {endpoints: [`+b1.addr+`]}
routes:
  - id: users
    uri: lb://users
    predicates: [Hedaer=x-a]
`))
	if err != nil {
		t.Fatalf("parse without a registry: %v", err)
	}
	if _, err := g.d.Reload(noReg); err == nil || !strings.Contains(err.Error(), "Hedaer") {
		t.Errorf("reload with an unknown predicate: %v", err)
	}
	check("unknown predicate, parsed without a registry")

	// A good reload after the bad ones applies.
	g.reload(fmt.Sprintf(`
upstreams:
  users: {endpoints: [%s]}
routes:
  - id: users
    uri: lb://users
`, b1.addr))
	if b, _, err := getUser(guardCtx(t), c, "1"); err != nil || b != "b1" {
		t.Errorf("after a good reload: %q, %v", b, err)
	}
}

// TestGracefulShutdown: calls in flight when Shutdown starts finish OK on
// both front doors, while new connections and calls are refused.
func TestGracefulShutdown(t *testing.T) {
	b := startBackend(t, "grpc", "b0")
	g := startDaemon(t, fmt.Sprintf(`
upstreams:
  users: {endpoints: [%s]}
routes:
  - id: users
    uri: lb://users
`, b.addr))
	grpcAddr, mcpAddr := g.d.Addr("grpc").String(), g.d.Addr("mcp").String()
	type result struct {
		front string
		u     *userv1.UserResponse
		err   error
	}
	results := make(chan result, 2)
	clients := map[string]userv1.UserServiceClient{}
	for _, front := range fronts {
		c := g.client(front)
		clients[front] = c
		go func() {
			u, err := c.GetUser(guardCtx(t), &userv1.UserRequest{UserId: idSlow})
			results <- result{front, u, err}
		}()
	}
	for range fronts {
		select {
		case <-b.svc.started:
		case <-time.After(hangGuard):
			t.Fatal("the slow calls never reached the backend")
		}
	}

	shutdownErr := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		shutdownErr <- g.d.Shutdown(ctx)
	}()

	// New connections are refused.
	waitFor(t, "the daemon is not ready", func() bool { ok, _ := g.d.Ready(); return !ok })
	waitFor(t, "new gRPC calls are refused", func() bool {
		cc := newGRPCClient(t, grpcAddr)
		defer cc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := userv1.NewUserServiceClient(cc).GetUser(ctx, &userv1.UserRequest{UserId: "1"})
		return status.Code(err) == codes.Unavailable
	})
	waitFor(t, "new MCP connections are refused", func() bool {
		return mcpDialFails(mcpAddr)
	})
	// So are new calls on the connections of the calls in flight.
	for front, c := range clients {
		waitFor(t, "new "+front+" calls on an open connection are refused", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := c.GetUser(ctx, &userv1.UserRequest{UserId: "1"})
			return status.Code(err) == codes.Unavailable
		})
	}
	select {
	case err := <-shutdownErr:
		t.Fatalf("Shutdown returned %v with calls in flight", err)
	case r := <-results:
		t.Fatalf("a slow call ended before its release: %v, %v", r.u, r.err)
	default:
	}

	close(b.svc.release)
	for range fronts {
		select {
		case r := <-results:
			if r.err != nil || r.u.GetName() != "slow-b0" {
				t.Errorf("%s: the call in flight got %v, %v", r.front, r.u, r.err)
			}
		case <-time.After(hangGuard):
			t.Fatal("the calls in flight never ended")
		}
	}
	select {
	case err := <-shutdownErr:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Shutdown never returned")
	}
}

package daemon_test

// Fixtures for the end-to-end tests: UserService backends (the example
// service, examples/userservice/users, wrapped so that every answer says
// which backend gave it) over gRPC and MCP on loopback, a daemon built from
// a YAML string, clients of both front doors, the admin endpoint, and
// bounded polling.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/examples/userservice/users"
	"github.com/mcpbridge/mcpbridge/gateway/builtin"
	"github.com/mcpbridge/mcpbridge/gateway/config"
	"github.com/mcpbridge/mcpbridge/gateway/daemon"
	"github.com/mcpbridge/mcpbridge/gateway/upstream"
	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

// hangGuard bounds every wait; a healthy run takes a small fraction of it.
// It is a guard against hangs, never an assertion about speed.
const hangGuard = 15 * time.Second

// Special user ids the backend service treats differently (see svc).
const (
	idBlock    = "block"    // waits for its context to end; reports why on ended
	idSlow     = "slow"     // waits until release is closed, then answers OK
	idDeadline = "deadline" // answers with the milliseconds left before its deadline (age)
)

// gateLimit is a ListUsers limit the backend treats specially: it sends
// the first user, waits until gate is closed, then sends the rest.
const gateLimit = 777

// ---- The backend service ------------------------------------------------------

// svc is the example UserService whose answers carry header x-backend and
// trailer x-trailer naming the backend, and which echo the request's
// x-echo metadata in both. GetUser knows the ids above.
type svc struct {
	*users.Service
	id      string
	calls   atomic.Int64
	started chan string   // idBlock and idSlow calls announce themselves
	ended   chan error    // idBlock calls report their context's end
	release chan struct{} // closing it answers idSlow calls
	gate    chan struct{} // closing it lets gated ListUsers go on
}

func newSvc(id string) *svc {
	return &svc{
		Service: users.New(), id: id,
		started: make(chan string, 64), ended: make(chan error, 64),
		release: make(chan struct{}), gate: make(chan struct{}),
	}
}

func (s *svc) greet(ctx context.Context) {
	s.calls.Add(1)
	md, _ := metadata.FromIncomingContext(ctx)
	h := metadata.Pairs("x-backend", s.id)
	t := metadata.Pairs("x-trailer", "t-"+s.id)
	for _, v := range md.Get("x-echo") {
		h.Append("x-echo", v)
		t.Append("x-echo-trailer", v)
	}
	_ = grpc.SetHeader(ctx, h)
	_ = grpc.SetTrailer(ctx, t)
}

func (s *svc) GetUser(ctx context.Context, req *userv1.UserRequest) (*userv1.UserResponse, error) {
	s.greet(ctx)
	switch req.GetUserId() {
	case idBlock:
		s.started <- s.id
		<-ctx.Done()
		s.ended <- ctx.Err()
		return nil, status.FromContextError(ctx.Err()).Err()
	case idSlow:
		s.started <- s.id
		select {
		case <-s.release:
			return &userv1.UserResponse{UserId: idSlow, Name: "slow-" + s.id}, nil
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	case idDeadline:
		dl, ok := ctx.Deadline()
		if !ok {
			return &userv1.UserResponse{Name: s.id, Age: -1}, nil
		}
		return &userv1.UserResponse{Name: s.id, Age: int32(time.Until(dl).Milliseconds())}, nil
	}
	return s.Service.GetUser(ctx, req)
}

func (s *svc) ListUsers(req *userv1.ListUsersRequest, st grpc.ServerStreamingServer[userv1.UserResponse]) error {
	s.greet(st.Context())
	if req.GetLimit() != gateLimit {
		return s.Service.ListUsers(req, st)
	}
	for i := range int32(gateLimit) {
		if i == 1 {
			select {
			case <-s.gate:
			case <-st.Context().Done():
				return status.FromContextError(st.Context().Err()).Err()
			}
		}
		if err := st.Send(&userv1.UserResponse{UserId: fmt.Sprint(i), Name: s.id, Age: i}); err != nil {
			return err
		}
	}
	return nil
}

func (s *svc) ImportUsers(st grpc.ClientStreamingServer[userv1.ImportUserRequest, userv1.ImportUsersResponse]) error {
	s.greet(st.Context())
	return s.Service.ImportUsers(st)
}

func (s *svc) Chat(st grpc.BidiStreamingServer[userv1.ChatMessage, userv1.ChatMessage]) error {
	s.greet(st.Context())
	return s.Service.Chat(st)
}

// ---- Backends -------------------------------------------------------------------

// backend serves a svc over gRPC (with grpc.health.v1 and reflection) or
// MCP on a loopback address; a test can stop it and start it again on the
// same address.
type backend struct {
	t     testing.TB
	proto string
	addr  string
	svc   *svc

	mu     sync.Mutex
	grpc   *grpc.Server
	health *health.Server
	mcp    *mcp.Server
	done   chan struct{}
}

// startBackend serves a fresh svc called id over proto ("grpc" or "mcp") on
// a free loopback port; it stops when the test ends.
func startBackend(t testing.TB, proto, id string) *backend {
	t.Helper()
	b := &backend{t: t, proto: proto, addr: "127.0.0.1:0", svc: newSvc(id)}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *backend) start() {
	b.t.Helper()
	var l net.Listener
	var err error
	deadline := time.Now().Add(hangGuard)
	for { // the port of a stopped server may linger briefly
		if l, err = net.Listen("tcp", b.addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		b.t.Fatalf("listen %s: %v", b.addr, err)
	}
	b.addr = l.Addr().String()
	done := make(chan struct{})
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = done
	switch b.proto {
	case "grpc":
		srv := grpc.NewServer()
		userv1.RegisterUserServiceServer(srv, b.svc)
		b.health = health.NewServer()
		healthpb.RegisterHealthServer(srv, b.health)
		reflection.Register(srv)
		b.grpc = srv
		go func() { defer close(done); _ = srv.Serve(l) }()
	case "mcp":
		srv := mcp.NewServer()
		userv1.RegisterUserServiceServer(srv, b.svc)
		b.mcp = srv
		go func() { defer close(done); _ = srv.Serve(l) }()
	default:
		b.t.Fatalf("protocol %q", b.proto)
	}
}

// stop kills the server at once: its connections close, calls in flight
// fail.
func (b *backend) stop() {
	b.mu.Lock()
	g, m, done := b.grpc, b.mcp, b.done
	b.grpc, b.mcp = nil, nil
	b.mu.Unlock()
	if g != nil {
		g.Stop()
	}
	if m != nil {
		_ = m.Close()
	}
	if done != nil && (g != nil || m != nil) {
		<-done
	}
}

// ---- The daemon -------------------------------------------------------------------

// listenersYAML puts every listener on a free loopback port.
const listenersYAML = `
listeners:
  mcp: 127.0.0.1:0
  grpc: 127.0.0.1:0
  admin: 127.0.0.1:0
`

// parseConfig parses a configuration as the daemon's command does.
func parseConfig(t testing.TB, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml), config.WithRegistry(builtin.NewRegistry()))
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", yaml, err)
	}
	return cfg
}

// gw is a running daemon with its clients.
type gw struct {
	t *testing.T
	d *daemon.Daemon
}

// startDaemon starts a daemon on cfgYAML (listenersYAML is prepended), with
// quick upstream reconnects; it is closed when the test ends.
func startDaemon(t *testing.T, cfgYAML string) *gw {
	t.Helper()
	return &gw{t: t, d: startConfig(t, parseConfig(t, listenersYAML+cfgYAML))}
}

// startConfig starts a daemon on cfg, with quick upstream reconnects; it is
// closed when the test ends.
func startConfig(t *testing.T, cfg *config.Config) *daemon.Daemon {
	t.Helper()
	d, err := daemon.New(cfg, daemon.Options{
		Registry:        builtin.NewRegistry(),
		UpstreamOptions: []upstream.Option{upstream.WithReconnectBackoff(10*time.Millisecond, 100*time.Millisecond)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		d.Close()
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// reload applies cfgYAML (listenersYAML is prepended) and fails the test on
// error.
func (g *gw) reload(cfgYAML string) {
	g.t.Helper()
	if _, err := g.d.Reload(parseConfig(g.t, listenersYAML+cfgYAML)); err != nil {
		g.t.Fatalf("reload: %v", err)
	}
}

// grpcConn is a grpc-go client of the gRPC front door, closed at the end
// of the test.
func (g *gw) grpcConn() *grpc.ClientConn {
	g.t.Helper()
	cc, err := grpc.NewClient(g.d.Addr("grpc").String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// mcpConn is an MCP client of the MCP front door, closed at the end of the
// test.
func (g *gw) mcpConn() *mcp.Conn {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	c, err := mcp.Dial(ctx, g.d.Addr("mcp").String())
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() { _ = c.Close() })
	return c
}

// client returns a UserService client of front door ("grpc" or "mcp").
func (g *gw) client(front string) userv1.UserServiceClient {
	g.t.Helper()
	switch front {
	case "grpc":
		return userv1.NewUserServiceClient(g.grpcConn())
	case "mcp":
		return userv1.NewUserServiceClient(g.mcpConn())
	}
	g.t.Fatalf("front door %q", front)
	return nil
}

// adminGet GETs path on the admin endpoint and returns the status code and
// body.
func (g *gw) adminGet(path string) (int, []byte) {
	g.t.Helper()
	return httpGet(g.t, "http://"+g.d.Addr("admin").String()+path)
}

func httpGet(t testing.TB, url string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// upstreamStatus is /upstreams as the test reads it.
type upstreamStatus struct {
	Name      string `json:"name"`
	Ready     bool   `json:"ready"`
	Endpoints []struct {
		Addr        string `json:"addr"`
		Healthy     bool   `json:"healthy"`
		HealthCheck string `json:"health_check"`
	} `json:"endpoints"`
}

// endpointHealthy reads /upstreams and reports whether addr of upstream
// name is healthy.
func (g *gw) endpointHealthy(name, addr string) bool {
	g.t.Helper()
	code, body := g.adminGet("/upstreams")
	if code != http.StatusOK {
		g.t.Fatalf("/upstreams: %d %s", code, body)
	}
	var ups []upstreamStatus
	if err := json.Unmarshal(body, &ups); err != nil {
		g.t.Fatalf("/upstreams: %v\n%s", err, body)
	}
	for _, u := range ups {
		if u.Name != name {
			continue
		}
		for _, e := range u.Endpoints {
			if e.Addr == addr {
				return e.Healthy
			}
		}
	}
	g.t.Fatalf("/upstreams has no endpoint %s in %s:\n%s", addr, name, body)
	return false
}

// ---- Calls ---------------------------------------------------------------------------

// getUser calls GetUser(id) and returns the backend that answered (its
// x-backend header).
func getUser(ctx context.Context, c userv1.UserServiceClient, id string, opts ...grpc.CallOption) (string, *userv1.UserResponse, error) {
	var h metadata.MD
	resp, err := c.GetUser(ctx, &userv1.UserRequest{UserId: id}, append(opts, grpc.Header(&h))...)
	if v := h.Get("x-backend"); len(v) > 0 {
		return v[0], resp, err
	}
	return "", resp, err
}

// countBackends makes n GetUser("1") calls from workers goroutines and
// counts the answers per backend; any failed call fails the test.
func countBackends(t testing.TB, c userv1.UserServiceClient, n, workers int) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*hangGuard)
	defer cancel()
	var mu sync.Mutex
	counts := map[string]int{}
	var next atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]int{}
			for next.Add(1) <= int64(n) {
				b, _, err := getUser(ctx, c, "1")
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					break
				}
				local[b]++
			}
			mu.Lock()
			for k, v := range local {
				counts[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		t.Fatalf("a call failed: %v", *p)
	}
	return counts
}

// waitFor polls cond until it holds, failing the test after hangGuard.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// guardCtx is a context bounded by hangGuard, canceled at the end of the
// test.
func guardCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	t.Cleanup(cancel)
	return ctx
}

// wantCode fails the test unless err has code.
func wantCode(t testing.TB, err error, code codes.Code) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("got %v, want code %s", err, code)
	}
}

// yamlList renders addresses as a YAML flow list.
func yamlList(addrs ...string) string {
	return "[" + strings.Join(addrs, ", ") + "]"
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// newGRPCClient is a grpc-go client of addr; the caller closes it.
func newGRPCClient(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

// mcpDialFails reports whether dialing addr over MCP fails.
func mcpDialFails(addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := mcp.Dial(ctx, addr)
	if err != nil {
		return true
	}
	_ = c.Close()
	return false
}

package upstream_test

// Fixtures: UserService backends over gRPC (with grpc.health.v1) and over
// MCP on loopback, a gateway.Stream that plays the front door, a manual
// ticker, a settable clock and an event recorder.

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/config"
	"github.com/mcpbridge/mcpbridge/gateway/upstream"
	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// hangGuard bounds every wait on real time; a healthy run takes
// milliseconds. It is a guard against hangs, never an assertion.
const hangGuard = 20 * time.Second

const (
	pathGet    = "/user.v1.UserService/GetUser"
	pathList   = "/user.v1.UserService/ListUsers"
	pathImport = "/user.v1.UserService/ImportUsers"
	pathChat   = "/user.v1.UserService/Chat"
)

// ---- The backend service ----------------------------------------------------

// service is a UserService whose answers say which backend served them
// (header x-backend) and which echo the request's x-echo metadata (header
// and trailer). GetUser's user_id selects a behaviour:
//
//	"notfound"  NOT_FOUND with a detail and a trailer
//	"block"     waits for its context to end, reports why on s.ended
//	"deadline"  answers with the milliseconds left before its deadline (age)
//	"unavail"   answers UNAVAILABLE itself
//	anything else  {name: backend id, user_id}
type service struct {
	userv1.UnimplementedUserServiceServer
	id      string
	calls   atomic.Int64
	started chan string // "block" calls announce themselves
	ended   chan error  // and their context's end
}

func newService(id string) *service {
	return &service{id: id, started: make(chan string, 16), ended: make(chan error, 16)}
}

func (s *service) greet(ctx context.Context) {
	s.calls.Add(1)
	md, _ := metadata.FromIncomingContext(ctx)
	h := metadata.Pairs("x-backend", s.id)
	t := metadata.Pairs("x-trailer", "t-"+s.id)
	for _, v := range md.Get("x-echo") {
		h.Append("x-echo", v)
		t.Append("x-echo-trailer", v)
	}
	if v := md.Get("user-agent"); len(v) > 0 {
		h.Append("x-seen-user-agent", v...)
	}
	_ = grpc.SetHeader(ctx, h)
	_ = grpc.SetTrailer(ctx, t)
}

func (s *service) GetUser(ctx context.Context, req *userv1.UserRequest) (*userv1.UserResponse, error) {
	s.greet(ctx)
	switch req.GetUserId() {
	case "notfound":
		st, _ := status.New(codes.NotFound, "no such user").WithDetails(wrapperspb.String("detail-" + s.id))
		return nil, st.Err()
	case "unavail":
		return nil, status.Error(codes.Unavailable, "backend says unavailable")
	case "block":
		s.started <- s.id
		<-ctx.Done()
		s.ended <- ctx.Err()
		return nil, status.FromContextError(ctx.Err()).Err()
	case "deadline":
		dl, ok := ctx.Deadline()
		if !ok {
			return &userv1.UserResponse{Name: s.id, Age: -1}, nil
		}
		return &userv1.UserResponse{Name: s.id, Age: int32(time.Until(dl).Milliseconds())}, nil
	}
	return &userv1.UserResponse{Name: s.id, UserId: req.GetUserId()}, nil
}

func (s *service) ListUsers(req *userv1.ListUsersRequest, st grpc.ServerStreamingServer[userv1.UserResponse]) error {
	s.greet(st.Context())
	for i := range req.GetLimit() {
		if err := st.Send(&userv1.UserResponse{Name: s.id, Age: i}); err != nil {
			return err
		}
	}
	return nil
}

func (s *service) ImportUsers(st grpc.ClientStreamingServer[userv1.ImportUserRequest, userv1.ImportUsersResponse]) error {
	s.greet(st.Context())
	n := int32(0)
	for {
		_, err := st.Recv()
		if err == io.EOF {
			return st.SendAndClose(&userv1.ImportUsersResponse{Imported: n})
		}
		if err != nil {
			return err
		}
		n++
	}
}

func (s *service) Chat(st grpc.BidiStreamingServer[userv1.ChatMessage, userv1.ChatMessage]) error {
	s.greet(st.Context())
	for {
		m, err := st.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := st.Send(&userv1.ChatMessage{From: s.id, Text: m.GetText()}); err != nil {
			return err
		}
	}
}

// ---- Backends ---------------------------------------------------------------

// backend is a UserService on a loopback address, over gRPC or MCP, that a
// test can stop and start again on the same address.
type backend struct {
	t     testing.TB
	proto string
	addr  string
	svc   *service

	mu       sync.Mutex
	grpcSrv  *grpc.Server
	health   *health.Server
	mcpSrv   *mcp.Server
	done     chan struct{}
	accepted atomic.Int64 // connections accepted, over all starts
	closed   atomic.Int64 // and closed
}

// startBackend serves a fresh service called id over proto ("grpc" or
// "mcp") on addr ("" for a free loopback port). It stops when the test
// ends.
func startBackend(t testing.TB, proto, id, addr string) *backend {
	t.Helper()
	b := &backend{t: t, proto: proto, svc: newService(id)}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	b.addr = addr
	b.start()
	t.Cleanup(b.stop)
	return b
}

// countingListener counts the connections accepted and closed.
type countingListener struct {
	net.Listener
	accepted, closed *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.accepted.Add(1)
	return &countingConn{Conn: c, closed: l.closed}, nil
}

type countingConn struct {
	net.Conn
	once   sync.Once
	closed *atomic.Int64
}

func (c *countingConn) Close() error {
	c.once.Do(func() { c.closed.Add(1) })
	return c.Conn.Close()
}

func (b *backend) start() {
	b.t.Helper()
	var l net.Listener
	var err error
	for range 50 { // the port of a stopped server may linger briefly
		if l, err = net.Listen("tcp", b.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		b.t.Fatalf("listen %s: %v", b.addr, err)
	}
	b.addr = l.Addr().String()
	lis := countingListener{l, &b.accepted, &b.closed}
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
		b.grpcSrv = srv
		go func() { defer close(done); _ = srv.Serve(lis) }()
	case "mcp":
		srv := mcp.NewServer()
		userv1.RegisterUserServiceServer(srv, b.svc)
		b.mcpSrv = srv
		go func() { defer close(done); _ = srv.Serve(lis) }()
	default:
		b.t.Fatalf("protocol %q", b.proto)
	}
}

// stop kills the server at once: connections close, calls in flight fail.
func (b *backend) stop() {
	b.mu.Lock()
	g, m, done := b.grpcSrv, b.mcpSrv, b.done
	b.grpcSrv, b.mcpSrv = nil, nil
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

func (b *backend) setServing(serving bool) {
	s := healthpb.HealthCheckResponse_SERVING
	if !serving {
		s = healthpb.HealthCheckResponse_NOT_SERVING
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.health.SetServingStatus("", s)
}

// ---- Configuration ------------------------------------------------------------

// upstreamConfig is a validated-looking config.Upstream over backends.
func upstreamConfig(name, proto, bal string, bs ...*backend) config.Upstream {
	cfg := config.Upstream{
		Name:     name,
		Protocol: proto,
		Balancer: bal,
		Passive:  config.Passive{ConsecutiveFailures: 2, EjectionTime: config.Duration(30 * time.Second)},
	}
	for _, b := range bs {
		cfg.Endpoints = append(cfg.Endpoints, config.Endpoint{Addr: b.addr, Weight: 1})
	}
	return cfg
}

// fastOptions are options every test uses: quick reconnects.
func fastOptions(extra ...upstream.Option) []upstream.Option {
	return append([]upstream.Option{upstream.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond)}, extra...)
}

func newUpstream(t testing.TB, cfg config.Upstream, opts ...upstream.Option) *upstream.Upstream {
	t.Helper()
	u, err := upstream.New(cfg, fastOptions(opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	return u
}

// ---- The front door: a gateway.Stream -------------------------------------------

// stream plays a front door's gateway.Stream: it feeds the messages sent on
// in (closing in is the client's half-close) and records what comes back.
// RecvMsg returns when the context ends, as a front door's does once the
// call is over.
type stream struct {
	ctx    context.Context
	cancel context.CancelFunc
	in     chan []byte

	mu         sync.Mutex
	header     metadata.MD
	headerSent int
	out        [][]byte
	gotMsg     chan struct{} // a message arrived (buffered 1)
	trailer    metadata.MD
	recvCalls  atomic.Int64
}

func newStream(ctx context.Context) *stream {
	ctx, cancel := context.WithCancel(ctx)
	return &stream{ctx: ctx, cancel: cancel, in: make(chan []byte, 64), gotMsg: make(chan struct{}, 1)}
}

func (s *stream) Context() context.Context { return s.ctx }

func (s *stream) RecvMsg() ([]byte, error) {
	s.recvCalls.Add(1)
	select {
	case b, ok := <-s.in:
		if !ok {
			return nil, io.EOF
		}
		return b, nil
	case <-s.ctx.Done():
		return nil, status.FromContextError(s.ctx.Err()).Err()
	}
}

func (s *stream) SendHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.headerSent++
	s.header = metadata.Join(s.header, md)
	return nil
}

func (s *stream) SendMsg(b []byte) error {
	s.mu.Lock()
	s.out = append(s.out, append([]byte(nil), b...))
	s.mu.Unlock()
	select {
	case s.gotMsg <- struct{}{}:
	default:
	}
	return nil
}

func (s *stream) SetTrailer(md metadata.MD) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trailer = metadata.Join(s.trailer, md)
}

func (s *stream) send(t testing.TB, m proto.Message) {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	s.in <- b
}

func (s *stream) messages() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.out...)
}

func (s *stream) headerValue(k string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.header.Get(k); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (s *stream) trailerValue(k string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.trailer.Get(k); len(v) > 0 {
		return v[0]
	}
	return ""
}

// halfClosed is a stream whose client has already sent everything: the
// MCP front door's unary and server-streaming calls.
type halfClosed struct{ *stream }

func (h halfClosed) HalfClosed() bool { return true }

var _ upstream.HalfCloser = halfClosed{}

// serve runs one call as a front door does: Serve, then the call's context
// ends.
func serve(h gateway.Handler, req *gateway.Request, s gateway.Stream, st *stream) error {
	err := h.Serve(req, s)
	st.cancel()
	return err
}

// unary makes a GetUser call through h with a half-closed stream (the MCP
// front door's shape) and returns the backend that answered.
func unary(ctx context.Context, t testing.TB, h gateway.Handler, id string, md metadata.MD) (string, *stream, error) {
	t.Helper()
	st := newStream(ctx)
	st.send(t, &userv1.UserRequest{UserId: id})
	close(st.in)
	err := serve(h, &gateway.Request{Protocol: gateway.ProtocolMCP, Method: "POST", Path: pathGet, Header: md}, halfClosed{st}, st)
	return st.headerValue("x-backend"), st, err
}

func guardCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	t.Cleanup(cancel)
	return ctx
}

// ---- Time -------------------------------------------------------------------

// clock is a settable clock for passive ejection.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1_700_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// tickers hands out manual tickers, one channel per period, so a test
// fires health rounds and DNS refreshes by hand.
type tickers struct {
	mu sync.Mutex
	ch map[time.Duration]chan time.Time
}

func newTickers() *tickers { return &tickers{ch: map[time.Duration]chan time.Time{}} }

func (tk *tickers) get(d time.Duration) chan time.Time {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	c := tk.ch[d]
	if c == nil {
		c = make(chan time.Time)
		tk.ch[d] = c
	}
	return c
}

func (tk *tickers) New(d time.Duration) upstream.Ticker { return manualTicker{tk.get(d)} }

// tick fires the ticker of period d once; it returns when the loop took it.
func (tk *tickers) tick(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case tk.get(d) <- time.Now():
	case <-time.After(hangGuard):
		t.Fatalf("nobody took the %s tick", d)
	}
}

type manualTicker struct{ c chan time.Time }

func (m manualTicker) C() <-chan time.Time { return m.c }
func (m manualTicker) Stop()               {}

// ---- Events -------------------------------------------------------------------

// events records observer events and lets a test wait for one.
type events struct {
	mu  sync.Mutex
	all []upstream.Event
	ch  chan upstream.Event
}

func newEvents() *events { return &events{ch: make(chan upstream.Event, 1024)} }

func (e *events) observe(ev upstream.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
	select {
	case e.ch <- ev:
	default:
	}
}

// wait returns the next event of kind for endpoint ("" = any), skipping
// others.
func (e *events) wait(t testing.TB, kind upstream.EventKind, endpoint string) upstream.Event {
	t.Helper()
	timeout := time.After(hangGuard)
	for {
		select {
		case ev := <-e.ch:
			if ev.Kind == kind && (endpoint == "" || ev.Endpoint == endpoint) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event for %q", kind, endpoint)
		}
	}
}

func (e *events) count(kind upstream.EventKind, endpoint string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Kind == kind && (endpoint == "" || ev.Endpoint == endpoint) {
			n++
		}
	}
	return n
}

// ---- Small helpers --------------------------------------------------------------

func endpointStatus(t testing.TB, u *upstream.Upstream, addr string) upstream.EndpointStatus {
	t.Helper()
	for _, e := range u.Status().Endpoints {
		if e.Addr == addr {
			return e
		}
	}
	t.Fatalf("no endpoint %s in %+v", addr, u.Status())
	return upstream.EndpointStatus{}
}

// freePortOn returns a port free on every one of hosts.
func freePortOn(t testing.TB, hosts ...string) string {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", hosts[0]+":0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(l.Addr().String())
		l.Close()
		ok := true
		for _, h := range hosts[1:] {
			l2, err := net.Listen("tcp", net.JoinHostPort(h, port))
			if err != nil {
				ok = false
				break
			}
			l2.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no common free port")
	return ""
}

func itoa(i int) string { return strconv.Itoa(i) }

func upstreamEndpoint(addr string, weight int) config.Endpoint {
	return config.Endpoint{Addr: addr, Weight: weight}
}

func mustUserRequest(id string) *userv1.UserRequest { return &userv1.UserRequest{UserId: id} }

// waitFor polls cond until it holds; for state another goroutine settles
// (a call's bookkeeping after its reply), never to let time pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

type chatMsg = userv1.ChatMessage

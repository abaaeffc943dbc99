package mcp_test

// Shared test fixtures: servers on loopback TCP and on an in-memory
// listener, a hand-written test service, and a raw MCP/1 peer that speaks
// frames directly (frame.Decoder on a plain net.Conn).

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mcpbridge/mcpbridge/examples/userservice/users"
	"github.com/mcpbridge/mcpbridge/frame"
	"github.com/mcpbridge/mcpbridge/mcp"
	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// hangGuard bounds every wait in a test that runs on real time. It is a
// guard against a hang, never an assertion: a healthy run takes
// milliseconds.
const hangGuard = 20 * time.Second

// guardCtx returns a context that ends after hangGuard, cancelled when the
// test ends.
func guardCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	t.Cleanup(cancel)
	return ctx
}

// countingListener counts the connections a server accepted, so a test can
// tell that a Conn kept its connection (or made a new one).
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// testServer is an mcp.Server serving on 127.0.0.1.
type testServer struct {
	*mcp.Server
	addr string
	lis  *countingListener
}

// startServer starts a Server with the services register adds, on a fresh
// loopback port (or on addr when given). It is closed when the test ends.
func startServerAt(t testing.TB, addr string, register func(*mcp.Server), opts ...mcp.ServerOption) *testServer {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	lis := &countingListener{Listener: l}
	srv := mcp.NewServer(opts...)
	if register != nil {
		register(srv)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != mcp.ErrServerClosed {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	})
	return &testServer{Server: srv, addr: l.Addr().String(), lis: lis}
}

func startServer(t testing.TB, register func(*mcp.Server), opts ...mcp.ServerOption) *testServer {
	t.Helper()
	return startServerAt(t, "", register, opts...)
}

// startUsers serves the example UserService (seeded with 1 = Alice, 30 and
// 2 = Bob, 25) on loopback TCP.
func startUsers(t testing.TB, opts ...mcp.ServerOption) (string, *mcp.Server) {
	t.Helper()
	ts := startServer(t, registerUsers, opts...)
	return ts.addr, ts.Server
}

func registerUsers(s *mcp.Server) { userv1.RegisterUserServiceServer(s, users.New()) }

// dial connects a Conn that is closed when the test ends.
func dial(t testing.TB, addr string, opts ...mcp.DialOption) *mcp.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	conn, err := mcp.Dial(ctx, addr, opts...)
	if err != nil {
		t.Fatalf("Dial(%s) = %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// ---- The test service ------------------------------------------------------

// testService is a service written by hand as a grpc.ServiceDesc, the way
// generated code registers one, with wrapperspb.StringValue messages. Each
// test gives it the handlers it needs.
const testService = "mcptest.Test"

func testPath(method string) string { return "/" + testService + "/" + method }

type unaryFunc func(ctx context.Context, in string) (string, error)

type streamMethod struct {
	name           string
	client, server bool
	fn             func(grpc.ServerStream) error
}

// testDesc builds the service: unary methods from unary, streams from streams.
func testDesc(unary map[string]unaryFunc, streams ...streamMethod) *grpc.ServiceDesc {
	desc := &grpc.ServiceDesc{ServiceName: testService, HandlerType: (*any)(nil), Metadata: "mcptest"}
	for name, fn := range unary {
		desc.Methods = append(desc.Methods, grpc.MethodDesc{
			MethodName: name,
			Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
				in := new(wrapperspb.StringValue)
				if err := dec(in); err != nil {
					return nil, err
				}
				call := func(ctx context.Context, req any) (any, error) {
					out, err := fn(ctx, req.(*wrapperspb.StringValue).GetValue())
					if err != nil {
						return nil, err
					}
					return wrapperspb.String(out), nil
				}
				if ic == nil {
					return call(ctx, in)
				}
				return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: testPath(name)}, call)
			},
		})
	}
	for _, sm := range streams {
		desc.Streams = append(desc.Streams, grpc.StreamDesc{
			StreamName:    sm.name,
			ClientStreams: sm.client,
			ServerStreams: sm.server,
			Handler:       func(_ any, ss grpc.ServerStream) error { return sm.fn(ss) },
		})
	}
	return desc
}

// registerTest returns a register function for startServer.
func registerTest(unary map[string]unaryFunc, streams ...streamMethod) func(*mcp.Server) {
	desc := testDesc(unary, streams...)
	return func(s *mcp.Server) { s.RegisterService(desc, struct{}{}) }
}

// callString makes a unary call of the test service.
func callString(ctx context.Context, cc grpc.ClientConnInterface, method, in string, opts ...grpc.CallOption) (string, error) {
	out := new(wrapperspb.StringValue)
	err := cc.Invoke(ctx, testPath(method), wrapperspb.String(in), out, opts...)
	return out.GetValue(), err
}

// openStream opens a streaming call of the test service.
func openStream(ctx context.Context, cc grpc.ClientConnInterface, method string, client, server bool, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return cc.NewStream(ctx, &grpc.StreamDesc{StreamName: method, ClientStreams: client, ServerStreams: server}, testPath(method), opts...)
}

func recvString(s interface{ RecvMsg(any) error }) (string, error) {
	m := new(wrapperspb.StringValue)
	err := s.RecvMsg(m)
	return m.GetValue(), err
}

// echoFunc answers its input.
func echoFunc(_ context.Context, in string) (string, error) { return in, nil }

// ---- In-memory listener ----------------------------------------------------

// pipeListener is a net.Listener over net.Pipe: Dial hands one end to
// Accept. Everything it does is channel operations, so goroutines blocked
// on it are durably blocked, as testing/synctest needs.
type pipeListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// Dial is an mcp.WithContextDialer function.
func (l *pipeListener) Dial(ctx context.Context, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.ch <- server:
		return client, nil
	case <-ctx.Done():
	case <-l.done:
	}
	client.Close()
	server.Close()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, syscall.ECONNREFUSED
}

// servePipe serves srv on a pipeListener; stop closes it and waits for Serve.
func servePipe(t testing.TB, srv *mcp.Server) (lis *pipeListener, stop func()) {
	lis = newPipeListener()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	return lis, func() {
		srv.Close()
		if err := <-done; err != mcp.ErrServerClosed {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	}
}

// ---- A raw MCP/1 peer --------------------------------------------------------

// rawPeer speaks frames on a plain connection, to see exactly what a live
// server or client puts on the wire.
type rawPeer struct {
	t   testing.TB
	nc  net.Conn
	dec *frame.Decoder
}

func newRawPeer(t testing.TB, nc net.Conn) *rawPeer {
	t.Cleanup(func() { nc.Close() })
	return &rawPeer{t: t, nc: nc, dec: frame.NewDecoder(nc)}
}

func dialRaw(t testing.TB, addr string) *rawPeer {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, hangGuard)
	if err != nil {
		t.Fatal(err)
	}
	return newRawPeer(t, nc)
}

// writeRaw writes bytes as they are, in one write.
func (p *rawPeer) writeRaw(b []byte) {
	p.t.Helper()
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatalf("raw write: %v", err)
	}
}

func (p *rawPeer) send(h frame.Header, meta frame.Metadata, body []byte) {
	p.t.Helper()
	p.writeRaw(frame.AppendFrame(nil, h, meta, body))
}

// request sends a REQUEST for path with a message and END_STREAM.
func (p *rawPeer) request(id uint32, path string, msg proto.Message, extra ...string) {
	p.t.Helper()
	meta := frame.Metadata(nil).Append(frame.KeyPath, path)
	for i := 0; i+1 < len(extra); i += 2 {
		meta = meta.Append(extra[i], extra[i+1])
	}
	body, err := proto.Marshal(msg)
	if err != nil {
		p.t.Fatal(err)
	}
	p.send(frame.Header{Type: frame.TypeRequest, Flags: frame.FlagEndStream, SeqID: id}, meta, body)
}

// next reads the next frame (a copy that outlives the next read). A read
// that takes longer than the hang guard fails the test.
func (p *rawPeer) next() (frame.Frame, error) {
	_ = p.nc.SetReadDeadline(time.Now().Add(hangGuard))
	var f frame.Frame
	err := p.dec.Decode(&f)
	if err != nil {
		return f, err
	}
	f.Meta = f.Meta.Clone()
	f.Body = append([]byte(nil), f.Body...)
	return f, nil
}

func (p *rawPeer) mustNext() frame.Frame {
	p.t.Helper()
	f, err := p.next()
	if err != nil {
		p.t.Fatalf("raw read: %v", err)
	}
	return f
}

// skipPings returns the next frame that is not a PING or PONG.
func (p *rawPeer) nextNonPing() frame.Frame {
	p.t.Helper()
	for {
		f := p.mustNext()
		if f.Type != frame.TypePing && f.Type != frame.TypePong {
			return f
		}
	}
}

func metaString(m frame.Metadata, key string) string {
	v, _ := m.Get(key)
	return string(v)
}

// ---- Test vectors ------------------------------------------------------------

type invalidVector struct {
	Name  string `json:"name"`
	Hex   string `json:"hex"`
	Error string `json:"error"`
}

func loadInvalidVectors(t testing.TB) []invalidVector {
	t.Helper()
	data, err := os.ReadFile("../frame/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Invalid []invalidVector `json:"invalid"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Invalid) == 0 {
		t.Fatal("no invalid vectors")
	}
	return v.Invalid
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitFor polls cond until it holds. It synchronises with state the tests
// cannot otherwise observe (a Conn noticing GOAWAY); the hang guard is not an
// assertion.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func wrapperspbMarshal(s string) ([]byte, error) { return proto.Marshal(wrapperspb.String(s)) }

// recv receives from ch, failing the test after the hang guard.
func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hangGuard):
		t.Fatalf("timed out waiting on a %T", ch)
		panic("unreachable")
	}
}

package mcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"crypto/tls"
	"reflect"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("mcp: server closed")

// Server serves MCP connections. It implements grpc.ServiceRegistrar:
// register services before calling Serve. Its methods are safe for
// concurrent use.
type Server struct {
	opts    serverOptions
	methods map[string]*methodInfo // path → method; written only before Serve
	unary   grpc.UnaryServerInterceptor
	stream  grpc.StreamServerInterceptor

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*serverConn]struct{}
	serving   bool
	shutdown  bool
	connsDone chan struct{} // closed when conns empties during shutdown

	droppedNotifies atomic.Uint64
	reapedWorkers   atomic.Uint64 // idle connections' workers ended (reapIdle)
}

var _ grpc.ServiceRegistrar = (*Server)(nil)

// methodInfo is one registered method.
type methodInfo struct {
	path   string
	srv    any
	unary  *grpc.MethodDesc
	stream *grpc.StreamDesc
}

// NewServer returns a Server with the given options.
func NewServer(opts ...ServerOption) *Server {
	s := &Server{
		methods:   make(map[string]*methodInfo),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*serverConn]struct{}),
	}
	s.opts.conn = defaultConnOptions()
	for _, o := range opts {
		o.applyServer(&s.opts)
	}
	s.unary = chainUnaryServer(s.opts.unaryInts)
	s.stream = chainStreamServer(s.opts.streamInts)
	return s
}

// RegisterService registers a service and its implementation, as
// grpc.Server.RegisterService does. It must be called before Serve; a
// duplicate service name, or an impl that does not implement desc's
// HandlerType, is a programming error and panics, as it does in grpc-go.
func (s *Server) RegisterService(desc *grpc.ServiceDesc, impl any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serving {
		panic("mcp: RegisterService after Serve")
	}
	if impl != nil && desc.HandlerType != nil {
		ht := reflect.TypeOf(desc.HandlerType).Elem()
		if !reflect.TypeOf(impl).Implements(ht) {
			panic(fmt.Sprintf("mcp: RegisterService found the handler of type %T that does not satisfy %v", impl, ht))
		}
	}
	for i := range desc.Methods {
		m := &desc.Methods[i]
		s.register("/"+desc.ServiceName+"/"+m.MethodName, &methodInfo{srv: impl, unary: m})
	}
	for i := range desc.Streams {
		st := &desc.Streams[i]
		s.register("/"+desc.ServiceName+"/"+st.StreamName, &methodInfo{srv: impl, stream: st})
	}
}

func (s *Server) register(path string, mi *methodInfo) {
	if _, dup := s.methods[path]; dup {
		panic("mcp: duplicate method " + path)
	}
	mi.path = path
	s.methods[path] = mi
}

// GetServiceInfo returns the registered services, as grpc.Server does (so
// the reflection service can list them).
func (s *Server) GetServiceInfo() map[string]grpc.ServiceInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]grpc.ServiceInfo)
	for _, mi := range s.methods {
		svc, name := splitPath(mi.path)
		info := out[svc]
		if mi.unary != nil {
			info.Methods = append(info.Methods, grpc.MethodInfo{Name: name})
		} else {
			info.Methods = append(info.Methods, grpc.MethodInfo{Name: name, IsClientStream: mi.stream.ClientStreams, IsServerStream: mi.stream.ServerStreams})
		}
		out[svc] = info
	}
	return out
}

func splitPath(p string) (service, method string) {
	if len(p) > 0 && p[0] == '/' {
		p = p[1:]
	}
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i], p[i+1:]
		}
	}
	return "", p
}

// Serve accepts connections on lis and serves each on its own goroutines
// until Shutdown or Close, then returns ErrServerClosed. Any other accept
// error (but a temporary one, retried with backoff) is returned.
func (s *Server) Serve(lis net.Listener) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		_ = lis.Close()
		return ErrServerClosed
	}
	s.serving = true
	s.listeners[lis] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, lis)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		nc, err := lis.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.shutdown
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() { // temporary
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		go s.serveConn(nc)
	}
}

// ServeConn serves one already-accepted connection until it closes.
func (s *Server) serveConn(nc net.Conn) {
	if cfg := s.opts.conn.tls; cfg != nil {
		tc := tls.Server(nc, cfg)
		_ = tc.SetDeadline(time.Now().Add(s.opts.conn.handshakeWait))
		if err := tc.Handshake(); err != nil {
			_ = nc.Close()
			return
		}
		_ = tc.SetDeadline(time.Time{})
		nc = tc
	}
	sc := newServerConn(s, nc)
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		_ = nc.Close()
		return
	}
	s.conns[sc] = struct{}{}
	sc.t.start() // under s.mu: Close must not close the transport while start sets it up
	s.mu.Unlock()
}

func (s *Server) removeConn(sc *serverConn) {
	s.mu.Lock()
	delete(s.conns, sc)
	if s.shutdown && len(s.conns) == 0 && s.connsDone != nil {
		close(s.connsDone)
		s.connsDone = nil
	}
	s.mu.Unlock()
}

// Shutdown stops the server gracefully: it closes the listeners, sends every
// connection GOAWAY (status OK, with the highest call id it accepted), lets
// the calls in flight finish, and closes each connection when its last call
// has ended. If ctx ends first, the remaining connections are closed at once
// (their calls end with UNAVAILABLE) and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	for l := range s.listeners {
		_ = l.Close()
	}
	done := make(chan struct{})
	if len(s.conns) == 0 {
		close(done)
	} else {
		s.connsDone = done
	}
	conns := make([]*serverConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.drain()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close closes the listeners and every connection at once; calls in flight
// end with UNAVAILABLE.
func (s *Server) Close() error {
	s.mu.Lock()
	s.shutdown = true
	for l := range s.listeners {
		_ = l.Close()
	}
	conns := make([]*serverConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.t.close(errConnClosed)
	}
	return nil
}

// DroppedNotifies is the number of NOTIFY frames the server dropped without
// running their handler because their connection was at its concurrency
// bound (WithMaxConcurrentCalls). A NOTIFY is never answered, so this count
// is the only trace of them.
func (s *Server) DroppedNotifies() uint64 { return s.droppedNotifies.Load() }

// peerOf returns the peer of a connection, for handlers' contexts.
func peerOf(nc net.Conn) *peer.Peer {
	return &peer.Peer{Addr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr()}
}

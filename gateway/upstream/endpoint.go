package upstream

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpbridge/mcpbridge/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

// endpoint is one backend address of an upstream and its connection.
//
// Lifetime: refs counts the calls holding the endpoint, plus one while it
// is a member of its upstream. A call takes a reference (acquire) before
// using the connection and drops it when done; retire drops the member's.
// Whoever drops the last one closes the connection, so a removed endpoint
// keeps its connection until its last call ends.
type endpoint struct {
	u      *Upstream
	addr   string
	weight int

	refs    atomic.Int64
	retired atomic.Bool

	// Passive ejection and counters.
	fails        atomic.Int64 // consecutive transport failures
	calls        atomic.Uint64
	failures     atomic.Uint64
	ejectedUntil atomic.Int64 // UnixNano; 0 when not ejected
	lastErr      atomic.Pointer[string]

	// Active health: the verdict is read by pickers, the counters are the
	// checker goroutine's own.
	unhealthy atomic.Bool
	checked   atomic.Bool // at least one check ran
	checkPass int
	checkFail int

	// ctx ends when the endpoint is retired: it stops the MCP dial loop.
	ctx    context.Context
	cancel context.CancelFunc

	// gRPC: the connection, set at creation.
	cc *grpc.ClientConn

	// MCP: the connection, nil until the first dial succeeds.
	mc      atomic.Pointer[mcp.Conn]
	dialed  chan struct{} // closed when the first dial attempt ended
	mu      sync.Mutex    // guards what follows
	dialErr error         // why the last dial failed, while mc is nil
	closed  bool          // the connection was closed (last reference dropped)
}

func newEndpoint(u *Upstream, addr string, weight int) (*endpoint, error) {
	e := &endpoint{u: u, addr: addr, weight: weight}
	e.refs.Store(1)
	e.ctx, e.cancel = context.WithCancel(context.Background())
	o := &u.opts
	if u.grpc {
		dopts := []grpc.DialOption{
			grpc.WithTransportCredentials(e.u.grpcCreds()),
			grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           backoff.Config{BaseDelay: o.backBase, Multiplier: 1.6, Jitter: 0.2, MaxDelay: o.backMax},
				MinConnectTimeout: 20 * time.Second,
			}),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(o.maxMsg), grpc.MaxCallSendMsgSize(o.maxMsg)),
			grpc.WithIdleTimeout(0), // stay connected: idleness would add a connect to the next call
		}
		cc, err := grpc.NewClient("passthrough:///"+addr, append(dopts, o.grpcOpts...)...)
		if err != nil {
			e.cancel()
			return nil, status.Errorf(codes.InvalidArgument, "upstream %s: endpoint %s: %v", u.name, addr, err)
		}
		cc.Connect()
		e.cc = cc
	} else {
		e.dialed = make(chan struct{})
		u.wg.Add(1)
		go e.dialLoop()
	}
	return e, nil
}

// Weight implements balancer.Endpoint.
func (e *endpoint) Weight() int { return e.weight }

// InFlight implements balancer.Endpoint: the calls holding the endpoint.
func (e *endpoint) InFlight() int64 {
	n := e.refs.Load()
	if !e.retired.Load() {
		n--
	}
	return max(n, 0)
}

// acquire takes a reference for a call; false when the endpoint is gone.
func (e *endpoint) acquire() bool {
	for {
		r := e.refs.Load()
		if r <= 0 {
			return false
		}
		if e.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

// release drops a reference; the last one closes the connection.
func (e *endpoint) release() {
	if e.refs.Add(-1) == 0 {
		e.closeConn()
	}
}

// retire ends the endpoint's membership: no new calls, the dial loop stops,
// and the connection closes when the last call ends.
func (e *endpoint) retire() {
	if e.retired.Swap(true) {
		return
	}
	e.cancel()
	e.release()
}

func (e *endpoint) closeConn() {
	if e.cc != nil {
		_ = e.cc.Close()
		return
	}
	e.mu.Lock()
	e.closed = true
	mc := e.mc.Load()
	e.mu.Unlock()
	if mc != nil {
		_ = mc.Close()
	}
}

// StreamQueueWait bounds how long one slow call can stall a gateway MCP
// connection's reader: an upstream connection's (see dialLoop), and, set by
// mcpfront, the front door's, whose async calls' replies are queued from
// the upstream connections' readers (mcp.WithStreamQueueWait).
const StreamQueueWait = 100 * time.Millisecond

// dialLoop dials an MCP endpoint until the first success (the mcp.Conn
// redials by itself from then on) or until the endpoint is retired.
func (e *endpoint) dialLoop() {
	defer e.u.wg.Done()
	o := &e.u.opts
	dopts := []mcp.DialOption{
		mcp.WithBackoff(mcp.Backoff{Base: o.backBase, Max: o.backMax}),
		mcp.WithMaxMessageSize(o.maxMsg),
		// The connection is shared by many clients' calls: a client that
		// stops reading its stream may hold the others up at most this
		// long (mcp.WithStreamQueueWait), then its call ends with
		// RESOURCE_EXHAUSTED.
		mcp.WithStreamQueueWait(StreamQueueWait),
	}
	if e.u.tls != nil {
		dopts = append(dopts, mcp.WithTLS(e.u.tls))
	}
	dopts = append(dopts, o.mcpOpts...)
	wait := o.backBase
	for attempt := 0; ; attempt++ {
		mc, err := mcp.Dial(e.ctx, e.addr, dopts...)
		e.mu.Lock()
		if err == nil {
			if e.closed {
				e.mu.Unlock()
				_ = mc.Close()
			} else {
				e.mc.Store(mc)
				e.dialErr = nil
				e.mu.Unlock()
			}
		} else {
			e.dialErr = err
			e.mu.Unlock()
		}
		if attempt == 0 {
			close(e.dialed)
		}
		if err == nil || e.ctx.Err() != nil {
			return
		}
		d := time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64()))
		wait = min(time.Duration(float64(wait)*1.6), o.backMax)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-e.ctx.Done():
			t.Stop()
			return
		}
	}
}

// mcpConn returns the endpoint's MCP connection, waiting (bounded by ctx)
// for the first dial attempt; an UNAVAILABLE error when there is none.
func (e *endpoint) mcpConn(ctx context.Context) (*mcp.Conn, error) {
	if mc := e.mc.Load(); mc != nil {
		return mc, nil
	}
	select {
	case <-e.dialed:
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if mc := e.mc.Load(); mc != nil {
		return mc, nil
	}
	e.mu.Lock()
	err := e.dialErr
	e.mu.Unlock()
	msg := "not connected"
	if err != nil {
		msg += ": " + status.Convert(err).Message()
	}
	return nil, status.Errorf(codes.Unavailable, "upstream %s: endpoint %s: %s", e.u.name, e.addr, msg)
}

// connState describes the connection for the admin view.
func (e *endpoint) connState() string {
	if e.cc != nil {
		return e.cc.GetState().String()
	}
	if mc := e.mc.Load(); mc != nil {
		if mc.Ready() {
			return connectivity.Ready.String()
		}
		return connectivity.Connecting.String()
	}
	select {
	case <-e.dialed:
		return connectivity.TransientFailure.String()
	default:
		return connectivity.Connecting.String()
	}
}

// ejected reports whether the endpoint is ejected at now (UnixNano).
func (e *endpoint) ejectedAt(now int64) bool {
	until := e.ejectedUntil.Load()
	return until != 0 && now < until
}

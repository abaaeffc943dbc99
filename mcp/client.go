package mcp

import (
	"context"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrConnClosing is returned by calls on a Conn after Close.
var ErrConnClosing = status.Error(codes.Canceled, "mcp: the client connection is closing")

// Conn is a client connection to one MCP server. It implements
// grpc.ClientConnInterface, so generated clients work over it. It keeps one
// connection open, redials it with backoff when it is lost, and moves new
// calls to a fresh connection when the server says GOAWAY. Safe for
// concurrent use.
type Conn struct {
	target string
	opts   dialOptions
	unary  grpc.UnaryClientInterceptor
	stream grpc.StreamClientInterceptor

	mu      sync.Mutex
	cur     *clientConn   // ready connection, nil while (re)connecting
	failing bool          // the last attempt failed; fail-fast calls fail at once
	lastErr error         // why the last attempt failed
	changed chan struct{} // closed when cur, failing or closed change
	closed  bool
	conns   map[*clientConn]struct{} // all open connections, old ones draining
	dialing bool
	stop    chan struct{} // closed by Close: stops redialing
	wg      sync.WaitGroup
	subs    connSubs // resubscription (pubsub_client.go)
}

var _ grpc.ClientConnInterface = (*Conn)(nil)

// Dial connects to an MCP server at addr ("host:port") and returns when the
// connection is up, or with an UNAVAILABLE error when the first attempt
// fails (bounded by ctx and the dial timeout).
func Dial(ctx context.Context, addr string, opts ...DialOption) (*Conn, error) {
	c := &Conn{
		target:  addr,
		changed: make(chan struct{}),
		conns:   make(map[*clientConn]struct{}),
		stop:    make(chan struct{}),
	}
	c.opts.conn = defaultConnOptions()
	c.opts.dialTimeout = DefaultDialTimeout
	for _, o := range opts {
		o.applyDial(&c.opts)
	}
	c.opts.backoff = c.opts.backoff.withDefaults()
	c.unary = chainUnaryClient(c.opts.unaryInts)
	c.stream = chainStreamClient(c.opts.streamInts)
	cc, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.install(cc)
	c.mu.Unlock()
	return c, nil
}

// Target returns the address the Conn dials.
func (c *Conn) Target() string { return c.target }

// connect makes one connection attempt.
func (c *Conn) connect(ctx context.Context) (*clientConn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.dialTimeout)
	defer cancel()
	var nc net.Conn
	var err error
	if c.opts.dialer != nil {
		nc, err = c.opts.dialer(ctx, c.target)
	} else {
		var d net.Dialer
		nc, err = d.DialContext(ctx, "tcp", c.target)
	}
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "mcp: dial %s: %v", c.target, err)
	}
	if cfg := c.opts.conn.tls; cfg != nil {
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
			cfg = cfg.Clone()
			host, _, _ := net.SplitHostPort(c.target)
			cfg.ServerName = host
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, status.Errorf(codes.Unavailable, "mcp: TLS handshake with %s: %v", c.target, err)
		}
		nc = tc
	}
	return newClientConn(c, nc), nil
}

// install makes cc the current connection. c.mu is held.
func (c *Conn) install(cc *clientConn) {
	if c.closed {
		// Never started: no calls, no goroutines, nothing to tell. Closing
		// the transport would call lost, which takes c.mu (held here).
		_ = cc.t.conn.Close()
		return
	}
	c.cur = cc
	c.conns[cc] = struct{}{}
	c.failing = false
	c.notifyLocked()
	cc.t.start()
}

func (c *Conn) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// lost is called when cc closed or went away: new calls need another
// connection, which a background loop dials with backoff.
func (c *Conn) lost(cc *clientConn, closed bool, why error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if closed {
		delete(c.conns, cc)
	}
	if c.cur != cc {
		return
	}
	c.cur = nil
	c.lastErr = why
	c.notifyLocked()
	if c.closed || c.dialing {
		return
	}
	c.dialing = true
	c.wg.Add(1)
	go c.redial(!closed)
}

// redial dials until it succeeds or the Conn closes. After a GOAWAY the
// first attempt is immediate; after a lost connection it waits first.
func (c *Conn) redial(immediate bool) {
	defer c.wg.Done()
	b := c.opts.backoff
	for attempt := 0; ; attempt++ {
		if attempt > 0 || !immediate {
			d := float64(b.Base)
			for i := 1; i < attempt; i++ {
				d *= b.Multiplier
			}
			d = min(d, float64(b.Max))
			d *= 1 + b.Jitter*(2*rand.Float64()-1)
			if attempt == 0 {
				// First retry after losing a live connection: short, spread
				// over [0, Base/4) (Base/8 exactly without jitter).
				if b.Jitter > 0 {
					d = float64(b.Base) * rand.Float64() / 4
				} else {
					d = float64(b.Base) / 8
				}
			}
			timer := time.NewTimer(time.Duration(d))
			select {
			case <-timer.C:
			case <-c.stop:
				timer.Stop()
				c.endDial()
				return
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-c.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		cc, err := c.connect(ctx)
		cancel()
		c.mu.Lock()
		if err == nil {
			c.dialing = false
			c.install(cc)
			c.mu.Unlock()
			return
		}
		c.failing = true
		c.lastErr = err
		c.notifyLocked()
		closed := c.closed
		c.mu.Unlock()
		if closed {
			c.endDial()
			return
		}
	}
}

func (c *Conn) endDial() {
	c.mu.Lock()
	c.dialing = false
	c.mu.Unlock()
}

// ready returns the current connection, waiting while one is being dialed.
// A fail-fast call (the default, as in gRPC) fails with UNAVAILABLE while
// the Conn is between failed attempts; grpc.WaitForReady(true) waits.
func (c *Conn) ready(ctx context.Context, failFast bool) (*clientConn, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrConnClosing
		}
		if cc := c.cur; cc != nil {
			c.mu.Unlock()
			return cc, nil
		}
		if failFast && c.failing {
			err := c.lastErr
			c.mu.Unlock()
			return nil, err
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctxStatus(ctx)
		}
	}
}

// Close closes the Conn and its connections; calls in flight end with
// CANCELED.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.stop)
	c.notifyLocked()
	conns := make([]*clientConn, 0, len(c.conns))
	for cc := range c.conns {
		conns = append(conns, cc)
	}
	c.mu.Unlock()
	for _, cc := range conns {
		cc.t.close(ErrConnClosing)
	}
	c.wg.Wait()
	return nil
}

// Ready reports whether the Conn has a live connection for new calls.
func (c *Conn) Ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur != nil
}

// errRetry means the call was not sent and may go on another connection.
var errRetry = errors.New("mcp: retry on another connection")

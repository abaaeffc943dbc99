package upstream

import (
	"context"
	"errors"
	"io"
	"sync/atomic"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// backendStream is the backend side of one call: *mcp.RawClientStream, or
// a gRPC stream through grpcStream.
type backendStream interface {
	SendMsg([]byte) error
	// SendLast sends the last message and half-closes.
	SendLast([]byte) error
	CloseSend() error
	Header() (metadata.MD, error)
	RecvMsg() ([]byte, error)
	Trailer() metadata.MD
	// Cancel abandons the call; the backend is told.
	Cancel()
}

var _ backendStream = (*mcp.RawClientStream)(nil)

// grpcStream adapts a grpc.ClientStream using the pass-through codec. Its
// fields hold the message in transit, so a message costs no extra
// allocation; SendMsg and RecvMsg may run concurrently (one each).
type grpcStream struct {
	cs     grpc.ClientStream
	cancel context.CancelFunc // the stream's context
	out    []byte
	in     []byte
}

func (g *grpcStream) SendMsg(b []byte) error {
	g.out = b
	err := g.cs.SendMsg(&g.out)
	g.out = nil
	return err
}

func (g *grpcStream) RecvMsg() ([]byte, error) {
	g.in = nil
	if err := g.cs.RecvMsg(&g.in); err != nil {
		return nil, err
	}
	b := g.in
	g.in = nil
	return b, nil
}

// SendLast is SendMsg then CloseSend: grpc-go has no single call for both.
func (g *grpcStream) SendLast(b []byte) error {
	if err := g.SendMsg(b); err != nil {
		return err
	}
	return g.cs.CloseSend()
}

func (g *grpcStream) CloseSend() error             { return g.cs.CloseSend() }
func (g *grpcStream) Header() (metadata.MD, error) { return g.cs.Header() }
func (g *grpcStream) Trailer() metadata.MD         { return g.cs.Trailer() }
func (g *grpcStream) Cancel()                      { g.cancel() }

// Serve forwards one call, of any shape, to a healthy endpoint and returns
// nil or the call's gRPC status error (see the package doc).
func (u *Upstream) Serve(req *gateway.Request, s gateway.Stream) error {
	err := u.serve(req, s)
	if ce, ok := err.(closedError); ok {
		return ce.error
	}
	return err
}

// call is one call being forwarded.
type call struct {
	u   *Upstream
	req *gateway.Request
	s   gateway.Stream
	ctx context.Context

	// The client's messages read ahead (HalfClosed streams): complete
	// means they are all the client sends.
	msgs     [2][]byte
	n        int
	complete bool

	ended bool // the backend call of the attempt reached its end
}

// serve is Serve; it returns a closedError, before touching s, when the
// upstream is closed.
func (u *Upstream) serve(req *gateway.Request, s gateway.Stream) error {
	if af, ok := s.(AsyncFront); ok {
		return u.serveAsync(req, af.Async())
	}
	ctx := s.Context()
	e, err := u.pick(ctx, nil)
	if err != nil {
		return err
	}
	c := call{u: u, req: req, s: s, ctx: ctx}
	if hc, ok := s.(HalfCloser); ok && hc.HalfClosed() {
		if err := c.readAhead(); err != nil {
			e.release()
			return err
		}
	}
	if n, ok := s.(Notifier); ok && n.IsNotify() && !u.grpc && c.complete && c.n == 1 {
		// An MCP NOTIFY stays a NOTIFY to an MCP backend: sent, never
		// answered. (To a gRPC backend it is a unary call whose reply the
		// front door drops.)
		err := c.notify(e)
		e.release()
		return err
	}
	for attempt := 0; ; attempt++ {
		e.calls.Add(1)
		err, o, retry := c.attempt(e)
		e.release()
		u.record(e, o, err)
		if !retry || attempt > 0 {
			return err
		}
		next, perr := u.pick(ctx, e)
		if perr != nil {
			return err // no other endpoint: the first failure says why
		}
		e = next
	}
}

// Notifier is a front door stream that may be a fire-and-forget NOTIFY
// (mcp.RawStream).
type Notifier interface {
	IsNotify() bool
}

// notify sends the client's NOTIFY on to e. Only the send can fail.
func (c *call) notify(e *endpoint) error {
	e.calls.Add(1)
	mc, err := e.mcpConn(c.ctx)
	if err == nil {
		err = mc.NotifyRaw(c.ctx, mcp.RawRequest{
			Path:        c.req.Path,
			Metadata:    outgoingMD(c.req.Header, false),
			DstAddr:     c.req.DstAddr,
			ContentType: mcpContentType(c.req.ContentType),
		}, c.msgs[0])
	}
	o := answered
	if err != nil {
		o = failed
		if c.ctx.Err() != nil {
			o = neutral
		}
	}
	c.u.record(e, o, err)
	return err
}

// readAhead reads what a half-closed client sent: one message and io.EOF
// by the HalfCloser contract. Should a second message come, the rest is
// pumped like any streaming call's.
func (c *call) readAhead() error {
	for c.n < len(c.msgs) {
		b, err := c.s.RecvMsg()
		if err == io.EOF {
			c.complete = true
			return nil
		}
		if err != nil {
			return frontError(err)
		}
		c.msgs[c.n] = b
		c.n++
	}
	return nil
}

// attempt runs the call on e. retry reports that the backend never saw it
// and the request can be sent again (package doc).
func (c *call) attempt(e *endpoint) (err error, o outcome, retry bool) {
	bs, err := c.open(e)
	if err != nil {
		switch {
		case c.ctx.Err() != nil:
			return status.FromContextError(c.ctx.Err()).Err(), neutral, false
		case errors.Is(err, mcp.ErrConnClosing):
			return status.Errorf(codes.Unavailable, "upstream %s: endpoint %s: connection closed", c.u.name, e.addr), failed, true
		case status.Code(err) == codes.Unavailable:
			return err, failed, true
		}
		return err, neutral, false // a local refusal (limits, bad metadata)
	}
	c.ended = false
	err, o, retry = c.forward(bs)
	if !c.ended || c.u.grpc {
		// Abandoned before its end (the gRPC stream's context is always
		// released).
		bs.Cancel()
	}
	return err, o, retry
}

// forward sends the request side and relays the response side of an
// opened backend call.
func (c *call) forward(bs backendStream) (err error, o outcome, retry bool) {
	if c.complete {
		// The last message carries the half-close: to an MCP backend, one
		// frame, and a call its server need not queue input for.
		for i, m := range c.msgs[:c.n] {
			send := bs.SendMsg
			if i == c.n-1 {
				send = bs.SendLast
			}
			if err := send(m); err != nil {
				if err == io.EOF {
					break // the call ended: RecvMsg tells how
				}
				return err, neutral, false // a local refusal (size)
			}
		}
		if c.n == 0 {
			_ = bs.CloseSend()
		}
		return c.relay(bs, !c.u.grpc)
	}
	pumpErr := new(atomic.Pointer[error])
	var pre [][]byte
	if c.n > 0 { // a copy, so that c stays on the caller's stack
		pre = append(pre, c.msgs[:c.n]...)
	}
	go pump(c.s, bs, pre, pumpErr)
	err, o, retry = c.relay(bs, false)
	if err != nil {
		if p := pumpErr.Load(); p != nil {
			return *p, neutral, false
		}
	}
	return err, o, retry
}

// open starts the call on e's connection.
func (c *call) open(e *endpoint) (backendStream, error) {
	req := c.req
	if c.u.grpc {
		ctx, cancel := context.WithCancel(c.ctx)
		if md := outgoingMD(req.Header, true); len(md) > 0 {
			ctx = metadata.NewOutgoingContext(ctx, md)
		}
		cs, err := e.cc.NewStream(ctx, &c.u.desc, req.Path, c.u.callOpts...)
		if err != nil {
			cancel()
			return nil, err
		}
		return &grpcStream{cs: cs, cancel: cancel}, nil
	}
	mc, err := e.mcpConn(c.ctx)
	if err != nil {
		return nil, err
	}
	// LazyContext: relay always waits on the call (or cancels it), so the
	// per-call context watcher is not needed.
	rs, err := mc.NewRawStream(c.ctx, mcp.RawRequest{
		Path:        req.Path,
		Metadata:    outgoingMD(req.Header, false),
		DstAddr:     req.DstAddr,
		ContentType: mcpContentType(req.ContentType),
	}, mcp.LazyContext{})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

// relay copies the backend's header, messages and trailer to the client.
// The header is sent when it carries metadata after responseMD's trim
// (otherwise the front door sends its own with the first message or the
// status). refusable: a GOAWAY refusal before anything reached the client
// may be retried.
func (c *call) relay(bs backendStream, refusable bool) (err error, o outcome, retry bool) {
	sent := false
	// On error the call failed before a header: RecvMsg says how. grpc-go's
	// Header returns a copy, the gateway's to trim in place.
	if md, err := bs.Header(); err == nil && len(md) > 0 {
		if md = responseMD(md, c.u.grpc); len(md) > 0 {
			if err := c.s.SendHeader(md); err != nil {
				return frontError(err), neutral, false
			}
			sent = true
		}
	}
	for {
		b, err := bs.RecvMsg()
		if err == io.EOF {
			c.ended = true
			break
		}
		if err != nil {
			c.ended = true
			err, o, retry = c.backendError(err, refusable && !sent)
			if !retry {
				c.setTrailer(bs)
			}
			return err, o, retry
		}
		if !sent {
			// A reply the backend sent in its RESPONSE goes back the same
			// way when the front door can (one frame, not a STREAM frame
			// and a RESPONSE).
			if f, ok := bs.(finalReporter); ok && f.Final() {
				if u, ok := c.s.(unarySetter); ok {
					u.SetUnary()
				}
			}
		}
		if err := c.s.SendMsg(b); err != nil {
			return frontError(err), neutral, false
		}
		sent = true
	}
	c.setTrailer(bs)
	return nil, answered, false
}

func (c *call) setTrailer(bs backendStream) {
	if t := responseMD(bs.Trailer(), false); len(t) > 0 {
		c.s.SetTrailer(t)
	}
}

// backendError classifies the status a backend call ended with.
func (c *call) backendError(err error, refusable bool) (error, outcome, bool) {
	if _, ok := status.FromError(err); !ok {
		err = status.Convert(err).Err()
	}
	switch {
	case c.ctx.Err() != nil:
		return err, neutral, false // the client cancelled or its deadline passed
	case status.Code(err) != codes.Unavailable:
		return err, answered, false
	}
	return err, failed, refusable && refused(err)
}

// refused reports whether err is mcp's GOAWAY refusal of a call the server
// did not process.
func refused(err error) bool { return mcp.IsRefused(err) }

// pump copies the client's messages to the backend until the client
// half-closes (then CloseSend), the backend call ends, or the client's
// stream fails (then the backend call is cancelled and errp says why).
func pump(s gateway.Stream, bs backendStream, pre [][]byte, errp *atomic.Pointer[error]) {
	fail := func(err error) {
		errp.Store(&err)
		bs.Cancel()
	}
	for _, m := range pre {
		if err := bs.SendMsg(m); err != nil {
			if err != io.EOF {
				fail(err)
			}
			return
		}
	}
	for {
		m, err := s.RecvMsg()
		if err == io.EOF {
			_ = bs.CloseSend()
			return
		}
		if err != nil {
			fail(frontError(err))
			return
		}
		if err := bs.SendMsg(m); err != nil {
			if err != io.EOF {
				fail(err)
			}
			return
		}
	}
}

// finalReporter is a backend stream that tells whether a message came in
// the call's RESPONSE (mcp.RawClientStream).
type finalReporter interface{ Final() bool }

// unarySetter is a front door stream that can send its one reply in the
// RESPONSE (mcp.RawStream).
type unarySetter interface{ SetUnary() }

// frontError makes a front door's error a status error.
func frontError(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unknown, err.Error())
}

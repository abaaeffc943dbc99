package mcp

import (
	"context"
	"time"

	"github.com/mcpbridge/mcpbridge/frame"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// This file is the asynchronous call API, made for proxies such as the
// gateway: a complete call (its REQUEST carried its one message and
// END_STREAM) can be served, and a complete call made, without a goroutine
// waiting on either. The server hands such a call to an AsyncHandler on the
// connection's reader goroutine; the client's StartRaw sends one and hands
// its replies to an AsyncReply on its connection's reader goroutine. A proxy
// joining the two forwards a call with no goroutine switch of its own, and
// the frames a reader decodes in one read leave in one write.

// Canceler is what an async call's cancellation reaches (AsyncCall.OnCancel):
// *AsyncClientCall is one.
type Canceler interface{ Cancel() }

// AsyncHandler serves complete calls for unregistered methods without a
// goroutine (WithAsyncHandler). It runs on the connection's reader goroutine
// and must not block. It returns false to decline the call, having called
// none of its reply methods; the call is then served by the unknown-method
// handler (WithUnknownHandler) like any other. It returns true when it took
// the call: it, or code it started, must then call Finish exactly once,
// from any goroutine, now or later, even after the call was cancelled.
type AsyncHandler func(c *AsyncCall) bool

// WithAsyncHandler offers each call for an unregistered method that arrives
// complete (a REQUEST carrying one message and END_STREAM: unary and
// server-streaming calls) to h before the unknown-method handler. It has
// effect only with WithUnknownHandler, which serves what h declines.
func WithAsyncHandler(h AsyncHandler) ServerOption {
	return serverOption(func(s *serverOptions) { s.async = h })
}

// AsyncCall is a complete call served asynchronously (AsyncHandler). Its
// methods are safe for concurrent use. None of them waits while the
// client's connection has room in its write queue (WithWriteBufferLimit);
// when it has none, SendHeader and SendMsg wait for room at most the
// connection's WithStreamQueueWait, as a reader does for a full inbound
// queue, and then fail with RESOURCE_EXHAUSTED.
type AsyncCall struct{ c *serverCall }

// Path is the call's :path.
func (a *AsyncCall) Path() string { return a.c.path }

// DstAddr is the frame's dst_addr (0: route by metadata).
func (a *AsyncCall) DstAddr() uint16 { return a.c.dst }

// ContentType is the content-type metadata, "" when absent (protobuf).
func (a *AsyncCall) ContentType() string { return a.c.ctype }

// Metadata is the incoming application metadata (nil when there is none).
func (a *AsyncCall) Metadata() metadata.MD { return a.c.inMD }

// Body is the call's one message. It is the call's until Finish.
func (a *AsyncCall) Body() []byte { return a.c.first }

// Deadline is the call's deadline, from its timeout-ms. When it passes the
// call ends with DEADLINE_EXCEEDED and its Canceler is cancelled.
func (a *AsyncCall) Deadline() (time.Time, bool) {
	return a.c.deadline, !a.c.deadline.IsZero()
}

// Context is the connection's context: it carries the peer and ends with
// the connection, not with the call (see OnCancel).
func (a *AsyncCall) Context() context.Context { return a.c.sc.ctx }

// RecvMsg returns the call's one message, then io.EOF: an AsyncCall reads
// like any half-closed stream.
func (a *AsyncCall) RecvMsg() ([]byte, error) {
	b, err := a.c.recv()
	if err == nil {
		b = append([]byte(nil), b...) // Body stays the call's
	}
	return b, err
}

// SetTag sets the tag the server's call observer reports for this call
// (WithCallObserver).
func (a *AsyncCall) SetTag(tag string) { a.c.setTag(tag) }

// OnCancel sets what the call's cancellation cancels: the client's CANCEL,
// the deadline or the connection's end. When the call was cancelled already,
// x is cancelled at once. Finish must still be called.
func (a *AsyncCall) OnCancel(x Canceler) {
	c := a.c
	c.mu.Lock()
	if c.interrupted {
		c.mu.Unlock()
		x.Cancel()
		return
	}
	c.hook = x
	c.mu.Unlock()
}

// SendHeader sends header metadata ahead of the replies.
func (a *AsyncCall) SendHeader(md metadata.MD) error { return a.c.SendHeader(md) }

// SendMsg sends one reply as a STREAM frame. The call does not keep b.
func (a *AsyncCall) SendMsg(b []byte) error {
	_, err := a.c.sendBytes(b, nil)
	return err
}

// SetTrailer adds trailer metadata, sent with the RESPONSE.
func (a *AsyncCall) SetTrailer(md metadata.MD) { _ = a.c.SetTrailer(md) }

// Finish ends the call with the RESPONSE: reply travels in it when hasReply
// (the call does not keep it), err is the call's status (nil: OK). Only the
// first Finish counts; a call that has ended (cancelled, deadline) sends
// nothing more.
func (a *AsyncCall) Finish(reply []byte, hasReply bool, err error) {
	c := a.c
	if !c.asyncDone.CompareAndSwap(false, true) {
		return
	}
	c.mu.Lock()
	c.hook = nil
	if hasReply && (err == nil || status.Code(err) == codes.OK) {
		c.reply, c.replyBuf, c.hasReply = reply, nil, true
	}
	c.mu.Unlock()
	c.end(toStatus(err), true)
}

// sendAsync queues an async call's frame. It does not wait while the
// connection's write queue has room (under WithWriteBufferLimit); when it
// has none, it waits for room at most the connection's stream queue wait
// (WithStreamQueueWait), like a reader whose call's inbound queue is full,
// and then fails the call's send with RESOURCE_EXHAUSTED.
func (c *serverCall) sendAsync(h frame.Header, meta frame.Metadata, body []byte) error {
	t := c.sc.t
	err := t.tryEnqueue(h, meta, body)
	if err == errQueueFull && t.opts.streamWait > 0 {
		ctx, cancel := context.WithTimeout(c.sc.ctx, t.opts.streamWait)
		err = t.enqueue(ctx, h, meta, body, false)
		cancel()
		if err != nil && c.sc.ctx.Err() == nil && !t.isDone() {
			err = status.Errorf(codes.ResourceExhausted, "mcp: the client's connection has %d bytes queued and no room after %v: the client reads too slowly", t.opts.writeLimit, t.opts.streamWait)
		}
	}
	switch err {
	case nil, errQueueFull:
		return err
	}
	if _, ok := status.FromError(err); ok && status.Code(err) == codes.ResourceExhausted {
		return err
	}
	return status.Error(codes.Unavailable, "mcp: connection closed")
}

// asyncDeadline ends an async call whose timeout-ms passed.
func (c *serverCall) asyncDeadline() {
	c.finish(status.New(codes.DeadlineExceeded, "deadline exceeded (timeout-ms)"))
	c.interrupt()
}

// openAsync offers the call c (registered, with no context yet) to the
// async handler. When the handler declines, c gets its context and a
// worker, as any call.
func (sc *serverConn) openAsync(c *serverCall, timeoutMs int64) {
	c.as.c = c
	var timer *time.Timer
	if timeoutMs >= 0 {
		d := time.Duration(timeoutMs) * time.Millisecond
		c.deadline = time.Now().Add(d)
		// Armed once c is complete: the timer's function reads it.
		timer = time.AfterFunc(time.Hour, c.asyncDeadline)
		c.stopDL = timer.Stop
		timer.Reset(d)
	}
	if sc.srv.opts.async(&c.as) {
		return
	}
	if timer != nil && !timer.Stop() {
		// The deadline came while the handler decided: the call ends with
		// DEADLINE_EXCEEDED, whichever of this and the timer's finish runs
		// first sends it.
		c.as.Finish(nil, false, status.Error(codes.DeadlineExceeded, "deadline exceeded (timeout-ms)"))
		return
	}
	// Under sc.mu, as open builds a call: the deadline watcher initContext
	// starts may end the call at once, and end reads stopDL after taking
	// sc.mu (callDone). Under c.mu for interrupt, which reads cancel.
	sc.mu.Lock()
	c.mu.Lock()
	c.async = false
	c.stopDL = nil
	c.initContext(timeoutMs)
	interrupted := c.interrupted
	c.mu.Unlock()
	sc.mu.Unlock()
	if interrupted {
		c.cancel() // the connection closed while the handler decided
	}
	sc.dispatch(c)
}

// AsyncReply receives the replies of a call started with StartRaw. Its
// methods run on the connection's reader goroutine (End may also run on
// the goroutine that calls Cancel, or that closes the connection) and must
// not block. A slice they are given is valid only during the method.
type AsyncReply interface {
	// Header receives the server's header metadata, at most once, before
	// the first message. An error abandons the call, as Message's does.
	Header(md metadata.MD) error
	// Message receives one message sent as a STREAM frame. An error
	// abandons the call: the server is told, and End follows with err.
	Message(b []byte) error
	// End receives the call's end, once: reply is the message its RESPONSE
	// carried when hasReply, err its status (nil: OK) or why it failed (the
	// connection was lost, a GOAWAY refused it (IsRefused), a limit, or
	// Cancel), trailer its trailer metadata.
	End(reply []byte, hasReply bool, err error, trailer metadata.MD)
}

// AsyncClientCall is a call started with StartRaw.
type AsyncClientCall struct{ call *clientCall }

// Cancel abandons the call: the server is told with CANCEL, and End
// receives CANCELED unless the call had already ended.
func (a *AsyncClientCall) Cancel() {
	call := a.call
	if call.ended.Load() {
		return
	}
	if cc := call.cc; cc != nil {
		cc.cancel(call, true)
	}
	call.fail(status.Error(codes.Canceled, "mcp: call cancelled"))
}

// StartRaw sends a complete call, its one message and the half-close in one
// REQUEST frame, and returns without waiting: the replies go to r. It never
// waits either: when the connection is not ready, or its write queue is
// full, it returns an error at once and r is never called. A deadline (zero:
// none) is sent as timeout-ms, for the server to enforce; the caller
// enforces its own. grpc.CallOptions are not taken: this is the raw path of
// a proxy, whose metadata is all in req.
func (c *Conn) StartRaw(req RawRequest, body []byte, deadline time.Time, r AsyncReply) (*AsyncClientCall, error) {
	if len(body) > c.opts.conn.maxSendMsg {
		return nil, status.Errorf(codes.ResourceExhausted, "mcp: request of %d bytes exceeds the %d-byte limit", len(body), c.opts.conn.maxSendMsg)
	}
	cc, err := c.ready(doneCtx, true)
	if err != nil {
		if err != ErrConnClosing && status.Code(err) == codes.Canceled {
			// doneCtx ended the wait for a connection.
			return nil, status.Error(codes.Unavailable, "mcp: no connection ready")
		}
		return nil, err
	}
	mp := getScratch()
	meta := frame.Metadata((*mp)[:0]).Append(frame.KeyPath, req.Path)
	if !deadline.IsZero() {
		left := time.Until(deadline)
		if left <= 0 {
			putScratch(mp, meta)
			return nil, status.Error(codes.DeadlineExceeded, "context deadline exceeded")
		}
		meta = appendTimeout(meta, left)
	}
	if req.ContentType != "" {
		meta = meta.Append(frame.KeyContentType, req.ContentType)
	}
	meta = appendMD(meta, req.Metadata)
	defer func() { putScratch(mp, meta) }()
	if len(meta) > frame.MaxMetaLen {
		return nil, status.Errorf(codes.InvalidArgument, "mcp: request metadata of %d bytes exceeds %d", len(meta), frame.MaxMetaLen)
	}
	call := &clientCall{async: r, maxRecv: c.opts.conn.maxRecvMsg}
	call.ac.call = call
	if err := cc.add(call); err != nil {
		if err == errRetry {
			return nil, refusedErr("mcp: the connection takes no new calls")
		}
		return nil, err
	}
	err = cc.t.tryEnqueue(frame.Header{Type: frame.TypeRequest, Flags: frame.FlagEndStream, DstAddr: req.DstAddr, SeqID: call.id}, meta, body)
	if err != nil {
		if !cc.remove(call) {
			// The connection's end failed the call first: End has it.
			return &call.ac, nil
		}
		if err == errQueueFull {
			return nil, err
		}
		return nil, refusedErr("mcp: connection closed before the call was sent")
	}
	return &call.ac, nil
}

// doneCtx is an ended context: ready with it never waits.
var doneCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

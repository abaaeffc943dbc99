package mcp

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpbridge/mcpbridge/frame"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// serverCall is one call (or notify) being served.
type serverCall struct {
	sc      *serverConn
	id      uint32 // 0 for NOTIFY
	mi      *methodInfo
	path    string
	dst     uint16
	ctype   string
	notify  bool
	ctx     context.Context
	cancel  context.CancelFunc
	stopDL  func() bool // stops the deadline watcher
	inMD    metadata.MD
	ended   atomic.Bool // RESPONSE sent (or the call abandoned)
	deliver bool        // what the handler sends reaches the peer

	// inbound: the first message travels in first; later ones through in,
	// which the reader closes at END_STREAM. Only the reader sends on in.
	first    []byte
	hasFirst bool
	firstBuf [64]byte // holds a small first message: no allocation of its own
	in       inQueue  // !in.on: the REQUEST carried END_STREAM
	inClosed bool     // reader-owned

	mu         sync.Mutex // guards what follows
	header     metadata.MD
	headerSent bool
	trailer    metadata.MD
	reply      []byte  // held reply (client streaming, or a raw unary call)
	replyBuf   *[]byte // the scratch buffer reply is in, if any (putScratch after the RESPONSE)
	hasReply   bool
	unaryReply bool // the one reply goes in the RESPONSE

	raw RawStream

	// Async calls (async.go): served without a goroutine or a context of
	// their own. async and cancel change (a declined call is upgraded)
	// under mu, as do hook and interrupted.
	async       bool
	hook        Canceler // what the client's CANCEL, or the connection's end, cancels
	interrupted bool     // CANCEL, the deadline or the connection's end came
	asyncDone   atomic.Bool
	deadline    time.Time // from timeout-ms; zero: none
	as          AsyncCall

	// For WithCallObserver: when the call opened (nanoseconds since the
	// transport's epoch; set only with an observer), and the handler's tag
	// (under mu).
	start int64
	tag   string
}

func newServerCall(sc *serverConn, f *frame.Frame, id uint32, mi *methodInfo, timeoutMs int64) *serverCall {
	c := newServerCallBase(sc, f, id, mi)
	c.initContext(timeoutMs)
	return c
}

// newServerCallBase is newServerCall without the call's context, which an
// async call (async.go) builds only if its handler declines it.
func newServerCallBase(sc *serverConn, f *frame.Frame, id uint32, mi *methodInfo) *serverCall {
	c := &serverCall{sc: sc, id: id, mi: mi, dst: f.DstAddr, notify: f.Type == frame.TypeNotify}
	c.deliver = !c.notify
	if mi != nil {
		c.path = mi.path
		c.unaryReply = mi.unary != nil || !mi.stream.ServerStreams
	} else {
		p, _ := f.Meta.Get(frame.KeyPath)
		c.path = string(p)
		if ct, ok := f.Meta.Get(frame.KeyContentType); ok {
			c.ctype = string(ct)
		}
	}
	c.inMD = toMD(f.Meta)
	if !f.Flags.Has(frame.FlagNoMessage) {
		if n := len(f.Body); n > 0 && n <= len(c.firstBuf) {
			c.first = c.firstBuf[:n:n] // capped: an append by its user copies
			copy(c.first, f.Body)
		} else {
			c.first = append([]byte(nil), f.Body...)
		}
		c.hasFirst = true
	}
	// A NOTIFY is one message whatever its flags (seq_id 0: no STREAM frame
	// can follow it), so its input ends after the first message; otherwise a
	// handler reading to io.EOF would wait for ever.
	if !f.Flags.Has(frame.FlagEndStream) && !c.notify {
		c.in.init(sc.t.opts.streamQueue)
	}
	c.raw.c = c
	return c
}

// initContext builds the call's context: cancellable, with the deadline of
// timeout-ms (-1: none), the ServerTransportStream and the metadata.
func (c *serverCall) initContext(timeoutMs int64) {
	sc, id := c.sc, c.id
	ctx := sc.ctx
	if timeoutMs >= 0 {
		dctx, cancel := context.WithTimeout(ctx, time.Duration(timeoutMs)*time.Millisecond)
		ctx, c.cancel = dctx, cancel
		if id != 0 {
			// The watcher runs on its own goroutine, at once for timeout-ms
			// 0: it must not read c.ctx, which is set below. finish orders it
			// after open (which builds c holding sc.mu) before reading the
			// rest of c.
			c.stopDL = context.AfterFunc(dctx, func() {
				if dctx.Err() == context.DeadlineExceeded {
					c.deadlineHit()
				}
			})
		}
	} else {
		ctx, c.cancel = context.WithCancel(ctx)
	}
	ctx = grpc.NewContextWithServerTransportStream(ctx, c)
	if c.inMD != nil {
		ctx = metadata.NewIncomingContext(ctx, c.inMD)
	}
	c.ctx = ctx
}

func (c *serverCall) deadlineHit() {
	c.finish(status.New(codes.DeadlineExceeded, "deadline exceeded (timeout-ms)"))
}

// push queues a STREAM frame's message; called by the reader.
func (c *serverCall) push(f *frame.Frame) {
	if !c.in.on || c.inClosed {
		return // after END_STREAM: ignore
	}
	if !f.Flags.Has(frame.FlagNoMessage) {
		o := c.sc.t.opts
		switch c.in.put(append([]byte(nil), f.Body...), o.streamBytes, o.streamWait, c.ctx.Done(), c.sc.t.done) {
		case putFullBytes:
			c.finish(status.New(codes.ResourceExhausted, overflowMsg("the server", o.streamBytes, "bytes", o.streamWait)))
			return
		case putFullMessages:
			c.finish(status.New(codes.ResourceExhausted, overflowMsg("the server", int(c.in.max), "messages", o.streamWait)))
			return
		}
	}
	if f.Flags.Has(frame.FlagEndStream) {
		c.inClosed = true
		c.in.close()
	}
}

// recv returns the next inbound message, io.EOF after the client's
// half-close.
func (c *serverCall) recv() ([]byte, error) {
	if c.hasFirst {
		b := c.first
		c.first, c.hasFirst = nil, false
		return b, nil
	}
	if !c.in.on {
		return nil, io.EOF
	}
	for {
		b, ok, eof := c.in.take()
		if ok {
			return b, nil
		}
		if eof {
			return nil, io.EOF
		}
		select {
		case <-c.in.ready():
		case <-c.ctx.Done():
			return nil, ctxStatus(c.ctx)
		}
	}
}

// cancelByPeer handles CANCEL: the handler's context is cancelled and
// nothing more is sent.
func (c *serverCall) cancelByPeer() {
	if c.ended.CompareAndSwap(false, true) {
		c.observe(codes.Canceled)
		c.sc.callEnded(c)
		c.interrupt()
	}
}

// abandon ends the call because its connection closed.
func (c *serverCall) abandon() {
	if c.ended.CompareAndSwap(false, true) {
		c.observe(codes.Canceled)
	}
	c.interrupt()
}

// observe reports the call's end to the server's call observer, if any;
// called once, by whoever ends the call.
func (c *serverCall) observe(code codes.Code) {
	f := c.sc.srv.opts.observer
	if f == nil {
		return
	}
	c.mu.Lock()
	tag := c.tag
	c.mu.Unlock()
	f(CallInfo{
		Method:   c.path,
		Tag:      tag,
		Code:     code,
		Duration: time.Duration(c.sc.t.sinceEpoch() - c.start),
		Notify:   c.notify,
	})
}

// setTag sets the tag CallInfo reports.
func (c *serverCall) setTag(tag string) {
	c.mu.Lock()
	c.tag = tag
	c.mu.Unlock()
}

// cancelCtx cancels the call's context, if it has one.
func (c *serverCall) cancelCtx() {
	c.mu.Lock()
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// interrupt cancels the call's context, or an async call's hook: the
// client cancelled, the deadline passed or the connection closed.
func (c *serverCall) interrupt() {
	c.mu.Lock()
	cancel, hook := c.cancel, c.hook
	c.hook, c.interrupted = nil, true
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if hook != nil {
		hook.Cancel()
	}
}

func (c *serverCall) run() {
	var err error
	switch {
	case c.mi == nil:
		err = c.sc.srv.opts.unknown(&c.raw)
	case c.mi.unary != nil:
		err = c.runUnary()
	default:
		err = c.runStream()
	}
	c.end(toStatus(err), true)
}

func (c *serverCall) runUnary() error {
	srv := c.sc.srv
	resp, err := c.mi.unary.Handler(c.mi.srv, c.ctx, c.decode, srv.unary)
	if err != nil {
		return err
	}
	return c.sendMsg(resp)
}

func (c *serverCall) decode(m any) error {
	b, err := c.recv()
	if err == io.EOF {
		return status.Error(codes.Internal, "mcp: the request carried no message")
	}
	if err != nil {
		return err
	}
	return unmarshal(b, m)
}

func (c *serverCall) runStream() error {
	ss := &serverStream{c: c}
	if si := c.sc.srv.stream; si != nil {
		info := &grpc.StreamServerInfo{FullMethod: c.path, IsClientStream: c.mi.stream.ClientStreams, IsServerStream: c.mi.stream.ServerStreams}
		return si(c.mi.srv, ss, info, c.mi.stream.Handler)
	}
	return c.mi.stream.Handler(c.mi.srv, ss)
}

// sendMsg marshals m and sends it (or holds it for the RESPONSE).
func (c *serverCall) sendMsg(m any) error {
	bp := getScratch()
	b, err := marshalAppend((*bp)[:0], m)
	if err != nil {
		putScratch(bp, *bp)
		return status.Errorf(codes.Internal, "mcp: marshal reply: %v", err)
	}
	held, err := c.sendBytes(b, bp)
	if !held {
		putScratch(bp, b)
	}
	return err
}

// sendBytes sends one message. bp != nil: b is in the scratch buffer bp,
// which a held reply may keep without a copy (held: the call now owns bp,
// and finish gives it back); with bp nil a held reply is a copy.
func (c *serverCall) sendBytes(b []byte, bp *[]byte) (held bool, err error) {
	if len(b) > c.sc.t.opts.maxSendMsg {
		return false, status.Errorf(codes.ResourceExhausted, "mcp: reply of %d bytes exceeds the %d-byte limit", len(b), c.sc.t.opts.maxSendMsg)
	}
	if !c.deliver {
		return false, nil
	}
	if c.ended.Load() {
		// ended is set a moment before the context is cancelled: never
		// report a message as sent on a call that has ended.
		if c.ctx.Err() == nil {
			return false, status.Error(codes.Canceled, "mcp: the call has ended")
		}
		return false, ctxStatus(c.ctx)
	}
	c.mu.Lock()
	if c.unaryReply {
		if c.hasReply {
			c.mu.Unlock()
			return false, status.Error(codes.Internal, "mcp: a second reply on a call that takes one")
		}
		if bp == nil {
			b = append([]byte(nil), b...)
		}
		c.reply, c.replyBuf, c.hasReply = b, bp, true
		c.mu.Unlock()
		return bp != nil, nil
	}
	meta := c.takeHeaderLocked()
	c.mu.Unlock()
	if c.async {
		return false, c.sendAsync(frame.Header{Type: frame.TypeStream, SeqID: c.id}, meta, b)
	}
	err = c.sc.t.enqueue(c.ctx, frame.Header{Type: frame.TypeStream, SeqID: c.id}, meta, b, false)
	if err != nil {
		if c.ctx.Err() != nil {
			return false, ctxStatus(c.ctx)
		}
		return false, status.Error(codes.Unavailable, "mcp: connection closed")
	}
	return false, nil
}

// takeHeaderLocked returns the header block to send with the first frame.
func (c *serverCall) takeHeaderLocked() frame.Metadata {
	if c.headerSent {
		return nil
	}
	c.headerSent = true
	if len(c.header) == 0 {
		return nil
	}
	return appendMD(nil, c.header)
}

// finish sends the RESPONSE, once; later calls do nothing.
func (c *serverCall) finish(st *status.Status) { c.end(st, false) }

// end is finish; returned: run calls it because the handler returned, which
// it accounts for (callDone) with the same lock that ends the call.
func (c *serverCall) end(st *status.Status, returned bool) {
	if !c.ended.CompareAndSwap(false, true) {
		if returned && c.sc.callDone(c, false, true) {
			c.sc.t.closeAfterFlush(DefaultShutdownWriteWait, nil)
		}
		return
	}
	code := codes.OK
	if st != nil {
		code = st.Code()
	}
	c.observe(code)
	// callDone takes sc.mu first: from the deadline watcher, that orders
	// what follows after open, which set stopDL and the rest of c under it.
	// The call leaves the open calls before its RESPONSE is queued: the
	// client may reuse the id once it has the RESPONSE.
	closeNow := c.sc.callDone(c, true, returned)
	if c.stopDL != nil {
		c.stopDL()
	}
	if c.deliver {
		c.mu.Lock()
		header := c.takeHeaderLocked()
		trailer := appendMD(nil, c.trailer)
		reply, hasReply, replyBuf := c.reply, c.hasReply, c.replyBuf
		c.reply, c.replyBuf = nil, nil
		c.mu.Unlock()
		h := frame.Header{Type: frame.TypeResponse, SeqID: c.id}
		ok := st == nil || st.Code() == codes.OK
		if !ok {
			h.Status = uint8(st.Code())
			trailer = appendStatus(trailer, st)
		}
		if len(header) > 0 {
			// Header metadata travels ahead of the RESPONSE, on a STREAM
			// frame without a message (docs/protocol.md, "Headers").
			_ = c.sc.t.enqueue(context.Background(), frame.Header{Type: frame.TypeStream, Flags: frame.FlagNoMessage, SeqID: c.id}, header, nil, true)
		}
		body := reply
		if !ok || !hasReply {
			h.Flags |= frame.FlagNoMessage
			body = nil
		}
		_ = c.sc.t.enqueue(context.Background(), h, trailer, body, true)
		if replyBuf != nil {
			putScratch(replyBuf, reply) // enqueue copied it
		}
	}
	c.cancelCtx()
	if closeNow {
		c.sc.t.closeAfterFlush(DefaultShutdownWriteWait, nil)
	}
}

// grpc.ServerTransportStream, for grpc.SetHeader and friends.

func (c *serverCall) Method() string { return c.path }

func (c *serverCall) SetHeader(md metadata.MD) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.headerSent {
		return status.Error(codes.Internal, "mcp: SetHeader after the header was sent")
	}
	c.header = metadata.Join(c.header, md)
	return nil
}

func (c *serverCall) SendHeader(md metadata.MD) error {
	c.mu.Lock()
	if c.headerSent {
		c.mu.Unlock()
		return status.Error(codes.Internal, "mcp: the header was already sent")
	}
	c.header = metadata.Join(c.header, md)
	meta := c.takeHeaderLocked()
	c.mu.Unlock()
	if !c.deliver || c.ended.Load() {
		return nil
	}
	if c.async {
		return c.sendAsync(frame.Header{Type: frame.TypeStream, Flags: frame.FlagNoMessage, SeqID: c.id}, meta, nil)
	}
	return c.sc.t.enqueue(c.ctx, frame.Header{Type: frame.TypeStream, Flags: frame.FlagNoMessage, SeqID: c.id}, meta, nil, false)
}

func (c *serverCall) SetTrailer(md metadata.MD) error {
	c.mu.Lock()
	c.trailer = metadata.Join(c.trailer, md)
	c.mu.Unlock()
	return nil
}

// serverStream is the grpc.ServerStream of a streaming method.
type serverStream struct{ c *serverCall }

var _ grpc.ServerStream = (*serverStream)(nil)

func (s *serverStream) SetHeader(md metadata.MD) error  { return s.c.SetHeader(md) }
func (s *serverStream) SendHeader(md metadata.MD) error { return s.c.SendHeader(md) }
func (s *serverStream) SetTrailer(md metadata.MD)       { _ = s.c.SetTrailer(md) }
func (s *serverStream) Context() context.Context        { return s.c.ctx }
func (s *serverStream) SendMsg(m any) error             { return s.c.sendMsg(m) }

func (s *serverStream) RecvMsg(m any) error {
	b, err := s.c.recv()
	if err != nil {
		return err
	}
	return unmarshal(b, m)
}

// RawHandler serves a call as bytes (see WithUnknownHandler). It returns nil
// or a gRPC status error, which becomes the call's status.
type RawHandler func(s *RawStream) error

// RawStream is one call presented as bytes, for proxies and code without
// generated stubs. A unary or server-streaming call has exactly one inbound
// message; a NOTIFY's replies are discarded.
type RawStream struct{ c *serverCall }

// Context is the call's context: cancelled when the client cancels, the
// deadline passes or the connection closes. It carries the incoming metadata
// and the peer.
func (r *RawStream) Context() context.Context { return r.c.ctx }

// Path is the call's :path.
func (r *RawStream) Path() string { return r.c.path }

// DstAddr is the frame's dst_addr (0: route by metadata).
func (r *RawStream) DstAddr() uint16 { return r.c.dst }

// ContentType is the content-type metadata, "" when absent (protobuf).
func (r *RawStream) ContentType() string { return r.c.ctype }

// Metadata is the incoming application metadata (nil when there is none).
func (r *RawStream) Metadata() metadata.MD { return r.c.inMD }

// SetTag sets the tag the server's call observer reports for this call
// (WithCallObserver): a proxy's route, say. Keep tags few: metrics label
// by them.
func (r *RawStream) SetTag(tag string) { r.c.setTag(tag) }

// IsNotify reports whether the call is a NOTIFY (nothing is answered).
func (r *RawStream) IsNotify() bool { return r.c.notify }

// SetUnary tells the stream the call is unary, or client-streaming: its one
// reply then travels in the RESPONSE frame, as PROTOCOL.md's unary shape
// says. Without it every reply is sent at once as a STREAM frame, which
// mcp.Conn also accepts as a unary reply.
func (r *RawStream) SetUnary() {
	r.c.mu.Lock()
	r.c.unaryReply = true
	r.c.mu.Unlock()
}

// RecvMsg returns the next message from the client; io.EOF after it
// half-closed. The slice is the caller's.
func (r *RawStream) RecvMsg() ([]byte, error) { return r.c.recv() }

// SendHeader sends header metadata ahead of the replies.
func (r *RawStream) SendHeader(md metadata.MD) error { return r.c.SendHeader(md) }

// SendMsg sends one reply. The stream does not keep b after it returns.
func (r *RawStream) SendMsg(b []byte) error {
	_, err := r.c.sendBytes(b, nil)
	return err
}

// SetTrailer adds trailer metadata, sent with the RESPONSE.
func (r *RawStream) SetTrailer(md metadata.MD) { _ = r.c.SetTrailer(md) }

// HalfClosed reports whether the client has already half-closed: the
// REQUEST carried END_STREAM, so after its one message RecvMsg returns
// io.EOF. A proxy uses it to forward unary and server-streaming calls
// without a goroutine for the request side.
func (r *RawStream) HalfClosed() bool { return !r.c.in.on }

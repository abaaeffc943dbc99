package mcp

import (
	"context"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpbridge/mcpbridge/frame"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// clientCall is one call in flight on a clientConn.
type clientCall struct {
	cc    *clientConn
	id    uint32
	done  chan struct{} // closed when the call has ended
	ended atomic.Bool
	// stopCx stops the stream's context watcher; under stopMu, because the
	// watcher may run (and end the call) before openStream has stored it.
	stopMu sync.Mutex
	stopCx func() bool

	// Written by the side that ends the call, read after done.
	err      error
	reply    []byte
	hasReply bool
	trailer  metadata.MD

	// Header: written once, under headerOnce, before headerC is closed.
	header     metadata.MD
	headerOnce sync.Once
	headerC    chan struct{} // streams only

	in      inQueue // streams only (!in.on for unary calls)
	maxRecv int

	// An async call (StartRaw) has no done or header channel: its frames
	// go to async, on the reader.
	async      AsyncReply
	ac         AsyncClientCall
	headerDone bool // async: Header was called, or a message came

	replyBuf [64]byte // holds a small reply: no allocation of its own
}

// keep returns a copy of the reply b (the decoder's, valid only during the
// frame), in replyBuf when it fits.
func (call *clientCall) keep(b []byte) []byte {
	n := len(b)
	if n == 0 || n > len(call.replyBuf) {
		return append([]byte(nil), b...)
	}
	r := call.replyBuf[:n:n] // capped: an append by its user copies
	copy(r, b)
	return r
}

// setHeader records the header metadata (the first one wins) and wakes
// Header callers.
func (call *clientCall) setHeader(m frame.Metadata) {
	call.headerOnce.Do(func() {
		if len(m) > 0 {
			call.header = toMD(m)
		}
		if call.headerC != nil {
			close(call.headerC)
		}
	})
}

// complete ends the call with its RESPONSE; run by the reader after the
// call was taken out of the map.
func (call *clientCall) complete(f *frame.Frame) {
	if !call.ended.CompareAndSwap(false, true) {
		return
	}
	if call.async != nil {
		call.completeAsync(f)
		return
	}
	if !f.Flags.Has(frame.FlagNoMessage) {
		if len(f.Body) > call.maxRecv {
			call.err = status.Errorf(codes.ResourceExhausted, "mcp: reply of %d bytes exceeds the call's %d-byte limit", len(f.Body), call.maxRecv)
		} else {
			call.reply, call.hasReply = call.keep(f.Body), true
		}
	}
	call.trailer = toMD(f.Meta)
	if call.err == nil {
		call.err = statusFromFrame(f.Status, f.Meta)
	}
	call.setHeader(nil)
	call.finishEnd()
}

// fail ends the call with err unless it has ended.
func (call *clientCall) fail(err error) {
	if !call.ended.CompareAndSwap(false, true) {
		return
	}
	if call.async != nil {
		call.async.End(nil, false, err, nil)
		return
	}
	call.err = err
	call.setHeader(nil)
	call.finishEnd()
}

// completeAsync is complete for an async call.
func (call *clientCall) completeAsync(f *frame.Frame) {
	var reply []byte
	var hasReply bool
	err := statusFromFrame(f.Status, f.Meta)
	if !f.Flags.Has(frame.FlagNoMessage) && err == nil {
		if len(f.Body) > call.maxRecv {
			err = status.Errorf(codes.ResourceExhausted, "mcp: reply of %d bytes exceeds the call's %d-byte limit", len(f.Body), call.maxRecv)
		} else {
			reply, hasReply = f.Body, true
		}
	}
	call.async.End(reply, hasReply, err, toMD(f.Meta))
}

// pushAsync is push for an async call.
func (call *clientCall) pushAsync(f *frame.Frame) error {
	if !call.headerDone {
		call.headerDone = true
		if md := toMD(f.Meta); md != nil {
			if err := call.async.Header(md); err != nil {
				return err
			}
		}
	}
	if f.Flags.Has(frame.FlagNoMessage) {
		return nil
	}
	if len(f.Body) > call.maxRecv {
		return status.Errorf(codes.ResourceExhausted, "mcp: message of %d bytes exceeds the call's %d-byte limit", len(f.Body), call.maxRecv)
	}
	return call.async.Message(f.Body)
}

func (call *clientCall) finishEnd() {
	call.stopWatcher()
	close(call.done)
}

// stopWatcher stops the context watcher, if it is in place.
func (call *clientCall) stopWatcher() {
	call.stopMu.Lock()
	stop := call.stopCx
	call.stopMu.Unlock()
	if stop != nil {
		stop()
	}
}

// push handles a STREAM frame; run by the reader.
func (call *clientCall) push(f *frame.Frame) error {
	if call.async != nil {
		return call.pushAsync(f)
	}
	call.setHeader(f.Meta)
	if f.Flags.Has(frame.FlagNoMessage) {
		return nil
	}
	if len(f.Body) > call.maxRecv {
		return status.Errorf(codes.ResourceExhausted, "mcp: message of %d bytes exceeds the call's %d-byte limit", len(f.Body), call.maxRecv)
	}
	if !call.in.on {
		// A unary call answered with a STREAM message (a proxy that does
		// not know the method's shape): it is the reply.
		if call.hasReply {
			return status.Error(codes.Internal, "mcp: a unary call received two replies")
		}
		call.reply, call.hasReply = call.keep(f.Body), true
		return nil
	}
	o := call.cc.t.opts
	switch call.in.put(append([]byte(nil), f.Body...), o.streamBytes, o.streamWait, call.done, call.cc.t.done) {
	case putFullBytes:
		return status.Error(codes.ResourceExhausted, "mcp: "+overflowMsg("the client", o.streamBytes, "bytes", o.streamWait))
	case putFullMessages:
		return status.Error(codes.ResourceExhausted, "mcp: "+overflowMsg("the client", int(call.in.max), "messages", o.streamWait))
	}
	return nil
}

// callOpts are the grpc.CallOptions MCP understands.
type callOpts struct {
	failFast bool
	header   *metadata.MD
	trailer  *metadata.MD
	peer     *peer.Peer
	maxRecv  int
	maxSend  int
	dst      uint16
	lazyCtx  bool
}

// DstAddr is a grpc.CallOption that sets the call's dst_addr, the logical
// destination a gateway may route on.
type DstAddr struct {
	grpc.EmptyCallOption
	Addr uint16
}

// LazyContext is a grpc.CallOption for NewStream and NewRawStream, made for
// proxies: the call's context is watched only while one of the stream's
// methods waits (RecvMsg, Header, SendMsg), rather than by a watcher
// registered on the context for the call's whole life, which costs five
// allocations and a lock on the parent context per call. A call whose
// context ends while nobody waits on it is cancelled at its next RecvMsg or
// Header; a caller that stops reading before the call's end must call
// Cancel (RawClientStream) or cancel the context and read once more.
type LazyContext struct{ grpc.EmptyCallOption }

func (c *Conn) parseOpts(opts []grpc.CallOption) callOpts {
	co := callOpts{failFast: true, maxRecv: c.opts.conn.maxRecvMsg, maxSend: c.opts.conn.maxSendMsg}
	for _, o := range opts {
		switch v := o.(type) {
		case grpc.FailFastCallOption:
			co.failFast = v.FailFast
		case grpc.HeaderCallOption:
			co.header = v.HeaderAddr
		case grpc.TrailerCallOption:
			co.trailer = v.TrailerAddr
		case grpc.PeerCallOption:
			co.peer = v.PeerAddr
		case grpc.MaxRecvMsgSizeCallOption:
			co.maxRecv = min(v.MaxRecvMsgSize, co.maxRecv)
		case grpc.MaxSendMsgSizeCallOption:
			co.maxSend = min(v.MaxSendMsgSize, co.maxSend)
		case DstAddr:
			co.dst = v.Addr
		case *DstAddr:
			co.dst = v.Addr
		case LazyContext, *LazyContext:
			co.lazyCtx = true
		}
	}
	return co
}

func (co *callOpts) after(call *clientCall, cc *clientConn) {
	if co.header != nil {
		*co.header = call.header
	}
	if co.trailer != nil {
		*co.trailer = call.trailer
	}
	if co.peer != nil && cc != nil {
		*co.peer = *peerOf(cc.t.conn)
	}
}

// RawRequest describes a call made with bytes (InvokeRaw, NewRawStream,
// NotifyRaw).
type RawRequest struct {
	Path        string      // "/package.Service/Method"
	Metadata    metadata.MD // application metadata; reserved keys are dropped
	DstAddr     uint16
	ContentType string // "" = application/proto
}

// requestMeta builds the REQUEST metadata block into dst.
func requestMeta(dst frame.Metadata, ctx context.Context, req *RawRequest) (frame.Metadata, error) {
	dst = dst.Append(frame.KeyPath, req.Path)
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return dst, status.Error(codes.DeadlineExceeded, "context deadline exceeded")
		}
		dst = appendTimeout(dst, left)
	}
	if req.ContentType != "" {
		dst = dst.Append(frame.KeyContentType, req.ContentType)
	}
	if md, ok := metadata.FromOutgoingContext(ctx); ok {
		dst = appendMD(dst, md)
	}
	dst = appendMD(dst, req.Metadata)
	if len(dst) > frame.MaxMetaLen {
		return dst, status.Errorf(codes.InvalidArgument, "mcp: request metadata of %d bytes exceeds %d", len(dst), frame.MaxMetaLen)
	}
	return dst, nil
}

// appendTimeout adds timeout-ms for the time left (> 0), rounded up.
func appendTimeout(dst frame.Metadata, left time.Duration) frame.Metadata {
	ms := (left + time.Millisecond - 1) / time.Millisecond
	var tmp [20]byte
	return dst.AppendBytes(frame.KeyTimeoutMs, strconv.AppendInt(tmp[:0], int64(ms), 10))
}

// Invoke makes a unary call (grpc.ClientConnInterface).
func (c *Conn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if c.unary != nil {
		return c.unary(ctx, method, args, reply, nil, c.invoker, opts...)
	}
	return c.invoke(ctx, method, args, reply, opts...)
}

func (c *Conn) invoker(ctx context.Context, method string, args, reply any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
	return c.invoke(ctx, method, args, reply, opts...)
}

func (c *Conn) invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	co := c.parseOpts(opts)
	bp := getScratch()
	body, err := marshalAppend((*bp)[:0], args)
	if err != nil {
		putScratch(bp, *bp)
		return status.Errorf(codes.Internal, "mcp: marshal request: %v", err)
	}
	req := RawRequest{Path: method, DstAddr: co.dst}
	out, err := c.unary1(ctx, &req, body, &co)
	putScratch(bp, body)
	if err != nil {
		return err
	}
	if err := unmarshal(out, reply); err != nil {
		return status.Errorf(codes.Internal, "mcp: bad reply: %v", status.Convert(err).Message())
	}
	return nil
}

// InvokeRaw makes a unary call with an encoded message and returns the
// encoded reply. grpc.Header, grpc.Trailer, grpc.WaitForReady and the size
// options apply.
func (c *Conn) InvokeRaw(ctx context.Context, req RawRequest, body []byte, opts ...grpc.CallOption) ([]byte, error) {
	co := c.parseOpts(opts)
	if req.DstAddr == 0 {
		req.DstAddr = co.dst
	}
	return c.unary1(ctx, &req, body, &co)
}

func (c *Conn) unary1(ctx context.Context, req *RawRequest, body []byte, co *callOpts) ([]byte, error) {
	if len(body) > co.maxSend {
		return nil, status.Errorf(codes.ResourceExhausted, "mcp: request of %d bytes exceeds the %d-byte limit", len(body), co.maxSend)
	}
	mp := getScratch()
	meta, err := requestMeta(frame.Metadata((*mp)[:0]), ctx, req)
	defer func() { putScratch(mp, meta) }()
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		// Not sent: otherwise a fast reply could race the context below.
		return nil, ctxStatus(ctx)
	}
	call := &clientCall{done: make(chan struct{}), maxRecv: co.maxRecv}
	for attempt := 0; ; attempt++ {
		cc, err := c.ready(ctx, co.failFast)
		if err != nil {
			return nil, err
		}
		if err := cc.add(call); err != nil {
			if err == errRetry && attempt < 3 {
				continue
			}
			if err == errRetry {
				return nil, refusedErr("mcp: no connection takes new calls")
			}
			return nil, err
		}
		err = cc.t.enqueue(ctx, frame.Header{Type: frame.TypeRequest, Flags: frame.FlagEndStream, DstAddr: req.DstAddr, SeqID: call.id}, meta, body, false)
		if err != nil {
			if !cc.remove(call) {
				// The connection's end failed the call first (done is
				// closed): a retry needs a fresh one, or it would send the
				// REQUEST and still return the stale error.
				call = &clientCall{done: make(chan struct{}), maxRecv: co.maxRecv}
			}
			if ctx.Err() != nil {
				return nil, ctxStatus(ctx)
			}
			if attempt < 3 {
				continue // nothing was written: safe on another connection
			}
			return nil, errConnClosed
		}
		select {
		case <-call.done:
		case <-ctx.Done():
			cc.cancel(call, true)
			call.fail(ctxStatus(ctx))
			<-call.done
		}
		co.after(call, cc)
		if call.err != nil {
			return nil, call.err
		}
		if !call.hasReply {
			return nil, status.Error(codes.Internal, "mcp: the server ended a unary call without a reply")
		}
		return call.reply, nil
	}
}

// Notify sends a NOTIFY: a unary call whose result, even an error, is never
// answered. It returns once the frame is queued for the connection.
func (c *Conn) Notify(ctx context.Context, method string, msg any, opts ...grpc.CallOption) error {
	bp := getScratch()
	body, err := marshalAppend((*bp)[:0], msg)
	if err != nil {
		putScratch(bp, *bp)
		return status.Errorf(codes.Internal, "mcp: marshal request: %v", err)
	}
	co := c.parseOpts(opts)
	err = c.notify(ctx, &RawRequest{Path: method, DstAddr: co.dst}, body, &co)
	putScratch(bp, body)
	return err
}

// NotifyRaw is Notify with an encoded message.
func (c *Conn) NotifyRaw(ctx context.Context, req RawRequest, body []byte, opts ...grpc.CallOption) error {
	co := c.parseOpts(opts)
	if req.DstAddr == 0 {
		req.DstAddr = co.dst
	}
	return c.notify(ctx, &req, body, &co)
}

func (c *Conn) notify(ctx context.Context, req *RawRequest, body []byte, co *callOpts) error {
	if len(body) > co.maxSend {
		return status.Errorf(codes.ResourceExhausted, "mcp: request of %d bytes exceeds the %d-byte limit", len(body), co.maxSend)
	}
	mp := getScratch()
	meta, err := requestMeta(frame.Metadata((*mp)[:0]), ctx, req)
	defer func() { putScratch(mp, meta) }()
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		cc, err := c.ready(ctx, co.failFast)
		if err != nil {
			return err
		}
		// A NOTIFY is one message: like a unary REQUEST it carries
		// END_STREAM (PROTOCOL.md §2, §4). Servers accept it either way.
		err = cc.t.enqueue(ctx, frame.Header{Type: frame.TypeNotify, Flags: frame.FlagEndStream, DstAddr: req.DstAddr}, meta, body, false)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctxStatus(ctx)
		}
		if attempt >= 3 {
			return errConnClosed
		}
	}
}

// NewStream opens a streaming call (grpc.ClientConnInterface).
func (c *Conn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if c.stream != nil {
		return c.stream(ctx, desc, nil, method, c.streamer, opts...)
	}
	return c.newStream(ctx, desc, method, opts...)
}

func (c *Conn) streamer(ctx context.Context, desc *grpc.StreamDesc, _ *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.newStream(ctx, desc, method, opts...)
}

func (c *Conn) newStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	co := c.parseOpts(opts)
	s, err := c.openStream(ctx, &RawRequest{Path: method, DstAddr: co.dst}, co, desc.ClientStreams, desc.ServerStreams)
	if err != nil {
		return nil, err
	}
	return &grpcClientStream{s: s}, nil
}

// NewRawStream opens a call that sends and receives encoded messages. It
// works for every shape: send one message then CloseSend for unary and
// server streaming.
func (c *Conn) NewRawStream(ctx context.Context, req RawRequest, opts ...grpc.CallOption) (*RawClientStream, error) {
	co := c.parseOpts(opts)
	if req.DstAddr == 0 {
		req.DstAddr = co.dst
	}
	s, err := c.openStream(ctx, &req, co, true, true)
	if err != nil {
		return nil, err
	}
	return &RawClientStream{s: s}, nil
}

func (c *Conn) openStream(ctx context.Context, req *RawRequest, co callOpts, clientStreams, serverStreams bool) (*clientStream, error) {
	meta, err := requestMeta(nil, ctx, req)
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctxStatus(ctx)
	}
	s := &clientStream{
		ctx: ctx, meta: meta, dst: req.DstAddr, co: co,
		clientStreams: clientStreams, serverStreams: serverStreams,
	}
	call := &s.callMem // one allocation for both
	call.done = make(chan struct{})
	call.headerC = make(chan struct{})
	call.maxRecv = co.maxRecv
	call.in.init(c.opts.conn.streamQueue)
	s.call = call
	if co.lazyCtx {
		s.ctxWait = ctx.Done() // nil for a context that never ends
	} else {
		// The context watcher is in place before the call is registered:
		// once it is in the connection's map, the connection's end or a
		// GOAWAY may end it at any time, and ending it stops the watcher.
		call.stopMu.Lock()
		call.stopCx = context.AfterFunc(ctx, s.ctxDone)
		call.stopMu.Unlock()
	}
	var cc *clientConn
	for attempt := 0; ; attempt++ {
		cc, err = c.ready(ctx, co.failFast)
		if err == nil {
			err = cc.add(call)
			if err == errRetry && attempt < 3 {
				continue
			}
			if err == errRetry {
				err = refusedErr("mcp: no connection takes new calls")
			}
		}
		if err != nil {
			call.stopWatcher()
			return nil, err
		}
		break
	}
	s.cc = cc
	s.ccp.Store(cc)
	if call.ended.Load() {
		// The context ended before ccp was set: ctxDone could not forget
		// the call on its connection.
		cc.cancel(call, false)
	}
	return s, nil
}

// clientStream is a streaming call from the client side.
type clientStream struct {
	cc            *clientConn
	call          *clientCall
	ctx           context.Context
	meta          frame.Metadata // REQUEST metadata, until sent
	dst           uint16
	ccp           atomic.Pointer[clientConn] // cc, for ctxDone: set once the call is registered
	co            callOpts
	clientStreams bool
	serverStreams bool
	// ctxWait is the context's Done channel for a LazyContext call, which
	// the waits select on (nil otherwise: the watcher ends the call).
	ctxWait <-chan struct{}

	sendMu     sync.Mutex
	sent       atomic.Bool // REQUEST sent
	halfClosed bool

	replyTaken bool // recv side
	optsDone   bool
	final      bool // the message recv last returned came in the RESPONSE

	callMem clientCall // what call points to
}

// ctxDone runs when the call's context ends. It may run before the call is
// registered on a connection (see openStream), hence ccp.
func (s *clientStream) ctxDone() {
	s.call.fail(ctxStatus(s.ctx))
	if cc := s.ccp.Load(); cc != nil {
		cc.cancel(s.call, s.sent.Load())
	}
}

// abandon ends the call with err and tells the server with CANCEL if the
// REQUEST went out. It ends the call before reading sent, and send stores
// sent before reading ended: whichever runs second sees the other, so a
// REQUEST racing the abandon is always followed by a CANCEL (otherwise the
// server would run a handler nobody cancels). It does not wait for a send
// blocked on write room.
func (s *clientStream) abandon(err error) {
	s.call.fail(err)
	s.cc.cancel(s.call, s.sent.Load())
}

// send sends one message (b != nil) and/or the half-close. It opens the
// call with REQUEST first if that was not sent yet.
func (s *clientStream) send(b []byte, msg, end bool) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.halfClosed {
		if !msg {
			return nil
		}
		return status.Error(codes.Internal, "mcp: SendMsg after CloseSend")
	}
	if s.call.ended.Load() {
		if !msg || !s.clientStreams {
			// As grpc-go: a call that takes one message reports its end
			// through RecvMsg only, so that the generated code of a
			// server-streaming call, which returns SendMsg's error as the
			// call's, never returns io.EOF.
			return nil
		}
		return io.EOF // as gRPC: RecvMsg tells the status
	}
	if msg && len(b) > s.co.maxSend {
		return status.Errorf(codes.ResourceExhausted, "mcp: message of %d bytes exceeds the %d-byte limit", len(b), s.co.maxSend)
	}
	h := frame.Header{Type: frame.TypeStream, SeqID: s.call.id}
	var meta frame.Metadata
	if !s.sent.Load() {
		h.Type, h.DstAddr, meta = frame.TypeRequest, s.dst, s.meta
	}
	if !msg {
		h.Flags |= frame.FlagNoMessage
	}
	if end {
		h.Flags |= frame.FlagEndStream
		s.halfClosed = true
	}
	err := s.cc.t.enqueue(s.ctx, h, meta, b, false)
	if h.Type == frame.TypeRequest {
		s.sent.Store(true)
		s.meta = nil
		if err == nil && s.call.ended.Load() {
			// Abandoned while the REQUEST was queued: abandon may have seen
			// it unsent (see abandon). A CANCEL too many is ignored.
			_ = s.cc.t.enqueue(context.Background(), frame.Header{Type: frame.TypeCancel, SeqID: s.call.id}, nil, nil, true)
		}
	}
	if err != nil {
		if s.ctx.Err() != nil {
			return ctxStatus(s.ctx)
		}
		if !s.clientStreams {
			return nil // the connection's end fails the call: RecvMsg says so
		}
		return io.EOF
	}
	return nil
}

func (s *clientStream) sendMsg(b []byte) error {
	return s.send(b, true, !s.clientStreams)
}

func (s *clientStream) closeSend() error { return s.send(nil, false, true) }

// open sends the REQUEST if nothing was sent yet, so a client that receives
// first (bidi) still opens the call.
func (s *clientStream) open() {
	if !s.sent.Load() {
		_ = s.send(nil, false, false)
	}
}

func (s *clientStream) recv() ([]byte, error) {
	s.open()
	call := s.call
	for {
		if b, ok, _ := call.in.take(); ok {
			return b, nil
		}
		select {
		case <-call.done: // ended: no need for a wake-up channel
		default:
			select {
			case <-call.in.ready():
				continue
			case <-call.done:
			case <-s.ctxWait:
				s.ctxDone()
				<-call.done // whoever ended the call closes it once its fields are set
			}
		}
		// The reader queues a call's messages before it ends the call.
		if b, ok, _ := call.in.take(); ok {
			return b, nil
		}
		break
	}
	if !s.optsDone {
		s.optsDone = true
		s.co.after(call, s.cc)
	}
	if call.err != nil {
		return nil, call.err
	}
	if call.hasReply && !s.replyTaken {
		s.replyTaken = true
		s.final = true
		return call.reply, nil
	}
	if !s.serverStreams && !s.replyTaken {
		s.replyTaken = true
		return nil, status.Error(codes.Internal, "mcp: the server ended the call without a reply")
	}
	return nil, io.EOF
}

func (s *clientStream) headerMD() (metadata.MD, error) {
	s.open()
	select {
	case <-s.call.headerC:
	case <-s.call.done:
	case <-s.ctxWait:
		s.ctxDone()
		<-s.call.done // whoever ended the call closes it once its fields are set
	}
	select {
	case <-s.call.done:
		if s.call.header == nil && s.call.err != nil {
			return nil, s.call.err
		}
	default:
	}
	return s.call.header, nil
}

func (s *clientStream) trailerMD() metadata.MD {
	select {
	case <-s.call.done:
		return s.call.trailer
	default:
		return nil
	}
}

// grpcClientStream is a clientStream as a grpc.ClientStream.
type grpcClientStream struct{ s *clientStream }

var _ grpc.ClientStream = (*grpcClientStream)(nil)

func (g *grpcClientStream) Header() (metadata.MD, error) { return g.s.headerMD() }
func (g *grpcClientStream) Trailer() metadata.MD         { return g.s.trailerMD() }
func (g *grpcClientStream) CloseSend() error             { return g.s.closeSend() }
func (g *grpcClientStream) Context() context.Context     { return g.s.ctx }

func (g *grpcClientStream) SendMsg(m any) error {
	bp := getScratch()
	b, err := marshalAppend((*bp)[:0], m)
	if err != nil {
		putScratch(bp, *bp)
		return status.Errorf(codes.Internal, "mcp: marshal: %v", err)
	}
	err = g.s.sendMsg(b)
	putScratch(bp, b)
	return err
}

func (g *grpcClientStream) RecvMsg(m any) error {
	b, err := g.s.recv()
	if err != nil {
		return err
	}
	if err := unmarshal(b, m); err != nil {
		err = status.Errorf(codes.Internal, "mcp: bad reply: %v", status.Convert(err).Message())
		g.s.cc.cancel(g.s.call, true)
		g.s.call.fail(err)
		return err
	}
	if !g.s.serverStreams {
		// As grpc-go: a call with one reply (client streaming) has ended
		// when RecvMsg returns it, so Trailer and the status are there.
		g.s.replyTaken = true
		switch _, err := g.s.recv(); err {
		case io.EOF:
		case nil:
			err = status.Error(codes.Internal, "mcp: a second reply on a call that takes one")
			g.s.cc.cancel(g.s.call, true)
			g.s.call.fail(err)
			return err
		default:
			return err
		}
	}
	return nil
}

// RawClientStream is a call that carries encoded messages (NewRawStream).
// SendMsg may run concurrently with RecvMsg, not with another SendMsg.
type RawClientStream struct{ s *clientStream }

// SendMsg sends one message. It returns io.EOF when the call has ended (then
// RecvMsg returns its status).
func (r *RawClientStream) SendMsg(b []byte) error { return r.s.sendMsg(b) }

// CloseSend half-closes the call: the client sends nothing more.
func (r *RawClientStream) CloseSend() error { return r.s.closeSend() }

// SendLast sends b as the client's last message: the message and the
// half-close travel in one frame, where SendMsg then CloseSend take two
// (and, sent first, it lets the server skip queueing the call's input).
// Its errors are SendMsg's.
func (r *RawClientStream) SendLast(b []byte) error { return r.s.send(b, true, true) }

// RecvMsg returns the next message; io.EOF when the call ended with OK, or
// its status error.
func (r *RawClientStream) RecvMsg() ([]byte, error) { return r.s.recv() }

// Final reports whether the message RecvMsg last returned came in the
// call's RESPONSE frame, as a unary method's reply does: the call has ended
// and the next RecvMsg returns its status. A proxy uses it to answer its own
// client in the same shape (RawStream.SetUnary), one frame instead of two.
func (r *RawClientStream) Final() bool { return r.s.final }

// Header waits for the server's header metadata.
func (r *RawClientStream) Header() (metadata.MD, error) { return r.s.headerMD() }

// Trailer returns the trailer metadata once RecvMsg has returned io.EOF or
// an error.
func (r *RawClientStream) Trailer() metadata.MD { return r.s.trailerMD() }

// Context is the call's context.
func (r *RawClientStream) Context() context.Context { return r.s.ctx }

// Cancel abandons the call (a CANCEL frame); RecvMsg then returns CANCELED.
func (r *RawClientStream) Cancel() {
	r.s.abandon(status.Error(codes.Canceled, "mcp: call cancelled"))
}

package upstream

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/mcp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// ErrNotAsync is what Serve returns for an AsyncFront call it does not
// forward asynchronously: the upstream speaks gRPC, or the endpoint's
// connection is not ready or has no room for the request just now. The
// front door then serves the call as a stream, which waits as needed. An
// AsyncFront's stream methods return it too, should a middleware's wrapper
// Stream lead the call onto the streamed path; it is a status error, so that
// the forwarding code returns it unchanged (match it with errors.Is).
var ErrNotAsync = status.Error(codes.Internal, "upstream: the call is not forwarded asynchronously")

// AsyncFront is a front door stream whose call can be forwarded without a
// goroutine waiting on it (the MCP front door's complete calls: see
// mcp.WithAsyncHandler). Its gateway.Stream methods are not used.
type AsyncFront interface {
	gateway.Stream
	Async() *mcp.AsyncCall
}

// serveAsync forwards a complete MCP call to an MCP endpoint with
// mcp.Conn.StartRaw: the request leaves from the front door's reader
// goroutine, and the reply returns from the endpoint connection's reader,
// each queued for its connection's writer with no goroutine switch in
// between. It returns nil once the call is on its way (its end finishes
// ac), ErrNotAsync to have it served as a stream, or the call's error.
func (u *Upstream) serveAsync(req *gateway.Request, ac *mcp.AsyncCall) error {
	if u.grpc {
		return ErrNotAsync
	}
	e, err := u.pick(context.Background(), nil)
	if err != nil {
		return err
	}
	f := &forward{u: u, ac: ac}
	f.req = mcp.RawRequest{
		Path:        req.Path,
		Metadata:    outgoingMD(req.Header, false),
		DstAddr:     req.DstAddr,
		ContentType: mcpContentType(req.ContentType),
	}
	f.deadline, _ = ac.Deadline()
	if req.RouteID != "" {
		ac.SetTag(req.RouteID) // before the call can end
	}
	if !f.start(e) {
		return ErrNotAsync
	}
	ac.OnCancel(f)
	return nil
}

// forward is one call forwarded asynchronously: the mcp.AsyncReply of its
// backend call and the mcp.Canceler of its front call.
type forward struct {
	u        *Upstream
	ac       *mcp.AsyncCall
	req      mcp.RawRequest
	deadline time.Time

	e         atomic.Pointer[endpoint]            // the current attempt's endpoint (it holds a reference)
	uc        atomic.Pointer[mcp.AsyncClientCall] // the current attempt
	sent      atomic.Bool                         // a header or message reached the client
	cancelled atomic.Bool                         // the front call was cancelled
	retried   bool                                // End's, on the reader
}

// start makes an attempt on e, whose reference it takes over; false when
// the call could not be sent (the reference is dropped).
func (f *forward) start(e *endpoint) bool {
	mc := e.mc.Load()
	if mc == nil {
		e.release()
		return false
	}
	f.e.Store(e)
	prev := f.uc.Load()
	uc, err := mc.StartRaw(f.req, f.ac.Body(), f.deadline, f)
	if err != nil {
		f.e.Store(nil)
		e.release()
		return false
	}
	e.calls.Add(1)
	// Should the attempt have ended within StartRaw (its connection
	// closing) and a retry have started, the retry's call stays.
	f.uc.CompareAndSwap(prev, uc)
	if f.cancelled.Load() {
		uc.Cancel() // cancelled while a retry started
	}
	return true
}

// Cancel is the front call's cancellation (its client's CANCEL, its
// deadline, its connection's end): the backend call is cancelled, and its
// End finishes the front call.
func (f *forward) Cancel() {
	f.cancelled.Store(true)
	if uc := f.uc.Load(); uc != nil {
		uc.Cancel()
	}
}

func (f *forward) Header(md metadata.MD) error {
	if md = responseMD(md, true); len(md) == 0 {
		return nil
	}
	f.sent.Store(true)
	return f.ac.SendHeader(md)
}

func (f *forward) Message(b []byte) error {
	f.sent.Store(true)
	return f.ac.SendMsg(b)
}

func (f *forward) End(reply []byte, hasReply bool, err error, trailer metadata.MD) {
	e := f.e.Load()
	o, retry := f.outcome(err)
	f.u.record(e, o, err)
	releaseAsync(e)
	if retry {
		if next, perr := f.u.pick(context.Background(), e); perr == nil {
			f.retried = true
			if f.start(next) {
				return
			}
		}
	}
	if t := responseMD(trailer, true); len(t) > 0 {
		f.ac.SetTrailer(t)
	}
	f.ac.Finish(reply, hasReply, err)
}

// outcome classifies an attempt's end as backendError does; retry: the
// backend refused the call unprocessed (GOAWAY) before anything reached
// the client, and it has not been retried yet.
func (f *forward) outcome(err error) (outcome, bool) {
	switch {
	case err == nil:
		return answered, false
	case f.cancelled.Load():
		return neutral, false
	case status.Code(err) != codes.Unavailable:
		return answered, false
	}
	return failed, !f.retried && !f.sent.Load() && refused(err)
}

// releaseAsync is e.release from a connection's reader goroutine: should it
// drop the last reference, the connection closes on another goroutine.
func releaseAsync(e *endpoint) {
	if e.refs.Add(-1) == 0 {
		go e.closeConn()
	}
}

package gateway

import (
	"context"

	"google.golang.org/grpc/metadata"
)

// Stream carries the messages of one call, as bytes, in both directions. A
// unary call is a stream of one message each way. Front doors implement it.
type Stream interface {
	// Context is the call's context: its deadline, its cancellation, and the
	// front door's particulars (reachable through the door's own helpers).
	Context() context.Context
	// RecvMsg returns the next message from the client, and io.EOF once the
	// client has half-closed.
	RecvMsg() ([]byte, error)
	// SendHeader sends the response header; at most once, before SendMsg.
	SendHeader(metadata.MD) error
	// SendMsg sends one message to the client.
	SendMsg([]byte) error
	// SetTrailer sets metadata sent with the call's status. Several calls merge.
	SetTrailer(metadata.MD)
}

// Handler serves one routed call. It returns nil or a gRPC status error.
type Handler interface {
	Serve(req *Request, s Stream) error
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(req *Request, s Stream) error

// Serve calls f(req, s).
func (f HandlerFunc) Serve(req *Request, s Stream) error { return f(req, s) }

// Middleware wraps a Handler: filters, and the resilience features added on
// top (retry, timeout, rate limit), are all Middleware.
//
// A Middleware that needs a call's outcome (its status, its duration: a
// retry, a breaker, metrics) must pass on a Stream of its own that wraps
// the one it was given. The MCP front door forwards complete calls to MCP
// upstreams asynchronously (see upstream.AsyncFront): Serve then returns
// as soon as the call is on its way, and only when the Stream reaching the
// upstream is the front door's own; a wrapped Stream makes the call take
// the streamed path, whose Serve returns with the outcome.
type Middleware func(Handler) Handler

// Chain composes mws into one Middleware. The first is outermost: it sees the
// request first and the result last. Chain() is the identity.
func Chain(mws ...Middleware) Middleware {
	return func(h Handler) Handler {
		for i := len(mws) - 1; i >= 0; i-- {
			h = mws[i](h)
		}
		return h
	}
}

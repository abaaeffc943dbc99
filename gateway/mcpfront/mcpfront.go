// Package mcpfront is the gateway's MCP front door: an mcp.Server whose
// every call, of any shape, is presented to the route table as a
// gateway.Request and served by the route it matches. The call's bytes are
// forwarded, never decoded.
//
// A complete call (unary or server-streaming: its REQUEST carries the one
// message and END_STREAM) routed to an MCP upstream is forwarded
// asynchronously, on the connections' reader goroutines, with no goroutine
// waiting on it (mcp.WithAsyncHandler, upstream.AsyncFront); every other
// call is served by a handler goroutine that streams it through.
//
// A call no route matches answers UNIMPLEMENTED. Services registered on the
// returned server directly (for example the gateway's own health service)
// are served before the route table is consulted.
package mcpfront

import (
	"context"
	"errors"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/upstream"
	"github.com/mcpbridge/mcpbridge/mcp"
	"google.golang.org/grpc/metadata"
)

// Handler returns the mcp.RawHandler that routes calls through router.
func Handler(router *gateway.Router) mcp.RawHandler {
	return func(rs *mcp.RawStream) error {
		req := &gateway.Request{
			Protocol:    gateway.ProtocolMCP,
			Method:      "POST",
			Path:        rs.Path(),
			Header:      rs.Metadata(),
			DstAddr:     rs.DstAddr(),
			ContentType: rs.ContentType(),
		}
		err := router.Serve(req, rs)
		rs.SetTag(routeTag(req))
		return err
	}
}

// Unrouted is the tag of a call no route matched; a call a route served is
// tagged with the route's ID (mcp.WithCallObserver).
const Unrouted = "unrouted"

func routeTag(req *gateway.Request) string {
	if req.RouteID == "" {
		return Unrouted
	}
	return req.RouteID
}

// AsyncHandler returns the mcp.AsyncHandler that routes complete protobuf
// calls through router and forwards those whose route ends at an MCP
// upstream without a goroutine. It declines the others (and calls whose
// endpoint connection is not ready), which Handler then serves.
func AsyncHandler(router *gateway.Router) mcp.AsyncHandler {
	return func(ac *mcp.AsyncCall) bool {
		switch ac.ContentType() {
		case "", "application/proto", "application/protobuf":
		default:
			return false // JSON and the like are transcoded by a handler
		}
		req := &gateway.Request{
			Protocol:    gateway.ProtocolMCP,
			Method:      "POST",
			Path:        ac.Path(),
			Header:      ac.Metadata(),
			DstAddr:     ac.DstAddr(),
			ContentType: ac.ContentType(),
		}
		switch err := router.Serve(req, asyncStream{ac}); {
		case err == nil:
		case errors.Is(err, upstream.ErrNotAsync):
			return false
		default:
			ac.SetTag(routeTag(req))
			ac.Finish(nil, false, err) // no route, no healthy endpoint, ...
		}
		return true
	}
}

// NewServer returns an mcp.Server that routes every call it has no
// registered service for through router. One slow call holds the server's
// connection readers, and (through its async replies) an upstream
// connection's reader, at most upstream.StreamQueueWait
// (mcp.WithStreamQueueWait). opts are applied after these.
func NewServer(router *gateway.Router, opts ...mcp.ServerOption) *mcp.Server {
	return mcp.NewServer(append([]mcp.ServerOption{
		mcp.WithUnknownHandler(Handler(router)),
		mcp.WithAsyncHandler(AsyncHandler(router)),
		mcp.WithStreamQueueWait(upstream.StreamQueueWait),
	}, opts...)...)
}

// asyncStream presents an async call to the route table. Only the
// upstream's async path uses it (upstream.AsyncFront); any other handler
// that tries to stream on it (the upstream's streamed path, reached through
// a middleware's wrapper Stream) gets ErrNotAsync before the request's
// message was sent (a backend may see a call opened and cancelled at once),
// and the call is served again by Handler.
type asyncStream struct{ ac *mcp.AsyncCall }

func (s asyncStream) Async() *mcp.AsyncCall        { return s.ac }
func (s asyncStream) Context() context.Context     { return s.ac.Context() }
func (s asyncStream) RecvMsg() ([]byte, error)     { return nil, upstream.ErrNotAsync }
func (s asyncStream) SendHeader(metadata.MD) error { return upstream.ErrNotAsync }
func (s asyncStream) SendMsg([]byte) error         { return upstream.ErrNotAsync }
func (s asyncStream) SetTrailer(metadata.MD)       {}

var (
	_ gateway.Stream      = (*mcp.RawStream)(nil)
	_ upstream.AsyncFront = asyncStream{}
)

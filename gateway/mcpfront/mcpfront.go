// Package mcpfront is the gateway's MCP front door: an mcp.Server whose
// every call, of any shape, is presented to the route table as a
// gateway.Request and served by the route it matches. The call's bytes are
// forwarded, never decoded.
//
// A call no route matches answers UNIMPLEMENTED. Services registered on the
// returned server directly (for example the gateway's own health service)
// are served before the route table is consulted.
package mcpfront

import (
	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/mcp"
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
		return router.Serve(req, rs)
	}
}

// NewServer returns an mcp.Server that routes every call it has no
// registered service for through router. opts are applied after the
// routing handler.
func NewServer(router *gateway.Router, opts ...mcp.ServerOption) *mcp.Server {
	return mcp.NewServer(append([]mcp.ServerOption{mcp.WithUnknownHandler(Handler(router))}, opts...)...)
}

var _ gateway.Stream = (*mcp.RawStream)(nil)

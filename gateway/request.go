package gateway

import (
	"maps"

	"google.golang.org/grpc/metadata"
)

// Front-door names for Request.Protocol.
const (
	ProtocolMCP  = "mcp"
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http"
	// ProtocolGRPCWeb is gRPC-Web, served by the HTTP front door: gRPC's
	// messages and status in an HTTP/1.1-friendly framing, for browsers.
	ProtocolGRPCWeb = "grpc-web"
	ProtocolMQTT    = "mqtt"
)

// Request is one call as every front door presents it. A Request is a value
// the gateway reads; a Middleware that changes it passes a copy on.
type Request struct {
	// Protocol is the front door the call came through: ProtocolMCP,
	// ProtocolGRPC, ProtocolHTTP, ProtocolGRPCWeb or ProtocolMQTT.
	Protocol string
	// Method is the HTTP method for "http" and "POST" for gRPC and MCP calls.
	Method string
	// Path is "/pkg.Service/Method" for gRPC and MCP calls and the URL path
	// (without the query) for HTTP.
	Path string
	// Header is the request metadata (headers), with lower-case keys. It is
	// shared between shallow copies of a Request: treat it as read-only and
	// Clone the Request before changing it.
	Header metadata.MD
	// DstAddr is the MCP dst_addr; 0 means "route by metadata".
	DstAddr uint16
	// ContentType is the request's content type, as the front door saw it.
	ContentType string
	// Vars holds the variables the matched Route's predicates captured, such
	// as {name} segments of a Path pattern. Route.Serve sets it; filters read
	// it. Read-only.
	Vars map[string]string
	// RouteID is the ID of the route serving the call: Table.Serve sets it,
	// on the Request it was given, before the route serves it (so the front
	// door that made the Request can label the call with it). "" when no
	// route matched.
	RouteID string
}

// Clone returns a deep copy of r: the copy's Header and Vars may be changed
// without affecting r.
func (r *Request) Clone() *Request {
	c := *r
	if r.Header != nil {
		c.Header = r.Header.Copy()
	}
	c.Vars = maps.Clone(r.Vars)
	return &c
}

// Package descriptors gives the gateway the protobuf descriptors of its
// upstreams' services at run time, for JSON transcoding: no generated code
// of any backend is linked in.
//
// Descriptors come from gRPC server reflection (Reflect: grpc.reflection.v1,
// falling back to v1alpha), through any grpc.ClientConnInterface; the
// gateway uses HandlerConn, which reaches a backend through its upstream's
// own gateway.Handler (pooled connections, balancer, gRPC or MCP alike), or
// from a FileDescriptorSet file (LoadFile).
//
// NewIndex compiles them once per load into an Index: methods by call path
// ("/pkg.Service/Method") and google.api.http bindings by HTTP method, each
// with its parsed path Template and resolved fields, so that a request costs
// a map lookup and a template match, never a descriptor search.
//
// A Set holds one Source per upstream; a Source loads lazily or eagerly,
// swaps its Index atomically on each successful refresh (on configuration
// reload, on an interval, or in the background when a call names a method
// the index lacks) and keeps the previous one when a refresh fails.
package descriptors

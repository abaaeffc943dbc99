// Package upstream is the gateway's side of a call that leaves it: an
// Upstream is one configured group of backend endpoints (config.Upstream)
// and a gateway.Handler that forwards each call, of any shape, as bytes to
// a picked healthy endpoint. A Set holds the upstreams of a configuration
// and updates them on reload.
//
// # Forwarding
//
// Serve picks an endpoint, opens a call on the endpoint's long-lived
// connection and relays it until the backend ends it: request metadata
// (less hop-by-hop and protocol-reserved keys) as outgoing metadata, the
// request messages, the response header (Stream.SendHeader, when it
// carries metadata once the backend's transport keys such as content-type
// are trimmed), the response messages, the trailer (Stream.SetTrailer,
// trimmed alike) and the status, which Serve returns unchanged. The
// call's context is the Stream's: its deadline travels to the backend
// (grpc-timeout or timeout-ms) and its cancellation cancels the backend
// call. Messages are never decoded.
//
//   - protocol grpc: one *grpc.ClientConn per endpoint (TLS credentials
//     from the upstream's tls settings, otherwise insecure ones), a
//     bidirectional stream per call with the pass-through codec
//     (gateway/rawcodec).
//   - protocol mcp: one *mcp.Conn per endpoint (over TLS when the upstream
//     has tls settings), which redials by itself;
//     a raw stream per call (mcp.Conn.NewRawStream) carrying the request's
//     dst_addr and content type. A gRPC content type (application/grpc,
//     application/grpc+proto) becomes MCP's default, protobuf. MCP/1 has
//     no per-call flow control: a response stream's messages queue in the
//     gateway (256 per call) while the client reads, and a client that
//     stops reading holds the shared connection's reader at most 100ms
//     before its call ends with RESOURCE_EXHAUSTED.
//
// An MCP NOTIFY from the front door (a Stream that is a Notifier) goes to
// an MCP backend as a NOTIFY: sent, never answered, counted as answered
// once sent. To a gRPC backend, which has no NOTIFY, it is a unary call
// whose reply the MCP front door drops.
//
// Connections are opened when the endpoint is created, never per call, and
// redialed with the reconnect backoff (WithReconnectBackoff) when lost. A
// call that reaches an MCP endpoint still making its first connection
// waits for that attempt (bounded by the call's context and mcp's dial
// timeout); if it failed, the call fails over as below. gRPC calls wait
// likewise while their connection is CONNECTING and fail at once while it
// is in TRANSIENT_FAILURE.
//
// # The front-door contract: HalfCloser
//
// A front door whose Stream knows, when Serve starts, that the client has
// already sent everything implements HalfCloser:
//
//	type HalfCloser interface{ HalfClosed() bool }
//
// HalfClosed reporting true promises that the client has half-closed and
// that RecvMsg returns its message, if any, and then io.EOF, without
// blocking. *mcp.RawStream implements it (its REQUEST carried END_STREAM):
// MCP unary and server-streaming calls. For such calls Serve reads the
// message itself, sends it and half-closes upstream inline, and relays the
// response on the calling goroutine: no goroutine per call. For every other
// call (client streaming, bidirectional, and every call of a front door
// without HalfCloser, such as gRPC's) Serve starts one goroutine that
// copies client messages upstream while the calling goroutine relays the
// responses. That goroutine ends when the client half-closes, when the
// backend call ends, or when the front door ends the call's context, which
// front doors do when Serve returns; it may outlive Serve by that long.
//
// # Async forwarding: AsyncFront
//
// The MCP front door goes further for complete calls (mcpfront.AsyncHandler):
// it offers them, on its connection's reader goroutine, as an AsyncFront
// stream. To an MCP upstream whose endpoint connection is ready, Serve then
// starts the backend call with mcp.Conn.StartRaw and returns at once; the
// backend's header, messages and end are copied to the client from the
// endpoint connection's reader (forward is both the backend call's
// mcp.AsyncReply and the front call's mcp.Canceler). No goroutine waits on
// the call, and the frames one read brings in leave, on the other
// connection, in one write. The client's cancel, its deadline and its
// connection's end cancel the backend call; a GOAWAY refusal before any
// reply is retried once on another endpoint, from the reader; passive
// ejection counts these attempts like any other. Serve returns ErrNotAsync
// (and the front door serves the call as a stream instead) for a gRPC
// upstream, or when the endpoint's connection is not ready or its write
// queue is full, since those wait. A reply the client's connection has no
// room for waits at most StreamQueueWait, holding the endpoint
// connection's reader, then ends the call with RESOURCE_EXHAUSTED.
//
// # Picking, passive ejection, retries
//
// The balancer (gateway/balancer) picks among the endpoints that are
// healthy: passing active health checks (when configured) and not
// ejected. When none is, Serve answers UNAVAILABLE "upstream <name>: no
// healthy endpoint" at once, without waiting.
//
// Passive ejection counts consecutive transport failures per endpoint: a
// call that could not be opened (connection down, dial refused, mcp:
// not connected), or that ended with UNAVAILABLE while the client's
// context was still live (a lost connection, a GOAWAY, or a backend that
// itself says UNAVAILABLE, which asks to be avoided all the same). Any
// other status from the backend, NOT_FOUND as much as OK, is an answer and
// resets the count; a client's cancel or deadline, and errors of the
// front door, count for nothing. After Passive.ConsecutiveFailures
// failures in a row the endpoint is ejected for Passive.EjectionTime; it
// then returns half-open: its count is not reset, so the next failure
// ejects it again and a success resets it. ConsecutiveFailures 0 turns
// ejection off. Every endpoint may be ejected at once (there is no
// panic threshold): the upstream then answers UNAVAILABLE until the first
// ejection ends.
//
// A call is tried on a second endpoint (once, and only when another
// healthy endpoint exists: the failed one's successor in the healthy set,
// so the balancer's sequence is undisturbed) when its first attempt failed
// in a way that proves the backend never saw it:
//
//   - the call could not be opened with UNAVAILABLE: for gRPC,
//     ClientConn.NewStream failed, so no stream exists (grpc-go has
//     already retried transparently on the same connection what it knows
//     to be unprocessed); for MCP, NewRawStream failed (no connection, the
//     last dial failed) or the endpoint was not connected;
//   - for MCP only, on a HalfClosed call: the server refused the call with
//     GOAWAY (its seq_id was above the GOAWAY's last processed one, which
//     mcp reports as UNAVAILABLE "... not processed and is safe to
//     retry") before any header or message reached the client. The one
//     request message is still held and is sent again.
//
// Nothing else is retried: once a gRPC stream exists, or an MCP request
// message may have reached a server that did not refuse it, the backend
// may have acted on it, and the failure is returned as is. Retrying the
// application's failures is the Retry filter's business, not this one's.
//
// # Active health checks
//
// With cfg.HealthCheck set, one goroutine per upstream checks every
// endpoint at start and then every Interval, all endpoints of a round in
// parallel, each bounded by Timeout: grpc.health.v1 Check with service ""
// (SERVING passes; any other answer, UNIMPLEMENTED included, fails) for
// gRPC endpoints, a PING for MCP ones. UnhealthyThreshold failures in a
// row take an endpoint out of rotation, HealthyThreshold passes in a row
// put it back. Endpoints start healthy.
//
// # DNS
//
// With cfg.DNS set, the name is resolved at New (bounded by
// DNSResolveTimeout) and then every Refresh; each address, on the name's
// port, is an endpoint of weight 1. New endpoints connect at once; removed
// ones leave the rotation at once and close their connection when their
// last call ends. A failed or empty resolution keeps the last good set.
//
// # Concurrency, lifetime, bounds
//
// Upstream and Set are safe for concurrent use. Serve may run from any
// number of goroutines. A Set may be updated while calls run: its Handlers
// resolve the upstream's name when each call starts, calls in flight
// finish on the upstream they started on, and a replaced upstream's
// connections stay open until its last call ends.
//
// Bounds: one connection per endpoint; at most MaxEndpoints endpoints per
// upstream (a DNS answer is cut to that many, in sorted order); one
// request-pumping goroutine per streaming call; per health round one
// goroutine per endpoint, each bounded by Timeout; message sizes by
// WithMaxMessageSize (default 4 MiB each way, as gRPC's and MCP's
// defaults); calls per MCP connection by mcp's own limit.
//
// Clocks are injectable (WithClock for ejection, WithTicker for health
// rounds and DNS refreshes), so tests need no sleeps. The package does not
// log (WithObserver reports ejections, health changes and DNS changes),
// does not panic and holds no global mutable state.
package upstream

// HalfCloser is the optional interface of a gateway.Stream described in the
// package doc: HalfClosed reports true when the client has already
// half-closed, so RecvMsg returns its one message, if any, then io.EOF,
// without blocking. *mcp.RawStream implements it.
type HalfCloser interface {
	HalfClosed() bool
}

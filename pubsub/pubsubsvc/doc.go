// Package pubsubsvc serves a pubsub.Bus as the gRPC service pubsub.v1.PubSub
// (proto/pubsub/v1), so that gRPC clients publish and subscribe on the same
// bus as every other front door. New returns a pubsubv1.PubSubServer to
// register on a grpc.Server and on an mcp.Server alike (both are
// grpc.ServiceRegistrar): with mcp.WithBus on the same bus, a gRPC
// subscriber receives what an MCP client publishes with PUBLISH frames and
// an MCP subscriber what a gRPC client publishes.
//
// # Publish
//
// Publish hands the message to the bus and returns once the bus has accepted
// it. Headers are a map: a key is lowercased, and a value under a key ending
// in "-bin" is base64 (standard encoding, padded or not, as gRPC metadata;
// several values separated by ",").
//
// # Subscribe
//
// Subscribe opens a bus subscription and streams its messages until the
// client cancels the call or the subscription ends. Once the bus has taken
// the subscription the server sends the response header (empty metadata),
// so a client that must not miss a message published right after
// subscribing waits for it (ClientStream.Header) before going on. A
// message's header values are joined with ", " per key ("," for "-bin" keys,
// base64 encoded); values that are not valid UTF-8 outside "-bin" keys are
// left out, since protobuf strings must be UTF-8.
//
// Back-pressure: each stream is served by its handler goroutine, which waits
// in Send while gRPC's flow control (or the MCP connection's write buffer)
// holds it back; meanwhile the bus queues into the subscription's bounded
// queue, and when that is full the bus's slow-consumer policy applies
// (WithSubscribeOptions; default: drop and count). A subscription the bus
// disconnects ends the call with RESOURCE_EXHAUSTED.
//
// # Errors
//
// Every error is a gRPC status: INVALID_ARGUMENT for a bad topic, filter,
// queue name or header; RESOURCE_EXHAUSTED past the bus's subscription bound
// or for a slow consumer that was disconnected; UNAVAILABLE when the bus is
// closed; CANCELED or DEADLINE_EXCEEDED from the call's context. Errors of
// the bus's transport (natsbus) are reported as UNKNOWN without their text.
//
// The service keeps no state of its own besides the bus: it is safe for
// concurrent use, starts no goroutine, never logs and never panics.
package pubsubsvc

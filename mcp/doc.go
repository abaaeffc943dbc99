// Package mcp carries calls over MCP/1, the Message Communication Protocol of
// mcpbridge (docs/protocol.md; not the Model Context Protocol): a Server that
// accepts connections and serves registered services, and a Conn that calls
// them, both over one multiplexed TCP (or TLS) connection per peer.
//
// # gRPC services over MCP
//
// Server implements grpc.ServiceRegistrar and Conn implements
// grpc.ClientConnInterface, so generated protobuf code works unchanged:
//
//	srv := mcp.NewServer()
//	userv1.RegisterUserServiceServer(srv, impl)
//	go srv.Serve(lis)
//
//	conn, err := mcp.Dial(ctx, "127.0.0.1:7070")
//	client := userv1.NewUserServiceClient(conn)
//
// All four call shapes work, with gRPC status codes (MCP status numbers are
// the gRPC codes), incoming and outgoing metadata, headers and trailers,
// deadlines (sent as timeout-ms and enforced by the server), cancellation
// (a CANCEL frame that cancels the handler's context), and standard
// grpc.UnaryServerInterceptor / StreamServerInterceptor and client
// interceptor types. Client interceptors receive a nil *grpc.ClientConn.
//
// # Raw calls
//
// Code without generated stubs (the gateway) uses bytes: Conn.NewRawStream and
// Conn.InvokeRaw on the client, and a RawHandler (WithUnknownHandler) on the
// server for any path no registered service serves.
//
// A proxy can also forward complete calls (unary and server-streaming: the
// REQUEST carries the one message and END_STREAM) without a goroutine
// waiting on them: an AsyncHandler (WithAsyncHandler) takes such a call on
// the connection's reader goroutine and finishes it later from any
// goroutine, and Conn.StartRaw starts one and hands its replies to an
// AsyncReply on its own connection's reader. Joined, the two move a call
// from one connection's reader to the other connection's write queue with
// no goroutine switch, so the frames one read brings leave in one write.
// LazyContext and RawClientStream.Final serve the streamed path of a proxy.
//
// # Publish/subscribe
//
// A Server given a pubsub.Bus (WithBus) serves PROTOCOL.md §7: a client's
// SUBSCRIBE becomes a bus subscription whose messages reach it as PUBLISH
// frames under the subscription's seq_id, with the concrete :topic and the
// message's header as metadata; a client's PUBLISH is published on the bus
// (confirmed by a RESPONSE when its seq_id is not 0). Each subscription is
// one goroutine that answers the SUBSCRIBE and then pumps the bus
// subscription into the connection's writer; when the writer is backed up
// the pump waits, the bus subscription's bounded queue fills
// (WithSubscriptionQueue) and the bus's slow-consumer policy applies: drop
// and count, or end the subscription, which the client learns from a
// RESPONSE RESOURCE_EXHAUSTED on its id. Subscriptions per connection are
// bounded (WithMaxSubscriptions, default 10,000), share the client's id
// space with calls, end with their connection, and do not hold up a drain
// (Shutdown ends them with UNAVAILABLE). The same bus can be served as the
// pubsub.v1.PubSub service too (package pubsub/pubsubsvc).
//
// On the client, Conn.Subscribe returns once the server has answered; the
// Subscription delivers *pubsub.Message values on a bounded channel that the
// connection's reader fills without ever waiting (a full queue drops and
// counts, WithDeliveryQueue and WithDeliveryPolicy), and is made again on
// the next connection when the connection is lost or the server goes away,
// as NATS clients do (messages published in between are missed).
// Conn.Publish is fire-and-forget unless WithConfirm. Topics and filters on
// MCP/1 are printable ASCII (they travel as metadata values).
//
// # Connections
//
// Each connection has one reader goroutine, which decodes frames and
// dispatches them by seq_id, and one writer goroutine, which writes whatever
// frames callers have queued in one write call. No lock is held across I/O.
// Every queue is bounded: queued outbound bytes (WithWriteBufferLimit),
// concurrent calls and running NOTIFY handlers (WithMaxConcurrentCalls; a
// NOTIFY past the bound is dropped and counted, Server.DroppedNotifies),
// each call's inbound messages (WithStreamQueue: when one is full the reader
// waits for room at most WithStreamQueueWait, then ends that call with
// RESOURCE_EXHAUSTED), message size (WithMaxMessageSize) and frame size.
// Heartbeats follow KeepaliveParams. A Conn redials a lost connection with
// exponential backoff and jitter (Backoff), and moves new calls off a
// connection whose server said GOAWAY; the calls that GOAWAY refused fail
// with an error IsRefused recognises, safe to retry.
//
// Server, Conn and the streams they return are safe for concurrent use as
// grpc-go's are: a stream's SendMsg may run concurrently with its RecvMsg,
// but not with another SendMsg.
//
// The package does not log; WithStatsHandler-style hooks are left to callers
// (errors are returned, connection-level failures end the calls on the
// connection with UNAVAILABLE).
package mcp

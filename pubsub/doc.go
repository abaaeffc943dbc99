// Package pubsub is mcpbridge's publish/subscribe core: topic names and
// filters with MQTT semantics, a matching trie, queue groups, and the Bus
// interface with an in-process implementation (NewLocal). Package natsbus
// implements the same Bus on NATS for gateways that run as a cluster. Every
// front door (MCP, gRPC, HTTP, MQTT) publishes to and subscribes on one Bus:
// mcp.WithBus serves it as MCP/1 SUBSCRIBE and PUBLISH frames, and package
// pubsubsvc as the gRPC service pubsub.v1.PubSub.
//
// # Topics and filters
//
// A topic name is '/'-separated levels ("orders/eu/created"); a filter may
// use '+' for exactly one level and, as its last level, '#' for zero or more
// levels. The edge cases follow MQTT: "a/#" matches "a"; '+' matches an empty
// level ("a/+" matches "a/"); a topic starting with '$' ("$SYS/x") is not
// matched by a filter starting with a wildcard ("#", "+/x") but is by
// "$SYS/#". Names and filters are at most MaxTopicLen (65535) bytes and
// MaxLevels (32) levels of UTF-8 without NUL; ValidateTopic and
// ValidateFilter say precisely what is wrong (errors wrapping
// ErrInvalidTopic, ErrInvalidFilter). Matching walks a trie keyed by level:
// its cost grows with the topic's levels, not the number of subscriptions.
//
// # Delivery
//
// A Subscription is a bounded queue read as a channel: range over C, and
// when C is closed, Err says why the subscription ended (ErrUnsubscribed,
// ErrClosed, ErrSlowConsumer); Done is closed at the end without waiting for
// C to drain. The channel was chosen over a handler callback because a front
// end already runs a writer goroutine per connection (an MCP connection
// writer, a gRPC server stream): it selects on C beside its own context, so
// the local bus needs no goroutine of its own at all, nothing to leak, and a
// delivery is one non-blocking channel send. Publish never blocks on a
// subscriber: it queues to each matching subscription without waiting, and a
// full queue (WithQueueSize, default DefaultQueueSize = 1024) either drops the
// message for that subscriber and counts it (DropNewest, the default) or ends
// the subscription with ErrSlowConsumer (Disconnect). A slow subscriber
// therefore slows neither the publisher nor the other subscribers.
//
// A Message is shared, read-only, by the publisher and all its subscribers:
// nobody modifies it after Publish. Messages from one publishing goroutine
// reach a subscription in order.
//
// Queue groups (WithQueue) deliver each message to one member of the group:
// on the local bus members take turns (round-robin, so the spread is even),
// and a member whose queue is full is passed over for the next one, so the
// message is lost only when every member is full.
//
// # Bounds (defaults)
//
//   - topic names and filters: 65535 bytes, 32 levels;
//   - a subscription's queue: 1024 messages (WithQueueSize, up to 1<<20);
//   - live subscriptions per bus: 100,000 (WithMaxSubscriptions), beyond
//     which Subscribe fails with ErrTooManySubscriptions;
//   - queue group names: 255 bytes of printable ASCII without space.
//
// # Concurrency
//
// Bus and Subscription methods are safe for concurrent use. Publishers share
// the local bus under a read lock split into per-CPU shards, so publishes
// from many goroutines do not contend on one cache line, and nothing is
// waited on while it is held; Subscribe, Unsubscribe and Close take every
// shard briefly for writing. After Close, Publish and Subscribe return
// ErrClosed and every subscription has ended.
// The package has no global mutable state, starts no goroutine, never logs
// and never panics.
package pubsub

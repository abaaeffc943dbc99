package mcp

import (
	"github.com/mcpbridge/mcpbridge/pubsub"
)

// DefaultMaxSubscriptions bounds the subscriptions open at once on one server
// connection without WithMaxSubscriptions.
const DefaultMaxSubscriptions = 10_000

// DefaultDeliveryQueue is a client Subscription's delivery queue without
// WithDeliveryQueue.
const DefaultDeliveryQueue = 1024

// serverPubSub is the server's publish/subscribe configuration; the zero
// value (no bus) answers SUBSCRIBE, UNSUBSCRIBE and confirmed PUBLISH with
// UNIMPLEMENTED.
type serverPubSub struct {
	bus     pubsub.Bus
	maxSubs int                      // per connection; 0 = DefaultMaxSubscriptions
	subOpts []pubsub.SubscribeOption // queue size and slow-consumer policy of the bus subscriptions
}

// WithBus serves publish/subscribe frames (PROTOCOL.md §7) from bus: a
// client's SUBSCRIBE becomes a bus subscription whose messages reach it as
// PUBLISH frames, and a client's PUBLISH is published on bus. Without it the
// server answers SUBSCRIBE, UNSUBSCRIBE and confirmed PUBLISH with
// UNIMPLEMENTED. The server does not close bus.
func WithBus(bus pubsub.Bus) ServerOption {
	return serverOption(func(s *serverOptions) { s.pubsub.bus = bus })
}

// WithMaxSubscriptions bounds the subscriptions open at once on one
// connection (default DefaultMaxSubscriptions, 10,000); a SUBSCRIBE past it
// is answered RESOURCE_EXHAUSTED. The bus has its own bound over all
// connections.
func WithMaxSubscriptions(n int) ServerOption {
	return serverOption(func(s *serverOptions) {
		if n > 0 {
			s.pubsub.maxSubs = n
		}
	})
}

// WithSubscriptionQueue sets the bus queue of every subscription a client
// opens with SUBSCRIBE: size messages (default pubsub.DefaultQueueSize, 1024)
// wait there while the connection's writer is backed up, and when it is full
// policy applies (default pubsub.DropNewest: the message is dropped and
// counted; pubsub.Disconnect ends the subscription, and the client receives
// a RESPONSE with RESOURCE_EXHAUSTED for it). size ≤ 0 keeps the default.
func WithSubscriptionQueue(size int, policy pubsub.SlowConsumerPolicy) ServerOption {
	return serverOption(func(s *serverOptions) {
		s.pubsub.subOpts = s.pubsub.subOpts[:0:0]
		if size > 0 {
			s.pubsub.subOpts = append(s.pubsub.subOpts, pubsub.WithQueueSize(size))
		}
		s.pubsub.subOpts = append(s.pubsub.subOpts, pubsub.WithSlowConsumerPolicy(policy))
	})
}

// A SubscribeOption configures Conn.Subscribe. Options apply in order.
type SubscribeOption interface{ applySubscribe(*subscribeConfig) }

type subscribeConfig struct {
	queue  string
	size   int
	policy pubsub.SlowConsumerPolicy
}

type subscribeOption func(*subscribeConfig)

func (o subscribeOption) applySubscribe(c *subscribeConfig) { o(c) }

// WithQueueGroup puts the subscription in queue group name (the :queue
// metadata): each message goes to one member of the group. Default none.
func WithQueueGroup(name string) SubscribeOption {
	return subscribeOption(func(c *subscribeConfig) { c.queue = name })
}

// WithDeliveryQueue bounds the client-side queue that Subscription.C reads
// from to n messages (default DefaultDeliveryQueue, 1024; at most
// pubsub.MaxQueueSize). The connection's reader never waits for a slow
// consumer: a message that finds the queue full is handled by the
// subscription's policy (WithDeliveryPolicy).
func WithDeliveryQueue(n int) SubscribeOption {
	return subscribeOption(func(c *subscribeConfig) {
		if n > 0 {
			c.size = min(n, pubsub.MaxQueueSize)
		}
	})
}

// WithDeliveryPolicy sets what a full delivery queue does to a message
// (default pubsub.DropNewest: it is dropped and counted in
// Subscription.Dropped). pubsub.Disconnect ends the subscription instead,
// with a RESOURCE_EXHAUSTED error, and tells the server with CANCEL.
func WithDeliveryPolicy(p pubsub.SlowConsumerPolicy) SubscribeOption {
	return subscribeOption(func(c *subscribeConfig) { c.policy = p })
}

// A PublishOption configures Conn.Publish. Options apply in order.
type PublishOption interface{ applyPublish(*publishConfig) }

type publishConfig struct {
	confirm bool
	header  pubsub.Header
}

type publishOption func(*publishConfig)

func (o publishOption) applyPublish(c *publishConfig) { o(c) }

// WithConfirm makes Publish wait until the server has accepted the message
// (a PUBLISH with a seq_id, answered by a RESPONSE) and return its status.
// By default Publish is fire-and-forget (seq_id 0): it returns once the
// frame is queued for the connection, and the server's errors are dropped.
func WithConfirm() PublishOption {
	return publishOption(func(c *publishConfig) { c.confirm = true })
}

// WithHeader sends h with the message, as PUBLISH metadata: keys must be
// valid MCP/1 metadata keys (lowercase a-z 0-9 - _ .) and values printable
// ASCII unless the key ends in "-bin"; "content-type" is the message's
// content type. Reserved keys (":topic", "timeout-ms", ...) and
// "authorization" are refused. Several WithHeader options add up.
func WithHeader(h pubsub.Header) PublishOption {
	return publishOption(func(c *publishConfig) {
		if c.header == nil {
			c.header = make(pubsub.Header, len(h))
		}
		for k, vs := range h {
			c.header[k] = append(c.header[k], vs...)
		}
	})
}
